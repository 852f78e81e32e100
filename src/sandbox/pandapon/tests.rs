//! The PandaPon sandbox's own tests: its signature vectors, shapes and filters, and the
//! adapter against it in-process.

use super::*;
use crate::config::Config;
use crate::error::{ErrorClass, PlatformError};
use crate::model::Order;
use crate::net::{RetryPolicy, Transport, TransportOptions};
use crate::platforms::pandapon::{Pandapon, Scheme, normalize_saved};
use crate::platforms::{Adapter, ApiRequest, Body, By, PageQuery, PlatformId, Window};
use crate::sandbox::{Running, SandboxOptions, spawn};
use secrecy::SecretString;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

#[test]
fn own_signatures_match_the_documented_vectors() {
    let (ak, n, t, s) = (
        "58c0201dfdf148eca63cbf6bb5e7cf03",
        "0123456789abcdef0123456789abcdef",
        "1715669977082",
        "testsecret",
    );
    let expect = [
        "B5ADC95658EA7E68628F74702CE48C12",
        "184CD84BFC512859FEF6A6C966938F50",
        "E10EDEE14BE05AC5401FF7B607F16F58",
        "27C7C39151385EBC96B6BFFBBDEB9687",
        "26263C9B556F6A3420CCF2D139C8DFEF",
    ];
    for (scheme, sig) in SCHEMES.iter().zip(expect) {
        assert_eq!(
            signature(scheme, ak, n, t, s).as_deref(),
            Some(sig),
            "{scheme}"
        );
    }
    assert_eq!(signature("sha1", ak, n, t, s), None);
}

#[test]
fn filter_times_parse_like_a_hutool_datetime() {
    let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let p = |v: Value| parse_filter_time(&v);
    assert_eq!(
        p(json!("2024-07-18 18:01:30")),
        Some(utc("2024-07-18T10:01:30Z"))
    );
    assert_eq!(p(json!("2024-07-18")), Some(utc("2024-07-17T16:00:00Z")));
    assert_eq!(
        p(json!("2025-04-24T17:17:43.000+08:00")),
        Some(utc("2025-04-24T09:17:43Z"))
    );
    assert_eq!(
        p(json!(1715669977082i64)),
        Some(utc("2024-05-14T06:59:37.082Z"))
    );
    assert_eq!(
        p(json!("1715669977082")),
        Some(utc("2024-05-14T06:59:37.082Z"))
    );
    assert_eq!(p(json!("soon")), None);
    assert_eq!(p(json!({"time": 1})), None);
}

#[test]
fn config_section_holds_both_shops() {
    let text = config_section("http://127.0.0.1:9/pandapon", 1, 1);
    assert!(
        text.contains("[shops.sandbox-pandapon-taobao]")
            && text.contains("[shops.sandbox-pandapon-1688]")
    );
    let c = Config::parse(&text, Path::new("sb.toml"), &crate::platforms::shop_kinds()).unwrap();
    let platforms: Vec<PlatformId> = c.shops.iter().map(|s| s.platform).collect();
    assert_eq!(
        platforms,
        [PlatformId::Pandapon1688, PlatformId::PandaponTaobao]
    );
    for s in &c.shops {
        assert_eq!(s.base_url, "http://127.0.0.1:9/pandapon");
        assert_eq!(
            s.raw.keys.get("access_key").and_then(|v| v.as_str()),
            Some(ACCESS_KEY)
        );
        assert_eq!(
            s.raw.keys.get("user_id").and_then(|v| v.as_str()),
            Some(USER_ID)
        );
        assert_eq!(
            Pandapon::from_shop(s).unwrap().scheme(),
            Scheme::Md5QueryKey
        );
    }
}

#[test]
fn generated_orders_follow_the_documented_shapes() {
    let st = State::new(&SandboxOptions {
        orders: 30,
        ..SandboxOptions::default()
    });
    let tb = st.snapshot(Page::Taobao);
    assert_eq!(tb.len(), 35);
    for o in &tb {
        assert!(o["subOrderVOS"].as_array().is_some_and(|a| !a.is_empty()));
        let r: Value =
            serde_json::from_str(o["subOrderVOS"][0]["subOrderResult"].as_str().unwrap()).unwrap();
        let zh: Value = serde_json::from_str(r["option_fields"]["zh"].as_str().unwrap()).unwrap();
        assert!(zh.is_object());
        assert!([0, 1, 2, 3, 4, 10, 11].contains(&o["status"].as_i64().unwrap()));
        assert!(parse_filter_time(&o["createTime"]).is_some());
    }
    let ali = st.snapshot(Page::Alibaba);
    assert_eq!(ali.len(), 32);
    // Money as the seeds show it: fen integers, `discount` 0, the reduction only in
    // productAmount + shippingFee - totalAmount, and a one-line order's itemAmount after it.
    let mut reduced = 0;
    for o in ali.iter().filter(|o| o["developId"] == DEVELOP_ID) {
        let fen = |v: &Value| v.as_i64().unwrap_or_else(|| panic!("{v} is not fen"));
        let total = fen(&o["totalAmount"]);
        let (goods, ship) = (fen(&o["productAmount"]), fen(&o["shippingFee"]));
        assert_eq!(fen(&o["discount"]), 0, "{}", o["orderNo"]);
        let details = o["orderDetailInfoVOS"].as_array().unwrap();
        let listed: i64 = details
            .iter()
            .map(|d| fen(&d["price"]) * fen(&d["quantity"]))
            .sum();
        assert_eq!(goods, listed, "productAmount is Σ price × quantity");
        let off = goods + ship - total;
        assert!(off >= 0, "{}", o["orderNo"]);
        reduced += usize::from(off > 0);
        if let [one] = details.as_slice() {
            assert_eq!(fen(&one["itemAmount"]), goods - off);
        } else {
            for d in details {
                assert_eq!(
                    fen(&d["itemAmount"]),
                    fen(&d["price"]) * fen(&d["quantity"])
                );
            }
        }
        for text in [
            "receiver",
            "cargoParamList",
            "warehouseAddressInfo",
            "orderJson",
        ] {
            assert!(
                serde_json::from_str::<Value>(o[text].as_str().unwrap()).is_ok(),
                "{text}"
            );
        }
    }
    assert!(
        reduced > 0,
        "some generated orders carry an order-level discount"
    );
}

/// Invariant A (model.md) on every order of both pages as the adapter reads them, whenever the
/// lines are complete; on 1688 the discount also equals productAmount + shippingFee -
/// totalAmount.
#[test]
fn invariant_a_holds_on_every_sandbox_order() {
    let st = State::new(&SandboxOptions {
        orders: 300,
        ..SandboxOptions::default()
    });
    let (mut complete, mut taobao_discounts) = (0, 0);
    for (platform, page) in [
        (PlatformId::PandaponTaobao, Page::Taobao),
        (PlatformId::Pandapon1688, Page::Alibaba),
    ] {
        let wire = st.snapshot(page);
        let body = json!({"code": 200, "data": {"total": wire.len(), "data": wire}});
        let orders = normalize_saved(platform, body.to_string().as_bytes(), "sb").unwrap();
        assert_eq!(orders.len(), wire.len());
        for (o, w) in orders.iter().zip(&wire) {
            if page == Page::Taobao {
                // No unit prices: the discount is the page's own figure, from fen integers.
                let subs = w["subOrderVOS"].as_array().unwrap();
                let sum = |k: &str| -> Option<i64> { subs.iter().map(|s| s[k].as_i64()).sum() };
                let figure = sum("purchaseAmount")
                    .zip(sum("domesticPostFee"))
                    .map(|(goods, ship)| goods + ship - w["purchaseAmount"].as_i64().unwrap());
                assert_eq!(
                    o.discount,
                    figure.map(crate::model::Amount::from_minor_units),
                    "{}",
                    o.order_id
                );
                taobao_discounts += usize::from(figure.is_some_and(|f| f > 0));
            }
            let Some(list) = o.list_price() else {
                continue;
            };
            complete += 1;
            let (ship, disc, total) = (
                o.shipping_fee.unwrap().value(),
                o.discount.unwrap().value(),
                o.total.unwrap().value(),
            );
            assert_eq!(list.value() + ship - disc, total, "{}", o.order_id);
            if page == Page::Alibaba {
                let fen = |k: &str| rust_decimal::Decimal::new(w[k].as_i64().unwrap(), 2);
                assert_eq!(
                    disc,
                    fen("productAmount") + fen("shippingFee") - fen("totalAmount"),
                    "{}",
                    o.order_id
                );
            }
        }
    }
    assert!(complete >= 300, "1688 orders have complete lines");
    assert!(
        taobao_discounts > 0,
        "some Taobao-page orders carry a discount"
    );
}

#[tokio::test]
async fn seller_nick_is_applied_on_the_taobao_page() {
    let sb = start(SandboxOptions {
        orders: 30,
        ..SandboxOptions::default()
    })
    .await;
    let (a, t) = client(
        &sb,
        PlatformId::PandaponTaobao,
        Scheme::Md5QueryKey,
        USER_ID,
    );
    let mut seen = 0;
    for nick in ["沙盒旗舰店", "pandapon沙盒小铺", "义乌沙盒百货"] {
        let body = json!({"pageNum": 1, "pageSize": 100, "sellerNick": nick});
        let r = t
            .call(
                PATH_TAOBAO_FOR_TESTS,
                None,
                |now| Ok(a.signed(body.clone(), now)),
                |b| Ok(serde_json::from_slice::<Value>(b).unwrap()),
            )
            .await
            .unwrap();
        let n = r["data"]["data"].as_array().unwrap().len();
        assert_eq!(r["data"]["total"].as_u64(), Some(n as u64));
        assert!(n > 0 && n < 30, "{nick}: {n}");
        seen += n;
    }
    assert_eq!(
        seen, 30,
        "every generated order has one of the three sellers"
    );
    let body = json!({"pageNum": 1, "pageSize": 100, "sellerNick": "nobody"});
    let r = t
        .call(
            PATH_TAOBAO_FOR_TESTS,
            None,
            |now| Ok(a.signed(body.clone(), now)),
            |b| Ok(serde_json::from_slice::<Value>(b).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(r["data"]["total"], 0, "an unknown seller matches nothing");
    let body = json!({"pageNum": 1, "pageSize": 100, "sellerNick": 7});
    let r = t
        .call(
            PATH_TAOBAO_FOR_TESTS,
            None,
            |now| Ok(a.signed(body.clone(), now)),
            |b| Ok(serde_json::from_slice::<Value>(b).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(r["code"], 400, "{r}");
}

const PATH_TAOBAO_FOR_TESTS: &str = "/v2/taobao/order/page";

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 12,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        max_wait: Duration::from_secs(2),
        ..RetryPolicy::default()
    }
}

fn client(sb: &Running, platform: PlatformId, scheme: Scheme, user: &str) -> (Pandapon, Transport) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = Pandapon::new(
        platform,
        "sb",
        ACCESS_KEY,
        SecretString::from(SECRET_KEY),
        user,
        scheme,
    )
    .unwrap();
    let t = Transport::new(TransportOptions {
        platform: platform.spec().id,
        base_url: Sandbox::base_url(sb.addr, platform),
        rate_limit: 1000.0,
        timeout: Duration::from_secs(10),
        retry: retry(),
        secrets: a.secrets(),
        dump_dir: None,
    })
    .unwrap();
    (a, t)
}

fn window(days: i64) -> Window {
    Window {
        start: Utc::now() - chrono::Duration::days(days),
        end: Utc::now() + chrono::Duration::minutes(1),
    }
}

fn q(w: Window, page: u32, size: u32, status: Option<&str>) -> PageQuery {
    PageQuery {
        window: w,
        by: By::Created,
        status: status.map(str::to_string),
        page,
        page_size: size,
    }
}

async fn page(
    a: &Pandapon,
    t: &Transport,
    q: &PageQuery,
) -> Result<crate::platforms::ListPage, PlatformError> {
    t.call(
        a.list_endpoint(By::Created),
        Some(q.page),
        |now| a.list_request(q, now),
        |b| a.parse_list(b, q),
    )
    .await
}

/// Every order of a window, paging forward on `data.total`.
async fn pull(
    a: &Pandapon,
    t: &Transport,
    w: Window,
    size: u32,
    status: Option<&str>,
) -> Result<Vec<Order>, PlatformError> {
    let first = page(a, t, &q(w, 1, size, status)).await?;
    let total = first.total.unwrap_or(0);
    let mut out = first.orders;
    let pages = total.div_ceil(u64::from(size)) as u32;
    for p in 2..=pages {
        out.extend(page(a, t, &q(w, p, size, status)).await?.orders);
    }
    Ok(out)
}

fn in_window(sb: &Running, page: Page, w: Window) -> usize {
    sb.state
        .pandapon
        .snapshot(page)
        .iter()
        .filter_map(|o| parse_filter_time(&o["createTime"]))
        .filter(|c| *c >= w.start && *c <= w.end)
        .count()
}

async fn start(o: SandboxOptions) -> Running {
    spawn("127.0.0.1:0".parse().unwrap(), o).await.unwrap()
}

#[tokio::test]
async fn pulls_every_order_of_both_pages_in_their_order() {
    let sb = start(SandboxOptions {
        orders: 70,
        ..SandboxOptions::default()
    })
    .await;
    let w = window(31);
    for (platform, p) in [
        (PlatformId::PandaponTaobao, Page::Taobao),
        (PlatformId::Pandapon1688, Page::Alibaba),
    ] {
        let (a, t) = client(&sb, platform, Scheme::Md5QueryKey, USER_ID);
        let orders = pull(&a, &t, w, 20, None).await.unwrap();
        assert_eq!(orders.len(), 70, "{platform}");
        assert_eq!(in_window(&sb, p, w), 70);
        let ids: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids.len(), 70, "{platform}: duplicate ids");
        let created: Vec<_> = orders.iter().map(|o| o.created_at.unwrap()).collect();
        let mut sorted = created.clone();
        sorted.sort();
        if p == Page::Alibaba {
            sorted.reverse();
        }
        assert_eq!(created, sorted, "{platform}: list order");
        assert!(
            orders
                .iter()
                .all(|o| !o.lines.is_empty() && o.platform == platform.as_str())
        );
    }
}

#[tokio::test]
async fn paging_boundaries_and_filters() {
    let sb = start(SandboxOptions {
        orders: 45,
        ..SandboxOptions::default()
    })
    .await;
    let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
    let w = window(31);
    // 45 orders at 7 a page: pages 1..=6 full, page 7 holds 3, page 8 none.
    let p6 = page(&a, &t, &q(w, 6, 7, None)).await.unwrap();
    assert_eq!((p6.total, p6.orders.len()), (Some(45), 7));
    let p7 = page(&a, &t, &q(w, 7, 7, None)).await.unwrap();
    assert_eq!(p7.orders.len(), 3);
    let p8 = page(&a, &t, &q(w, 8, 7, None)).await.unwrap();
    assert_eq!((p8.total, p8.orders.len()), (Some(45), 0));
    // pageSize above the limit is refused as a bad request.
    let e = page(&a, &t, &q(w, 1, 101, None)).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid, "{e}");

    // Status filter.
    let snapshot = sb.state.pandapon.snapshot(Page::Alibaba);
    let want = snapshot
        .iter()
        .filter(|o| o["orderStatus"] == json!(11))
        .count();
    let shipped = pull(&a, &t, w, 20, Some("11")).await.unwrap();
    assert_eq!(shipped.len(), want);
    assert!(shipped.iter().all(|o| o.platform_status == "11"));

    // Both time bounds are inclusive, to the second, in China time.
    let one = &snapshot[0];
    let created = parse_filter_time(&one["createTime"]).unwrap();
    let exact = Window {
        start: created,
        end: created,
    };
    let got = pull(&a, &t, exact, 20, None).await.unwrap();
    assert!(
        got.iter()
            .any(|o| o.order_id == one["orderNo"].as_str().unwrap())
    );
    let before = Window {
        start: created - chrono::Duration::days(40),
        end: created - chrono::Duration::seconds(1),
    };
    let got = pull(&a, &t, before, 20, None).await.unwrap();
    assert!(
        got.iter()
            .all(|o| o.order_id != one["orderNo"].as_str().unwrap())
    );
}

#[tokio::test]
async fn signatures_are_checked_with_the_sandbox_scheme() {
    let sb = start(SandboxOptions {
        orders: 5,
        ..SandboxOptions::default()
    })
    .await;
    let w = window(31);
    let (a, t) = client(&sb, PlatformId::PandaponTaobao, Scheme::Md5Concat, USER_ID);
    let e = page(&a, &t, &q(w, 1, 20, None)).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    let msg = e.to_string();
    assert!(
        msg.contains("`md5-concat`")
            && msg.contains("md5-query-key")
            && msg.contains("hmac-md5-query"),
        "{msg}"
    );
    assert!(!msg.contains(SECRET_KEY));
    for s in Scheme::ALL {
        assert!(sb.state.pandapon.set_signature_scheme(s.name()));
        for platform in [PlatformId::PandaponTaobao, PlatformId::Pandapon1688] {
            let (a, t) = client(&sb, platform, s, USER_ID);
            assert!(
                page(&a, &t, &q(w, 1, 20, None)).await.is_ok(),
                "{s} {platform}"
            );
        }
    }
    assert!(!sb.state.pandapon.set_signature_scheme("nope"));
    assert_eq!(sb.state.pandapon.signature_scheme(), "hmac-md5-query");
}

#[tokio::test]
async fn headers_time_and_user_are_checked() {
    let sb = start(SandboxOptions {
        orders: 5,
        ..SandboxOptions::default()
    })
    .await;
    let w = window(31);
    let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
    let qq = q(w, 1, 20, None);
    let call = |build: Box<dyn Fn() -> ApiRequest + Send + Sync>| {
        let (a, t) = (&a, &t);
        let qq = qq.clone();
        async move {
            t.call(
                "/v2/alibaba/order/page",
                None,
                |_| Ok(build()),
                |b| a.parse_list(b, &qq),
            )
            .await
        }
    };
    // A stale timestamp (700 s old).
    let a2 = &a;
    let qq2 = qq.clone();
    let e = call(Box::new(move || {
        a2.signed(
            a2_body(a2, &qq2),
            Utc::now() - chrono::Duration::seconds(700),
        )
    }))
    .await
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    assert!(e.to_string().contains("clock"), "{e}");
    // 590 s is still within the allowance.
    let qq3 = qq.clone();
    assert!(
        call(Box::new(move || a2.signed(
            a2_body(a2, &qq3),
            Utc::now() - chrono::Duration::seconds(590)
        )))
        .await
        .is_ok()
    );
    // Each required header missing in turn.
    for missing in ["access-key", "timestamp", "user-id", "signature"] {
        let qq4 = qq.clone();
        let e = call(Box::new(move || {
            let mut r = a2.list_request(&qq4, Utc::now()).unwrap();
            r.headers.retain(|(k, _)| k != missing);
            r
        }))
        .await
        .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth, "{missing}");
        assert!(e.to_string().contains(missing), "{e}");
    }
    // nonce-str is optional in the seed: signed as empty.
    let r_ok = call(Box::new(move || {
        let now = Utc::now();
        let mut r = a2.list_request(&q(w, 1, 20, None), now).unwrap();
        let ts = now.timestamp_millis().to_string();
        r.headers
            .retain(|(k, _)| k != "nonce-str" && k != "signature");
        r.headers.push((
            "signature".into(),
            Scheme::Md5QueryKey.sign(ACCESS_KEY, "", &ts, SECRET_KEY),
        ));
        r
    }))
    .await;
    assert!(r_ok.is_ok(), "{r_ok:?}");
    // A body that is not an object.
    let e = call(Box::new(move || {
        let mut r = a2.list_request(&q(w, 1, 20, None), Utc::now()).unwrap();
        r.body = Body::Json(json!("pageNum=1"));
        r
    }))
    .await
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    // Another user id.
    let (a3, t3) = client(
        &sb,
        PlatformId::Pandapon1688,
        Scheme::Md5QueryKey,
        "2100000000000",
    );
    let e = page(&a3, &t3, &qq).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    assert_eq!(e.api_code(), Some("403"));
}

fn a2_body(a: &Pandapon, qq: &PageQuery) -> Value {
    match a.list_request(qq, Utc::now()).unwrap().body {
        Body::Json(v) => v,
        _ => Value::Null,
    }
}

#[tokio::test]
async fn seed_orders_are_served_and_found_by_id() {
    let sb = start(SandboxOptions {
        orders: 5,
        ..SandboxOptions::default()
    })
    .await;
    let (a, t) = client(
        &sb,
        PlatformId::PandaponTaobao,
        Scheme::Md5QueryKey,
        USER_ID,
    );
    let got = crate::sync::sender::lookup(&a, &t, &["1131536104755823039".to_string()])
        .await
        .unwrap();
    let fixture = normalize_saved(
        PlatformId::PandaponTaobao,
        include_bytes!("../../../fixtures/pandapon-taobao/page.json"),
        "sb",
    )
    .unwrap();
    assert_eq!(got, vec![fixture[1].clone()]);
    let e = crate::sync::sender::lookup(&a, &t, &["404".to_string()])
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    assert!(e.to_string().contains("404 was not found"));
    // The seed's July 2024 orders come back for a window around them.
    let w = Window {
        start: DateTime::parse_from_rfc3339("2024-07-18T00:00:00+08:00")
            .unwrap()
            .to_utc(),
        end: DateTime::parse_from_rfc3339("2024-07-20T00:00:00+08:00")
            .unwrap()
            .to_utc(),
    };
    let orders = pull(&a, &t, w, 20, None).await.unwrap();
    assert_eq!(orders, fixture);

    let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
    let by_tb = crate::sync::sender::lookup(&a, &t, &["2540825544788880794".to_string()])
        .await
        .unwrap();
    assert_eq!(by_tb.len(), 1);
    assert_eq!(by_tb[0].order_id, "1232386407805223845");
}

#[tokio::test]
async fn faults_and_drift_do_not_lose_orders() {
    let sb = start(SandboxOptions {
        orders: 60,
        fail_rate: 0.3,
        ..SandboxOptions::default()
    })
    .await;
    let w = window(31);
    let (a, t) = client(
        &sb,
        PlatformId::PandaponTaobao,
        Scheme::Md5QueryKey,
        USER_ID,
    );
    let orders = pull(&a, &t, w, 5, None).await.unwrap();
    let ids: HashSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(ids.len(), 60);
    assert!(sb.state.faults.stats.injected.load(Ordering::Relaxed) > 0);
    assert!(t.stats.retries.load(Ordering::Relaxed) > 0);

    let sb = start(SandboxOptions {
        orders: 60,
        drift_rate: 1.0,
        ..SandboxOptions::default()
    })
    .await;
    let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
    let w = Window {
        start: Utc::now() - chrono::Duration::days(31),
        end: Utc::now() - chrono::Duration::seconds(1),
    };
    let orders = pull(&a, &t, w, 20, None).await.unwrap();
    let ids: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        60,
        "drift must not shift orders of a past creation window"
    );
}
