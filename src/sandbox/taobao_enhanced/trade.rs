//! The Taobao Trade shape (TOP) in wire form, shared by the enhanced list and vv-tool
//! sandboxes: China-time text, yuan strings, the trade and its `orders.order[]`, built with
//! `json!` from the documents (never from the adapters' types).

use crate::sandbox::dataset::{self, GenOrder, Stage};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};

/// China time.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// `yyyy-MM-dd HH:mm:ss` in China time.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parse `yyyy-MM-dd HH:mm:ss` China time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    china().from_local_datetime(&n).single().map(|t| t.to_utc())
}

/// Whole seconds, as the wire shows times.
pub fn floor_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `"123.45"` from minor units.
pub fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// The Taobao trade status of a lifecycle stage.
pub fn taobao_status(s: Stage) -> &'static str {
    match s {
        Stage::Unpaid => "WAIT_BUYER_PAY",
        Stage::Paid => "PAID_FORBID_CONSIGN",
        Stage::AwaitingShipment => "WAIT_SELLER_SEND_GOODS",
        Stage::PartiallyShipped => "SELLER_CONSIGNED_PART",
        Stage::Shipped => "WAIT_BUYER_CONFIRM_GOODS",
        Stage::Delivered => "TRADE_BUYER_SIGNED",
        Stage::Completed => "TRADE_FINISHED",
        Stage::Cancelled => "TRADE_CLOSED_BY_TAOBAO",
        Stage::Refunded => "TRADE_CLOSED",
    }
}

/// Trade ids are 19 digits, far above 2^53, as Taobao's are.
pub fn trade_id(base: u64, seq: u64) -> u64 {
    base + seq * 1000
}

/// A generated order as a Taobao Trade (`orders.order[]`, amounts as decimal strings, times
/// as China-time text, `""` for no value). `tid` and `oid` are strings here; callers that
/// document numbers convert them.
pub fn trade_json(g: &GenOrder, tid: u64, seller_nick: &str, trade_type: &str) -> Value {
    let [name, phone, state, city, district, town, address, zip] = dataset::RECEIVERS[g.receiver];
    let created = floor_secs(g.created);
    let modified = floor_secs(g.modified).max(created);
    let status = taobao_status(g.stage);
    let shipped = matches!(
        g.stage,
        Stage::Shipped | Stage::Delivered | Stage::Completed | Stage::PartiallyShipped
    );
    let money = dataset::taobao_money(g);
    let payment = money.payment(g.shipping_minor);
    let single = g.lines.len() == 1;
    // Rated on some completed trades (what vv-tool's rate_status finds).
    let completed = g.stage == Stage::Completed;
    let buyer_rated = completed && g.seq.is_multiple_of(2);
    let seller_rated = completed && g.seq.is_multiple_of(3);
    let lines: Vec<Value> = g
        .lines
        .iter()
        .zip(&money.lines)
        .enumerate()
        .map(|(i, (l, m))| {
            let p = &dataset::PRODUCTS[l.product];
            // A refund asked for on some shipped trades (what `refunding=1` finds).
            let refund = match g.stage {
                Stage::Refunded => "SUCCESS",
                Stage::Shipped | Stage::Delivered if i == 0 && g.seq.is_multiple_of(5) => {
                    "WAIT_SELLER_AGREE"
                }
                _ => "NO_REFUND",
            };
            let ships = shipped && (g.stage != Stage::PartiallyShipped || i == 0);
            let line_status = if g.stage == Stage::PartiallyShipped {
                if i == 0 { "WAIT_BUYER_CONFIRM_GOODS" } else { "WAIT_SELLER_SEND_GOODS" }
            } else {
                status
            };
            json!({
                "adjust_fee": yuan(m.adjust), "buyer_rate": buyer_rated,
                "cid": 50012772,
                "discount_fee": yuan(m.discount), "divide_order_fee": yuan(m.divided()),
                "is_daixiao": false, "is_oversold": false, "num": l.quantity,
                "num_iid": 613_373_000_000u64 + l.product as u64,
                "oid": (tid + 1 + i as u64).to_string(), "oid_str": (tid + 1 + i as u64).to_string(),
                "order_from": "WAP,WAP", "outer_iid": format!("SB-{}", l.product), "outer_sku_id": "",
                // The Order reference: a multi-line trade's line payment is total_fee (before
                // the order-level share); a single line's is the trade's payment.
                "part_mjz_discount": yuan(m.share),
                "payment": yuan(if single { payment } else { m.total_fee() }),
                "pic_path": p.image, "price": yuan(l.unit_minor),
                "refund_status": refund,
                "seller_rate": seller_rated, "seller_type": "C",
                "sku_id": (4_490_318_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "sku_properties_name": format!(
                    "{}:{};{}:{}",
                    p.property.0, p.property.1[l.sku % p.property.1.len()],
                    p.size.0, p.size.1[l.sku % p.size.1.len()]
                ),
                "snapshot_url": format!("u:{}_1", tid + 1 + i as u64),
                "status": line_status, "title": p.title, "total_fee": yuan(m.total_fee()),
                "logistics_company": if ships { "圆通速递" } else { "" },
                "invoice_no": if ships { format!("YT{:013}", g.seq * 10 + i as u64) } else { String::new() },
                "consign_time": if ships { fmt_time(modified) } else { String::new() },
                "end_time": "", "shipping_type": "express",
            })
        })
        .collect();
    let mut trade = json!({
        // "如果有多笔子订单的时候,这个为 0,单笔的话则跟[order].adjust_fee 一样"
        "adjust_fee": yuan(if single { money.lines[0].adjust } else { 0 }),
        "alipay_no": format!("2021{:024}", g.seq),
        "buyer_nick": dataset::BUYERS[g.buyer],
        "buyer_open_uid": format!("AAE{:08}SandboxUid{}", g.buyer, g.buyer),
        "buyer_message": g.buyer_message.unwrap_or(""), "buyer_rate": buyer_rated,
        "cod_fee": "0.00", "cod_status": "NEW_CREATED", "coupon_fee": 0,
        "created": fmt_time(created), "modified": fmt_time(modified),
        "pay_time": g.paid.map(|t| fmt_time(floor_secs(t).max(created))).unwrap_or_default(),
        "consign_time": if shipped { fmt_time(modified) } else { String::new() },
        "end_time": if matches!(g.stage, Stage::Completed | Stage::Cancelled | Stage::Refunded) {
            fmt_time(modified)
        } else {
            String::new()
        },
    });
    let rest = json!({
        "discount_fee": yuan(money.order_discount()), "has_post_fee": true,
        "num": if g.lines.len() == 1 { g.lines[0].quantity } else { 0 },
        "num_iid": 613_373_000_000u64 + g.lines[0].product as u64,
        "orders": {"order": lines},
        "payment": yuan(payment), "post_fee": yuan(g.shipping_minor),
        "pic_path": dataset::PRODUCTS[g.lines[0].product].image, "point_fee": 0,
        "price": yuan(g.lines[0].unit_minor), "received_payment": "0.00",
        "receiver_address": address, "receiver_city": city, "receiver_district": district,
        "receiver_town": town, "receiver_mobile": phone, "receiver_phone": "",
        "receiver_name": name, "receiver_state": state, "receiver_zip": zip,
        "seller_flag": (g.seq % 6) as i64, "seller_memo": g.seller_memo.unwrap_or(""),
        "seller_nick": seller_nick, "seller_rate": seller_rated,
        "shipping_type": "express",
        "status": status, "tid": tid.to_string(), "tid_str": tid.to_string(),
        "title": seller_nick, "total_fee": yuan(g.goods_minor()), "type": trade_type,
        "trade_from": "WAP,WAP",
    });
    if let (Some(a), Value::Object(b)) = (trade.as_object_mut(), rest) {
        a.extend(b);
    }
    trade
}

/// The raw text of each element of the array under `key` (e.g. `"items"`) in JSON `text`.
/// Used to serve the seed's trades byte for byte, duplicate keys included.
pub fn array_items<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let Some(k) = text.find(key) else {
        return Vec::new();
    };
    let Some(open) = text[k..].find('[').map(|i| k + i) else {
        return Vec::new();
    };
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc, mut start) = (0usize, false, false, None);
    for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            b'}' | b']' if depth == 0 => break,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0
                    && let Some(s) = start.take()
                {
                    out.push(&text[s..=i]);
                }
            }
            _ => {}
        }
    }
    out
}
