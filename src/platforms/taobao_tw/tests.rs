//! Unit tests of the taobao-tw adapter: the seed's examples, money rules, envelope checks.

use super::*;

fn fixture(name: &str) -> (Vec<u8>, serde_json::Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/taobao-tw/");
    let body = std::fs::read(format!("{dir}{name}.json")).unwrap();
    let expected = std::fs::read_to_string(format!("{dir}{name}.expected.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (body, expected)
}

#[test]
fn seed_examples_normalize_to_the_checked_in_output() {
    for name in ["orders_get", "order_get", "orders_get_modified"] {
        let (body, expected) = fixture(name);
        let got = serde_json::to_value(normalize_saved(&body, "fixture").unwrap()).unwrap();
        assert_eq!(got, expected, "{name}");
    }
}

/// Run `f` with warnings captured.
fn warnings<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::{Arc, Mutex};
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

fn amount(text: &str) -> Option<Amount> {
    Some(Amount::parse(text).unwrap())
}

#[test]
fn seed_list_fields_are_read_exactly() {
    let (body, _) = fixture("orders_get");
    let (orders, warned) = warnings(|| normalize_saved(&body, "s").unwrap());
    assert_eq!(orders.len(), 2);
    let o = &orders[0];
    assert_eq!(o.order_id, "558757367941");
    assert_eq!(o.total, amount("62"));
    assert_eq!(o.shipping_fee, amount("52"));
    assert_eq!(
        o.created_at.unwrap().to_rfc3339(),
        "2020-06-24T16:54:03.859+08:00"
    );
    // A list answer has no lines: none is made up, and neither is a discount.
    for o in &orders {
        assert!(o.lines.is_empty(), "{}", o.order_id);
        assert_eq!(o.discount, None);
    }
    assert!(
        warned.contains("carries no order lines") && warned.contains("/order/get"),
        "{warned}"
    );
}

#[test]
fn seed_detail_money_is_model_md_worked_example() {
    let (body, _) = fixture("order_get");
    let (orders, warned) = warnings(|| normalize_saved(&body, "s").unwrap());
    let o = &orders[0];
    // model.md: total 62.00, shipping 52.00, line total 10.00, discount 0.00.
    assert_eq!(o.total, amount("62.00"));
    assert_eq!(o.shipping_fee, amount("52.00"));
    assert_eq!(o.lines[0].unit_price, amount("10.00"));
    assert_eq!(o.lines[0].total, amount("10.00"));
    assert_eq!(o.discount, amount("0.00"));
    assert!(warned.is_empty(), "the seed is complete: {warned}");
}

#[test]
fn list_line_ids_lose_their_extra_quotes() {
    let (body, _) = fixture("orders_get");
    let list: ListResult<WireOrder> = parse_envelope(&body, LIST, None).unwrap();
    let ids: Vec<_> = list
        .model_list
        .iter()
        .flatten()
        .map(WireOrder::line_ids)
        .collect();
    assert_eq!(ids, [["558757467941"], ["546108499700"]]);
}

#[test]
fn a_line_total_never_holds_its_shipping() {
    // actual_shipping_fee wins over shipping_fee; shipping_fee alone is used when it is
    // all the line carries.
    let detail = |line: &str| {
        format!(
            r#"{{"code":"0","result":{{"success":true,"module":{{"trade_order_id":"9",
            "actual_fee":"95","actual_shipping_fee":"30","shipping_fee":"40",
            "trade_order_line_list":[{line}]}}}}}}"#
        )
    };
    let body = detail(
        r#"{"trade_order_line_id":"1","quantity":2,"unit_fee":"40","actual_fee":"95",
           "shipping_fee":"40","actual_shipping_fee":"30","product_title":"t"}"#,
    );
    let o = &normalize_saved(body.as_bytes(), "s").unwrap()[0];
    assert_eq!(o.lines[0].total, amount("65"));
    assert_eq!(o.shipping_fee, amount("30"));
    // 40 × 2 + 30 − 95 = 15 off the list price.
    assert_eq!(o.discount, amount("15"));
    let body = detail(
        r#"{"trade_order_line_id":"1","quantity":2,"unit_fee":"40","actual_fee":"95",
           "shipping_fee":"30","product_title":"t"}"#,
    );
    let o = &normalize_saved(body.as_bytes(), "s").unwrap()[0];
    assert_eq!(o.lines[0].total, amount("65"));
}

#[test]
fn missing_or_unreadable_amounts_are_null_and_named() {
    let body = br#"{"code":"0","result":{"success":true,"module":{"trade_order_id":"9",
        "actual_fee":"12x","shipping_fee":"5",
        "trade_order_line_list":[{"trade_order_line_id":"1","quantity":1,"unit_fee":"7",
        "actual_fee":"12","product_title":"t"}]}}}"#;
    let (orders, warned) = warnings(|| normalize_saved(body, "s").unwrap());
    let o = &orders[0];
    assert_eq!(o.total, None, "never 0.00");
    assert_eq!(o.shipping_fee, amount("5"));
    assert_eq!(o.discount, None, "no total, no discount");
    assert_eq!(o.lines[0].unit_price, amount("7"));
    assert_eq!(o.lines[0].total, None, "its shipping is unknown");
    for needle in [
        "$.result.module.actual_fee holds \"12x\"",
        "$.result.module.trade_order_line_list[0].actual_shipping_fee is missing",
        "$.result.module.trade_order_line_list[0].actual_fee includes the line's shipping",
    ] {
        assert!(warned.contains(needle), "{needle:?} not in {warned}");
    }
}

#[test]
fn success_false_is_an_error_not_an_empty_page() {
    let body = br#"{"code":"0","request_id":"0b9","result":{"success":false,"model_list":[],"total_count":0}}"#;
    let e = parse_envelope::<ListResult<WireOrder>>(body, LIST, Some(1)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("result.success is false") && text.contains("0b9"),
        "{text}"
    );
    assert!(!e.is_transient());
    let body = br#"{"code":"0","result":{"success":false,"module":null}}"#;
    let e = normalize_saved(body, "s").unwrap_err().to_string();
    assert!(e.contains("result.success is false"), "{e}");
}

#[test]
fn items_response_is_refused_with_a_reason() {
    let (body, _) = fixture("order_items_get");
    let e = normalize_saved(&body, "s").unwrap_err().to_string();
    assert!(e.contains("/order/items/get"), "{e}");
}

#[test]
fn error_envelope_is_classified_and_never_retried_when_ours() {
    let body = br#"{"type":"ISV","code":"IncompleteSignature","message":"The request signature does not conform to platform standards","request_id":"0b1"}"#;
    let e = parse_envelope::<ListResult<WireOrder>>(body, LIST, Some(1)).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    let text = e.to_string();
    assert!(
        text.contains("IncompleteSignature") && text.contains("type ISV") && text.contains("0b1")
    );
    let body = br#"{"type":"ISP","code":"ServiceTimeout","message":"busy","request_id":"0b2"}"#;
    let e = parse_envelope::<ListResult<WireOrder>>(body, LIST, Some(1)).unwrap_err();
    assert!(e.is_transient());
}

#[test]
fn malformed_fields_name_their_json_path() {
    let body = br#"{"code":"0","result":{"model_list":[{"trade_order_id":"1","creation_time":"x"}],"total_count":1}}"#;
    let e = normalize_saved(body, "s").unwrap_err().to_string();
    assert!(e.contains("creation_time"), "{e}");
    let body = br#"{"code":"0","result":{"model_list":[{"trade_order_id":{"x":1}}]}}"#;
    let e = normalize_saved(body, "s").unwrap_err().to_string();
    assert!(e.contains("trade_order_id"), "{e}");
}

#[test]
fn every_documented_status_is_mapped() {
    for s in [
        "unpaid",
        "pending",
        "ready_to_ship",
        "shipped",
        "delivered",
        "canceled",
        "returned",
        "failed",
    ] {
        assert_ne!(map_status(s), Status::Unknown, "{s}");
    }
}

/// `pull` and `normalize` read a list answer with the one reader (`read::read_list`): the
/// same orders, in the same order, the same error; only `pull`'s carry their line ids.
#[test]
fn pull_and_normalize_read_a_list_alike() {
    let a = TaobaoTw {
        shop: "s".into(),
        app_key: "k".into(),
        app_secret: "x".to_string().into(),
        access_token: "t".to_string().into(),
    };
    let start = chrono::DateTime::from_timestamp(1_592_900_000, 0).unwrap();
    let q = PageQuery {
        window: crate::platforms::Window {
            start,
            end: start + chrono::Duration::days(1),
        },
        by: By::Modified,
        status: None,
        page: 2,
        page_size: 100,
    };
    // The seed's `total_count`s: 12 (its page shows 2 of them), and 1.
    for (name, total) in [("orders_get", 12), ("orders_get_modified", 1)] {
        let (body, _) = fixture(name);
        let page = a.parse_list(&body, &q).unwrap();
        assert_eq!(page.total, Some(total), "{name}");
        let saved = normalize_saved(&body, "s").unwrap();
        assert_eq!(page.orders.len(), saved.len(), "{name}");
        for (mut pulled, saved) in page.orders.into_iter().zip(saved) {
            assert!(!pulled.lines.is_empty(), "{name}: the ids for `complete`");
            assert!(
                pulled
                    .lines
                    .iter()
                    .all(|l| l.quantity == 0 && l.title.is_empty())
            );
            pulled.lines.clear();
            assert_eq!(
                serde_json::to_value(&pulled).unwrap(),
                serde_json::to_value(&saved).unwrap(),
                "{name}"
            );
        }
    }
    let body = br#"{"code":"0","result":{"model_list":[{"trade_order_id":"1","creation_time":"x"}],"total_count":1}}"#;
    let pulled = a.parse_list(body, &q).unwrap_err();
    let saved = normalize_saved(body, "s").unwrap_err();
    assert!(
        matches!(&pulled, PlatformError::Malformed { page: Some(2), path, .. } if path == "$.result.model_list[0].creation_time"),
        "{pulled}"
    );
    assert!(
        matches!(&saved, PlatformError::Malformed { page: None, path, .. } if path == "$.result.model_list[0].creation_time"),
        "{saved}"
    );
}

/// `normalize` stops reading when its writer does.
#[test]
fn a_saved_list_stops_when_asked() {
    let (body, _) = fixture("orders_get");
    let mut handed = 0;
    read::read_saved(&body, "s", &mut |_| {
        handed += 1;
        false
    })
    .unwrap();
    assert_eq!(handed, 1);
}
