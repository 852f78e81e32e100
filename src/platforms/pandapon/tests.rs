use super::*;
use crate::config::Config;
use crate::error::{ErrorClass, Exit, exit_code};
use crate::platforms::Window;
use std::path::Path;
use std::sync::{Arc, Mutex};

const AK: &str = "58c0201dfdf148eca63cbf6bb5e7cf03";
const N: &str = "0123456789abcdef0123456789abcdef";
const T: &str = "1715669977082";
const S: &str = "testsecret";

#[test]
fn every_scheme_matches_its_documented_vector() {
    let expect = [
        (Scheme::Md5QueryKey, "B5ADC95658EA7E68628F74702CE48C12"),
        (Scheme::Md5QuerySecret, "184CD84BFC512859FEF6A6C966938F50"),
        (Scheme::Md5Concat, "E10EDEE14BE05AC5401FF7B607F16F58"),
        (Scheme::Md5Wrapped, "27C7C39151385EBC96B6BFFBBDEB9687"),
        (Scheme::HmacMd5Query, "26263C9B556F6A3420CCF2D139C8DFEF"),
    ];
    for (scheme, sig) in expect {
        assert_eq!(scheme.sign(AK, N, T, S), sig, "{scheme}");
    }
    assert_eq!(Scheme::DEFAULT, Scheme::Md5QueryKey);
}

#[test]
fn scheme_names_round_trip() {
    for s in Scheme::ALL {
        assert_eq!(Scheme::parse(s.name()), Some(s));
    }
    assert_eq!(Scheme::parse("md5"), None);
    assert_eq!(
        Scheme::names(),
        "md5-query-key, md5-query-secret, md5-concat, md5-wrapped, hmac-md5-query"
    );
}

fn shop_toml(platform: &str, extra: &str) -> String {
    format!(
        "[shops.p]\nplatform = \"{platform}\"\naccess_key = \"{AK}\"\nsecret_key = \"{S}\"\nuser_id = \"2100007341207\"\n{extra}"
    )
}

fn adapter(platform: &str, extra: &str) -> anyhow::Result<Pandapon> {
    let c = Config::parse(
        &shop_toml(platform, extra),
        Path::new("test.toml"),
        &crate::platforms::shop_kinds(),
    )?;
    Pandapon::from_shop(&c.shops[0])
}

#[test]
fn from_shop_reads_the_scheme_and_rejects_unknown_ones() {
    assert_eq!(
        adapter("pandapon-taobao", "").unwrap().scheme(),
        Scheme::Md5QueryKey
    );
    let a = adapter("pandapon-1688", "signature_scheme = \"hmac-md5-query\"\n").unwrap();
    assert_eq!(a.scheme(), Scheme::HmacMd5Query);
    assert_eq!(a.spec().id, "pandapon-1688");
    let e = adapter("pandapon-taobao", "signature_scheme = \"sha256\"\n")
        .err()
        .unwrap();
    assert_eq!(exit_code(&e), Exit::Usage);
    let msg = format!("{e:#}");
    assert!(msg.contains("\"sha256\""), "{msg}");
    for s in Scheme::ALL {
        assert!(msg.contains(s.name()), "{msg}");
    }
    let e = Config::parse(
        "[shops.p]\nplatform = \"pandapon-taobao\"\naccess_key = \"x\"\nuser_id = \"1\"\n",
        Path::new("t.toml"),
        &crate::platforms::shop_kinds(),
    )
    .and_then(|c| Pandapon::from_shop(&c.shops[0]))
    .err()
    .unwrap();
    assert!(format!("{e:#}").contains("secret_key"));
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn query(page: u32, status: Option<&str>) -> PageQuery {
    PageQuery {
        window: Window {
            start: at("2026-11-01T00:00:00.250+08:00"),
            end: at("2026-11-02T00:00:00.500+08:00"),
        },
        by: By::Created,
        status: status.map(str::to_string),
        page,
        page_size: 20,
    }
}

fn header<'a>(r: &'a ApiRequest, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no header {name}"))
}

#[test]
fn taobao_request_is_signed_and_filters_on_creation() {
    let a = adapter("pandapon-taobao", "").unwrap();
    let now = at("2026-11-02T10:00:00.123+08:00");
    let r = a.list_request(&query(3, Some("10")), now).unwrap();
    assert_eq!(r.method, Method::Post);
    assert_eq!(r.path, "/v2/taobao/order/page");
    assert!(r.query.is_empty());
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "access-key",
            "timestamp",
            "nonce-str",
            "user-id",
            "signature"
        ]
    );
    assert_eq!(header(&r, "access-key"), AK);
    assert_eq!(header(&r, "user-id"), "2100007341207");
    assert_eq!(header(&r, "timestamp"), now.timestamp_millis().to_string());
    let nonce = header(&r, "nonce-str");
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    let sig = header(&r, "signature");
    assert_eq!(
        sig,
        Scheme::Md5QueryKey.sign(AK, nonce, header(&r, "timestamp"), S)
    );
    assert_eq!(sig.len(), 32);
    assert!(
        sig.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    let Body::Json(body) = &r.body else {
        panic!("not JSON")
    };
    // Start rounded down, end rounded up to whole seconds, in China time.
    assert_eq!(
        body,
        &json!({"pageNum": 3, "pageSize": 20, "beginDateTime": "2026-11-01 00:00:00",
                "endDateTime": "2026-11-02 00:00:01", "status": 10})
    );
    // A new nonce (and so a new signature) for every request.
    let r2 = a.list_request(&query(3, Some("10")), now).unwrap();
    assert_ne!(header(&r2, "nonce-str"), nonce);
    assert_ne!(header(&r2, "signature"), sig);
}

#[test]
fn alibaba_request_uses_its_own_fields_and_scheme() {
    let a = adapter("pandapon-1688", "signature_scheme = \"md5-wrapped\"\n").unwrap();
    let now = at("2026-11-02T10:00:00+08:00");
    let r = a.list_request(&query(1, None), now).unwrap();
    assert_eq!(r.path, "/v2/alibaba/order/page");
    let Body::Json(body) = &r.body else {
        panic!("not JSON")
    };
    assert_eq!(
        body,
        &json!({"pageNum": 1, "pageSize": 20, "orderTimeBegin": "2026-11-01 00:00:00",
                "orderTimeEnd": "2026-11-02 00:00:01"})
    );
    assert_eq!(
        header(&r, "signature"),
        Scheme::Md5Wrapped.sign(AK, header(&r, "nonce-str"), header(&r, "timestamp"), S)
    );
    let r = a.list_request(&query(1, Some("4")), now).unwrap();
    let Body::Json(body) = &r.body else {
        panic!("not JSON")
    };
    assert_eq!(body["orderStatus"], json!(4));
}

#[test]
fn unsupported_queries_are_request_errors() {
    let a = adapter("pandapon-taobao", "").unwrap();
    let mut q = query(1, None);
    q.by = By::Modified;
    let e = a.list_request(&q, Utc::now()).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    let e = a
        .list_request(&query(1, Some("shipped")), Utc::now())
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    assert!(e.to_string().contains("11 shipped"), "{e}");
    assert!(matches!(SPEC_TAOBAO.by_modified, ByMode::Unsupported(_)));
    assert!(matches!(SPEC_1688.by_modified, ByMode::Unsupported(_)));
    assert_eq!(SPEC_TAOBAO.list_order, ListOrder::Ascending);
    assert_eq!(SPEC_1688.list_order, ListOrder::NewestFirst);
}

fn expected(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn taobao_fixture_normalizes_to_the_checked_in_output() {
    let body = include_bytes!("../../../fixtures/pandapon-taobao/page.json");
    let orders = normalize_saved(PlatformId::PandaponTaobao, body, "fixture").unwrap();
    assert_eq!(
        serde_json::to_value(&orders).unwrap(),
        expected("fixtures/pandapon-taobao/page.expected.json")
    );
    // Spot checks on what the issue names.
    let o = &orders[1];
    assert_eq!(o.order_id, "1131536104755823039");
    assert_eq!(o.lines[0].platform_status.as_deref(), Some("BULIDING"));
    let names: Vec<&str> = o.lines[0]
        .sku_properties
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["套餐类型", "硬盘容量", "颜色分类", "内存容量"]);
    assert_eq!(o.status, Status::PendingPayment);
}

#[test]
fn alibaba_fixture_normalizes_to_the_checked_in_output() {
    let body = include_bytes!("../../../fixtures/pandapon-1688/page.json");
    let orders = normalize_saved(PlatformId::Pandapon1688, body, "fixture").unwrap();
    assert_eq!(
        serde_json::to_value(&orders).unwrap(),
        expected("fixtures/pandapon-1688/page.expected.json")
    );
    assert_eq!(orders[0].total.unwrap().to_string(), "232.00");
    assert_eq!(orders[0].lines[0].total.unwrap().to_string(), "225.00");
    assert_eq!(
        orders[0].source_order_id.as_deref(),
        Some("2542285634920880794")
    );
    assert_eq!(
        orders[0].created_at.unwrap().to_rfc3339(),
        "2025-04-24T17:17:43.000+08:00"
    );
}

#[test]
fn parse_list_reports_total() {
    let a = adapter("pandapon-1688", "").unwrap();
    let page = a
        .parse_list(
            include_bytes!("../../../fixtures/pandapon-1688/page.json"),
            &query(1, None),
        )
        .unwrap();
    assert_eq!(page.total, Some(753));
    assert_eq!(page.orders.len(), 2);
    assert_eq!(page.has_next, None);
}

/// Run `f` with warnings captured.
fn warnings<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .finish();
    let r = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (r, text)
}

fn envelope(orders: Value) -> Vec<u8> {
    json!({"requestId": "r1", "code": 200, "developId": "1", "msg": "成功",
           "data": {"total": orders.as_array().map_or(0, Vec::len), "data": orders}})
    .to_string()
    .into_bytes()
}

#[test]
fn broken_json_text_in_a_taobao_order_is_a_warning_not_a_lost_order() {
    let body = envelope(json!([
        {"orderNo": "A1", "status": 10, "createTime": "2024-07-18 18:01:30",
         "subOrderVOS": [{"subOrderId": "L1", "quantity": 2, "status": "BULIDING",
                          "subOrderResult": "{\"option_fields\": {\"zh\": "}]},
        {"orderNo": "A2", "status": 11, "createTime": "2024-07-18 18:01:31",
         "subOrderVOS": [{"subOrderId": "L2", "quantity": 1,
                          "subOrderResult": "{\"option_fields\":{\"SKU_IMG_URL\":\"https://i/x.png\",\"zh\":\"{broken\"}}"}]},
    ]));
    let (orders, log) =
        warnings(|| normalize_saved(PlatformId::PandaponTaobao, &body, "s").unwrap());
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].status, Status::AwaitingShipment);
    assert!(orders[0].lines[0].sku_properties.is_empty());
    assert_eq!(orders[0].lines[0].image_url, None);
    assert_eq!(orders[0].lines[0].quantity, 2);
    assert_eq!(orders[1].status, Status::Shipped);
    assert!(orders[1].lines[0].sku_properties.is_empty());
    assert_eq!(
        orders[1].lines[0].image_url.as_deref(),
        Some("https://i/x.png")
    );
    assert!(
        log.contains("order A1") && log.contains("subOrderVOS[0].subOrderResult"),
        "{log}"
    );
    assert!(
        log.contains("order A2") && log.contains("subOrderVOS[0].subOrderResult.option_fields.zh"),
        "{log}"
    );
}

#[test]
fn broken_json_text_in_a_1688_order_is_a_warning_not_a_lost_order() {
    let body = envelope(json!([
        {"orderNo": "B1", "tbOrderId": "T1", "orderStatus": 0, "totalAmount": "1999",
         "receiver": "{toFullName:", "createTime": "20250424171743000+0800",
         "orderDetailInfoVOS": [{"id": "D1", "quantity": 1, "price": 1999, "itemAmount": 1999,
                                 "skuInfos": "[{\"name\":", "productImgUrl": "not json"}]},
    ]));
    let (orders, log) = warnings(|| normalize_saved(PlatformId::Pandapon1688, &body, "s").unwrap());
    assert_eq!(orders.len(), 1);
    let o = &orders[0];
    assert_eq!(o.total.unwrap().to_string(), "19.99");
    assert_eq!(o.receiver, crate::model::Receiver::default());
    assert!(o.lines[0].sku_properties.is_empty());
    assert_eq!(o.lines[0].image_url, None);
    assert_eq!(
        o.created_at.unwrap().to_rfc3339(),
        "2025-04-24T17:17:43.000+08:00"
    );
    for field in [
        "receiver",
        "orderDetailInfoVOS[0].skuInfos",
        "orderDetailInfoVOS[0].productImgUrl",
    ] {
        assert!(
            log.contains(&format!("order B1: field {field} ")),
            "{field}: {log}"
        );
    }
}

#[test]
fn a_1688_line_image_is_the_first_full_size_url_of_its_json_text() {
    let order = |no: &str, images: Value| {
        json!({"orderNo": no, "orderStatus": 0, "totalAmount": 100, "productAmount": 100,
               "shippingFee": 0,
               "orderDetailInfoVOS": [{"id": "L", "quantity": 1, "price": 100,
                                       "itemAmount": 100, "productImgUrl": images}]})
    };
    let body = envelope(json!([
        order(
            "I1",
            json!("[\"http://x/a.80x80.jpg\", null, \" \", \" http://x/a.jpg \"]")
        ),
        order("I2", json!("[\"http://x/b.80x80.jpg\"]")),
        order("I3", json!("\"http://x/c.jpg\"")),
        order("I4", json!("http://x/d.jpg")),
        order("I5", json!(["http://x/e.jpg"])),
        order("I6", json!("{\"url\": \"http://x/f.jpg\"}")),
        order("I7", json!("[1]")),
        order("I8", json!("")),
    ]));
    let (orders, log) = warnings(|| normalize_saved(PlatformId::Pandapon1688, &body, "s").unwrap());
    let images: Vec<Option<&str>> = orders
        .iter()
        .map(|o| o.lines[0].image_url.as_deref())
        .collect();
    assert_eq!(
        images,
        [
            Some("http://x/a.jpg"),
            Some("http://x/b.80x80.jpg"),
            Some("http://x/c.jpg"),
            Some("http://x/d.jpg"),
            Some("http://x/e.jpg"),
            None,
            None,
            None,
        ]
    );
    for no in ["I6", "I7"] {
        assert!(
            log.contains(&format!(
                "order {no}: field orderDetailInfoVOS[0].productImgUrl "
            )),
            "{no}: {log}"
        );
    }
    assert!(
        log.contains(
            "pandapon-1688: order I6: field orderDetailInfoVOS[0].productImgUrl \
             ($.data.data[5].orderDetailInfoVOS[0].productImgUrl) is not the expected JSON text \
             (a list of URLs, or one URL); it is left null and the order is kept\n"
        ),
        "the whole line: {log}"
    );
    for no in ["I1", "I2", "I3", "I4", "I5", "I8"] {
        assert!(!log.contains(&format!("order {no}:")), "{no}: {log}");
    }
}

#[test]
fn odd_amounts_and_times_are_warned_and_null() {
    let body = envelope(json!([
        {"orderNo": "C1", "orderStatus": 99, "totalAmount": 12.5, "shippingFee": "abc",
         "createTime": "yesterday", "orderDetailInfoVOS": []},
    ]));
    let (orders, log) = warnings(|| normalize_saved(PlatformId::Pandapon1688, &body, "s").unwrap());
    let o = &orders[0];
    assert_eq!(o.total, None, "an unreadable total is null, never 0.00");
    assert_eq!(o.shipping_fee, None);
    assert_eq!(o.created_at, None);
    assert_eq!(o.status, Status::Unknown);
    assert_eq!(o.platform_status, "99");
    assert!(
        log.contains("totalAmount") && log.contains("shippingFee") && log.contains("createTime"),
        "{log}"
    );
}

#[test]
fn order_without_order_no_falls_back_to_id_or_is_malformed() {
    let body = envelope(json!([{"id": "P9", "status": 0}]));
    let orders = normalize_saved(PlatformId::PandaponTaobao, &body, "s").unwrap();
    assert_eq!(orders[0].order_id, "P9");
    let body = envelope(json!([{"orderNo": "X"}, {"status": 0}]));
    let e = normalize_saved(PlatformId::PandaponTaobao, &body, "s").unwrap_err();
    assert!(
        matches!(&e, PlatformError::Malformed { path, .. } if path == "$.data.data[1].orderNo"),
        "{e}"
    );
}

fn api_err(a: &Pandapon, body: Value) -> PlatformError {
    a.parse_list(body.to_string().as_bytes(), &query(1, None))
        .unwrap_err()
}

#[test]
fn error_envelopes_are_classified() {
    let a = adapter("pandapon-taobao", "signature_scheme = \"md5-concat\"\n").unwrap();
    let e = api_err(
        &a,
        json!({"requestId": "rq9", "code": 401, "developId": "1", "msg": "签名错误 (signature mismatch)", "data": null}),
    );
    assert_eq!(e.class(), ErrorClass::Auth);
    assert_eq!(e.api_code(), Some("401"));
    let text = e.to_string();
    assert!(text.contains("[request id rq9]"), "{text}");
    assert!(text.contains("signature scheme `md5-concat`"), "{text}");
    for other in [
        "md5-query-key",
        "md5-query-secret",
        "md5-wrapped",
        "hmac-md5-query",
    ] {
        assert!(text.contains(other), "{text}");
    }
    assert!(!text.contains(S), "secret leaked: {text}");
    let e = api_err(
        &a,
        json!({"code": 401, "msg": "timestamp无效或已过期", "data": null}),
    );
    assert_eq!(e.class(), ErrorClass::Auth);
    assert!(e.to_string().contains("clock"), "{e}");
    let e = api_err(
        &a,
        json!({"code": 429, "msg": "请求过于频繁", "data": null}),
    );
    assert!(e.is_transient());
    let e = api_err(&a, json!({"code": 500, "msg": "系统繁忙", "data": "x"}));
    assert!(e.is_transient());
    let e = api_err(&a, json!({"code": 400, "msg": "参数错误", "data": null}));
    assert_eq!(e.class(), ErrorClass::Invalid);
    let e = api_err(
        &a,
        json!({"code": 200, "msg": "成功", "data": {"total": 3, "data": [], "code": 403, "msg": "无权限"}}),
    );
    assert_eq!(e.class(), ErrorClass::Auth);
    let e = api_err(&a, json!({"msg": "?"}));
    assert!(matches!(e, PlatformError::Malformed { .. }), "{e}");
    let e = a
        .parse_list(b"{\"code\":200,\"data\":{\"total\":", &query(1, None))
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    let e = api_err(
        &a,
        json!({"code": 200, "data": {"total": "many", "data": []}}),
    );
    assert!(
        matches!(&e, PlatformError::Malformed { path, .. } if path == "$.data.total"),
        "{e}"
    );
}

#[test]
fn status_table() {
    let cases = [
        ("0", Status::PendingPayment),
        ("1", Status::Paid),
        ("2", Status::Paid),
        ("3", Status::Cancelled),
        ("4", Status::Cancelled),
        ("10", Status::AwaitingShipment),
        ("11", Status::Shipped),
        ("12", Status::Unknown),
    ];
    for (code, s) in cases {
        assert_eq!(map_status("pandapon-test", code), s, "{code}");
    }
}

#[test]
fn time_formats() {
    let t = |s: &str| parse_time(s).map(|t| t.to_rfc3339());
    assert_eq!(
        t("2024-07-18 18:01:30").as_deref(),
        Some("2024-07-18T18:01:30+08:00")
    );
    assert_eq!(
        t("2025-04-24T17:17:43.000+08:00").as_deref(),
        Some("2025-04-24T17:17:43.000+08:00")
    );
    assert_eq!(
        t("2025-04-24T09:17:43Z").as_deref(),
        Some("2025-04-24T17:17:43+08:00")
    );
    assert_eq!(
        t("20250424171743123+0800").as_deref(),
        Some("2025-04-24T17:17:43.123+08:00")
    );
    assert_eq!(
        t("1715669977082").as_deref(),
        Some("2024-05-14T14:59:37.082+08:00")
    );
    assert_eq!(t("2024-13-18 18:01:30"), None);
    assert_eq!(t(""), None);
    assert_eq!(
        china_time(at("2026-11-01T00:00:00+08:00"), true),
        "2026-11-01 00:00:00"
    );
    assert_eq!(
        china_time(at("2026-10-31T16:00:00.001Z"), true),
        "2026-11-01 00:00:01"
    );
    assert_eq!(
        china_time(at("2026-10-31T16:00:00.999Z"), false),
        "2026-11-01 00:00:00"
    );
}

#[test]
fn nonces_are_random_alphanumerics() {
    let a = nonce();
    let b = nonce();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
}

/// `normalize` hands a saved page's orders over as they are read and normalizes them later;
/// `pull` collects the page, then normalizes it. Both use the one reader (`page`): whatever
/// the body, they must come to the same orders, or the same error.
#[test]
fn streamed_saved_pages_read_as_ordinary_pages() {
    let order = |no: &str| json!({"orderNo": no, "status": 10, "purchaseAmount": 100});
    let full = String::from_utf8(envelope(json!([order("A"), order("B"), order("C")]))).unwrap();
    let bodies: Vec<String> =
        vec![
        full.clone(),
        String::from_utf8(envelope(json!([order("A"), {"orderNo": {"x": 1}}, order("C")])))
            .unwrap(),
        String::from_utf8(envelope(json!([order("A"), {"status": 0}]))).unwrap(),
        json!({"code": 500, "msg": "busy", "data": {"total": 1, "data": [order("A")]}}).to_string(),
        json!({"code": 200, "data": {"total": "x", "data": [order("A")]}}).to_string(),
        json!({"code": 200, "data": {"total": 1, "data": [order("A")], "code": 401, "msg": "no"}})
            .to_string(),
        json!({"code": 200, "data": null}).to_string(),
        json!({"code": 200, "data": {"total": 0, "data": null}}).to_string(),
        json!({"code": 200, "data": {}}).to_string(),
        json!({"code": 200, "data": {"total": 3}}).to_string(),
        json!({}).to_string(),
        // Code after data, and text codes.
        r#"{"data":{"total":1,"data":[{"orderNo":"A","status":10}]},"code":200}"#.into(),
        r#"{"code":"200","data":{"total":"1","data":[{"orderNo":"A","status":10}]}}"#.into(),
        // Broken off inside the second order, and trailing text.
        full[..full.find("\"B\"").unwrap()].to_string(),
        format!("{full} x"),
    ];
    for platform in [PlatformId::PandaponTaobao, PlatformId::Pandapon1688] {
        let endpoint = Endpoint::of(platform).unwrap();
        let ctx = Ctx {
            endpoint,
            shop: "s",
            scheme: None,
            amount_unit: AmountUnit::Fen,
        };
        for body in &bodies {
            let streamed = normalize_saved(platform, body.as_bytes(), "s")
                .map(|o| serde_json::to_value(o).unwrap())
                .map_err(|e| e.to_string());
            let ordinary = endpoint
                .parse_orders(body.as_bytes(), None, &ctx)
                .map(|(o, _)| serde_json::to_value(o).unwrap())
                .map_err(|e| e.to_string());
            assert_eq!(streamed, ordinary, "{platform:?} {body}");
        }
    }
}

/// How many orders `normalize` is handed before its reader returns, and what it returns.
fn handed_over(platform: PlatformId, body: &str) -> (usize, Result<(), String>) {
    let mut n = 0;
    let r = normalize_saved_each(platform, body.as_bytes(), "s", &mut |_| {
        n += 1;
        true
    });
    (n, r.map_err(|e| e.to_string()))
}

#[test]
fn orders_are_handed_over_as_read_once_the_answer_said_it_succeeded() {
    let order = |no: &str| json!({"orderNo": no, "status": 10, "purchaseAmount": 100});
    let code_first = String::from_utf8(envelope(json!([order("A"), order("B")]))).unwrap();
    let cut = &code_first[..code_first.rfind(']').unwrap()];
    for platform in [PlatformId::PandaponTaobao, PlatformId::Pandapon1688] {
        // `code` 200 came first: both orders went out before the body broke off.
        let (n, r) = handed_over(platform, cut);
        assert_eq!(n, 2, "{platform:?}");
        assert!(r.unwrap_err().contains("EOF"), "{platform:?}");
        // `code` after the list: nothing is handed over from a body that never says it
        // succeeded, nor from one that says it failed.
        let code_last = r#"{"data":{"total":2,"data":[{"orderNo":"A"},{"orderNo":"B"}]"#;
        assert_eq!(handed_over(platform, code_last).0, 0, "{platform:?}");
        let failed = r#"{"data":{"total":1,"data":[{"orderNo":"A"}]},"code":500,"msg":"busy"}"#;
        let (n, r) = handed_over(platform, failed);
        assert_eq!(n, 0, "{platform:?}");
        assert!(r.unwrap_err().contains("busy"), "{platform:?}");
        let late_ok = r#"{"data":{"total":1,"data":[{"orderNo":"A"}]},"code":200}"#;
        assert_eq!(handed_over(platform, late_ok), (1, Ok(())), "{platform:?}");
    }
}

/// What a derived struct refuses, the one reader refuses for `normalize` too (its streamed
/// read once let a repeated `code` or `data` through that `pull` refused).
#[test]
fn repeated_keys_and_odd_codes_read_alike_for_pull_and_normalize() {
    let a = adapter("pandapon-1688", "").unwrap();
    for (body, path) in [
        (
            r#"{"code":200,"data":{"total":1,"data":[{"orderNo":"A"}]},"code":500}"#,
            "$",
        ),
        (
            r#"{"code":200,"data":{"total":1,"data":[{"orderNo":"A"}],"data":[]}}"#,
            "$.data",
        ),
    ] {
        let pulled = a.parse_list(body.as_bytes(), &query(1, None)).unwrap_err();
        assert!(
            matches!(&pulled, PlatformError::Malformed { path: p, detail, .. }
                if p == path && detail.contains("duplicate field")),
            "{body}: {pulled}"
        );
        let e = normalize_saved(PlatformId::Pandapon1688, body.as_bytes(), "s").unwrap_err();
        assert!(
            matches!(&e, PlatformError::Malformed { path: p, .. } if p == path),
            "{e}"
        );
    }
    // A code written as 200.0 is 200.
    let body = r#"{"code":200.0,"data":{"total":1,"data":[{"orderNo":"A"}]}}"#;
    let page = a.parse_list(body.as_bytes(), &query(1, None)).unwrap();
    assert_eq!((page.orders.len(), page.total), (1, Some(1)));
    assert_eq!(handed_over(PlatformId::Pandapon1688, body), (1, Ok(())));
}

#[path = "tests_money.rs"]
mod money;

#[test]
fn a_batch_reads_as_its_orders_read_one_by_one() {
    let orders: [&[u8]; 6] = [
        br#"{"orderNo":"A1","orderStatus":0,"totalAmount":100,"receiver":"{\"toFullName\":\"z\"}","orderDetailInfoVOS":[{"id":"L1","skuInfos":"[{\"name\":\"c\",\"value\":\"red\"}]"}]}"#,
        // Space around an order: the stream's end is not the cut's, so it is read alone.
        br#" {"orderNo":"A2","orderStatus":0,"subOrderVOS":[{"subOrderId":"S","subOrderResult":"{\"title\":\"t\\u00e9\"}"}]} "#,
        br#"{"orderNo":"A3","orderDetailInfoVOS":5,"subOrderVOS":5}"#,
        br#"{"orderNo":"A4","createTime":"2025-04-24 17:17:43"}"#,
        b"{\"orderNo\":\"A5\",\"userName\":\"\xff\"}",
        br#"{"orderNo":"A6"}"#,
    ];
    let mut batch = Vec::new();
    let mut spans = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let start = batch.len();
        batch.extend_from_slice(o);
        spans.push((i + 10, start, batch.len()));
    }
    // Its warnings are captured: left to no subscriber, the first would settle `tracing`'s
    // interest in their call site for the other tests of this process, which capture theirs.
    warnings(|| read_batches_as_one_by_one(&batch, &spans));
}

fn read_batches_as_one_by_one(batch: &[u8], spans: &[Span]) {
    let opts = SavedOptions::default();
    for list in [&PLATFORM_TAOBAO.saved_list, &PLATFORM_1688.saved_list] {
        let read_many = list.read_many.expect("PandaPon reads a batch at once");
        let one: Vec<_> = spans
            .iter()
            .map(|&(i, s, e)| {
                (list.read_one)(&batch[s..e], i, "s", &opts).map_err(|e| e.to_string())
            })
            .collect();
        assert!(one[2].is_err() && one[4].is_err(), "{one:?}");
        assert!(one[5].is_ok(), "{one:?}");
        // The batch from each order on: a stream that starts at an error, or after it.
        for from in 0..spans.len() {
            let mut many = Vec::new();
            read_many(batch, &spans[from..], "s", &opts, &mut |r| {
                many.push(r.map_err(|e| e.to_string()));
                true
            });
            assert_eq!(many, one[from..], "from order {from}");
        }
        let mut seen = 0;
        read_many(batch, spans, "s", &opts, &mut |_| {
            seen += 1;
            seen < 2
        });
        assert_eq!(seen, 2, "stops when told");
    }
}
