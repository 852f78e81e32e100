//! Sandbox module for the enhanced Taobao order list (fw199):
//! `POST /fw199/gateway/taobao/order/ext/list`, form-encoded (a query string works too).
//!
//! Built from the vendor's document, not from the adapter. Checks: `appid`, `timestamp`
//! (unix seconds, within 600 s of now), `sign` = `lower_hex(MD5(secret + sorted name+value +
//! secret))` over every parameter but `sign` and those left empty (computed here, with
//! [`super::digest`]), and `tb_seller_nick` (the authorised seller's login nick). Queries:
//! `start_created` and `end_created` are required (`yyyy-MM-dd HH:mm:ss`, China time, both
//! bounds included, at most one month apart), on creation time (`date_type=0`, the default)
//! or modification time (`date_type=1`), sorted on that time (`order_asc=ASC`, else newest
//! first), filtered by `status`, `tid` (comma-separated), `buyer_nick`, `seller_flag`,
//! `buyer_message`/`seller_memo` under their `_op` (`all`, `eq`, `ne`, `like`), `num_iid`
//! (the trade's or any line's), `refunding` (`1`: a line's refund in progress) and
//! `buyer_open_uid`, paged with `page_no`/`page_size` (at most 500) and `data.total`. Without
//! `sysid=100` (the vendor's sample: "此值很重要,代表不同的应用,否则拉到订单") the list is empty.
//! Errors are `{"code": <non-zero>, "message": "...", "data": null}`; the vendor documents no
//! codes, so the ones below are the sandbox's own.
//!
//! Trades' money follows the Taobao definitions ([`dataset::TaobaoMoney`]): line discounts
//! and adjustments, the order-level discount shared onto the lines, postage.
//!
//! The seed document's two example trades are served verbatim, duplicate key included (the
//! raw text is spliced into the page), beside the generated ones.

use super::Sandbox;
use super::catalog::{By, Catalog, QueryCache, Segment, View, page_of, shop_seed};
use super::dataset::{self, GenOrder};
use super::digest::{md5_hex, same_hex};
use super::faults::Gate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, Months, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

mod form;
mod trade;

pub use form::{Params, params, text_response};
pub use trade::*;

pub const APPID: &str = "sandbox-fw199-appid";
pub const APP_SECRET: &str = "sandbox-fw199-app-secret-3b8e1d";
/// The authorised seller's login nick (`tb_seller_nick`).
pub const SELLER_NICK: &str = "sandbox_seller";
/// The shop name trades carry in `seller_nick`.
pub const SHOP_NAME: &str = "沙盒小店";
pub const SYSID: &str = "100";
const PLATFORM: &str = "taobao-enhanced";
const MAX_PAGE_SIZE: usize = 500;
const DEFAULT_PAGE_SIZE: usize = 100;
const TIMESTAMP_SKEW_SECS: i64 = 600;
const SEED_FIXTURE: &str = include_str!("../../../fixtures/taobao-enhanced/list.json");

// The sandbox's error codes (the vendor documents none, only `code != 0` and `message`).
const E_APPID: i64 = 1001;
const E_TIMESTAMP: i64 = 1002;
const E_SIGN: i64 = 1003;
const E_SELLER: i64 = 1004;
const E_THROTTLED: i64 = 1005;
const E_MISSING: i64 = 2001;
const E_FORMAT: i64 = 2002;
const E_RANGE: i64 = 2003;
const E_PAGE: i64 = 2004;

/// One shop's credentials: the app (`appid`, secret) and the seller it is authorised for.
#[derive(Debug, Clone)]
pub struct Creds {
    pub appid: String,
    pub app_secret: String,
    pub seller_nick: String,
    /// The shop name its trades carry in `seller_nick`.
    pub shop_name: String,
}

impl Creds {
    /// Shop `shop`'s (1-based): shop 1's are the documented constants.
    pub fn of(shop: usize) -> Creds {
        Creds {
            appid: super::shop_credential(APPID, shop),
            app_secret: super::shop_credential(APP_SECRET, shop),
            seller_nick: super::shop_credential(SELLER_NICK, shop),
            shop_name: super::shop_credential(SHOP_NAME, shop),
        }
    }
}

/// One shop: credentials, orders generated on demand, the seed's example trades (shop 1
/// only, as raw text), drift.
pub struct Shop {
    pub creds: Creds,
    catalog: Mutex<Catalog>,
    seeds: Vec<Row>,
    rng: Mutex<StdRng>,
    cache: QueryCache,
}

/// The platform's state: its shops.
pub struct State {
    shops: Vec<Shop>,
    now_at_start: DateTime<Utc>,
}

/// What the filters and the sort need of a trade, with its wire text.
#[derive(Clone)]
pub struct Row {
    pub tid: String,
    pub created: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    pub status: String,
    pub buyer_nick: String,
    pub seller_flag: Option<i64>,
    pub buyer_message: String,
    pub seller_memo: String,
    /// The trade's `num_iid` and its lines'.
    pub num_iids: Vec<u64>,
    /// A line's refund is in progress (asked, goods on the way back, awaiting the seller).
    pub refunding: bool,
    pub buyer_open_uid: String,
    pub text: String,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let shops = (1..=o.shops.max(1))
            .map(|shop| {
                let seed = shop_seed(o.seed, shop);
                let seeds: Vec<Row> = if shop == 1 {
                    array_items(SEED_FIXTURE, "\"items\"")
                        .into_iter()
                        .map(|t| {
                            let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
                            row_of(&v, t.to_string())
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let segments = vec![Segment::new(o.orders, seed, 2, o.now, 30)];
                Shop {
                    creds: Creds::of(shop),
                    catalog: Mutex::new(Catalog::new(segments, seeds.len(), 2, shop)),
                    seeds,
                    rng: Mutex::new(dataset::drift_rng(seed ^ 2)),
                    cache: QueryCache::default(),
                }
            })
            .collect();
        State {
            shops,
            now_at_start: o.now,
        }
    }

    /// Shop `n` (1-based).
    pub fn shop(&self, n: usize) -> &Shop {
        &self.shops[n.clamp(1, self.shops.len()) - 1]
    }

    /// Modify a few of shop 1's orders (and sometimes add one) as if buyers and sellers
    /// acted mid-scan.
    pub fn drift(&self) {
        self.shop(1).drift(self.now_at_start);
    }

    /// Every trade of shop 1 as the wire shows it (for tests).
    pub fn rows(&self) -> Vec<Row> {
        self.shop(1).rows()
    }

    /// Shop 1's trades as parsed JSON (for tests).
    pub fn trades(&self) -> Vec<Value> {
        self.rows()
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r.text).ok())
            .collect()
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

    /// Every trade as the wire shows it.
    pub fn rows(&self) -> Vec<Row> {
        let c = self.lock();
        (0..c.len() as u32)
            .filter_map(|h| self.row(&c, h))
            .collect()
    }

    /// The wire text of a generated trade.
    fn trade(&self, g: &GenOrder) -> Value {
        trade_json(g, trade_id(TID_BASE, g.seq), &self.creds.shop_name, "fixed")
    }

    /// Record `h` as a row.
    fn row(&self, c: &Catalog, h: u32) -> Option<Row> {
        match c.view(h) {
            View::Seed(n) => self.seeds.get(n).cloned(),
            _ => c.order(h).map(|g| {
                let v = self.trade(&g);
                row_of(&v, v.to_string())
            }),
        }
    }

    /// Record `h`'s wire text.
    fn text(&self, c: &Catalog, h: u32) -> Option<String> {
        match c.view(h) {
            View::Seed(n) => self.seeds.get(n).map(|r| r.text.clone()),
            _ => c.order(h).map(|g| self.trade(&g).to_string()),
        }
    }
}

/// Generated trades' ids start here.
const TID_BASE: u64 = 3_100_000_000_000_000_000;

/// This platform in the sandbox's list.
pub static SERVED: super::Served = super::Served {
    ids: &["taobao-enhanced"],
    path: "/fw199",
    routes,
    config_section,
};

/// The shop section of the sandbox config.
pub fn config_section(base_url: &str, shop: usize, shops: usize) -> String {
    let c = Creds::of(shop);
    let name = super::shop_name(PLATFORM, shop, shops);
    format!(
        "\n[shops.{name}]\nplatform = \"taobao-enhanced\"\nbase_url = \"{base_url}\"\n\
         appid = \"{}\"\napp_secret = \"{}\"\nseller_nick = \"{}\"\nsysid = \"{SYSID}\"\n",
        c.appid, c.app_secret, c.seller_nick
    )
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/fw199/gateway/taobao/order/ext/list", any(list))
        .with_state(sb)
}

/// The filter fields of a trade in wire form.
pub fn row_of(v: &Value, text: String) -> Row {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let lines = v["orders"]["order"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let num_iids = std::iter::once(&v["num_iid"])
        .chain(lines.iter().map(|l| &l["num_iid"]))
        .filter_map(|n| n.as_u64().or_else(|| n.as_str()?.parse().ok()))
        .collect();
    let refunding = lines.iter().any(|l| {
        matches!(
            l["refund_status"].as_str(),
            Some("WAIT_SELLER_AGREE" | "WAIT_BUYER_RETURN_GOODS" | "WAIT_SELLER_CONFIRM_GOODS")
        )
    });
    Row {
        tid: s("tid"),
        created: parse_time(&s("created")),
        modified: parse_time(&s("modified")),
        status: s("status"),
        buyer_nick: s("buyer_nick"),
        seller_flag: v["seller_flag"].as_i64(),
        buyer_message: s("buyer_message"),
        seller_memo: s("seller_memo"),
        num_iids,
        refunding,
        buyer_open_uid: s("buyer_open_uid"),
        text,
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoint.

fn error(code: i64, message: &str) -> Response {
    axum::Json(json!({"code": code, "message": message, "data": null})).into_response()
}

/// The shop whose `appid` the request names (1-based).
fn claimed_shop(sb: &Sandbox, p: &Params) -> Option<usize> {
    let appid = p.get("appid")?;
    sb.taobao_enhanced
        .shops
        .iter()
        .position(|s| &s.creds.appid == appid)
        .map(|i| i + 1)
}

/// `Ok` is the shop the request is for (1-based): the app's, authorised for its seller only.
fn authenticate(sb: &Sandbox, p: &Params) -> Result<usize, Response> {
    for required in ["appid", "timestamp", "tb_seller_nick", "sign"] {
        if p.get(required).is_none_or(|v| v.is_empty()) {
            return Err(error(E_MISSING, &format!("缺少必要参数: {required}")));
        }
    }
    let Some(shop) = claimed_shop(sb, p) else {
        return Err(error(E_APPID, "appid不存在"));
    };
    let creds = &sb.taobao_enhanced.shop(shop).creds;
    let fresh = p["timestamp"]
        .parse::<i64>()
        .is_ok_and(|ts| (Utc::now().timestamp() - ts).abs() <= TIMESTAMP_SKEW_SECS);
    if !fresh {
        return Err(error(
            E_TIMESTAMP,
            "timestamp已过期,与服务器时间相差不能超过10分钟",
        ));
    }
    if !same_hex(&p["sign"], &expected_sign(&creds.app_secret, p)) {
        return Err(error(E_SIGN, "sign签名错误"));
    }
    if p["tb_seller_nick"] != creds.seller_nick {
        return Err(error(
            E_SELLER,
            "tb_seller_nick未授权或授权已过期,请商家订购授权",
        ));
    }
    Ok(shop)
}

/// The string the vendor signs (its Java sample's `Utils.Sign`, platforms.md): the secret,
/// then name + value of every parameter but `sign` whose value is not empty, sorted by name
/// (bytes), then the secret again.
pub fn string_to_sign(secret: &str, p: &Params) -> String {
    let mut text = secret.to_string();
    for (k, v) in p {
        if k != "sign" && !v.is_empty() {
            text.push_str(k);
            text.push_str(v);
        }
    }
    text.push_str(secret);
    text
}

/// `sign`: the lowercase hex MD5 of [`string_to_sign`].
pub fn expected_sign(secret: &str, p: &Params) -> String {
    md5_hex(&string_to_sign(secret, p))
}

/// `buyer_message_op` / `seller_memo_op`: "all 或是不传值 … 将不参与查询; eq: 等于; ne: 不等于;
/// like: 模糊匹配(包含)". A value sent without an operator takes no part, as documented.
#[derive(Debug, Clone, PartialEq)]
pub enum TextOp {
    Eq(String),
    Ne(String),
    Like(String),
}

impl TextOp {
    fn parse(p: &Params, field: &str) -> Result<Option<TextOp>, Response> {
        let op_key = format!("{field}_op");
        let value = p
            .get(field)
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        match p
            .get(&op_key)
            .map(|o| o.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("all") => Ok(None),
            Some("eq") => Ok(Some(TextOp::Eq(value))),
            Some("ne") => Ok(Some(TextOp::Ne(value))),
            Some("like") if value.is_empty() => Err(error(
                E_MISSING,
                &format!("缺少必要参数: {op_key}=like 需要 {field}"),
            )),
            Some("like") => Ok(Some(TextOp::Like(value))),
            Some(_) => Err(error(
                E_FORMAT,
                &format!("参数格式错误: {op_key} 只能为 all、eq、ne 或 like"),
            )),
        }
    }

    fn accepts(&self, text: &str) -> bool {
        match self {
            TextOp::Eq(v) => text == v,
            TextOp::Ne(v) => text != v,
            TextOp::Like(v) => text.contains(v.as_str()),
        }
    }
}

/// A parsed list query.
pub struct Query {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub by_modified: bool,
    pub ascending: bool,
    pub status: Option<String>,
    pub tids: Option<Vec<String>>,
    pub buyer_nick: Option<String>,
    pub seller_flag: Option<i64>,
    pub buyer_message: Option<TextOp>,
    pub seller_memo: Option<TextOp>,
    pub num_iid: Option<u64>,
    /// `refunding`: `Some(true)` only trades with a refund in progress, `Some(false)` none.
    pub refunding: Option<bool>,
    pub buyer_open_uid: Option<String>,
    /// Whether `sysid` names the sandbox's app: "此值很重要,代表不同的应用,否则拉到订单"
    /// (the vendor's sample); another app, or none, has no orders here.
    pub our_app: bool,
    pub page: usize,
    pub size: usize,
}

impl Query {
    pub fn parse(p: &Params) -> Result<Query, Response> {
        let get = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let time = |k: &str| -> Result<DateTime<Utc>, Response> {
            let v = get(k).ok_or_else(|| error(E_MISSING, &format!("缺少必要参数: {k}")))?;
            parse_time(v).ok_or_else(|| {
                error(
                    E_FORMAT,
                    &format!("参数格式错误: {k}, 格式为yyyy-MM-dd HH:mm:ss"),
                )
            })
        };
        let start = time("start_created")?;
        let end = time("end_created")?;
        let month_later = start
            .with_timezone(&china())
            .checked_add_months(Months::new(1))
            .map(|t| t.to_utc());
        if month_later.is_none_or(|m| end > m) {
            return Err(error(
                E_RANGE,
                "查询时间跨度不能超过1个月(start_created至end_created)",
            ));
        }
        let by_modified = match get("date_type") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(error(E_FORMAT, "参数格式错误: date_type 只能为0或1")),
        };
        let ascending = match get("order_asc").map(str::to_ascii_uppercase).as_deref() {
            None | Some("DESC") => false,
            Some("ASC") => true,
            Some(_) => return Err(error(E_FORMAT, "参数格式错误: order_asc 只能为ASC或DESC")),
        };
        let int = |k: &str, default: i64| -> Result<i64, Response> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| error(E_FORMAT, &format!("参数格式错误: {k}"))),
            }
        };
        let page = int("page_no", 1)?;
        let size = int("page_size", DEFAULT_PAGE_SIZE as i64)?;
        if page < 1 || !(1..=MAX_PAGE_SIZE as i64).contains(&size) {
            return Err(error(E_PAGE, "page_no从1开始, page_size最大为500"));
        }
        let seller_flag = match get("seller_flag") {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| error(E_FORMAT, "参数格式错误: seller_flag"))?,
            ),
        };
        let num_iid = match get("num_iid") {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| error(E_FORMAT, "参数格式错误: num_iid 为商品数字id"))?,
            ),
        };
        let refunding = match get("refunding") {
            None => None,
            Some("0") => Some(false),
            Some("1") => Some(true),
            Some(_) => return Err(error(E_FORMAT, "参数格式错误: refunding 只能为0或1")),
        };
        Ok(Query {
            start,
            end,
            by_modified,
            ascending,
            status: get("status").map(str::to_string),
            tids: get("tid").map(|t| t.split(',').map(|s| s.trim().to_string()).collect()),
            buyer_nick: get("buyer_nick").map(str::to_string),
            seller_flag,
            buyer_message: TextOp::parse(p, "buyer_message")?,
            seller_memo: TextOp::parse(p, "seller_memo")?,
            num_iid,
            refunding,
            buyer_open_uid: get("buyer_open_uid").map(str::to_string),
            our_app: get("sysid") == Some(SYSID),
            page: page as usize,
            size: size as usize,
        })
    }

    /// The time a trade is sorted and ranged on.
    fn key(&self, r: &Row) -> Option<DateTime<Utc>> {
        if self.by_modified {
            r.modified
        } else {
            r.created
        }
    }

    /// Whether the query filters on anything but time (and `sysid`).
    fn filters(&self) -> bool {
        self.status.is_some()
            || self.tids.is_some()
            || self.buyer_nick.is_some()
            || self.seller_flag.is_some()
            || self.buyer_message.is_some()
            || self.seller_memo.is_some()
            || self.num_iid.is_some()
            || self.refunding.is_some()
            || self.buyer_open_uid.is_some()
    }

    /// Whether a trade passes the filters other than time.
    fn accepts(&self, r: &Row) -> bool {
        self.status.as_ref().is_none_or(|s| &r.status == s)
            && self.tids.as_ref().is_none_or(|ts| ts.contains(&r.tid))
            && self.buyer_nick.as_ref().is_none_or(|b| &r.buyer_nick == b)
            && self.seller_flag.is_none_or(|f| r.seller_flag == Some(f))
            && self
                .buyer_message
                .as_ref()
                .is_none_or(|m| m.accepts(&r.buyer_message))
            && self
                .seller_memo
                .as_ref()
                .is_none_or(|m| m.accepts(&r.seller_memo))
            && self.num_iid.is_none_or(|n| r.num_iids.contains(&n))
            && self.refunding.is_none_or(|f| r.refunding == f)
            && self
                .buyer_open_uid
                .as_ref()
                .is_none_or(|u| &r.buyer_open_uid == u)
            && self.our_app
    }

    /// (total, the page's trade texts) over trades held as rows: the reference the
    /// on-demand listing ([`Query::select`]) is tested against.
    pub fn run(&self, rows: &[Row]) -> (usize, Vec<String>) {
        let mut hits: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                self.key(r)
                    .is_some_and(|t| t >= self.start && t <= self.end)
            })
            .filter(|r| self.accepts(r))
            .collect();
        hits.sort_by(|a, b| (self.key(a), &a.tid).cmp(&(self.key(b), &b.tid)));
        if !self.ascending {
            hits.reverse();
        }
        let total = hits.len();
        let page = hits
            .into_iter()
            .skip((self.page - 1) * self.size)
            .take(self.size)
            .map(|r| r.text.clone())
            .collect();
        (total, page)
    }

    /// What identifies the query's result, paging aside.
    fn cache_key(&self) -> String {
        format!(
            "{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.start,
            self.end,
            self.by_modified,
            self.status,
            self.tids,
            self.buyer_nick,
            self.seller_flag,
            self.buyer_message,
            self.seller_memo,
            self.num_iid,
            self.refunding,
            self.buyer_open_uid,
            self.our_app
        )
    }

    /// The shop's trades the query finds, ascending by (time, tid), generated on demand:
    /// only the window's candidates are looked at, and made into rows only when a filter
    /// other than time needs them.
    fn select(&self, shop: &Shop, c: &Catalog) -> Vec<u32> {
        if !self.our_app {
            return Vec::new();
        }
        let by = if self.by_modified {
            By::Modified
        } else {
            By::Created
        };
        let filters = self.filters();
        c.select(
            by,
            (Some(self.start), Some(self.end)),
            (self.start.timestamp_millis(), self.end.timestamp_millis()),
            |v| match v {
                View::Seed(n) => self.key(&shop.seeds[*n]).map(|t| t.timestamp_millis()),
                _ => v.times().map(|(_, created, modified)| {
                    let created = floor_secs(created);
                    let t = if self.by_modified {
                        floor_secs(modified).max(created)
                    } else {
                        created
                    };
                    t.timestamp_millis()
                }),
            },
            |h, _| !filters || shop.row(c, h).is_some_and(|r| self.accepts(&r)),
            |h| match c.view(h) {
                View::Seed(n) => shop.seeds[n].tid.parse().unwrap_or(0),
                v => v
                    .times()
                    .map_or(0, |(seq, _, _)| u128::from(trade_id(TID_BASE, seq))),
            },
        )
    }
}

async fn list(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(&headers, q, &body);
    let claimed = claimed_shop(&sb, &p).unwrap_or(0);
    let truncate = match sb.faults.gate(PLATFORM, claimed, None).await {
        Gate::Pass => false,
        Gate::Truncate => true,
        Gate::Respond(r) => return r,
        Gate::Throttle => return error(E_THROTTLED, "请求过于频繁,请稍后再试"),
    };
    let shop = match authenticate(&sb, &p) {
        Ok(shop) => sb.taobao_enhanced.shop(shop),
        Err(r) => return r,
    };
    let query = match Query::parse(&p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    if sb.faults.roll_drift() {
        shop.drift(sb.taobao_enhanced.now_at_start);
    }
    let c = shop.lock();
    let hits = shop
        .cache
        .get(query.cache_key(), c.version(), || query.select(shop, &c));
    let items: Vec<String> = page_of(&hits, query.page, query.size, query.ascending)
        .into_iter()
        .filter_map(|h| shop.text(&c, h))
        .collect();
    drop(c);
    let text = format!(
        "{{\"code\":0,\"message\":\"ok\",\"data\":{{\"total\":{},\"items\":[{}]}}}}",
        hits.len(),
        items.join(",")
    );
    text_response(text, truncate)
}

#[cfg(test)]
mod tests;
