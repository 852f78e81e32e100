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
use super::dataset::{self, GenOrder, Stage};
use super::digest::{md5_hex, same_hex};
use super::faults::Gate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, FixedOffset, Months, NaiveDateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Request parameters by name; a `BTreeMap` iterates names in byte order, the signing order.
pub type Params = BTreeMap<String, String>;

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

/// One order held by the sandbox; a seed document's example trade is its raw JSON text,
/// served as is.
pub type Rec = dataset::Rec<String>;

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
        let (_, arrives) = dataset::drift_event(&mut orders, &mut rng, now);
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

/// This platform in the sandbox's list.
pub static SERVED: super::Served = super::Served {
    ids: &["taobao-enhanced"],
    path: "/fw199",
    routes,
    config_section,
};

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
    let money = dataset::taobao_money(g);
    let payment = money.payment(g.shipping_minor);
    let single = g.lines.len() == 1;
    // Rated on some completed trades (what vv-tool's rate_status finds).
    let completed = g.stage == Stage::Completed;
    let buyer_rated = completed && g.seq.is_multiple_of(2);
    let seller_rated = completed && g.seq.is_multiple_of(3);
    let lines: Vec<Value> = g
        .lines
        .iter()
        .zip(&money.lines)
        .enumerate()
        .map(|(i, (l, m))| {
            let p = &dataset::PRODUCTS[l.product];
            // A refund asked for on some shipped trades (what `refunding=1` finds).
            let refund = match g.stage {
                Stage::Refunded => "SUCCESS",
                Stage::Shipped | Stage::Delivered if i == 0 && g.seq.is_multiple_of(5) => {
                    "WAIT_SELLER_AGREE"
                }
                _ => "NO_REFUND",
            };
            let ships = shipped && (g.stage != Stage::PartiallyShipped || i == 0);
            let line_status = if g.stage == Stage::PartiallyShipped {
                if i == 0 { "WAIT_BUYER_CONFIRM_GOODS" } else { "WAIT_SELLER_SEND_GOODS" }
            } else {
                status
            };
            json!({
                "adjust_fee": yuan(m.adjust), "buyer_rate": buyer_rated,
                "cid": 50012772,
                "discount_fee": yuan(m.discount), "divide_order_fee": yuan(m.divided()),
                "is_daixiao": false, "is_oversold": false, "num": l.quantity,
                "num_iid": 613_373_000_000u64 + l.product as u64,
                "oid": (tid + 1 + i as u64).to_string(), "oid_str": (tid + 1 + i as u64).to_string(),
                "order_from": "WAP,WAP", "outer_iid": format!("SB-{}", l.product), "outer_sku_id": "",
                // The Order reference: a multi-line trade's line payment is total_fee (before
                // the order-level share); a single line's is the trade's payment.
                "part_mjz_discount": yuan(m.share),
                "payment": yuan(if single { payment } else { m.total_fee() }),
                "pic_path": p.image, "price": yuan(l.unit_minor),
                "refund_status": refund,
                "seller_rate": seller_rated, "seller_type": "C",
                "sku_id": (4_490_318_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "sku_properties_name": format!(
                    "{}:{};{}:{}",
                    p.property.0, p.property.1[l.sku % p.property.1.len()],
                    p.size.0, p.size.1[l.sku % p.size.1.len()]
                ),
                "snapshot_url": format!("u:{}_1", tid + 1 + i as u64),
                "status": line_status, "title": p.title, "total_fee": yuan(m.total_fee()),
                "logistics_company": if ships { "圆通速递" } else { "" },
                "invoice_no": if ships { format!("YT{:013}", g.seq * 10 + i as u64) } else { String::new() },
                "consign_time": if ships { fmt_time(modified) } else { String::new() },
                "end_time": "", "shipping_type": "express",
            })
        })
        .collect();
    let mut trade = json!({
        // "如果有多笔子订单的时候,这个为 0,单笔的话则跟[order].adjust_fee 一样"
        "adjust_fee": yuan(if single { money.lines[0].adjust } else { 0 }),
        "alipay_no": format!("2021{:024}", g.seq),
        "buyer_nick": dataset::BUYERS[g.buyer],
        "buyer_open_uid": format!("AAE{:08}SandboxUid{}", g.buyer, g.buyer),
        "buyer_message": g.buyer_message.unwrap_or(""), "buyer_rate": buyer_rated,
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
        "discount_fee": yuan(money.order_discount()), "has_post_fee": true,
        "num": if g.lines.len() == 1 { g.lines[0].quantity } else { 0 },
        "num_iid": 613_373_000_000u64 + g.lines[0].product as u64,
        "orders": {"order": lines},
        "payment": yuan(payment), "post_fee": yuan(g.shipping_minor),
        "pic_path": dataset::PRODUCTS[g.lines[0].product].image, "point_fee": 0,
        "price": yuan(g.lines[0].unit_minor), "received_payment": "0.00",
        "receiver_address": address, "receiver_city": city, "receiver_district": district,
        "receiver_town": town, "receiver_mobile": phone, "receiver_phone": "",
        "receiver_name": name, "receiver_state": state, "receiver_zip": zip,
        "seller_flag": (g.seq % 6) as i64, "seller_memo": g.seller_memo.unwrap_or(""),
        "seller_nick": seller_nick, "seller_rate": seller_rated,
        "shipping_type": "express",
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
    if !same_hex(&p["sign"], &expected_sign(APP_SECRET, p)) {
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
            .filter(|r| {
                self.buyer_message
                    .as_ref()
                    .is_none_or(|m| m.accepts(&r.buyer_message))
            })
            .filter(|r| {
                self.seller_memo
                    .as_ref()
                    .is_none_or(|m| m.accepts(&r.seller_memo))
            })
            .filter(|r| self.num_iid.is_none_or(|n| r.num_iids.contains(&n)))
            .filter(|r| self.refunding.is_none_or(|f| r.refunding == f))
            .filter(|r| {
                self.buyer_open_uid
                    .as_ref()
                    .is_none_or(|u| &r.buyer_open_uid == u)
            })
            .filter(|_| self.our_app)
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
mod tests;
