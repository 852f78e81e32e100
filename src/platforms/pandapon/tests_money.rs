//! Money, status and envelope rules of issue 13: the Taobao page's amount unit, the 1688
//! discount, refunds and town, and pages without their order list.

use super::*;

/// One Taobao-page order whose amounts are `amount` (order, line) and `fee` (postage).
fn taobao_money(amount: Value, fee: Value) -> Vec<u8> {
    envelope(json!([
        {"orderNo": "M1", "status": 11, "createTime": "2024-07-18 18:01:30",
         "purchaseAmount": amount,
         "subOrderVOS": [{"subOrderId": "L1", "quantity": 2, "purchaseAmount": amount,
                          "domesticPostFee": fee}]},
    ]))
}

#[test]
fn taobao_amounts_follow_amount_unit() {
    let fen = adapter("pandapon-taobao", "").unwrap();
    let yuan = adapter("pandapon-taobao", "amount_unit = \"yuan\"\n").unwrap();
    let read = |a: &Pandapon, amount: Value, fee: Value| {
        a.parse_list(&taobao_money(amount, fee), &query(1, None))
            .map(|p| {
                let o = &p.orders[0];
                (
                    o.total.map(|a| a.to_string()),
                    o.lines[0].total.map(|a| a.to_string()),
                    o.shipping_fee.map(|a| a.to_string()),
                )
            })
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        read(&fen, json!(12550), json!(800)).unwrap(),
        (s("125.50"), s("125.50"), s("8.00"))
    );
    assert_eq!(
        read(&fen, json!("12550"), json!(0)).unwrap(),
        (s("125.50"), s("125.50"), s("0.00"))
    );
    assert_eq!(
        read(&yuan, json!(125.5), json!(8)).unwrap(),
        (s("125.50"), s("125.50"), s("8.00"))
    );
    assert_eq!(
        read(&yuan, json!("0.07"), json!("12.34")).unwrap(),
        (s("0.07"), s("0.07"), s("12.34"))
    );
    // A fraction cannot be fen: an error naming the path and the fix, never a guess.
    for (amount, fee, path) in [
        (
            json!(125.5),
            json!(0),
            "$.data.data[0].subOrderVOS[0].purchaseAmount",
        ),
        (
            json!(100),
            json!("8.5"),
            "$.data.data[0].subOrderVOS[0].domesticPostFee",
        ),
    ] {
        let e = read(&fen, amount, fee).unwrap_err();
        assert!(
            matches!(&e, PlatformError::Malformed { path: p, .. } if p == path),
            "{e}"
        );
        let text = e.to_string();
        assert!(text.contains("amount_unit = \"yuan\""), "{text}");
        assert!(text.contains("order M1"), "{text}");
    }
    // Missing or unreadable: null and a warning with the JSON path, never 0.00.
    let ((total, line, shipping), log) =
        warnings(|| read(&yuan, Value::Null, json!("free")).unwrap());
    assert_eq!((total, line, shipping), (None, None, None));
    for path in [
        "$.data.data[0].purchaseAmount",
        "$.data.data[0].subOrderVOS[0].purchaseAmount",
        "$.data.data[0].subOrderVOS[0].domesticPostFee",
    ] {
        assert!(log.contains(path), "{path}: {log}");
    }
}

#[test]
fn taobao_discount_is_the_pages_own_figure() {
    let body = envelope(json!([
        {"orderNo": "D1", "status": 11, "purchaseAmount": 23000,
         "subOrderVOS": [
            {"subOrderId": "L1", "quantity": 2, "purchaseAmount": 20000, "domesticPostFee": 800},
            {"subOrderId": "L2", "quantity": 1, "purchaseAmount": 4000, "domesticPostFee": 0}]},
        {"orderNo": "D2", "status": 0, "purchaseAmount": 0,
         "subOrderVOS": [{"subOrderId": "L3", "quantity": 1, "purchaseAmount": null,
                          "domesticPostFee": 0}]},
    ]));
    let (orders, log) =
        warnings(|| normalize_saved(PlatformId::PandaponTaobao, &body, "s").unwrap());
    // 200.00 + 40.00 + 8.00 postage - 230.00 paid = 18.00 off.
    assert_eq!(orders[0].discount.unwrap().to_string(), "18.00");
    assert_eq!(
        orders[0].lines[0].unit_price, None,
        "no unit price is invented"
    );
    // An unpaid order's sub-orders have no amount (as in the seed): no discount either.
    assert_eq!(orders[1].discount, None);
    assert_eq!(orders[1].total.unwrap().to_string(), "0.00");
    assert!(
        log.contains("$.data.data[1].subOrderVOS[0].purchaseAmount"),
        "{log}"
    );
}

#[test]
fn amount_unit_values_are_checked() {
    let e = adapter("pandapon-taobao", "amount_unit = \"jiao\"\n")
        .err()
        .unwrap();
    assert_eq!(exit_code(&e), Exit::Usage);
    let msg = format!("{e:#}");
    assert!(
        msg.contains("shop \"p\"")
            && msg.contains("`amount_unit` \"jiao\"")
            && msg.contains("yuan"),
        "{msg}"
    );
    let e = adapter("pandapon-1688", "amount_unit = \"yuan\"\n")
        .err()
        .unwrap();
    assert_eq!(exit_code(&e), Exit::Usage);
    assert!(adapter("pandapon-1688", "amount_unit = \"fen\"\n").is_ok());
}

/// A 1688 order with the given money and status fields and one detail line.
fn alibaba_order(fields: Value, line: Value) -> Vec<u8> {
    let mut o = json!({"orderNo": "A1", "createTime": "2025-04-24T17:17:43.000+08:00",
                       "orderDetailInfoVOS": [line]});
    if let (Value::Object(o), Value::Object(f)) = (&mut o, fields) {
        o.extend(f);
    }
    envelope(json!([o]))
}

#[test]
fn alibaba_discount_is_what_was_taken_off() {
    let one = |fields: Value, line: Value| {
        warnings(|| {
            normalize_saved(PlatformId::Pandapon1688, &alibaba_order(fields, line), "s")
                .unwrap()
                .remove(0)
        })
    };
    let money = json!({"orderStatus": 1, "discount": 0, "productAmount": 59900,
                       "shippingFee": 2500, "totalAmount": 59405});
    // Lines complete: Σ price × quantity + shipping − total.
    let (o, _) = one(
        money.clone(),
        json!({"id": "D1", "quantity": 1, "price": 59900, "itemAmount": 56905}),
    );
    assert_eq!(o.discount.unwrap().to_string(), "29.95");
    assert_eq!(o.lines[0].total.unwrap().to_string(), "569.05");
    // The lines' prices win over productAmount when they disagree.
    let (o, _) = one(
        money.clone(),
        json!({"id": "D1", "quantity": 2, "price": 30000, "itemAmount": 56905}),
    );
    assert_eq!(o.discount.unwrap().to_string(), "30.95");
    // A line without a price: productAmount + shippingFee − totalAmount, and a warning.
    let (o, log) = one(
        money,
        json!({"id": "D1", "quantity": 1, "itemAmount": 56905}),
    );
    assert_eq!(o.discount.unwrap().to_string(), "29.95");
    assert!(
        log.contains("$.data.data[0].orderDetailInfoVOS[0].price"),
        "{log}"
    );
    // Neither: null with a warning, never 0.00.
    let (o, log) = one(
        json!({"orderStatus": 1, "discount": 0, "shippingFee": 2500, "totalAmount": 59405}),
        json!({"id": "D1", "quantity": 1, "itemAmount": 56905}),
    );
    assert_eq!(o.discount, None);
    assert!(log.contains("field discount"), "{log}");
}

#[test]
fn alibaba_status_reads_pay_and_refund_fields() {
    let status = |fields: Value| {
        warnings(|| {
            let o = normalize_saved(
                PlatformId::Pandapon1688,
                &alibaba_order(
                    fields,
                    json!({"id": "D1", "quantity": 1, "price": 1000, "itemAmount": 1000}),
                ),
                "s",
            )
            .unwrap()
            .remove(0);
            (o.status, o.lines[0].refund_status.clone())
        })
    };
    let base = |extra: Value| {
        let mut v = json!({"productAmount": 1000, "shippingFee": 0, "totalAmount": 1000});
        if let (Value::Object(v), Value::Object(e)) = (&mut v, extra) {
            v.extend(e);
        }
        v
    };
    let ((s, r), _) = status(base(json!({"orderStatus": 4, "payStatus": 1,
                                         "refundStatus": 1, "refundAmount": 1000})));
    assert_eq!((s, r.as_deref()), (Status::Refunded, Some("1")));
    // A partial refund keeps the order's own status.
    let ((s, r), _) = status(base(json!({"orderStatus": 11, "payStatus": 1,
                                         "refundStatus": 1, "refundAmount": 300})));
    assert_eq!((s, r.as_deref()), (Status::Shipped, Some("1")));
    let ((s, r), _) = status(base(json!({"orderStatus": 1, "payStatus": 1,
                                         "refundStatus": 0, "refundAmount": 0})));
    assert_eq!((s, r.as_deref()), (Status::Paid, Some("0")));
    // Without orderStatus, payStatus decides.
    let ((s, _), _) = status(base(json!({"payStatus": 0})));
    assert_eq!(s, Status::PendingPayment);
    let ((s, _), _) = status(base(json!({"payStatus": 1})));
    assert_eq!(s, Status::Paid);
    // An undocumented code is unknown, kept, and warned about.
    let ((s, _), log) = status(base(json!({"orderStatus": 7, "payStatus": 1})));
    assert_eq!(s, Status::Unknown);
    assert!(log.contains('7') && log.contains("pandapon-1688"), "{log}");
}

#[test]
fn alibaba_town_comes_from_town_text() {
    let body = alibaba_order(
        json!({"orderStatus": 1, "productAmount": 100, "shippingFee": 0, "totalAmount": 100,
               "receiver": "{\"toFullName\":\"zhang\",\"toArea\":\"浙江省 杭州市 西湖区 转塘 xxxxxxx\"}",
               "warehouseAddressInfo": "{\"townText\":\"转塘\",\"address\":\"xxxxxxx\",\"postCode\":\"100000\"}"}),
        json!({"id": "D1", "quantity": 1, "price": 100, "itemAmount": 100}),
    );
    let o = normalize_saved(PlatformId::Pandapon1688, &body, "s")
        .unwrap()
        .remove(0);
    assert_eq!(o.receiver.town.as_deref(), Some("转塘"));
    assert_eq!(o.receiver.address.as_deref(), Some("xxxxxxx"));
    assert_eq!(o.receiver.district.as_deref(), Some("西湖区"));
    assert_eq!(
        o.receiver.zip.as_deref(),
        Some("100000"),
        "completed from the warehouse"
    );
}

#[test]
fn a_page_without_its_order_list_is_an_error_for_pull() {
    let a = adapter("pandapon-1688", "").unwrap();
    for body in [
        json!({"code": 200, "data": {}}),
        json!({"code": 200, "data": {"total": 5}}),
        json!({"code": 200, "data": {"total": 5, "data": null}}),
    ] {
        let e = api_err(&a, body.clone());
        assert!(
            matches!(&e, PlatformError::Malformed { path, .. } if path == "$.data.data"),
            "{body}: {e}"
        );
    }
    assert!(matches!(
        api_err(&a, json!({})),
        PlatformError::Malformed { .. }
    ));
    let empty = a
        .parse_list(
            json!({"code": 200, "data": {"total": 0}})
                .to_string()
                .as_bytes(),
            &query(1, None),
        )
        .unwrap();
    assert!(empty.orders.is_empty());
}
