//! Reading the wire values both pages share: amounts (fen, or the Taobao page's `amount_unit`),
//! times, JSON packed in strings, ids and quantities. Whatever cannot be read is warned about
//! with the order and its JSON path, and left null; only a fraction read as fen is an error.

use super::{AmountUnit, Ctx, malformed, parse_time};
use crate::error::PlatformError;
use crate::model::{Amount, Timestamp, non_empty, non_empty_owned};
use crate::platforms::json::{Json, Shape};
use crate::platforms::{TextOrNumber, TextOrNumberRef};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Where a warning is about: platform, order and its place in the page.
pub(super) struct At<'a> {
    pub(super) platform: &'static str,
    pub(super) order: &'a str,
    /// The order's index in `data.data`.
    pub(super) index: usize,
}

impl At<'_> {
    /// The JSON path of one of the order's fields.
    pub(super) fn path(&self, field: impl FieldName) -> String {
        format!("$.data.data[{}].{field}", self.index)
    }

    pub(super) fn warn(&self, field: impl FieldName, what: &str) {
        // "{platform}: order {order}: field {field} ($.data.data[{index}].{field}) {what}; it
        // is left null and the order is kept", written without `core::fmt`: pandapon-taobao's
        // answers warn once per order.
        crate::logging::warn_repeating_with(|out| {
            out.push_str(self.platform);
            out.push_str(": order ");
            out.push_str(self.order);
            out.push_str(": field ");
            field.push_to(out);
            out.push_str(" ($.data.data[");
            out.push_str(itoa::Buffer::new().format(self.index));
            out.push_str("].");
            field.push_to(out);
            out.push_str(") ");
            out.push_str(what);
            out.push_str("; it is left null and the order is kept");
        });
    }

    /// A time field; one that does not parse is warned about and null.
    pub(super) fn time(
        &self,
        v: Option<TextOrNumberRef<'_>>,
        field: impl FieldName,
    ) -> Option<Timestamp> {
        let s = match v? {
            TextOrNumberRef::Text(s) => s,
            number => Cow::Owned(number.owned().into_string()),
        };
        let s = s.trim_end();
        if s.is_empty() {
            return None;
        }
        let t = parse_time(s);
        if t.is_none() {
            self.warn(
                field,
                &format!("holds {s:?}, which is not a known time format"),
            );
        }
        t
    }

    /// An integer amount in fen; a missing one, or anything but a whole number, is warned
    /// about and null (never 0.00).
    pub(super) fn fen(&self, v: Option<TextOrNumber>, field: impl FieldName) -> Option<Amount> {
        let Some(v) = v.filter(|v| !is_blank(v)) else {
            self.warn(field, "is missing");
            return None;
        };
        let minor = match v {
            TextOrNumber::Int(i) => Some(i),
            TextOrNumber::UInt(u) => i64::try_from(u).ok(),
            TextOrNumber::Text(s) => s.trim().parse::<i64>().ok(),
            TextOrNumber::Float(_) => None,
        };
        if minor.is_none() {
            self.warn(field, "is not a whole number of fen");
        }
        minor.map(Amount::from_minor_units)
    }

    /// A Taobao-page amount in the shop's `amount_unit`. Missing or unreadable: warned about
    /// and null. In fen, a fraction is an error: the unit is wrong for this shop, and every
    /// amount would be a hundred times off.
    pub(super) fn amount(
        &self,
        ctx: &Ctx,
        page: Option<u32>,
        v: Option<TextOrNumber>,
        field: impl FieldName,
    ) -> Result<Option<Amount>, PlatformError> {
        let Some(v) = v.filter(|v| !is_blank(v)) else {
            self.warn(field, "is missing");
            return Ok(None);
        };
        // A whole number (most amounts) needs no text; in fen it is exact as it is.
        if let TextOrNumber::Int(i) = v {
            return Ok(Some(match ctx.amount_unit {
                AmountUnit::Yuan => Amount::from(rust_decimal::Decimal::from(i)),
                AmountUnit::Fen => Amount::from_minor_units(i),
            }));
        }
        // A JSON number with a fraction arrives as f64; its shortest round-trip text is the
        // text the platform sent (for up to 15 significant digits), parsed exactly from here.
        let text = v.into_string();
        let Ok(value) = Amount::parse(&text) else {
            self.warn(field, &format!("holds {text:?}, which is not an amount"));
            return Ok(None);
        };
        match ctx.amount_unit {
            AmountUnit::Yuan => Ok(Some(value)),
            AmountUnit::Fen => {
                let minor = value.value();
                if !minor.fract().is_zero() {
                    return Err(malformed(
                        ctx,
                        page,
                        &self.path(field),
                        format!(
                            "order {}: {text} is not a whole number of fen; if this shop's \
                             amounts are in yuan, set amount_unit = \"yuan\" in its config \
                             (ordersync normalize: --amount-unit yuan)",
                            self.order
                        ),
                    ));
                }
                let minor = i64::try_from(minor).ok();
                if minor.is_none() {
                    self.warn(field, &format!("holds {text:?}, which is out of range"));
                }
                Ok(minor.map(Amount::from_minor_units))
            }
        }
    }

    /// A JSON value packed in a string (its text from [`json_source`]), read into a `T` that
    /// may borrow from that text. Text that does not parse is warned about (naming the order
    /// and the field) and `None`.
    pub(super) fn json_text<'t, T: Deserialize<'t>>(
        &self,
        text: Option<&'t str>,
        field: impl FieldName,
    ) -> Option<T> {
        self.or_warn(serde_json::from_str::<Option<T>>(text?), field)
    }

    /// Like [`At::json_text`], into a tree that borrows from the text and keeps what `shape`
    /// asks for (a JSON value given as such rather than as text is taken as it is).
    pub(super) fn json_tree_in<'v>(
        &self,
        v: Option<&'v Json<'_>>,
        field: impl FieldName,
        shape: &'static dyn Shape,
    ) -> Option<Json<'v>> {
        let parsed = match v? {
            Json::Null => return None,
            Json::String(s) if blank_text(s) => return None,
            Json::String(s) => Json::parse_shaped_text(s, shape),
            other => return Some(other.clone()),
        };
        self.or_warn(
            parsed.map(|tree| (tree != Json::Null).then_some(tree)),
            field,
        )
    }

    /// [`At::json_text`] for a value inside such a tree.
    pub(super) fn json_text_in_tree<T: DeserializeOwned>(
        &self,
        v: &Json<'_>,
        field: impl FieldName,
    ) -> Option<T> {
        let parsed = match v {
            Json::Null => return None,
            Json::String(s) if blank_text(s) => return None,
            Json::String(s) => serde_json::from_str::<Option<T>>(s),
            other => serde_json::from_str::<Option<T>>(&other.to_string()),
        };
        self.or_warn(parsed, field)
    }

    /// The parsed value of a JSON-in-text field, or `None` with a warning when it did not parse.
    pub(super) fn or_warn<T>(
        &self,
        parsed: serde_json::Result<Option<T>>,
        field: impl FieldName,
    ) -> Option<T> {
        parsed.unwrap_or_else(|e| {
            self.warn(field, &format!("is not the expected JSON text ({e})"));
            None
        })
    }
}

/// The name of an order's field in warnings: a key of the order (`"totalAmount"`) or a
/// [`Sub`]; written out only when a warning names it.
pub(super) trait FieldName: fmt::Display + Copy {
    fn push_to(self, out: &mut String);
}

impl FieldName for &str {
    fn push_to(self, out: &mut String) {
        out.push_str(self);
    }
}

impl FieldName for Sub<'_> {
    fn push_to(self, out: &mut String) {
        out.push_str(self.list);
        out.push('[');
        out.push_str(itoa::Buffer::new().format(self.i));
        out.push_str("].");
        out.push_str(self.field);
    }
}

/// A field of one element of an order's list (`subOrderVOS[2].purchaseAmount`): written out
/// only when a warning or an error names it, not for every order read.
#[derive(Clone, Copy)]
pub(super) struct Sub<'a> {
    pub(super) list: &'static str,
    pub(super) i: usize,
    pub(super) field: &'a str,
}

impl fmt::Display for Sub<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}].{}", self.list, self.i, self.field)
    }
}

/// A JSON object's members in document order (whatever `serde_json::Map` keeps).
pub(super) struct OrderedPairs(pub(super) Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedPairs, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Value>()? {
                    v.push((k, val));
                }
                Ok(OrderedPairs(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// A scalar that holds nothing: blank text.
pub(super) fn is_blank(v: &TextOrNumber) -> bool {
    matches!(v, TextOrNumber::Text(s) if s.trim().is_empty())
}

/// The text of a scalar, `None` when absent or blank.
pub(super) fn text(v: Option<TextOrNumber>) -> Option<String> {
    non_empty_owned(v?.into_string())
}

/// A JSON-in-text field that holds nothing: empty, blank or `null`.
pub(super) fn blank_text(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s == "null"
}

/// The text of a field that holds JSON packed in a string, for [`At::json_text`]: absent, null,
/// empty and blank are `None` (silently); a value that already arrives as structured JSON is
/// written out as text, to be read the same way.
pub(super) fn json_source<'v>(v: Option<&'v Json<'_>>) -> Option<Cow<'v, str>> {
    match v? {
        Json::Null => None,
        Json::String(s) if blank_text(s) => None,
        Json::String(s) => Some(Cow::Borrowed(s.as_ref())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// The owned value of a borrowed field, for the helpers that take one.
pub(super) fn own(v: Option<TextOrNumberRef<'_>>) -> Option<TextOrNumber> {
    v.map(TextOrNumberRef::owned)
}

/// [`text`] of a borrowed field: trimmed, copied, `None` when blank.
pub(super) fn text_of(v: Option<&TextOrNumberRef<'_>>) -> Option<String> {
    match v? {
        TextOrNumberRef::Text(s) => non_empty(Some(s)),
        // A number has no text to borrow, and copying it costs nothing.
        number => text(Some(number.clone().owned())),
    }
}

/// [`value_str`] for a value of a borrowed tree.
pub(super) fn tree_str(v: Option<&Json<'_>>) -> Option<String> {
    match v? {
        Json::Null => None,
        Json::String(s) => non_empty(Some(s)),
        other => Some(other.to_string()),
    }
}

/// The text of a JSON scalar inside a JSON-in-string field.
pub(super) fn value_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => non_empty(Some(s)),
        other => Some(other.to_string()),
    }
}

/// A whole-number quantity.
pub(super) fn quantity(v: Option<TextOrNumber>) -> i64 {
    match v {
        Some(TextOrNumber::Int(i)) => i,
        Some(TextOrNumber::UInt(u)) => i64::try_from(u).unwrap_or(i64::MAX),
        Some(TextOrNumber::Text(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// The id of an order: `orderNo`, or PandaPon's internal `id` (with a warning) when the order
/// has no `orderNo`.
pub(super) fn order_id(
    platform: &'static str,
    order_no: Option<TextOrNumber>,
    id: Option<TextOrNumber>,
    index: usize,
) -> Option<String> {
    if let Some(no) = text(order_no) {
        return Some(no);
    }
    let id = text(id)?;
    tracing::warn!(
        "{platform}: order #{index} of the page has no orderNo; using PandaPon's internal id {id} as its order_id"
    );
    Some(id)
}
