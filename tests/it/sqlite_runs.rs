//! Several runs on one SQLite mirror (issue 17): processes started together on a new file
//! all succeed (creating and migrating it take turns under `FILE.lock`), and in `pull --all`
//! a shop that another run holds (`FILE.SHOP.lock`) is skipped with a row saying so, as a
//! shop leased by another worker is on PostgreSQL.

use crate::support::{Env, command, run_binary};
use chrono::{Duration, Utc};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Stdio;

/// `--since SINCE --until UNTIL`: a fixed range, so that runs ask for the same orders.
fn range() -> Vec<String> {
    let until = Utc::now() - Duration::minutes(5);
    let since = until - Duration::days(2);
    vec![
        "--since".into(),
        since.to_rfc3339(),
        "--until".into(),
        until.to_rfc3339(),
    ]
}

/// The shops of a config, in its order.
fn shops_of(config: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(config)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("[shops.")?.strip_suffix(']'))
        .map(str::to_string)
        .collect()
}

/// The (shop, order_id) pairs a mirror holds.
fn mirrored(db: &str) -> BTreeSet<(String, String)> {
    let r = run_binary(&["export", "--db", db]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.ndjson()
        .iter()
        .map(|o| {
            (
                o["shop"].as_str().unwrap().to_string(),
                o["order_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Ten processes, one per shop, start at once on a new mirror, three times over (a fresh file
/// each time): every one succeeds, and the mirror holds the orders they printed, once.
#[test]
fn processes_started_together_on_a_new_mirror_all_succeed() {
    let env = Env::new(ordersync::sandbox::SandboxOptions {
        orders: 40,
        shops: 2,
        ..ordersync::sandbox::SandboxOptions::default()
    });
    let config = env.write_config(
        "shops.toml",
        &ordersync::sandbox::Sandbox::config_toml_shops(env.sandbox.addr, 2),
    );
    let shops = shops_of(&config);
    assert_eq!(shops.len(), 10);
    let range = range();
    for round in 0..3 {
        let db = format!("sqlite:{}", env.path(&format!("new-{round}.db")).display());
        let children: Vec<_> = shops
            .iter()
            .map(|shop| {
                let mut args: Vec<String> = ["pull", "--shop", shop, "--db", &db, "-q"]
                    .map(String::from)
                    .to_vec();
                args.extend(range.iter().cloned());
                args.extend(["--rate-limit", "100", "--config"].map(String::from));
                args.push(config.display().to_string());
                command()
                    .args(&args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut printed = BTreeSet::new();
        for (shop, child) in shops.iter().zip(children) {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}, {shop}: {stderr}"
            );
            for line in String::from_utf8(out.stdout).unwrap().lines() {
                let o: Value = serde_json::from_str(line).unwrap();
                assert_eq!(o["change"], "new", "{o}");
                let key = (shop.clone(), o["order_id"].as_str().unwrap().to_string());
                assert!(printed.insert(key), "printed twice: {o}");
            }
        }
        assert!(
            printed.len() > shops.len(),
            "round {round}: {}",
            printed.len()
        );
        assert_eq!(mirrored(&db), printed, "round {round}");
    }
}

/// While another run holds one shop's lock, `pull --all --db sqlite:` skips that shop (its row
/// says so and by whom, exit 0 as on PostgreSQL) and pulls the others; the next run, the lock
/// gone, pulls it.
#[test]
fn a_shop_held_by_another_run_is_skipped() {
    let env = Env::with_orders(20);
    let range = range();
    let path = env.path("held.db");
    let db = format!("sqlite:{}", path.display());
    let summary = env.path("summary.json");
    let pull = || {
        let mut args: Vec<String> = [
            "pull",
            "--all",
            "--db",
            &db,
            "--summary-json",
            summary.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(range.iter().cloned());
        args.extend(["--rate-limit", "100", "--config"].map(String::from));
        args.push(env.config.display().to_string());
        run_binary(&args)
    };
    let rows = || -> Vec<Value> {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["shops_failed"], 0, "{s}");
        s["shops"].as_array().unwrap().clone()
    };
    let held = "sandbox-vvtool";
    let lock = std::fs::File::create(format!("{}.{held}.lock", path.display())).unwrap();
    lock.try_lock().unwrap();
    let first = pull();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains(&format!("shop {held} (vvtool): skipped")),
        "{}",
        first.stderr
    );
    for row in rows() {
        assert_eq!(row["ok"], true, "{row}");
        if row["shop"] == held {
            let by = row["skipped"].as_str().unwrap_or_default();
            assert!(
                by.contains("another ordersync run") && by.contains(".sandbox-vvtool.lock"),
                "{row}"
            );
            assert_eq!(row["orders"], 0, "{row}");
            assert!(row["mark"].is_null(), "{row}");
        } else {
            assert!(row["skipped"].is_null(), "{row}");
            assert!(row["new"].as_u64().unwrap() > 0, "{row}");
        }
    }
    assert!(!first.ndjson().iter().any(|o| o["shop"] == held));
    assert!(!mirrored(&db).iter().any(|(s, _)| s == held));

    drop(lock);
    let second = pull();
    assert_eq!(second.code, 0, "{}", second.stderr);
    let printed = second.ndjson();
    assert!(
        printed.iter().all(|o| o["shop"] == held),
        "only the held shop is new"
    );
    for row in rows() {
        assert!(row["skipped"].is_null(), "{row}");
        if row["shop"] == held {
            assert_eq!(row["new"].as_u64(), Some(printed.len() as u64), "{row}");
            assert!(row["new"].as_u64().unwrap() > 0, "{row}");
        }
    }
}
