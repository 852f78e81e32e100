//! taobao-enhanced through the binary, checked against what the sandbox holds.

use crate::support::{Env, run_binary};
use chrono::{DateTime, Duration, Utc};
use ordersync::sandbox::SandboxOptions;
use ordersync::sandbox::taobao_enhanced::{self as sbx, parse_time};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SHOP: &str = "sandbox-taobao-enhanced";

/// The sandbox's trades whose `field` (`created` / `modified`) lies in `[since, until)`.
fn expected(
    env: &Env,
    field: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> BTreeMap<String, Value> {
    env.sandbox
        .state
        .taobao_enhanced
        .trades()
        .into_iter()
        .filter(|t| {
            t[field]
                .as_str()
                .and_then(parse_time)
                .is_some_and(|at| at >= since && at < until)
        })
        .map(|t| (t["tid"].as_str().unwrap().to_string(), t))
        .collect()
}

fn china(wire: &Value) -> String {
    format!("{}+08:00", wire.as_str().unwrap().replace(' ', "T"))
}

#[test]
fn no_trade_is_lost_or_doubled_across_page_and_window_borders() {
    let env = Env::with_orders(500);
    // Odd borders: fractional seconds, windows of 61 h, pages of 17.
    let since = Utc::now() - Duration::days(20) + Duration::milliseconds(321);
    let until = Utc::now() - Duration::minutes(3);
    for (by, field) in [("created", "created"), ("modified", "modified")] {
        let r = env
            .run(&[
                "pull",
                "--shop",
                SHOP,
                "--by",
                by,
                "--since",
                &since.to_rfc3339(),
                "--until",
                &until.to_rfc3339(),
                "--window",
                "61h",
                "--page-size",
                "17",
                "--rate-limit",
                "100",
            ])
            .ok();
        let want = expected(&env, field, since, until);
        assert!(want.len() > 250, "{by}: {}", want.len());
        let got = r.ndjson();
        let mut seen = BTreeSet::new();
        for o in &got {
            let id = o["order_id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{by}: trade {id} emitted twice");
            let w = want
                .get(&id)
                .unwrap_or_else(|| panic!("{by}: trade {id} is not in the range"));
            assert_eq!(o["platform"], "taobao-enhanced");
            assert_eq!(o["shop"], SHOP);
            assert_eq!(o["total"], w["payment"], "total of {id}");
            assert_eq!(o["shipping_fee"], w["post_fee"]);
            // Not the trade's discount_fee (the order-level share only): derived.
            assert_money_invariants(o);
            assert_eq!(o["platform_status"], w["status"]);
            assert_eq!(o["created_at"].as_str().unwrap(), china(&w["created"]));
            assert_eq!(o["updated_at"].as_str().unwrap(), china(&w["modified"]));
            assert_eq!(o["currency"], "CNY");
            assert_eq!(o["receiver"]["name"], w["receiver_name"]);
            let lines = o["lines"].as_array().unwrap();
            let wl = w["orders"]["order"].as_array().unwrap();
            assert_eq!(lines.len(), wl.len(), "lines of {id}");
            for (g, l) in lines.iter().zip(wl) {
                assert_eq!(g["line_id"], l["oid"]);
                assert_eq!(g["total"], l["divide_order_fee"]);
                assert_eq!(g["unit_price"], l["price"]);
                assert_eq!(g["quantity"], l["num"]);
                assert_eq!(g["sku_properties"].as_array().unwrap().len(), 2);
            }
        }
        assert_eq!(
            seen,
            want.keys().cloned().collect::<BTreeSet<_>>(),
            "{by}: the sets differ"
        );
    }
}

#[test]
fn drift_and_faults_lose_nothing() {
    let env = Env::new(SandboxOptions {
        orders: 300,
        fail_rate: 0.15,
        drift_rate: 0.2,
        seed: 11,
        ..SandboxOptions::default()
    });
    let since = Utc::now() - Duration::days(12);
    let until = Utc::now() - Duration::minutes(3);
    let r = env
        .run(&[
            "pull",
            "--shop",
            SHOP,
            "--by",
            "created",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &until.to_rfc3339(),
            "--window",
            "4d",
            "--page-size",
            "20",
            "--rate-limit",
            "100",
        ])
        .ok();
    // Creation times never change, and drift only adds orders created now: the set is fixed.
    let want = expected(&env, "created", since, until);
    let got: Vec<String> = r
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    let set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "no duplicates");
    assert_eq!(set, want.keys().cloned().collect::<BTreeSet<_>>());

    // By modification time, drift moves trades out of the window mid-scan: the total changes,
    // the window is scanned again. Every trade that did not move is there exactly once.
    let before = expected(&env, "modified", since, until);
    let r = env
        .run(&[
            "pull",
            "--shop",
            SHOP,
            "--by",
            "modified",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &until.to_rfc3339(),
            "--window",
            "4d",
            "--page-size",
            "10",
            "--rate-limit",
            "100",
        ])
        .ok();
    let after = expected(&env, "modified", since, until);
    let got: Vec<String> = r
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    let set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "no duplicates");
    let unmoved: BTreeSet<String> = before
        .iter()
        .filter(|(id, t)| {
            after
                .get(*id)
                .is_some_and(|a| a["modified"] == t["modified"])
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert!(unmoved.len() > 50);
    let lost: Vec<&String> = unmoved.difference(&set).collect();
    assert!(lost.is_empty(), "lost {lost:?}; stderr:\n{}", r.stderr);
}

#[test]
fn the_seed_example_comes_out_as_the_checked_in_output() {
    let env = Env::with_orders(20);
    let r = env
        .run(&[
            "pull",
            "--shop",
            SHOP,
            "--by",
            "created",
            "--since",
            "2021-10-01",
            "--until",
            "2021-10-08",
            "--format",
            "json",
        ])
        .ok();
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    let text = include_str!("../../fixtures/taobao-enhanced/list.expected.json")
        .replace("\"shop\": \"fixture\"", &format!("\"shop\": \"{SHOP}\""));
    let want: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got, want);
}

#[test]
fn get_looks_trades_up_by_tid() {
    let env = Env::with_orders(40);
    let trades = env.sandbox.state.taobao_enhanced.trades();
    let ids: Vec<String> = trades[..2]
        .iter()
        .map(|t| t["tid"].as_str().unwrap().to_string())
        .collect();
    let r = env.run(&["get", "--shop", SHOP, &ids[0], &ids[1]]).ok();
    let got: BTreeSet<String> = r
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ids.into_iter().collect());
}

#[test]
fn a_wrong_secret_exits_3_without_printing_it() {
    let env = Env::with_orders(10);
    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(sbx::APP_SECRET, "not-the-secret-123");
    let cfg = env.write_config("bad.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        SHOP,
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("app_secret"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-secret-123"));
    assert!(!r.stdout.contains("not-the-secret-123"));
}

#[test]
fn normalize_reads_the_seed_response() {
    let r = run_binary(&[
        "normalize",
        "--platform",
        "taobao-enhanced",
        "--shop",
        "fixture",
        "--format",
        "json",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/taobao-enhanced/list.json"
        ),
    ])
    .ok();
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    let want: Value = serde_json::from_str(include_str!(
        "../../fixtures/taobao-enhanced/list.expected.json"
    ))
    .unwrap();
    assert_eq!(got, want);
}

/// A large saved answer whose last trade has no total: orders are written as they are read,
/// so the ones before it come out whole, then the run fails naming the JSON path; a JSON
/// array is left unclosed so that the partial output never reads as complete.
#[test]
fn normalize_streams_and_stops_at_a_malformed_trade() {
    let seed: Value =
        serde_json::from_str(include_str!("../../fixtures/taobao-enhanced/list.json")).unwrap();
    let trade = &seed["data"]["items"][0];
    let n = 600;
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let mut t = trade.clone();
            t["tid"] = Value::String(format!("{}", 1_000_000 + i));
            if i == n - 1 {
                // No id: the one thing a trade cannot do without.
                t.as_object_mut().unwrap().remove("tid");
                t.as_object_mut().unwrap().remove("tid_str");
            }
            t
        })
        .collect();
    let body =
        serde_json::json!({"code": 0, "message": "ok", "data": {"total": n, "items": items}});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let path = file.to_str().unwrap();

    let r = run_binary(&["normalize", "--platform", "taobao-enhanced", path]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("$.data.items[599].tid"), "{}", r.stderr);
    let lines = r.ndjson();
    assert!(
        !lines.is_empty() && lines.len() < n,
        "{} orders for {n} trades",
        lines.len()
    );
    for (i, o) in lines.iter().enumerate() {
        assert_eq!(o["order_id"], format!("{}", 1_000_000 + i));
    }

    let as_json = || {
        run_binary(&[
            "normalize",
            "--platform",
            "taobao-enhanced",
            "--format",
            "json",
            path,
        ])
    };
    let r = as_json();
    assert_ne!(r.code, 0);
    assert!(
        serde_json::from_str::<Value>(&r.stdout).is_err(),
        "{}",
        r.stdout
    );

    // The same trades without the fault: every one, in order.
    let mut body = body;
    body["data"]["items"][n - 1]["tid"] = Value::String(format!("{}", 1_000_000 + n - 1));
    std::fs::write(&file, body.to_string()).unwrap();
    let r = as_json().ok();
    let all: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(all.len(), n);
    assert_eq!(all[n - 1]["order_id"], format!("{}", 1_000_000 + n - 1));
}

/// model.md's invariants on one normalized order (amounts as decimal strings): A, Σ(unit_price
/// × quantity) + shipping_fee − discount = total, and B, Σ line totals + shipping_fee = total.
pub fn assert_money_invariants(o: &Value) {
    use rust_decimal::Decimal;
    let id = &o["order_id"];
    let d = |v: &Value| -> Decimal {
        v.as_str()
            .unwrap_or_else(|| panic!("order {id}: {v} is not an amount"))
            .parse()
            .unwrap()
    };
    let total = d(&o["total"]);
    let shipping = d(&o["shipping_fee"]);
    let lines = o["lines"].as_array().unwrap();
    assert!(!lines.is_empty(), "order {id} has lines");
    let list: Decimal = lines
        .iter()
        .map(|l| d(&l["unit_price"]) * Decimal::from(l["quantity"].as_i64().unwrap()))
        .sum();
    let paid: Decimal = lines.iter().map(|l| d(&l["total"])).sum();
    assert_eq!(
        list + shipping - d(&o["discount"]),
        total,
        "invariant A, order {id}"
    );
    assert_eq!(paid + shipping, total, "invariant B, order {id}");
}

#[test]
fn money_invariants_hold_on_every_order() {
    let env = Env::with_orders(300);
    let until = Utc::now() - Duration::minutes(1);
    let since = until - Duration::days(29);
    let r = env
        .run(&[
            "pull",
            "--shop",
            SHOP,
            "--by",
            "created",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &until.to_rfc3339(),
        ])
        .ok();
    let got = r.ndjson();
    let want = expected(&env, "created", since, until);
    assert_eq!(got.len(), want.len());
    let mut beyond_the_order_level_share = 0;
    for o in &got {
        assert_money_invariants(o);
        let wire = &want[o["order_id"].as_str().unwrap()];
        if o["discount"] != wire["discount_fee"] {
            beyond_the_order_level_share += 1;
        }
    }
    assert!(
        beyond_the_order_level_share > 20,
        "line discounts count: {beyond_the_order_level_share}"
    );
}

#[test]
fn the_seed_trade_money_and_the_month_warning() {
    let env = Env::with_orders(10);
    let r = env
        .run(&[
            "pull",
            "--shop",
            SHOP,
            "--since",
            "2021-10-01",
            "--until",
            "2021-10-08",
        ])
        .ok();
    let orders = r.ndjson();
    let o = orders
        .iter()
        .find(|o| o["order_id"] == "1410072240792463390")
        .expect("the seed trade");
    // model.md: line 138.00 × 1, total 105.58, discount 32.42 (not the order-level 8.42).
    assert_eq!(o["total"], "105.58");
    assert_eq!(o["shipping_fee"], "0.00");
    assert_eq!(o["discount"], "32.42");
    assert_eq!(o["lines"][0]["unit_price"], "138.00");
    assert_eq!(o["lines"][0]["quantity"], 1);
    assert_eq!(o["lines"][0]["total"], "105.58");
    for o in &orders {
        assert_money_invariants(o);
    }
    assert!(
        r.stderr.contains("more than a month back") && r.stderr.contains("查询1个月内"),
        "{}",
        r.stderr
    );
    // Within the month: no warning.
    let r = env.run(&["pull", "--shop", SHOP, "--since", "20d"]).ok();
    assert!(!r.stderr.contains("month back"), "{}", r.stderr);
}

#[test]
fn sysid_defaults_to_100() {
    let env = Env::with_orders(60);
    let text = std::fs::read_to_string(&env.config).unwrap();
    let line = format!("sysid = \"{}\"\n", sbx::SYSID);
    assert!(text.contains(&line));
    let pull = |cfg: &std::path::Path| {
        run_binary(&[
            "pull",
            "--shop",
            SHOP,
            "--since",
            "10d",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .ok()
        .ndjson()
        .len()
    };
    let with = pull(&env.config);
    assert!(with > 5, "{with}");
    let unset = env.write_config("unset.toml", &text.replace(&line, ""));
    assert_eq!(pull(&unset), with, "sysid not configured: 100 is sent");
    // Configured empty, it is not sent: the sandbox then answers an empty list, as the
    // vendor's sample warns.
    let empty = env.write_config("empty.toml", &text.replace(&line, "sysid = \"\"\n"));
    assert_eq!(pull(&empty), 0);
}
