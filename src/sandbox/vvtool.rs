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
//!   30 days ago (code 100 otherwise), newest first. increment: `start_create`/`end_create`
//!   (sic), both required (`614 不合法的参数`), at most one day apart (`614 非法的参数`), on
//!   modification time, newest first.
//! - `type`: without it only guarantee_trade (fixed, auction), auto_delivery, ec, cod and step
//!   trades are returned; some sandbox trades are `tmall_i18n` or `o2o_offlinetrade`.
//! - `status`: one status, or `ALL_WAIT_PAY` / `ALL_CLOSED`.
//! - Paging: `page_no`, `page_size` (default 40; above 45 the call "times out": `614 API 调用远程
//!   服务超时`). `data` is a PHP-style map: `"0"`, `"1"`, ... are the trades (serialized in
//!   text order, so `"10"` comes before `"2"`), beside `withholding_money` and `has_next`
//!   (`use_has_next=true`) or `total_results`; an empty page is `"data": []`.
//! - More than 10 requests in one second: `614 服务访问频繁`.
//!
//! The seed's example trade is served too: its `buyer_nick` and `orders` verbatim (odd line
//! status included), with the trade-level fields the example left out filled in by the sandbox.

use super::Sandbox;
use super::dataset::{self, GenOrder};
use super::faults::Gate;
use super::taobao_enhanced::{
    floor_secs, fmt_time, params, parse_time, text_response, trade_id, trade_json,
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
const SOLD_DAYS: i64 = 30;
const SEED_FIXTURE: &str = include_str!("../../fixtures/vvtool/sold.json");
/// What `type` means when it is not sent.
const DEFAULT_TYPES: &[&str] = &["fixed", "auction", "auto_delivery", "ec", "cod", "step"];

/// One order held by the sandbox.
#[derive(Clone)]
pub enum Rec {
    Generated(GenOrder),
    /// The seed's example trade, completed by the sandbox.
    Seed(Value),
}

/// The generated order inside a record (seed examples are not drifted).
fn generated(r: &mut Rec) -> Option<&mut GenOrder> {
    match r {
        Rec::Generated(g) => Some(g),
        _ => None,
    }
}

/// The platform's state: orders, issued tokens, drift generator.
pub struct State {
    orders: Mutex<Vec<Rec>>,
    /// Every trade rendered once (and again after drift).
    cache: Mutex<Option<Arc<Vec<Rendered>>>>,
    tokens: Mutex<HashMap<String, Instant>>,
    token_ttl_secs: AtomicU64,
    token_seq: AtomicU64,
    /// Tokens handed out so far.
    pub tokens_issued: AtomicU64,
    rng: Mutex<StdRng>,
    next_seq: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let mut orders: Vec<Rec> = dataset::generate(o.orders, o.seed, 3, o.now)
            .into_iter()
            .map(Rec::Generated)
            .collect();
        orders.push(Rec::Seed(seed_trade(o.now)));
        State {
            orders: Mutex::new(orders),
            cache: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            token_ttl_secs: AtomicU64::new(DEFAULT_TOKEN_TTL_SECS),
            token_seq: AtomicU64::new(1),
            tokens_issued: AtomicU64::new(0),
            rng: Mutex::new(dataset::drift_rng(o.seed ^ 3)),
            next_seq: AtomicU64::new(o.orders as u64 + 1),
            now_at_start: o.now,
        }
    }

    /// Lifetime of tokens issued from now on (tests shorten it).
    pub fn set_token_ttl(&self, secs: u64) {
        self.token_ttl_secs.store(secs.max(1), Ordering::Relaxed);
    }

    /// Expire every issued token at once (what a token refusal mid-pull looks like).
    pub fn expire_tokens(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for exp in t.values_mut() {
            *exp = now;
        }
    }

    fn issue_token(&self) -> (String, u64) {
        let ttl = self.token_ttl_secs.load(Ordering::Relaxed);
        let n = self.token_seq.fetch_add(1, Ordering::Relaxed);
        let token = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
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
            .insert(token.clone(), expiry);
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        (token, ttl)
    }

    fn token_ok(&self, token: &str) -> bool {
        if token == ACCESS_TOKEN {
            return true;
        }
        let t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        t.get(token).is_some_and(|exp| Instant::now() < *exp)
    }

    /// Modify a few orders (and sometimes add one) as if buyers and sellers acted mid-scan.
    pub fn drift(&self) {
        let now = Utc::now().max(self.now_at_start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        let (_, arrives) = dataset::drift_event(&mut orders, &mut rng, now, generated);
        if arrives {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            orders.push(Rec::Generated(dataset::fresh_order(seq, 3, now)));
        }
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Every trade with all its fields (for tests).
    pub fn trades(&self) -> Vec<Value> {
        self.rendered().iter().map(|r| r.trade.clone()).collect()
    }

    fn rendered(&self) -> Arc<Vec<Rendered>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &*cache {
            return c.clone();
        }
        let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = Arc::new(
            orders
                .iter()
                .map(|r| {
                    let trade = render(r);
                    let time = |k: &str| trade[k].as_str().and_then(parse_time);
                    Rendered {
                        created: time("created"),
                        modified: time("modified"),
                        trade,
                    }
                })
                .collect::<Vec<_>>(),
        );
        *cache = Some(fresh.clone());
        fresh
    }
}

/// A trade in wire form with its times parsed once, for filtering and sorting.
struct Rendered {
    created: Option<DateTime<Utc>>,
    modified: Option<DateTime<Utc>>,
    trade: Value,
}

/// The shop section of the sandbox config: client credentials, so the token exchange runs.
pub fn config_section(base_url: &str) -> String {
    format!(
        "\n[shops.sandbox-vvtool]\nplatform = \"vvtool\"\nbase_url = \"{base_url}\"\n\
         shop_id = \"{SHOP_ID}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n"
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

/// vv-tool documents `tid` as a Number: 19 digits, beyond 2^53. `tid_str` is not in its
/// field reference.
fn render(r: &Rec) -> Value {
    match r {
        Rec::Seed(v) => v.clone(),
        Rec::Generated(g) => {
            let tid = trade_id(4_200_000_000_000_000_000, g.seq);
            let mut v = trade_json(g, tid, SHOP_NAME, trade_type(g.seq));
            if let Some(o) = v.as_object_mut() {
                o.insert("tid".into(), json!(tid));
                o.remove("tid_str");
            }
            v
        }
    }
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
        "payment": "110.48", "post_fee": "0.00", "discount_fee": "628.52", "total_fee": "739.00",
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

async fn gate(sb: &Sandbox) -> Result<bool, Response> {
    match sb.faults.gate(PLATFORM, Some(RATE_LIMIT)).await {
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
    let truncate = match gate(&sb).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let p = params(&headers, q, &body);
    if p.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return answer(100, "请求参数错误:grant_type 只支持 client_credentials");
    }
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || p.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 401, "msg": "客户端认证失败 (invalid_client)"})),
        )
            .into_response();
    }
    let (token, ttl) = sb.vvtool.issue_token();
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

/// Midnight (China time) 30 days before `now`: the oldest creation time sold serves.
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
    let truncate = match gate(&sb).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    if !bearer.is_some_and(|t| sb.vvtool.token_ok(&t)) {
        return unauthenticated();
    }
    let p = params(&headers, q, &body);
    let get = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(shop) = get("shop_id") else {
        return answer(100, "请求参数错误:shop_id 不能为空");
    };
    if shop != SHOP_ID {
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
                return answer(100, "请求参数错误:start_created 只能查询近30天的交易");
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
    let use_has_next = get("use_has_next") == Some("true");
    if sb.faults.roll_drift() {
        sb.vvtool.drift();
    }
    let key_field = if endpoint == Endpoint::Sold {
        "created"
    } else {
        "modified"
    };
    let all = sb.vvtool.rendered();
    let mut hits: Vec<(Option<DateTime<Utc>>, &Value)> = all
        .iter()
        .map(|r| {
            let key = if key_field == "created" {
                r.created
            } else {
                r.modified
            };
            (key, &r.trade)
        })
        .filter(|(k, _)| k.is_some_and(|k| k >= start && k <= end))
        .filter(|(_, t)| t["type"].as_str().is_some_and(|ty| types.contains(ty)))
        .filter(|(_, t)| {
            statuses
                .as_ref()
                .is_none_or(|s| t["status"].as_str().is_some_and(|st| s.contains(&st)))
        })
        .collect();
    // Newest first, as Taobao's sold and increment lists are.
    hits.sort_by(|(ka, a), (kb, b)| (kb, b["tid"].as_u64()).cmp(&(ka, a["tid"].as_u64())));
    let total = hits.len();
    let (page, size) = (page as usize, size as usize);
    let rows: Vec<Value> = hits
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|(_, t)| t.clone())
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{SandboxOptions, spawn};

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// One request, paced below the platform's 10 per second.
    async fn post(
        c: &reqwest::Client,
        url: String,
        token: Option<&str>,
        form: &[(&str, String)],
    ) -> (u16, Value) {
        tokio::time::sleep(std::time::Duration::from_millis(110)).await;
        fast_post(c, url, token, form).await
    }

    async fn fast_post(
        c: &reqwest::Client,
        url: String,
        token: Option<&str>,
        form: &[(&str, String)],
    ) -> (u16, Value) {
        let mut rb = c.post(url).form(form);
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("Bearer {t}"));
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }

    #[tokio::test]
    async fn token_exchange_paging_and_limits() {
        let sb = spawn(
            "127.0.0.1:0".parse().unwrap(),
            SandboxOptions {
                orders: 200,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let base = format!("http://{}/vvtool", sb.addr);
        let c = client();
        let (s, v) = post(
            &c,
            format!("{base}/api/proxy/oauth/token"),
            None,
            &[
                ("grant_type", "client_credentials".into()),
                ("client_id", CLIENT_ID.into()),
                ("client_secret", "wrong".into()),
            ],
        )
        .await;
        assert_eq!((s, v["code"].as_i64()), (401, Some(401)));
        let (_, v) = post(
            &c,
            format!("{base}/api/proxy/oauth/token"),
            None,
            &[
                ("grant_type", "client_credentials".into()),
                ("client_id", CLIENT_ID.into()),
                ("client_secret", CLIENT_SECRET.into()),
            ],
        )
        .await;
        assert_eq!(v["data"]["token_type"], "Bearer");
        assert_eq!(v["data"]["expires_in"], 7200);
        let tok = v["data"]["access_token"].as_str().unwrap().to_string();
        let sold = format!("{base}/tool/erps/sold");
        let (s, _) = post(&c, sold.clone(), Some("nope"), &[]).await;
        assert_eq!(s, 401);
        fn base_form(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
            let mut f = vec![
                ("shop_id", SHOP_ID.to_string()),
                ("fields", "tid,created,type,orders".to_string()),
            ];
            f.extend(extra.iter().cloned());
            f
        }
        // Pages on has_next; trades carry only the fields asked for; keys in text order.
        let mut got = Vec::new();
        let mut page = 1;
        loop {
            let (_, v) = post(
                &c,
                sold.clone(),
                Some(&tok),
                &base_form(&[
                    ("page_no", page.to_string()),
                    ("page_size", "45".into()),
                    ("use_has_next", "true".into()),
                    ("type", "fixed,tmall_i18n,o2o_offlinetrade".into()),
                ]),
            )
            .await;
            assert_eq!(v["code"], 0, "{v}");
            let Some(data) = v["data"].as_object() else {
                assert_eq!(v["data"], json!([]));
                break;
            };
            assert!(data.get("total_results").is_none());
            let keys: Vec<&String> = data.keys().filter(|k| k.parse::<u64>().is_ok()).collect();
            let mut n: Vec<u64> = keys.iter().map(|k| k.parse().unwrap()).collect();
            n.sort();
            assert_eq!(n, (0..keys.len() as u64).collect::<Vec<_>>());
            for k in n {
                let t = &data[&k.to_string()];
                let mut names: Vec<&String> = t.as_object().unwrap().keys().collect();
                names.sort();
                assert_eq!(names, ["created", "orders", "tid", "type"]);
                got.push(t["tid"].as_u64().expect("tid is a JSON integer"));
            }
            if data["has_next"] == false {
                break;
            }
            page += 1;
        }
        let all = sb.state.vvtool.trades();
        assert_eq!(
            got.len(),
            all.len(),
            "every trade is within 30 days and of a requested type"
        );
        // Without `type`, tmall_i18n and o2o trades are left out.
        let (_, v) = post(
            &c,
            sold.clone(),
            Some(&tok),
            &base_form(&[("use_has_next", "false".into())]),
        )
        .await;
        let total = v["data"]["total_results"].as_u64().unwrap() as usize;
        let foreign = all.iter().filter(|t| t["type"] != "fixed").count();
        assert!(foreign > 0);
        assert_eq!(total, all.len() - foreign);
        // Limits, answered with the platform's own codes.
        let now = Utc::now();
        let old = fmt_time(earliest_sold(now) - Duration::seconds(1));
        let (_, v) = post(
            &c,
            sold.clone(),
            Some(&tok),
            &base_form(&[("start_created", old)]),
        )
        .await;
        assert_eq!(v["code"], 100);
        assert!(v["msg"].as_str().unwrap().contains("30"));
        let (_, v) = post(
            &c,
            sold.clone(),
            Some(&tok),
            &base_form(&[("page_size", "46".into())]),
        )
        .await;
        assert_eq!(
            (v["code"].as_i64(), v["msg"].as_str()),
            (Some(614), Some("API 调用远程服务超时"))
        );
        let inc = format!("{base}/tool/erps/increment");
        let (_, v) = post(&c, inc.clone(), Some(ACCESS_TOKEN), &base_form(&[])).await;
        assert_eq!(
            (v["code"].as_i64(), v["msg"].as_str()),
            (Some(614), Some("不合法的参数"))
        );
        let (_, v) = post(
            &c,
            inc.clone(),
            Some(ACCESS_TOKEN),
            &base_form(&[
                ("start_create", fmt_time(now - Duration::days(2))),
                (
                    "end_create",
                    fmt_time(now - Duration::days(1) + Duration::seconds(1)),
                ),
            ]),
        )
        .await;
        assert_eq!(v["code"], 614);
        assert!(v["msg"].as_str().unwrap().starts_with("非法的参数"));
        let mut other = base_form(&[]);
        other[0].1 = "999".into();
        let (_, v) = post(&c, sold.clone(), Some(&tok), &other).await;
        assert_eq!(v["code"], 302);
        // Tokens expire.
        sb.state.vvtool.expire_tokens();
        let (s, _) = post(&c, sold.clone(), Some(&tok), &base_form(&[])).await;
        assert_eq!(s, 401);
    }

    #[tokio::test]
    async fn more_than_ten_requests_a_second_are_throttled() {
        let sb = spawn(
            "127.0.0.1:0".parse().unwrap(),
            SandboxOptions {
                orders: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let c = client();
        let url = format!("http://{}/vvtool/tool/erps/sold", sb.addr);
        let mut codes = Vec::new();
        for _ in 0..12 {
            let (_, v) = fast_post(
                &c,
                url.clone(),
                Some(ACCESS_TOKEN),
                &[("shop_id", SHOP_ID.into()), ("fields", "tid".into())],
            )
            .await;
            codes.push(v["code"].as_i64().unwrap());
        }
        assert_eq!(&codes[..10], &[0; 10]);
        assert_eq!(codes[10], 614);
        assert!(sb.state.faults.stats.throttled.load(Ordering::Relaxed) >= 1);
    }

    #[tokio::test]
    async fn multipart_forms_like_the_vendor_samples_are_read() {
        let sb = spawn(
            "127.0.0.1:0".parse().unwrap(),
            SandboxOptions {
                orders: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // What `curl --form "fields=..." --form "shop_id=..."` sends.
        let b = "------------------------d74496d66958873e";
        let mut body = String::new();
        for (k, v) in [
            ("fields", "tid,type,status,orders,receiver_name"),
            ("shop_id", SHOP_ID),
            ("page_size", "2"),
        ] {
            body.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{b}--\r\n"));
        let r = client()
            .post(format!("http://{}/vvtool/tool/erps/sold", sb.addr))
            .header("Authorization", format!("Bearer {ACCESS_TOKEN}"))
            .header("Content-Type", format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["code"], 0, "{v}");
        assert_eq!(
            v["data"]["total_results"].as_u64().map(|n| n > 2),
            Some(true),
            "{v}"
        );
        let mut keys: Vec<&String> = v["data"]["1"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["orders", "receiver_name", "status", "tid", "type"]);
    }

    #[test]
    fn seed_trade_keeps_the_example_verbatim() {
        let t = seed_trade(Utc::now());
        let example: Value = serde_json::from_str(SEED_FIXTURE).unwrap();
        assert_eq!(t["orders"], example["data"]["0"]["orders"]);
        assert_eq!(t["buyer_nick"], example["data"]["0"]["buyer_nick"]);
        assert_eq!(t["tid"].as_u64(), Some(SEED_TID));
    }
}
