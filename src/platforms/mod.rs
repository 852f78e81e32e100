//! The adapter contract and the registry of the five platforms.
//!
//! An adapter knows one platform's wire format and nothing else: it builds a signed request
//! for one page of one time window, parses a page into normalized [`Order`]s, and says how many
//! results there are or whether there is a next page. Where it needs more than one request (a
//! token, a page's lines, orders looked up by id) it hands out an [`Exchange`]: requests to
//! send and a reader of their answers. Adapters do no I/O: `sync::sender` sends for them. The
//! pull loop in `sync` owns windows, page order, retries, rate limits, dedupe and sinks, and
//! knows no platform; everything else finds a platform through [`PLATFORMS`].

pub mod cut;
pub mod hooks;
pub mod json;
pub mod pandapon;
pub mod signing;
pub mod taobao_enhanced;
pub mod taobao_tw;
pub mod trade;
pub mod vvtool;

use crate::error::PlatformError;
use crate::model::Order;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

pub use crate::platform_id::PlatformId;
pub use pandapon::AmountUnit;

impl PlatformId {
    /// The id as users type it.
    pub fn as_str(self) -> &'static str {
        self.platform().spec.id
    }

    /// What the platform offers and how it must be called.
    pub fn spec(self) -> &'static PlatformSpec {
        self.platform().spec
    }

    /// The platform's entry in the registry.
    pub fn platform(self) -> &'static Platform {
        PLATFORMS
            .iter()
            .find(|p| p.id == self)
            .expect("every platform id is registered")
    }
}

/// Every platform, listed once: what `ordersync` knows of a platform, it finds here.
pub static PLATFORMS: &[&Platform] = &[
    &taobao_tw::PLATFORM,
    &taobao_enhanced::PLATFORM,
    &vvtool::PLATFORM,
    &pandapon::PLATFORM_TAOBAO,
    &pandapon::PLATFORM_1688,
];

/// Reads a saved answer order by order into `emit` (see [`normalize_saved_each`]).
pub type Reader = for<'a> fn(
    &'a [u8],
    &'a str,
    &SavedOptions,
    &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError>;

/// One platform as the rest of ordersync sees it.
pub struct Platform {
    pub id: PlatformId,
    /// Static facts (title, limits, windows), shown by `ordersync platforms`.
    pub spec: &'static PlatformSpec,
    /// The config keys its shops take besides the common ones (`platform`, `base_url`,
    /// `rate_limit`, `allow_http`); any other key in its shops is an error.
    pub keys: &'static [&'static str],
    /// Those of `keys` that hold secrets (`"..."`, `{ env = ... }` or `{ file = ... }`).
    pub secret_keys: &'static [&'static str],
    /// `config check --probe-signature`, for a platform that does not publish its signature
    /// formula; `None` where it does.
    pub probe_signature: Option<hooks::ProbeSignature>,
    /// Build the adapter for a config shop, checking its credentials.
    pub adapter: fn(&crate::config::Shop) -> anyhow::Result<Box<dyn Adapter>>,
    /// Read a saved answer (`ordersync normalize`).
    pub read_saved: Reader,
    /// Where a saved list answer keeps its orders, and how one of them is read alone, so
    /// that `normalize` reads a large answer as a stream.
    pub saved_list: SavedList,
}

/// How `normalize` reads a platform's saved list answer as a stream (see [`cut`]): the
/// orders are cut out of the answer and read in batches, by `read_many` where the platform has
/// one, else one by one with `read_one`; the rest of the answer (its envelope) is checked by
/// the platform's [`Platform::read_saved`].
pub struct SavedList {
    pub at: cut::ListAt,
    pub read_one: ReadOne,
    pub read_many: Option<ReadMany>,
    /// Told how many orders were cut out of an answer once they are all read, for what is
    /// said once per answer.
    pub after: Option<fn(usize)>,
    /// Whether the answer's amounts may come in a unit of the user's choice
    /// (`normalize --amount-unit`): the platform does not document its unit.
    pub amount_unit: bool,
}

/// Read the order numbered `index`, cut out of a saved list answer.
pub type ReadOne = fn(&[u8], usize, &str, &SavedOptions) -> Result<Order, PlatformError>;

/// Where an order cut out of a saved list answer is in a batch: its number in the list, and
/// the start and end of its bytes.
pub type Span = (usize, usize, usize);

/// Read the orders of a batch (cut out of a saved list answer and put back to back) in order,
/// each into `emit`, which returns `false` to stop.
pub type ReadMany =
    fn(&[u8], &[Span], &str, &SavedOptions, &mut dyn FnMut(Result<Order, PlatformError>) -> bool);

impl SavedList {
    /// Read a batch with the platform's `read_many`, or order by order.
    pub fn read(
        &self,
        batch: &[u8],
        spans: &[Span],
        shop: &str,
        opts: &SavedOptions,
        emit: &mut dyn FnMut(Result<Order, PlatformError>) -> bool,
    ) {
        if let Some(read_many) = self.read_many {
            return read_many(batch, spans, shop, opts, emit);
        }
        for &(index, start, end) in spans {
            if !emit((self.read_one)(&batch[start..end], index, shop, opts)) {
                return;
            }
        }
    }
}

/// What `normalize` is told besides the answer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SavedOptions {
    /// `--amount-unit`: how PandaPon's Taobao page states its amounts.
    pub amount_unit: Option<AmountUnit>,
}

/// Which time a pull filters on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// Orders created in the range.
    Created,
    /// Orders created or changed in the range (what incremental sync uses).
    Modified,
}

/// What the config reader must know of each registered platform.
pub fn shop_kinds() -> Vec<crate::config::ShopKind> {
    PLATFORMS
        .iter()
        .map(|p| crate::config::ShopKind {
            id: p.id,
            keys: p.keys,
            secret_keys: p.secret_keys,
            default_base_url: p.spec.default_base_url,
            default_rate_limit: p.spec.default_rate_limit,
        })
        .collect()
}

impl fmt::Display for By {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            By::Created => "created",
            By::Modified => "modified",
        })
    }
}

/// The order in which a list endpoint returns results within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    /// Oldest first on the filtered time: page forward.
    Ascending,
    /// Newest first (or unspecified): page from the last page back to the first, so that
    /// orders moving to the front during the scan are not skipped.
    NewestFirst,
    /// Only a `has_next` flag: page forward and re-check.
    HasNextOnly,
}

/// How a platform serves one `--by` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByMode {
    /// The platform filters on this time itself, in windows of at most `max_window`.
    Native { max_window: Option<Duration> },
    /// Served by pulling modified-time windows from `since` to now and keeping orders
    /// created in range.
    ViaModified,
    /// Not available on this platform; the text says why.
    Unsupported(&'static str),
}

/// Static facts about a platform, shown by `ordersync platforms`.
#[derive(Debug)]
pub struct PlatformSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub default_base_url: &'static str,
    /// Documented or safe requests per second.
    pub default_rate_limit: u32,
    /// The platform's own status codes its list filters on (`--status` passes them through).
    pub statuses: &'static [&'static str],
    pub max_page_size: u32,
    pub list_order: ListOrder,
    pub by_created: ByMode,
    pub by_modified: ByMode,
    /// Default window length for modified-time scans.
    pub default_window: Duration,
    /// Credential keys, for `platforms` and config errors.
    pub config_keys: &'static str,
    pub notes: &'static str,
}

impl PlatformSpec {
    /// How this platform serves a `--by` mode.
    pub fn by_mode(&self, by: By) -> ByMode {
        match by {
            By::Created => self.by_created,
            By::Modified => self.by_modified,
        }
    }
}

/// The time range of one scan, half-open `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = crate::model::platform_offset();
        write!(
            f,
            "[{}, {})",
            self.start.with_timezone(&o).format("%Y-%m-%d %H:%M:%S"),
            self.end.with_timezone(&o).format("%Y-%m-%d %H:%M:%S")
        )
    }
}

/// One page to fetch.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub window: Window,
    /// The filter the platform applies (after `ViaModified`, always `Modified`).
    pub by: By,
    pub status: Option<String>,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

/// One parsed page.
#[derive(Debug, Default)]
pub struct ListPage {
    pub orders: Vec<Order>,
    /// Results in the whole window, when the platform says.
    pub total: Option<u64>,
    /// Whether another page follows, when the platform says.
    pub has_next: Option<bool>,
}

/// How a request goes on the wire. Built anew (and signed anew) for every attempt.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// Appended to the shop's base URL (`/orders/get`).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Request body.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(Value),
}

/// One platform adapter. See the module docs for the division of labour.
pub trait Adapter: Send + Sync {
    /// Static facts.
    fn spec(&self) -> &'static PlatformSpec;

    /// The list endpoint's path, for messages.
    fn list_endpoint(&self, by: By) -> &'static str;

    /// Build and sign the request for one page; `now` is the signing time of this attempt.
    fn list_request(&self, q: &PageQuery, now: DateTime<Utc>) -> Result<ApiRequest, PlatformError>;

    /// Parse one list response into normalized orders.
    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError>;

    /// The instants a list request for window `w` covers, half-open: `w` itself where the
    /// platform's filter selects exactly `[start, end)`, wider where the bounds it is sent
    /// include their ends (`ordersync verify` counts the mirror's orders over this range).
    fn listed_range(&self, w: Window) -> Window {
        w
    }

    /// A credentials exchange to run before the next call (`refused` is `None`: e.g. a token
    /// not fetched yet, or about to expire), or after a call was refused as unauthenticated
    /// (`refused` is the refusal: renew, and the call is retried once). `None`: nothing due,
    /// or nothing renewing could fix.
    fn credentials(
        &self,
        _refused: Option<&PlatformError>,
    ) -> Option<Box<dyn Exchange<'_, ()> + '_>> {
        None
    }

    /// What a list page did not carry (e.g. order lines): an exchange that completes it.
    fn complete<'a>(&'a self, page: ListPage) -> Box<dyn Exchange<'a, ListPage> + 'a> {
        Box::new(Done(Ok(page)))
    }

    /// Named orders in full, for `ordersync get`.
    fn lookup<'a>(&'a self, _ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Done(Err(PlatformError::Request {
            platform: self.spec().id,
            message: "this platform cannot look an order up by id".into(),
        })))
    }
}

/// One request of an exchange. `build` is called for every attempt (each is signed anew).
pub struct Call<'a> {
    /// The endpoint's path, for messages.
    pub endpoint: &'static str,
    pub page: Option<u32>,
    pub build: Box<dyn Fn(DateTime<Utc>) -> Result<ApiRequest, PlatformError> + Send + Sync + 'a>,
}

/// A conversation of requests and answers that ends in a `T`, without I/O: the sender in
/// `sync` asks for the next request, sends it, and hands the answer back.
pub trait Exchange<'a, T>: Send {
    /// The next request to send, or `None` when the exchange is over.
    fn next(&mut self) -> Option<Call<'a>>;
    /// Read the answer to the request `next` returned. An answer that fails to read is asked
    /// for again, so nothing may change until reading succeeds.
    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError>;
    /// A failed request's error, as the platform means it.
    fn refused(&self, e: PlatformError) -> PlatformError {
        e
    }
    /// The result, once `next` returned `None`.
    fn finish(self: Box<Self>) -> Result<T, PlatformError>;
}

/// An exchange with nothing to send.
pub struct Done<T>(pub Result<T, PlatformError>);

impl<'a, T: Send> Exchange<'a, T> for Done<T> {
    fn next(&mut self) -> Option<Call<'a>> {
        None
    }
    fn read(&mut self, _body: &[u8]) -> Result<(), PlatformError> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<T, PlatformError> {
        self.0
    }
}

/// Normalize a saved raw response of `platform` (for `ordersync normalize`).
pub fn normalize_saved(
    platform: PlatformId,
    body: &[u8],
    shop: &str,
) -> Result<Vec<Order>, PlatformError> {
    let mut orders = Vec::new();
    let mut failed = None;
    normalize_saved_each(platform, body, shop, &mut |d| match d() {
        Ok(o) => {
            orders.push(o);
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    failed.map_or(Ok(orders), Err)
}

/// An order read from a body, normalized when called. PandaPon orders are handed over before
/// they are normalized so that `normalize` can do that on its writing thread; the others come
/// normalized already.
pub type Deferred<'a> = Box<dyn FnOnce() -> Result<Order, PlatformError> + Send + 'a>;

/// As [`normalize_saved`], handing each order to `emit` as soon as it is read (for `ordersync
/// normalize`, which writes while it reads); `emit` returns `false` to stop reading. On an
/// error, the orders before the one at fault have been emitted.
pub fn normalize_saved_each<'a>(
    platform: PlatformId,
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    (platform.platform().read_saved)(body, shop, &SavedOptions::default(), emit)
}

/// Parse a JSON body, naming the JSON path of the first problem.
///
/// The body is parsed once without tracking paths (the common, well-formed case runs at full
/// speed); only when that fails is it parsed again with path tracking, for the message.
pub fn parse_json<'de, T: serde::Deserialize<'de>>(
    body: &'de [u8],
    platform: &'static str,
    endpoint: &str,
    page: Option<u32>,
) -> Result<T, PlatformError> {
    let fast: serde_json::Result<T> = json::over_body!(body, |de| {
        T::deserialize(&mut de).and_then(|v| de.end().map(|()| v))
    });
    if let Ok(v) = fast {
        return Ok(v);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let garbled = |e: &serde_json::Error| PlatformError::Garbled {
        platform,
        endpoint: endpoint.to_string(),
        page,
        detail: e.to_string(),
        saved_body: None,
    };
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // Parsed this time: what failed is the end (trailing characters).
        Ok(v) => de.end().map(|()| v).map_err(|e| garbled(&e)),
        Err(e) => Err(match e.inner().classify() {
            serde_json::error::Category::Data => PlatformError::Malformed {
                platform,
                endpoint: endpoint.to_string(),
                page,
                path: display_path(&e.path().to_string()),
                detail: e.inner().to_string(),
                saved_body: None,
            },
            _ => garbled(e.inner()),
        }),
    }
}

/// Parse a JSON body into a [`json::Json`] tree holding only what `shape` names. Any valid
/// JSON parses, so the only failure is a garbled body.
pub fn parse_json_shaped<'a>(
    body: &'a [u8],
    shape: &'static dyn json::Shape,
    platform: &'static str,
    endpoint: &str,
    page: Option<u32>,
) -> Result<json::Json<'a>, PlatformError> {
    json::Json::parse_shaped(body, shape).map_err(|e| PlatformError::Garbled {
        platform,
        endpoint: endpoint.to_string(),
        page,
        detail: e.to_string(),
        saved_body: None,
    })
}

/// [`parse_json`] of a part of an answer found at JSON path `at()` (an order cut out of it):
/// the paths in its errors are the answer's. The path is only made for an error.
pub fn parse_json_in<'de, T: serde::Deserialize<'de>>(
    part: &'de [u8],
    platform: &'static str,
    endpoint: &str,
    at: impl FnOnce() -> String,
) -> Result<T, PlatformError> {
    parse_json(part, platform, endpoint, None).map_err(|e| match e {
        PlatformError::Malformed {
            platform,
            endpoint,
            page,
            path,
            detail,
            saved_body,
        } => PlatformError::Malformed {
            platform,
            endpoint,
            page,
            path: format!("{}{}", at(), path.strip_prefix('$').unwrap_or(&path)),
            detail,
            saved_body,
        },
        other => other,
    })
}

fn display_path(p: &str) -> String {
    if p == "." || p.is_empty() {
        "$".into()
    } else {
        format!("$.{p}")
    }
}

/// A JSON value that should be text but may arrive as a number (ids, amounts).
#[derive(Debug, Clone, PartialEq)]
pub enum TextOrNumber {
    Text(String),
    Int(i64),
    UInt(u64),
    Float(f64),
}

/// Read as a [`TextOrNumberRef`], then owned: text that could be borrowed is copied once.
impl<'de> serde::Deserialize<'de> for TextOrNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TextOrNumberRef::deserialize(d).map(TextOrNumberRef::owned)
    }
}

/// [`TextOrNumber`] borrowing its text from the body where it can (text without escapes), for
/// wire structs read on one thread and normalized on another: nothing is allocated while
/// reading, and what normalizing allocates is freed by the same thread. Read directly (not
/// `#[serde(untagged)]`, which buffers every value first).
#[derive(Debug, Clone, PartialEq)]
pub enum TextOrNumberRef<'a> {
    Text(std::borrow::Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for TextOrNumberRef<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TextOrNumberRef<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("text or a number")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<TextOrNumberRef<'de>, E> {
                Ok(TextOrNumberRef::Text(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<TextOrNumberRef<'de>, E> {
                Ok(TextOrNumberRef::Text(std::borrow::Cow::Owned(
                    s.to_string(),
                )))
            }
            fn visit_string<E>(self, s: String) -> Result<TextOrNumberRef<'de>, E> {
                Ok(TextOrNumberRef::Text(std::borrow::Cow::Owned(s)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<TextOrNumberRef<'de>, E> {
                Ok(TextOrNumberRef::Int(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<TextOrNumberRef<'de>, E> {
                Ok(i64::try_from(n).map_or(TextOrNumberRef::UInt(n), TextOrNumberRef::Int))
            }
            fn visit_f64<E>(self, n: f64) -> Result<TextOrNumberRef<'de>, E> {
                Ok(TextOrNumberRef::Float(n))
            }
        }
        d.deserialize_any(V)
    }
}

impl TextOrNumberRef<'_> {
    /// The owned value, for the helpers that take one.
    pub fn owned(self) -> TextOrNumber {
        match self {
            TextOrNumberRef::Text(s) => TextOrNumber::Text(s.into_owned()),
            TextOrNumberRef::Int(i) => TextOrNumber::Int(i),
            TextOrNumberRef::UInt(u) => TextOrNumber::UInt(u),
            TextOrNumberRef::Float(f) => TextOrNumber::Float(f),
        }
    }
}

impl TextOrNumber {
    /// As text; integers are printed exactly, floats via their shortest round-trip form.
    pub fn into_string(self) -> String {
        match self {
            TextOrNumber::Text(s) => s,
            TextOrNumber::Int(i) => i.to_string(),
            TextOrNumber::UInt(u) => u.to_string(),
            TextOrNumber::Float(f) => f.to_string(),
        }
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_platform_is_registered_once_in_documented_order() {
        let ids: Vec<PlatformId> = PLATFORMS.iter().map(|p| p.id).collect();
        assert_eq!(ids, PlatformId::ALL.to_vec());
        for p in PLATFORMS {
            assert_eq!(PlatformId::parse(p.spec.id), Ok(p.id), "{}", p.spec.id);
            assert_eq!(p.id.to_string(), p.spec.id);
            for k in p.secret_keys {
                assert!(p.keys.contains(k), "{}: secret {k} is not a key", p.spec.id);
            }
        }
    }

    /// The keys a platform's entry lists are the keys its adapter reads: a key listed but
    /// not in the adapter's own `Keys` struct would pass the config check and then be
    /// refused when the shop is used.
    #[test]
    fn every_listed_key_is_read_by_the_adapter() {
        for p in PLATFORMS {
            let mut text = format!("[shops.s]\nplatform = \"{}\"\n", p.spec.id);
            for k in p.keys {
                text.push_str(&format!("{k} = \"x\"\n"));
            }
            let config = Config::parse(&text, std::path::Path::new("t.toml"), &shop_kinds())
                .unwrap_or_else(|e| panic!("{}: {e:#}", p.spec.id));
            if let Err(e) = (p.adapter)(&config.shops[0]) {
                let e = format!("{e:#}");
                assert!(!e.contains("unknown field"), "{}: {e}", p.spec.id);
            }
        }
    }

    #[test]
    fn a_saved_answer_is_read_by_its_platforms_reader() {
        let body = include_bytes!("../../fixtures/taobao-enhanced/list.json");
        let expected: Vec<serde_json::Value> = serde_json::from_slice(include_bytes!(
            "../../fixtures/taobao-enhanced/list.expected.json"
        ))
        .unwrap();
        let got = normalize_saved(PlatformId::TaobaoEnhanced, body, "fixture").unwrap();
        let ids: Vec<&str> = got.iter().map(|o| o.order_id.as_str()).collect();
        let want: Vec<&str> = expected
            .iter()
            .map(|o| o["order_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, want);
        // Another platform's reader refuses it.
        assert!(normalize_saved(PlatformId::TaobaoTw, body, "fixture").is_err());
    }
}
