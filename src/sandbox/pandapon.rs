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
//! Hutool `DateTime` accepts), status (`status`, `orderStatus`), `orderNo`, `id`, `tbOrderId`
//! and `userIdList`. Paging is `pageNum`/`pageSize` (default 1/20, size at most 100). The Taobao
//! page lists oldest first and the 1688 page newest first, as the seeds' examples do. Besides
//! the generated orders it serves the seeds' own example orders verbatim. Everything is rendered
//! here with `json!` from the documents, never from the adapter's types.

use super::Sandbox;
use super::dataset::{self, GenOrder, Stage};
use super::faults::{Gate, finish};
use crate::platforms::signing::{hmac_md5, md5, signatures_match};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::cmp::Ordering as CmpOrdering;
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

/// The sandbox's own rendering of the five candidate formulas (kept apart from the adapter's,
/// so that both are pinned to the documented vectors independently).
pub fn signature(
    scheme: &str,
    access_key: &str,
    nonce: &str,
    timestamp: &str,
    secret: &str,
) -> Option<String> {
    let q = format!("access-key={access_key}&nonce-str={nonce}&timestamp={timestamp}");
    let digest = match scheme {
        "md5-query-key" => md5(format!("{q}&key={secret}").as_bytes()).to_vec(),
        "md5-query-secret" => md5(format!("{q}{secret}").as_bytes()).to_vec(),
        "md5-concat" => md5(format!("{access_key}{nonce}{timestamp}{secret}").as_bytes()).to_vec(),
        "md5-wrapped" => md5(format!(
            "{secret}access-key{access_key}nonce-str{nonce}timestamp{timestamp}{secret}"
        )
        .as_bytes())
        .to_vec(),
        "hmac-md5-query" => hmac_md5(secret.as_bytes(), q.as_bytes()),
        _ => return None,
    };
    Some(hex::encode_upper(digest))
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

/// A page's orders in wire form, each with its creation time.
type Rendered = Arc<Vec<(DateTime<Utc>, Value)>>;

/// One order held by the sandbox.
#[derive(Clone)]
pub enum Rec {
    Generated(GenOrder),
    /// An example order from a seed document, served verbatim.
    Seed(Value),
}

/// The generated order inside a record (seed examples are not drifted).
fn generated(r: &mut Rec) -> Option<&mut GenOrder> {
    match r {
        Rec::Generated(g) => Some(g),
        _ => None,
    }
}

/// The platform's state: the orders of both pages, the scheme it checks, drift.
pub struct State {
    scheme: Mutex<&'static str>,
    taobao: Mutex<Vec<Rec>>,
    alibaba: Mutex<Vec<Rec>>,
    rng: Mutex<StdRng>,
    /// Rendered wire orders with their creation time, per page; rebuilt after drift.
    cache: Mutex<[Option<Rendered>; 2]>,
    next_seq: AtomicU64,
    request_seq: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let gen_orders = |salt| -> Vec<Rec> {
            dataset::generate(o.orders, o.seed, salt, o.now)
                .into_iter()
                .map(Rec::Generated)
                .collect()
        };
        let mut taobao = gen_orders(4);
        taobao.extend(seed_orders(include_str!(
            "../../fixtures/pandapon-taobao/page.json"
        )));
        let mut alibaba = gen_orders(5);
        alibaba.extend(seed_orders(include_str!(
            "../../fixtures/pandapon-1688/page.json"
        )));
        State {
            scheme: Mutex::new(SCHEMES[0]),
            taobao: Mutex::new(taobao),
            alibaba: Mutex::new(alibaba),
            rng: Mutex::new(dataset::drift_rng(o.seed ^ 0x5050)),
            cache: Mutex::new([None, None]),
            next_seq: AtomicU64::new(o.orders as u64 + 1),
            request_seq: AtomicU64::new(1),
            now_at_start: o.now,
        }
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

    fn orders(&self, page: Page) -> &Mutex<Vec<Rec>> {
        match page {
            Page::Taobao => &self.taobao,
            Page::Alibaba => &self.alibaba,
        }
    }

    /// Every order of a page, in wire form (for tests).
    pub fn snapshot(&self, page: Page) -> Vec<Value> {
        self.rendered(page).iter().map(|(_, o)| o.clone()).collect()
    }

    /// The page's orders rendered once (and again after drift), with their creation time.
    fn rendered(&self, page: Page) -> Rendered {
        let slot = page as usize;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &cache[slot] {
            return c.clone();
        }
        let orders = self.orders(page).lock().unwrap_or_else(|e| e.into_inner());
        let fresh: Arc<Vec<_>> = Arc::new(
            orders
                .iter()
                .map(|r| render(page, r))
                .filter_map(|o| Some((parse_filter_time(&o["createTime"])?, o)))
                .collect(),
        );
        cache[slot] = Some(fresh.clone());
        fresh
    }

    /// Move a few orders along (and sometimes add a new one) as if buyers acted mid-scan.
    pub fn drift(&self, page: Page) {
        let now = Utc::now().max(self.now_at_start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut orders = self.orders(page).lock().unwrap_or_else(|e| e.into_inner());
        let (_, arrives) = dataset::drift_event(&mut orders, &mut rng, now, generated);
        self.cache.lock().unwrap_or_else(|e| e.into_inner())[page as usize] = None;
        if arrives {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            orders.push(Rec::Generated(dataset::fresh_order(seq, 4, now)));
        }
    }

    fn request_id(&self) -> String {
        format!(
            "5a9d0b1c{:024x}",
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// The shop sections of the sandbox config: one per PandaPon endpoint, same account.
pub fn config_section(base_url: &str) -> String {
    let shop = |name: &str, platform: &str| {
        format!(
            "\n[shops.{name}]\nplatform = \"{platform}\"\nbase_url = \"{base_url}\"\n\
             access_key = \"{ACCESS_KEY}\"\nsecret_key = \"{SECRET_KEY}\"\nuser_id = \"{USER_ID}\"\n\
             # signature_scheme = \"md5-query-key\"   # the scheme this sandbox checks\n"
        )
    };
    shop("sandbox-pandapon-taobao", "pandapon-taobao")
        + &shop("sandbox-pandapon-1688", "pandapon-1688")
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/pandapon/v2/taobao/order/page", post(taobao_page))
        .route("/pandapon/v2/alibaba/order/page", post(alibaba_page))
        .with_state(sb)
}

fn seed_orders(page_json: &str) -> Vec<Rec> {
    let v: Value = serde_json::from_str(page_json).expect("the seed fixture is JSON");
    v["data"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(Rec::Seed)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// `2024-07-18 18:01:30`, the Taobao page's format.
fn taobao_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `2025-04-24T17:17:43.000+08:00`, the 1688 page's format.
fn alibaba_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// PandaPon's order status codes (seed 003): 0 awaiting payment, 1 paid / awaiting finance
/// check, 2 finance approved, 3 finance rejected, 4 cancelled, 10 awaiting shipment, 11 shipped.
fn status_code(g: &GenOrder) -> i64 {
    match g.stage {
        Stage::Unpaid => 0,
        Stage::Paid if g.seq.is_multiple_of(2) => 1,
        Stage::Paid => 2,
        Stage::AwaitingShipment | Stage::PartiallyShipped => 10,
        Stage::Shipped | Stage::Delivered | Stage::Completed => 11,
        Stage::Cancelled if g.seq.is_multiple_of(3) => 3,
        Stage::Cancelled | Stage::Refunded => 4,
    }
}

/// Sub-order status strings. The seed shows only `BULIDING` (sic); the others are Taobao
/// purchase-order words chosen for the sandbox.
fn sub_status(s: Stage) -> &'static str {
    match s {
        Stage::Unpaid => "BULIDING",
        Stage::Paid => "PAID",
        Stage::AwaitingShipment | Stage::PartiallyShipped => "WAIT_SELLER_SEND_GOODS",
        Stage::Shipped | Stage::Delivered => "WAIT_BUYER_CONFIRM_GOODS",
        Stage::Completed => "TRADE_FINISHED",
        Stage::Cancelled | Stage::Refunded => "TRADE_CLOSED",
    }
}

fn paid(g: &GenOrder) -> bool {
    !matches!(g.stage, Stage::Unpaid | Stage::Cancelled)
}

/// A JSON object as text with its members in the given order (the seeds' nested texts keep
/// the vendor's order, which `json!` would sort).
fn ordered_object(pairs: &[(&str, &str)], sep: &str) -> String {
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{sep}{}", json!(k), json!(v)))
        .collect();
    format!("{{{}}}", members.join(&format!(",{sep}")))
}

fn render(page: Page, r: &Rec) -> Value {
    match r {
        Rec::Seed(v) => v.clone(),
        Rec::Generated(g) => match page {
            Page::Taobao => render_taobao(g),
            Page::Alibaba => render_alibaba(g),
        },
    }
}

fn sku_values(l: &dataset::GenLine) -> [(&'static str, &'static str); 2] {
    let p = &dataset::PRODUCTS[l.product];
    [
        (p.property.0, p.property.1[l.sku % p.property.1.len()]),
        (p.size.0, p.size.1[l.sku % p.size.1.len()]),
    ]
}

fn render_taobao(g: &GenOrder) -> Value {
    let [name, phone, state, city, district, _town, address, zip] = dataset::RECEIVERS[g.receiver];
    let country = if state == "台灣" {
        "台湾"
    } else {
        "中国大陆"
    };
    let order_no = (1_141_000_000_000_000_000u64 + g.seq * 1000).to_string();
    let purchase_id = 200_100_000_000u64 + g.seq * 10;
    let is_paid = paid(g);
    let subs: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &dataset::PRODUCTS[l.product];
            let item_id = format!("Sbx{:02}ItemMap{:04}-IQGrQ53mhv0", l.product, l.product * 7 + 3);
            let sku_id = (10_100_000_000_000u64 + (l.product * 10 + l.sku) as u64).to_string();
            let zh = ordered_object(&sku_values(l), "");
            let post_fee = if i == 0 { g.shipping_minor } else { 0 };
            let result = json!({
                "quantity": l.quantity, "item_id": item_id, "domestic_post_fee": post_fee,
                "purchase_currency": "CNY",
                "option_fields": {"SKU_IMG_URL": p.image, "en": zh, "zh": zh},
                "closed": matches!(g.stage, Stage::Cancelled | Stage::Refunded),
                "sku_id": sku_id, "title": p.title,
                "sub_purchase_order_id": (purchase_id + 1 + i as u64).to_string(),
                "pay_currency": "CNY", "status": sub_status(g.stage),
            });
            json!({
                "subOrderId": (1_142_000_000_000_000_000u64 + g.seq * 1000 + i as u64).to_string(),
                "orderNo": order_no, "quantity": l.quantity, "title": p.title,
                "purchaseCurrency": "CNY",
                "purchaseAmount": if is_paid { json!(l.unit_minor * l.quantity) } else { Value::Null },
                "itemMapId": item_id, "domesticPostFee": post_fee, "closeReason": null,
                "skuId": sku_id, "status": sub_status(g.stage), "goodsStatus": null, "refundType": null,
                "taobaoPurchaseId": purchase_id.to_string(),
                "taobaoSubPurchaseId": (purchase_id + 1 + i as u64).to_string(),
                "subOrderResult": result.to_string(), "errorCode": null, "errorMessage": null,
                "refundStatus": if g.stage == Stage::Refunded { 1 } else { 0 },
            })
        })
        .collect();
    json!({
        "id": (1_140_000_000_000_000_000u64 + g.seq * 1000).to_string(),
        "orderNo": order_no,
        "userName": dataset::BUYERS[g.buyer],
        "userId": (2_100_007_300_000u64 + g.buyer as u64).to_string(),
        "sellerOrderNumber": null, "orderSource": null,
        "createTime": taobao_time(g.created),
        "payTime": g.paid.filter(|_| is_paid).map(taobao_time),
        "purchaseAmount": if is_paid { g.total_minor() } else { 0 },
        "status": status_code(g),
        "warehouseAddressInfoVO": {"state": state, "zip": zip, "country": country, "address": address,
            "phone": phone, "city": city, "district": district, "name": name, "mobilePhone": null,
            "taxId": null},
        "receiverVO": {"zip": zip, "country": country, "address": address, "city": city,
            "district": district, "state": state},
        "remark": g.buyer_message,
        "subOrderVOS": subs,
    })
}

const SELLERS: [&str; 3] = ["斯嘉丽服装商行", "宝视源科技", "义乌市沙盒百货"];

fn render_alibaba(g: &GenOrder) -> Value {
    let [name, phone, state, city, district, town, address, zip] = dataset::RECEIVERS[g.receiver];
    let id = 1_240_000_000_000_000_000u64 + g.seq * 1000;
    let tb_order_id = (2_550_000_000_000_000_000u64 + g.seq * 1000 + 794).to_string();
    let is_paid = paid(g);
    let refunded = g.stage == Stage::Refunded;
    let area: Vec<&str> = [state, city, district, town, address]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let receiver = json!({"toFullName": name, "toDivisionCode": format!("{}", 330_100 + g.receiver * 2),
        "toMobile": phone, "toPhone": phone, "toPost": zip, "toArea": area.join(" ")});
    let warehouse = json!({"fullName": name, "mobile": phone, "phone": phone, "postCode": zip,
        "cityText": city, "provinceText": state, "areaText": district, "townText": town, "address": address});
    let offer = |l: &dataset::GenLine| format!("SbxOffer{:02}-Gsg24_8wA", l.product);
    let spec =
        |l: &dataset::GenLine| format!("{:032x}", (l.product * 10 + l.sku) as u64 * 0x9E37_79B9);
    let cargo: Vec<Value> = g
        .lines
        .iter()
        .map(|l| {
            json!({"specId": spec(l), "quantity": l.quantity, "offerId": offer(l),
                        "sellerOpenId": "BBBsandboxSellerOpenId0001"})
        })
        .collect();
    let created = g.created;
    let details: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &dataset::PRODUCTS[l.product];
            let skus: Vec<String> = sku_values(l)
                .iter()
                .map(|(n, v)| ordered_object(&[("name", n), ("value", v)], " "))
                .collect();
            let thumb = match p.image.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.80x80.{ext}"),
                None => p.image.to_string(),
            };
            let amount = l.unit_minor * l.quantity;
            json!({
                "id": (1_242_000_000_000_000_000u64 + g.seq * 1000 + i as u64).to_string(),
                "orderId": id.to_string(), "subTbOrderId": tb_order_id, "productId": offer(l),
                "name": p.title, "quantity": l.quantity, "unit": "件",
                "skuId": (5_700_000_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "specId": spec(l), "itemAmount": amount, "price": l.unit_minor,
                "refund": if refunded { amount } else { 0 }, "status": status_code(g),
                "skuInfos": format!("[{}]", skus.join(", ")),
                "payTime": g.paid.filter(|_| is_paid).map(alibaba_time),
                "dealSuccessTime": null, "deliverGoodsTime": null,
                "productImgUrl": json!([thumb, p.image]).to_string(),
                "productSnapShotUrl": format!("https://trade.1688.com/order/offer_snapshot.htm?order_entry_id={tb_order_id}"),
                "createTime": alibaba_time(created + chrono::Duration::seconds(1)),
                "productNo": offer(l), "container": "", "bizStatus": 1,
            })
        })
        .collect();
    let mut order = json!({
        "id": id.to_string(), "developId": DEVELOP_ID, "developEmail": null, "developerAlias": null,
        "flow": "general", "orderNo": (1_241_000_000_000_000_000u64 + g.seq * 1000).to_string(),
        "tbOrderId": tb_order_id, "shopPromotionId": null,
        "discount": g.discount_minor, "productAmount": g.goods_minor(), "shippingFee": g.shipping_minor,
        "totalAmount": g.total_minor(), "refundAmount": if refunded { g.total_minor() } else { 0 },
        "cargoParamList": Value::Array(cargo).to_string(),
        "receiver": receiver.to_string(),
        "subBuyerLoginId": format!("pandaponsbx:{}", dataset::BUYERS[g.buyer]),
        "closeReason": null, "sellerLoginId": SELLERS[(g.seq % 3) as usize],
        "warehouseAddressInfo": warehouse.to_string(),
        "isInvoice": 0, "invoiceId": null, "tradeType": "担保交易",
        "payStatus": if is_paid { 1 } else { 0 }, "orderStatus": status_code(g),
        "refundStatus": if refunded { 1 } else { 0 },
    });
    let rest = json!({
        "orderJson": json!({"result": {"orderId": tb_order_id, "postFee": g.shipping_minor, "success": true,
            "orderList": [], "totalSuccessAmount": g.total_minor()}, "success": true}).to_string(),
        "message": g.buyer_message, "batchPayStatus": null, "financialPayFailureRemark": null,
        "userId": "2219093763101", "userName": null, "staffName": "",
        "createTime": alibaba_time(created), "payStatusKey": null, "platformOrder": 0, "orderType": 0,
        "contractOrderStatus": null, "tbCreateTime": alibaba_time(created - chrono::Duration::seconds(1)),
        "orderDetailInfoVOS": details,
        "logisticsCost": null, "confirmLogisticsCost": 0, "logisticsStatus": 0,
        "transferAccountImgs": null, "transferAccountRemark": null,
    });
    if let (Value::Object(o), Value::Object(r)) = (&mut order, rest) {
        o.extend(r);
    }
    order
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

/// Header checks, in the gateway's order. `Err` is the response.
fn authenticate(sb: &Sandbox, h: &HeaderMap) -> Result<(), Response> {
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
    if key != ACCESS_KEY {
        return Err(error(sb, 401, "access-key无效 (unknown access-key)"));
    }
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
    let expected = signature(scheme, key, nonce, ts, SECRET_KEY).unwrap_or_default();
    if !signatures_match(&expected, sig) {
        return Err(error(sb, 401, "签名错误 (signature mismatch)"));
    }
    if user != USER_ID {
        return Err(error(
            sb,
            403,
            "user-id无权限 (user-id is not a sub-account of this developer)",
        ));
    }
    Ok(())
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
    let truncate = match sb.faults.gate(page.platform(), None).await {
        Gate::Pass => false,
        Gate::Truncate => true,
        Gate::Respond(r) => return r,
        Gate::Throttle => return error(sb, 429, "请求过于频繁,请稍后再试 (too many requests)"),
    };
    if let Err(r) = authenticate(sb, headers) {
        return r;
    }
    let body: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => return error(sb, 400, "请求体格式错误 (the body is not a JSON object)"),
        }
    };
    match answer(sb, page, &body) {
        Ok(data) => finish(
            json!({"requestId": sb.pandapon.request_id(), "code": 200, "developId": DEVELOP_ID,
                   "msg": "成功", "data": data}),
            truncate,
        ),
        Err(r) => r,
    }
}

/// The `data` of a successful answer.
fn answer(sb: &Sandbox, page: Page, body: &Value) -> Result<Value, Response> {
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
    let user_ids: Option<Vec<String>> = match (&body["userIdList"], page) {
        (Value::Array(a), Page::Alibaba) if !a.is_empty() => Some(a.iter().map(str_of).collect()),
        _ => None,
    };

    if sb.faults.roll_drift() {
        sb.pandapon.drift(page);
    }
    let all = sb.pandapon.rendered(page);
    let mut hits: Vec<(DateTime<Utc>, &Value)> = all
        .iter()
        .filter_map(|(created, o)| {
            let created = *created;
            let keep = begin.is_none_or(|b| created >= b)
                && end.is_none_or(|e| created <= e)
                && status.is_none_or(|s| o[page.status_field()].as_i64() == Some(s))
                && order_no
                    .as_ref()
                    .is_none_or(|n| str_of(&o["orderNo"]) == *n)
                && id.as_ref().is_none_or(|n| str_of(&o["id"]) == *n)
                && tb_order_id
                    .as_ref()
                    .is_none_or(|n| str_of(&o["tbOrderId"]) == *n)
                && user_ids
                    .as_ref()
                    .is_none_or(|u| u.contains(&str_of(&o["userId"])));
            keep.then_some((created, o))
        })
        .collect();
    let key = |a: &(DateTime<Utc>, &Value), b: &(DateTime<Utc>, &Value)| -> CmpOrdering {
        a.0.cmp(&b.0).then_with(|| {
            let id = |v: &Value| str_of(&v["id"]);
            let (x, y) = (id(a.1), id(b.1));
            x.len().cmp(&y.len()).then(x.cmp(&y))
        })
    };
    match page {
        Page::Taobao => hits.sort_by(key),
        Page::Alibaba => hits.sort_by(|a, b| key(b, a)),
    }
    let total = hits.len();
    let rows: Vec<Value> = hits
        .into_iter()
        .skip(((num - 1) * size) as usize)
        .take(size as usize)
        .map(|(_, o)| o.clone())
        .collect();
    Ok(match page {
        Page::Taobao => json!({"total": total, "data": rows}),
        Page::Alibaba => json!({"total": total, "data": rows, "code": 200, "msg": null}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::{ErrorClass, PlatformError};
    use crate::model::Order;
    use crate::net::{RetryPolicy, Transport, TransportOptions};
    use crate::platforms::pandapon::{Pandapon, Scheme, normalize_saved};
    use crate::platforms::{Adapter, ApiRequest, Body, By, PageQuery, PlatformId, Window};
    use crate::sandbox::{Running, SandboxOptions, spawn};
    use secrecy::SecretString;
    use std::collections::HashSet;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn own_signatures_match_the_documented_vectors() {
        let (ak, n, t, s) = (
            "58c0201dfdf148eca63cbf6bb5e7cf03",
            "0123456789abcdef0123456789abcdef",
            "1715669977082",
            "testsecret",
        );
        let expect = [
            "B5ADC95658EA7E68628F74702CE48C12",
            "184CD84BFC512859FEF6A6C966938F50",
            "E10EDEE14BE05AC5401FF7B607F16F58",
            "27C7C39151385EBC96B6BFFBBDEB9687",
            "26263C9B556F6A3420CCF2D139C8DFEF",
        ];
        for (scheme, sig) in SCHEMES.iter().zip(expect) {
            assert_eq!(
                signature(scheme, ak, n, t, s).as_deref(),
                Some(sig),
                "{scheme}"
            );
        }
        assert_eq!(signature("sha1", ak, n, t, s), None);
    }

    #[test]
    fn filter_times_parse_like_a_hutool_datetime() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let p = |v: Value| parse_filter_time(&v);
        assert_eq!(
            p(json!("2024-07-18 18:01:30")),
            Some(utc("2024-07-18T10:01:30Z"))
        );
        assert_eq!(p(json!("2024-07-18")), Some(utc("2024-07-17T16:00:00Z")));
        assert_eq!(
            p(json!("2025-04-24T17:17:43.000+08:00")),
            Some(utc("2025-04-24T09:17:43Z"))
        );
        assert_eq!(
            p(json!(1715669977082i64)),
            Some(utc("2024-05-14T06:59:37.082Z"))
        );
        assert_eq!(
            p(json!("1715669977082")),
            Some(utc("2024-05-14T06:59:37.082Z"))
        );
        assert_eq!(p(json!("soon")), None);
        assert_eq!(p(json!({"time": 1})), None);
    }

    #[test]
    fn config_section_holds_both_shops() {
        let text = config_section("http://127.0.0.1:9/pandapon");
        assert!(
            text.contains("[shops.sandbox-pandapon-taobao]")
                && text.contains("[shops.sandbox-pandapon-1688]")
        );
        let c = Config::parse(&text, Path::new("sb.toml")).unwrap();
        let platforms: Vec<PlatformId> = c.shops.iter().map(|s| s.platform).collect();
        assert_eq!(
            platforms,
            [PlatformId::Pandapon1688, PlatformId::PandaponTaobao]
        );
        for s in &c.shops {
            assert_eq!(s.base_url, "http://127.0.0.1:9/pandapon");
            assert_eq!(s.raw.access_key.as_deref(), Some(ACCESS_KEY));
            assert_eq!(s.raw.user_id.as_deref(), Some(USER_ID));
            assert_eq!(
                Pandapon::from_shop(s).unwrap().scheme(),
                Scheme::Md5QueryKey
            );
        }
    }

    #[test]
    fn generated_orders_follow_the_documented_shapes() {
        let st = State::new(&SandboxOptions {
            orders: 30,
            ..SandboxOptions::default()
        });
        let tb = st.snapshot(Page::Taobao);
        assert_eq!(tb.len(), 35);
        for o in &tb {
            assert!(o["subOrderVOS"].as_array().is_some_and(|a| !a.is_empty()));
            let r: Value =
                serde_json::from_str(o["subOrderVOS"][0]["subOrderResult"].as_str().unwrap())
                    .unwrap();
            let zh: Value =
                serde_json::from_str(r["option_fields"]["zh"].as_str().unwrap()).unwrap();
            assert!(zh.is_object());
            assert!([0, 1, 2, 3, 4, 10, 11].contains(&o["status"].as_i64().unwrap()));
            assert!(parse_filter_time(&o["createTime"]).is_some());
        }
        let ali = st.snapshot(Page::Alibaba);
        assert_eq!(ali.len(), 32);
        // (The seed's second order has a reduction its `discount` field does not show.)
        for o in ali.iter().filter(|o| o["developId"] == DEVELOP_ID) {
            let total = o["totalAmount"].as_i64().unwrap();
            let (goods, ship, disc) = (
                o["productAmount"].as_i64().unwrap(),
                o["shippingFee"].as_i64().unwrap(),
                o["discount"].as_i64().unwrap(),
            );
            assert_eq!(total, goods + ship - disc, "{}", o["orderNo"]);
            for text in [
                "receiver",
                "cargoParamList",
                "warehouseAddressInfo",
                "orderJson",
            ] {
                assert!(
                    serde_json::from_str::<Value>(o[text].as_str().unwrap()).is_ok(),
                    "{text}"
                );
            }
        }
    }

    fn retry() -> RetryPolicy {
        RetryPolicy {
            max_retries: 12,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            max_wait: Duration::from_secs(2),
            ..RetryPolicy::default()
        }
    }

    fn client(
        sb: &Running,
        platform: PlatformId,
        scheme: Scheme,
        user: &str,
    ) -> (Pandapon, Transport) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let a = Pandapon::new(
            platform,
            "sb",
            ACCESS_KEY,
            SecretString::from(SECRET_KEY),
            user,
            scheme,
        )
        .unwrap();
        let t = Transport::new(TransportOptions {
            platform: platform.spec().id,
            base_url: Sandbox::base_url(sb.addr, platform),
            rate_limit: 1000,
            timeout: Duration::from_secs(10),
            retry: retry(),
            secrets: a.secrets(),
            dump_dir: None,
        })
        .unwrap();
        (a, t)
    }

    fn window(days: i64) -> Window {
        Window {
            start: Utc::now() - chrono::Duration::days(days),
            end: Utc::now() + chrono::Duration::minutes(1),
        }
    }

    fn q(w: Window, page: u32, size: u32, status: Option<&str>) -> PageQuery {
        PageQuery {
            window: w,
            by: By::Created,
            status: status.map(str::to_string),
            page,
            page_size: size,
        }
    }

    async fn page(
        a: &Pandapon,
        t: &Transport,
        q: &PageQuery,
    ) -> Result<crate::platforms::ListPage, PlatformError> {
        t.call(
            a.list_endpoint(By::Created),
            Some(q.page),
            |now| a.list_request(q, now),
            |b| a.parse_list(b, q),
        )
        .await
    }

    /// Every order of a window, paging forward on `data.total`.
    async fn pull(
        a: &Pandapon,
        t: &Transport,
        w: Window,
        size: u32,
        status: Option<&str>,
    ) -> Result<Vec<Order>, PlatformError> {
        let first = page(a, t, &q(w, 1, size, status)).await?;
        let total = first.total.unwrap_or(0);
        let mut out = first.orders;
        let pages = total.div_ceil(u64::from(size)) as u32;
        for p in 2..=pages {
            out.extend(page(a, t, &q(w, p, size, status)).await?.orders);
        }
        Ok(out)
    }

    fn in_window(sb: &Running, page: Page, w: Window) -> usize {
        sb.state
            .pandapon
            .snapshot(page)
            .iter()
            .filter_map(|o| parse_filter_time(&o["createTime"]))
            .filter(|c| *c >= w.start && *c <= w.end)
            .count()
    }

    async fn start(o: SandboxOptions) -> Running {
        spawn("127.0.0.1:0".parse().unwrap(), o).await.unwrap()
    }

    #[tokio::test]
    async fn pulls_every_order_of_both_pages_in_their_order() {
        let sb = start(SandboxOptions {
            orders: 70,
            ..SandboxOptions::default()
        })
        .await;
        let w = window(31);
        for (platform, p) in [
            (PlatformId::PandaponTaobao, Page::Taobao),
            (PlatformId::Pandapon1688, Page::Alibaba),
        ] {
            let (a, t) = client(&sb, platform, Scheme::Md5QueryKey, USER_ID);
            let orders = pull(&a, &t, w, 20, None).await.unwrap();
            assert_eq!(orders.len(), 70, "{platform}");
            assert_eq!(in_window(&sb, p, w), 70);
            let ids: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
            assert_eq!(ids.len(), 70, "{platform}: duplicate ids");
            let created: Vec<_> = orders.iter().map(|o| o.created_at.unwrap()).collect();
            let mut sorted = created.clone();
            sorted.sort();
            if p == Page::Alibaba {
                sorted.reverse();
            }
            assert_eq!(created, sorted, "{platform}: list order");
            assert!(
                orders
                    .iter()
                    .all(|o| !o.lines.is_empty() && o.platform == platform.as_str())
            );
        }
    }

    #[tokio::test]
    async fn paging_boundaries_and_filters() {
        let sb = start(SandboxOptions {
            orders: 45,
            ..SandboxOptions::default()
        })
        .await;
        let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
        let w = window(31);
        // 45 orders at 7 a page: pages 1..=6 full, page 7 holds 3, page 8 none.
        let p6 = page(&a, &t, &q(w, 6, 7, None)).await.unwrap();
        assert_eq!((p6.total, p6.orders.len()), (Some(45), 7));
        let p7 = page(&a, &t, &q(w, 7, 7, None)).await.unwrap();
        assert_eq!(p7.orders.len(), 3);
        let p8 = page(&a, &t, &q(w, 8, 7, None)).await.unwrap();
        assert_eq!((p8.total, p8.orders.len()), (Some(45), 0));
        // pageSize above the limit is refused as a bad request.
        let e = page(&a, &t, &q(w, 1, 101, None)).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Invalid, "{e}");

        // Status filter.
        let snapshot = sb.state.pandapon.snapshot(Page::Alibaba);
        let want = snapshot
            .iter()
            .filter(|o| o["orderStatus"] == json!(11))
            .count();
        let shipped = pull(&a, &t, w, 20, Some("11")).await.unwrap();
        assert_eq!(shipped.len(), want);
        assert!(shipped.iter().all(|o| o.platform_status == "11"));

        // Both time bounds are inclusive, to the second, in China time.
        let one = &snapshot[0];
        let created = parse_filter_time(&one["createTime"]).unwrap();
        let exact = Window {
            start: created,
            end: created,
        };
        let got = pull(&a, &t, exact, 20, None).await.unwrap();
        assert!(
            got.iter()
                .any(|o| o.order_id == one["orderNo"].as_str().unwrap())
        );
        let before = Window {
            start: created - chrono::Duration::days(40),
            end: created - chrono::Duration::seconds(1),
        };
        let got = pull(&a, &t, before, 20, None).await.unwrap();
        assert!(
            got.iter()
                .all(|o| o.order_id != one["orderNo"].as_str().unwrap())
        );
    }

    #[tokio::test]
    async fn signatures_are_checked_with_the_sandbox_scheme() {
        let sb = start(SandboxOptions {
            orders: 5,
            ..SandboxOptions::default()
        })
        .await;
        let w = window(31);
        let (a, t) = client(&sb, PlatformId::PandaponTaobao, Scheme::Md5Concat, USER_ID);
        let e = page(&a, &t, &q(w, 1, 20, None)).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth);
        let msg = e.to_string();
        assert!(
            msg.contains("`md5-concat`")
                && msg.contains("md5-query-key")
                && msg.contains("hmac-md5-query"),
            "{msg}"
        );
        assert!(!msg.contains(SECRET_KEY));
        for s in Scheme::ALL {
            assert!(sb.state.pandapon.set_signature_scheme(s.name()));
            for platform in [PlatformId::PandaponTaobao, PlatformId::Pandapon1688] {
                let (a, t) = client(&sb, platform, s, USER_ID);
                assert!(
                    page(&a, &t, &q(w, 1, 20, None)).await.is_ok(),
                    "{s} {platform}"
                );
            }
        }
        assert!(!sb.state.pandapon.set_signature_scheme("nope"));
        assert_eq!(sb.state.pandapon.signature_scheme(), "hmac-md5-query");
    }

    #[tokio::test]
    async fn headers_time_and_user_are_checked() {
        let sb = start(SandboxOptions {
            orders: 5,
            ..SandboxOptions::default()
        })
        .await;
        let w = window(31);
        let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
        let qq = q(w, 1, 20, None);
        let call = |build: Box<dyn Fn() -> ApiRequest + Send + Sync>| {
            let (a, t) = (&a, &t);
            let qq = qq.clone();
            async move {
                t.call(
                    "/v2/alibaba/order/page",
                    None,
                    |_| Ok(build()),
                    |b| a.parse_list(b, &qq),
                )
                .await
            }
        };
        // A stale timestamp (700 s old).
        let a2 = &a;
        let qq2 = qq.clone();
        let e = call(Box::new(move || {
            a2.signed(
                a2_body(a2, &qq2),
                Utc::now() - chrono::Duration::seconds(700),
            )
        }))
        .await
        .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth);
        assert!(e.to_string().contains("clock"), "{e}");
        // 590 s is still within the allowance.
        let qq3 = qq.clone();
        assert!(
            call(Box::new(move || a2.signed(
                a2_body(a2, &qq3),
                Utc::now() - chrono::Duration::seconds(590)
            )))
            .await
            .is_ok()
        );
        // Each required header missing in turn.
        for missing in ["access-key", "timestamp", "user-id", "signature"] {
            let qq4 = qq.clone();
            let e = call(Box::new(move || {
                let mut r = a2.list_request(&qq4, Utc::now()).unwrap();
                r.headers.retain(|(k, _)| k != missing);
                r
            }))
            .await
            .unwrap_err();
            assert_eq!(e.class(), ErrorClass::Auth, "{missing}");
            assert!(e.to_string().contains(missing), "{e}");
        }
        // nonce-str is optional in the seed: signed as empty.
        let r_ok = call(Box::new(move || {
            let now = Utc::now();
            let mut r = a2.list_request(&q(w, 1, 20, None), now).unwrap();
            let ts = now.timestamp_millis().to_string();
            r.headers
                .retain(|(k, _)| k != "nonce-str" && k != "signature");
            r.headers.push((
                "signature".into(),
                Scheme::Md5QueryKey.sign(ACCESS_KEY, "", &ts, SECRET_KEY),
            ));
            r
        }))
        .await;
        assert!(r_ok.is_ok(), "{r_ok:?}");
        // A body that is not an object.
        let e = call(Box::new(move || {
            let mut r = a2.list_request(&q(w, 1, 20, None), Utc::now()).unwrap();
            r.body = Body::Json(json!("pageNum=1"));
            r
        }))
        .await
        .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Invalid);
        // Another user id.
        let (a3, t3) = client(
            &sb,
            PlatformId::Pandapon1688,
            Scheme::Md5QueryKey,
            "2100000000000",
        );
        let e = page(&a3, &t3, &qq).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(e.api_code(), Some("403"));
    }

    fn a2_body(a: &Pandapon, qq: &PageQuery) -> Value {
        match a.list_request(qq, Utc::now()).unwrap().body {
            Body::Json(v) => v,
            _ => Value::Null,
        }
    }

    #[tokio::test]
    async fn seed_orders_are_served_and_found_by_id() {
        let sb = start(SandboxOptions {
            orders: 5,
            ..SandboxOptions::default()
        })
        .await;
        let (a, t) = client(
            &sb,
            PlatformId::PandaponTaobao,
            Scheme::Md5QueryKey,
            USER_ID,
        );
        let got = a
            .get_orders(&t, &["1131536104755823039".to_string()])
            .await
            .unwrap();
        let fixture = normalize_saved(
            PlatformId::PandaponTaobao,
            include_bytes!("../../fixtures/pandapon-taobao/page.json"),
            "sb",
        )
        .unwrap();
        assert_eq!(got, vec![fixture[1].clone()]);
        let e = a.get_orders(&t, &["404".to_string()]).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Invalid);
        assert!(e.to_string().contains("404 was not found"));
        // The seed's July 2024 orders come back for a window around them.
        let w = Window {
            start: DateTime::parse_from_rfc3339("2024-07-18T00:00:00+08:00")
                .unwrap()
                .to_utc(),
            end: DateTime::parse_from_rfc3339("2024-07-20T00:00:00+08:00")
                .unwrap()
                .to_utc(),
        };
        let orders = pull(&a, &t, w, 20, None).await.unwrap();
        assert_eq!(orders, fixture);

        let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
        let by_tb = a
            .get_orders(&t, &["2540825544788880794".to_string()])
            .await
            .unwrap();
        assert_eq!(by_tb.len(), 1);
        assert_eq!(by_tb[0].order_id, "1232386407805223845");
    }

    #[tokio::test]
    async fn faults_and_drift_do_not_lose_orders() {
        let sb = start(SandboxOptions {
            orders: 60,
            fail_rate: 0.3,
            ..SandboxOptions::default()
        })
        .await;
        let w = window(31);
        let (a, t) = client(
            &sb,
            PlatformId::PandaponTaobao,
            Scheme::Md5QueryKey,
            USER_ID,
        );
        let orders = pull(&a, &t, w, 5, None).await.unwrap();
        let ids: HashSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
        assert_eq!(ids.len(), 60);
        assert!(sb.state.faults.stats.injected.load(Ordering::Relaxed) > 0);
        assert!(t.stats.retries.load(Ordering::Relaxed) > 0);

        let sb = start(SandboxOptions {
            orders: 60,
            drift_rate: 1.0,
            ..SandboxOptions::default()
        })
        .await;
        let (a, t) = client(&sb, PlatformId::Pandapon1688, Scheme::Md5QueryKey, USER_ID);
        let w = Window {
            start: Utc::now() - chrono::Duration::days(31),
            end: Utc::now() - chrono::Duration::seconds(1),
        };
        let orders = pull(&a, &t, w, 20, None).await.unwrap();
        let ids: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(
            ids.len(),
            60,
            "drift must not shift orders of a past creation window"
        );
    }
}
