//! The normalized order model every adapter maps into (see `shared/docs/model.md`).
//!
//! Invariants: every key is always serialized (null when absent) so `jq` programs never need `?`;
//! money is a [`Amount`] (exact decimal, two fraction digits on output, never `f64`); times are
//! [`Timestamp`]s that carry the platform's offset and precision.

mod json;

pub use json::{OrderJson, write_order};

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// One order, normalized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub platform: String,
    pub shop: String,
    pub order_id: String,
    pub source_order_id: Option<String>,
    pub status: Status,
    pub platform_status: String,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub paid_at: Option<Timestamp>,
    pub currency: String,
    pub total: Option<Amount>,
    pub shipping_fee: Option<Amount>,
    pub discount: Option<Amount>,
    pub buyer: Party,
    pub seller: Party,
    pub receiver: Receiver,
    pub buyer_message: Option<String>,
    pub seller_memo: Option<String>,
    pub lines: Vec<OrderLine>,
}

#[cfg(test)]
impl Order {
    /// A paid order with an id and little else, for tests to adjust.
    pub(crate) fn sample(id: &str) -> Order {
        Order {
            platform: "test".into(),
            shop: "s".into(),
            order_id: id.into(),
            source_order_id: None,
            status: Status::Paid,
            platform_status: "paid".into(),
            created_at: None,
            updated_at: None,
            paid_at: None,
            currency: "CNY".into(),
            total: None,
            shipping_fee: None,
            discount: None,
            buyer: Party::default(),
            seller: Party::default(),
            receiver: Receiver::default(),
            buyer_message: None,
            seller_memo: None,
            lines: Vec::new(),
        }
    }
}

/// One line (sub-order) of an order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderLine {
    pub line_id: String,
    pub product_id: Option<String>,
    pub sku_id: Option<String>,
    pub title: String,
    pub sku_properties: Vec<SkuProperty>,
    pub quantity: i64,
    pub unit_price: Option<Amount>,
    pub total: Option<Amount>,
    pub status: Option<Status>,
    pub platform_status: Option<String>,
    pub refund_status: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub image_url: Option<String>,
}

/// A buyer or seller as the platform names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Party {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// Where the order ships to; masked values are kept exactly as the platform gives them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Receiver {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub town: Option<String>,
    pub address: Option<String>,
    pub zip: Option<String>,
}

/// A variant attribute of a line (`颜色分类` = `豆沙色`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuProperty {
    pub name: String,
    pub value: String,
}

/// The normalized order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    PendingPayment,
    Paid,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Refunded,
    Unknown,
}

impl Status {
    /// Every status but `unknown`, in the order of model.md's table.
    pub const ALL: [Status; 9] = [
        Status::PendingPayment,
        Status::Paid,
        Status::AwaitingShipment,
        Status::PartiallyShipped,
        Status::Shipped,
        Status::Delivered,
        Status::Completed,
        Status::Cancelled,
        Status::Refunded,
    ];

    /// A normalized status by its snake_case name (`awaiting_shipment`).
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingPayment => "pending_payment",
            Status::Paid => "paid",
            Status::AwaitingShipment => "awaiting_shipment",
            Status::PartiallyShipped => "partially_shipped",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Refunded => "refunded",
            Status::Unknown => "unknown",
        }
    }
}

impl Order {
    /// Σ(line `unit_price` × `quantity`), when the lines are complete: at least one line and
    /// every line's unit price known. `None` otherwise (the list price is then unknown).
    pub fn list_price(&self) -> Option<Amount> {
        if self.lines.is_empty() {
            return None;
        }
        self.lines.iter().try_fold(Amount::ZERO, |sum, line| {
            let line_price = line.unit_price?.value().checked_mul(line.quantity.into())?;
            sum.checked_add(Amount(line_price))
        })
    }

    /// The `discount` by model.md's Money rules: everything taken off the list price,
    /// Σ(unit_price × quantity) + shipping_fee − total, when the lines are complete and both
    /// the total and the postage are known; otherwise `platform_figure` (the platform's own
    /// number, often only part of it, is all there is then).
    pub fn derived_discount(&self, platform_figure: Option<Amount>) -> Option<Amount> {
        match (self.list_price(), self.shipping_fee, self.total) {
            (Some(list), Some(shipping), Some(total)) => list
                .value()
                .checked_add(shipping.value())
                .and_then(|d| d.checked_sub(total.value()))
                .map(Amount),
            _ => platform_figure,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact money amount. Serialized as a string with at least two fraction digits
/// (`"62.00"`); an amount with more precision keeps it rather than being rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    /// Parse a decimal string exactly (`"62"`, `"105.58"`, `" 8.42 "`).
    pub fn parse(s: &str) -> Result<Amount, String> {
        let t = s.trim();
        Decimal::from_str_exact(t)
            .map(Amount)
            .map_err(|_| format!("{s:?} is not a decimal amount"))
    }

    /// An amount given in minor units (fen, cents): `22500` is `225.00`.
    pub fn from_minor_units(minor: i64) -> Amount {
        Amount(Decimal::new(minor, 2))
    }

    /// The exact decimal value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// Sum of two amounts.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl From<Decimal> for Amount {
    fn from(d: Decimal) -> Amount {
        Amount(d)
    }
}

impl Amount {
    /// The decimal as printed: at least two fraction digits, every digit it holds.
    fn printed(self) -> Decimal {
        let mut d = self.0;
        if d.scale() < 2 {
            d.rescale(2);
        }
        d
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.printed())
    }
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Amount, String> {
        Amount::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A point in time with the platform's offset and the precision the platform gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    at: DateTime<FixedOffset>,
    millis: bool,
}

/// China / Taiwan standard time, the offset of all five platforms.
pub fn platform_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

impl Timestamp {
    /// A time with whole-second precision.
    pub fn seconds(at: DateTime<FixedOffset>) -> Timestamp {
        Timestamp { at, millis: false }
    }

    /// A time with millisecond precision (always printed with three fraction digits).
    pub fn millis(at: DateTime<FixedOffset>) -> Timestamp {
        Timestamp { at, millis: true }
    }

    /// Epoch milliseconds, shown in +08:00.
    pub fn from_epoch_millis(ms: i64) -> Option<Timestamp> {
        platform_offset()
            .timestamp_millis_opt(ms)
            .single()
            .map(Timestamp::millis)
    }

    /// A naive `yyyy-MM-dd HH:mm:ss` in platform (China) time.
    pub fn from_china_local(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        // The exact 19-character form is read by hand (chrono re-reads its format string on
        // every call, which showed in `normalize` profiles); anything else goes to chrono.
        let naive = match canonical_local(s) {
            Some(naive) => naive,
            None => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?,
        };
        platform_offset()
            .from_local_datetime(&naive)
            .single()
            .map(Timestamp::seconds)
    }

    /// The instant.
    pub fn at(&self) -> DateTime<FixedOffset> {
        self.at
    }

    /// RFC 3339 text.
    pub fn to_rfc3339(&self) -> String {
        let fmt = if self.millis {
            SecondsFormat::Millis
        } else {
            SecondsFormat::Secs
        };
        self.at.to_rfc3339_opts(fmt, false)
    }
}

/// `yyyy-MM-dd HH:mm:ss` with every digit present, or `None` (left to chrono, which also
/// accepts shorter fields and reports what it refuses).
fn canonical_local(s: &str) -> Option<chrono::NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Split Taobao-style `name:value;name:value` SKU text. A value may itself contain `:`, so
/// only the first `:` of each pair separates name from value.
pub fn parse_sku_pairs(s: &str) -> Vec<SkuProperty> {
    s.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once(':') {
            Some((n, v)) => SkuProperty {
                name: n.trim().to_string(),
                value: v.trim().to_string(),
            },
            None => SkuProperty {
                name: String::new(),
                value: pair.trim().to_string(),
            },
        })
        .collect()
}

/// `Some(s)` unless `s` is empty or only spaces: platforms send `""` for "no value".
pub fn non_empty(s: Option<&str>) -> Option<String> {
    // Once trailing spaces are gone, what is left is empty or ends in a non-space.
    let s = s?;
    let s = &s[..trimmed_len(s)];
    (!s.is_empty()).then(|| s.to_string())
}

/// [`non_empty`] for text already owned: trimmed in place, not copied.
pub fn non_empty_owned(mut s: String) -> Option<String> {
    s.truncate(trimmed_len(&s));
    (!s.is_empty()).then_some(s)
}

/// The length of `s` without trailing white space, as `str::trim_end` has it; text that ends
/// in a visible ASCII character (most of it) is answered without the Unicode check, which
/// showed in `normalize` profiles.
fn trimmed_len(s: &str) -> usize {
    match s.as_bytes().last() {
        // The ASCII characters that are Unicode White_Space: TAB to CR, and SPACE.
        Some(&b) if b.is_ascii() && b != b' ' && !(b'\t'..=b'\r').contains(&b) => s.len(),
        _ => s.trim_end().len(),
    }
}

/// Warn once per (platform, value) about a status not in the mapping table; the order is
/// still emitted with status `unknown`.
pub fn warn_unknown_status(platform: &str, value: &str) {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashSet::new()));
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.insert((platform.to_string(), value.to_string())) {
        tracing::warn!(
            "{platform}: status {value:?} is not in the mapping table; emitting it as \"unknown\""
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_len_agrees_with_trim_end() {
        let mut cases: Vec<String> = (0u8..128).map(|b| format!("ab{}", b as char)).collect();
        cases.extend(
            [
                "",
                " ",
                "x\u{3000}",
                "x\u{a0}",
                "x\u{85}",
                "商品",
                "商品 \t",
                "\u{1f}",
                "\u{b}",
            ]
            .map(String::from),
        );
        for s in &cases {
            assert_eq!(trimmed_len(s), s.trim_end().len(), "{s:?}");
        }
        assert_eq!(non_empty(Some(" a\u{3000}")), Some(" a".to_string()));
        assert_eq!(non_empty_owned("\u{b}".into()), None);
    }

    #[test]
    fn amounts_print_two_fraction_digits_exactly() {
        assert_eq!(Amount::parse("62").unwrap().to_string(), "62.00");
        assert_eq!(Amount::parse("105.58").unwrap().to_string(), "105.58");
        assert_eq!(Amount::parse("0.1").unwrap().to_string(), "0.10");
        assert_eq!(Amount::from_minor_units(22500).to_string(), "225.00");
        assert_eq!(Amount::from_minor_units(-5).to_string(), "-0.05");
        assert_eq!(
            Amount::parse("12345678901234567.89").unwrap().to_string(),
            "12345678901234567.89"
        );
        assert!(Amount::parse("abc").is_err());
        assert!(Amount::parse("").is_err());
    }

    #[test]
    fn timestamps_keep_offset_and_precision() {
        let t = Timestamp::from_epoch_millis(1592988843859).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-06-24T16:54:03.859+08:00");
        let t = Timestamp::from_epoch_millis(1592988843000).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-06-24T16:54:03.000+08:00");
        let t = Timestamp::from_china_local("2021-10-02 16:13:56").unwrap();
        assert_eq!(t.to_rfc3339(), "2021-10-02T16:13:56+08:00");
        assert!(Timestamp::from_china_local("2021-13-02 16:13:56").is_none());
    }

    #[test]
    fn empty_text_is_no_value_and_trailing_spaces_go() {
        for (given, want) in [
            ("", None),
            ("   ", None),
            (" \t\n", None),
            ("a", Some("a")),
            ("  a b  ", Some("  a b")),
            ("张三\u{3000}", Some("张三")),
        ] {
            assert_eq!(non_empty(Some(given)).as_deref(), want, "{given:?}");
            assert_eq!(
                non_empty_owned(given.to_string()).as_deref(),
                want,
                "{given:?}"
            );
        }
        assert_eq!(non_empty(None), None);
    }

    #[test]
    fn china_local_times_read_as_chrono_reads_them() {
        for s in [
            "2021-10-02 16:13:56",
            " 2021-10-02 16:13:56 ",
            "2024-02-29 00:00:00",
            "2023-02-29 00:00:00",
            "2021-10-02 24:00:00",
            "2021-10-02 23:59:60",
            "2021-1-2 3:04:05",
            "2021-10-02T16:13:56",
            "2021-10-02 16:13:5x",
            "+021-10-02 16:13:56",
            "",
        ] {
            let chrono = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| Timestamp::seconds(n.and_local_timezone(platform_offset()).unwrap()));
            assert_eq!(Timestamp::from_china_local(s), chrono, "{s:?}");
        }
    }

    #[test]
    fn sku_pairs_split_on_first_colon() {
        let p = parse_sku_pairs("颜色分类:豆沙色;尺码:L");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "颜色分类");
        assert_eq!(p[0].value, "豆沙色");
        let p = parse_sku_pairs("时间:10:30;");
        assert_eq!(
            p,
            vec![SkuProperty {
                name: "时间".into(),
                value: "10:30".into()
            }]
        );
        assert!(parse_sku_pairs("").is_empty());
    }

    fn line(unit: &str, quantity: i64) -> OrderLine {
        OrderLine {
            line_id: "1".into(),
            product_id: None,
            sku_id: None,
            title: "t".into(),
            sku_properties: Vec::new(),
            quantity,
            unit_price: Some(Amount::parse(unit).unwrap()),
            total: None,
            status: None,
            platform_status: None,
            refund_status: None,
            carrier: None,
            tracking_number: None,
            image_url: None,
        }
    }

    fn order(lines: Vec<OrderLine>, shipping: Option<&str>, total: Option<&str>) -> Order {
        let amount = |s: Option<&str>| s.map(|s| Amount::parse(s).unwrap());
        Order {
            platform_status: "x".into(),
            total: amount(total),
            shipping_fee: amount(shipping),
            lines,
            ..Order::sample("1")
        }
    }

    #[test]
    fn discount_is_what_was_taken_off_the_list_price() {
        let figure = Some(Amount::parse("8.42").unwrap());
        // The enhanced seed trade: one line 138.00, no postage, paid 105.58.
        let o = order(vec![line("138.00", 1)], Some("0.00"), Some("105.58"));
        assert_eq!(o.list_price().unwrap().to_string(), "138.00");
        assert_eq!(o.derived_discount(figure).unwrap().to_string(), "32.42");
        // 1688 seed order: goods 599.00 over two lines, postage 25.00, paid 594.05.
        let o = order(
            vec![line("500.00", 1), line("33.00", 3)],
            Some("25.00"),
            Some("594.05"),
        );
        assert_eq!(o.derived_discount(None).unwrap().to_string(), "29.95");
        // Lines incomplete (a price unknown, or none), postage or total unknown: the figure.
        let mut unknown = line("1.00", 1);
        unknown.unit_price = None;
        let o = order(vec![line("1.00", 1), unknown], Some("0"), Some("1"));
        assert_eq!(o.list_price(), None);
        assert_eq!(o.derived_discount(figure), figure);
        assert_eq!(
            order(vec![], Some("0"), Some("1")).derived_discount(None),
            None
        );
        let o = order(vec![line("1.00", 2)], None, Some("1"));
        assert_eq!(o.derived_discount(figure), figure);
        let o = order(vec![line("1.00", 2)], Some("0"), None);
        assert_eq!(o.derived_discount(None), None);
    }

    #[test]
    fn status_serializes_snake_case() {
        let j = serde_json::to_string(&Status::AwaitingShipment).unwrap();
        assert_eq!(j, "\"awaiting_shipment\"");
        assert_eq!(
            Status::from_name("awaiting_shipment"),
            Some(Status::AwaitingShipment)
        );
        assert_eq!(Status::from_name("unknown"), None);
        assert!(
            Status::ALL
                .iter()
                .all(|s| Status::from_name(s.as_str()) == Some(*s))
        );
    }
}
