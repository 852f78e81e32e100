//! Incremental sync through the binary: drift while paging, state across runs, kills, locks.

use crate::support::{Env, run_binary};
use chrono::{Duration, Utc};
use ordersync::sandbox::SandboxOptions;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

fn tw_final(env: &Env) -> BTreeMap<String, i64> {
    env.sandbox
        .state
        .taobao_tw
        .snapshot()
        .into_iter()
        .map(|(o, _)| {
            (
                o["trade_order_id"].as_str().unwrap().to_string(),
                o["modification_time"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn updated_ms(o: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(o["updated_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn drift_while_paging_loses_nothing_and_repeats_nothing() {
    let env = Env::new(SandboxOptions {
        orders: 400,
        drift_rate: 0.3,
        seed: 7,
        ..SandboxOptions::default()
    });
    let before = tw_final(&env).len();
    let since = Utc::now() - Duration::days(31);
    let until = Utc::now() - Duration::minutes(3);
    let (s_ms, u_ms) = (since.timestamp_millis(), until.timestamp_millis());
    let summary = env.path("summary.json");
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &until.to_rfc3339(),
            "--window",
            "31d",
            "--page-size",
            "10",
            "--rate-limit",
            "200",
            "--summary-json",
            summary.to_str().unwrap(),
        ])
        .ok();
    let fin = tw_final(&env);
    assert!(fin.len() > before, "drift added orders mid-scan");
    let moved = fin.values().filter(|m| **m > u_ms).count();
    assert!(
        moved > 5,
        "drift moved orders out of the range mid-scan ({moved})"
    );

    let got = r.ndjson();
    let mut seen = BTreeSet::new();
    for o in &got {
        let id = o["order_id"].as_str().unwrap().to_string();
        assert!(seen.insert(id.clone()), "order {id} emitted twice");
        let final_ms = fin[&id];
        if final_ms <= u_ms {
            assert_eq!(
                updated_ms(o),
                final_ms,
                "order {id} emitted with a stale version"
            );
        } else {
            // Emitted while still in range, then modified past the range's end.
            assert!(updated_ms(o) >= s_ms && updated_ms(o) <= u_ms);
        }
    }
    for (id, m) in &fin {
        if *m >= s_ms && *m <= u_ms {
            assert!(seen.contains(id), "order {id} (modified {m}) is missing");
        }
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert!(
        s["rescans"].as_u64().unwrap() + s["split_windows"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert_eq!(s["orders_emitted"].as_u64().unwrap() as usize, got.len());
}

#[test]
fn consecutive_state_runs_emit_every_change() {
    let env = Env::with_orders(150);
    let state = env.path("state.json");
    let st = state.to_str().unwrap();
    let args = [
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--state",
        st,
        "--settle",
        "1s",
        "--rate-limit",
        "100",
    ];
    let first = env.run(&[&args[..], &["--since", "31d"]].concat()).ok();
    assert!(first.ndjson().len() > 100);
    let shown = run_binary(&["state", "show", "--state", st]).ok();
    assert!(
        shown.stdout.contains("sandbox-taobao-tw") && shown.stdout.contains("mark"),
        "{}",
        shown.stdout
    );

    for _ in 0..10 {
        env.sandbox.state.taobao_tw.drift();
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mark_ms = {
        let f: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        chrono::DateTime::parse_from_rfc3339(
            f["shops"]["sandbox-taobao-tw"]["mark"].as_str().unwrap(),
        )
        .unwrap()
        .timestamp_millis()
    };
    let changed: BTreeMap<String, i64> = tw_final(&env)
        .into_iter()
        .filter(|(_, m)| *m > mark_ms)
        .collect();
    assert!(!changed.is_empty());
    let second = env.run(&args).ok();
    let got: BTreeMap<String, i64> = second
        .ndjson()
        .iter()
        .map(|o| (o["order_id"].as_str().unwrap().to_string(), updated_ms(o)))
        .collect();
    for (id, m) in &changed {
        assert_eq!(
            got.get(id),
            Some(m),
            "change to {id} not emitted by the second run"
        );
    }
}

#[test]
fn killed_runs_resume_from_state_and_lose_nothing() {
    let env = Env::with_orders(300);
    let state = env.path("state.json");
    let out_path = env.path("all.ndjson");
    let run = |kill_after_ms: Option<u64>| {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap();
        let mut child = crate::support::command()
            .args([
                "pull",
                "--shop",
                "sandbox-taobao-tw",
                "--since",
                "31d",
                "--window",
                "2d",
                "--rate-limit",
                "25",
                "-q",
            ])
            .args([
                "--state",
                state.to_str().unwrap(),
                "--config",
                env.config.to_str().unwrap(),
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match kill_after_ms {
            Some(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let _ = child.kill();
                child.wait().unwrap();
            }
            None => assert!(child.wait().unwrap().success()),
        }
        if state.exists() {
            let text = std::fs::read_to_string(&state).unwrap();
            serde_json::from_str::<Value>(&text).expect("state file is always whole");
        }
    };
    // Pseudo-random kill points, deterministic per run of the test.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        run(Some(30 + x % 900));
    }
    run(None);
    let since_ms = (Utc::now() - Duration::days(31)).timestamp_millis();
    let until_ms = (Utc::now() - Duration::minutes(2)).timestamp_millis();
    let text = std::fs::read_to_string(&out_path).unwrap();
    // A kill can cut the last line of a run in half; a consumer drops such a line.
    let emitted: BTreeSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    for (id, m) in tw_final(&env) {
        if m > since_ms + 60_000 && m < until_ms - 60_000 {
            assert!(emitted.contains(&id), "order {id} lost across killed runs");
        }
    }
}

#[test]
fn a_concurrent_run_on_the_same_state_is_refused() {
    let env = Env::new(SandboxOptions {
        orders: 50,
        latency_ms: 150,
        ..SandboxOptions::default()
    });
    let state = env.path("state.json");
    let mut first = crate::support::command()
        .args([
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            "31d",
            "--window",
            "1d",
            "-q",
        ])
        .args([
            "--state",
            state.to_str().unwrap(),
            "--config",
            env.config.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let second = env.run(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "31d",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stderr.contains("another ordersync run"),
        "{}",
        second.stderr
    );
    assert!(second.stdout.is_empty());
    assert!(first.wait().unwrap().success());
}

#[test]
fn state_reset_rewinds_the_mark() {
    let env = Env::with_orders(20);
    let state = env.path("s.json");
    let st = state.to_str().unwrap();
    env.run(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "2d",
        "--state",
        st,
        "--rate-limit",
        "100",
    ])
    .ok();
    run_binary(&[
        "state",
        "reset",
        "--state",
        st,
        "--shop",
        "sandbox-taobao-tw",
        "--to",
        "2026-01-01",
    ])
    .ok();
    let shown = run_binary(&["state", "show", "--state", st]).ok();
    assert!(
        shown.stdout.contains("2026-01-01T00:00:00+08:00"),
        "{}",
        shown.stdout
    );
    run_binary(&["state", "reset", "--state", st]).ok();
    let r = env.run(&["pull", "--shop", "sandbox-taobao-tw", "--state", st]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("pass --since for the first run"),
        "{}",
        r.stderr
    );
}

/// Created-time windows grow over a sparse range (fewer, fuller pages), and a has_next list
/// read with a request kept in flight asks for at most one page past each window's end; no
/// order is lost or repeated either way.
#[test]
fn sparse_created_windows_grow_and_has_next_paging_wastes_little() {
    let env = Env::with_orders(1_500);
    let pull = |shop: &str, since: &str, extra: &[&str]| {
        let mut args = vec!["pull", "--shop", shop, "--since", since, "--by", "created"];
        args.extend_from_slice(extra);
        pull_with_summary(&env, &format!("{shop}{}.json", extra.len()), &args)
    };

    // taobao-enhanced: 1,500 orders over 31 days, pages of 500: a day holds one short page.
    let (s, ids) = pull("sandbox-taobao-enhanced", "31d", &[]);
    let (fixed, fixed_ids) = pull("sandbox-taobao-enhanced", "31d", &["--window", "1d"]);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an order was repeated");
    assert_eq!(
        unique,
        fixed_ids.iter().collect::<BTreeSet<_>>(),
        "adaptive and fixed windows must give the same orders"
    );
    assert!(ids.len() > 1_000, "{} orders", ids.len());
    assert!(
        s["windows"].as_u64().unwrap() < 10 && fixed["windows"].as_u64().unwrap() >= 31,
        "windows: adaptive {}, fixed {}",
        s["windows"],
        fixed["windows"]
    );
    assert!(s["requests"].as_u64().unwrap() < fixed["requests"].as_u64().unwrap());

    // vvtool: has_next pages of 45; every window costs at most one request past its end.
    let (s, ids) = pull("sandbox-vvtool", "30d", &["--window", "2d"]);
    let (seq, seq_ids) = pull(
        "sandbox-vvtool",
        "30d",
        &["--window", "2d", "--concurrency", "1"],
    );
    assert_eq!(ids, seq_ids, "speculative paging changed the output");
    // Requests other than retries: the pages, vv-tool's token request, and what was asked
    // for past a window's end.
    let sent = |s: &Value| s["requests"].as_u64().unwrap() - s["retries"].as_u64().unwrap();
    let (pages, windows) = (s["pages"].as_u64().unwrap(), s["windows"].as_u64().unwrap());
    assert!(
        sent(&s) <= pages + 1 + windows,
        "{} requests for {pages} pages in {windows} windows",
        sent(&s)
    );
    assert_eq!(sent(&seq), pages + 1, "one at a time wastes nothing: {seq}");
    assert_eq!(seq["pages"], s["pages"]);
}

/// A window whose page 1 reports more orders than a window may hold (64 pages of 20) is cut into shorter windows before it is scanned, so what dedupe remembers stays
/// bounded; the orders are the same as with short windows, none lost or repeated. Checked on
/// an ascending creation-time list and on a newest-first modification-time list.
#[test]
fn dense_windows_are_cut_before_they_are_scanned() {
    let env = Env::with_orders(4_000);
    // One range for every run: with `--since 31d` alone each run ended at its own "now minus
    // --settle", and an order modified in the seconds between two runs' ends was in one set
    // only.
    let since = (Utc::now() - Duration::days(31)).to_rfc3339();
    let until = (Utc::now() - Duration::minutes(5)).to_rfc3339();
    let pull = |shop: &str, by: &str, window: &str| {
        let args = [
            "pull",
            "--shop",
            shop,
            "--since",
            &since,
            "--until",
            &until,
            "--by",
            by,
            "--window",
            window,
            "--page-size",
            "20",
            "--rate-limit",
            "500",
        ];
        pull_with_summary(&env, &format!("{shop}-{by}-{window}.json"), &args)
    };
    for (shop, by) in [
        ("sandbox-pandapon-1688", "created"),
        ("sandbox-taobao-tw", "modified"),
    ] {
        let (wide, wide_ids) = pull(shop, by, "20d");
        let (short, short_ids) = pull(shop, by, "12h");
        let unique: BTreeSet<&String> = wide_ids.iter().collect();
        assert_eq!(
            unique.len(),
            wide_ids.len(),
            "{shop}: an order was repeated"
        );
        assert_eq!(
            unique,
            short_ids.iter().collect::<BTreeSet<_>>(),
            "{shop}: cut windows must give the orders short windows give"
        );
        assert!(wide_ids.len() > 2_000, "{shop}: {} orders", wide_ids.len());
        assert_eq!(short["split_windows"], 0, "{shop}: {short}");
        assert!(
            wide["split_windows"].as_u64().unwrap() >= 1 && wide["windows"].as_u64().unwrap() > 4,
            "{shop}: 20-day windows of ~2,600 orders must be cut: {wide}"
        );
    }
}

/// Run a pull quietly with `--summary-json` into the environment's folder: its summary and the
/// order ids it wrote, in order.
fn pull_with_summary(env: &Env, summary_name: &str, args: &[&str]) -> (Value, Vec<String>) {
    let summary = env.dir.path().join(summary_name);
    let mut args = args.to_vec();
    args.extend_from_slice(&["-q", "--summary-json", summary.to_str().unwrap()]);
    let r = env.run(&args).ok();
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let ids = r
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    (s, ids)
}

/// Issue 14: files the run writes beside others' are never written through links it did not
/// expect, and what killed runs left is cleaned up.
#[cfg(unix)]
mod files {
    use crate::support::{Env, files_in};
    use std::os::unix::fs::symlink;

    fn pull(env: &Env, extra: &[&str]) -> crate::support::Run {
        let mut args = vec![
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            "2d",
            "--rate-limit",
            "200",
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    }

    #[test]
    fn summary_json_and_the_lock_are_never_followed_through_a_link() {
        let env = Env::with_orders(30);
        let victim = env.path("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let summary = env.path("summary.json");
        symlink(&victim, &summary).unwrap();
        let r = pull(&env, &["--summary-json", summary.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

        // A dangling lock link must not create its target.
        let state = env.path("s.json");
        let target = env.path("created-by-the-lock");
        symlink(&target, env.path("s.json.lock")).unwrap();
        let r = pull(&env, &["--state", state.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("lock file"), "{}", r.stderr);
        assert!(!target.exists(), "the lock link's target was created");
    }

    #[test]
    fn a_state_link_is_written_through_and_a_fifo_is_refused() {
        let env = Env::with_orders(30);
        let real_dir = env.path("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("state.json");
        let link = env.path("state-link.json");
        // First run on the real file, then through a link to it.
        pull(&env, &["--state", real.to_str().unwrap()]).ok();
        let first = std::fs::read_to_string(&real).unwrap();
        symlink(&real, &link).unwrap();
        pull(&env, &["--state", link.to_str().unwrap()]).ok();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link was replaced by a file"
        );
        let second = std::fs::read_to_string(&real).unwrap();
        assert_ne!(first, second, "the state was not advanced through the link");
        assert!(
            files_in(&real_dir)
                .iter()
                .all(|f| !f.starts_with(".ordersync"))
        );

        // A dangling link: refused with a message, nothing created.
        let dangling = env.path("dangling.json");
        symlink(env.path("nowhere.json"), &dangling).unwrap();
        let r = pull(&env, &["--state", dangling.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
        assert!(!env.path("nowhere.json").exists());

        // A FIFO: refused at once (reading it would block).
        let fifo = env.path("fifo.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let r = pull(&env, &["--state", fifo.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed_and_nothing_else() {
        let env = Env::with_orders(30);
        let dir = env.path("out");
        std::fs::create_dir(&dir).unwrap();
        for name in [
            ".ordersync-state-AbC123",
            ".ordersync-x1y2z3.partial",
            "keep.partial",
            ".ordersync-keep",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        let state = dir.join("s.json");
        let output = dir.join("orders.ndjson");
        pull(
            &env,
            &[
                "--state",
                state.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
            ],
        )
        .ok();
        assert_eq!(
            files_in(&dir),
            [
                ".ordersync-keep",
                "keep.partial",
                "notes.txt",
                "orders.ndjson",
                "s.json",
                "s.json.lock"
            ]
        );
    }
}
