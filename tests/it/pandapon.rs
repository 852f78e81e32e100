//! pandapon-taobao and pandapon-1688 through the binary, checked field by field against what
//! the sandbox holds (its own wire rendering, read here independently of the adapter).

use crate::support::{Env, run_binary};
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};
use ordersync::sandbox::SandboxOptions;
use ordersync::sandbox::pandapon::{Page, SECRET_KEY};
use serde_json::Value;
use std::collections::BTreeMap;

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

/// The sandbox's `createTime` (either page's format) as an instant.
fn created(o: &Value) -> DateTime<Utc> {
    let s = o["createTime"].as_str().unwrap();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| {
            let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
            china().from_local_datetime(&n).unwrap().to_utc()
        })
}

/// A whole-second range: PandaPon filters to the second, both bounds inclusive.
fn range(from_days: i64, to: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
    let s = (Utc::now() - Duration::days(from_days))
        .with_nanosecond(0)
        .unwrap();
    let u = (Utc::now() - to).with_nanosecond(0).unwrap();
    (s, u)
}

/// The sandbox's orders of `page` created in `[since, until]`, by `orderNo`.
fn expected(
    env: &Env,
    page: Page,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> BTreeMap<String, Value> {
    env.sandbox
        .state
        .pandapon
        .snapshot(page)
        .into_iter()
        .filter(|o| (since..=until).contains(&created(o)))
        .map(|o| (o["orderNo"].as_str().unwrap().to_string(), o))
        .collect()
}

fn pull(
    env: &Env,
    shop: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    extra: &[&str],
) -> crate::support::Run {
    let (s, u) = (since.to_rfc3339(), until.to_rfc3339());
    let mut args = vec![
        "pull",
        "--shop",
        shop,
        "--by",
        "created",
        "--since",
        &s,
        "--until",
        &u,
        "--rate-limit",
        "100",
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// Integer fen as the decimal text the model prints.
fn fen(v: &Value) -> String {
    let n = v.as_i64().unwrap();
    format!("{}.{:02}", n / 100, n % 100)
}

fn status_of(code: i64) -> &'static str {
    match code {
        0 => "pending_payment",
        1 | 2 => "paid",
        3 | 4 => "cancelled",
        10 => "awaiting_shipment",
        11 => "shipped",
        _ => "unknown",
    }
}

#[test]
fn taobao_page_matches_the_sandbox_field_by_field() {
    let env = Env::with_orders(200);
    let (since, until) = range(31, Duration::minutes(3));
    let r = pull(&env, "sandbox-pandapon-taobao", since, until, &[]).ok();
    let want = expected(&env, Page::Taobao, since, until);
    let got = r.ndjson();
    assert!(
        want.len() > 150,
        "sandbox holds {} orders in range",
        want.len()
    );
    assert_eq!(got.len(), want.len(), "order count");
    let mut last_created = String::new();
    for o in &got {
        let id = o["order_id"].as_str().unwrap();
        let w = want
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not in the sandbox range"));
        assert_eq!(o["platform"], "pandapon-taobao");
        assert_eq!(o["shop"], "sandbox-pandapon-taobao");
        assert_eq!(o["platform_status"], w["status"].to_string());
        assert_eq!(o["status"], status_of(w["status"].as_i64().unwrap()));
        assert_eq!(
            o["total"].as_str().unwrap(),
            fen(&w["purchaseAmount"]),
            "total of {id}"
        );
        // The page's own discount figure: sub-order amounts + postage - what the order cost.
        let subs_sum = |k: &str| -> Option<i64> {
            w["subOrderVOS"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s[k].as_i64())
                .sum()
        };
        match subs_sum("purchaseAmount").zip(subs_sum("domesticPostFee")) {
            Some((goods, ship)) => {
                let off = goods + ship - w["purchaseAmount"].as_i64().unwrap();
                assert_eq!(
                    o["discount"].as_str().unwrap(),
                    fen(&Value::from(off)),
                    "{id}"
                );
            }
            None => assert_eq!(o["discount"], Value::Null, "{id}"),
        }
        assert_eq!(o["currency"], "CNY");
        let c = o["created_at"].as_str().unwrap();
        assert_eq!(
            c,
            format!(
                "{}+08:00",
                w["createTime"].as_str().unwrap().replace(' ', "T")
            )
        );
        assert!(
            c >= last_created.as_str(),
            "oldest first, as the page lists"
        );
        last_created = c.to_string();
        assert_eq!(o["buyer"]["name"], w["userName"]);
        assert_eq!(o["receiver"]["name"], w["warehouseAddressInfoVO"]["name"]);
        assert_eq!(o["receiver"]["city"], w["receiverVO"]["city"]);
        assert_eq!(
            o["source_order_id"],
            w["subOrderVOS"][0]["taobaoPurchaseId"]
        );
        let lines = o["lines"].as_array().unwrap();
        let subs = w["subOrderVOS"].as_array().unwrap();
        assert_eq!(lines.len(), subs.len(), "lines of {id}");
        for (l, s) in lines.iter().zip(subs) {
            assert_eq!(l["line_id"], s["subOrderId"]);
            assert_eq!(l["title"], s["title"]);
            assert_eq!(l["quantity"], s["quantity"]);
            assert_eq!(l["platform_status"], s["status"]);
            let result: Value =
                serde_json::from_str(s["subOrderResult"].as_str().unwrap()).unwrap();
            let zh: Value =
                serde_json::from_str(result["option_fields"]["zh"].as_str().unwrap()).unwrap();
            let props = l["sku_properties"].as_array().unwrap();
            assert_eq!(props.len(), zh.as_object().unwrap().len());
            for p in props {
                assert_eq!(zh[p["name"].as_str().unwrap()], p["value"]);
            }
            assert_eq!(l["image_url"], result["option_fields"]["SKU_IMG_URL"]);
        }
    }
    assert!(
        r.stderr.contains(&format!("{} orders", want.len())),
        "summary: {}",
        r.stderr
    );
}

#[test]
fn alibaba_page_matches_the_sandbox_field_by_field() {
    let env = Env::with_orders(200);
    let (since, until) = range(31, Duration::minutes(3));
    let r = pull(&env, "sandbox-pandapon-1688", since, until, &[]).ok();
    let want = expected(&env, Page::Alibaba, since, until);
    let got = r.ndjson();
    assert!(
        want.len() > 150,
        "sandbox holds {} orders in range",
        want.len()
    );
    assert_eq!(got.len(), want.len(), "order count");
    let (mut discounted, mut refunds) = (0, 0);
    for o in &got {
        let id = o["order_id"].as_str().unwrap();
        let w = want
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not in the sandbox range"));
        assert_eq!(o["platform"], "pandapon-1688");
        assert_eq!(o["source_order_id"], w["tbOrderId"]);
        assert_eq!(o["total"].as_str().unwrap(), fen(&w["totalAmount"]));
        assert_eq!(o["shipping_fee"].as_str().unwrap(), fen(&w["shippingFee"]));
        // The discount is what was taken off: productAmount + shippingFee - totalAmount (the
        // wire's `discount` is 0 on every order, as in the seeds).
        let off = w["productAmount"].as_i64().unwrap() + w["shippingFee"].as_i64().unwrap()
            - w["totalAmount"].as_i64().unwrap();
        assert_eq!(o["discount"].as_str().unwrap(), fen(&Value::from(off)));
        discounted += usize::from(off > 0);
        assert_eq!(o["created_at"], w["createTime"]);
        let refunded = w["refundStatus"] != 0 && w["refundAmount"] == w["totalAmount"];
        refunds += usize::from(refunded);
        if refunded {
            assert_eq!(o["status"], "refunded", "{id}");
        } else {
            assert_eq!(o["status"], status_of(w["orderStatus"].as_i64().unwrap()));
        }
        assert_eq!(o["seller"]["name"], w["sellerLoginId"]);
        let rc: Value = serde_json::from_str(w["receiver"].as_str().unwrap()).unwrap();
        assert_eq!(o["receiver"]["name"], rc["toFullName"]);
        assert_eq!(o["receiver"]["phone"], rc["toMobile"]);
        assert_eq!(o["receiver"]["zip"], rc["toPost"]);
        let wh: Value = serde_json::from_str(w["warehouseAddressInfo"].as_str().unwrap()).unwrap();
        match wh["townText"].as_str().filter(|t| !t.is_empty()) {
            Some(town) => assert_eq!(o["receiver"]["town"], town),
            None => assert_eq!(o["receiver"]["town"], Value::Null),
        }
        let area = rc["toArea"].as_str().unwrap();
        assert!(
            area.starts_with(&format!(
                "{} {} {} ",
                o["receiver"]["state"].as_str().unwrap(),
                o["receiver"]["city"].as_str().unwrap(),
                o["receiver"]["district"].as_str().unwrap()
            )),
            "{area}"
        );
        assert!(
            area.ends_with(o["receiver"]["address"].as_str().unwrap()),
            "{area}"
        );
        let lines = o["lines"].as_array().unwrap();
        let details = w["orderDetailInfoVOS"].as_array().unwrap();
        assert_eq!(lines.len(), details.len());
        // Invariant A: Σ unit_price × quantity + shipping_fee - discount = total, in fen.
        let cents = |v: &Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
        let listed: i64 = lines
            .iter()
            .map(|l| cents(&l["unit_price"]) * l["quantity"].as_i64().unwrap())
            .sum();
        assert_eq!(
            listed + cents(&o["shipping_fee"]) - cents(&o["discount"]),
            cents(&o["total"]),
            "invariant A on {id}"
        );
        for (l, d) in lines.iter().zip(details) {
            assert_eq!(l["line_id"], d["id"]);
            assert_eq!(l["refund_status"], w["refundStatus"].to_string());
            assert_eq!(l["unit_price"].as_str().unwrap(), fen(&d["price"]));
            assert_eq!(l["total"].as_str().unwrap(), fen(&d["itemAmount"]));
            let skus: Vec<Value> = serde_json::from_str(d["skuInfos"].as_str().unwrap()).unwrap();
            let props = l["sku_properties"].as_array().unwrap();
            assert_eq!(props.len(), skus.len());
            for (p, s) in props.iter().zip(&skus) {
                assert_eq!((&p["name"], &p["value"]), (&s["name"], &s["value"]));
            }
            let imgs: Vec<String> =
                serde_json::from_str(d["productImgUrl"].as_str().unwrap()).unwrap();
            assert_eq!(
                l["image_url"].as_str().unwrap(),
                imgs[1],
                "the full-size image"
            );
        }
    }
    assert!(discounted > 0 && refunds > 0, "{discounted} {refunds}");
    // Newest first on the wire, but every order exactly once.
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), got.len());
}

#[test]
fn faults_and_small_pages_lose_nothing() {
    let env = Env::new(SandboxOptions {
        orders: 120,
        fail_rate: 0.15,
        ..SandboxOptions::default()
    });
    let (since, until) = range(31, Duration::minutes(3));
    for (shop, page) in [
        ("sandbox-pandapon-taobao", Page::Taobao),
        ("sandbox-pandapon-1688", Page::Alibaba),
    ] {
        let r = pull(
            &env,
            shop,
            since,
            until,
            &["--page-size", "7", "--retries", "12", "--timeout", "10s"],
        )
        .ok();
        let want = expected(&env, page, since, until);
        let got: std::collections::BTreeSet<String> = r
            .ndjson()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want.keys().cloned().collect(), "{shop}");
    }
}

#[test]
fn a_wrong_scheme_exits_3_and_names_the_schemes() {
    let env = Env::with_orders(5);
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "[shops.sandbox-pandapon-taobao]\n",
        "[shops.sandbox-pandapon-taobao]\nsignature_scheme = \"md5-wrapped\"\n",
    );
    let cfg = env.write_config("wrong-scheme.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-pandapon-taobao",
        "--by",
        "created",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("`md5-wrapped`"),
        "names the scheme in use: {}",
        r.stderr
    );
    for other in [
        "md5-query-key",
        "md5-query-secret",
        "md5-concat",
        "hmac-md5-query",
    ] {
        assert!(r.stderr.contains(other), "lists {other}: {}", r.stderr);
    }
    assert!(r.stderr.contains("signature_scheme"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(SECRET_KEY),
        "secret leaked: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(SECRET_KEY, "not-the-secret");
    let cfg = env.write_config("wrong-secret.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-pandapon-1688",
        "--by",
        "created",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("`md5-query-key` (the default)"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("not-the-secret"),
        "secret leaked: {}",
        r.stderr
    );
}

#[test]
fn an_unknown_scheme_is_a_config_error_listing_the_valid_ones() {
    let env = Env::with_orders(5);
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "[shops.sandbox-pandapon-1688]\n",
        "[shops.sandbox-pandapon-1688]\nsignature_scheme = \"sha1\"\n",
    );
    let cfg = env.write_config("bad-scheme.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-pandapon-1688",
        "--by",
        "created",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("\"sha1\""), "{}", r.stderr);
    for s in [
        "md5-query-key",
        "md5-query-secret",
        "md5-concat",
        "md5-wrapped",
        "hmac-md5-query",
    ] {
        assert!(r.stderr.contains(s), "{s}: {}", r.stderr);
    }
}

#[test]
fn by_modified_is_refused_with_the_reason() {
    let env = Env::with_orders(5);
    let r = env.run(&[
        "pull",
        "--shop",
        "sandbox-pandapon-taobao",
        "--by",
        "modified",
        "--since",
        "1d",
    ]);
    assert_eq!(r.code, 2, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("creation time"), "{}", r.stderr);
}

#[test]
fn status_filter_and_sandbox_flag() {
    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "pandapon-1688",
        "--by",
        "created",
        "--since",
        "31d",
        "--status",
        "10",
    ])
    .ok();
    let got = r.ndjson();
    assert!(!got.is_empty());
    assert!(
        got.iter()
            .all(|o| o["platform_status"] == "10" && o["status"] == "awaiting_shipment")
    );

    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "pandapon-taobao",
        "--by",
        "created",
        "--since",
        "7d",
        "--limit",
        "5",
    ])
    .ok();
    assert_eq!(r.ndjson().len(), 5);

    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "pandapon-taobao",
        "--by",
        "created",
        "--since",
        "7d",
        "--status",
        "finance-approved",
    ]);
    // Issue 19: normalized statuses (`paid`) are accepted everywhere now; a value that is
    // neither one nor PandaPon's own code is refused with both lists.
    assert_eq!(r.code, 2, "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("paid") && r.stderr.contains("10, 11"),
        "{}",
        r.stderr
    );
}

#[test]
fn get_finds_the_seed_orders_by_order_no_and_tb_order_id() {
    let env = Env::with_orders(5);
    let r = env
        .run(&[
            "get",
            "--shop",
            "sandbox-pandapon-taobao",
            "1131284688996925671",
        ])
        .ok();
    let o = &r.ndjson()[0];
    assert_eq!(o["order_id"], "1131284688996925671");
    assert_eq!(o["lines"][0]["platform_status"], "BULIDING");
    assert_eq!(o["lines"][0]["sku_properties"][0]["name"], "游戏版本");

    let r = env
        .run(&[
            "get",
            "--shop",
            "sandbox-pandapon-1688",
            "1232742280398373686",
            "2540825544788880794",
        ])
        .ok();
    let got = r.ndjson();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["total"], "232.00");
    assert_eq!(
        got[1]["order_id"], "1232386407805223845",
        "found by tbOrderId"
    );

    // Issue 19: the orders found are printed, the missing ones named, exit 1 (was 2).
    let r = env.run(&[
        "get",
        "--shop",
        "sandbox-pandapon-1688",
        "999",
        "1232386407805223845",
    ]);
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("999 was not found"), "{}", r.stderr);
    assert!(r.stderr.contains("1 of 2 orders not found"), "{}", r.stderr);
    let got = r.ndjson();
    assert_eq!(got.len(), 1, "{}", r.stdout);
    assert_eq!(got[0]["order_id"], "1232386407805223845");
}

#[test]
fn normalize_reproduces_the_checked_in_fixture_output() {
    for (platform, dir) in [
        ("pandapon-taobao", "fixtures/pandapon-taobao"),
        ("pandapon-1688", "fixtures/pandapon-1688"),
    ] {
        let root = env!("CARGO_MANIFEST_DIR");
        let input = format!("{root}/{dir}/page.json");
        let r = run_binary(&[
            "normalize",
            "--platform",
            platform,
            "--shop",
            "fixture",
            &input,
        ])
        .ok();
        let want: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(format!("{root}/{dir}/page.expected.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(r.ndjson(), want, "{platform}");
    }
}

/// A saved file of more than 16 MB is read by two threads, a half each: what comes out is what
/// the same bytes give through stdin, read in one piece.
#[test]
fn normalize_reads_a_big_file_as_it_reads_stdin() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut page: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/fixtures/pandapon-taobao/page.json")).unwrap(),
    )
    .unwrap();
    let seed = page["data"]["data"].as_array().unwrap().clone();
    let mut orders = Vec::new();
    let mut bytes = 0;
    while bytes < 17 << 20 {
        for o in &seed {
            let mut o = o.clone();
            o["orderNo"] = Value::String(format!("big-{}", orders.len()));
            bytes += o.to_string().len();
            orders.push(o);
        }
    }
    let n = orders.len();
    page["data"]["data"] = Value::Array(orders);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    std::fs::write(&path, page.to_string()).unwrap();

    let args = ["normalize", "--platform", "pandapon-taobao"];
    let from_file = run_binary(&[&args[..], &[path.to_str().unwrap()]].concat()).ok();
    let from_stdin = crate::support::command()
        .args(args)
        .arg("-")
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(from_stdin.status.success());
    assert!(
        from_file.stdout.as_bytes() == from_stdin.stdout,
        "file and stdin differ"
    );
    let out = from_file.ndjson();
    assert_eq!(out.len(), n);
    assert_eq!(out[n / 2]["order_id"], format!("big-{}", n / 2));
    assert_eq!(out[n - 1]["order_id"], format!("big-{}", n - 1));
}

#[path = "pandapon_config.rs"]
mod config;
