//! Sandbox module for the enhanced Taobao order list (fw199):
//! `POST /fw199/gateway/taobao/order/ext/list`, form-encoded (a query string works too).
//!
//! Built from the vendor's document, not from the adapter. Checks: `appid`, `timestamp`
//! (unix seconds, within 600 s of now), `sign` = `lower_hex(MD5(secret + sorted name+value +
//! secret))` over every parameter but `sign`, and `tb_seller_nick` (the authorised seller's
//! login nick). Queries: `start_created` and `end_created` are required (`yyyy-MM-dd
//! HH:mm:ss`, China time, both bounds included, at most one month apart), on creation time
//! (`date_type=0`, the default) or modification time (`date_type=1`), sorted on that time
//! (`order_asc=ASC`, else newest first), filtered by `status`, `tid` (comma-separated),
//! `buyer_nick` and `seller_flag`, paged with `page_no`/`page_size` (at most 500) and
//! `data.total`. Errors are `{"code": <non-zero>, "message": "...", "data": null}`; the vendor
//! documents no codes, so the ones below are the sandbox's own.
//!
//! The seed document's two example trades are served verbatim, duplicate key included (the
//! raw text is spliced into the page), beside the generated ones.

use super::Sandbox;
use super::dataset::{self, GenOrder, Stage};
use super::faults::Gate;
use crate::platforms::signing::{Params, signatures_match, wrapped_md5_sign};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, FixedOffset, Months, NaiveDateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
const SEED_FIXTURE: &str = include_str!("../../fixtures/taobao-enhanced/list.json");

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

/// One order held by the sandbox.
#[derive(Clone)]
pub enum Rec {
    Generated(GenOrder),
    /// An example trade of the seed document: its raw JSON text, served as is.
    Seed(String),
}

/// The generated order inside a record (seed examples are not drifted).
fn generated(r: &mut Rec) -> Option<&mut GenOrder> {
    match r {
        Rec::Generated(g) => Some(g),
        _ => None,
    }
}

/// The platform's state: its orders and a drift generator.
pub struct State {
    pub orders: Mutex<Vec<Rec>>,
    /// Every trade's row, rendered once (and again after drift).
    cache: Mutex<Option<Arc<Vec<Row>>>>,
    rng: Mutex<StdRng>,
    next_seq: AtomicU64,
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
    pub text: String,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let mut orders: Vec<Rec> = dataset::generate(o.orders, o.seed, 2, o.now)
            .into_iter()
            .map(Rec::Generated)
            .collect();
        orders.extend(
            array_items(SEED_FIXTURE, "\"items\"")
                .into_iter()
                .map(|t| Rec::Seed(t.to_string())),
        );
        State {
            next_seq: AtomicU64::new(o.orders as u64 + 1),
            orders: Mutex::new(orders),
            cache: Mutex::new(None),
            rng: Mutex::new(dataset::drift_rng(o.seed ^ 2)),
            now_at_start: o.now,
        }
    }

    /// Modify a few orders (and sometimes add one) as if buyers and sellers acted mid-scan.
    pub fn drift(&self) {
        let now = Utc::now().max(self.now_at_start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        let (_, arrives) = dataset::drift_event(&mut orders, &mut rng, now, generated);
        if arrives {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            orders.push(Rec::Generated(dataset::fresh_order(seq, 2, now)));
        }
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Every trade as the wire shows it (for tests).
    pub fn rows(&self) -> Vec<Row> {
        self.cached_rows().as_ref().clone()
    }

    /// The rows, rendered once (and again after drift).
    fn cached_rows(&self) -> Arc<Vec<Row>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &*cache {
            return c.clone();
        }
        let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = Arc::new(orders.iter().map(row).collect::<Vec<_>>());
        *cache = Some(fresh.clone());
        fresh
    }

    /// The trades as parsed JSON (for tests).
    pub fn trades(&self) -> Vec<Value> {
        self.rows()
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r.text).ok())
            .collect()
    }
}

/// The shop section of the sandbox config.
pub fn config_section(base_url: &str) -> String {
    format!(
        "\n[shops.sandbox-taobao-enhanced]\nplatform = \"taobao-enhanced\"\nbase_url = \"{base_url}\"\n\
         appid = \"{APPID}\"\napp_secret = \"{APP_SECRET}\"\nseller_nick = \"{SELLER_NICK}\"\nsysid = \"{SYSID}\"\n"
    )
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/fw199/gateway/taobao/order/ext/list", any(list))
        .with_state(sb)
}

// ---------------------------------------------------------------------------------------------
// The Taobao Trade shape (TOP), also used by the vvtool sandbox.

/// China time.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// `yyyy-MM-dd HH:mm:ss` in China time.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parse `yyyy-MM-dd HH:mm:ss` China time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    china().from_local_datetime(&n).single().map(|t| t.to_utc())
}

/// Whole seconds, as the wire shows times.
pub fn floor_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `"123.45"` from minor units.
pub fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// The Taobao trade status of a lifecycle stage.
pub fn taobao_status(s: Stage) -> &'static str {
    match s {
        Stage::Unpaid => "WAIT_BUYER_PAY",
        Stage::Paid => "PAID_FORBID_CONSIGN",
        Stage::AwaitingShipment => "WAIT_SELLER_SEND_GOODS",
        Stage::PartiallyShipped => "SELLER_CONSIGNED_PART",
        Stage::Shipped => "WAIT_BUYER_CONFIRM_GOODS",
        Stage::Delivered => "TRADE_BUYER_SIGNED",
        Stage::Completed => "TRADE_FINISHED",
        Stage::Cancelled => "TRADE_CLOSED_BY_TAOBAO",
        Stage::Refunded => "TRADE_CLOSED",
    }
}

/// Trade ids are 19 digits, far above 2^53, as Taobao's are.
pub fn trade_id(base: u64, seq: u64) -> u64 {
    base + seq * 1000
}

/// A generated order as a Taobao Trade (`orders.order[]`, amounts as decimal strings, times
/// as China-time text, `""` for no value). `tid` and `oid` are strings here; callers that
/// document numbers convert them.
pub fn trade_json(g: &GenOrder, tid: u64, seller_nick: &str, trade_type: &str) -> Value {
    let [name, phone, state, city, district, town, address, zip] = dataset::RECEIVERS[g.receiver];
    let created = floor_secs(g.created);
    let modified = floor_secs(g.modified).max(created);
    let status = taobao_status(g.stage);
    let shipped = matches!(
        g.stage,
        Stage::Shipped | Stage::Delivered | Stage::Completed | Stage::PartiallyShipped
    );
    let lines: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &dataset::PRODUCTS[l.product];
            let goods = l.unit_minor * l.quantity;
            // The order-level discount is shared out on the first line.
            let share = if i == 0 { g.discount_minor } else { 0 };
            let ships = shipped && (g.stage != Stage::PartiallyShipped || i == 0);
            let line_status = if g.stage == Stage::PartiallyShipped {
                if i == 0 { "WAIT_BUYER_CONFIRM_GOODS" } else { "WAIT_SELLER_SEND_GOODS" }
            } else {
                status
            };
            json!({
                "adjust_fee": "0.00", "buyer_rate": false, "cid": 50012772,
                "discount_fee": "0.00", "divide_order_fee": yuan(goods - share),
                "is_daixiao": false, "is_oversold": false, "num": l.quantity,
                "num_iid": 613_373_000_000u64 + l.product as u64,
                "oid": (tid + 1 + i as u64).to_string(), "oid_str": (tid + 1 + i as u64).to_string(),
                "order_from": "WAP,WAP", "outer_iid": format!("SB-{}", l.product), "outer_sku_id": "",
                "part_mjz_discount": yuan(share), "payment": yuan(goods),
                "pic_path": p.image, "price": yuan(l.unit_minor),
                "refund_status": if g.stage == Stage::Refunded { "SUCCESS" } else { "NO_REFUND" },
                "seller_rate": false, "seller_type": "C",
                "sku_id": (4_490_318_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "sku_properties_name": format!(
                    "{}:{};{}:{}",
                    p.property.0, p.property.1[l.sku % p.property.1.len()],
                    p.size.0, p.size.1[l.sku % p.size.1.len()]
                ),
                "snapshot_url": format!("u:{}_1", tid + 1 + i as u64),
                "status": line_status, "title": p.title, "total_fee": yuan(goods),
                "logistics_company": if ships { "圆通速递" } else { "" },
                "invoice_no": if ships { format!("YT{:013}", g.seq * 10 + i as u64) } else { String::new() },
                "consign_time": if ships { fmt_time(modified) } else { String::new() },
                "end_time": "", "shipping_type": "express",
            })
        })
        .collect();
    let mut trade = json!({
        "adjust_fee": "0.00", "alipay_no": format!("2021{:024}", g.seq),
        "buyer_nick": dataset::BUYERS[g.buyer],
        "buyer_open_uid": format!("AAE{:08}SandboxUid{}", g.buyer, g.buyer),
        "buyer_message": g.buyer_message.unwrap_or(""), "buyer_rate": false,
        "cod_fee": "0.00", "cod_status": "NEW_CREATED", "coupon_fee": 0,
        "created": fmt_time(created), "modified": fmt_time(modified),
        "pay_time": g.paid.map(|t| fmt_time(floor_secs(t).max(created))).unwrap_or_default(),
        "consign_time": if shipped { fmt_time(modified) } else { String::new() },
        "end_time": if matches!(g.stage, Stage::Completed | Stage::Cancelled | Stage::Refunded) {
            fmt_time(modified)
        } else {
            String::new()
        },
    });
    let rest = json!({
        "discount_fee": yuan(g.discount_minor), "has_post_fee": true,
        "num": if g.lines.len() == 1 { g.lines[0].quantity } else { 0 },
        "num_iid": 613_373_000_000u64 + g.lines[0].product as u64,
        "orders": {"order": lines},
        "payment": yuan(g.total_minor()), "post_fee": yuan(g.shipping_minor),
        "pic_path": dataset::PRODUCTS[g.lines[0].product].image, "point_fee": 0,
        "price": yuan(g.lines[0].unit_minor), "received_payment": "0.00",
        "receiver_address": address, "receiver_city": city, "receiver_district": district,
        "receiver_town": town, "receiver_mobile": phone, "receiver_phone": "",
        "receiver_name": name, "receiver_state": state, "receiver_zip": zip,
        "seller_flag": (g.seq % 6) as i64, "seller_memo": g.seller_memo.unwrap_or(""),
        "seller_nick": seller_nick, "seller_rate": false, "shipping_type": "express",
        "status": status, "tid": tid.to_string(), "tid_str": tid.to_string(),
        "title": seller_nick, "total_fee": yuan(g.goods_minor()), "type": trade_type,
        "trade_from": "WAP,WAP",
    });
    if let (Some(a), Value::Object(b)) = (trade.as_object_mut(), rest) {
        a.extend(b);
    }
    trade
}

/// The raw text of each element of the array under `key` (e.g. `"items"`) in JSON `text`.
/// Used to serve the seed's trades byte for byte, duplicate keys included.
pub fn array_items<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let Some(k) = text.find(key) else {
        return Vec::new();
    };
    let Some(open) = text[k..].find('[').map(|i| k + i) else {
        return Vec::new();
    };
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc, mut start) = (0usize, false, false, None);
    for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            b'}' | b']' if depth == 0 => break,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0
                    && let Some(s) = start.take()
                {
                    out.push(&text[s..=i]);
                }
            }
            _ => {}
        }
    }
    out
}

fn row(r: &Rec) -> Row {
    match r {
        Rec::Generated(g) => {
            let tid = trade_id(3_100_000_000_000_000_000, g.seq);
            let v = trade_json(g, tid, SHOP_NAME, "fixed");
            row_of(&v, v.to_string())
        }
        Rec::Seed(text) => {
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            row_of(&v, text.clone())
        }
    }
}

/// The filter fields of a trade in wire form.
pub fn row_of(v: &Value, text: String) -> Row {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    Row {
        tid: s("tid"),
        created: parse_time(&s("created")),
        modified: parse_time(&s("modified")),
        status: s("status"),
        buyer_nick: s("buyer_nick"),
        seller_flag: v["seller_flag"].as_i64(),
        text,
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoint.

fn error(code: i64, message: &str) -> Response {
    axum::Json(json!({"code": code, "message": message, "data": null})).into_response()
}

/// A JSON text answer, or its first half when the fault gate said so.
pub fn text_response(text: String, truncate: bool) -> Response {
    let body = if truncate {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_string()
    } else {
        text
    };
    (
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// Parameters from the query string and the body, merged. The body may be URL-encoded or
/// `multipart/form-data`, which is what the vendors' own samples send (cURL `--form`, PHP
/// `CURLOPT_POSTFIELDS` with an array, OkHttp `MultipartBody`).
pub fn params(headers: &HeaderMap, query: Option<String>, body: &Bytes) -> Params {
    let mut p = Params::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        p.insert(k.into_owned(), v.into_owned());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match multipart_boundary(content_type) {
        Some(boundary) => p.extend(multipart_fields(body, &boundary)),
        None => {
            for (k, v) in url::form_urlencoded::parse(body) {
                p.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    p
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// The text fields of a `multipart/form-data` body.
fn multipart_fields(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head
            .split("\r\n")
            .filter(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .flat_map(|l| l.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())
            .next();
        if let Some(name) = name {
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            out.push((name, value.to_string()));
        }
    }
    out
}

fn authenticate(p: &Params) -> Result<(), Response> {
    for required in ["appid", "timestamp", "tb_seller_nick", "sign"] {
        if p.get(required).is_none_or(|v| v.is_empty()) {
            return Err(error(E_MISSING, &format!("缺少必要参数: {required}")));
        }
    }
    if p["appid"] != APPID {
        return Err(error(E_APPID, "appid不存在"));
    }
    let fresh = p["timestamp"]
        .parse::<i64>()
        .is_ok_and(|ts| (Utc::now().timestamp() - ts).abs() <= TIMESTAMP_SKEW_SECS);
    if !fresh {
        return Err(error(
            E_TIMESTAMP,
            "timestamp已过期,与服务器时间相差不能超过10分钟",
        ));
    }
    if !signatures_match(&wrapped_md5_sign(APP_SECRET, p), &p["sign"]) {
        return Err(error(E_SIGN, "sign签名错误"));
    }
    if p["tb_seller_nick"] != SELLER_NICK {
        return Err(error(
            E_SELLER,
            "tb_seller_nick未授权或授权已过期,请商家订购授权",
        ));
    }
    Ok(())
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
        Ok(Query {
            start,
            end,
            by_modified,
            ascending,
            status: get("status").map(str::to_string),
            tids: get("tid").map(|t| t.split(',').map(|s| s.trim().to_string()).collect()),
            buyer_nick: get("buyer_nick").map(str::to_string),
            seller_flag,
            page: page as usize,
            size: size as usize,
        })
    }

    /// (total, the page's trade texts).
    pub fn run(&self, rows: &[Row]) -> (usize, Vec<String>) {
        let key = |r: &Row| {
            if self.by_modified {
                r.modified
            } else {
                r.created
            }
        };
        let mut hits: Vec<&Row> = rows
            .iter()
            .filter(|r| key(r).is_some_and(|t| t >= self.start && t <= self.end))
            .filter(|r| self.status.as_ref().is_none_or(|s| &r.status == s))
            .filter(|r| self.tids.as_ref().is_none_or(|ts| ts.contains(&r.tid)))
            .filter(|r| self.buyer_nick.as_ref().is_none_or(|b| &r.buyer_nick == b))
            .filter(|r| self.seller_flag.is_none_or(|f| r.seller_flag == Some(f)))
            .collect();
        hits.sort_by(|a, b| (key(a), &a.tid).cmp(&(key(b), &b.tid)));
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
}

async fn list(
    AxState(sb): AxState<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(&headers, q, &body);
    let truncate = match sb.faults.gate(PLATFORM, None).await {
        Gate::Pass => false,
        Gate::Truncate => true,
        Gate::Respond(r) => return r,
        Gate::Throttle => return error(E_THROTTLED, "请求过于频繁,请稍后再试"),
    };
    if let Err(r) = authenticate(&p) {
        return r;
    }
    let query = match Query::parse(&p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    if sb.faults.roll_drift() {
        sb.taobao_enhanced.drift();
    }
    let (total, items) = query.run(&sb.taobao_enhanced.cached_rows());
    let text = format!(
        "{{\"code\":0,\"message\":\"ok\",\"data\":{{\"total\":{total},\"items\":[{}]}}}}",
        items.join(",")
    );
    text_response(text, truncate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{SandboxOptions, spawn};

    fn ago(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        t - chrono::Duration::seconds(secs)
    }

    #[test]
    fn seed_trades_are_kept_verbatim() {
        let items = array_items(SEED_FIXTURE, "\"items\"");
        assert_eq!(items.len(), 2);
        assert!(items[0].starts_with('{') && items[0].ends_with('}'));
        assert_eq!(
            items[1].matches("\"buyer_open_uid\"").count(),
            2,
            "the duplicate key stays"
        );
        let v: Value = serde_json::from_str(items[1]).unwrap();
        assert_eq!(v["tid"], "2161196210547294406");
    }

    #[test]
    fn generated_trades_are_consistent() {
        let o = SandboxOptions {
            orders: 50,
            ..SandboxOptions::default()
        };
        let st = State::new(&o);
        for r in st.rows() {
            let v: Value = serde_json::from_str(&r.text).unwrap();
            assert!(r.created.is_some() && r.modified >= r.created, "{}", r.tid);
            let lines = v["orders"]["order"].as_array().unwrap();
            assert!(!lines.is_empty());
            if v["tid"] == "1410072240792463390" || v["tid"] == "2161196210547294406" {
                continue;
            }
            let cents =
                |s: &Value| -> i64 { s.as_str().unwrap().replace('.', "").parse().unwrap() };
            let paid: i64 = lines.iter().map(|l| cents(&l["divide_order_fee"])).sum();
            assert_eq!(
                paid + cents(&v["post_fee"]),
                cents(&v["payment"]),
                "{}",
                r.tid
            );
        }
    }

    fn signed(mut p: Params) -> String {
        p.insert("appid".into(), APPID.into());
        p.insert("timestamp".into(), Utc::now().timestamp().to_string());
        p.insert("tb_seller_nick".into(), SELLER_NICK.into());
        let sign = wrapped_md5_sign(APP_SECRET, &p);
        p.insert("sign".into(), sign);
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p.iter())
            .finish()
    }

    async fn post(addr: std::net::SocketAddr, form: String) -> Value {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c
            .post(format!("http://{addr}/fw199/gateway/taobao/order/ext/list"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn range(start: &str, end: &str, extra: &[(&str, &str)]) -> Params {
        let mut p = Params::new();
        p.insert("start_created".into(), start.into());
        p.insert("end_created".into(), end.into());
        for (k, v) in extra {
            p.insert((*k).into(), (*v).into());
        }
        p
    }

    #[tokio::test]
    async fn checks_signature_time_and_range_like_the_platform() {
        let sb = spawn(
            "127.0.0.1:0".parse().unwrap(),
            SandboxOptions {
                orders: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let p = range(
            "2021-10-01 00:00:00",
            "2021-10-07 23:59:59",
            &[("order_asc", "ASC")],
        );
        let v = post(sb.addr, signed(p.clone())).await;
        assert_eq!(v["code"], 0, "{v}");
        assert_eq!(v["data"]["total"], 2);
        assert_eq!(v["data"]["items"][0]["tid"], "1410072240792463390");
        // A tampered parameter breaks the signature.
        let bad = signed(p.clone()).replace("ASC", "DESC");
        assert_eq!(post(sb.addr, bad).await["code"], E_SIGN);
        // More than a month.
        let long = range("2021-10-01 00:00:00", "2021-11-01 00:00:01", &[]);
        let v = post(sb.addr, signed(long)).await;
        assert_eq!(v["code"], E_RANGE);
        assert!(v["message"].as_str().unwrap().contains("1个月"));
        // Modified-time filter: the second seed trade was modified on 10-07 only.
        let m = range(
            "2021-10-07 00:00:00",
            "2021-10-07 23:59:59",
            &[("date_type", "1")],
        );
        let v = post(sb.addr, signed(m)).await;
        assert_eq!(v["data"]["total"], 1);
        assert_eq!(v["data"]["items"][0]["tid"], "2161196210547294406");
        // Both bounds are included.
        let exact = range("2021-10-02 16:13:56", "2021-10-02 16:13:56", &[]);
        assert_eq!(post(sb.addr, signed(exact)).await["data"]["total"], 1);
        let status = range(
            "2021-10-01 00:00:00",
            "2021-10-07 23:59:59",
            &[("status", "WAIT_BUYER_PAY")],
        );
        assert_eq!(post(sb.addr, signed(status)).await["data"]["total"], 0);
        // No timestamp, wrong seller.
        let mut p2 = range("2021-10-01 00:00:00", "2021-10-07 23:59:59", &[]);
        p2.insert("tb_seller_nick".into(), "someone".into());
        p2.insert("appid".into(), APPID.into());
        p2.insert("timestamp".into(), Utc::now().timestamp().to_string());
        let sign = wrapped_md5_sign(APP_SECRET, &p2);
        p2.insert("sign".into(), sign);
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p2.iter())
            .finish();
        assert_eq!(post(sb.addr, form).await["code"], E_SELLER);
    }

    #[tokio::test]
    async fn pages_cover_the_window_exactly_in_ascending_order() {
        let sb = spawn(
            "127.0.0.1:0".parse().unwrap(),
            SandboxOptions {
                orders: 300,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let now = sb.state.options.now;
        let (start, end) = (fmt_time(ago(now, 20 * 86400)), fmt_time(now));
        let mut seen = Vec::new();
        let mut total = 0;
        for page in 1..=4 {
            let p = range(
                &start,
                &end,
                &[
                    ("order_asc", "ASC"),
                    ("page_no", &page.to_string()),
                    ("page_size", "70"),
                ],
            );
            let v = post(sb.addr, signed(p)).await;
            total = v["data"]["total"].as_u64().unwrap();
            for t in v["data"]["items"].as_array().unwrap() {
                seen.push((
                    t["created"].as_str().unwrap().to_string(),
                    t["tid"].as_str().unwrap().to_string(),
                ));
            }
        }
        assert!(total > 150 && total <= 280, "{total}");
        assert_eq!(seen.len() as u64, total);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "ascending on created");
        let p = range(&start, &end, &[("page_size", "501")]);
        assert_eq!(post(sb.addr, signed(p)).await["code"], E_PAGE);
    }
}
