//! Resilience and secrets through the binary: injected faults, malformed answers, logs.

use crate::support::{Env, run_binary};
use chrono::Utc;
use ordersync::sandbox::SandboxOptions;
use serde_json::Value;
use std::collections::BTreeMap;

/// (updated_at, total, line count) per order id.
fn digest(out: &str) -> BTreeMap<String, (String, String, usize)> {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|o| {
            (
                o["order_id"].as_str().unwrap().to_string(),
                (
                    o["updated_at"].to_string(),
                    o["total"].as_str().unwrap().to_string(),
                    o["lines"].as_array().unwrap().len(),
                ),
            )
        })
        .collect()
}

/// Pull the same range from a clean sandbox and from one failing 20% of requests.
fn same_orders_with_faults(shop: &str, extra: &[&str]) {
    same_orders_with_faults_over(shop, 31, extra)
}

/// The same over the last `days` days.
fn same_orders_with_faults_over(shop: &str, days: i64, extra: &[&str]) {
    let now = Utc::now();
    let opts = SandboxOptions {
        orders: 3000,
        seed: 11,
        now,
        ..SandboxOptions::default()
    };
    let clean = Env::new(opts.clone());
    let faulty = Env::new(SandboxOptions {
        fail_rate: 0.2,
        ..opts
    });
    let since = (now - chrono::Duration::days(days)).to_rfc3339();
    let until = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let mut args = vec![
        "pull",
        "--shop",
        shop,
        "--since",
        &since,
        "--until",
        &until,
        "--timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    let summary = faulty.path("summary.json");
    let a = clean.run(&args).ok();
    let b = faulty
        .run(&[&args[..], &["--summary-json", summary.to_str().unwrap()]].concat())
        .ok();
    let (da, db) = (digest(&a.stdout), digest(&b.stdout));
    assert!(
        da.len() > 2500,
        "{shop}: the clean pull got {} orders",
        da.len()
    );
    assert_eq!(da, db, "{shop}: faults changed the orders emitted");
    let injected = faulty
        .sandbox
        .state
        .faults
        .stats
        .injected
        .load(std::sync::atomic::Ordering::Relaxed);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert!(injected > 5, "{shop}: only {injected} faults injected");
    assert!(s["retries"].as_u64().unwrap() > 0, "{s}");
    eprintln!(
        "{shop}: {injected} faults injected, {} retries, {} orders, 0 lost",
        s["retries"],
        db.len()
    );
}

#[test]
fn taobao_tw_rides_through_20_percent_failures() {
    same_orders_with_faults("sandbox-taobao-tw", &["--rate-limit", "100"]);
}

#[test]
fn secrets_never_appear_in_any_output_even_at_trace_level() {
    let env = Env::with_orders(30);
    let secrets = [
        ordersync::sandbox::taobao_tw::APP_SECRET,
        ordersync::sandbox::taobao_tw::ACCESS_TOKEN,
    ];
    let mut all = String::new();
    let ok = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            "3d",
            "-vvv",
        ])
        .ok();
    all.push_str(&ok.stdout);
    all.push_str(&ok.stderr);
    // A refused token: the error path must not print it either.
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        ordersync::sandbox::taobao_tw::ACCESS_TOKEN,
        "wrong-token-4242-abcdef",
    );
    let cfg = env.write_config("bad.toml", &text);
    let bad = run_binary(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "3d",
        "-vvv",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    all.push_str(&bad.stderr);
    for s in secrets.iter().chain(&["wrong-token-4242-abcdef"]) {
        assert!(!all.contains(s), "secret {s} leaked");
    }
    // No LazOP signature (64 upper-case hex digits) either.
    let hex64 = all.as_bytes().windows(64).any(|w| {
        w.iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    });
    assert!(!hex64, "a signature leaked into the output");
    assert!(
        ok.stderr.contains("DEBUG") || ok.stderr.contains("TRACE"),
        "-vvv did log"
    );
}

#[test]
fn a_malformed_answer_names_the_path_and_saves_the_body_without_secrets() {
    // A server that answers every list call with a well-formed envelope whose data is wrong.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        r#"{"code":"0","request_id":"x","result":{"total_count":1,"model_list":[{"trade_order_id":"1","creation_time":"not-a-time","buyer_full_name":"sandbox-tw-access-token-51d2e8"}]}}"#
    });
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[shops.t]\nplatform = \"taobao-tw\"\nbase_url = \"http://{addr}/rest\"\napp_key = \"1\"\n\
             app_secret = \"s3cret-app-secret\"\naccess_token = \"sandbox-tw-access-token-51d2e8\"\n"
        ),
    )
    .unwrap();
    let dump = dir.path().join("dump");
    let r = run_binary(&[
        "pull",
        "--shop",
        "t",
        "--since",
        "1d",
        "--retries",
        "1",
        "--config",
        cfg.to_str().unwrap(),
        "--dump-dir",
        dump.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0);
    for needle in [
        "taobao-tw",
        "/orders/get",
        "page 1",
        "creation_time",
        "not-a-time",
        "raw body saved to",
    ] {
        assert!(
            r.stderr.contains(needle),
            "{needle:?} missing from: {}",
            r.stderr
        );
    }
    let saved: Vec<_> = std::fs::read_dir(&dump)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!saved.is_empty());
    let body = std::fs::read_to_string(&saved[0]).unwrap();
    assert!(body.contains("not-a-time") && body.contains("[REDACTED]"));
    assert!(
        !body.contains("sandbox-tw-access-token-51d2e8"),
        "secret kept in the saved body"
    );
}

#[test]
fn pandapon_taobao_rides_through_20_percent_failures() {
    same_orders_with_faults("sandbox-pandapon-taobao", &["--rate-limit", "200"]);
}

#[test]
fn pandapon_1688_rides_through_20_percent_failures() {
    same_orders_with_faults("sandbox-pandapon-1688", &["--rate-limit", "200"]);
}

#[test]
fn taobao_enhanced_rides_through_20_percent_failures() {
    same_orders_with_faults(
        "sandbox-taobao-enhanced",
        &["--rate-limit", "100", "--page-size", "100"],
    );
}

#[test]
fn vvtool_rides_through_20_percent_failures() {
    // vv-tool allows 10 requests per second: the default limit, never exceeded.
    same_orders_with_faults_over("sandbox-vvtool", 29, &["--by", "created"]);
}
