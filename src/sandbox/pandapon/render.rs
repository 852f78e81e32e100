//! The sandbox's PandaPon orders in wire form, rendered with `json!` from seeds 003/004 (never
//! from the adapter's types): field names, nesting, JSON packed in strings, fen integers.

use super::{DEVELOP_ID, Page};
use crate::sandbox::dataset::{self, GenOrder, Stage};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

pub(super) fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// `2024-07-18 18:01:30`, the Taobao page's format.
fn taobao_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `2025-04-24T17:17:43.000+08:00`, the 1688 page's format.
fn alibaba_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// PandaPon's order status codes (seed 003): 0 awaiting payment, 1 paid / awaiting finance
/// check, 2 finance approved, 3 finance rejected, 4 cancelled, 10 awaiting shipment, 11 shipped.
fn status_code(g: &GenOrder) -> i64 {
    match g.stage {
        Stage::Unpaid => 0,
        Stage::Paid if g.seq.is_multiple_of(2) => 1,
        Stage::Paid => 2,
        Stage::AwaitingShipment | Stage::PartiallyShipped => 10,
        Stage::Shipped | Stage::Delivered | Stage::Completed => 11,
        Stage::Cancelled if g.seq.is_multiple_of(3) => 3,
        Stage::Cancelled | Stage::Refunded => 4,
    }
}

/// Sub-order status strings. The seed shows only `BULIDING` (sic); the others are Taobao
/// purchase-order words chosen for the sandbox.
fn sub_status(s: Stage) -> &'static str {
    match s {
        Stage::Unpaid => "BULIDING",
        Stage::Paid => "PAID",
        Stage::AwaitingShipment | Stage::PartiallyShipped => "WAIT_SELLER_SEND_GOODS",
        Stage::Shipped | Stage::Delivered => "WAIT_BUYER_CONFIRM_GOODS",
        Stage::Completed => "TRADE_FINISHED",
        Stage::Cancelled | Stage::Refunded => "TRADE_CLOSED",
    }
}

fn paid(g: &GenOrder) -> bool {
    !matches!(g.stage, Stage::Unpaid | Stage::Cancelled)
}

/// A JSON object as text with its members in the given order (the seeds' nested texts keep
/// the vendor's order, which `json!` would sort).
fn ordered_object(pairs: &[(&str, &str)], sep: &str) -> String {
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{sep}{}", json!(k), json!(v)))
        .collect();
    format!("{{{}}}", members.join(&format!(",{sep}")))
}

/// A generated order in the page's wire form.
pub(super) fn render(page: Page, g: &GenOrder) -> Value {
    match page {
        Page::Taobao => render_taobao(g),
        Page::Alibaba => render_alibaba(g),
    }
}

/// The `id` of generated order `seq` on a page.
pub(super) fn order_id(page: Page, seq: u64) -> u64 {
    match page {
        Page::Taobao => 1_140_000_000_000_000_000 + seq * 1000,
        Page::Alibaba => 1_240_000_000_000_000_000 + seq * 1000,
    }
}

fn sku_values(l: &dataset::GenLine) -> [(&'static str, &'static str); 2] {
    let p = &dataset::PRODUCTS[l.product];
    [
        (p.property.0, p.property.1[l.sku % p.property.1.len()]),
        (p.size.0, p.size.1[l.sku % p.size.1.len()]),
    ]
}

fn render_taobao(g: &GenOrder) -> Value {
    let [name, phone, state, city, district, _town, address, zip] = dataset::RECEIVERS[g.receiver];
    let country = if state == "台灣" {
        "台湾"
    } else {
        "中国大陆"
    };
    let order_no = (1_141_000_000_000_000_000u64 + g.seq * 1000).to_string();
    let purchase_id = 200_100_000_000u64 + g.seq * 10;
    let is_paid = paid(g);
    let subs: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &dataset::PRODUCTS[l.product];
            let item_id = format!("Sbx{:02}ItemMap{:04}-IQGrQ53mhv0", l.product, l.product * 7 + 3);
            let sku_id = (10_100_000_000_000u64 + (l.product * 10 + l.sku) as u64).to_string();
            let zh = ordered_object(&sku_values(l), "");
            let post_fee = if i == 0 { g.shipping_minor } else { 0 };
            let result = json!({
                "quantity": l.quantity, "item_id": item_id, "domestic_post_fee": post_fee,
                "purchase_currency": "CNY",
                "option_fields": {"SKU_IMG_URL": p.image, "en": zh, "zh": zh},
                "closed": matches!(g.stage, Stage::Cancelled | Stage::Refunded),
                "sku_id": sku_id, "title": p.title,
                "sub_purchase_order_id": (purchase_id + 1 + i as u64).to_string(),
                "pay_currency": "CNY", "status": sub_status(g.stage),
            });
            json!({
                "subOrderId": (1_142_000_000_000_000_000u64 + g.seq * 1000 + i as u64).to_string(),
                "orderNo": order_no, "quantity": l.quantity, "title": p.title,
                "purchaseCurrency": "CNY",
                "purchaseAmount": if is_paid { json!(l.unit_minor * l.quantity) } else { Value::Null },
                "itemMapId": item_id, "domesticPostFee": post_fee, "closeReason": null,
                "skuId": sku_id, "status": sub_status(g.stage), "goodsStatus": null, "refundType": null,
                "taobaoPurchaseId": purchase_id.to_string(),
                "taobaoSubPurchaseId": (purchase_id + 1 + i as u64).to_string(),
                "subOrderResult": result.to_string(), "errorCode": null, "errorMessage": null,
                "refundStatus": if g.stage == Stage::Refunded { 1 } else { 0 },
            })
        })
        .collect();
    json!({
        "id": order_id(Page::Taobao, g.seq).to_string(),
        "orderNo": order_no,
        "userName": dataset::BUYERS[g.buyer],
        "userId": (2_100_007_300_000u64 + g.buyer as u64).to_string(),
        "sellerOrderNumber": null, "orderSource": null,
        "createTime": taobao_time(g.created),
        "payTime": g.paid.filter(|_| is_paid).map(taobao_time),
        "purchaseAmount": if is_paid { g.total_minor() } else { 0 },
        "status": status_code(g),
        "warehouseAddressInfoVO": {"state": state, "zip": zip, "country": country, "address": address,
            "phone": phone, "city": city, "district": district, "name": name, "mobilePhone": null,
            "taxId": null},
        "receiverVO": {"zip": zip, "country": country, "address": address, "city": city,
            "district": district, "state": state},
        "remark": g.buyer_message,
        "subOrderVOS": subs,
    })
}

/// Taobao seller nicks of the generated Taobao-page orders (the page does not show them; the
/// `sellerNick` filter matches them).
const TAOBAO_SELLERS: [&str; 3] = ["沙盒旗舰店", "pandapon沙盒小铺", "义乌沙盒百货"];

/// The seller nick of a generated Taobao-page order.
pub(super) fn taobao_seller(g: &GenOrder) -> &'static str {
    TAOBAO_SELLERS[(g.seq % 3) as usize]
}

const SELLERS: [&str; 3] = ["斯嘉丽服装商行", "宝视源科技", "义乌市沙盒百货"];

fn render_alibaba(g: &GenOrder) -> Value {
    let [name, phone, state, city, district, town, address, zip] = dataset::RECEIVERS[g.receiver];
    let id = order_id(Page::Alibaba, g.seq);
    let tb_order_id = (2_550_000_000_000_000_000u64 + g.seq * 1000 + 794).to_string();
    let is_paid = paid(g);
    let refunded = g.stage == Stage::Refunded;
    let area: Vec<&str> = [state, city, district, town, address]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let receiver = json!({"toFullName": name, "toDivisionCode": format!("{}", 330_100 + g.receiver * 2),
        "toMobile": phone, "toPhone": phone, "toPost": zip, "toArea": area.join(" ")});
    let warehouse = json!({"fullName": name, "mobile": phone, "phone": phone, "postCode": zip,
        "cityText": city, "provinceText": state, "areaText": district, "townText": town, "address": address});
    let offer = |l: &dataset::GenLine| format!("SbxOffer{:02}-Gsg24_8wA", l.product);
    let spec =
        |l: &dataset::GenLine| format!("{:032x}", (l.product * 10 + l.sku) as u64 * 0x9E37_79B9);
    let cargo: Vec<Value> = g
        .lines
        .iter()
        .map(|l| {
            json!({"specId": spec(l), "quantity": l.quantity, "offerId": offer(l),
                        "sellerOpenId": "BBBsandboxSellerOpenId0001"})
        })
        .collect();
    let created = g.created;
    let details: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &dataset::PRODUCTS[l.product];
            let skus: Vec<String> = sku_values(l)
                .iter()
                .map(|(n, v)| ordered_object(&[("name", n), ("value", v)], " "))
                .collect();
            let thumb = match p.image.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.80x80.{ext}"),
                None => p.image.to_string(),
            };
            // As the seed's one-line order shows (price 59900, itemAmount 56905), that line's
            // amount is after the order's discount; with several lines the seeds show no
            // sharing, so each keeps its goods amount (platforms.md: 1688 keeps an order-level
            // discount unshared).
            let amount = l.unit_minor * l.quantity
                - if g.lines.len() == 1 {
                    g.discount_minor
                } else {
                    0
                };
            json!({
                "id": (1_242_000_000_000_000_000u64 + g.seq * 1000 + i as u64).to_string(),
                "orderId": id.to_string(), "subTbOrderId": tb_order_id, "productId": offer(l),
                "name": p.title, "quantity": l.quantity, "unit": "件",
                "skuId": (5_700_000_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "specId": spec(l), "itemAmount": amount, "price": l.unit_minor,
                "refund": if refunded { amount } else { 0 }, "status": status_code(g),
                "skuInfos": format!("[{}]", skus.join(", ")),
                "payTime": g.paid.filter(|_| is_paid).map(alibaba_time),
                "dealSuccessTime": null, "deliverGoodsTime": null,
                "productImgUrl": json!([thumb, p.image]).to_string(),
                "productSnapShotUrl": format!("https://trade.1688.com/order/offer_snapshot.htm?order_entry_id={tb_order_id}"),
                "createTime": alibaba_time(created + chrono::Duration::seconds(1)),
                "productNo": offer(l), "container": "", "bizStatus": 1,
            })
        })
        .collect();
    let mut order = json!({
        "id": id.to_string(), "developId": DEVELOP_ID, "developEmail": null, "developerAlias": null,
        "flow": "general", "orderNo": (1_241_000_000_000_000_000u64 + g.seq * 1000).to_string(),
        "tbOrderId": tb_order_id, "shopPromotionId": null,
        // The seeds' `discount` is 0 even on an order with 29.95 off: the reduction shows only
        // as productAmount + shippingFee - totalAmount.
        "discount": 0, "productAmount": g.goods_minor(), "shippingFee": g.shipping_minor,
        "totalAmount": g.total_minor(), "refundAmount": if refunded { g.total_minor() } else { 0 },
        "cargoParamList": Value::Array(cargo).to_string(),
        "receiver": receiver.to_string(),
        "subBuyerLoginId": format!("pandaponsbx:{}", dataset::BUYERS[g.buyer]),
        "closeReason": null, "sellerLoginId": SELLERS[(g.seq % 3) as usize],
        "warehouseAddressInfo": warehouse.to_string(),
        "isInvoice": 0, "invoiceId": null, "tradeType": "担保交易",
        "payStatus": if is_paid { 1 } else { 0 }, "orderStatus": status_code(g),
        "refundStatus": if refunded { 1 } else { 0 },
    });
    let rest = json!({
        "orderJson": json!({"result": {"orderId": tb_order_id, "postFee": g.shipping_minor, "success": true,
            "orderList": [], "totalSuccessAmount": g.total_minor()}, "success": true}).to_string(),
        "message": g.buyer_message, "batchPayStatus": null, "financialPayFailureRemark": null,
        "userId": "2219093763101", "userName": null, "staffName": "",
        "createTime": alibaba_time(created), "payStatusKey": null, "platformOrder": 0, "orderType": 0,
        "contractOrderStatus": null, "tbCreateTime": alibaba_time(created - chrono::Duration::seconds(1)),
        "orderDetailInfoVOS": details,
        "logisticsCost": null, "confirmLogisticsCost": 0, "logisticsStatus": 0,
        "transferAccountImgs": null, "transferAccountRemark": null,
    });
    if let (Value::Object(o), Value::Object(r)) = (&mut order, rest) {
        o.extend(r);
    }
    order
}
