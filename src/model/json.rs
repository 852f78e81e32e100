//! An [`Order`] as JSON text, written straight into a buffer.
//!
//! The bytes are exactly those `serde_json` writes for the model's derived `Serialize` (compact,
//! keys in field order, the same escapes); the tests check that on generated orders. This
//! writer exists for speed: `serde_json` escapes every key of every order byte by byte and
//! formats each time and amount through `core::fmt` into a fresh `String`, which together were
//! over a third of `ordersync normalize`'s time on taobao-tw's saved answers. Here keys are
//! literals, text is copied eight plain bytes at a time, and times and amounts are written
//! digit by digit.
//!
//! A field added to the model must be added here too: the comparison with `serde_json` in the
//! tests fails until it is.

use super::{Amount, Order, OrderLine, Party, Receiver, Status, Timestamp};
use chrono::{Datelike, Timelike};

/// Where JSON text goes: a `String` (the mirror's documents) or bytes (output buffers).
pub trait OrderJson {
    fn text(&mut self, s: &str);
    fn ascii(&mut self, b: u8);
}

impl OrderJson for String {
    fn text(&mut self, s: &str) {
        self.push_str(s);
    }
    fn ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(char::from(b));
    }
}

impl OrderJson for Vec<u8> {
    fn text(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn ascii(&mut self, b: u8) {
        self.push(b);
    }
}

/// Append `order` as one line of compact JSON (no newline).
pub fn write_order(out: &mut impl OrderJson, o: &Order) {
    out.text("{\"platform\":");
    string(out, &o.platform);
    out.text(",\"shop\":");
    string(out, &o.shop);
    out.text(",\"order_id\":");
    string(out, &o.order_id);
    out.text(",\"source_order_id\":");
    opt_string(out, o.source_order_id.as_deref());
    out.text(",\"status\":");
    status(out, o.status);
    out.text(",\"platform_status\":");
    string(out, &o.platform_status);
    out.text(",\"created_at\":");
    opt_time(out, o.created_at.as_ref());
    out.text(",\"updated_at\":");
    opt_time(out, o.updated_at.as_ref());
    out.text(",\"paid_at\":");
    opt_time(out, o.paid_at.as_ref());
    out.text(",\"currency\":");
    string(out, &o.currency);
    out.text(",\"total\":");
    opt_amount(out, o.total);
    out.text(",\"shipping_fee\":");
    opt_amount(out, o.shipping_fee);
    out.text(",\"discount\":");
    opt_amount(out, o.discount);
    out.text(",\"buyer\":");
    party(out, &o.buyer);
    out.text(",\"seller\":");
    party(out, &o.seller);
    out.text(",\"receiver\":");
    receiver(out, &o.receiver);
    out.text(",\"buyer_message\":");
    opt_string(out, o.buyer_message.as_deref());
    out.text(",\"seller_memo\":");
    opt_string(out, o.seller_memo.as_deref());
    out.text(",\"lines\":[");
    for (i, line) in o.lines.iter().enumerate() {
        if i > 0 {
            out.ascii(b',');
        }
        order_line(out, line);
    }
    out.text("]}");
}

fn order_line(out: &mut impl OrderJson, l: &OrderLine) {
    out.text("{\"line_id\":");
    string(out, &l.line_id);
    out.text(",\"product_id\":");
    opt_string(out, l.product_id.as_deref());
    out.text(",\"sku_id\":");
    opt_string(out, l.sku_id.as_deref());
    out.text(",\"title\":");
    string(out, &l.title);
    out.text(",\"sku_properties\":[");
    for (i, p) in l.sku_properties.iter().enumerate() {
        if i > 0 {
            out.ascii(b',');
        }
        out.text("{\"name\":");
        string(out, &p.name);
        out.text(",\"value\":");
        string(out, &p.value);
        out.ascii(b'}');
    }
    out.text("],\"quantity\":");
    integer(out, l.quantity);
    out.text(",\"unit_price\":");
    opt_amount(out, l.unit_price);
    out.text(",\"total\":");
    opt_amount(out, l.total);
    out.text(",\"status\":");
    match l.status {
        Some(s) => status(out, s),
        None => out.text("null"),
    }
    out.text(",\"platform_status\":");
    opt_string(out, l.platform_status.as_deref());
    out.text(",\"refund_status\":");
    opt_string(out, l.refund_status.as_deref());
    out.text(",\"carrier\":");
    opt_string(out, l.carrier.as_deref());
    out.text(",\"tracking_number\":");
    opt_string(out, l.tracking_number.as_deref());
    out.text(",\"image_url\":");
    opt_string(out, l.image_url.as_deref());
    out.ascii(b'}');
}

fn party(out: &mut impl OrderJson, p: &Party) {
    out.text("{\"id\":");
    opt_string(out, p.id.as_deref());
    out.text(",\"name\":");
    opt_string(out, p.name.as_deref());
    out.ascii(b'}');
}

fn receiver(out: &mut impl OrderJson, r: &Receiver) {
    out.text("{\"name\":");
    opt_string(out, r.name.as_deref());
    out.text(",\"phone\":");
    opt_string(out, r.phone.as_deref());
    out.text(",\"country\":");
    opt_string(out, r.country.as_deref());
    out.text(",\"state\":");
    opt_string(out, r.state.as_deref());
    out.text(",\"city\":");
    opt_string(out, r.city.as_deref());
    out.text(",\"district\":");
    opt_string(out, r.district.as_deref());
    out.text(",\"town\":");
    opt_string(out, r.town.as_deref());
    out.text(",\"address\":");
    opt_string(out, r.address.as_deref());
    out.text(",\"zip\":");
    opt_string(out, r.zip.as_deref());
    out.ascii(b'}');
}

fn status(out: &mut impl OrderJson, s: Status) {
    out.ascii(b'"');
    out.text(s.as_str());
    out.ascii(b'"');
}

fn opt_string(out: &mut impl OrderJson, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.text("null"),
    }
}

/// Whether `serde_json` escapes the byte: a control character, `"` or `\`.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether none of the eight bytes of `w` needs an escape. A byte-wise test in one word:
/// `(v - 0x01…) & !v & 0x80…` is non-zero exactly when some byte of `v` is zero (or, with
/// 0x20 for 0x01, below 0x20); a byte that equals `c` is a zero byte of `w ^ c…`.
fn plain(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    control | quote | backslash == 0
}

/// A JSON string, escaped as `serde_json` escapes it (only `"`, `\` and control characters;
/// everything else, non-ASCII included, as it is).
fn string(out: &mut impl OrderJson, s: &str) {
    out.ascii(b'"');
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight bytes at a time while none needs an escape.
        if let Some(word) = bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            && plain(u64::from_le_bytes(word))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        if escaped(b) {
            // `b` is ASCII, so both ends are character boundaries.
            out.text(&s[start..i]);
            escape(out, b);
            start = i + 1;
        }
        i += 1;
    }
    out.text(&s[start..]);
    out.ascii(b'"');
}

fn escape(out: &mut impl OrderJson, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.text("\\u00");
            out.ascii(HEX[usize::from(b >> 4)]);
            out.ascii(HEX[usize::from(b & 0xf)]);
            return;
        }
    };
    out.ascii(b'\\');
    out.ascii(short);
}

fn integer(out: &mut impl OrderJson, n: i64) {
    if n < 0 {
        out.ascii(b'-');
    }
    digits(out, u128::from(n.unsigned_abs()), 0);
}

/// The decimal digits of `n`, at least `min` of them (zeros in front).
fn digits(out: &mut impl OrderJson, n: u128, min: usize) {
    // Division of a u128 is a library call: amounts and quantities fit a u64, and a larger
    // number is written as its part above 10^19, then the 19 digits below.
    const E19: u128 = 10_000_000_000_000_000_000;
    match u64::try_from(n) {
        Ok(n) => digits_u64(out, n, min),
        Err(_) => {
            digits(out, n / E19, min.saturating_sub(19));
            digits_u64(out, (n % E19) as u64, 19);
        }
    }
}

fn digits_u64(out: &mut impl OrderJson, mut n: u64, min: usize) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    while n > 0 || buf.len() - at < min.max(1) {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &buf[at..] {
        out.ascii(d);
    }
}

/// As [`Amount`]'s `Display` (which `Serialize` uses): at least two fraction digits, every
/// digit the decimal holds, `-` for a negative value (a negative zero included).
fn opt_amount(out: &mut impl OrderJson, a: Option<Amount>) {
    let Some(a) = a else {
        out.text("null");
        return;
    };
    let d = a.printed();
    out.ascii(b'"');
    if d.is_sign_negative() {
        out.ascii(b'-');
    }
    let scale = d.scale() as usize;
    let m = d.mantissa().unsigned_abs();
    // Split at the point; in u64 when the mantissa fits (every real amount).
    let (whole, fraction) = match (u64::try_from(m), 10u64.checked_pow(d.scale())) {
        (Ok(m), Some(pow)) => (u128::from(m / pow), u128::from(m % pow)),
        _ => {
            let pow = 10u128.pow(d.scale());
            (m / pow, m % pow)
        }
    };
    digits(out, whole, 1);
    if scale > 0 {
        out.ascii(b'.');
        digits(out, fraction, scale);
    }
    out.ascii(b'"');
}

fn opt_time(out: &mut impl OrderJson, t: Option<&Timestamp>) {
    match t {
        Some(t) => time(out, t),
        None => out.text("null"),
    }
}

/// As [`Timestamp`]'s `Display`: RFC 3339 with the offset, seconds or milliseconds. Years
/// outside 0–9999, leap seconds and offsets with seconds go to chrono, which writes those its
/// own way.
fn time(out: &mut impl OrderJson, t: &Timestamp) {
    let local = t.at.naive_local();
    let offset = t.at.offset().local_minus_utc();
    if !(0..=9999).contains(&local.year())
        || local.nanosecond() >= 1_000_000_000
        || offset % 60 != 0
    {
        out.ascii(b'"');
        out.text(&t.to_rfc3339());
        out.ascii(b'"');
        return;
    }
    let fixed = |out: &mut _, n: u32, width| digits_u64(out, u64::from(n), width);
    out.ascii(b'"');
    fixed(out, local.year() as u32, 4);
    out.ascii(b'-');
    fixed(out, local.month(), 2);
    out.ascii(b'-');
    fixed(out, local.day(), 2);
    out.ascii(b'T');
    fixed(out, local.hour(), 2);
    out.ascii(b':');
    fixed(out, local.minute(), 2);
    out.ascii(b':');
    fixed(out, local.second(), 2);
    if t.millis {
        out.ascii(b'.');
        fixed(out, local.nanosecond() / 1_000_000, 3);
    }
    out.ascii(if offset < 0 { b'-' } else { b'+' });
    let minutes = offset.unsigned_abs() / 60;
    fixed(out, minutes / 60, 2);
    out.ascii(b':');
    fixed(out, minutes % 60, 2);
    out.ascii(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SkuProperty, platform_offset};
    use chrono::{FixedOffset, TimeZone};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn ours(o: &Order) -> String {
        let mut s = String::new();
        write_order(&mut s, o);
        let mut b = Vec::new();
        write_order(&mut b, o);
        assert_eq!(s.as_bytes(), &b[..], "String and bytes differ");
        s
    }

    /// Text with what JSON escapes: quotes, backslashes, every control character, DEL,
    /// CJK and characters outside the BMP, long runs (the eight-byte path) and short.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => Just("淘寶台灣".to_string()),
                4 => "[a-zA-Z0-9 ]{0,40}",
                2 => (0u8..0x20).prop_map(|b| char::from(b).to_string()),
                1 => Just("\"".to_string()),
                1 => Just("\\".to_string()),
                1 => Just("\u{7f}😀/<>".to_string()),
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    fn amount() -> impl Strategy<Value = Option<Amount>> {
        prop::option::of(
            (any::<i64>(), 0u32..=28, any::<bool>()).prop_map(|(m, scale, neg)| {
                let mut d = Decimal::new(m, scale.min(18));
                if scale > 18 {
                    d = Decimal::from_i128_with_scale(i128::from(m) * 1_000_000_007, scale);
                }
                d.set_sign_negative(neg);
                Amount::from(d)
            }),
        )
    }

    fn time() -> impl Strategy<Value = Option<Timestamp>> {
        prop::option::of(
            (
                -70_000_000_000_000i64..260_000_000_000_000,
                -86_399i32..86_400,
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(ms, off, whole_minutes, millis)| {
                    let off = if whole_minutes { off / 60 * 60 } else { off };
                    let tz = FixedOffset::east_opt(off).unwrap_or_else(platform_offset);
                    let at = tz.timestamp_millis_opt(ms).single().expect("in range");
                    if millis {
                        Timestamp::millis(at)
                    } else {
                        Timestamp::seconds(at)
                    }
                }),
        )
    }

    fn status() -> impl Strategy<Value = Status> {
        (0usize..10).prop_map(|i| Status::ALL.get(i).copied().unwrap_or(Status::Unknown))
    }

    fn line() -> impl Strategy<Value = OrderLine> {
        (
            (text(), prop::option::of(text()), prop::option::of(text())),
            (text(), prop::collection::vec((text(), text()), 0..3)),
            (any::<i64>(), amount(), amount(), prop::option::of(status())),
            prop::collection::vec(prop::option::of(text()), 5),
        )
            .prop_map(
                |((line_id, product_id, sku_id), (title, props), (q, u, t, s), o)| OrderLine {
                    line_id,
                    product_id,
                    sku_id,
                    title,
                    sku_properties: props
                        .into_iter()
                        .map(|(name, value)| SkuProperty { name, value })
                        .collect(),
                    quantity: q,
                    unit_price: u,
                    total: t,
                    status: s,
                    platform_status: o[0].clone(),
                    refund_status: o[1].clone(),
                    carrier: o[2].clone(),
                    tracking_number: o[3].clone(),
                    image_url: o[4].clone(),
                },
            )
    }

    fn order() -> impl Strategy<Value = Order> {
        (
            (
                text(),
                text(),
                text(),
                prop::option::of(text()),
                status(),
                text(),
            ),
            (time(), time(), time(), text(), amount(), amount(), amount()),
            prop::collection::vec(prop::option::of(text()), 15),
            prop::collection::vec(line(), 0..3),
        )
            .prop_map(|(a, b, t, lines)| Order {
                platform: a.0,
                shop: a.1,
                order_id: a.2,
                source_order_id: a.3,
                status: a.4,
                platform_status: a.5,
                created_at: b.0,
                updated_at: b.1,
                paid_at: b.2,
                currency: b.3,
                total: b.4,
                shipping_fee: b.5,
                discount: b.6,
                buyer: Party {
                    id: t[0].clone(),
                    name: t[1].clone(),
                },
                seller: Party {
                    id: t[2].clone(),
                    name: t[3].clone(),
                },
                receiver: Receiver {
                    name: t[4].clone(),
                    phone: t[5].clone(),
                    country: t[6].clone(),
                    state: t[7].clone(),
                    city: t[8].clone(),
                    district: t[9].clone(),
                    town: t[10].clone(),
                    address: t[11].clone(),
                    zip: t[12].clone(),
                },
                buyer_message: t[13].clone(),
                seller_memo: t[14].clone(),
                lines,
            })
    }

    proptest! {
        /// Words of bytes near the edges of what is escaped (0x1f, 0x20, `"`, `\`, 0x80).
        #[test]
        fn a_word_is_plain_when_no_byte_is_escaped(
            bytes in prop::array::uniform8(prop_oneof![
                Just(0x1fu8), Just(0x20), Just(b'"'), Just(b'\\'), Just(0x21), Just(0x5b),
                Just(0x80), Just(0xff), Just(0), any::<u8>(),
            ])
        ) {
            prop_assert_eq!(
                plain(u64::from_le_bytes(bytes)),
                !bytes.iter().any(|&b| escaped(b))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn an_order_reads_as_serde_json_writes_it(o in order()) {
            prop_assert_eq!(ours(&o), serde_json::to_string(&o).unwrap());
        }
    }

    #[test]
    fn edge_values_read_as_serde_json_writes_them() {
        let mut o = Order::sample("1");
        let d = |m: i128, s: u32| Some(Amount::from(Decimal::from_i128_with_scale(m, s)));
        let mut zero = Decimal::ZERO;
        zero.set_sign_negative(true);
        o.total = Some(Amount::from(zero));
        o.shipping_fee = Some(Amount::from(Decimal::MAX));
        o.discount = Some(Amount::from(Decimal::MIN));
        let at = platform_offset()
            .with_ymd_and_hms(2026, 12, 3, 0, 0, 0)
            .unwrap();
        o.created_at = Some(Timestamp::millis(at));
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap();
        o.updated_at = Some(Timestamp::millis(leap.and_utc().fixed_offset()));
        let far = FixedOffset::west_opt(3600 + 30).unwrap();
        o.paid_at = Some(Timestamp::seconds(
            far.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap(),
        ));
        let mut line = OrderLine {
            line_id: "\u{0}\u{1f}\"\\".into(),
            product_id: None,
            sku_id: Some(String::new()),
            title: "a".repeat(15) + "\n" + &"b".repeat(33),
            sku_properties: vec![],
            quantity: i64::MIN,
            unit_price: d(5, 2),
            total: d(-1, 28),
            status: None,
            platform_status: None,
            refund_status: None,
            carrier: None,
            tracking_number: None,
            image_url: None,
        };
        o.lines.push(line.clone());
        line.quantity = i64::MAX;
        line.unit_price = d(123, 0);
        o.lines.push(line);
        assert_eq!(ours(&o), serde_json::to_string(&o).unwrap());
    }
}
