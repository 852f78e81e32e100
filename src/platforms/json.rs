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

impl<'a> Json<'a> {
    /// Parse a body; strings without escapes borrow from it.
    pub fn parse(body: &'a [u8]) -> serde_json::Result<Json<'a>> {
        serde_json::from_slice(body)
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
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

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
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Object(entries))
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
    fn malformed_text_is_an_error() {
        assert!(Json::parse(b"{\"a\":").is_err());
        assert!(Json::parse(b"[1,]").is_err());
        assert!(Json::parse(b"\"\\ud800\"").is_err());
    }
}
