//! taobao-tw through the binary, checked field by field against what the sandbox holds.

use crate::support::{Env, files_in, run_binary};
use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// The sandbox's orders modified in `[since, until]` (epoch ms), by id: (list entry, lines).
fn expected(env: &Env, since_ms: i64, until_ms: i64) -> BTreeMap<String, (Value, Vec<Value>)> {
    env.sandbox
        .state
        .taobao_tw
        .snapshot()
        .into_iter()
        .filter(|(o, _)| {
            let m = o["modification_time"].as_i64().unwrap();
            m >= since_ms && m <= until_ms
        })
        .map(|(o, l)| (o["trade_order_id"].as_str().unwrap().to_string(), (o, l)))
        .collect()
}

fn range() -> (String, String, i64, i64) {
    let since = Utc::now() - Duration::days(31);
    let until = Utc::now() - Duration::minutes(3);
    (
        since.to_rfc3339(),
        until.to_rfc3339(),
        since.timestamp_millis(),
        until.timestamp_millis(),
    )
}

fn money(wire: &Value) -> String {
    format!("{}.00", wire.as_str().unwrap())
}

/// A whole-TWD amount as the sandbox sends it (`"62"`).
fn whole(wire: &Value) -> i64 {
    wire.as_str().unwrap().parse().unwrap()
}

/// An output amount (`"62.00"`).
fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

#[test]
fn ndjson_matches_the_sandbox_field_by_field() {
    let env = Env::with_orders(300);
    let (since, until, s_ms, u_ms) = range();
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            &since,
            "--until",
            &until,
            "--rate-limit",
            "50",
        ])
        .ok();
    let want = expected(&env, s_ms, u_ms);
    let got = r.ndjson();
    assert!(
        want.len() > 250,
        "sandbox should hold most of its 300 orders in range, has {}",
        want.len()
    );
    assert_eq!(got.len(), want.len(), "order count");
    for o in &got {
        let id = o["order_id"].as_str().unwrap();
        let (w, lines) = want
            .get(id)
            .unwrap_or_else(|| panic!("order {id} is not in the sandbox range"));
        assert_eq!(o["platform"], "taobao-tw");
        assert_eq!(o["shop"], "sandbox-taobao-tw");
        assert_eq!(
            o["total"].as_str().unwrap(),
            money(&w["actual_fee"]),
            "total of {id}"
        );
        assert_eq!(
            o["shipping_fee"].as_str().unwrap(),
            money(&w["actual_shipping_fee"])
        );
        assert_eq!(o["currency"], "TWD");
        assert_eq!(o["platform_status"], w["status"]);
        assert_eq!(o["receiver"]["name"], w["delivery_info"]["receiver_name"]);
        let updated =
            chrono::DateTime::parse_from_rfc3339(o["updated_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            updated.timestamp_millis(),
            w["modification_time"].as_i64().unwrap()
        );
        assert!(o["updated_at"].as_str().unwrap().ends_with("+08:00"));
        let got_lines = o["lines"].as_array().unwrap();
        assert_eq!(got_lines.len(), lines.len(), "lines of {id}");
        for (gl, wl) in got_lines.iter().zip(lines) {
            assert_eq!(gl["line_id"], wl["trade_order_line_id"]);
            assert_eq!(gl["title"], wl["product_title"]);
            assert_eq!(gl["quantity"], wl["quantity"]);
            // A line's actual_fee holds its own shipping; the line total does not.
            let goods = whole(&wl["actual_fee"]) - whole(&wl["actual_shipping_fee"]);
            assert_eq!(gl["total"].as_str().unwrap(), format!("{goods}.00"));
            assert_eq!(gl["sku_properties"].as_array().unwrap().len(), 2);
        }
    }
    assert!(
        r.stderr.contains(&format!("{} orders", want.len())),
        "summary: {}",
        r.stderr
    );
}

#[test]
fn json_and_csv_carry_the_same_orders() {
    let env = Env::with_orders(120);
    let (since, until, s_ms, u_ms) = range();
    let want = expected(&env, s_ms, u_ms);
    let base = [
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        &since,
        "--until",
        &until,
        "--rate-limit",
        "50",
    ];

    let r = env.run(&[&base[..], &["--format", "json"]].concat()).ok();
    let arr: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(arr.len(), want.len());
    let ids: std::collections::BTreeSet<_> = arr
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, want.keys().cloned().collect());

    let r = env.run(&[&base[..], &["--format", "csv"]].concat()).ok();
    let mut rdr = csv::Reader::from_reader(r.stdout.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "platform");
    assert!(headers.iter().any(|h| h == "line_sku_properties"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(|x| x.unwrap()).collect();
    let total_lines: usize = want.values().map(|(_, l)| l.len()).sum();
    assert_eq!(rows.len(), total_lines, "one row per line");
    let oid = headers.iter().position(|h| h == "order_id").unwrap();
    let total = headers.iter().position(|h| h == "total").unwrap();
    for row in &rows {
        let (w, _) = &want[&row[oid]];
        assert_eq!(&row[total], money(&w["actual_fee"]));
    }

    let r = env
        .run(
            &[
                &base[..],
                &["--format", "csv", "--csv", "orders", "--csv-bom"],
            ]
            .concat(),
        )
        .ok();
    assert!(r.stdout.starts_with('\u{feff}'), "BOM first");
    let mut rdr = csv::Reader::from_reader(r.stdout.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(
        rdr.headers().unwrap().iter().next_back(),
        Some("line_count")
    );
    assert_eq!(rdr.records().count(), want.len(), "one row per order");
}

#[test]
fn output_file_appears_whole_and_leaves_no_temporary_file() {
    let env = Env::with_orders(50);
    let out_dir = env.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("tw.ndjson");
    env.run(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "31d",
        "--rate-limit",
        "50",
        "--output",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(files_in(&out_dir), vec!["tw.ndjson".to_string()]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().count() >= 40);
}

#[test]
fn a_wrong_secret_exits_3_and_names_the_signature_problem() {
    let env = Env::with_orders(10);
    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(ordersync::sandbox::taobao_tw::APP_SECRET, "not-the-secret");
    let cfg = env.write_config("bad.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("IncompleteSignature"), "{}", r.stderr);
    assert!(
        r.stderr.contains("app_secret"),
        "hint names what to check: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("not-the-secret"),
        "secret leaked: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn by_created_keeps_only_orders_created_in_range() {
    let env = Env::with_orders(200);
    let since = Utc::now() - Duration::days(20);
    let until = Utc::now() - Duration::days(10);
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--by",
            "created",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &until.to_rfc3339(),
            "--rate-limit",
            "50",
        ])
        .ok();
    let want: BTreeMap<String, Value> = env
        .sandbox
        .state
        .taobao_tw
        .snapshot()
        .into_iter()
        .filter(|(o, _)| {
            let c = o["creation_time"].as_i64().unwrap();
            c >= since.timestamp_millis() && c < until.timestamp_millis()
        })
        .map(|(o, _)| (o["trade_order_id"].as_str().unwrap().to_string(), o))
        .collect();
    let got: Vec<String> = r
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len(), "no order twice, none missing");
    for id in &got {
        assert!(want.contains_key(id), "{id} was not created in range");
    }
}

#[test]
fn sandbox_flag_needs_no_config_and_limit_stops_early() {
    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "taobao-tw",
        "--since",
        "7d",
        "--limit",
        "5",
    ])
    .ok();
    assert_eq!(r.ndjson().len(), 5);
    assert!(r.stderr.contains("stopped at --limit"), "{}", r.stderr);
}

#[test]
fn get_fetches_an_order_in_full() {
    let env = Env::with_orders(5);
    let r = env
        .run(&["get", "--shop", "sandbox-taobao-tw", "558757367941"])
        .ok();
    let o = &r.ndjson()[0];
    assert_eq!(o["order_id"], "558757367941");
    assert_eq!(o["lines"][0]["line_id"], "558757467941");
    assert_eq!(o["lines"][0]["tracking_number"], "20KXH23050207");
}

#[test]
fn output_files_get_a_normal_mode_and_pipes_stay_pipes() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let env = Env::with_orders(20);
    let out = env.path("o.ndjson");
    let base = [
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "3d",
        "--rate-limit",
        "50",
    ];
    env.run(
        &[
            &base[..],
            &["--settle", "0s", "--output", out.to_str().unwrap()],
        ]
        .concat(),
    )
    .ok();
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "not the temporary file's 0600");

    let fifo = env.path("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    env.run(&[&base[..], &["--output", fifo.to_str().unwrap()]].concat())
        .ok();
    let text = reader.join().unwrap();
    assert!(text.lines().count() > 0);
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the pipe was replaced"
    );
}

/// model.md's invariants on one order: A (Σ unit × quantity + shipping − discount = total) and
/// B (Σ line totals + shipping = total), and no line without quantity or title.
fn assert_money_invariants(o: &Value) {
    let id = o["order_id"].as_str().unwrap();
    let lines = o["lines"].as_array().unwrap();
    assert!(!lines.is_empty(), "{id} has no lines");
    for l in lines {
        assert!(l["quantity"].as_i64().unwrap() > 0, "{id}: {l}");
        assert!(!l["title"].as_str().unwrap().is_empty(), "{id}: {l}");
    }
    let total = dec(&o["total"]);
    let shipping = dec(&o["shipping_fee"]);
    let list: Decimal = lines
        .iter()
        .map(|l| dec(&l["unit_price"]) * Decimal::from(l["quantity"].as_i64().unwrap()))
        .sum();
    assert_eq!(
        list + shipping - dec(&o["discount"]),
        total,
        "A fails on {id}"
    );
    let paid: Decimal = lines.iter().map(|l| dec(&l["total"])).sum();
    assert_eq!(paid + shipping, total, "B fails on {id}");
}

#[test]
fn every_pulled_order_keeps_the_money_invariants() {
    let env = Env::with_orders(200);
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--since",
            "31d",
            "--rate-limit",
            "50",
        ])
        .ok();
    let orders = r.ndjson();
    assert!(orders.len() > 150, "{} orders", orders.len());
    for o in &orders {
        assert_money_invariants(o);
        // TW documents no discount, and the sandbox invents none: none comes out either.
        assert_eq!(o["discount"], "0.00", "{o}");
    }
    assert!(
        !r.stderr.contains("WARN"),
        "no amount is missing: {}",
        r.stderr
    );
}

#[test]
fn the_seed_orders_come_out_as_model_md_works_them() {
    let env = Env::with_orders(0);
    let r = env
        .run(&[
            "get",
            "--shop",
            "sandbox-taobao-tw",
            "558757367941",
            "546108399700",
        ])
        .ok();
    let got = r.ndjson();
    assert_eq!(got.len(), 2);
    for o in &got {
        assert_money_invariants(o);
    }
    // model.md, worked from the seed: total 62.00, shipping 52.00, line 10.00, discount 0.00.
    let o = &got[0];
    assert_eq!(o["order_id"], "558757367941");
    assert_eq!(o["total"], "62.00");
    assert_eq!(o["shipping_fee"], "52.00");
    assert_eq!(o["discount"], "0.00");
    assert_eq!(o["lines"][0]["unit_price"], "10.00");
    assert_eq!(o["lines"][0]["total"], "10.00");
    assert_eq!(o["receiver"]["country"], "CN");
    // The list's second order: 121 paid, 60 of it postage.
    assert_eq!(got[1]["total"], "121.00");
    assert_eq!(got[1]["shipping_fee"], "60.00");
    assert_eq!(got[1]["lines"][0]["total"], "61.00");
}

#[test]
fn a_saved_list_answer_normalizes_without_invented_lines() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/taobao-tw/orders_get.json"
    );
    let r = run_binary(&["normalize", "--platform", "taobao-tw", path]).ok();
    let orders = r.ndjson();
    assert_eq!(orders.len(), 2);
    for o in &orders {
        assert_eq!(o["lines"], serde_json::json!([]), "{o}");
        assert!(o["discount"].is_null(), "{o}");
    }
    assert_eq!(orders[0]["total"], "62.00");
    for needle in ["carries no order lines", "/order/items/get", "/order/get"] {
        assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
    }
}

#[test]
fn success_false_is_an_error_and_no_orders() {
    // A gateway answering every call with code "0" but result.success false.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        r#"{"code":"0","request_id":"0b5","result":{"success":false,"model_list":[{"trade_order_id":"1","actual_fee":"1"}],"total_count":1,"page_no":1,"page_size":100}}"#
    });
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[shops.t]\nplatform = \"taobao-tw\"\nbase_url = \"http://{addr}/rest\"\n\
             app_key = \"1\"\napp_secret = \"s\"\naccess_token = \"t\"\n"
        ),
    )
    .unwrap();
    let r = run_binary(&[
        "pull",
        "--shop",
        "t",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "no orders: {}", r.stdout);
    for needle in ["/orders/get", "result.success is false", "0b5"] {
        assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
    }
}
