//! What of a Taobao Trade is read, and how it is parsed: the fields the normalizer reads
//! (each read in one pass over a trade's entries), the [`Shape`]s that keep every other field
//! of a trade out of the parsed tree, and the `fields=` list that asks for exactly those.

use crate::platforms::json::{EVERYTHING, Json, Shape};

/// Declares a struct of the fields the normalizer reads from one JSON object, filled in one
/// pass over the object's entries (a repeated key: the last one wins; other keys are ignored).
macro_rules! wire_fields {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Default)]
        pub(super) struct $name<'j, 'a> {
            $(pub(super) $field: Option<&'j Json<'a>>,)*
        }

        impl<'j, 'a> $name<'j, 'a> {
            /// Whether the normalizer reads `key`.
            pub(super) fn has(key: &str) -> bool {
                matches!(key, $(stringify!($field))|*)
            }

            pub(super) fn pick(entries: &'j [(std::borrow::Cow<'a, str>, Json<'a>)]) -> Self {
                let mut w = Self::default();
                for (key, value) in entries {
                    match key.as_ref() {
                        $(stringify!($field) => w.$field = Some(value),)*
                        _ => {}
                    }
                }
                w
            }
        }
    };
}

wire_fields!(
    /// Every Trade field the normalizer reads.
    WireTrade {
        tid, tid_str, status, payment, post_fee, discount_fee, created, modified, pay_time,
        buyer_nick, buyer_open_uid, seller_nick, receiver_name, receiver_mobile, receiver_phone,
        receiver_country, receiver_state, receiver_city, receiver_district, receiver_town,
        receiver_address, receiver_zip, buyer_message, seller_memo,
        // `{"order": [Order, ...]}` (TOP's JSON shape); a bare array is accepted too.
        orders,
    }
);

wire_fields!(
    /// Every Order (line) field the normalizer reads.
    WireOrderLine {
        oid, oid_str, num_iid, sku_id, title, num, price, payment, divide_order_fee,
        part_mjz_discount, sku_properties_name, status, refund_status, logistics_company,
        invoice_no, pic_path,
    }
);

/// What of a Trade is parsed at all: the fields above, and in `orders` the line fields.
pub struct TradeShape;

/// A list of trades.
pub struct TradeListShape;

struct OrdersShape;
struct LinesShape;
struct LineShape;

pub static TRADE: TradeShape = TradeShape;
pub static TRADE_LIST: TradeListShape = TradeListShape;
static ORDERS: OrdersShape = OrdersShape;
static LINES: LinesShape = LinesShape;
static LINE: LineShape = LineShape;

impl Shape for TradeShape {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        match key {
            "orders" => Some(&ORDERS),
            _ if WireTrade::has(key) => Some(&EVERYTHING),
            _ => None,
        }
    }
    fn element(&self) -> &'static dyn Shape {
        &EVERYTHING
    }
}

impl Shape for TradeListShape {
    fn field(&self, _: &str) -> Option<&'static dyn Shape> {
        Some(&EVERYTHING)
    }
    fn element(&self) -> &'static dyn Shape {
        &TRADE
    }
}

/// `{"order": [...]}`, or a bare array of lines.
impl Shape for OrdersShape {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        (key == "order").then_some(&LINES as &dyn Shape)
    }
    fn element(&self) -> &'static dyn Shape {
        &LINE
    }
}

/// An array of lines, or one line not wrapped in an array.
impl Shape for LinesShape {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        LINE.field(key)
    }
    fn element(&self) -> &'static dyn Shape {
        &LINE
    }
}

impl Shape for LineShape {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        WireOrderLine::has(key).then_some(&EVERYTHING as &dyn Shape)
    }
    fn element(&self) -> &'static dyn Shape {
        &EVERYTHING
    }
}

/// The fields vv-tool must be asked for (`fields=`) so that every field above comes back.
pub const TRADE_FIELDS: &[&str] = &[
    "tid",
    "tid_str",
    "status",
    "payment",
    "post_fee",
    "discount_fee",
    "created",
    "modified",
    "pay_time",
    "buyer_nick",
    "buyer_open_uid",
    "seller_nick",
    "receiver_name",
    "receiver_mobile",
    "receiver_phone",
    "receiver_country",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "receiver_town",
    "receiver_address",
    "receiver_zip",
    "buyer_message",
    "seller_memo",
    "orders",
];
