//! taobao-enhanced's tests: requests and signatures, reading answers, and pulls against
//! the sandbox.

use super::read::read_whole;
use super::*;
use crate::error::ErrorClass;
use crate::platforms::Window;
use crate::platforms::signing::signatures_match;
use crate::platforms::trade::collect;
use serde_json::Value;

const FIXTURE: &[u8] = include_bytes!("../../../fixtures/taobao-enhanced/list.json");

fn adapter(sysid: Option<&str>) -> TaobaoEnhanced {
    TaobaoEnhanced {
        shop: "fixture".into(),
        appid: "uwkahf@jfs92".into(),
        app_secret: SecretString::from("testsecret"),
        seller_nick: "kingdo".into(),
        sysid: sysid.map(str::to_string),
        warned_old: AtomicBool::new(false),
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn query(start: &str, end: &str, by: By, page: u32) -> PageQuery {
    PageQuery {
        window: Window {
            start: t(start),
            end: t(end),
        },
        by,
        status: None,
        page,
        page_size: 100,
    }
}

fn form(r: &ApiRequest) -> Params {
    match &r.body {
        Body::Form(f) => f.iter().cloned().collect(),
        other => panic!("expected a form, got {other:?}"),
    }
}

/// list.expected.json, money by hand from the seed (model.md's Money rules):
/// - 1410072240792463390: total = payment 105.58, shipping = post_fee 0.00, line total =
///   divide_order_fee 105.58; discount = 138.00 × 1 + 0.00 − 105.58 = 32.42 (line
///   discount_fee 24.00 + order-level part_mjz_discount 8.42; the trade's discount_fee
///   8.42 is only the latter);
/// - 2161196210547294406: total 143.84, shipping 0.00, line total 143.84; discount =
///   228.00 × 1 + 0.00 − 143.84 = 84.16 (46.00 + 38.16).
#[test]
fn fixture_normalizes_to_the_expected_orders() {
    let orders = normalize_saved(FIXTURE, "fixture").unwrap();
    let got = serde_json::to_value(&orders).unwrap();
    let want: Value = serde_json::from_str(include_str!(
        "../../../fixtures/taobao-enhanced/list.expected.json"
    ))
    .unwrap();
    assert_eq!(got, want);
}

/// `normalize` and `pull` read an answer with the same reader, as it streams; whatever the
/// body, it must come to the same orders, or the same error, as its fallback, the read of the
/// whole tree.
#[test]
fn streamed_answers_read_as_whole_pages() {
    let seed: Value = serde_json::from_slice(FIXTURE).unwrap();
    let trade = |tid: &str| {
        let mut t = seed["data"]["items"][0].clone();
        t["tid"] = Value::String(tid.into());
        t
    };
    let full = serde_json::json!({"code": 0, "message": "ok",
        "data": {"total": 3, "items": [trade("1"), trade("2"), trade("3")]}})
    .to_string();
    // A trade that does not normalize (no id) in the middle of the page.
    let mut no_id = trade("2");
    no_id.as_object_mut().unwrap().remove("tid");
    no_id.as_object_mut().unwrap().remove("tid_str");
    let bodies: Vec<String> = vec![
        full.clone(),
        String::from_utf8(FIXTURE.to_vec()).unwrap(),
        serde_json::json!({"code": 0, "data": {"items": [trade("1"), no_id, trade("3")]}})
            .to_string(),
        serde_json::json!({"code": 40001, "message": "签名错误", "data": {"items": [trade("1")]}})
            .to_string(),
        serde_json::json!({"code": 0, "data": {"total": "x", "items": [trade("1")]}}).to_string(),
        // Code after data (json! would sort the keys).
        format!(r#"{{"data":{{"items":[{}]}},"code":0}}"#, trade("1")),
        serde_json::json!({"code": "0", "data": null}).to_string(),
        serde_json::json!({"code": 0, "data": {"items": [trade("1"), 7]}}).to_string(),
        full[..full.find("\"tid\":\"2\"").unwrap()].to_string(),
        format!("{full} x"),
    ];
    for body in &bodies {
        let streamed = normalize_saved(body.as_bytes(), "s")
            .map(|o| serde_json::to_value(o).unwrap())
            .map_err(|e| e.to_string());
        type Parse = fn(&[u8], &str, Option<u32>) -> Result<Parsed, PlatformError>;
        type Parsed = (Option<u64>, Vec<Order>);
        let page = |parse: Parse| {
            parse(body.as_bytes(), "s", Some(2))
                .map(|(total, o)| (total, serde_json::to_value(o).unwrap()))
                .map_err(|e| e.to_string())
        };
        let parse_whole: Parse =
            |body, shop, page| collect(|emit| read_whole(body, shop, page, 0, emit));
        let (paged, whole) = (page(read_page), page(parse_whole));
        assert_eq!(paged, whole, "{body}");
        let paged = paged
            .map(|(_, orders)| orders)
            .map_err(|e| e.replace(" page 2", ""));
        assert_eq!(streamed, paged, "{body}");
    }
}

#[test]
fn fixture_has_a_duplicate_key_that_still_parses() {
    // The seed's second trade repeats `buyer_open_uid`: typed deserialization refuses it.
    #[derive(serde::Deserialize)]
    struct Strict {
        #[allow(dead_code)]
        data: StrictData,
    }
    #[derive(serde::Deserialize)]
    struct StrictData {
        #[allow(dead_code)]
        items: Vec<StrictTrade>,
    }
    #[derive(serde::Deserialize)]
    struct StrictTrade {
        #[allow(dead_code)]
        buyer_open_uid: String,
    }
    let strict = serde_json::from_slice::<Strict>(FIXTURE)
        .err()
        .expect("refused");
    assert!(
        strict
            .to_string()
            .contains("duplicate field `buyer_open_uid`"),
        "{strict}"
    );
    // The last occurrence wins, as in JavaScript, Python and Jackson.
    let orders = normalize_saved(FIXTURE, "fixture").unwrap();
    assert_eq!(
        orders[1].buyer.id.as_deref(),
        Some("AAEt90gYAAjcqSrFKsJnK_Ba")
    );
    let (total, _) = read_page(FIXTURE, "fixture", Some(1)).unwrap();
    assert_eq!(
        total,
        Some(3),
        "the example says total 3 beside two items: taken as given"
    );
}

#[test]
fn request_is_a_signed_form_matching_the_doc_vector() {
    // The documented vector: the same parameters sign to c4ccf97d91d15a51d83037030b842169.
    let a = adapter(None);
    let biz = [
        ("start_created", "2021-10-01 00:00:00".to_string()),
        ("end_created", "2021-10-07 23:59:59".to_string()),
        ("page_no", "1".to_string()),
        ("page_size", "100".to_string()),
    ];
    let r = a.signed(&biz, DateTime::from_timestamp(1633618722, 0).unwrap());
    assert_eq!(r.method, Method::Post);
    assert_eq!(r.path, LIST);
    let f = form(&r);
    assert_eq!(f["sign"], "c4ccf97d91d15a51d83037030b842169");
    assert_eq!(f["timestamp"], "1633618722");
    assert_eq!(f["tb_seller_nick"], "kingdo");
    assert!(!f.contains_key("sysid"));
    let mut nick = adapter(None);
    nick.seller_nick = "源丰有限贸易".into();
    let f = form(&nick.signed(&biz, DateTime::from_timestamp(1633618722, 0).unwrap()));
    assert_eq!(f["sign"], "c9eeeaf4b7e89d34dcaaeb4f7cbd17b9");
}

#[test]
fn list_request_parameters() {
    let a = adapter(Some("100"));
    let q = query(
        "2021-10-01T00:00:00+08:00",
        "2021-10-08T00:00:00+08:00",
        By::Modified,
        2,
    );
    let now = t("2021-10-08T00:05:00+08:00");
    let f = form(&a.list_request(&q, now).unwrap());
    assert_eq!(f["start_created"], "2021-10-01 00:00:00");
    assert_eq!(f["end_created"], "2021-10-07 23:59:59");
    assert_eq!(f["date_type"], "1");
    assert_eq!(f["order_asc"], "ASC");
    assert_eq!(f["page_no"], "2");
    assert_eq!(f["page_size"], "100");
    assert_eq!(f["sysid"], "100");
    assert!(!f.contains_key("status"), "empty values are not sent");
    let mut p = f.clone();
    p.remove("sign");
    assert!(signatures_match(
        &wrapped_md5_sign("testsecret", &p),
        &f["sign"]
    ));
    let q = query(
        "2021-10-01T00:00:00+08:00",
        "2021-10-08T00:00:00+08:00",
        By::Created,
        1,
    );
    assert_eq!(form(&a.list_request(&q, now).unwrap())["date_type"], "0");
}

#[test]
fn a_window_longer_than_a_month_is_refused() {
    let a = adapter(None);
    let now = t("2021-12-01T00:00:00+08:00");
    // 2021-10-01 00:00:00 .. 2021-11-01 00:00:00 inclusive is exactly one month: fine.
    let ok = query(
        "2021-10-01T00:00:00+08:00",
        "2021-11-01T00:00:01+08:00",
        By::Created,
        1,
    );
    assert!(a.list_request(&ok, now).is_ok());
    let long = query(
        "2021-10-01T00:00:00+08:00",
        "2021-11-01T00:00:02+08:00",
        By::Created,
        1,
    );
    let e = a.list_request(&long, now).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    assert!(e.to_string().contains("one month"), "{e}");
}

#[test]
fn errors_are_classified() {
    let q = query(
        "2021-10-01T00:00:00+08:00",
        "2021-10-02T00:00:00+08:00",
        By::Created,
        1,
    );
    let a = adapter(None);
    let err = |body: &str| a.parse_list(body.as_bytes(), &q).unwrap_err();
    let e = err(r#"{"code":1001,"message":"sign签名错误","data":null}"#);
    assert_eq!(e.class(), ErrorClass::Auth);
    assert_eq!(e.api_code(), Some("1001"));
    assert!(e.to_string().contains("app_secret"), "{e}");
    assert_eq!(
        err(r#"{"code":1005,"message":"请求过于频繁,请稍后再试"}"#).class(),
        ErrorClass::Transient
    );
    assert_eq!(
        err(r#"{"code":2001,"message":"查询时间跨度不能超过1个月"}"#).class(),
        ErrorClass::Invalid
    );
    assert_eq!(
        err(r#"{"code":"1004","message":"tb_seller_nick未授权"}"#).class(),
        ErrorClass::Auth
    );
    assert_eq!(
        err(r#"{"code":9,"message":"???"}"#).class(),
        ErrorClass::Other
    );
    // Garbled answers name the path.
    let e = err(r#"{"code":0,"data":{"total":1,"items":[{"payment":"1.00"}]}}"#);
    assert!(e.to_string().contains("$.data.items[0].tid"), "{e}");
    let e = err(r#"{"code":0,"data":{"total":1,"items":{}}}"#);
    assert!(e.to_string().contains("$.data.items"), "{e}");
    // An empty page in any of its shapes.
    for body in [
        r#"{"code":0,"data":{"total":0,"items":[]}}"#,
        r#"{"code":0,"data":null}"#,
    ] {
        assert!(a.parse_list(body.as_bytes(), &q).unwrap().orders.is_empty());
    }
}

mod against_the_sandbox {
    use super::*;
    use crate::sandbox::{Sandbox, SandboxOptions, spawn, taobao_enhanced as sbx};
    use crate::sync::testing::{pull_range, transport};
    use std::collections::{BTreeMap, BTreeSet};

    fn sandbox_adapter(shop: &str) -> TaobaoEnhanced {
        TaobaoEnhanced {
            shop: shop.into(),
            appid: sbx::APPID.into(),
            app_secret: SecretString::from(sbx::APP_SECRET),
            seller_nick: sbx::SELLER_NICK.into(),
            sysid: Some(sbx::SYSID.into()),
            warned_old: AtomicBool::new(false),
        }
    }

    async fn start(opts: SandboxOptions) -> (crate::sandbox::Running, crate::net::Transport) {
        let sb = spawn("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
        let base = Sandbox::base_url(sb.addr, crate::platforms::PlatformId::TaobaoEnhanced);
        let t = transport(ID, base, 50);
        (sb, t)
    }

    #[tokio::test]
    async fn the_seed_trades_come_back_as_the_checked_in_output() {
        let (_sb, t) = start(SandboxOptions {
            orders: 10,
            ..Default::default()
        })
        .await;
        let a = sandbox_adapter("fixture");
        let orders = pull_range(
            &a,
            &t,
            t_("2021-10-01T00:00:00+08:00"),
            t_("2021-10-08T00:00:00+08:00"),
            chrono::Duration::days(7),
            By::Created,
            MAX_PAGE_SIZE,
        )
        .await
        .unwrap();
        let want: Value = serde_json::from_str(include_str!(
            "../../../fixtures/taobao-enhanced/list.expected.json"
        ))
        .unwrap();
        assert_eq!(serde_json::to_value(&orders).unwrap(), want);
    }

    fn t_(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// The sandbox's own answer: trades whose `field` time lies in `[since, until)`.
    fn expected(
        sb: &crate::sandbox::Running,
        field: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        sb.state
            .taobao_enhanced
            .trades()
            .into_iter()
            .filter_map(|v| {
                let at = sbx::parse_time(v[field].as_str()?)?;
                let pair = (
                    v["tid"].as_str()?.to_string(),
                    v["modified"].as_str()?.to_string(),
                );
                (at >= since && at < until).then_some(pair)
            })
            .collect()
    }

    #[tokio::test]
    async fn no_trade_is_lost_or_doubled_across_pages_and_windows() {
        let (sb, t) = start(SandboxOptions {
            orders: 400,
            ..Default::default()
        })
        .await;
        let a = sandbox_adapter("s");
        let now = sb.state.options.now;
        // Odd borders: windows of 61 h 7 min 13.5 s, pages of 17.
        let since = now - chrono::Duration::days(20) + chrono::Duration::milliseconds(250);
        let until = now - chrono::Duration::minutes(2);
        let len = chrono::Duration::milliseconds(((61 * 60 + 7) * 60 + 13) * 1000 + 500);
        for (by, field) in [(By::Created, "created"), (By::Modified, "modified")] {
            let orders = pull_range(&a, &t, since, until, len, by, 17).await.unwrap();
            let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
            let unique: BTreeSet<&str> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len(), "{by}: a trade came twice");
            let want = expected(&sb, field, since, until);
            assert!(want.len() > 200, "{}", want.len());
            assert_eq!(
                unique,
                want.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                "{by}"
            );
            for o in &orders {
                assert!(!o.lines.is_empty());
                assert_eq!(o.currency, "CNY");
            }
        }
    }

    #[tokio::test]
    async fn faults_are_retried_without_losing_trades() {
        let (sb, t) = start(SandboxOptions {
            orders: 200,
            fail_rate: 0.25,
            ..Default::default()
        })
        .await;
        let a = sandbox_adapter("s");
        let now = sb.state.options.now;
        let (since, until) = (now - chrono::Duration::days(10), now);
        let orders = pull_range(
            &a,
            &t,
            since,
            until,
            chrono::Duration::days(3),
            By::Created,
            25,
        )
        .await
        .unwrap();
        let got: BTreeSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
        assert_eq!(got.len(), orders.len());
        assert_eq!(
            got,
            expected(&sb, "created", since, until).into_keys().collect()
        );
        assert!(
            sb.state
                .faults
                .stats
                .injected
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        );
    }

    #[tokio::test]
    async fn a_wrong_secret_is_an_auth_error_with_a_hint() {
        let (sb, t) = start(SandboxOptions {
            orders: 5,
            ..Default::default()
        })
        .await;
        let mut a = sandbox_adapter("s");
        a.app_secret = SecretString::from("wrong-secret");
        let now = sb.state.options.now;
        let e = pull_range(
            &a,
            &t,
            now - chrono::Duration::days(1),
            now,
            chrono::Duration::days(1),
            By::Created,
            100,
        )
        .await
        .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth);
        assert!(e.to_string().contains("app_secret"), "{e}");
        assert!(!e.to_string().contains("wrong-secret"));
    }

    #[tokio::test]
    async fn get_finds_orders_by_tid() {
        let (sb, t) = start(SandboxOptions {
            orders: 30,
            ..Default::default()
        })
        .await;
        let a = sandbox_adapter("s");
        let tids: Vec<String> = sb.state.taobao_enhanced.trades()[..3]
            .iter()
            .map(|v| v["tid"].as_str().unwrap().to_string())
            .collect();
        let got = crate::sync::sender::lookup(&a, &t, &tids).await.unwrap();
        let mut ids: Vec<String> = got.iter().map(|o| o.order_id.clone()).collect();
        ids.sort();
        let mut want = tids.clone();
        want.sort();
        assert_eq!(ids, want);
        let e = crate::sync::sender::lookup(&a, &t, &["1".to_string()])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }
}
