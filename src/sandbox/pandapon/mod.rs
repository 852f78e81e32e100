//! Sandbox module for PandaPon: `POST /pandapon/v2/taobao/order/page` and
//! `POST /pandapon/v2/alibaba/order/page`, built from seeds 003/004 and `platforms.md`.
//!
//! Checks as the documents say: the required headers (`access-key`, `timestamp`, `user-id`,
//! `signature`; `nonce-str` is marked optional and signed as empty when absent), `timestamp`
//! (epoch ms) within 600 s of now, and the signature over `access-key`, `nonce-str` and
//! `timestamp` with the scheme the sandbox is set to (default `md5-query-key`, see
//! [`State::set_signature_scheme`]); the body and `user-id` are not signed. Success is
//! `code: 200` with `requestId`, `developId`, `msg`, `data: {total, data}`; errors have the same
//! shape with an HTTP-like code (401 credentials, signature or time; 403 user; 400 parameters;
//! 429 throttling), since PandaPon documents none.
//!
//! Filters: creation time (`beginDateTime`/`endDateTime`, `orderTimeBegin`/`orderTimeEnd`, both
//! bounds inclusive; text `yyyy-MM-dd HH:mm:ss` China time, a date, ISO 8601 or epoch ms, as a
//! Hutool `DateTime` accepts), status (`status`, `orderStatus`), `orderNo`, `id`, `tbOrderId`,
//! `userIdList` and, on the Taobao page, `sellerNick` (each generated order has a seller the
//! page does not show; the seeds' examples have none). Paging is `pageNum`/`pageSize` (default 1/20, size at most 100). The Taobao
//! page lists oldest first and the 1688 page newest first, as the seeds' examples do. Besides
//! the generated orders it serves the seeds' own example orders verbatim. Everything is rendered
//! here with `json!` from the documents, never from the adapter's types (`render`); money is
//! fen integers as in the seeds: an order-level discount seen only in productAmount +
//! shippingFee − totalAmount (the `discount` field is 0), postage on the first line.
//!
//! Nothing from `crate::platforms` is used outside `#[cfg(test)]`: signatures are checked with
//! this module's own strings and [`crate::sandbox::digest`].

mod render;

use super::Sandbox;
use super::catalog::{By, Catalog, QueryCache, Segment, View, numeric_id, page_of, shop_seed};
use super::dataset;
use super::faults::{Gate, finish};
use crate::sandbox::digest::{hmac_md5_hex, md5_hex, same_hex};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use render::{china, render};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const ACCESS_KEY: &str = "7d1f0c9a4b2e4f6a8c3d5e7f9a1b3c5d";
pub const SECRET_KEY: &str = "sandbox-pandapon-secret-8e41c7";
pub const USER_ID: &str = "2100009990001";
pub const DEVELOP_ID: &str = "1110890638300000001";
/// The signature schemes of `platforms.md`, by name.
pub const SCHEMES: [&str; 5] = [
    "md5-query-key",
    "md5-query-secret",
    "md5-concat",
    "md5-wrapped",
    "hmac-md5-query",
];
const MAX_PAGE_SIZE: i64 = 100;
const CLOCK_SKEW_MS: i64 = 600_000;

/// The sandbox's own rendering of the five candidate formulas of `platforms.md`, each string
/// built here from the table and hashed with [`crate::sandbox::digest`] (nothing is shared with
/// the adapter, so both are pinned to the documented vectors independently). 32 uppercase hex
/// digits, or `None` for an unknown scheme.
pub fn signature(
    scheme: &str,
    access_key: &str,
    nonce: &str,
    timestamp: &str,
    secret: &str,
) -> Option<String> {
    let query = format!("access-key={access_key}&nonce-str={nonce}&timestamp={timestamp}");
    let hex = match scheme {
        "md5-query-key" => md5_hex(&format!("{query}&key={secret}")),
        "md5-query-secret" => md5_hex(&format!("{query}{secret}")),
        "md5-concat" => md5_hex(&format!("{access_key}{nonce}{timestamp}{secret}")),
        "md5-wrapped" => md5_hex(&format!(
            "{secret}access-key{access_key}nonce-str{nonce}timestamp{timestamp}{secret}"
        )),
        "hmac-md5-query" => hmac_md5_hex(secret, &query),
        _ => return None,
    };
    Some(hex.to_ascii_uppercase())
}

/// Which order page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Taobao,
    Alibaba,
}

impl Page {
    fn platform(self) -> &'static str {
        match self {
            Page::Taobao => "pandapon-taobao",
            Page::Alibaba => "pandapon-1688",
        }
    }

    fn time_fields(self) -> (&'static str, &'static str) {
        match self {
            Page::Taobao => ("beginDateTime", "endDateTime"),
            Page::Alibaba => ("orderTimeBegin", "orderTimeEnd"),
        }
    }

    fn status_field(self) -> &'static str {
        match self {
            Page::Taobao => "status",
            Page::Alibaba => "orderStatus",
        }
    }
}

/// One account's credentials (a shop of each page).
#[derive(Debug, Clone)]
pub struct Creds {
    pub access_key: String,
    pub secret_key: String,
    pub user_id: String,
}

impl Creds {
    /// Shop `shop`'s (1-based): shop 1's are the documented constants.
    pub fn of(shop: usize) -> Creds {
        Creds {
            access_key: super::shop_credential(ACCESS_KEY, shop),
            secret_key: super::shop_credential(SECRET_KEY, shop),
            user_id: (2_100_009_990_000u64 + shop.max(1) as u64).to_string(),
        }
    }
}

/// One page's orders of one account: generated on demand, the seed's examples (shop 1).
struct List {
    catalog: Mutex<Catalog>,
    seeds: Vec<Value>,
    cache: QueryCache,
}

/// One account: its credentials and both pages' orders.
pub struct Shop {
    pub creds: Creds,
    taobao: List,
    alibaba: List,
    rng: Mutex<StdRng>,
}

/// The platform's state: its accounts, the scheme it checks, drift.
pub struct State {
    scheme: Mutex<&'static str>,
    shops: Vec<Shop>,
    request_seq: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let shops = (1..=o.shops.max(1))
            .map(|shop| {
                let seed = shop_seed(o.seed, shop);
                let list = |salt, fixture: &str| {
                    let seeds = if shop == 1 {
                        seed_orders(fixture)
                    } else {
                        Vec::new()
                    };
                    let segments = vec![Segment::new(o.orders, seed, salt, o.now, 30)];
                    List {
                        catalog: Mutex::new(Catalog::new(segments, seeds.len(), salt, shop)),
                        seeds,
                        cache: QueryCache::default(),
                    }
                };
                Shop {
                    creds: Creds::of(shop),
                    taobao: list(
                        4,
                        include_str!("../../../fixtures/pandapon-taobao/page.json"),
                    ),
                    alibaba: list(5, include_str!("../../../fixtures/pandapon-1688/page.json")),
                    rng: Mutex::new(dataset::drift_rng(seed ^ 0x5050)),
                }
            })
            .collect();
        State {
            scheme: Mutex::new(SCHEMES[0]),
            shops,
            request_seq: AtomicU64::new(1),
            now_at_start: o.now,
        }
    }

    /// Shop `n` (1-based).
    pub fn shop(&self, n: usize) -> &Shop {
        &self.shops[n.clamp(1, self.shops.len()) - 1]
    }

    /// Check signatures with another scheme; `false` (and no change) for an unknown name.
    pub fn set_signature_scheme(&self, name: &str) -> bool {
        match SCHEMES.iter().find(|s| **s == name) {
            Some(s) => {
                *self.scheme.lock().unwrap_or_else(|e| e.into_inner()) = s;
                true
            }
            None => false,
        }
    }

    /// The scheme signatures are checked with.
    pub fn signature_scheme(&self) -> &'static str {
        *self.scheme.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every order of shop 1's page, in wire form (for tests).
    pub fn snapshot(&self, page: Page) -> Vec<Value> {
        self.shop(1).snapshot(page)
    }

    /// Move a few of shop 1's orders along (and sometimes add a new one) as if buyers acted
    /// mid-scan.
    pub fn drift(&self, page: Page) {
        self.shop(1).drift(page, self.now_at_start);
    }

    fn request_id(&self) -> String {
        format!(
            "5a9d0b1c{:024x}",
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Shop {
    fn list(&self, page: Page) -> &List {
        match page {
            Page::Taobao => &self.taobao,
            Page::Alibaba => &self.alibaba,
        }
    }

    fn drift(&self, page: Page, start: DateTime<Utc>) {
        let now = Utc::now().max(start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.list(page).lock().drift(&mut rng, now);
    }

    /// Every order of a page, in wire form.
    pub fn snapshot(&self, page: Page) -> Vec<Value> {
        let list = self.list(page);
        let c = list.lock();
        (0..c.len() as u32)
            .filter_map(|h| list.order(page, &c, h))
            .collect()
    }
}

impl List {
    fn lock(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `h` in wire form.
    fn order(&self, page: Page, c: &Catalog, h: u32) -> Option<Value> {
        match c.view(h) {
            View::Seed(n) => self.seeds.get(n).cloned(),
            _ => c.order(h).map(|g| render(page, &g)),
        }
    }
}

/// This platform in the sandbox's list.
pub static SERVED: super::Served = super::Served {
    ids: &["pandapon-taobao", "pandapon-1688"],
    path: "/pandapon",
    routes,
    config_section,
};

/// The shop sections of the sandbox config: one per PandaPon endpoint, same account.
pub fn config_section(base_url: &str, shop: usize, shops: usize) -> String {
    let c = Creds::of(shop);
    let section = |platform: &str| {
        let name = super::shop_name(platform, shop, shops);
        format!(
            "\n[shops.{name}]\nplatform = \"{platform}\"\nbase_url = \"{base_url}\"\n\
             access_key = \"{}\"\nsecret_key = \"{}\"\nuser_id = \"{}\"\n\
             # signature_scheme = \"md5-query-key\"   # the scheme this sandbox checks\n",
            c.access_key, c.secret_key, c.user_id
        )
    };
    section("pandapon-taobao") + &section("pandapon-1688")
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/pandapon/v2/taobao/order/page", post(taobao_page))
        .route("/pandapon/v2/alibaba/order/page", post(alibaba_page))
        .with_state(sb)
}

fn seed_orders(page_json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(page_json).expect("the seed fixture is JSON");
    v["data"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests

fn error(sb: &Sandbox, code: i64, msg: &str) -> Response {
    finish(
        json!({"requestId": sb.pandapon.request_id(), "code": code, "developId": DEVELOP_ID,
               "msg": msg, "data": null}),
        false,
    )
}

/// The account whose `access-key` the request carries (1-based).
fn claimed_shop(sb: &Sandbox, h: &HeaderMap) -> Option<usize> {
    let key = h.get("access-key")?.to_str().ok()?.trim();
    sb.pandapon
        .shops
        .iter()
        .position(|s| s.creds.access_key == key)
        .map(|i| i + 1)
}

/// Header checks, in the gateway's order. `Ok` is the account (1-based), `Err` the response.
fn authenticate(sb: &Sandbox, h: &HeaderMap) -> Result<usize, Response> {
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    for required in ["access-key", "timestamp", "user-id", "signature"] {
        if get(required).is_none() {
            return Err(error(
                sb,
                401,
                &format!("缺少请求头 {required} (missing header {required})"),
            ));
        }
    }
    let (key, ts, user, sig) = (
        get("access-key").unwrap_or_default(),
        get("timestamp").unwrap_or_default(),
        get("user-id").unwrap_or_default(),
        get("signature").unwrap_or_default(),
    );
    let Some(shop) = claimed_shop(sb, h) else {
        return Err(error(sb, 401, "access-key无效 (unknown access-key)"));
    };
    let creds = &sb.pandapon.shop(shop).creds;
    match ts.parse::<i64>() {
        Ok(ms) if (Utc::now().timestamp_millis() - ms).abs() <= CLOCK_SKEW_MS => {}
        _ => {
            return Err(error(
                sb,
                401,
                "timestamp无效或已过期 (timestamp is not epoch milliseconds within 600 s of server time)",
            ));
        }
    }
    let nonce = get("nonce-str").unwrap_or_default();
    let scheme = sb.pandapon.signature_scheme();
    let expected = signature(scheme, key, nonce, ts, &creds.secret_key).unwrap_or_default();
    if !same_hex(sig, &expected) {
        return Err(error(sb, 401, "签名错误 (signature mismatch)"));
    }
    if user != creds.user_id {
        return Err(error(
            sb,
            403,
            "user-id无权限 (user-id is not a sub-account of this developer)",
        ));
    }
    Ok(shop)
}

/// Parse a time filter the way a Hutool `DateTime` does for the formats the platform shows.
pub fn parse_filter_time(v: &Value) -> Option<DateTime<Utc>> {
    let local = |n: NaiveDateTime| china().from_local_datetime(&n).single().map(|t| t.to_utc());
    match v {
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                return s.parse().ok().and_then(DateTime::from_timestamp_millis);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.to_utc());
            }
            if let Ok(t) = DateTime::parse_from_str(s, "%Y%m%d%H%M%S%3f%z") {
                return Some(t.to_utc());
            }
            for f in [
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y/%m/%d %H:%M:%S",
            ] {
                if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
                    return local(n);
                }
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(local)
        }
        _ => None,
    }
}

/// An integer body parameter (a number or numeric text, as Jackson coerces); `None` if absent.
fn int_param(sb: &Sandbox, body: &Value, name: &str) -> Result<Option<i64>, Response> {
    match &body[name] {
        Value::Null => Ok(None),
        Value::Number(n) if n.is_i64() => Ok(n.as_i64()),
        Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        other => Err(error(
            sb,
            400,
            &format!("参数错误: {name} = {other} (not an integer)"),
        )),
    }
}

fn text_param(body: &Value, name: &str) -> Option<String> {
    match &body[name] {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn taobao_page(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_page(&sb, Page::Taobao, &headers, &body).await
}

async fn alibaba_page(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_page(&sb, Page::Alibaba, &headers, &body).await
}

async fn serve_page(sb: &Sandbox, page: Page, headers: &HeaderMap, raw: &Bytes) -> Response {
    let claimed = claimed_shop(sb, headers).unwrap_or(0);
    let truncate = match sb.faults.gate(page.platform(), claimed, None).await {
        Gate::Pass => false,
        Gate::Truncate => true,
        Gate::Respond(r) => return r,
        Gate::Throttle => return error(sb, 429, "请求过于频繁,请稍后再试 (too many requests)"),
    };
    let shop = match authenticate(sb, headers) {
        Ok(shop) => sb.pandapon.shop(shop),
        Err(r) => return r,
    };
    let body: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => return error(sb, 400, "请求体格式错误 (the body is not a JSON object)"),
        }
    };
    match answer(sb, shop, page, &body) {
        Ok(data) => finish(
            json!({"requestId": sb.pandapon.request_id(), "code": 200, "developId": DEVELOP_ID,
                   "msg": "成功", "data": data}),
            truncate,
        ),
        Err(r) => r,
    }
}

/// The `data` of a successful answer.
fn answer(sb: &Sandbox, shop: &Shop, page: Page, body: &Value) -> Result<Value, Response> {
    let num = int_param(sb, body, "pageNum")?.unwrap_or(1);
    let size = int_param(sb, body, "pageSize")?.unwrap_or(20);
    if num < 1 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(error(
            sb,
            400,
            &format!(
                "参数错误: pageNum must be at least 1 and pageSize between 1 and {MAX_PAGE_SIZE}"
            ),
        ));
    }
    let (begin_field, end_field) = page.time_fields();
    let mut bounds = [None, None];
    for (slot, field) in bounds.iter_mut().zip([begin_field, end_field]) {
        let v = &body[field];
        if !v.is_null() {
            *slot = Some(parse_filter_time(v).ok_or_else(|| {
                error(
                    sb,
                    400,
                    &format!("参数错误: {field} = {v} is not a date time"),
                )
            })?);
        }
    }
    let [begin, end] = bounds;
    let status = int_param(sb, body, page.status_field())?;
    let order_no = text_param(body, "orderNo");
    let id = text_param(body, "id").filter(|_| page == Page::Taobao);
    let tb_order_id = text_param(body, "tbOrderId").filter(|_| page == Page::Alibaba);
    // Seed 003 documents `sellerNick` (商家昵称) on the Taobao page only; seed 004 has no
    // seller filter, so there it is an unknown body key and ignored like any other.
    let seller_nick = match (&body["sellerNick"], page) {
        (Value::Null, _) | (_, Page::Alibaba) => None,
        (Value::String(s), Page::Taobao) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        (other, Page::Taobao) => {
            return Err(error(
                sb,
                400,
                &format!("参数错误: sellerNick = {other} (not a string)"),
            ));
        }
    };
    let user_ids: Option<Vec<String>> = match (&body["userIdList"], page) {
        (Value::Array(a), Page::Alibaba) if !a.is_empty() => Some(a.iter().map(str_of).collect()),
        _ => None,
    };

    if sb.faults.roll_drift() {
        shop.drift(page, sb.pandapon.now_at_start);
    }
    let list = shop.list(page);
    let c = list.lock();
    let plain = status.is_none()
        && order_no.is_none()
        && id.is_none()
        && tb_order_id.is_none()
        && user_ids.is_none()
        && seller_nick.is_none();
    let cache_key = format!(
        "{begin:?}|{end:?}|{status:?}|{order_no:?}|{id:?}|{tb_order_id:?}|{user_ids:?}|{seller_nick:?}"
    );
    let hits = list.cache.get(cache_key, c.version(), || {
        let ms = |t: Option<DateTime<Utc>>, or: i64| t.map_or(or, |t| t.timestamp_millis());
        c.select(
            By::Created,
            (begin, end),
            (ms(begin, i64::MIN), ms(end, i64::MAX)),
            |v| match v {
                // What the filter sees is the wire's createTime: whole seconds on the Taobao
                // page, milliseconds on the 1688 page.
                View::Seed(n) => {
                    parse_filter_time(&list.seeds[*n]["createTime"]).map(|t| t.timestamp_millis())
                }
                _ => v.times().map(|(_, created, _)| match page {
                    Page::Taobao => created.timestamp() * 1000,
                    Page::Alibaba => created.timestamp_millis(),
                }),
            },
            |h, v| {
                if plain {
                    return true;
                }
                let nick = match v {
                    View::Seed(_) => None,
                    _ => c.order(h).map(|g| render::taobao_seller(&g)),
                };
                if seller_nick.as_deref().is_some_and(|n| nick != Some(n)) {
                    return false;
                }
                let Some(o) = list.order(page, &c, h) else {
                    return false;
                };
                status.is_none_or(|s| o[page.status_field()].as_i64() == Some(s))
                    && order_no
                        .as_ref()
                        .is_none_or(|n| str_of(&o["orderNo"]) == *n)
                    && id.as_ref().is_none_or(|n| str_of(&o["id"]) == *n)
                    && tb_order_id
                        .as_ref()
                        .is_none_or(|n| str_of(&o["tbOrderId"]) == *n)
                    && user_ids
                        .as_ref()
                        .is_none_or(|u| u.contains(&str_of(&o["userId"])))
            },
            |h| match c.view(h) {
                View::Seed(n) => numeric_id(&list.seeds[n]["id"]),
                v => v
                    .times()
                    .map_or(0, |(seq, _, _)| u128::from(render::order_id(page, seq))),
            },
        )
    });
    let total = hits.len();
    let rows: Vec<Value> = page_of(&hits, num as usize, size as usize, page == Page::Taobao)
        .into_iter()
        .filter_map(|h| list.order(page, &c, h))
        .collect();
    drop(c);
    Ok(match page {
        Page::Taobao => json!({"total": total, "data": rows}),
        Page::Alibaba => json!({"total": total, "data": rows, "code": 200, "msg": null}),
    })
}

#[cfg(test)]
mod tests;
