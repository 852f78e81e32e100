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
//! 1688 page newest first. Amounts are integers in fen. Several fields are JSON packed in
//! strings; one that does not parse is warned about and left null, and the order is still
//! emitted.

mod alibaba;
pub mod probe;
mod stream;
mod taobao;

use super::{
    Adapter, ApiRequest, Body, By, ByMode, ListOrder, ListPage, Method, PageQuery, PlatformId,
    PlatformSpec, TextOrNumber, parse_json,
};
use crate::config::Shop;
use crate::error::{ErrorClass, PlatformError, usage};
use crate::model::{
    Amount, Order, Status, Timestamp, non_empty, non_empty_owned, platform_offset,
    warn_unknown_status,
};
use crate::net::Transport;
use crate::platforms::json::{Json, Shape};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::fmt;
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
            \"yuan\"; no unit prices and no discount are given, so discount is null; page size \
            20 is the documented default (no maximum is documented); the end second of a range \
            is inclusive",
};

pub static SPEC_1688: PlatformSpec = PlatformSpec {
    id: ID_1688,
    title: "PandaPon OpenAPI, 1688 order page",
    default_base_url: "https://api.pandapon.com",
    default_rate_limit: 5,
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
// Signature schemes

/// One candidate signature formula (see `platforms.md`). All give 32 uppercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `UPPER(MD5("access-key=AK&nonce-str=N&timestamp=T&key=S"))`, WeChat-Pay style.
    Md5QueryKey,
    /// `UPPER(MD5("access-key=AK&nonce-str=N&timestamp=T" + S))`.
    Md5QuerySecret,
    /// `UPPER(MD5(AK + N + T + S))`.
    Md5Concat,
    /// `UPPER(MD5(S + "access-key" + AK + "nonce-str" + N + "timestamp" + T + S))`.
    Md5Wrapped,
    /// `UPPER(HMAC_MD5(key = S, "access-key=AK&nonce-str=N&timestamp=T"))`.
    HmacMd5Query,
}

impl Scheme {
    pub const DEFAULT: Scheme = Scheme::Md5QueryKey;
    pub const ALL: [Scheme; 5] = [
        Scheme::Md5QueryKey,
        Scheme::Md5QuerySecret,
        Scheme::Md5Concat,
        Scheme::Md5Wrapped,
        Scheme::HmacMd5Query,
    ];

    /// The name used in `signature_scheme`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Md5QueryKey => "md5-query-key",
            Scheme::Md5QuerySecret => "md5-query-secret",
            Scheme::Md5Concat => "md5-concat",
            Scheme::Md5Wrapped => "md5-wrapped",
            Scheme::HmacMd5Query => "hmac-md5-query",
        }
    }

    /// Parse a `signature_scheme` value.
    pub fn parse(s: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|x| x.name() == s.trim())
    }

    /// Every scheme name, comma-separated, for messages.
    pub fn names() -> String {
        Scheme::ALL.map(Scheme::name).join(", ")
    }

    /// The `signature` header for these signed values.
    pub fn sign(self, access_key: &str, nonce: &str, timestamp: &str, secret: &str) -> String {
        use super::signing::{hmac_md5, md5};
        let query = format!("access-key={access_key}&nonce-str={nonce}&timestamp={timestamp}");
        let digest = match self {
            Scheme::Md5QueryKey => md5(format!("{query}&key={secret}").as_bytes()).to_vec(),
            Scheme::Md5QuerySecret => md5(format!("{query}{secret}").as_bytes()).to_vec(),
            Scheme::Md5Concat => {
                md5(format!("{access_key}{nonce}{timestamp}{secret}").as_bytes()).to_vec()
            }
            Scheme::Md5Wrapped => md5(format!(
                "{secret}access-key{access_key}nonce-str{nonce}timestamp{timestamp}{secret}"
            )
            .as_bytes())
            .to_vec(),
            Scheme::HmacMd5Query => hmac_md5(secret.as_bytes(), query.as_bytes()),
        };
        hex::encode_upper(digest)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit of the Taobao page's amounts, which seed 003 does not state (`amount_unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmountUnit {
    /// Integers in fen (`22500` is `225.00`), as the 1688 page of the same vendor gives them.
    #[default]
    Fen,
    /// Decimal yuan (`225`, `225.5`, `"225.50"`).
    Yuan,
}

impl AmountUnit {
    /// The name used in `amount_unit`.
    pub fn name(self) -> &'static str {
        match self {
            AmountUnit::Fen => "fen",
            AmountUnit::Yuan => "yuan",
        }
    }

    /// Parse an `amount_unit` value.
    pub fn parse(s: &str) -> Option<AmountUnit> {
        match s.trim() {
            "fen" => Some(AmountUnit::Fen),
            "yuan" => Some(AmountUnit::Yuan),
            _ => None,
        }
    }
}

/// 32 random alphanumeric characters from the thread's CSPRNG, new for every request.
pub fn nonce() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

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

    /// Normalize one page's wire orders.
    fn parse_orders(
        self,
        body: &[u8],
        page: Option<u32>,
        ctx: &Ctx,
    ) -> Result<(Vec<Order>, Option<u64>), PlatformError> {
        let mut orders = Vec::new();
        let total = self.each_order(body, page, ctx, &mut |o| orders.push(o))?;
        Ok((orders, total))
    }

    /// Normalize a page's orders one by one into `emit`; returns the page's total.
    fn each_order(
        self,
        body: &[u8],
        page: Option<u32>,
        ctx: &Ctx,
        emit: &mut dyn FnMut(Order),
    ) -> Result<Option<u64>, PlatformError> {
        match self {
            Endpoint::Taobao => {
                let (wire, total) = parse_page::<taobao::WireOrder>(body, page, ctx)?;
                for (i, o) in wire.into_iter().enumerate() {
                    emit(o.normalize(ctx, i, page)?);
                }
                Ok(total)
            }
            Endpoint::Alibaba => {
                let (wire, total) = parse_page::<alibaba::WireOrder>(body, page, ctx)?;
                for (i, o) in wire.into_iter().enumerate() {
                    emit(o.normalize(ctx, i, page)?);
                }
                Ok(total)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The adapter

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
        let r = &shop.raw;
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

    /// Look one order up with `filter` (`orderNo` or `tbOrderId`).
    async fn lookup(
        &self,
        t: &Transport,
        filter: &str,
        id: &str,
    ) -> Result<Vec<Order>, PlatformError> {
        let body = json!({"pageNum": 1, "pageSize": PAGE_SIZE, filter: id});
        let path = self.endpoint.path();
        let (orders, _) = t
            .call(
                path,
                None,
                |now| Ok(self.signed(body.clone(), now)),
                |b| self.parse(b, None),
            )
            .await?;
        Ok(orders
            .into_iter()
            .filter(|o| match filter {
                "tbOrderId" => o.source_order_id.as_deref() == Some(id),
                _ => o.order_id == id,
            })
            .collect())
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

    async fn get_orders(&self, t: &Transport, ids: &[String]) -> Result<Vec<Order>, PlatformError> {
        let mut out = Vec::new();
        for id in ids {
            let mut found = self.lookup(t, "orderNo", id).await?;
            if found.is_empty() && self.endpoint == Endpoint::Alibaba {
                found = self.lookup(t, "tbOrderId", id).await?;
            }
            if found.is_empty() {
                return Err(PlatformError::Request {
                    platform: self.endpoint.id(),
                    message: format!("order {id} was not found"),
                });
            }
            out.extend(found);
        }
        Ok(out)
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
/// normalized (see [`stream`]); `emit` returns `false` to stop.
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

impl WireOrder<'_> for alibaba::WireOrder {
    fn normalize(self, ctx: &Ctx, index: usize, page: Option<u32>) -> Result<Order, PlatformError> {
        alibaba::WireOrder::normalize(self, ctx, index, page)
    }
}

fn saved_each<'a, T: WireOrder<'a> + 'a>(
    endpoint: Endpoint,
    body: &'a [u8],
    shop: &'a str,
    amount_unit: AmountUnit,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let deferred = |index: usize, o: T| -> super::Deferred<'a> {
        Box::new(move || {
            let ctx = Ctx {
                endpoint,
                shop,
                scheme: None,
                amount_unit,
            };
            o.normalize(&ctx, index, None)
        })
    };
    let ctx = Ctx {
        endpoint,
        shop,
        scheme: None,
        amount_unit,
    };
    let skip = match stream::each_order::<T>(body, &mut |i, o| emit(deferred(i, o))) {
        stream::Outcome::Stopped => return Ok(()),
        stream::Outcome::Done {
            head,
            total,
            inner_code,
            inner_msg,
        } => {
            let request_id = head.request_id.map(TextOrNumber::into_string);
            if let Some(inner) = inner_code.map(TextOrNumber::into_string)
                && inner.trim() != "200"
            {
                return Err(api_error(&ctx, inner, value_text(inner_msg), request_id));
            }
            if let Some(t) = total.filter(|t| !stream::total_is_a_count(t)) {
                let t = t.into_string();
                return Err(malformed(
                    &ctx,
                    None,
                    "$.data.total",
                    format!("{t:?} is not a count"),
                ));
            }
            return Ok(());
        }
        stream::Outcome::Fallback => 0,
        stream::Outcome::Failed { emitted } => emitted,
    };
    // The ordinary read: the exact error, or (should the streamed read have given up on a
    // body this one accepts) the orders not handed over yet.
    let (wire, _) = parse_page::<T>(body, None, &ctx)?;
    for (i, o) in wire.into_iter().enumerate().skip(skip) {
        if !emit(deferred(i, o)) {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Envelope and errors

/// What parsing needs to know besides the body.
struct Ctx<'a> {
    endpoint: Endpoint,
    shop: &'a str,
    /// The scheme the request was signed with (none for saved bodies).
    scheme: Option<Scheme>,
    /// How the Taobao page's amounts are read.
    amount_unit: AmountUnit,
}

/// The envelope without its data: checked first, so an error envelope whose `data` has an
/// unexpected shape is still reported as the platform's error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    request_id: Option<TextOrNumber>,
    code: Option<TextOrNumber>,
    msg: Option<Value>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<PageData<T>>,
}

/// Head and data in one parse (the common case: a well-formed answer).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Whole<T> {
    request_id: Option<TextOrNumber>,
    code: Option<TextOrNumber>,
    msg: Option<Value>,
    data: Option<PageData<T>>,
}

#[derive(Deserialize)]
struct PageData<T> {
    total: Option<TextOrNumber>,
    data: Option<Vec<T>>,
    /// The 1688 page repeats a code and message inside `data`.
    code: Option<TextOrNumber>,
    msg: Option<Value>,
}

fn value_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Check the envelope and return the page's wire orders and `data.total`.
fn parse_page<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    page: Option<u32>,
    ctx: &Ctx,
) -> Result<(Vec<T>, Option<u64>), PlatformError> {
    let platform = ctx.endpoint.id();
    let endpoint = ctx.endpoint.path();
    // One pass reads head and data together. Only when that fails is the head read alone, so
    // an error answer whose `data` has an unexpected shape is still the platform's error.
    let whole: serde_json::Result<Whole<T>> = crate::platforms::json::over_body!(body, |de| {
        Whole::<T>::deserialize(&mut de).and_then(|v| de.end().map(|()| v))
    });
    let (head, data) = match whole {
        Ok(w) => (
            Head {
                request_id: w.request_id,
                code: w.code,
                msg: w.msg,
            },
            w.data,
        ),
        Err(_) => {
            let head: Head = parse_json(body, platform, endpoint, page)?;
            if head
                .code
                .clone()
                .map(TextOrNumber::into_string)
                .as_deref()
                .map(str::trim)
                == Some("200")
            {
                let env: Envelope<T> = parse_json(body, platform, endpoint, page)?;
                (head, env.data)
            } else {
                (head, None)
            }
        }
    };
    let request_id = head.request_id.map(TextOrNumber::into_string);
    let Some(code) = head.code.map(TextOrNumber::into_string) else {
        return Err(malformed(
            ctx,
            page,
            "$.code",
            "the answer has no code".into(),
        ));
    };
    if code.trim() != "200" {
        return Err(api_error(ctx, code, value_text(head.msg), request_id));
    }
    let Some(data) = data else {
        return Err(malformed(
            ctx,
            page,
            "$.data",
            "code is 200 but there is no data".into(),
        ));
    };
    if let Some(inner) = data.code.map(TextOrNumber::into_string)
        && inner.trim() != "200"
    {
        return Err(api_error(ctx, inner, value_text(data.msg), request_id));
    }
    let total =
        match data.total.map(TextOrNumber::into_string) {
            None => None,
            Some(t) => Some(t.trim().parse::<u64>().map_err(|_| {
                malformed(ctx, page, "$.data.total", format!("{t:?} is not a count"))
            })?),
        };
    // An answer without the order list is not "no orders": only an explicit total of 0 may
    // leave it out.
    match (data.data, total) {
        (Some(orders), _) => Ok((orders, total)),
        (None, Some(0)) => Ok((Vec::new(), total)),
        (None, _) => Err(malformed(
            ctx,
            page,
            "$.data.data",
            "code is 200 but data holds no order list (and no total of 0)".into(),
        )),
    }
}

fn malformed(ctx: &Ctx, page: Option<u32>, path: &str, detail: String) -> PlatformError {
    PlatformError::malformed(ctx.endpoint.id(), ctx.endpoint.path(), page, path, detail)
}

fn api_error(
    ctx: &Ctx,
    code: String,
    message: String,
    request_id: Option<String>,
) -> PlatformError {
    let class = classify(&code, &message);
    PlatformError::Api {
        platform: ctx.endpoint.id(),
        endpoint: ctx.endpoint.path().to_string(),
        hint: hint(ctx, class, &message),
        code,
        kind: None,
        message,
        request_id,
        class,
        retry_after: None,
    }
}

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

const THROTTLE_WORDS: &[&str] = &["频繁", "限流", "limit", "too many", "throttl"];
const CLOCK_WORDS: &[&str] = &["timestamp", "时间戳", "expired", "过期"];
const AUTH_WORDS: &[&str] = &[
    "sign",
    "签名",
    "access-key",
    "accesskey",
    "access_key",
    "secret",
    "密钥",
    "user-id",
    "userid",
    "auth",
    "认证",
    "鉴权",
    "permission",
    "权限",
    "forbidden",
    "nonce",
];
const BUSY_WORDS: &[&str] = &["繁忙", "busy", "系统异常", "timeout", "超时", "unavailable"];

/// PandaPon's error codes are not documented; it answers HTTP-like codes (`200` is success),
/// so the class comes from the code's range and the message's words.
fn classify(code: &str, message: &str) -> ErrorClass {
    let msg = message.to_lowercase();
    let n: Option<u32> = code.trim().parse().ok();
    if n == Some(429) || contains_any(&msg, THROTTLE_WORDS) {
        return ErrorClass::Transient;
    }
    if matches!(n, Some(401 | 403))
        || contains_any(&msg, CLOCK_WORDS)
        || contains_any(&msg, AUTH_WORDS)
    {
        return ErrorClass::Auth;
    }
    if matches!(n, Some(500..=599)) || contains_any(&msg, BUSY_WORDS) {
        return ErrorClass::Transient;
    }
    if matches!(n, Some(400..=499)) {
        return ErrorClass::Invalid;
    }
    ErrorClass::Other
}

fn hint(ctx: &Ctx, class: ErrorClass, message: &str) -> Option<String> {
    if class != ErrorClass::Auth {
        return None;
    }
    let msg = message.to_lowercase();
    if contains_any(&msg, CLOCK_WORDS) && !msg.contains("sign") && !msg.contains("签名") {
        return Some(
            "the request time was refused (PandaPon allows 600 s of clock difference): check this machine's clock"
                .into(),
        );
    }
    Some(match ctx.scheme {
        Some(scheme) => {
            let others: Vec<&str> = Scheme::ALL
                .into_iter()
                .filter(|s| *s != scheme)
                .map(Scheme::name)
                .collect();
            format!(
                "the request was signed with signature scheme `{scheme}`{default}; PandaPon does not \
                 publish its formula. If access_key, secret_key and user_id of shop {shop:?} are right, set \
                 `signature_scheme` in that shop's config to one of the others: {}; \
                 `ordersync config check --online --shop {shop} --probe-signature` tries each",
                others.join(", "),
                shop = ctx.shop,
                default = if scheme == Scheme::DEFAULT {
                    " (the default)"
                } else {
                    ""
                },
            )
        }
        None => format!(
            "the credentials or signature were refused; the signature schemes are: {}",
            Scheme::names()
        ),
    })
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

/// Where a warning is about: platform, order and its place in the page.
struct At<'a> {
    platform: &'static str,
    order: &'a str,
    /// The order's index in `data.data`.
    index: usize,
}

impl At<'_> {
    /// The JSON path of one of the order's fields.
    fn path(&self, field: &str) -> String {
        format!("$.data.data[{}].{field}", self.index)
    }

    fn warn(&self, field: &str, what: &str) {
        tracing::warn!(
            "{}: order {}: field {field} ({}) {what}; it is left null and the order is kept",
            self.platform,
            self.order,
            self.path(field)
        );
    }

    /// A time field; one that does not parse is warned about and null.
    fn time(&self, v: Option<TextOrNumber>, field: &str) -> Option<Timestamp> {
        let s = text(v)?;
        let t = parse_time(&s);
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
    fn fen(&self, v: Option<TextOrNumber>, field: &str) -> Option<Amount> {
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
    fn amount(
        &self,
        ctx: &Ctx,
        page: Option<u32>,
        v: Option<TextOrNumber>,
        field: &str,
    ) -> Result<Option<Amount>, PlatformError> {
        let Some(v) = v.filter(|v| !is_blank(v)) else {
            self.warn(field, "is missing");
            return Ok(None);
        };
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
                             amounts are in yuan, set amount_unit = \"yuan\" in its config",
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

    /// A JSON value packed in a string. Absent, null and empty are `None` silently; text that
    /// does not parse is warned about (naming the order and the field) and `None`. A value that
    /// already arrives as structured JSON is taken as is.
    fn json_text<T: DeserializeOwned>(&self, v: Option<&Value>, field: &str) -> Option<T> {
        let parsed = match v? {
            Value::Null => return None,
            Value::String(s) if blank_text(s) => return None,
            Value::String(s) => serde_json::from_str::<Option<T>>(s),
            other => serde_json::from_value::<Option<T>>(other.clone()),
        };
        self.or_warn(parsed, field)
    }

    /// Like [`At::json_text`], into a tree that borrows from the text and keeps what `shape`
    /// asks for (a JSON value given as such rather than as text is taken as it is).
    fn json_tree_in<'v>(
        &self,
        v: Option<&'v Json<'_>>,
        field: &str,
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
    fn json_text_in_tree<T: DeserializeOwned>(&self, v: &Json<'_>, field: &str) -> Option<T> {
        let parsed = match v {
            Json::Null => return None,
            Json::String(s) if blank_text(s) => return None,
            Json::String(s) => serde_json::from_str::<Option<T>>(s),
            other => serde_json::from_str::<Option<T>>(&other.to_string()),
        };
        self.or_warn(parsed, field)
    }

    /// The parsed value of a JSON-in-text field, or `None` with a warning when it did not parse.
    fn or_warn<T>(&self, parsed: serde_json::Result<Option<T>>, field: &str) -> Option<T> {
        parsed.unwrap_or_else(|e| {
            self.warn(field, &format!("is not the expected JSON text ({e})"));
            None
        })
    }
}

/// A JSON object's members in document order (whatever `serde_json::Map` keeps).
struct OrderedPairs(Vec<(String, Value)>);

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
fn is_blank(v: &TextOrNumber) -> bool {
    matches!(v, TextOrNumber::Text(s) if s.trim().is_empty())
}

/// The text of a scalar, `None` when absent or blank.
fn text(v: Option<TextOrNumber>) -> Option<String> {
    non_empty_owned(v?.into_string())
}

/// A JSON-in-text field that holds nothing: empty, blank or `null`.
fn blank_text(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s == "null"
}

/// [`value_str`] for a value of a borrowed tree.
fn tree_str(v: Option<&Json<'_>>) -> Option<String> {
    match v? {
        Json::Null => None,
        Json::String(s) => non_empty(Some(s)),
        other => Some(other.to_string()),
    }
}

/// The text of a JSON scalar inside a JSON-in-string field.
fn value_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => non_empty(Some(s)),
        other => Some(other.to_string()),
    }
}

/// A whole-number quantity.
fn quantity(v: Option<TextOrNumber>) -> i64 {
    match v {
        Some(TextOrNumber::Int(i)) => i,
        Some(TextOrNumber::UInt(u)) => i64::try_from(u).unwrap_or(i64::MAX),
        Some(TextOrNumber::Text(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// The id of an order: `orderNo`, or PandaPon's internal `id` (with a warning) when the order
/// has no `orderNo`.
fn order_id(
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

#[cfg(test)]
mod tests;
