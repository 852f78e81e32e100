//! Sandbox module for the vv-tool ERP API: `POST /vvtool/api/proxy/oauth/token`,
//! `POST /vvtool/tool/erps/sold`, `POST /vvtool/tool/erps/increment` (form-encoded).
//!
//! Built from the vendor's document, not from the adapter:
//! - Tokens: `grant_type=client_credentials` with the sandbox's `client_id`/`client_secret`
//!   gives `{"code": 0, "data": {"access_token", "token_type": "Bearer", "expires_in",
//!   "scope"}}`; tokens expire after `expires_in` (7200 s; tests may shorten it). A list call
//!   without a valid `Authorization: Bearer` token is answered HTTP 401
//!   `{"code": 401, "msg": ...}`. A fixed long-lived token ([`ACCESS_TOKEN`]) is accepted too.
//! - `shop_id` and `fields` are required (code 100); another shop is `302 未授权店铺`.
//!   Trades carry exactly the requested `fields`.
//! - sold: `start_created`/`end_created` (both included) on creation time, only from midnight
//!   90 days ago (code 100 otherwise: the `start_created` row says "查询三个月内", where the
//!   introduction says 30 days; some sandbox trades are older than 30 days), newest first. increment: `start_create`/`end_create`
//!   (sic), both required (`614 不合法的参数`), at most one day apart (`614 非法的参数`), on
//!   modification time, newest first.
//! - `type`: without it only guarantee_trade (fixed, auction), auto_delivery, ec, cod and step
//!   trades are returned; some sandbox trades are `tmall_i18n` or `o2o_offlinetrade`.
//! - `status`: one status, or `ALL_WAIT_PAY` / `ALL_CLOSED`.
//! - `buyer_nick`: that buyer's trades. `rate_status`: one of the five documented values, on
//!   the trade's `buyer_rate`/`seller_rate`. `ext_type`: one of `ershou`, `service`, `mark`
//!   ("只能做单个 ext_type 查询"): `service` finds trades with `service_orders`, `mark` those
//!   with a `mark_desc`, `ershou` (second-hand market) none, as the shop sells new goods.
//!   `tag`: `time_card` or `fee_card` (the seller's group tags for top-up trades), which no
//!   sandbox trade carries. Any other value of these is `100 请求参数错误`.
//! - Paging: `page_no`, `page_size` (default 40; above 45 the call "times out": `614 API 调用远程
//!   服务超时`). `data` is a PHP-style map: `"0"`, `"1"`, ... are the trades (serialized in
//!   text order, so `"10"` comes before `"2"`), beside `withholding_money` and `has_next`
//!   (`use_has_next=true`) or `total_results`; an empty page is `"data": []`.
//! - More than 10 requests in one second: `614 服务访问频繁`.
//!
//! The seed's example trade is served too: its `buyer_nick` and `orders` verbatim (odd line
//! status included), with the trade-level fields the example left out filled in by the sandbox.

use super::Sandbox;
use super::catalog::{By, Catalog, QueryCache, Segment, View, page_of, shop_seed};
use super::dataset::{self, GenOrder};
use super::faults::Gate;
use super::taobao_enhanced::{
    Params, floor_secs, fmt_time, params, parse_time, text_response, trade_id, trade_json,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use rand::RngExt;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const SHOP_ID: &str = "100200300";
pub const CLIENT_ID: &str = "sandbox-vv-client";
pub const CLIENT_SECRET: &str = "sandbox-vv-client-secret-9c41f0";
/// A long-lived token the sandbox accepts as well (for shops configured with `access_token`).
pub const ACCESS_TOKEN: &str = "sandbox-vv-access-token-2e7b55";
/// The seed trade's id (the example leaves it out).
pub const SEED_TID: u64 = 1_875_397_323_775_241_100;
const PLATFORM: &str = "vvtool";
const SHOP_NAME: &str = "沙盒VV小店";
const RATE_LIMIT: u32 = 10;
const MAX_PAGE_SIZE: i64 = 45;
const DEFAULT_PAGE_SIZE: i64 = 40;
const DEFAULT_TOKEN_TTL_SECS: u64 = 7200;
const SOLD_DAYS: i64 = 90;
const SEED_FIXTURE: &str = include_str!("../../fixtures/vvtool/sold.json");
/// What `type` means when it is not sent.
const DEFAULT_TYPES: &[&str] = &["fixed", "auction", "auto_delivery", "ec", "cod", "step"];

/// One shop's credentials: its id, the client that may read it, a long-lived token.
#[derive(Debug, Clone)]
pub struct Creds {
    pub shop_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub access_token: String,
    /// The shop name its trades carry in `seller_nick`.
    pub shop_name: String,
}

impl Creds {
    /// Shop `shop`'s (1-based): shop 1's are the documented constants.
    pub fn of(shop: usize) -> Creds {
        Creds {
            shop_id: (100_200_299 + shop.max(1)).to_string(),
            client_id: super::shop_credential(CLIENT_ID, shop),
            client_secret: super::shop_credential(CLIENT_SECRET, shop),
            access_token: super::shop_credential(ACCESS_TOKEN, shop),
            shop_name: super::shop_credential(SHOP_NAME, shop),
        }
    }
}

/// One shop: credentials, orders generated on demand, the seed's example (shop 1 only),
/// drift.
pub struct Shop {
    pub creds: Creds,
    catalog: Mutex<Catalog>,
    seeds: Vec<Value>,
    rng: Mutex<StdRng>,
    cache: QueryCache,
}

/// The platform's state: shops, issued tokens (each for one shop's client).
pub struct State {
    shops: Vec<Shop>,
    tokens: Mutex<HashMap<String, (usize, Instant)>>,
    token_ttl_secs: AtomicU64,
    token_seq: AtomicU64,
    token_rng: Mutex<StdRng>,
    /// Tokens handed out so far.
    pub tokens_issued: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let shops = (1..=o.shops.max(1))
            .map(|shop| {
                let seed = shop_seed(o.seed, shop);
                let seeds = if shop == 1 {
                    vec![seed_trade(o.now)]
                } else {
                    Vec::new()
                };
                // A tenth more spread over the 90 days sold serves, so that some are older
                // than 30.
                let segments = vec![
                    Segment::new(o.orders, seed, 3, o.now, 30),
                    Segment::new(o.orders.div_ceil(10), seed ^ 0x90, 3, o.now, SOLD_DAYS),
                ];
                Shop {
                    creds: Creds::of(shop),
                    catalog: Mutex::new(Catalog::new(segments, seeds.len(), 3, shop)),
                    seeds,
                    rng: Mutex::new(dataset::drift_rng(seed ^ 3)),
                    cache: QueryCache::default(),
                }
            })
            .collect();
        State {
            shops,
            tokens: Mutex::new(HashMap::new()),
            token_ttl_secs: AtomicU64::new(DEFAULT_TOKEN_TTL_SECS),
            token_seq: AtomicU64::new(1),
            token_rng: Mutex::new(dataset::drift_rng(o.seed ^ 0x70c3)),
            tokens_issued: AtomicU64::new(0),
            now_at_start: o.now,
        }
    }

    /// Shop `n` (1-based).
    pub fn shop(&self, n: usize) -> &Shop {
        &self.shops[n.clamp(1, self.shops.len()) - 1]
    }

    /// Lifetime of tokens issued from now on (tests shorten it).
    pub fn set_token_ttl(&self, secs: u64) {
        self.token_ttl_secs.store(secs.max(1), Ordering::Relaxed);
    }

    /// Expire every issued token at once (what a token refusal mid-pull looks like).
    pub fn expire_tokens(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for (_, exp) in t.values_mut() {
            *exp = now;
        }
    }

    /// A token for shop `shop`'s client.
    fn issue_token(&self, shop: usize) -> (String, u64) {
        let ttl = self.token_ttl_secs.load(Ordering::Relaxed);
        let n = self.token_seq.fetch_add(1, Ordering::Relaxed);
        let token = {
            let mut rng = self.token_rng.lock().unwrap_or_else(|e| e.into_inner());
            format!(
                "vv{n:04}{:016x}{:016x}",
                rng.random::<u64>(),
                rng.random::<u64>()
            )
        };
        let expiry = Instant::now() + std::time::Duration::from_secs(ttl);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), (shop, expiry));
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        (token, ttl)
    }

    /// The shop a valid token was issued for (1-based).
    fn token_shop(&self, token: &str) -> Option<usize> {
        if let Some(i) = self
            .shops
            .iter()
            .position(|s| s.creds.access_token == token)
        {
            return Some(i + 1);
        }
        let t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        t.get(token)
            .filter(|(_, exp)| Instant::now() < *exp)
            .map(|(shop, _)| *shop)
    }

    /// Modify a few of shop 1's orders (and sometimes add one) as if buyers and sellers
    /// acted mid-scan.
    pub fn drift(&self) {
        self.shop(1).drift(self.now_at_start);
    }

    /// Every trade of shop 1 with all its fields (for tests).
    pub fn trades(&self) -> Vec<Value> {
        self.shop(1).trades()
    }
}

impl Shop {
    fn lock(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn drift(&self, start: DateTime<Utc>) {
        let now = Utc::now().max(start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.lock().drift(&mut rng, now);
    }

    /// Every trade with all its fields.
    pub fn trades(&self) -> Vec<Value> {
        let c = self.lock();
        (0..c.len() as u32)
            .filter_map(|h| self.trade(&c, h))
            .collect()
    }

    /// Record `h` with all its fields.
    fn trade(&self, c: &Catalog, h: u32) -> Option<Value> {
        match c.view(h) {
            View::Seed(n) => self.seeds.get(n).cloned(),
            _ => c.order(h).map(|g| render(&g, &self.creds.shop_name)),
        }
    }
}

/// This platform in the sandbox's list.
pub static SERVED: super::Served = super::Served {
    ids: &["vvtool"],
    path: "/vvtool",
    routes,
    config_section,
};

/// The shop section of the sandbox config: client credentials, so the token exchange runs.
pub fn config_section(base_url: &str, shop: usize, shops: usize) -> String {
    let c = Creds::of(shop);
    let name = super::shop_name(PLATFORM, shop, shops);
    format!(
        "\n[shops.{name}]\nplatform = \"vvtool\"\nbase_url = \"{base_url}\"\n\
         shop_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
        c.shop_id, c.client_id, c.client_secret
    )
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/vvtool/api/proxy/oauth/token", any(token))
        .route("/vvtool/tool/erps/sold", any(sold))
        .route("/vvtool/tool/erps/increment", any(increment))
        .with_state(sb)
}

/// The trade type of a generated order: mostly `fixed`, some outside the default `type` set.
fn trade_type(seq: u64) -> &'static str {
    match seq % 10 {
        3 => "tmall_i18n",
        7 => "o2o_offlinetrade",
        _ => "fixed",
    }
}

/// Generated trades' ids start here.
const TID_BASE: u64 = 4_200_000_000_000_000_000;

/// vv-tool documents `tid` as a Number: 19 digits, beyond 2^53. `tid_str` is not in its
/// field reference.
fn render(g: &GenOrder, shop_name: &str) -> Value {
    let tid = trade_id(TID_BASE, g.seq);
    let mut v = trade_json(g, tid, shop_name, trade_type(g.seq));
    if let Some(o) = v.as_object_mut() {
        o.insert("tid".into(), json!(tid));
        o.remove("tid_str");
        // "订单出现异常问题的时候,给予用户的描述": a few trades (what ext_type=mark finds).
        let mark = if g.seq.is_multiple_of(13) {
            "该订单需要延长收货时间"
        } else {
            ""
        };
        o.insert("mark_desc".into(), json!(mark));
    }
    v
}

/// The seed's example trade (`buyer_nick` and `orders` verbatim) with the fields a full
/// `fields` list asks for, dated two days before the sandbox started.
fn seed_trade(now: DateTime<Utc>) -> Value {
    let example: Value = serde_json::from_str(SEED_FIXTURE).unwrap_or(Value::Null);
    let mut trade = example["data"]["0"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let created = floor_secs(now - Duration::days(2));
    let [name, phone, state, city, district, town, address, zip] = dataset::RECEIVERS[2];
    let extra = json!({
        "tid": SEED_TID, "status": "WAIT_BUYER_CONFIRM_GOODS", "type": "fixed",
        // Consistent with the example's lines as Taobao defines the trade's money: payment =
        // Σ divide_order_fee (110.48 + 0.00) + post_fee 0.00; total_fee = Σ price × num
        // (1999.00 + 89.00); discount_fee = the order-level share, Σ part_mjz_discount (108.52,
        // the second line has none). The example's own line figures do not add up among
        // themselves (1999.00 − 1110.00 ≠ 739.00): they are kept verbatim.
        "payment": "110.48", "post_fee": "0.00", "discount_fee": "108.52", "total_fee": "2088.00",
        "created": fmt_time(created), "pay_time": fmt_time(created + Duration::seconds(42)),
        "modified": fmt_time(created + Duration::hours(4)),
        "consign_time": fmt_time(created + Duration::hours(1)),
        "seller_nick": SHOP_NAME, "buyer_message": "", "seller_memo": "",
        "receiver_name": name, "receiver_mobile": phone, "receiver_phone": "",
        "receiver_state": state, "receiver_city": city, "receiver_district": district,
        "receiver_town": town, "receiver_address": address, "receiver_zip": zip,
        "receiver_country": "中国",
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            trade.entry(k).or_insert(v);
        }
    }
    Value::Object(trade)
}

fn answer(code: i64, msg: &str) -> Response {
    axum::Json(json!({"code": code, "msg": msg, "msec": 3, "time": Utc::now().timestamp()}))
        .into_response()
}

fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"code": 401, "msg": "Unauthenticated: access_token 无效或已过期"})),
    )
        .into_response()
}

/// Fault gate for a request naming shop `shop` (0: none known); `Ok(truncate)` to go on.
async fn gate(sb: &Sandbox, shop: usize) -> Result<bool, Response> {
    match sb.faults.gate(PLATFORM, shop, Some(RATE_LIMIT)).await {
        Gate::Pass => Ok(false),
        Gate::Truncate => Ok(true),
        Gate::Respond(r) => Err(r),
        Gate::Throttle => Err(answer(614, "服务访问频繁")),
    }
}

async fn token(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(&headers, q, &body);
    let shop = sb
        .vvtool
        .shops
        .iter()
        .position(|s| p.get("client_id") == Some(&s.creds.client_id))
        .map(|i| i + 1);
    let truncate = match gate(&sb, shop.unwrap_or(0)).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if p.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return answer(100, "请求参数错误:grant_type 只支持 client_credentials");
    }
    let Some(shop) =
        shop.filter(|&s| p.get("client_secret") == Some(&sb.vvtool.shop(s).creds.client_secret))
    else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 401, "msg": "客户端认证失败 (invalid_client)"})),
        )
            .into_response();
    };
    let (token, ttl) = sb.vvtool.issue_token(shop);
    let body = json!({"code": 0, "msg": "成功", "data": {
        "access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "*"
    }});
    text_response(body.to_string(), truncate)
}

#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    Sold,
    Increment,
}

async fn sold(sb: AxState<Arc<Sandbox>>, h: HeaderMap, q: RawQuery, body: Bytes) -> Response {
    list(sb, h, q, body, Endpoint::Sold).await
}

async fn increment(sb: AxState<Arc<Sandbox>>, h: HeaderMap, q: RawQuery, body: Bytes) -> Response {
    list(sb, h, q, body, Endpoint::Increment).await
}

/// Midnight (China time) 90 days before `now`: the oldest creation time sold serves.
fn earliest_sold(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = (now - Duration::days(SOLD_DAYS)).with_timezone(&super::taobao_enhanced::china());
    local
        .with_time(NaiveTime::MIN)
        .single()
        .map(|t| t.to_utc())
        .unwrap_or(now)
}

async fn list(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
    endpoint: Endpoint,
) -> Response {
    let p = params(&headers, q, &body);
    let claimed = sb
        .vvtool
        .shops
        .iter()
        .position(|s| p.get("shop_id").map(|v| v.trim()) == Some(s.creds.shop_id.as_str()))
        .map_or(0, |i| i + 1);
    let truncate = match gate(&sb, claimed).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let Some(token_shop) = bearer.and_then(|t| sb.vvtool.token_shop(&t)) else {
        return unauthenticated();
    };
    let get = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(shop) = get("shop_id") else {
        return answer(100, "请求参数错误:shop_id 不能为空");
    };
    // A token opens only the shop its client was authorised for.
    let shop_state = sb.vvtool.shop(token_shop);
    if shop != shop_state.creds.shop_id {
        let mut r =
            json!({"code": 302, "msg": "未授权店铺", "msec": 2, "time": Utc::now().timestamp()});
        r["data"] = json!({"url": format!("https://www.vv-tool.com/authorize?shop_id={shop}")});
        return axum::Json(r).into_response();
    }
    let Some(fields) = get("fields") else {
        return answer(100, "请求参数错误:fields 不能为空");
    };
    let fields: HashSet<String> = fields
        .split(',')
        .map(|f| f.trim().split('.').next().unwrap_or("").to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let int =
        |k: &str, default: i64| get(k).map_or(Ok(default), |v| v.parse::<i64>().map_err(|_| ()));
    let (Ok(page), Ok(size)) = (int("page_no", 1), int("page_size", DEFAULT_PAGE_SIZE)) else {
        return answer(100, "请求参数错误:page_no / page_size 必须为整数");
    };
    if page < 1 || size < 1 {
        return answer(100, "请求参数错误:page_no 和 page_size 必须大于 0");
    }
    if size > MAX_PAGE_SIZE {
        return answer(614, "API 调用远程服务超时");
    }
    let now = Utc::now();
    let time = |k: &str| get(k).map(|v| parse_time(v).ok_or(()));
    let (start, end) = match endpoint {
        Endpoint::Sold => {
            let earliest = earliest_sold(now);
            let (Ok(start), Ok(end)) = (
                time("start_created").unwrap_or(Ok(earliest)),
                time("end_created").unwrap_or(Ok(now)),
            ) else {
                return answer(100, "请求参数错误:时间格式为 yyyy-MM-dd HH:mm:ss");
            };
            if start < earliest {
                return answer(100, "请求参数错误:start_created 只能查询三个月内的交易");
            }
            (start, end)
        }
        Endpoint::Increment => {
            let (Some(start), Some(end)) = (time("start_create"), time("end_create")) else {
                return answer(614, "不合法的参数");
            };
            let (Ok(start), Ok(end)) = (start, end) else {
                return answer(614, "非法的参数:时间格式为 yyyy-MM-dd HH:mm:ss");
            };
            if end < start || end - start > Duration::days(1) {
                return answer(
                    614,
                    "非法的参数:start_create 与 end_create 的间隔不能超过一天",
                );
            }
            (start, end)
        }
    };
    let types: HashSet<String> = match get("type") {
        None => DEFAULT_TYPES.iter().map(|t| t.to_string()).collect(),
        Some(t) => t
            .split(',')
            .map(str::trim)
            .flat_map(|t| match t {
                "guarantee_trade" => vec!["fixed".to_string(), "auction".to_string()],
                other => vec![other.to_string()],
            })
            .collect(),
    };
    let statuses: Option<Vec<&str>> = get("status").map(|s| match s {
        "ALL_WAIT_PAY" => vec!["WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY"],
        "ALL_CLOSED" => vec!["TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"],
        one => vec![one],
    });
    let filters = match Filters::parse(&p) {
        Ok(f) => f,
        Err(msg) => return answer(100, &msg),
    };
    let use_has_next = get("use_has_next") == Some("true");
    let shop = shop_state;
    if sb.faults.roll_drift() {
        shop.drift(sb.vvtool.now_at_start);
    }
    let by = match endpoint {
        Endpoint::Sold => By::Created,
        Endpoint::Increment => By::Modified,
    };
    let c = shop.lock();
    let cache_key = {
        let mut types: Vec<&String> = types.iter().collect();
        types.sort();
        format!("{by:?}|{start}|{end}|{types:?}|{statuses:?}|{filters:?}")
    };
    let hits = shop.cache.get(cache_key, c.version(), || {
        // Only time and `type` are known without building a trade; the other filters
        // look at the trade itself.
        let plain = statuses.is_none() && filters.is_plain();
        c.select(
            by,
            (Some(start), Some(end)),
            (start.timestamp_millis(), end.timestamp_millis()),
            |v| match v {
                View::Seed(n) => {
                    let field = if by == By::Created {
                        "created"
                    } else {
                        "modified"
                    };
                    shop.seeds[*n][field]
                        .as_str()
                        .and_then(parse_time)
                        .map(|t| t.timestamp_millis())
                }
                _ => v.times().map(|(_, created, modified)| {
                    let created = floor_secs(created);
                    let t = match by {
                        By::Created => created,
                        By::Modified => floor_secs(modified).max(created),
                    };
                    t.timestamp_millis()
                }),
            },
            |h, v| {
                let ty = match v {
                    View::Seed(n) => shop.seeds[*n]["type"].as_str().unwrap_or(""),
                    _ => v.times().map_or("", |(seq, _, _)| trade_type(seq)),
                };
                if !types.contains(ty) {
                    return false;
                }
                plain
                    || shop.trade(&c, h).is_some_and(|t| {
                        statuses
                            .as_ref()
                            .is_none_or(|s| t["status"].as_str().is_some_and(|st| s.contains(&st)))
                            && filters.accepts(&t)
                    })
            },
            |h| match c.view(h) {
                View::Seed(n) => u128::from(shop.seeds[n]["tid"].as_u64().unwrap_or(0)),
                v => v
                    .times()
                    .map_or(0, |(seq, _, _)| u128::from(trade_id(TID_BASE, seq))),
            },
        )
    });
    // Newest first, as Taobao's sold and increment lists are.
    let total = hits.len();
    let (page, size) = (page as usize, size as usize);
    let rows: Vec<Value> = page_of(&hits, page, size, false)
        .into_iter()
        .filter_map(|h| shop.trade(&c, h))
        .collect();
    drop(c);
    let data = if rows.is_empty() {
        json!([])
    } else {
        let mut m = Map::new();
        m.insert("withholding_money".into(), json!(1));
        if use_has_next {
            m.insert("has_next".into(), json!(page * size < total));
        } else {
            m.insert("total_results".into(), json!(total));
        }
        for (i, t) in rows.into_iter().enumerate() {
            let projected: Map<String, Value> = t
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| fields.contains(*k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            m.insert(i.to_string(), Value::Object(projected));
        }
        Value::Object(m)
    };
    let body =
        json!({"code": 0, "msg": "操作成功", "msec": 12, "time": now.timestamp(), "data": data});
    text_response(body.to_string(), truncate)
}

/// The documented filters beside time, `type` and `status`.
#[derive(Debug, Default)]
struct Filters {
    buyer_nick: Option<String>,
    /// `rate_status`: what `buyer_rate` and `seller_rate` must be (`None`: either).
    rate: Option<(Option<bool>, Option<bool>)>,
    ext_type: Option<&'static str>,
    /// A valid `tag` was sent: the seller's group tags for top-up trades, which no sandbox
    /// trade carries.
    tag: bool,
}

impl Filters {
    /// Whether these filters let every trade through.
    fn is_plain(&self) -> bool {
        self.buyer_nick.is_none() && self.rate.is_none() && self.ext_type.is_none() && !self.tag
    }

    /// The filters of a request, or the `100` message for a value the document does not list.
    fn parse(p: &Params) -> Result<Filters, String> {
        let get = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let rate = match get("rate_status") {
            None => None,
            Some("RATE_UNBUYER") => Some((Some(false), None)),
            Some("RATE_UNSELLER") => Some((None, Some(false))),
            Some("RATE_BUYER_UNSELLER") => Some((Some(true), Some(false))),
            Some("RATE_UNBUYER_SELLER") => Some((Some(false), Some(true))),
            Some("RATE_BUYER_SELLER") => Some((Some(true), Some(true))),
            Some(other) => return Err(format!("请求参数错误:rate_status 无效值 {other}")),
        };
        let ext_type = match get("ext_type") {
            None => None,
            Some(v) if v.contains(',') => {
                return Err("请求参数错误:只能做单个 ext_type 查询".into());
            }
            Some("ershou") => Some("ershou"),
            Some("service") => Some("service"),
            Some("mark") => Some("mark"),
            Some(other) => return Err(format!("请求参数错误:ext_type 无效值 {other}")),
        };
        let tag = match get("tag") {
            None => false,
            Some("time_card" | "fee_card") => true,
            Some(other) => return Err(format!("请求参数错误:tag 无效值 {other}")),
        };
        Ok(Filters {
            buyer_nick: get("buyer_nick").map(str::to_string),
            rate,
            ext_type,
            tag,
        })
    }

    fn accepts(&self, t: &Value) -> bool {
        let is = |want: Option<bool>, field: &str| {
            want.is_none_or(|w| t[field].as_bool().unwrap_or(false) == w)
        };
        let text = |field: &str| t[field].as_str().is_some_and(|s| !s.is_empty());
        self.buyer_nick
            .as_ref()
            .is_none_or(|b| t["buyer_nick"].as_str() == Some(b))
            && self
                .rate
                .is_none_or(|(buyer, seller)| is(buyer, "buyer_rate") && is(seller, "seller_rate"))
            && self.ext_type.is_none_or(|e| match e {
                "service" => t["service_orders"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "mark" => text("mark_desc"),
                _ => false,
            })
            && !self.tag
    }
}

#[cfg(test)]
mod tests;
