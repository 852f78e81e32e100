//! Sandbox module for Taobao Taiwan (LazOP): `/rest/orders/get`, `/rest/order/items/get`,
//! `/rest/order/get`, GET (query) or POST (form).
//!
//! Checks as the platform does: required system parameters, `app_key`, `access_token`,
//! `timestamp` within 7200 s of now (epoch ms or an ISO time), and the HMAC-SHA256 `sign` over
//! the API path plus the sorted parameters; a bad one is answered with the LazOP error envelope
//! (`type`, `code`, `message`, `request_id`), e.g. `IncompleteSignature`. Lists are filtered on
//! modification time (both bounds inclusive) and status, sorted newest-modified first, and
//! paged with `Page`/`Page_Size` (at most 100). List entries carry line ids wrapped in extra
//! quotes, as the real API does.
//!
//! The signed string is built here from platforms.md, not borrowed from the client: the API
//! path, then `name` + `value` of every parameter sorted by name, `sign` and empty values
//! left out; HMAC-SHA256 under the app secret, upper-case hex. Money is rendered as the seed
//! shows it: TWD as whole-number strings, each line's `actual_fee` holding its goods plus its own
//! `shipping_fee`/`actual_shipping_fee`, and the order's `actual_fee` and shipping the sums of
//! its lines'. The seed shows no discount of any kind (no field, and 10 + 52 = 62), so the
//! sandbox invents none: the generator's discount is not used here.

use super::Sandbox;
use super::catalog::{By, Catalog, QueryCache, Segment, View, numeric_id, page_of, shop_seed};
use super::dataset::{self, GenOrder, Stage};
use super::digest::{hmac_sha256_hex, same_hex};
use super::faults::{Gate, finish};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::response::Response;
use axum::routing::any;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const APP_KEY: &str = "100001";
pub const APP_SECRET: &str = "sandbox-tw-app-secret-7f3a9c";
pub const ACCESS_TOKEN: &str = "sandbox-tw-access-token-51d2e8";
const PLATFORM: &str = "taobao-tw";
const MAX_PAGE_SIZE: usize = 100;
/// The seed's `delivery_info.country_code`, on every example (Taiwanese addresses included).
const COUNTRY_CODE: &str = "CN";

/// Request parameters by name; a `BTreeMap` iterates in byte order, the order LazOP signs in.
type Params = BTreeMap<String, String>;

/// The LazOP signature (platforms.md): upper-case hex of HMAC-SHA256(app secret,
/// api path + name + value for every parameter sorted by name, `sign` and empty values left
/// out).
fn lazop_signature(secret: &str, api: &str, p: &Params) -> String {
    let mut text = String::from(api);
    for (name, value) in p {
        if name == "sign" || value.is_empty() {
            continue;
        }
        text.push_str(name);
        text.push_str(value);
    }
    hmac_sha256_hex(secret, &text).to_ascii_uppercase()
}

/// An example order from the seed document, served verbatim.
#[derive(Clone)]
pub struct SeedOrder {
    order: Value,
    lines: Vec<Value>,
}

/// One shop's credentials.
#[derive(Debug, Clone)]
pub struct Creds {
    pub app_key: String,
    pub app_secret: String,
    pub access_token: String,
}

impl Creds {
    /// Shop `shop`'s (1-based): shop 1's are the documented constants.
    pub fn of(shop: usize) -> Creds {
        Creds {
            app_key: (100_000 + shop.max(1)).to_string(),
            app_secret: super::shop_credential(APP_SECRET, shop),
            access_token: super::shop_credential(ACCESS_TOKEN, shop),
        }
    }
}

/// One shop: its credentials, its orders (generated on demand), drift.
pub struct Shop {
    pub creds: Creds,
    catalog: Mutex<Catalog>,
    /// The seed document's examples (shop 1 only).
    seeds: Vec<SeedOrder>,
    rng: Mutex<StdRng>,
    cache: QueryCache,
}

/// The platform's state: its shops.
pub struct State {
    shops: Vec<Shop>,
    request_seq: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let shops = (1..=o.shops.max(1))
            .map(|shop| {
                let seed = shop_seed(o.seed, shop);
                let seeds = if shop == 1 { seed_orders() } else { Vec::new() };
                let segments = vec![Segment::new(o.orders, seed, 1, o.now, 30)];
                Shop {
                    creds: Creds::of(shop),
                    catalog: Mutex::new(Catalog::new(segments, seeds.len(), 1, shop)),
                    seeds,
                    rng: Mutex::new(dataset::drift_rng(seed)),
                    cache: QueryCache::default(),
                }
            })
            .collect();
        State {
            shops,
            request_seq: AtomicU64::new(1),
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

    /// Every order of shop 1, rendered in wire form with its lines (for tests).
    pub fn snapshot(&self) -> Vec<(Value, Vec<Value>)> {
        self.shop(1).snapshot()
    }

    fn request_id(&self) -> String {
        format!(
            "0b1196a6{:018}",
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Shop {
    fn drift(&self, start: DateTime<Utc>) {
        let now = Utc::now().max(start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.lock().drift(&mut rng, now);
    }

    /// Every order, rendered in wire form with its lines (for tests).
    pub fn snapshot(&self) -> Vec<(Value, Vec<Value>)> {
        let c = self.lock();
        (0..c.len() as u32)
            .filter_map(|h| self.render(&c, h))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `h` as (list entry, full lines).
    fn render(&self, c: &Catalog, h: u32) -> Option<(Value, Vec<Value>)> {
        match c.view(h) {
            View::Seed(n) => self
                .seeds
                .get(n)
                .map(|s| (s.order.clone(), s.lines.clone())),
            _ => c.order(h).map(|g| render(&g)),
        }
    }

    /// The handle of the order with this `trade_order_id`.
    fn find_order(&self, c: &Catalog, id: &str) -> Option<u32> {
        if let Some(n) = self
            .seeds
            .iter()
            .position(|s| s.order["trade_order_id"] == id)
        {
            return Some(c.seed_handle(n));
        }
        let rest = id.parse::<u64>().ok()?.checked_sub(ORDER_ID_BASE)?;
        if !rest.is_multiple_of(10) || order_id(rest / 10) != id {
            return None;
        }
        c.handle_of_seq(rest / 10)
    }

    /// The line with this `trade_order_line_id`, in wire form.
    fn find_line(&self, c: &Catalog, id: &str) -> Option<Value> {
        for s in &self.seeds {
            if let Some(l) = s.lines.iter().find(|l| l["trade_order_line_id"] == id) {
                return Some(l.clone());
            }
        }
        let rest = id.parse::<u64>().ok()?.checked_sub(LINE_ID_BASE)?;
        let (seq, j) = (rest / 10, (rest % 10) as usize);
        if line_id(seq, j) != id {
            return None;
        }
        let g = c.order(c.handle_of_seq(seq)?)?;
        render(&g).1.into_iter().nth(j)
    }
}

/// This platform in the sandbox's list.
pub static SERVED: super::Served = super::Served {
    ids: &["taobao-tw"],
    path: "/rest",
    routes,
    config_section,
};

/// The shop section of the sandbox config.
pub fn config_section(base_url: &str, shop: usize, shops: usize) -> String {
    let Creds {
        app_key,
        app_secret,
        access_token,
    } = Creds::of(shop);
    let name = super::shop_name(PLATFORM, shop, shops);
    format!(
        "\n[shops.{name}]\nplatform = \"taobao-tw\"\nbase_url = \"{base_url}\"\n\
         app_key = \"{app_key}\"\napp_secret = \"{app_secret}\"\naccess_token = \"{access_token}\"\n"
    )
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/rest/orders/get", any(orders_get))
        .route("/rest/order/items/get", any(items_get))
        .route("/rest/order/get", any(order_get))
        .with_state(sb)
}

fn seed_orders() -> Vec<SeedOrder> {
    let detail: Value =
        serde_json::from_str(include_str!("../../fixtures/taobao-tw/order_get.json"))
            .expect("fixture is JSON");
    let list: Value =
        serde_json::from_str(include_str!("../../fixtures/taobao-tw/orders_get.json"))
            .expect("fixture is JSON");
    let module = &detail["result"]["module"];
    let full_lines = module["trade_order_line_list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    list["result"]["model_list"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|order| {
            let lines = if order["trade_order_id"] == module["trade_order_id"] {
                full_lines.clone()
            } else {
                // The seed shows no line detail for this order: describe its one line from
                // the list entry, as the other order's line is (its actual_fee 121 holds the
                // order's shipping 60, leaving 61 of goods).
                let id = order["trade_order_line_id_list"][0]
                    .as_str()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string();
                vec![json!({
                    "creation_time": order["creation_time"], "trade_order_id": order["trade_order_id"],
                    "trade_order_line_id": id, "product_id": "242178747", "sku_id": "3065252107",
                    "product_title": "親膚棉白T", "quantity": 1, "unit_fee": "61",
                    "unit_fee_currency_code": "TWD", "actual_fee": order["actual_fee"],
                    "actual_fee_currency_code": "TWD", "shipping_fee": order["shipping_fee"],
                    "shipping_fee_currency_code": "TWD",
                    "actual_shipping_fee": order["actual_shipping_fee"],
                    "actual_shipping_fee_currency_code": "TWD", "sku_info": "[]", "shipment_list": [],
                    "modification_time": order["modification_time"], "status": order["status"],
                })]
            };
            SeedOrder { order, lines }
        })
        .collect()
}

fn status_code(s: Stage) -> &'static str {
    match s {
        Stage::Unpaid => "unpaid",
        Stage::Paid => "pending",
        Stage::AwaitingShipment | Stage::PartiallyShipped => "ready_to_ship",
        Stage::Shipped => "shipped",
        Stage::Delivered | Stage::Completed => "delivered",
        Stage::Cancelled => "canceled",
        Stage::Refunded => "returned",
    }
}

/// Millisecond time of a generated instant, with a deterministic sub-second part.
fn ms(t: DateTime<Utc>, seq: u64) -> i64 {
    t.timestamp() * 1000 + (seq * 137 % 1000) as i64
}

/// Whole TWD from minor units, rounded half up: TWD is sent as whole dollars (seed: "62").
fn twd(minor: i64) -> i64 {
    (minor + 50).div_euclid(100)
}

/// One line's money in whole TWD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineMoney {
    unit: i64,
    /// This line's postage (`shipping_fee` = `actual_shipping_fee`, as in the seed).
    shipping: i64,
    /// `actual_fee`: goods plus this line's postage.
    paid: i64,
}

/// Split an order's postage over its lines evenly (the odd dollars on the first lines). The
/// order's `actual_fee` and shipping are then the sums of the lines'.
fn line_money(g: &GenOrder) -> Vec<LineMoney> {
    let n = g.lines.len().max(1) as i64;
    let goods: Vec<i64> = g
        .lines
        .iter()
        .map(|l| twd(l.unit_minor) * l.quantity)
        .collect();
    let shipping = twd(g.shipping_minor);
    g.lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let ship = shipping / n + i64::from((i as i64) < shipping % n);
            LineMoney {
                unit: twd(l.unit_minor),
                shipping: ship,
                paid: goods[i] + ship,
            }
        })
        .collect()
}

const ORDER_ID_BASE: u64 = 560_000_000_000;
const LINE_ID_BASE: u64 = 570_000_000_000;

fn order_id(seq: u64) -> String {
    (ORDER_ID_BASE + seq * 10).to_string()
}

fn line_id(seq: u64, idx: usize) -> String {
    (LINE_ID_BASE + seq * 10 + idx as u64).to_string()
}

/// A generated order as (list entry, full lines).
fn render(g: &GenOrder) -> (Value, Vec<Value>) {
    let [name, phone, state, city, area, _town, address, _zip] = dataset::RECEIVERS[g.receiver];
    let created = ms(g.created, g.seq);
    let modified = ms(g.modified, g.seq).max(created);
    let status = status_code(g.stage);
    let money = line_money(g);
    let lines: Vec<Value> = g
        .lines
        .iter()
        .zip(&money)
        .enumerate()
        .map(|(i, (l, m))| {
            let p = &dataset::PRODUCTS[l.product];
            let sku_info = json!([
                {"valueId": -1, "valueText": p.property.1[l.sku % p.property.1.len()],
                 "propertyName": p.property.0, "propertyId": 226649326},
                {"valueId": -1, "valueText": p.size.1[l.sku % p.size.1.len()],
                 "propertyName": p.size.0, "propertyId": 19447},
            ]);
            let mut shipments = vec![json!({"order_no": 1})];
            if matches!(g.stage, Stage::Shipped | Stage::Delivered | Stage::Completed) {
                shipments.push(json!({"order_no": 2, "tracking_number": format!("20KXH{:08}", g.seq),
                                      "logistics_id": format!("LP{:014}", g.seq)}));
            }
            json!({
                "creation_time": created, "product_main_image": p.image,
                "product_detail_url": format!("https://item.taobao.tw/products/i{}.html", 242_000_000 + l.product),
                "trade_order_id": order_id(g.seq), "trade_order_line_id": line_id(g.seq, i),
                "package_id": format!("FO{:015}", g.seq), "product_id": (242_000_000 + l.product).to_string(),
                "unit_fee": m.unit.to_string(), "unit_fee_currency_code": "TWD",
                "shipment_list": shipments, "quantity": l.quantity,
                "actual_fee": m.paid.to_string(), "sku_info": sku_info.to_string(),
                "sku_id": (3_065_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "buyer_full_name": format!("{} ", dataset::BUYERS[g.buyer]),
                "product_title": p.title, "shipping_fee_currency_code": "TWD",
                "shipping_fee": m.shipping.to_string(), "actual_shipping_fee": m.shipping.to_string(),
                "actual_shipping_fee_currency_code": "TWD",
                "modification_time": modified, "actual_fee_currency_code": "TWD", "status": status,
            })
        })
        .collect();
    let paid: i64 = money.iter().map(|m| m.paid).sum();
    let shipping: i64 = money.iter().map(|m| m.shipping).sum();
    let order = json!({
        "creation_time": created, "trade_order_id": order_id(g.seq),
        "buyer_id": (2_000_000_000_000u64 + g.buyer as u64).to_string(),
        "seller_full_name": "淘寶台灣沙盒店鋪", "seller_id": "2000005665181",
        "actual_fee": paid.to_string(), "buyer_full_name": format!("{} ", dataset::BUYERS[g.buyer]),
        "shipping_fee_currency_code": "TWD", "shipping_fee": shipping.to_string(),
        "actual_shipping_fee": shipping.to_string(), "payment_channel": "CAINIAO_HILIFE_COD",
        "actual_shipping_fee_currency_code": "TWD",
        "delivery_info": {"area": area, "country_code": COUNTRY_CODE, "city": city, "detail_address": address,
                          "receiver_name": name, "state": state, "receiver_phone": phone},
        "modification_time": modified, "actual_fee_currency_code": "TWD",
        "trade_order_line_id_list": (0..g.lines.len()).map(|i| format!("\"{}\"", line_id(g.seq, i))).collect::<Vec<_>>(),
        "status": status,
    });
    (order, lines)
}

fn error(sb: &Sandbox, kind: &str, code: &str, message: &str) -> Response {
    finish(
        json!({"type": kind, "code": code, "message": message, "request_id": sb.taobao_tw.request_id()}),
        false,
    )
}

fn ok(sb: &Sandbox, result: Value, truncate: bool) -> Response {
    finish(
        json!({"result": result, "code": "0", "request_id": sb.taobao_tw.request_id()}),
        truncate,
    )
}

/// Parameters from the query string and a form body, merged.
fn params(query: Option<String>, body: &Bytes) -> Params {
    let mut p = Params::new();
    for src in [query.unwrap_or_default().as_bytes(), body.as_ref()] {
        for (k, v) in url::form_urlencoded::parse(src) {
            p.insert(k.into_owned(), v.into_owned());
        }
    }
    p
}

/// The gateway's checks, in the order the gateway makes them. `Err` is the response.
/// The shop whose app key the request names (1-based), if any.
fn claimed_shop(sb: &Sandbox, p: &Params) -> Option<usize> {
    let key = p.get("app_key")?;
    sb.taobao_tw
        .shops
        .iter()
        .position(|s| &s.creds.app_key == key)
        .map(|i| i + 1)
}

/// `Ok` is the shop the request is for (1-based).
fn authenticate(sb: &Sandbox, api: &str, p: &Params) -> Result<usize, Response> {
    for required in ["app_key", "timestamp", "sign_method", "sign"] {
        if p.get(required).is_none_or(|v| v.is_empty()) {
            return Err(error(
                sb,
                "ISV",
                "MissingParameter",
                &format!(
                    "The input parameter \"{required}\" that is mandatory for processing this request is not supplied"
                ),
            ));
        }
    }
    let Some(shop) = claimed_shop(sb, p) else {
        return Err(error(
            sb,
            "ISV",
            "InvalidAppKey",
            "Specified app key is invalid",
        ));
    };
    let creds = &sb.taobao_tw.shop(shop).creds;
    let ts = &p["timestamp"];
    let when = ts
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .or_else(|| DateTime::parse_from_rfc3339(ts).ok().map(|t| t.to_utc()));
    match when {
        Some(t) if (Utc::now() - t).num_seconds().abs() <= 7200 => {}
        _ => {
            return Err(error(
                sb,
                "ISV",
                "InvalidTimestamp",
                "Timestamp is invalid or differs from the server time by more than 7200 seconds",
            ));
        }
    }
    if p["sign_method"] != "sha256" {
        return Err(error(
            sb,
            "ISV",
            "InvalidSignMethod",
            "Specified sign method is not supported",
        ));
    }
    if !same_hex(&p["sign"], &lazop_signature(&creds.app_secret, api, p)) {
        return Err(error(
            sb,
            "ISV",
            "IncompleteSignature",
            "The request signature does not conform to platform standards",
        ));
    }
    if p.get("access_token") != Some(&creds.access_token) {
        return Err(error(
            sb,
            "ISV",
            "IllegalAccessToken",
            "The specified access token is invalid or expired",
        ));
    }
    Ok(shop)
}

/// Fault gate, then authentication; `Ok((truncate, shop))` to go on.
async fn admit(sb: &Sandbox, api: &str, p: &Params) -> Result<(bool, usize), Response> {
    let claimed = claimed_shop(sb, p).unwrap_or(0);
    let truncate = match sb.faults.gate(PLATFORM, claimed, None).await {
        Gate::Pass => false,
        Gate::Truncate => true,
        Gate::Respond(r) => return Err(r),
        Gate::Throttle => {
            return Err(error(
                sb,
                "ISV",
                "ApiCallLimit",
                "The request has exceeded the API call limit, This ban will last 1 more seconds",
            ));
        }
    };
    let shop = authenticate(sb, api, p)?;
    Ok((truncate, shop))
}

fn int_param(sb: &Sandbox, p: &Params, name: &str, default: i64) -> Result<i64, Response> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            error(
                sb,
                "ISV",
                "InvalidParameter",
                &format!("Invalid parameter \"{name}\": {v}"),
            )
        }),
    }
}

fn paging(sb: &Sandbox, p: &Params) -> Result<(usize, usize), Response> {
    let page = int_param(sb, p, "Page", 1)?;
    let size = int_param(sb, p, "Page_Size", 20)?;
    if page < 1 || !(1..=MAX_PAGE_SIZE as i64).contains(&size) {
        return Err(error(
            sb,
            "ISV",
            "InvalidParameter",
            &format!("Page must be at least 1 and Page_Size between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok((page as usize, size as usize))
}

async fn orders_get(
    AxState(sb): AxState<Arc<Sandbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let (truncate, shop) = match admit(&sb, "/orders/get", &p).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (page, size) = match paging(&sb, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let start = match int_param(&sb, &p, "modification_time_start", i64::MIN) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let end = match int_param(&sb, &p, "modification_time_end", i64::MAX) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let status = p
        .get("Order_Status")
        .cloned()
        .unwrap_or_else(|| "all".into());
    let shop = sb.taobao_tw.shop(shop);
    if sb.faults.roll_drift() {
        shop.drift(sb.taobao_tw.now_at_start);
    }
    let c = shop.lock();
    let hits = shop
        .cache
        .get(format!("{start}|{end}|{status}"), c.version(), || {
            select(shop, &c, start, end, &status)
        });
    let total = hits.len();
    let model_list: Vec<Value> = page_of(&hits, page, size, false)
        .into_iter()
        .filter_map(|h| shop.render(&c, h).map(|(o, _)| o))
        .collect();
    drop(c);
    ok(
        &sb,
        json!({"model_list": model_list, "success": true, "total_count": total, "page_no": page, "page_size": size}),
        truncate,
    )
}

/// The orders modified in `[start, end]` (epoch ms, both included) in `status` (`all`: any),
/// oldest first by (modification time, order id): the list serves them newest first.
fn select(shop: &Shop, c: &Catalog, start: i64, end: i64, status: &str) -> Vec<u32> {
    let bound = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms);
    let generated = |v: &View<'_>, h: u32| match v {
        View::Times { .. } => c.order(h),
        View::Order(g) => Some((*g).clone()),
        View::Seed(_) => None,
    };
    c.select(
        By::Modified,
        (bound(start), bound(end)),
        (start, end),
        |v| match v {
            View::Seed(n) => shop.seeds[*n].order["modification_time"].as_i64(),
            _ => v
                .times()
                .map(|(seq, created, modified)| ms(modified, seq).max(ms(created, seq))),
        },
        |h, v| {
            status == "all"
                || match v {
                    View::Seed(n) => shop.seeds[*n].order["status"] == status,
                    _ => generated(v, h).is_some_and(|g| status_code(g.stage) == status),
                }
        },
        |h| match c.view(h) {
            View::Seed(n) => numeric_id(&shop.seeds[n].order["trade_order_id"]),
            v => v
                .times()
                .map_or(0, |(seq, _, _)| u128::from(ORDER_ID_BASE + seq * 10)),
        },
    )
}

fn line_ids(raw: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<Value>>(raw) {
        Ok(v) => v
            .into_iter()
            .map(|x| match x {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Err(_) => raw.split(',').map(|s| s.trim().to_string()).collect(),
    }
}

async fn items_get(
    AxState(sb): AxState<Arc<Sandbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let (truncate, shop) = match admit(&sb, "/order/items/get", &p).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (page, size) = match paging(&sb, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(raw) = p.get("trade_order_line_id_list") else {
        return error(
            &sb,
            "ISV",
            "MissingParameter",
            "The input parameter \"trade_order_line_id_list\" that is mandatory for processing this request is not supplied",
        );
    };
    let wanted = line_ids(raw);
    let shop = sb.taobao_tw.shop(shop);
    let c = shop.lock();
    let lines: Vec<Value> = wanted
        .iter()
        .filter_map(|id| shop.find_line(&c, id))
        .collect();
    drop(c);
    let total = lines.len();
    let model_list: Vec<Value> = lines
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    ok(
        &sb,
        json!({"model_list": model_list, "success": true, "total_count": total, "page_no": page, "page_size": size}),
        truncate,
    )
}

async fn order_get(
    AxState(sb): AxState<Arc<Sandbox>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let (truncate, shop) = match admit(&sb, "/order/get", &p).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(id) = p.get("trade_order_id") else {
        return error(
            &sb,
            "ISV",
            "MissingParameter",
            "The input parameter \"trade_order_id\" that is mandatory for processing this request is not supplied",
        );
    };
    let shop = sb.taobao_tw.shop(shop);
    let found = {
        let c = shop.lock();
        shop.find_order(&c, id).and_then(|h| shop.render(&c, h))
    };
    match found {
        None => error(
            &sb,
            "ISV",
            "ORDER_NOT_FOUND",
            &format!("Order {id} does not exist"),
        ),
        Some((mut order, lines)) => {
            let obj = order.as_object_mut().expect("orders are objects");
            obj.remove("trade_order_line_id_list");
            obj.insert("trade_order_line_list".into(), Value::Array(lines));
            ok(&sb, json!({"success": true, "module": order}), truncate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SYSTEM: [(&str, &str); 3] = [
        ("app_key", "123456"),
        ("access_token", "test"),
        ("sign_method", "sha256"),
    ];

    /// platforms.md's three vectors (secret `helloworld`): the sandbox's check is pinned to
    /// the vendor's published example, not to our client.
    #[test]
    fn signature_matches_platforms_md_vectors() {
        let mut p = params(&SYSTEM);
        p.extend(params(&[
            ("timestamp", "1517820392000"),
            ("order_id", "1234"),
        ]));
        assert_eq!(
            lazop_signature("helloworld", "/order/get", &p),
            "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
        );
        let mut p = params(&SYSTEM);
        p.extend(params(&[
            ("timestamp", "1592988843859"),
            ("Order_Status", "all"),
            ("Page_Size", "2"),
            ("Page", "1"),
        ]));
        assert_eq!(
            lazop_signature("helloworld", "/orders/get", &p),
            "42FD93D7C1AB77282AD2970D4CD235E110A309CF2AA34DF14C7A57F5DFB4CE65"
        );
        let mut p = params(&SYSTEM);
        p.extend(params(&[
            ("timestamp", "1592988843859"),
            ("trade_order_line_id_list", r#"["558757467941"]"#),
        ]));
        let sign = "4C5A7822321103E0CED5DF2033689EA756F950974CB6A8818C24CA6B39E47C3B";
        assert_eq!(lazop_signature("helloworld", "/order/items/get", &p), sign);
        // `sign` itself and empty values are not signed.
        p.insert("sign".into(), sign.into());
        p.insert("modification_time_start".into(), String::new());
        assert_eq!(lazop_signature("helloworld", "/order/items/get", &p), sign);
    }

    fn state(orders: usize) -> State {
        State::new(&crate::sandbox::SandboxOptions {
            orders,
            ..Default::default()
        })
    }

    fn whole(v: &Value) -> i64 {
        v.as_str().unwrap().parse().unwrap()
    }

    /// As the seed's example: each line's actual_fee holds its goods and its own shipping,
    /// and the order's amounts are its lines' sums.
    #[test]
    fn orders_are_consistent_with_their_lines_as_the_seed_is() {
        let mut multi_line = 0;
        for (o, lines) in state(300).snapshot() {
            let id = o["trade_order_id"].as_str().unwrap();
            assert_eq!(o["delivery_info"]["country_code"], COUNTRY_CODE, "{id}");
            assert!(o.get("discount").is_none() && o.get("discount_fee").is_none());
            let mut paid = 0;
            let mut shipping = 0;
            let mut goods = 0;
            for l in &lines {
                assert_eq!(l["shipping_fee"], l["actual_shipping_fee"], "{id}");
                let q = l["quantity"].as_i64().unwrap();
                assert!(q > 0 && !l["product_title"].as_str().unwrap().is_empty());
                let line_goods = whole(&l["actual_fee"]) - whole(&l["actual_shipping_fee"]);
                assert_eq!(line_goods, whole(&l["unit_fee"]) * q, "{id}: no discount");
                paid += whole(&l["actual_fee"]);
                shipping += whole(&l["actual_shipping_fee"]);
                goods += whole(&l["unit_fee"]) * q;
            }
            assert_eq!(whole(&o["actual_fee"]), paid, "{id}");
            assert_eq!(whole(&o["actual_shipping_fee"]), shipping, "{id}");
            assert_eq!(whole(&o["shipping_fee"]), shipping, "{id}");
            assert_eq!(goods + shipping, paid, "{id}: no discount");
            multi_line += usize::from(lines.len() > 1);
        }
        assert!(multi_line > 10, "{multi_line}");
    }

    #[test]
    fn seed_order_is_served_as_documented() {
        let all = state(0).snapshot();
        let (o, lines) = all
            .iter()
            .find(|(o, _)| o["trade_order_id"] == "558757367941")
            .unwrap();
        assert_eq!(o["actual_fee"], "62");
        assert_eq!(lines[0]["unit_fee"], "10");
        assert_eq!(lines[0]["actual_fee"], "62");
        assert_eq!(lines[0]["actual_shipping_fee"], "52");
    }
}
