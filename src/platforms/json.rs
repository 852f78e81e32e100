//! A JSON tree that borrows from the response body, for the answers that cannot be read
//! into typed structs.
//!
//! The Taobao Trade answers (taobao-enhanced, vvtool) repeat keys inside a trade in the
//! vendors' own examples, and vv-tool's `data` is a map whose keys are trade numbers: serde's
//! derive refuses the first and cannot express the second. `serde_json::Value` reads both, but
//! it allocates a `String` for every key and value and a `BTreeMap` for every object, which
//! made `normalize` of a large saved answer three times slower than it needs to be. [`Json`]
//! keeps strings as slices of the body (copied only when they hold escapes), objects as a
//! vector of entries, and numbers as [`serde_json::Number`], so everything printed from it
//! reads exactly as it would from a `Value`. As with `Value` (and `JSON.parse`), when a key
//! repeats, the last occurrence wins.
//!
//! A [`Shape`] tells the parser which parts of an answer are read at all: a Trade has some
//! seventy keys of which the normalizer reads twenty-five, and skipping the rest while parsing
//! keeps a 500-trade page's tree a fraction of its size.

/// Evaluate `$read` with `$de` bound to a `serde_json::Deserializer` over `$body`: over text
/// when the body is valid UTF-8 (checked once for the whole body, which is much cheaper than
/// the byte reader's check of every string), over the bytes otherwise, where the read then
/// fails at the string that is not UTF-8, as before. The check is `simdutf8`'s: on a file of
/// Chinese text the standard library's took 5–7% of `normalize`'s time.
macro_rules! over_body {
    ($body:expr, |$de:ident| $read:expr) => {{
        let body: &[u8] = $body;
        match simdutf8::basic::from_utf8(body) {
            Ok(text) => {
                let mut $de = serde_json::Deserializer::from_str(text);
                $read
            }
            Err(_) => {
                let mut $de = serde_json::Deserializer::from_slice(body);
                $read
            }
        }
    }};
}
pub(crate) use over_body;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

/// One JSON value; strings and keys borrow from the body where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Entries in body order, repeated keys included (see [`Json::get`]).
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Which parts of a JSON value to keep.
pub trait Shape: Sync {
    /// The shape of the value under `key` in an object, or `None` to skip that value.
    fn field(&self, key: &str) -> Option<&'static dyn Shape>;
    /// The shape of each element of an array.
    fn element(&self) -> &'static dyn Shape;
}

/// Keep everything.
pub struct Everything;

pub static EVERYTHING: Everything = Everything;

impl Shape for Everything {
    fn field(&self, _: &str) -> Option<&'static dyn Shape> {
        Some(&EVERYTHING)
    }
    fn element(&self) -> &'static dyn Shape {
        &EVERYTHING
    }
}

/// An object in which the value under `key` has a shape of its own; all else is kept.
pub struct Under {
    pub key: &'static str,
    pub shape: &'static dyn Shape,
}

impl Shape for Under {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        Some(if key == self.key {
            self.shape
        } else {
            &EVERYTHING
        })
    }
    fn element(&self) -> &'static dyn Shape {
        &EVERYTHING
    }
}

impl<'a> Json<'a> {
    /// Parse a body; strings without escapes borrow from it.
    pub fn parse(body: &'a [u8]) -> serde_json::Result<Json<'a>> {
        over_body!(body, |de| {
            let v = Json::deserialize(&mut de)?;
            de.end().map(|()| v)
        })
    }

    /// Parse a body keeping only what `shape` asks for. The whole body is still checked to
    /// be JSON.
    pub fn parse_shaped(body: &'a [u8], shape: &'static dyn Shape) -> serde_json::Result<Json<'a>> {
        over_body!(body, |de| {
            let v = ShapedSeed(shape).deserialize(&mut de)?;
            de.end().map(|()| v)
        })
    }

    /// [`Json::parse_shaped`] for text already known to be UTF-8.
    pub fn parse_shaped_text(
        text: &'a str,
        shape: &'static dyn Shape,
    ) -> serde_json::Result<Json<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = ShapedSeed(shape).deserialize(&mut de)?;
        de.end().map(|()| v)
    }

    /// The value of `key` in an object (the last one when the key repeats); `None` for a
    /// missing key or a value that is not an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|e| &e.1),
            _ => None,
        }
    }

    /// An object's entries in body order, each key once (its last occurrence's value).
    pub fn entries(&self) -> Vec<(&str, &Json<'a>)> {
        let Json::Object(entries) = self else {
            return Vec::new();
        };
        // From the back, so the first time a key is seen is its last occurrence.
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        let mut unique: Vec<(&str, &Json<'a>)> = entries
            .iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.as_ref()))
            .map(|(k, v)| (k.as_ref(), v))
            .collect();
        unique.reverse();
        unique
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// What kind of value this is, for messages ("expected text, found an array").
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Compact JSON text, as `serde_json::Value` prints it.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(_) => {
                let entries = self.entries();
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor(&EVERYTHING))
    }
}

/// A value of a given shape.
struct ShapedSeed(&'static dyn Shape);

impl<'de> DeserializeSeed<'de> for ShapedSeed {
    type Value = Json<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(JsonVisitor(self.0))
    }
}

struct JsonVisitor(&'static dyn Shape);

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json<'de>, E> {
        Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let element = self.0.element();
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(ShapedSeed(element))? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // serde_json gives no size; most objects read here hold a few entries, and growing
        // from nothing to those took three reallocations.
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8).min(4096));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.0.field(&key) {
                Some(shape) => {
                    let value = map.next_value_seed(ShapedSeed(shape))?;
                    entries.push((key, value));
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Json::Object(entries))
    }
}

/// How [`stream_array`] ended.
pub enum Streamed<'a> {
    /// Read to the end: the whole tree, the streamed array left empty.
    Done(Json<'a>),
    /// Nothing was handed over: `ready` said no, or the body is not shaped as expected (or
    /// broke off) before the array.
    Fallback,
    /// The body broke off after `emitted` elements.
    Failed { emitted: usize },
    /// `each` asked to stop.
    Stopped,
}

/// Parse `body`, handing each element of the array at `path` (a chain of object keys from
/// the root) to `each` as soon as it is parsed, in the given `element` shape, instead of
/// keeping it. Before descending into `path[d]`, `ready(d, partial)` is asked with the object
/// read so far at that depth; a `false` gives up. Everything outside the array is kept.
/// `each` gets the element's index, and its key when it comes from [`stream_numbered`].
pub fn stream_array<'a>(
    body: &'a [u8],
    path: &'static [&'static str],
    element: &'static dyn Shape,
    ready: &dyn Fn(usize, &Json<'a>) -> bool,
    each: &mut dyn FnMut(usize, &str, Json<'a>) -> bool,
) -> Streamed<'a> {
    stream(body, path, element, false, ready, each)
}

/// As [`stream_array`] for an object at `path` whose keys `"0"`, `"1"`, ... hold the
/// elements (vv-tool's `data`): those are handed over while they come as 0, 1, 2, ... (any
/// other numbered key gives up); other keys are kept.
pub fn stream_numbered<'a>(
    body: &'a [u8],
    path: &'static [&'static str],
    element: &'static dyn Shape,
    ready: &dyn Fn(usize, &Json<'a>) -> bool,
    each: &mut dyn FnMut(usize, &str, Json<'a>) -> bool,
) -> Streamed<'a> {
    stream(body, path, element, true, ready, each)
}

fn stream<'a>(
    body: &'a [u8],
    path: &'static [&'static str],
    element: &'static dyn Shape,
    numbered: bool,
    ready: &dyn Fn(usize, &Json<'a>) -> bool,
    each: &mut dyn FnMut(usize, &str, Json<'a>) -> bool,
) -> Streamed<'a> {
    let mut ctx = StreamCtx {
        path,
        element,
        numbered,
        last_number: None,
        ready,
        each,
        emitted: 0,
        stopped: false,
    };
    let read = over_body!(body, |de| {
        PathSeed {
            depth: 0,
            ctx: &mut ctx,
        }
        .deserialize(&mut de)
        .and_then(|tree| de.end().map(|()| tree))
    });
    match read {
        _ if ctx.stopped => Streamed::Stopped,
        Ok(tree) => Streamed::Done(tree),
        Err(_) if ctx.emitted == 0 => Streamed::Fallback,
        Err(_) => Streamed::Failed {
            emitted: ctx.emitted,
        },
    }
}

struct StreamCtx<'c, 'a> {
    path: &'static [&'static str],
    element: &'static dyn Shape,
    /// Stream the numbered values of an object rather than an array's elements.
    numbered: bool,
    last_number: Option<u64>,
    ready: &'c dyn Fn(usize, &Json<'a>) -> bool,
    each: &'c mut dyn FnMut(usize, &str, Json<'a>) -> bool,
    emitted: usize,
    stopped: bool,
}

impl<'a> StreamCtx<'_, 'a> {
    fn hand_over<E: de::Error>(&mut self, key: &str, item: Json<'a>) -> Result<(), E> {
        let index = self.emitted;
        self.emitted += 1;
        if (self.each)(index, key, item) {
            Ok(())
        } else {
            self.stopped = true;
            Err(E::custom("stopped"))
        }
    }
}

/// The value at `path[..depth]`: an object on the way, the streamed array at the end.
struct PathSeed<'s, 'c, 'a> {
    depth: usize,
    ctx: &'s mut StreamCtx<'c, 'a>,
}

const GIVE_UP: &str = "not the expected shape";

impl<'a> DeserializeSeed<'a> for PathSeed<'_, '_, 'a> {
    type Value = Json<'a>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Json<'a>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for PathSeed<'_, '_, 'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.depth < self.ctx.path.len() {
            "an object"
        } else {
            "an array"
        })
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Json<'a>, A::Error> {
        let ctx = self.ctx;
        let Some(&next) = ctx.path.get(self.depth) else {
            if !ctx.numbered {
                return Err(de::Error::custom(GIVE_UP));
            }
            // The numbered object: its elements go out, the rest is kept.
            let mut entries = Vec::new();
            while let Some(key) = map.next_key_seed(KeySeed)? {
                let number = (!key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| key.parse::<u64>().ok())
                    .flatten();
                // Only "0", "1", "2", ... in that order: then what was handed over are the
                // first elements in numeric order, whatever follows.
                let canonical = key.len() == 1 || !key.starts_with('0');
                match number {
                    Some(n) if canonical && n == ctx.last_number.map_or(0, |last| last + 1) => {
                        ctx.last_number = Some(n);
                        let item = map.next_value_seed(ShapedSeed(ctx.element))?;
                        ctx.hand_over(&key, item)?;
                    }
                    Some(_) => return Err(de::Error::custom(GIVE_UP)),
                    None if key.bytes().all(|b| b.is_ascii_digit()) => {
                        return Err(de::Error::custom(GIVE_UP));
                    }
                    None => {
                        let value = map.next_value_seed(ShapedSeed(&EVERYTHING))?;
                        entries.push((key, value));
                    }
                }
            }
            return Ok(Json::Object(entries));
        };
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = if key == next {
                let partial = Json::Object(std::mem::take(&mut entries));
                let ready = (ctx.ready)(self.depth, &partial);
                if let Json::Object(e) = partial {
                    entries = e;
                }
                if !ready {
                    return Err(de::Error::custom(GIVE_UP));
                }
                map.next_value_seed(PathSeed {
                    depth: self.depth + 1,
                    ctx: &mut *ctx,
                })?
            } else {
                map.next_value_seed(ShapedSeed(&EVERYTHING))?
            };
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Json<'a>, A::Error> {
        let ctx = self.ctx;
        if self.depth < ctx.path.len() || ctx.numbered {
            return Err(de::Error::custom(GIVE_UP));
        }
        while let Some(item) = seq.next_element_seed(ShapedSeed(ctx.element))? {
            ctx.hand_over("", item)?;
        }
        Ok(Json::Array(Vec::new()))
    }

    // Anything else where an object or the array should be: the ordinary read decides.
    fn visit_unit<E: de::Error>(self) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Json<'a>, E> {
        Err(E::custom(GIVE_UP))
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn reads_like_value_and_borrows_plain_strings() {
        let body = br#"{"a":"x","b":[1,-2,2.5,18446744073709551615,true,null],"c":{"d":"\u00e9"},"a":"y"}"#;
        let j = Json::parse(body).unwrap();
        let v: Value = serde_json::from_slice(body).unwrap();
        // The last occurrence of a repeated key wins, as in Value.
        assert_eq!(j.get("a"), Some(&Json::String(Cow::Borrowed("y"))));
        assert!(matches!(j.get("a"), Some(Json::String(Cow::Borrowed(_)))));
        // Escaped text is decoded (and owned).
        assert_eq!(
            j.get("c").unwrap().get("d"),
            Some(&Json::String("é".into()))
        );
        // Printed as compact JSON (keys in body order, where Value sorts them).
        assert_eq!(serde_json::from_str::<Value>(&j.to_string()).unwrap(), v);
        assert_eq!(j.get("b").unwrap().to_string(), v["b"].to_string());
        assert_eq!(j.get("c").unwrap().to_string(), r#"{"d":"é"}"#);
        // Each key once, where its last occurrence was.
        assert_eq!(
            j.entries().iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["b", "c", "a"]
        );
        assert_eq!(j.entries()[2].1, &Json::String("y".into()));
        assert_eq!(j.get("missing"), None);
        assert_eq!(j.get("b").unwrap().get("x"), None);
        assert_eq!(Json::Null.kind(), "null");
        assert_eq!(j.kind(), "an object");
    }

    #[test]
    fn a_shape_keeps_only_what_it_names() {
        struct Root;
        struct Item;
        static ROOT: Root = Root;
        static ITEM: Item = Item;
        impl Shape for Root {
            fn field(&self, key: &str) -> Option<&'static dyn Shape> {
                (key == "items").then_some(&ITEM as &dyn Shape)
            }
            fn element(&self) -> &'static dyn Shape {
                &EVERYTHING
            }
        }
        impl Shape for Item {
            fn field(&self, key: &str) -> Option<&'static dyn Shape> {
                (key == "id").then_some(&EVERYTHING as &dyn Shape)
            }
            fn element(&self) -> &'static dyn Shape {
                &ITEM
            }
        }
        let body = br#"{"code":0,"items":[{"id":1,"junk":{"a":[1,2]}},{"id":"2","x":null}]}"#;
        let j = Json::parse_shaped(body, &ROOT).unwrap();
        assert_eq!(j.to_string(), r#"{"items":[{"id":1},{"id":"2"}]}"#);
        // Skipped parts are still checked to be JSON, and nothing may follow the value.
        assert!(Json::parse_shaped(br#"{"code":[1,}"#, &ROOT).is_err());
        assert!(Json::parse_shaped(br#"{"items":[]} x"#, &ROOT).is_err());
    }

    #[test]
    fn arrays_stream_element_by_element() {
        let body = br#"{"code":0,"data":{"total":3,"items":[{"a":1},{"a":2},{"a":3}],"x":[1]}}"#;
        let ready = |depth: usize, partial: &Json| match depth {
            0 => partial.get("code") == Some(&Json::Number(0.into())),
            _ => true,
        };
        let mut seen = Vec::new();
        let out = stream_array(
            body,
            &["data", "items"],
            &EVERYTHING,
            &ready,
            &mut |i, _, j| {
                seen.push((i, j.to_string()));
                true
            },
        );
        let Streamed::Done(tree) = out else {
            panic!("not done")
        };
        assert_eq!(
            seen,
            [
                (0, r#"{"a":1}"#.into()),
                (1, r#"{"a":2}"#.into()),
                (2, r#"{"a":3}"#.into())
            ]
        );
        assert_eq!(
            tree.to_string(),
            r#"{"code":0,"data":{"total":3,"items":[],"x":[1]}}"#
        );

        // Not ready (an error answer, or code after data): nothing is handed over.
        let mut n = 0;
        for body in [
            &br#"{"code":1,"data":{"items":[{"a":1}]}}"#[..],
            br#"{"data":{"items":[{"a":1}]},"code":0}"#,
            br#"{"code":0,"data":[]}"#,
            br#"{"code":0,"data":{"items":{"a":1}}}"#,
        ] {
            let out = stream_array(
                body,
                &["data", "items"],
                &EVERYTHING,
                &ready,
                &mut |_, _, _| {
                    n += 1;
                    true
                },
            );
            assert!(matches!(out, Streamed::Fallback));
        }
        assert_eq!(n, 0);

        // Broken off after one element, and stopped by the callback.
        let cut = &body[..body.iter().position(|&b| b == b'2').unwrap()];
        let out = stream_array(
            cut,
            &["data", "items"],
            &EVERYTHING,
            &ready,
            &mut |_, _, _| true,
        );
        assert!(matches!(out, Streamed::Failed { emitted: 1 }));
        let out = stream_array(
            body,
            &["data", "items"],
            &EVERYTHING,
            &ready,
            &mut |_, _, _| false,
        );
        assert!(matches!(out, Streamed::Stopped));
    }

    #[test]
    fn malformed_text_is_an_error() {
        assert!(Json::parse(b"{\"a\":").is_err());
        assert!(Json::parse(b"[1,]").is_err());
        assert!(Json::parse(b"\"\\ud800\"").is_err());
    }
}
