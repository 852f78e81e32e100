//! Hostile input (issue 6, item 4): property tests that `normalize_saved` never panics on
//! anything a platform, a proxy or a broken connection could hand it, for every platform.
//!
//! - arbitrary bytes, and arbitrary JSON documents;
//! - structure-aware mutations of the vendors' example responses in `fixtures/<platform>/`:
//!   any value of the tree (strings holding packed JSON included) replaced by a random value of
//!   any type (huge, negative and fractional numbers, odd strings, containers), keys deleted,
//!   keys written twice, then the text truncated or invalid UTF-8 injected. An `Err` must have
//!   a non-empty message that names the platform;
//! - the unmutated fixtures normalize to at least one order (but for [`REFUSED_FIXTURES`]).
//!
//! Cases are tuned to keep the module near 10 s in debug on two cores; run longer with
//! `PROPTEST_CASES=30000 cargo test --test it props`. A failure prints the exact input (as an
//! escaped byte string): save a minimal one as `fixtures/fuzz-regressions/<platform>-<name>.json`
//! with a test below; while it is not fixed, list its panic in [`KNOWN_PANICS`]. The
//! long-running counterpart is the cargo-fuzz project in `fuzz/` (see `fuzz/README.md`).

use ordersync::platforms::{PlatformId, normalize_saved};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SHOP: &str = "props-shop";

/// Fixtures that normalizing must refuse, with an error naming the platform: an
/// `/order/items/get` response lists order lines, not orders; vv-tool's documented example
/// trade has no `tid` (see `tests/it/vvtool.rs`).
const REFUSED_FIXTURES: &[&str] = &["taobao-tw/order_items_get.json", "vvtool/sold.json"];

/// Panics found and reported but not fixed yet, as `(platform, panic message)`: the properties
/// pass over them so CI stays green, and each has a reproducer in `fixtures/fuzz-regressions/`
/// fed by an ignored test below. Remove the entry (and the `#[ignore]`) with the fix.
const KNOWN_PANICS: &[(PlatformId, &str)] = &[];

/// Cases per property and platform unless `PROPTEST_CASES` says otherwise.
const CASES_BYTES: u32 = 512;
const CASES_JSON: u32 = 512;
const CASES_MUTATED: u32 = 2048;

macro_rules! platform_props {
    ($($module:ident => $platform:expr;)*) => {
        $(
            mod $module {
                use super::*;

                #[test]
                fn arbitrary_bytes_never_panic() {
                    super::arbitrary_bytes($platform);
                }

                #[test]
                fn arbitrary_json_never_panics() {
                    super::arbitrary_json($platform);
                }

                #[test]
                fn mutated_fixtures_never_panic() {
                    super::mutated_fixtures($platform);
                }

                #[test]
                fn fixtures_normalize() {
                    super::fixtures_normalize($platform);
                }
            }
        )*

        #[test]
        fn every_platform_has_properties() {
            assert_eq!(vec![$($platform),*], PlatformId::ALL.to_vec());
        }
    };
}

platform_props! {
    taobao_tw => PlatformId::TaobaoTw;
    taobao_enhanced => PlatformId::TaobaoEnhanced;
    vvtool => PlatformId::Vvtool;
    pandapon_taobao => PlatformId::PandaponTaobao;
    pandapon_1688 => PlatformId::Pandapon1688;
}

// ---------------------------------------------------------------------------------------------
// The properties

fn arbitrary_bytes(platform: PlatformId) {
    run(
        platform,
        CASES_BYTES,
        prop::collection::vec(any::<u8>(), 0..512),
        |bytes| bytes.clone(),
    );
}

fn arbitrary_json(platform: PlatformId) {
    run(platform, CASES_JSON, json_nested(), |doc| doc.to_bytes());
}

fn mutated_fixtures(platform: PlatformId) {
    let seeds = seeds(platform);
    let strategy = (
        any::<Index>(),
        prop::collection::vec(mutation(), 1..=4),
        text_mutation(),
    );
    run(platform, CASES_MUTATED, strategy, |(seed, tree, text)| {
        let (_, doc) = &seeds[seed.index(seeds.len())];
        let mut doc = doc.clone();
        for m in tree {
            m.apply(&mut doc);
        }
        text.apply(doc.to_bytes())
    });
}

fn fixtures_normalize(platform: PlatformId) {
    for (name, body) in fixtures(platform) {
        let result = normalize_saved(platform, &body, SHOP);
        if REFUSED_FIXTURES.contains(&name.as_str()) {
            let err = result.expect_err(&name);
            assert!(err.to_string().contains(platform.as_str()), "{name}: {err}");
            continue;
        }
        let orders = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!orders.is_empty(), "{name}: no orders");
        for o in &orders {
            assert_eq!(o.platform, platform.as_str(), "{name}: {}", o.order_id);
            assert_eq!(o.shop, SHOP, "{name}: {}", o.order_id);
        }
    }
}

/// Feed `render(value)` to `normalize_saved` for every generated value; fail (and shrink) on a
/// panic or on an error that does not name the platform.
fn run<S: Strategy>(
    platform: PlatformId,
    cases: u32,
    strategy: S,
    render: impl Fn(&S::Value) -> Vec<u8>,
) {
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |value| {
        let body = render(&value);
        match check(platform, &body) {
            Err(Failure::Panic(msg)) if KNOWN_PANICS.contains(&(platform, msg.as_str())) => Ok(()),
            Err(failure) => Err(TestCaseError::fail(format!(
                "{failure}\n  input: b\"{}\"",
                body.escape_ascii()
            ))),
            Ok(()) => Ok(()),
        }
    });
    if let Err(e) = result {
        panic!("{platform}: {e}");
    }
}

fn config(cases: u32) -> Config {
    let mut config = Config {
        // A failure prints the input; reproducers go to fixtures/fuzz-regressions by hand.
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

enum Failure {
    Panic(String),
    Unnamed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(msg) => write!(f, "normalize_saved panicked: {msg}"),
            Failure::Unnamed(msg) => write!(f, "error {msg:?} does not name the platform"),
        }
    }
}

/// The property itself: no panic, and an error has a message that names the platform.
fn check(platform: PlatformId, body: &[u8]) -> Result<(), Failure> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        normalize_saved(platform, body, SHOP).map_err(|e| e.to_string())
    }));
    match outcome {
        Err(panic) => Err(Failure::Panic(panic_message(&*panic))),
        Ok(Err(msg)) if msg.trim().is_empty() || !msg.contains(platform.as_str()) => {
            Err(Failure::Unnamed(msg))
        }
        Ok(_) => Ok(()),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".into())
}

// ---------------------------------------------------------------------------------------------
// Reproducers of panics found by fuzzing, fed as saved (see fuzz/README.md)

fn regression(platform: PlatformId, name: &str) {
    let path = fixtures_dir().join("fuzz-regressions").join(name);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Err(failure) = check(platform, &body) {
        panic!("{name}: {failure}");
    }
}

#[test]
fn regression_taobao_tw_module_null() {
    regression(PlatformId::TaobaoTw, "taobao-tw-module-null.json");
}

// ---------------------------------------------------------------------------------------------
// Fixtures

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `(platform-id/file.json, bytes)` for every input fixture of a platform (not the
/// `*.expected.json` outputs), sorted by name.
fn fixtures(platform: PlatformId) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir().join(platform.as_str());
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".expected.json")
        })
        .map(|p| {
            let name = format!(
                "{}/{}",
                platform.as_str(),
                p.file_name().unwrap().to_string_lossy()
            );
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

/// The fixtures of a platform as mutable trees.
fn seeds(platform: PlatformId) -> Vec<(String, J)> {
    fixtures(platform)
        .into_iter()
        .map(|(name, body)| {
            let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, J::from_value(&v))
        })
        .collect()
}

/// Every object key of every fixture, so generated objects can carry real field names.
fn fixture_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = BTreeSet::new();
        for platform in PlatformId::ALL {
            for (_, doc) in seeds(platform) {
                doc.collect_keys(&mut keys);
            }
        }
        keys.into_iter().collect()
    })
}

// ---------------------------------------------------------------------------------------------
// A JSON tree that can be written back as any text: numbers as raw text (beyond 64 bits),
// duplicate keys, JSON packed in strings.

#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    /// A number as raw JSON text.
    Num(String),
    Str(String),
    /// A string holding a JSON container (PandaPon packs fields so): mutated inside, written
    /// back as a string.
    Packed(Box<J>),
    Arr(Vec<J>),
    /// Members in text order; a key may appear twice.
    Obj(Vec<(String, J)>),
}

impl J {
    fn from_value(v: &Value) -> J {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Num(n.to_string()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(inner @ (Value::Array(_) | Value::Object(_))) => {
                    J::Packed(Box::new(J::from_value(&inner)))
                }
                _ => J::Str(s.clone()),
            },
            Value::Array(items) => J::Arr(items.iter().map(J::from_value).collect()),
            Value::Object(members) => J::Obj(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), J::from_value(v)))
                    .collect(),
            ),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => out.push_str(&quote(s)),
            J::Packed(inner) => {
                let mut text = String::new();
                inner.write(&mut text);
                out.push_str(&quote(&text));
            }
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote(k));
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    fn children_mut(&mut self) -> Vec<&mut J> {
        match self {
            J::Packed(inner) => vec![&mut **inner],
            J::Arr(items) => items.iter_mut().collect(),
            J::Obj(members) => members.iter_mut().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    fn children(&self) -> Vec<&J> {
        match self {
            J::Packed(inner) => vec![&**inner],
            J::Arr(items) => items.iter().collect(),
            J::Obj(members) => members.iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    /// Nodes (pre-order) for which `pred` holds.
    fn count(&self, pred: fn(&J) -> bool) -> usize {
        usize::from(pred(self)) + self.children().iter().map(|c| c.count(pred)).sum::<usize>()
    }

    /// The `n`th node (pre-order, from 0) for which `pred` holds.
    fn nth_mut(&mut self, pred: fn(&J) -> bool, mut n: usize) -> Option<&mut J> {
        if pred(self) {
            if n == 0 {
                return Some(self);
            }
            n -= 1;
        }
        for child in self.children_mut() {
            let k = child.count(pred);
            if n < k {
                return child.nth_mut(pred, n);
            }
            n -= k;
        }
        None
    }

    fn collect_keys(&self, keys: &mut BTreeSet<String>) {
        if let J::Obj(members) = self {
            keys.extend(members.iter().map(|(k, _)| k.clone()));
        }
        for child in self.children() {
            child.collect_keys(keys);
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

fn any_node(_: &J) -> bool {
    true
}

fn container(j: &J) -> bool {
    matches!(j, J::Obj(_) | J::Arr(_) | J::Packed(_))
}

fn non_empty_object(j: &J) -> bool {
    matches!(j, J::Obj(members) if !members.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Mutations

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace any node (the root included) with a value.
    Replace(Index, J),
    /// Replace an object or array (a packed one included) with a value: containers are a
    /// fifth of the nodes but where most shape assumptions live.
    ReplaceContainer(Index, J),
    /// Delete one member of an object.
    DeleteKey(Index, Index),
    /// Write one member of an object twice, before or after itself, the copy holding the same
    /// value or another one.
    DuplicateKey {
        object: Index,
        member: Index,
        value: Option<J>,
        before: bool,
    },
}

impl Mutation {
    fn apply(&self, doc: &mut J) {
        match self {
            Mutation::Replace(node, value) => replace(doc, any_node, node, value),
            Mutation::ReplaceContainer(node, value) => replace(doc, container, node, value),
            Mutation::DeleteKey(object, member) => {
                let Some(members) = nth_object(doc, object) else {
                    return;
                };
                let i = member.index(members.len());
                members.remove(i);
            }
            Mutation::DuplicateKey {
                object,
                member,
                value,
                before,
            } => {
                let Some(members) = nth_object(doc, object) else {
                    return;
                };
                let i = member.index(members.len());
                let (key, old) = members[i].clone();
                let copy = (key, value.clone().unwrap_or(old));
                members.insert(if *before { i } else { i + 1 }, copy);
            }
        }
    }
}

fn replace(doc: &mut J, pred: fn(&J) -> bool, node: &Index, value: &J) {
    let nodes = doc.count(pred);
    if nodes > 0 {
        *doc.nth_mut(pred, node.index(nodes)).expect("in range") = value.clone();
    }
}

fn nth_object<'a>(doc: &'a mut J, object: &Index) -> Option<&'a mut Vec<(String, J)>> {
    let objects = doc.count(non_empty_object);
    if objects == 0 {
        return None;
    }
    match doc.nth_mut(non_empty_object, object.index(objects)) {
        Some(J::Obj(members)) => Some(members),
        _ => unreachable!("nth_mut returns a non-empty object"),
    }
}

/// Byte sequences that are not UTF-8: a lone 0xFF, an overlong NUL, a UTF-16 surrogate, a lone
/// continuation byte, a cut 3-byte sequence, a code point above U+10FFFF.
const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xe4\xb8",
    b"\xf4\x90\x80\x80",
];

/// Damage to the text after the tree was written.
#[derive(Debug, Clone)]
struct TextMutation {
    invalid_utf8: Option<(Index, usize)>,
    truncate: Option<Index>,
}

impl TextMutation {
    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if let Some((at, which)) = &self.invalid_utf8 {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, INVALID_UTF8[*which].iter().copied());
        }
        if let Some(at) = &self.truncate {
            bytes.truncate(at.index(bytes.len() + 1));
        }
        bytes
    }
}

fn text_mutation() -> impl Strategy<Value = TextMutation> {
    (
        prop::option::weighted(0.15, (any::<Index>(), 0..INVALID_UTF8.len())),
        prop::option::weighted(0.15, any::<Index>()),
    )
        .prop_map(|(invalid_utf8, truncate)| TextMutation {
            invalid_utf8,
            truncate,
        })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), json_value()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        1 => (any::<Index>(), hollow_value()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        2 => (any::<Index>(), json_value()).prop_map(|(n, v)| Mutation::ReplaceContainer(n, v)),
        1 => (any::<Index>(), hollow_value())
            .prop_map(|(n, v)| Mutation::ReplaceContainer(n, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(o, m)| Mutation::DeleteKey(o, m)),
        2 => (
            any::<Index>(),
            any::<Index>(),
            prop::option::of(json_value()),
            any::<bool>()
        )
            .prop_map(|(object, member, value, before)| Mutation::DuplicateKey {
                object,
                member,
                value,
                before,
            }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Random JSON values

/// Numbers as JSON text: every 64-bit integer, integers beyond 64 bits, floats, and edges
/// (`1e999` is valid JSON that no f64 holds).
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{19,40}",
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "0",
            "-0",
            "-1",
            "0.5",
            "-0.01",
            "100.005",
            "1e2",
            "1E-2",
            "1e308",
            "1e999",
            "-1e999",
            "1e-400",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "79228162514264337593543950336",
        ])
        .prop_map(String::from),
    ]
}

/// Strings: arbitrary text, numbers, dates in and out of range, and odd ones.
fn string_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,16}",
        number_text(),
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}( [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2})?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        prop::sample::select(vec![
            "",
            " ",
            "null",
            "true",
            "NaN",
            "inf",
            "-",
            ".",
            "1.",
            ".5",
            " 42 ",
            "1,000.00",
            "¥12.50",
            "0x10",
            "[]",
            "{}",
            "[{}]",
            "[null]",
            "[{\"a\":",
            "\u{0}",
            "\u{feff}",
            "\u{1F600}",
            "2020-02-30 00:00:00",
            "9999-12-31 23:59:59",
            "0000-01-01 00:00:00",
            "1970-01-01 00:00:00",
            "262143-12-31 23:59:59",
        ])
        .prop_map(String::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<Index>().prop_map(|i| {
            let keys = fixture_keys();
            keys[i.index(keys.len())].clone()
        }),
        1 => "\\PC{0,8}",
    ]
}

/// `null`, `[]` and `{}`: the likeliest shapes of a broken response, made frequent.
fn hollow_value() -> impl Strategy<Value = J> {
    prop::sample::select(vec![J::Null, J::Arr(vec![]), J::Obj(vec![])])
}

/// A random value: a scalar three times in four, else a nested container.
fn json_value() -> impl Strategy<Value = J> {
    prop_oneof![3 => json_scalar(), 1 => json_nested()]
}

fn json_scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number_text().prop_map(J::Num),
        string_text().prop_map(J::Str),
    ]
}

/// Mostly containers, up to three levels deep (strings holding packed JSON included).
fn json_nested() -> impl Strategy<Value = J> {
    json_scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            2 => prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
            2 => prop::collection::vec((key(), inner.clone()), 0..4).prop_map(J::Obj),
            1 => inner.prop_map(|j| J::Packed(Box::new(j))),
        ]
    })
}
