//! A Taobao Trade normalized into an [`Order`], field by field.
//!
//! Trades are read from a [`Json`] tree (borrowed from the body), never deserialized into
//! derived structs: the vendors' own examples carry duplicate keys (the enhanced list's second
//! example trade has `buyer_open_uid` twice), which serde's derive rejects. As with
//! `JSON.parse`, Python's `json` and Jackson, the last occurrence wins. Every field is read
//! with a check of its own:
//!
//! - essential fields (`tid`, a line's `oid`) that are missing or malformed are an error
//!   naming the JSON path (`$.data.items[1].tid`), so the order is never dropped silently;
//! - any other missing amount or malformed field is logged as a warning naming the JSON path
//!   and becomes null. The trade's `payment` is one of them: without it the order is still
//!   worth having (status, lines, receiver), its `total` is just not known.
//!
//! Money (model.md, "Money"), field by field as the Taobao Trade reference in the vv-tool
//! seed defines it and the enhanced seed's trade 1410072240792463390 shows it:
//!
//! - line `total_fee` = `price` × `num` + `adjust_fee` − `discount_fee` (the line's own
//!   discount); `part_mjz_discount` is the line's share of the order-level discounts and
//!   `divide_order_fee` = `total_fee` − `part_mjz_discount`, what was paid for the line
//!   (seed: 138.00 + 0.00 − 24.00 = 114.00, − 8.42 = 105.58);
//! - trade `total_fee` = Σ `price` × `num` (138.00), `discount_fee` = the order-level share
//!   only (8.42), `payment` = what the buyer pays, postage included (105.58);
//! - so the order's `discount` is not the trade's `discount_fee` but
//!   [`Order::derived_discount`]: Σ `price` × `num` + `post_fee` − `payment` (32.42).
//!
//! Amounts are parsed exactly with [`Amount::parse`]; a JSON integer is taken exactly; a JSON
//! fraction (the vendors send strings, this is only a fallback) is read from its shortest
//! round-trip text. Ids are never read through a float: a tid too large for a 64-bit integer
//! falls back to `tid_str`, or is an error.

use super::trade_status;
use super::wire::{WireOrderLine, WireTrade};
use crate::model::{
    Amount, Order, OrderLine, Party, Receiver, Status, Timestamp, non_empty, parse_sku_pairs,
    warn_unknown_status,
};
use crate::platforms::json::Json;

/// A problem with one field: (JSON path, what is wrong).
pub type FieldError = (String, String);

/// Where a field is, for messages, and which platform is talking.
struct Ctx<'a> {
    platform: &'static str,
    path: &'a str,
}

impl Ctx<'_> {
    fn at(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    fn warn(&self, field: &str, detail: &str) {
        crate::logging::warn_repeating(format_args!(
            "{}: {}: {detail}; the field is left null",
            self.platform,
            self.at(field)
        ));
    }

    /// Text as given (numbers printed exactly); `""` and whitespace are "no value".
    fn text(&self, field: &str, v: Option<&Json>) -> Option<String> {
        match v {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => non_empty(Some(s)),
            Some(Json::Number(n)) => Some(n.to_string()),
            Some(other) => {
                self.warn(field, &format!("expected text, found {}", other.kind()));
                None
            }
        }
    }

    /// An id, exactly: a string, or a JSON integer. A JSON fraction (an id that went through
    /// a float somewhere) is refused.
    fn id(&self, field: &str, v: Option<&Json>) -> Result<Option<String>, FieldError> {
        match v {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(non_empty(Some(s)).map(|s| s.trim().to_string())),
            Some(Json::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
            Some(Json::Number(n)) => Err((
                self.at(field),
                format!("{n} is not an integer id (it went through a float and cannot be exact)"),
            )),
            Some(other) => Err((
                self.at(field),
                format!("expected an id, found {}", other.kind()),
            )),
        }
    }

    /// An id that must be there: `field`, else `str_field` (`tid` / `tid_str`).
    fn required_id(
        &self,
        field: &str,
        str_field: &str,
        v: Option<&Json>,
        v_str: Option<&Json>,
    ) -> Result<String, FieldError> {
        match self.id(field, v) {
            Ok(Some(id)) => Ok(id),
            first => match self.id(str_field, v_str) {
                Ok(Some(id)) => Ok(id),
                _ => Err(first.err().unwrap_or_else(|| {
                    (
                        self.at(field),
                        format!("missing: a trade needs `{field}` (or `{str_field}`)"),
                    )
                })),
            },
        }
    }

    /// An optional id; a malformed one is warned about and left null.
    fn opt_id(&self, field: &str, v: Option<&Json>) -> Option<String> {
        self.id(field, v).unwrap_or_else(|(_, detail)| {
            self.warn(field, &detail);
            None
        })
    }

    fn parse_amount(&self, field: &str, v: Option<&Json>) -> Result<Option<Amount>, FieldError> {
        let text = match v {
            None | Some(Json::Null) => return Ok(None),
            Some(Json::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Json::String(s)) => std::borrow::Cow::Borrowed(s.as_ref()),
            // Integers print exactly; a fraction prints as its shortest round-trip text.
            Some(Json::Number(n)) => std::borrow::Cow::Owned(n.to_string()),
            Some(other) => {
                return Err((
                    self.at(field),
                    format!("expected a decimal amount, found {}", other.kind()),
                ));
            }
        };
        Amount::parse(&text)
            .map(Some)
            .map_err(|e| (self.at(field), e))
    }

    /// An optional amount; a malformed one is warned about and left null.
    fn amount(&self, field: &str, v: Option<&Json>) -> Option<Amount> {
        self.parse_amount(field, v).unwrap_or_else(|(_, detail)| {
            self.warn(field, &detail);
            None
        })
    }

    /// A `yyyy-MM-dd HH:mm:ss` China time; a malformed one is warned about and left null.
    fn time(&self, field: &str, v: Option<&Json>) -> Option<Timestamp> {
        let s = self.text(field, v)?;
        let t = Timestamp::from_china_local(&s);
        if t.is_none() {
            self.warn(field, &format!("{s:?} is not a yyyy-MM-dd HH:mm:ss time"));
        }
        t
    }

    /// A count (`num`): a JSON integer or integer text.
    fn count(&self, field: &str, v: Option<&Json>) -> Option<i64> {
        match v {
            None | Some(Json::Null) => None,
            Some(Json::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(Json::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            Some(other) => {
                self.warn(field, &format!("expected an integer, found {other}"));
                None
            }
        }
    }
}

/// Normalize one Trade found at JSON path `path` (e.g. `$.data.items[0]`).
pub fn normalize_trade(
    v: &Json,
    platform: &'static str,
    shop: &str,
    path: &str,
) -> Result<Order, FieldError> {
    let Json::Object(entries) = v else {
        return Err((
            path.to_string(),
            format!("expected a trade object, found {}", v.kind()),
        ));
    };
    let w = WireTrade::pick(entries);
    let c = Ctx { platform, path };
    let order_id = c.required_id("tid", "tid_str", w.tid, w.tid_str)?;
    let platform_status = c.text("status", w.status).unwrap_or_default();
    let status = trade_status(&platform_status);
    if status == Status::Unknown {
        warn_unknown_status(platform, &platform_status);
    }
    let total = match c.parse_amount("payment", w.payment) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            c.warn("payment", "missing: the order's total is not known");
            None
        }
        Err((_, detail)) => {
            c.warn("payment", &detail);
            None
        }
    };
    let shipping_fee = c.amount("post_fee", w.post_fee);
    let paid = TradePaid {
        payment: total,
        post_fee: shipping_fee,
    };
    let lines = normalize_lines_paid(w.orders, platform, &c.at("orders"), &paid)?;
    let mut order = Order {
        platform: platform.to_string(),
        shop: shop.to_string(),
        order_id,
        source_order_id: None,
        status,
        platform_status,
        created_at: c.time("created", w.created),
        updated_at: c.time("modified", w.modified),
        paid_at: c.time("pay_time", w.pay_time),
        currency: "CNY".into(),
        total,
        shipping_fee,
        discount: None,
        buyer: Party {
            id: c.text("buyer_open_uid", w.buyer_open_uid),
            name: c.text("buyer_nick", w.buyer_nick),
        },
        seller: Party {
            id: None,
            name: c.text("seller_nick", w.seller_nick),
        },
        receiver: Receiver {
            name: c.text("receiver_name", w.receiver_name),
            phone: c
                .text("receiver_mobile", w.receiver_mobile)
                .or_else(|| c.text("receiver_phone", w.receiver_phone)),
            country: c.text("receiver_country", w.receiver_country),
            state: c.text("receiver_state", w.receiver_state),
            city: c.text("receiver_city", w.receiver_city),
            district: c.text("receiver_district", w.receiver_district),
            town: c.text("receiver_town", w.receiver_town),
            address: c.text("receiver_address", w.receiver_address),
            zip: c.text("receiver_zip", w.receiver_zip),
        },
        buyer_message: c.text("buyer_message", w.buyer_message),
        seller_memo: c.text("seller_memo", w.seller_memo),
        lines,
    };
    // The trade's `discount_fee` is only the order-level share: the platform's figure is
    // used only when the lines cannot say more.
    order.discount = order.derived_discount(c.amount("discount_fee", w.discount_fee));
    Ok(order)
}

/// What the trade says was paid, for the lines that do not carry `divide_order_fee`.
#[derive(Default)]
struct TradePaid {
    /// The trade's `payment`.
    payment: Option<Amount>,
    /// The trade's `post_fee`.
    post_fee: Option<Amount>,
}

/// Normalize a Trade's `orders` value (at JSON path `path`): `{"order": [...]}`, a bare
/// array, or a single order object; missing or null means no lines.
pub fn normalize_lines(
    orders: Option<&Json>,
    platform: &'static str,
    path: &str,
) -> Result<Vec<OrderLine>, FieldError> {
    normalize_lines_paid(orders, platform, path, &TradePaid::default())
}

/// As [`normalize_lines`], with what the trade says was paid (see [`line_total`]).
fn normalize_lines_paid(
    orders: Option<&Json>,
    platform: &'static str,
    path: &str,
    paid: &TradePaid,
) -> Result<Vec<OrderLine>, FieldError> {
    let (items, base): (&[Json], String) = match orders {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(a)) => (a, path.to_string()),
        Some(m @ Json::Object(_)) => match m.get("order") {
            None | Some(Json::Null) => return Ok(Vec::new()),
            Some(Json::Array(a)) => (a, format!("{path}.order")),
            // A single order not wrapped in an array (an XML-to-JSON artefact).
            Some(one @ Json::Object(_)) => {
                let at = format!("{path}.order");
                return Ok(vec![normalize_line(one, platform, &at, paid, true)?]);
            }
            Some(other) => {
                return Err((
                    format!("{path}.order"),
                    format!("expected an array of orders, found {}", other.kind()),
                ));
            }
        },
        Some(other) => {
            return Err((
                path.to_string(),
                format!("expected {{\"order\": [...]}}, found {}", other.kind()),
            ));
        }
    };
    let single = items.len() == 1;
    items
        .iter()
        .enumerate()
        .map(|(i, l)| normalize_line(l, platform, &format!("{base}[{i}]"), paid, single))
        .collect()
}

fn normalize_line(
    v: &Json,
    platform: &'static str,
    path: &str,
    paid: &TradePaid,
    single: bool,
) -> Result<OrderLine, FieldError> {
    let Json::Object(entries) = v else {
        return Err((
            path.to_string(),
            format!("expected an order object, found {}", v.kind()),
        ));
    };
    let w = WireOrderLine::pick(entries);
    let c = Ctx { platform, path };
    let line_id = c.required_id("oid", "oid_str", w.oid, w.oid_str)?;
    let platform_status = c.text("status", w.status);
    let status = platform_status.as_deref().map(|s| {
        let st = trade_status(s);
        if st == Status::Unknown {
            warn_unknown_status(platform, s);
        }
        st
    });
    let quantity = c.count("num", w.num).unwrap_or_else(|| {
        c.warn("num", "the quantity is missing; 0 is emitted");
        0
    });
    let total = line_total(&c, &w, paid, single);
    Ok(OrderLine {
        line_id,
        product_id: c.opt_id("num_iid", w.num_iid),
        sku_id: c.opt_id("sku_id", w.sku_id),
        title: c.text("title", w.title).unwrap_or_default(),
        sku_properties: c
            .text("sku_properties_name", w.sku_properties_name)
            .map(|s| parse_sku_pairs(&s))
            .unwrap_or_default(),
        quantity,
        unit_price: c.amount("price", w.price),
        total,
        status,
        platform_status,
        refund_status: c.text("refund_status", w.refund_status),
        carrier: c.text("logistics_company", w.logistics_company),
        tracking_number: c.text("invoice_no", w.invoice_no),
        image_url: c.text("pic_path", w.pic_path),
    })
}

/// What was paid for a line's goods after its share of every discount, shipping excluded.
///
/// `divide_order_fee` says exactly that ("分摊之后的实付金额": `total_fee` − the line's share
/// of the order-level discounts, `part_mjz_discount`). Without it, the line's `payment` is
/// read as the vv-tool seed's Order reference defines it, which depends on the trade:
/// - several lines: `payment` = `price` × `num` + `adjust_fee` − `discount_fee`, before the
///   order-level share, so `part_mjz_discount` (when given) is taken off;
/// - one line: `payment` is the trade's `payment` ("与主订单的 payment 一致"), postage
///   included, so the trade's `post_fee` is taken off (null, warned, when it is unknown:
///   shipping is never folded into a line). A lone line whose payment differs from the
///   trade's is not what the reference describes: it is taken as given.
fn line_total(c: &Ctx, w: &WireOrderLine, paid: &TradePaid, single: bool) -> Option<Amount> {
    if let Some(divided) = c.amount("divide_order_fee", w.divide_order_fee) {
        return Some(divided);
    }
    let payment = c.amount("payment", w.payment)?;
    let less = |a: Amount, b: Amount| a.value().checked_sub(b.value()).map(Amount::from);
    if single && paid.payment == Some(payment) {
        return match paid.post_fee {
            Some(post) => less(payment, post),
            None => {
                c.warn(
                    "payment",
                    "the only line's payment is the trade's, postage included, and the \
                     trade's post_fee is unknown",
                );
                None
            }
        };
    }
    match c.amount("part_mjz_discount", w.part_mjz_discount) {
        Some(share) if !single => less(payment, share),
        _ => Some(payment),
    }
}
