//! The Trade normalizer's tests: fields, ids, money, window bounds.

use super::*;
use serde_json::{Value, json};

fn trade() -> Value {
    json!({
        "tid": "1410072240792463390", "status": "WAIT_SELLER_SEND_GOODS",
        "payment": "105.58", "post_fee": "0.00", "discount_fee": "8.42",
        "created": "2021-10-02 16:13:56", "modified": "2021-10-02 16:17:42",
        "pay_time": "2021-10-02 16:13:59", "buyer_nick": "咸梅00", "buyer_open_uid": "",
        "receiver_mobile": "", "receiver_phone": "0596-1234567",
        "orders": {"order": [{
            "oid": "1410072240792463390", "num_iid": 613373384956u64, "sku_id": "4490318210144",
            "title": "睡衣", "num": 1, "price": "138.00", "payment": "114.00",
            "divide_order_fee": "105.58", "sku_properties_name": "颜色分类:豆沙色;时间:10:30",
            "status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND",
            "logistics_company": "", "invoice_no": "", "pic_path": ""
        }]}
    })
}

fn norm(v: &Value) -> Result<Order, FieldError> {
    let text = v.to_string();
    let j = Json::parse(text.as_bytes()).unwrap();
    normalize_trade(&j, "taobao-enhanced", "s", "$.data.items[0]")
}

#[test]
fn reads_every_field() {
    let o = norm(&trade()).unwrap();
    assert_eq!(o.order_id, "1410072240792463390");
    assert_eq!(o.status, Status::AwaitingShipment);
    assert_eq!(o.total.unwrap().to_string(), "105.58");
    assert_eq!(
        o.discount.unwrap().to_string(),
        "32.42",
        "138.00 + 0.00 - 105.58, not the order-level 8.42"
    );
    assert_eq!(
        o.created_at.unwrap().to_rfc3339(),
        "2021-10-02T16:13:56+08:00"
    );
    assert_eq!(o.currency, "CNY");
    assert_eq!(o.buyer.id, None, "an empty buyer_open_uid is no value");
    assert_eq!(
        o.receiver.phone.as_deref(),
        Some("0596-1234567"),
        "falls back to receiver_phone"
    );
    let l = &o.lines[0];
    assert_eq!(l.product_id.as_deref(), Some("613373384956"));
    assert_eq!(
        l.total.unwrap().to_string(),
        "105.58",
        "divide_order_fee first"
    );
    assert_eq!(l.sku_properties[1].value, "10:30");
    assert_eq!(l.carrier, None);
    assert_eq!(l.refund_status.as_deref(), Some("NO_REFUND"));
}

#[test]
fn numeric_ids_above_2_pow_53_stay_exact() {
    let mut t = trade();
    t["tid"] = serde_json::from_str("1875397323775241115").unwrap();
    let o = norm(&t).unwrap();
    assert_eq!(o.order_id, "1875397323775241115");
    // Through a float, the id could not be exact: refused, unless tid_str says it.
    t["tid"] = json!(1.8753973237752412e18);
    let e = norm(&t).unwrap_err();
    assert_eq!(e.0, "$.data.items[0].tid");
    t["tid_str"] = json!("1875397323775241115");
    assert_eq!(norm(&t).unwrap().order_id, "1875397323775241115");
}

#[test]
fn essential_fields_fail_with_their_path() {
    let mut t = trade();
    t.as_object_mut().unwrap().remove("tid");
    assert_eq!(norm(&t).unwrap_err().0, "$.data.items[0].tid");
    let mut t = trade();
    t["orders"]["order"][0]["oid"] = json!({"x": 1});
    assert_eq!(
        norm(&t).unwrap_err().0,
        "$.data.items[0].orders.order[0].oid"
    );
    let mut t = trade();
    t["orders"] = json!("oops");
    assert_eq!(norm(&t).unwrap_err().0, "$.data.items[0].orders");
    assert_eq!(norm(&json!([1])).unwrap_err().0, "$.data.items[0]");
}

#[test]
fn other_malformed_fields_become_null() {
    let mut t = trade();
    t["post_fee"] = json!("free");
    t["created"] = json!("2021/10/02");
    t["receiver_name"] = json!({"a": 1});
    t["orders"]["order"][0]["price"] = json!(true);
    t["orders"]["order"][0]["num"] = json!("one");
    let o = norm(&t).unwrap();
    assert_eq!(o.shipping_fee, None);
    assert_eq!(o.created_at, None);
    assert_eq!(o.receiver.name, None);
    assert_eq!(o.lines[0].unit_price, None);
    assert_eq!(o.lines[0].quantity, 0);
    assert_eq!(o.total.unwrap().to_string(), "105.58");
}

#[test]
fn a_missing_or_unreadable_payment_is_a_null_total() {
    let mut t = trade();
    t["payment"] = json!("12,00");
    let o = norm(&t).unwrap();
    assert_eq!(o.total, None);
    assert_eq!(
        o.discount.unwrap().to_string(),
        "8.42",
        "without the total, the platform's own figure"
    );
    t.as_object_mut().unwrap().remove("payment");
    let o = norm(&t).unwrap();
    assert_eq!(o.total, None);
    assert_eq!(o.lines[0].total.unwrap().to_string(), "105.58");
}

/// The lines' totals without `divide_order_fee`, as the Order reference defines `payment`.
#[test]
fn line_payment_is_read_by_the_number_of_lines() {
    let line = |oid: &str, price: &str, payment: &str, share: &str| {
        json!({"oid": oid, "num": 1, "price": price, "payment": payment,
               "part_mjz_discount": share})
    };
    // Two lines: payment is before the order-level share (100 - 10, 50 - 5).
    let mut t = trade();
    t["payment"] = json!("141.00");
    t["post_fee"] = json!("6.00");
    t["orders"] = json!({"order": [
        line("1", "100.00", "100.00", "10.00"),
        line("2", "60.00", "50.00", "5.00"),
    ]});
    let o = norm(&t).unwrap();
    let totals: Vec<String> = o
        .lines
        .iter()
        .map(|l| l.total.unwrap().to_string())
        .collect();
    assert_eq!(totals, ["90.00", "45.00"]);
    assert_eq!(o.discount.unwrap().to_string(), "25.00");
    // One line: its payment is the trade's, postage included.
    t["orders"] = json!({"order": [line("1", "150.00", "141.00", "10.00")]});
    let o = norm(&t).unwrap();
    assert_eq!(o.lines[0].total.unwrap().to_string(), "135.00");
    // ... and without the trade's postage it cannot be told apart: null.
    t.as_object_mut().unwrap().remove("post_fee");
    assert_eq!(norm(&t).unwrap().lines[0].total, None);
}

#[test]
fn amounts_are_exact() {
    let mut t = trade();
    t["payment"] = json!("12345678901234567.89");
    t["post_fee"] = json!(6);
    let o = norm(&t).unwrap();
    assert_eq!(o.total.unwrap().to_string(), "12345678901234567.89");
    assert_eq!(o.shipping_fee.unwrap().to_string(), "6.00");
}

#[test]
fn line_shapes_and_fallbacks() {
    let mut t = trade();
    let line = t["orders"]["order"][0].clone();
    t["orders"] = json!([line.clone(), line.clone()]);
    assert_eq!(norm(&t).unwrap().lines.len(), 2);
    t["orders"] = json!({"order": line});
    assert_eq!(norm(&t).unwrap().lines.len(), 1);
    t["orders"] = Value::Null;
    assert!(norm(&t).unwrap().lines.is_empty());
    t["orders"] = json!({"order": [{"oid": 7, "payment": "3.00", "divide_order_fee": ""}]});
    let o = norm(&t).unwrap();
    assert_eq!(o.lines[0].line_id, "7");
    assert_eq!(
        o.lines[0].total.unwrap().to_string(),
        "3.00",
        "payment when no divide_order_fee"
    );
    assert_eq!(o.lines[0].status, None);
}

#[test]
fn window_bounds_are_whole_inclusive_seconds() {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let w = Window {
        start: t("2021-10-01T00:00:00+08:00"),
        end: t("2021-10-02T00:00:00+08:00"),
    };
    let (a, b) = inclusive_seconds(&w);
    assert_eq!(a.format(TIME_FORMAT).to_string(), "2021-10-01 00:00:00");
    assert_eq!(b.format(TIME_FORMAT).to_string(), "2021-10-01 23:59:59");
    // Fractional borders: the trade at 10:00:01 belongs to the first window only.
    let w1 = Window {
        start: t("2021-10-01T10:00:00.500+08:00"),
        end: t("2021-10-01T10:00:01.500+08:00"),
    };
    let w2 = Window {
        start: w1.end,
        end: t("2021-10-01T10:00:03+08:00"),
    };
    let (a1, b1) = inclusive_seconds(&w1);
    let (a2, b2) = inclusive_seconds(&w2);
    assert_eq!((a1.second(), b1.second()), (1, 1));
    assert_eq!((a2.second(), b2.second()), (2, 2));
    assert_eq!(china_time(t("2021-10-01T02:03:04Z")), "2021-10-01 10:03:04");
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    let body = r#"{"tid":"1","payment":"1.00","buyer_open_uid":"","buyer_open_uid":"AAE"}"#;
    let j = Json::parse(body.as_bytes()).unwrap();
    let o = normalize_trade(&j, "taobao-enhanced", "s", "$.data.items[0]").unwrap();
    assert_eq!(o.buyer.id.as_deref(), Some("AAE"));
}
