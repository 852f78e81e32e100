//! PandaPon OpenAPI, an agent in front of Taobao and 1688: `POST /v2/taobao/order/page`
//! (`pandapon-taobao`) and `POST /v2/alibaba/order/page` (`pandapon-1688`).
//!
//! Both endpoints take the same signed headers (`access-key`, `timestamp` in epoch ms,
//! `nonce-str`, `user-id`, `signature`) and a JSON body, and answer `code == 200` with
//! `data: {total, data: [...]}`. The signature formula is not public: the five candidate
//! schemes of `platforms.md` are implemented and chosen per shop with `signature_scheme`
//! (default `md5-query-key`), and a refused signature names the scheme in use and the others.
//!
//! Paging is `pageNum`/`pageSize` against `data.total`. The only time filters are on creation
//! (`beginDateTime`/`endDateTime` on the Taobao page, `orderTimeBegin`/`orderTimeEnd` on the 1688
//! page), sent as `yyyy-MM-dd HH:mm:ss` China time (the start rounded down and the end rounded
//! up to the second; the platform treats both as inclusive, so an order on a window boundary is
//! listed twice and dropped as a duplicate, and none falls between windows); neither page has a
//! modification time. The
//! Taobao page lists oldest first (the seed's example page is in ascending creation order), the
//! 1688 page newest first. The 1688 page's amounts are integers in fen; the Taobao page's unit
//! is not documented and is the shop's `amount_unit` (default fen). Several fields are JSON
//! packed in strings; one that does not parse is warned about and left null, and the order is
//! still emitted.
//!
//! Submodules: `scheme` (signature schemes, amount unit), `envelope` (answer and errors),
//! `page` (the one reader of a page, order by order, for `pull` and `normalize`), `read` (wire
//! values), `taobao` and `alibaba` (the two pages' orders), [`probe`] (`config check
//! --probe-signature`).

mod alibaba;
mod envelope;
mod page;
pub mod probe;
mod read;
mod scheme;
mod taobao;

use envelope::{Ctx, Head, api_error, malformed, value_text};
use read::{
    At, OrderedPairs, Sub, json_source, order_id, own, quantity, text, text_of, tree_str, value_str,
};
pub use scheme::{AmountUnit, Scheme, nonce};

use super::cut::{Container, ListAt};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Call, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec,
};
use super::{SavedList, SavedOptions, Span};
use crate::config::{SecretRef, Shop};
use crate::error::{PlatformError, usage};
use crate::model::{Order, Status, Timestamp, platform_offset, warn_unknown_status};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;

pub const ID_TAOBAO: &str = "pandapon-taobao";
pub const ID_1688: &str = "pandapon-1688";
pub const PATH_TAOBAO: &str = "/v2/taobao/order/page";
pub const PATH_1688: &str = "/v2/alibaba/order/page";
/// The seeds document no maximum page size; 20 is the Taobao page's documented default and
/// the largest size known to be served in full (a server that silently capped a larger size
/// would make page N skip orders).
const PAGE_SIZE: u32 = 20;

pub static SPEC_TAOBAO: PlatformSpec = PlatformSpec {
    id: ID_TAOBAO,
    title: "PandaPon OpenAPI, Taobao order page",
    default_base_url: "https://api.pandapon.com",
    default_rate_limit: 5,
    statuses: &["0", "1", "2", "3", "4", "10", "11"],
    max_page_size: PAGE_SIZE,
    list_order: ListOrder::Ascending,
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Unsupported(
        "PandaPon's Taobao order page filters on creation time only (beginDateTime/endDateTime) \
         and its orders carry no modification time; use --by created",
    ),
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "access_key, secret_key, user_id, signature_scheme (optional), amount_unit \
                  (optional: fen or yuan)",
    notes: "signature scheme per shop (signature_scheme, default md5-query-key; find it with \
            `config check --online --shop NAME --probe-signature`); oldest first; the amount \
            unit is not documented: amount_unit = \"fen\" (default, as on the 1688 page) or \
            \"yuan\"; no unit prices are given; discount = sub-order purchaseAmounts + \
            domesticPostFees - purchaseAmount, null until the sub-orders have amounts; page size \
            20 is the documented default (no maximum is documented); the end second of a range \
            is inclusive",
};

pub static SPEC_1688: PlatformSpec = PlatformSpec {
    id: ID_1688,
    title: "PandaPon OpenAPI, 1688 order page",
    default_base_url: "https://api.pandapon.com",
    default_rate_limit: 5,
    statuses: &["0", "1", "2", "3", "4", "10", "11"],
    max_page_size: PAGE_SIZE,
    list_order: ListOrder::NewestFirst,
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Unsupported(
        "PandaPon's 1688 order page filters on creation time only (orderTimeBegin/orderTimeEnd) \
         and its orders carry no modification time; use --by created",
    ),
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "access_key, secret_key, user_id, signature_scheme (optional)",
    notes: "signature scheme per shop (signature_scheme, default md5-query-key; find it with \
            `config check --online --shop NAME --probe-signature`); amounts in fen; orderStatus \
            codes are not documented for 1688: the Taobao page's table (0 awaiting payment, \
            1/2 paid, 3/4 cancelled, 10 awaiting shipment, 11 shipped) is assumed, and any other \
            code is warned about and kept as unknown; a full refund (refundStatus not 0, \
            refundAmount = totalAmount) is refunded; discount = productAmount + shippingFee - \
            totalAmount (the discount field is not what is taken off); line totals are \
            itemAmount as given (invariant B is not promised); tbOrderId is source_order_id; \
            page size 20 (no maximum is documented); the end second of a range is inclusive",
};

// ---------------------------------------------------------------------------------------------
// The two endpoints

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Taobao,
    Alibaba,
}

impl Endpoint {
    fn of(p: PlatformId) -> Option<Endpoint> {
        match p {
            PlatformId::PandaponTaobao => Some(Endpoint::Taobao),
            PlatformId::Pandapon1688 => Some(Endpoint::Alibaba),
            _ => None,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Endpoint::Taobao => ID_TAOBAO,
            Endpoint::Alibaba => ID_1688,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Taobao => PATH_TAOBAO,
            Endpoint::Alibaba => PATH_1688,
        }
    }

    fn spec(self) -> &'static PlatformSpec {
        match self {
            Endpoint::Taobao => &SPEC_TAOBAO,
            Endpoint::Alibaba => &SPEC_1688,
        }
    }

    /// Body keys of the creation-time filter.
    fn time_fields(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::Taobao => ("beginDateTime", "endDateTime"),
            Endpoint::Alibaba => ("orderTimeBegin", "orderTimeEnd"),
        }
    }

    fn status_field(self) -> &'static str {
        match self {
            Endpoint::Taobao => "status",
            Endpoint::Alibaba => "orderStatus",
        }
    }

    /// Read one page as `pull` does: its orders, normalized, and `data.total`.
    fn parse_orders(
        self,
        body: &[u8],
        page: Option<u32>,
        ctx: &Ctx,
    ) -> Result<(Vec<Order>, Option<u64>), PlatformError> {
        match self {
            Endpoint::Taobao => collect::<taobao::WireOrder>(body, page, ctx),
            Endpoint::Alibaba => collect::<alibaba::WireOrder>(body, page, ctx),
        }
    }
}

/// A page read whole by [`page::read_page`], then normalized in order: the first order that
/// cannot be is the page's error.
fn collect<'a, T: WireOrder<'a>>(
    body: &'a [u8],
    page: Option<u32>,
    ctx: &Ctx,
) -> Result<(Vec<Order>, Option<u64>), PlatformError> {
    let mut wire = Vec::new();
    let total = page::read_page::<T>(body, page, ctx, &mut |i, o| {
        wire.push((i, o));
        true
    })?;
    let orders = wire
        .into_iter()
        .map(|(i, o)| o.normalize(ctx, i, page))
        .collect::<Result<_, _>>()?;
    Ok((orders, total))
}

// ---------------------------------------------------------------------------------------------
// The adapter

/// PandaPon's Taobao page in the registry.
pub static PLATFORM_TAOBAO: Platform = Platform {
    id: PlatformId::PandaponTaobao,
    spec: &SPEC_TAOBAO,
    keys: KEYS,
    secret_keys: &["secret_key"],
    probe_signature: Some(probe::hook),
    adapter: |shop| Ok(Box::new(Pandapon::from_shop(shop)?)),
    read_saved: |body, shop, opts, emit| {
        let unit = opts.amount_unit.unwrap_or_default();
        normalize_saved_each_in(PlatformId::PandaponTaobao, body, shop, unit, emit)
    },
    saved_list: SavedList {
        at: ORDER_LIST,
        read_one: |bytes, index, shop, opts| {
            read_one::<taobao::WireOrder>(Endpoint::Taobao, bytes, index, shop, opts)
        },
        read_many: Some(|batch, spans, shop, opts, emit| {
            read_many::<taobao::WireOrder>(Endpoint::Taobao, batch, spans, shop, opts, emit)
        }),
        after: None,
        amount_unit: true,
    },
};

/// PandaPon's 1688 page in the registry.
pub static PLATFORM_1688: Platform = Platform {
    id: PlatformId::Pandapon1688,
    spec: &SPEC_1688,
    keys: KEYS,
    secret_keys: &["secret_key"],
    probe_signature: Some(probe::hook),
    adapter: |shop| Ok(Box::new(Pandapon::from_shop(shop)?)),
    read_saved: |body, shop, _, emit| {
        normalize_saved_each(PlatformId::Pandapon1688, body, shop, emit)
    },
    saved_list: SavedList {
        at: ORDER_LIST,
        read_one: |bytes, index, shop, opts| {
            read_one::<alibaba::WireOrder>(Endpoint::Alibaba, bytes, index, shop, opts)
        },
        read_many: Some(|batch, spans, shop, opts, emit| {
            read_many::<alibaba::WireOrder>(Endpoint::Alibaba, batch, spans, shop, opts, emit)
        }),
        after: None,
        amount_unit: false,
    },
};

/// Where both pages keep their orders: `data.data`.
const ORDER_LIST: ListAt = ListAt {
    path: &["data", "data"],
    container: Container::Array,
};

const KEYS: &[&str] = &[
    "access_key",
    "secret_key",
    "user_id",
    "signature_scheme",
    "amount_unit",
];

/// A PandaPon shop's own config keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    access_key: Option<String>,
    secret_key: Option<SecretRef>,
    user_id: Option<String>,
    signature_scheme: Option<String>,
    /// pandapon-taobao: `"fen"` (default) or `"yuan"`; the seed does not say.
    amount_unit: Option<String>,
}

/// One PandaPon shop, on either endpoint (chosen by the shop's platform).
pub struct Pandapon {
    endpoint: Endpoint,
    pub shop: String,
    access_key: String,
    secret_key: SecretString,
    user_id: String,
    scheme: Scheme,
    amount_unit: AmountUnit,
}

impl Pandapon {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        let where_ = || {
            format!(
                "shop {:?} ({}) in {}",
                shop.name,
                shop.platform,
                shop.source.display()
            )
        };
        let endpoint = Endpoint::of(shop.platform)
            .ok_or_else(|| usage(format!("{}: not a PandaPon shop", where_())))?;
        let r: Keys = shop.keys()?;
        let scheme = match r.signature_scheme.as_deref().map(str::trim) {
            None | Some("") => Scheme::DEFAULT,
            Some(s) => Scheme::parse(s).ok_or_else(|| {
                usage(format!(
                    "{}: `signature_scheme` {s:?} is not a known scheme; the schemes are: {}",
                    where_(),
                    Scheme::names()
                ))
            })?,
        };
        let amount_unit = match r.amount_unit.as_deref().map(str::trim) {
            None => AmountUnit::default(),
            Some(s) => AmountUnit::parse(s).ok_or_else(|| {
                usage(format!(
                    "{}: `amount_unit` {s:?} is not a unit; it is \"fen\" (the default) or \"yuan\"",
                    where_()
                ))
            })?,
        };
        if amount_unit != AmountUnit::default() && endpoint == Endpoint::Alibaba {
            return Err(usage(format!(
                "{}: `amount_unit` applies to pandapon-taobao only (the 1688 page documents fen)",
                where_()
            )));
        }
        Ok(Pandapon {
            endpoint,
            shop: shop.name.clone(),
            access_key: shop.require("access_key", &r.access_key)?,
            secret_key: shop.secret("secret_key", &r.secret_key)?,
            user_id: shop.require("user_id", &r.user_id)?,
            scheme,
            amount_unit,
        })
    }

    /// Build from explicit credentials (tests, sandbox tools).
    pub fn new(
        platform: PlatformId,
        shop: &str,
        access_key: &str,
        secret_key: SecretString,
        user_id: &str,
        scheme: Scheme,
    ) -> Option<Self> {
        Some(Pandapon {
            endpoint: Endpoint::of(platform)?,
            shop: shop.to_string(),
            access_key: access_key.to_string(),
            secret_key,
            user_id: user_id.to_string(),
            scheme,
            amount_unit: AmountUnit::default(),
        })
    }

    /// The same shop with another signature scheme (`config check --probe-signature`).
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The signature scheme in use.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Values to scrub from anything printed or saved.
    pub fn secrets(&self) -> Vec<SecretString> {
        vec![self.secret_key.clone()]
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            endpoint: self.endpoint,
            shop: &self.shop,
            scheme: Some(self.scheme),
            amount_unit: self.amount_unit,
        }
    }

    /// A signed POST of `body` to this shop's endpoint at signing time `now`.
    pub fn signed(&self, body: Value, now: DateTime<Utc>) -> ApiRequest {
        let timestamp = now.timestamp_millis().to_string();
        let nonce = nonce();
        let signature = self.scheme.sign(
            &self.access_key,
            &nonce,
            &timestamp,
            self.secret_key.expose_secret(),
        );
        ApiRequest {
            method: Method::Post,
            path: self.endpoint.path().to_string(),
            query: Vec::new(),
            headers: vec![
                ("access-key".into(), self.access_key.clone()),
                ("timestamp".into(), timestamp),
                ("nonce-str".into(), nonce),
                ("user-id".into(), self.user_id.clone()),
                ("signature".into(), signature),
            ],
            body: Body::Json(body),
        }
    }

    /// The request body for one page.
    fn list_body(&self, q: &PageQuery) -> Result<Value, PlatformError> {
        let platform = self.endpoint.id();
        if q.by != By::Created {
            return Err(PlatformError::Request {
                platform,
                message: "PandaPon filters on creation time only; use --by created".into(),
            });
        }
        let mut body = Map::new();
        body.insert("pageNum".into(), json!(q.page));
        body.insert("pageSize".into(), json!(q.page_size));
        let (begin, end) = self.endpoint.time_fields();
        body.insert(begin.into(), json!(china_time(q.window.start, false)));
        body.insert(end.into(), json!(china_time(q.window.end, true)));
        if let Some(s) = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            body.insert(
                self.endpoint.status_field().into(),
                json!(status_filter(platform, s)?),
            );
        }
        Ok(Value::Object(body))
    }

    /// Parse one page body.
    fn parse(
        &self,
        body: &[u8],
        page: Option<u32>,
    ) -> Result<(Vec<Order>, Option<u64>), PlatformError> {
        self.endpoint.parse_orders(body, page, &self.ctx())
    }
}

impl Adapter for Pandapon {
    fn spec(&self) -> &'static PlatformSpec {
        self.endpoint.spec()
    }

    fn list_endpoint(&self, _by: By) -> &'static str {
        self.endpoint.path()
    }

    fn list_request(&self, q: &PageQuery, now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        Ok(self.signed(self.list_body(q)?, now))
    }

    /// The bounds are sent as whole seconds, the start rounded down and the end up, and both
    /// are inclusive: an order created on the end's second is listed in both windows.
    fn listed_range(&self, w: crate::platforms::Window) -> crate::platforms::Window {
        let second = |t: DateTime<Utc>, up: bool| {
            let s = t.timestamp() + i64::from(up && t.timestamp_subsec_nanos() > 0);
            DateTime::from_timestamp(s, 0).unwrap_or(t)
        };
        crate::platforms::Window {
            start: second(w.start, false),
            end: second(w.end, true) + chrono::Duration::microseconds(1),
        }
    }

    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError> {
        let (orders, total) = self.parse(body, Some(q.page))?;
        if let Some(total) = total {
            let before = u64::from(q.page.saturating_sub(1)) * u64::from(q.page_size);
            let got = orders.len() as u64;
            if got < u64::from(q.page_size) && before + got < total {
                tracing::warn!(
                    "{}: page {} holds {got} order(s) with pageSize {} although total is {total}; \
                     the platform may cap pageSize below {}, and orders may be missed",
                    self.endpoint.id(),
                    q.page,
                    q.page_size,
                    q.page_size
                );
            }
        }
        Ok(ListPage {
            orders,
            total,
            has_next: None,
        })
    }

    fn lookup<'a>(&'a self, ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Lookup {
            a: self,
            ids,
            next: 0,
            filter: "orderNo",
            out: Vec::new(),
            failed: None,
        })
    }
}

/// Named orders, one list query each filtered on `orderNo` (on the 1688 page, then on
/// `tbOrderId` when that finds nothing); the first one not found ends it.
struct Lookup<'a> {
    a: &'a Pandapon,
    ids: &'a [String],
    next: usize,
    /// `orderNo` or `tbOrderId`.
    filter: &'static str,
    out: Vec<Order>,
    failed: Option<PlatformError>,
}

impl<'a> Exchange<'a, Vec<Order>> for Lookup<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        if self.failed.is_some() {
            return None;
        }
        let id = self.ids.get(self.next)?;
        let body = json!({"pageNum": 1, "pageSize": PAGE_SIZE, self.filter: id});
        let a = self.a;
        Some(Call {
            endpoint: a.endpoint.path(),
            page: None,
            build: Box::new(move |now| Ok(a.signed(body.clone(), now))),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let (orders, _) = self.a.parse(body, None)?;
        let id = &self.ids[self.next];
        let found: Vec<Order> = orders
            .into_iter()
            .filter(|o| match self.filter {
                "tbOrderId" => o.source_order_id.as_deref() == Some(id.as_str()),
                _ => o.order_id == *id,
            })
            .collect();
        if found.is_empty() && self.filter == "orderNo" && self.a.endpoint == Endpoint::Alibaba {
            self.filter = "tbOrderId";
            return Ok(());
        }
        if found.is_empty() {
            self.failed = Some(PlatformError::Request {
                platform: self.a.endpoint.id(),
                message: format!("order {id} was not found"),
            });
        }
        self.out.extend(found);
        self.next += 1;
        self.filter = "orderNo";
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<Order>, PlatformError> {
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

/// Normalize a saved response of either page (for `ordersync normalize` and the fixture tests).
pub fn normalize_saved(
    platform: PlatformId,
    body: &[u8],
    shop: &str,
) -> Result<Vec<Order>, PlatformError> {
    super::normalize_saved(platform, body, shop)
}

/// As [`normalize_saved`], order by order into `emit`, each order handed over before it is
/// normalized (see `page`); `emit` returns `false` to stop.
pub fn normalize_saved_each<'a>(
    platform: PlatformId,
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    normalize_saved_each_in(platform, body, shop, AmountUnit::default(), emit)
}

/// As [`normalize_saved_each`], reading the Taobao page's amounts in `unit`.
pub fn normalize_saved_each_in<'a>(
    platform: PlatformId,
    body: &'a [u8],
    shop: &'a str,
    unit: AmountUnit,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let endpoint = Endpoint::of(platform).ok_or_else(|| PlatformError::Request {
        platform: platform.spec().id,
        message: "not a PandaPon platform".into(),
    })?;
    match endpoint {
        Endpoint::Taobao => saved_each::<taobao::WireOrder>(endpoint, body, shop, unit, emit),
        Endpoint::Alibaba => saved_each::<alibaba::WireOrder>(endpoint, body, shop, unit, emit),
    }
}

/// A wire order of either page.
trait WireOrder<'a>: Deserialize<'a> + Send {
    fn normalize(self, ctx: &Ctx, index: usize, page: Option<u32>) -> Result<Order, PlatformError>;
}

impl<'a> WireOrder<'a> for taobao::WireOrder<'a> {
    fn normalize(self, ctx: &Ctx, index: usize, page: Option<u32>) -> Result<Order, PlatformError> {
        taobao::WireOrder::normalize(self, ctx, index, page)
    }
}

impl<'a> WireOrder<'a> for alibaba::WireOrder<'a> {
    fn normalize(self, ctx: &Ctx, index: usize, page: Option<u32>) -> Result<Order, PlatformError> {
        alibaba::WireOrder::normalize(self, ctx, index, page)
    }
}

/// The saved page read by [`page::read_page`], each order handed over before it is
/// normalized (`normalize` does that on its writing thread).
fn saved_each<'a, T: WireOrder<'a> + 'a>(
    endpoint: Endpoint,
    body: &'a [u8],
    shop: &'a str,
    amount_unit: AmountUnit,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let ctx = Ctx {
        endpoint,
        shop,
        scheme: None,
        amount_unit,
    };
    page::read_page::<T>(body, None, &ctx, &mut |index, o| {
        emit(Box::new(move || {
            let ctx = Ctx {
                endpoint,
                shop,
                scheme: None,
                amount_unit,
            };
            o.normalize(&ctx, index, None)
        }))
    })
    .map(drop)
}

/// The registry's reader of one order cut out of a saved page (`data.data`).
fn read_one<'a, T: WireOrder<'a>>(
    endpoint: Endpoint,
    bytes: &'a [u8],
    index: usize,
    shop: &str,
    opts: &SavedOptions,
) -> Result<Order, PlatformError> {
    let ctx = Ctx {
        endpoint,
        shop,
        scheme: None,
        amount_unit: opts.amount_unit.unwrap_or_default(),
    };
    let at = || format!("$.data.data[{index}]");
    let order: T = crate::platforms::parse_json_in(bytes, endpoint.id(), endpoint.path(), at)?;
    order.normalize(&ctx, index, None)
}

/// The registry's reader of a batch of orders cut out of a saved page: one deserializer reads
/// them all, so that serde_json's buffer for unescaped text (the JSON texts are full of
/// escapes) grows once per batch instead of once per order. An order the stream does not read
/// cleanly, or whose end is not where the cut put it, is read alone by [`read_one`], which
/// gives its error; the stream starts again after it.
fn read_many<'a, T: WireOrder<'a>>(
    endpoint: Endpoint,
    batch: &'a [u8],
    spans: &[Span],
    shop: &str,
    opts: &SavedOptions,
    emit: &mut dyn FnMut(Result<Order, PlatformError>) -> bool,
) {
    let ctx = Ctx {
        endpoint,
        shop,
        scheme: None,
        amount_unit: opts.amount_unit.unwrap_or_default(),
    };
    let base = spans.first().map_or(0, |s| s.1);
    let batch_end = spans.last().map_or(0, |s| s.2);
    // Text not UTF-8 is read order by order, to name the order it is in.
    let text = simdutf8::basic::from_utf8(&batch[base..batch_end]).ok();
    let mut stream = None;
    for &(index, start, end) in spans {
        let read = text.and_then(|text| {
            let (from, orders) = match &mut stream {
                Some(s) => s,
                None => stream.insert((
                    start,
                    serde_json::Deserializer::from_str(text.get(start - base..)?).into_iter::<T>(),
                )),
            };
            match orders.next() {
                Some(Ok(order)) if *from + orders.byte_offset() == end => Some(order),
                _ => None,
            }
        });
        let order = match read {
            Some(order) => order.normalize(&ctx, index, None),
            None => {
                stream = None;
                read_one::<T>(endpoint, &batch[start..end], index, shop, opts)
            }
        };
        if !emit(order) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared normalization helpers

/// `yyyy-MM-dd HH:mm:ss` in China time; `ceil` rounds a sub-second instant up (window ends),
/// otherwise down, so that no instant of the window falls outside the sent bounds.
fn china_time(t: DateTime<Utc>, ceil: bool) -> String {
    let mut secs = t.timestamp();
    if ceil && t.timestamp_subsec_nanos() > 0 {
        secs += 1;
    }
    let t = DateTime::from_timestamp(secs, 0).unwrap_or(t);
    t.with_timezone(&platform_offset())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A `--status` value as PandaPon's integer code.
fn status_filter(platform: &'static str, s: &str) -> Result<i64, PlatformError> {
    s.parse::<i64>().map_err(|_| PlatformError::Request {
        platform,
        message: format!(
            "--status {s:?}: PandaPon filters on its own status codes: 0 awaiting payment, \
             1 paid / awaiting finance check, 2 finance approved, 3 finance rejected, 4 cancelled, \
             10 awaiting shipment, 11 shipped"
        ),
    })
}

/// PandaPon order status codes (model.md).
pub fn map_status(platform: &str, code: &str) -> Status {
    match code.trim() {
        "0" => Status::PendingPayment,
        "1" | "2" => Status::Paid,
        "3" | "4" => Status::Cancelled,
        "10" => Status::AwaitingShipment,
        "11" => Status::Shipped,
        other => {
            warn_unknown_status(platform, other);
            Status::Unknown
        }
    }
}

/// Parse the time formats PandaPon uses: `2024-07-18 18:01:30` (China time),
/// `2025-04-24T17:17:43.000+08:00`, `20250424171743000+0800`, and epoch milliseconds. Times
/// are shown in +08:00, with milliseconds when the platform gave them.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let shown = |t: DateTime<FixedOffset>, millis: bool| {
        let t = t.with_timezone(&platform_offset());
        if millis {
            Timestamp::millis(t)
        } else {
            Timestamp::seconds(t)
        }
    };
    if s.len() >= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(Timestamp::from_epoch_millis);
    }
    // The most common form first, without chrono's format parsing.
    if s.len() == 19
        && s.as_bytes()[10] == b' '
        && let Some(t) = Timestamp::from_china_local(s)
    {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(shown(t, s.contains('.')));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y%m%d%H%M%S%3f%z") {
        return Some(shown(t, true));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        let t = platform_offset().from_local_datetime(&n).single()?;
        return Some(shown(t, s.contains('.')));
    }
    None
}

#[cfg(test)]
mod tests;
