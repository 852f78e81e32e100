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

use super::Sandbox;
use super::dataset::{self, GenOrder, Stage};
use super::faults::{Gate, finish};
use crate::platforms::signing::{Params, lazop_sign, signatures_match};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::response::Response;
use axum::routing::any;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const APP_KEY: &str = "100001";
pub const APP_SECRET: &str = "sandbox-tw-app-secret-7f3a9c";
pub const ACCESS_TOKEN: &str = "sandbox-tw-access-token-51d2e8";
const PLATFORM: &str = "taobao-tw";
const MAX_PAGE_SIZE: usize = 100;

/// One order held by the sandbox.
#[derive(Clone)]
pub enum Rec {
    Generated(GenOrder),
    /// An example order from the seed document, served verbatim.
    Seed {
        order: Value,
        lines: Vec<Value>,
    },
}

/// The generated order inside a record (seed examples are not drifted).
fn generated(r: &mut Rec) -> Option<&mut GenOrder> {
    match r {
        Rec::Generated(g) => Some(g),
        _ => None,
    }
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
        let (touched, arrives) = dataset::drift_event(&mut store.recs, &mut rng, now, generated);
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
                // The seed shows no line detail for this order: describe its one line
                // from the list entry.
                let id = order["trade_order_line_id_list"][0]
                    .as_str()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string();
                vec![json!({
                    "creation_time": order["creation_time"], "trade_order_id": order["trade_order_id"],
                    "trade_order_line_id": id, "product_id": "242178747", "sku_id": "3065252107",
                    "product_title": "親膚棉白T", "quantity": 1, "unit_fee": "61",
                    "unit_fee_currency_code": "TWD", "actual_fee": "121",
                    "actual_fee_currency_code": "TWD", "sku_info": "[]", "shipment_list": [],
                    "modification_time": order["modification_time"], "status": order["status"],
                })]
            };
            Rec::Seed { order, lines }
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

fn money(minor: i64) -> String {
    // TWD has no minor unit in practice: the API sends whole dollars as strings.
    (minor / 100).to_string()
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
        Rec::Seed { order, lines } => return (order.clone(), lines.clone()),
        Rec::Generated(g) => g,
    };
    let [name, phone, state, city, area, _town, address, _zip] = dataset::RECEIVERS[g.receiver];
    let created = ms(g.created, g.seq);
    let modified = ms(g.modified, g.seq).max(created);
    let status = status_code(g.stage);
    let lines: Vec<Value> = g
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
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
                "unit_fee": money(l.unit_minor), "unit_fee_currency_code": "TWD",
                "shipment_list": shipments, "quantity": l.quantity,
                "actual_fee": money(l.unit_minor * l.quantity), "sku_info": sku_info.to_string(),
                "sku_id": (3_065_000_000u64 + (l.product * 10 + l.sku) as u64).to_string(),
                "buyer_full_name": format!("{} ", dataset::BUYERS[g.buyer]),
                "product_title": p.title, "shipping_fee_currency_code": "TWD",
                "modification_time": modified, "actual_fee_currency_code": "TWD", "status": status,
            })
        })
        .collect();
    let order = json!({
        "creation_time": created, "trade_order_id": order_id(g.seq),
        "buyer_id": (2_000_000_000_000u64 + g.buyer as u64).to_string(),
        "seller_full_name": "淘寶台灣沙盒店鋪", "seller_id": "2000005665181",
        "actual_fee": money(g.total_minor()), "buyer_full_name": format!("{} ", dataset::BUYERS[g.buyer]),
        "shipping_fee_currency_code": "TWD", "shipping_fee": money(g.shipping_minor),
        "actual_shipping_fee": money(g.shipping_minor), "payment_channel": "CAINIAO_HILIFE_COD",
        "actual_shipping_fee_currency_code": "TWD",
        "delivery_info": {"area": area, "country_code": "TW", "city": city, "detail_address": address,
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
    if !signatures_match(&lazop_sign(APP_SECRET, api, p), &p["sign"]) {
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
