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
use std::collections::{BTreeMap, HashMap};
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

/// One order held by the sandbox.
pub type Rec = dataset::Rec<SeedOrder>;

/// An example order from the seed document, served verbatim.
#[derive(Clone)]
pub struct SeedOrder {
    order: Value,
    lines: Vec<Value>,
}

/// The platform's state: its orders (with their wire form kept rendered, and an index of
/// line ids) and a drift generator.
pub struct State {
    store: Mutex<Store>,
    rng: Mutex<StdRng>,
    next_seq: AtomicU64,
    request_seq: AtomicU64,
    now_at_start: DateTime<Utc>,
}

impl State {
    pub fn new(o: &super::SandboxOptions) -> State {
        let mut orders: Vec<Rec> = dataset::generate(o.orders, o.seed, 1, o.now)
            .into_iter()
            .map(Rec::Generated)
            .collect();
        orders.extend(seed_orders());
        let mut store = Store::default();
        for r in orders {
            store.push(r);
        }
        State {
            next_seq: AtomicU64::new(o.orders as u64 + 1),
            store: Mutex::new(store),
            rng: Mutex::new(dataset::drift_rng(o.seed)),
            request_seq: AtomicU64::new(1),
            now_at_start: o.now,
        }
    }

    /// Modify a few orders (and sometimes add one) as if buyers and sellers acted mid-scan.
    pub fn drift(&self) {
        let now = Utc::now().max(self.now_at_start);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = self.lock();
        let (touched, arrives) = dataset::drift_event(&mut store.recs, &mut rng, now);
        for i in touched {
            store.rerender(i);
        }
        if arrives {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            store.push(Rec::Generated(dataset::fresh_order(seq, 1, now)));
        }
    }

    /// Every order, rendered in wire form with its lines (for tests).
    pub fn snapshot(&self) -> Vec<(Value, Vec<Value>)> {
        self.lock().rendered.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request_id(&self) -> String {
        format!(
            "0b1196a6{:018}",
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Records, their rendered wire form, and where each line id lives.
#[derive(Default)]
struct Store {
    recs: Vec<Rec>,
    rendered: Vec<(Value, Vec<Value>)>,
    lines: HashMap<String, (usize, usize)>,
}

impl Store {
    fn push(&mut self, r: Rec) {
        self.recs.push(r);
        self.rendered.push((Value::Null, Vec::new()));
        self.rerender(self.recs.len() - 1);
    }

    fn rerender(&mut self, i: usize) {
        let (order, lines) = render(&self.recs[i]);
        for (j, l) in lines.iter().enumerate() {
            if let Some(id) = l["trade_order_line_id"].as_str() {
                self.lines.insert(id.to_string(), (i, j));
            }
        }
        self.rendered[i] = (order, lines);
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
pub fn config_section(base_url: &str) -> String {
    format!(
        "\n[shops.sandbox-taobao-tw]\nplatform = \"taobao-tw\"\nbase_url = \"{base_url}\"\n\
         app_key = \"{APP_KEY}\"\napp_secret = \"{APP_SECRET}\"\naccess_token = \"{ACCESS_TOKEN}\"\n"
    )
}

pub fn routes(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/rest/orders/get", any(orders_get))
        .route("/rest/order/items/get", any(items_get))
        .route("/rest/order/get", any(order_get))
        .with_state(sb)
}

fn seed_orders() -> Vec<Rec> {
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
            Rec::Seed(SeedOrder { order, lines })
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

fn order_id(seq: u64) -> String {
    (560_000_000_000u64 + seq * 10).to_string()
}

fn line_id(seq: u64, idx: usize) -> String {
    (570_000_000_000u64 + seq * 10 + idx as u64).to_string()
}

/// Render a record as (list entry, full lines).
fn render(r: &Rec) -> (Value, Vec<Value>) {
    let g = match r {
        Rec::Seed(SeedOrder { order, lines }) => return (order.clone(), lines.clone()),
        Rec::Generated(g) => g,
    };
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
fn authenticate(sb: &Sandbox, api: &str, p: &Params) -> Result<(), Response> {
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
    if p["app_key"] != APP_KEY {
        return Err(error(
            sb,
            "ISV",
            "InvalidAppKey",
            "Specified app key is invalid",
        ));
    }
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
    if !same_hex(&p["sign"], &lazop_signature(APP_SECRET, api, p)) {
        return Err(error(
            sb,
            "ISV",
            "IncompleteSignature",
            "The request signature does not conform to platform standards",
        ));
    }
    if p.get("access_token").map(String::as_str) != Some(ACCESS_TOKEN) {
        return Err(error(
            sb,
            "ISV",
            "IllegalAccessToken",
            "The specified access token is invalid or expired",
        ));
    }
    Ok(())
}

/// Fault gate, then authentication; `Ok(truncate)` to go on.
async fn admit(sb: &Sandbox, api: &str, p: &Params) -> Result<bool, Response> {
    let truncate = match sb.faults.gate(PLATFORM, None).await {
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
    authenticate(sb, api, p)?;
    Ok(truncate)
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
    let truncate = match admit(&sb, "/orders/get", &p).await {
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
    if sb.faults.roll_drift() {
        sb.taobao_tw.drift();
    }
    let store = sb.taobao_tw.lock();
    let mut hits: Vec<&Value> = store
        .rendered
        .iter()
        .map(|(o, _)| o)
        .filter(|o| {
            let m = o["modification_time"].as_i64().unwrap_or(0);
            m >= start && m <= end && (status == "all" || o["status"] == status.as_str())
        })
        .collect();
    hits.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o["modification_time"].as_i64(),
                o["trade_order_id"].as_str().map(str::to_string),
            )
        };
        key(b).cmp(&key(a))
    });
    let total = hits.len();
    let model_list: Vec<Value> = hits
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    drop(store);
    ok(
        &sb,
        json!({"model_list": model_list, "success": true, "total_count": total, "page_no": page, "page_size": size}),
        truncate,
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
    let truncate = match admit(&sb, "/order/items/get", &p).await {
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
    let store = sb.taobao_tw.lock();
    let lines: Vec<Value> = wanted
        .iter()
        .filter_map(|id| store.lines.get(id))
        .map(|&(i, j)| store.rendered[i].1[j].clone())
        .collect();
    drop(store);
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
    let truncate = match admit(&sb, "/order/get", &p).await {
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
    let found = sb
        .taobao_tw
        .lock()
        .rendered
        .iter()
        .find(|(o, _)| o["trade_order_id"].as_str() == Some(id.as_str()))
        .cloned();
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
