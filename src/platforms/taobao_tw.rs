//! Taobao Taiwan open platform (LazOP stack): `/orders/get`, `/order/items/get`, `/order/get`.
//!
//! Signing is HMAC-SHA256 over the API path plus the sorted parameters (see `signing`). The
//! order list carries no lines: after each list page, the lines of all its orders are fetched
//! with `/order/items/get` in batches (the list wraps each line id in extra quotes, which are
//! stripped before the ids are sent back). Only modification-time filtering exists, so
//! `--by created` is served by pulling modified windows and keeping orders created in range.
//! Times are epoch milliseconds and are kept at millisecond precision.

use super::json::Json;
use super::signing::{Params, lazop_sign};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, ListOrder, ListPage, Method, PageQuery, PlatformSpec,
    TextOrNumber, parse_json,
};
use crate::error::{ErrorClass, PlatformError, ban_seconds};
use crate::model::{
    Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status, Timestamp, non_empty,
    warn_unknown_status,
};
use crate::net::Transport;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

pub const ID: &str = "taobao-tw";
const LIST: &str = "/orders/get";
const ITEMS: &str = "/order/items/get";
const DETAIL: &str = "/order/get";
/// Line ids per `/order/items/get` call, and its page size.
const LINE_BATCH: usize = 100;

pub static SPEC: PlatformSpec = PlatformSpec {
    id: ID,
    title: "Taobao Taiwan open API (LazOP)",
    default_base_url: "https://api.taobao.tw/rest",
    default_rate_limit: 5,
    max_page_size: 100,
    list_order: ListOrder::NewestFirst,
    by_created: ByMode::ViaModified,
    by_modified: ByMode::Native { max_window: None },
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "app_key, app_secret, access_token",
    notes: "lines fetched with /order/items/get in batches of 100; --by created pulls orders \
            modified since --since and keeps those created in range",
};

/// Credentials and identity for one taobao-tw shop.
pub struct TaobaoTw {
    pub shop: String,
    pub app_key: String,
    pub app_secret: SecretString,
    pub access_token: SecretString,
}

impl TaobaoTw {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &crate::config::Shop) -> anyhow::Result<Self> {
        let r = &shop.raw;
        Ok(TaobaoTw {
            shop: shop.name.clone(),
            app_key: shop.require("app_key", &r.app_key)?,
            app_secret: shop.secret("app_secret", &r.app_secret)?,
            access_token: shop.secret("access_token", &r.access_token)?,
        })
    }

    /// A signed GET request for `path` with business parameters `biz`.
    pub fn signed(&self, path: &str, biz: &[(&str, String)], now: DateTime<Utc>) -> ApiRequest {
        let mut p = Params::new();
        p.insert("app_key".into(), self.app_key.clone());
        p.insert("timestamp".into(), now.timestamp_millis().to_string());
        p.insert("sign_method".into(), "sha256".into());
        p.insert(
            "access_token".into(),
            self.access_token.expose_secret().to_string(),
        );
        for (k, v) in biz {
            if !v.is_empty() {
                p.insert((*k).to_string(), v.clone());
            }
        }
        let sign = lazop_sign(self.app_secret.expose_secret(), path, &p);
        p.insert("sign".into(), sign);
        ApiRequest {
            method: Method::Get,
            path: path.to_string(),
            query: p.into_iter().collect(),
            headers: vec![],
            body: Body::None,
        }
    }

    async fn fetch_lines(
        &self,
        t: &Transport,
        ids: &[String],
    ) -> Result<Vec<WireLine>, PlatformError> {
        let mut lines = Vec::with_capacity(ids.len());
        for batch in ids.chunks(LINE_BATCH) {
            let list = serde_json::to_string(batch).expect("strings serialize");
            let mut page = 1u32;
            loop {
                let biz = [
                    ("trade_order_line_id_list", list.clone()),
                    ("Page", page.to_string()),
                    ("Page_Size", LINE_BATCH.to_string()),
                ];
                let res: ListResult<WireLine> = t
                    .call(
                        ITEMS,
                        Some(page),
                        |now| Ok(self.signed(ITEMS, &biz, now)),
                        |b| parse_envelope(b, ITEMS, Some(page)),
                    )
                    .await?;
                let got = res.model_list.len();
                lines.extend(res.model_list);
                let total = res.total_count.unwrap_or(0) as usize;
                if got == 0 || page as usize * LINE_BATCH >= total {
                    break;
                }
                page += 1;
            }
        }
        Ok(lines)
    }
}

impl Adapter for TaobaoTw {
    fn spec(&self) -> &'static PlatformSpec {
        &SPEC
    }

    fn list_endpoint(&self, _by: By) -> &'static str {
        LIST
    }

    fn list_request(&self, q: &PageQuery, now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        let biz = [
            (
                "Order_Status",
                q.status.clone().unwrap_or_else(|| "all".into()),
            ),
            ("Page", q.page.to_string()),
            ("Page_Size", q.page_size.to_string()),
            (
                "modification_time_start",
                q.window.start.timestamp_millis().to_string(),
            ),
            (
                "modification_time_end",
                q.window.end.timestamp_millis().to_string(),
            ),
        ];
        Ok(self.signed(LIST, &biz, now))
    }

    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError> {
        let res: ListResult<WireOrder> = parse_envelope(body, LIST, Some(q.page))?;
        let orders = res
            .model_list
            .into_iter()
            .map(|o| o.normalize(&self.shop, Vec::new()))
            .collect::<Result<_, _>>()
            .map_err(|e| malformed(LIST, Some(q.page), e))?;
        Ok(ListPage {
            orders,
            total: res.total_count,
            has_next: None,
        })
    }

    async fn complete_page(&self, t: &Transport, page: &mut ListPage) -> Result<(), PlatformError> {
        let ids: Vec<String> = page
            .orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.line_id.clone()))
            .collect();
        // The list gave placeholder lines holding only the ids; replace them with full ones.
        let mut by_order: HashMap<String, Vec<OrderLine>> = HashMap::new();
        if !ids.is_empty() {
            for l in self.fetch_lines(t, &ids).await? {
                let order_id = l.trade_order_id.clone().map(TextOrNumber::into_string);
                let line = l.normalize().map_err(|e| malformed(ITEMS, None, e))?;
                by_order
                    .entry(order_id.unwrap_or_default())
                    .or_default()
                    .push(line);
            }
        }
        for o in &mut page.orders {
            let wanted: Vec<String> = o.lines.iter().map(|l| l.line_id.clone()).collect();
            let mut got = by_order.remove(&o.order_id).unwrap_or_default();
            if got.len() < wanted.len() {
                tracing::warn!(
                    "{ID}: order {} lists {} line(s) but /order/items/get returned {}; \
                     the missing ones are kept with only their id",
                    o.order_id,
                    wanted.len(),
                    got.len()
                );
                for id in wanted {
                    if !got.iter().any(|l| l.line_id == id) {
                        got.push(placeholder_line(id));
                    }
                }
            }
            o.lines = got;
        }
        Ok(())
    }

    async fn get_orders(&self, t: &Transport, ids: &[String]) -> Result<Vec<Order>, PlatformError> {
        let mut out = Vec::new();
        for id in ids {
            let biz = [("trade_order_id", id.clone())];
            let detail: DetailResult = t
                .call(
                    DETAIL,
                    None,
                    |now| Ok(self.signed(DETAIL, &biz, now)),
                    |b| parse_envelope(b, DETAIL, None),
                )
                .await?;
            let Some(module) = detail.module else {
                return Err(PlatformError::Request {
                    platform: ID,
                    message: format!("order {id} was not found"),
                });
            };
            let lines = module
                .trade_order_line_list
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(WireLine::normalize)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| malformed(DETAIL, None, e))?;
            out.push(
                module
                    .order
                    .normalize(&self.shop, lines)
                    .map_err(|e| malformed(DETAIL, None, e))?,
            );
        }
        Ok(out)
    }
}

fn malformed(endpoint: &str, page: Option<u32>, (path, detail): (String, String)) -> PlatformError {
    PlatformError::malformed(ID, endpoint, page, path, detail)
}

fn placeholder_line(id: String) -> OrderLine {
    OrderLine {
        line_id: id,
        product_id: None,
        sku_id: None,
        title: String::new(),
        sku_properties: Vec::new(),
        quantity: 0,
        unit_price: None,
        total: None,
        status: None,
        platform_status: None,
        refund_status: None,
        carrier: None,
        tracking_number: None,
        image_url: None,
    }
}

/// The LazOP envelope: `code == "0"` and a `result`, or an error with `type`/`code`/`message`.
#[derive(Deserialize)]
struct Envelope<T> {
    code: Option<TextOrNumber>,
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    result: Option<T>,
}

#[derive(Debug, Deserialize)]
struct ListResult<T> {
    #[serde(default = "Vec::new")]
    model_list: Vec<T>,
    total_count: Option<u64>,
    /// A `/order/get` answer (`result.module`) read as a list: tells `normalize` to re-read it.
    #[serde(default, deserialize_with = "present")]
    module: bool,
}

/// True for a key that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

#[derive(Deserialize)]
struct DetailResult {
    module: Option<WireDetail>,
}

#[derive(Deserialize)]
struct WireDetail {
    #[serde(flatten)]
    order: WireOrder,
    trade_order_line_list: Option<Vec<WireLine>>,
}

/// Check the envelope and return its `result`.
fn parse_envelope<T: serde::de::DeserializeOwned>(
    body: &[u8],
    endpoint: &str,
    page: Option<u32>,
) -> Result<T, PlatformError> {
    let env: Envelope<T> = parse_json(body, ID, endpoint, page)?;
    let Some(code) = env.code.map(TextOrNumber::into_string) else {
        return Err(PlatformError::Malformed {
            platform: ID,
            endpoint: endpoint.to_string(),
            page,
            path: "$.code".into(),
            detail: "the answer has no code".into(),
            saved_body: None,
        });
    };
    if code != "0" {
        let message = env.message.unwrap_or_default();
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: endpoint.to_string(),
            class: classify(env.kind.as_deref(), &code),
            hint: hint(&code),
            retry_after: ban_seconds(&message),
            code,
            kind: env.kind,
            message,
            request_id: env.request_id,
        });
    }
    env.result.ok_or_else(|| PlatformError::Malformed {
        platform: ID,
        endpoint: endpoint.to_string(),
        page,
        path: "$.result".into(),
        detail: "code is \"0\" but there is no result".into(),
        saved_body: None,
    })
}

/// `ISP`/`SYSTEM` errors are the platform's own trouble; `ISV` ones are ours.
fn classify(kind: Option<&str>, code: &str) -> ErrorClass {
    let lc = code.to_ascii_lowercase();
    if lc.contains("limit") || lc.contains("timeout") || lc.contains("busy") {
        return ErrorClass::Transient;
    }
    match kind {
        Some("ISP") | Some("SYSTEM") => ErrorClass::Transient,
        _ if lc.contains("signature")
            || lc.contains("token")
            || lc.contains("appkey")
            || lc.contains("permission")
            || lc.contains("auth") =>
        {
            ErrorClass::Auth
        }
        Some("ISV") => ErrorClass::Invalid,
        _ => ErrorClass::Other,
    }
}

fn hint(code: &str) -> Option<String> {
    let lc = code.to_ascii_lowercase();
    if lc.contains("signature") {
        Some("the signature was refused: check app_secret (and app_key) for this shop".into())
    } else if lc.contains("token") {
        Some("the access token was refused: renew the seller's access_token".into())
    } else if lc.contains("timestamp") {
        Some("the request time was refused: check this machine's clock".into())
    } else {
        None
    }
}

type FieldError = (String, String);

#[derive(Debug, Deserialize, Clone)]
struct WireOrder {
    trade_order_id: TextOrNumber,
    creation_time: Option<i64>,
    modification_time: Option<i64>,
    status: Option<String>,
    buyer_id: Option<TextOrNumber>,
    buyer_full_name: Option<String>,
    seller_id: Option<TextOrNumber>,
    seller_full_name: Option<String>,
    actual_fee: Option<TextOrNumber>,
    actual_fee_currency_code: Option<String>,
    shipping_fee: Option<TextOrNumber>,
    actual_shipping_fee: Option<TextOrNumber>,
    delivery_info: Option<WireDelivery>,
    trade_order_line_id_list: Option<Vec<TextOrNumber>>,
    /// Only order lines have this: an `/order/items/get` answer given to `normalize`.
    #[serde(default, deserialize_with = "present")]
    trade_order_line_id: bool,
}

#[derive(Debug, Deserialize, Clone)]
struct WireDelivery {
    receiver_name: Option<String>,
    receiver_phone: Option<String>,
    country_code: Option<String>,
    state: Option<String>,
    city: Option<String>,
    area: Option<String>,
    detail_address: Option<String>,
    post_code: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
struct WireLine {
    trade_order_id: Option<TextOrNumber>,
    trade_order_line_id: TextOrNumber,
    product_id: Option<TextOrNumber>,
    sku_id: Option<TextOrNumber>,
    product_title: Option<String>,
    sku_info: Option<String>,
    quantity: Option<i64>,
    unit_fee: Option<TextOrNumber>,
    actual_fee: Option<TextOrNumber>,
    status: Option<String>,
    shipment_list: Option<Vec<WireShipment>>,
    product_main_image: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
struct WireShipment {
    tracking_number: Option<String>,
}

#[derive(Deserialize)]
struct WireSku {
    #[serde(rename = "propertyName")]
    property_name: Option<String>,
    #[serde(rename = "valueText")]
    value_text: Option<String>,
}

fn amount(v: Option<TextOrNumber>, field: &str) -> Result<Option<Amount>, FieldError> {
    match v.map(TextOrNumber::into_string) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => Amount::parse(&s)
            .map(Some)
            .map_err(|e| (format!("$.{field}"), e)),
    }
}

fn time(ms: Option<i64>, field: &str) -> Result<Option<Timestamp>, FieldError> {
    match ms {
        None | Some(0) => Ok(None),
        Some(ms) => Timestamp::from_epoch_millis(ms).map(Some).ok_or_else(|| {
            (
                format!("$.{field}"),
                format!("{ms} is not a valid epoch-ms time"),
            )
        }),
    }
}

/// The normalized status of a LazOP order or line status.
pub fn map_status(s: &str) -> Status {
    match s {
        "unpaid" => Status::PendingPayment,
        "pending" | "ready_to_ship" | "packed" | "repacked" => Status::AwaitingShipment,
        "shipped" => Status::Shipped,
        "delivered" => Status::Delivered,
        "canceled" | "cancelled" | "failed" => Status::Cancelled,
        "returned" => Status::Refunded,
        _ => Status::Unknown,
    }
}

/// The list wraps line ids in extra quotes (`"\"558757467941\""`); strip them.
pub fn strip_quotes(id: &str) -> String {
    id.trim().trim_matches('"').to_string()
}

impl WireOrder {
    fn normalize(self, shop: &str, lines: Vec<OrderLine>) -> Result<Order, FieldError> {
        let platform_status = self.status.unwrap_or_default();
        let status = map_status(&platform_status);
        if status == Status::Unknown {
            warn_unknown_status(ID, &platform_status);
        }
        let d = self.delivery_info.unwrap_or(WireDelivery {
            receiver_name: None,
            receiver_phone: None,
            country_code: None,
            state: None,
            city: None,
            area: None,
            detail_address: None,
            post_code: None,
        });
        let lines = if lines.is_empty() {
            self.trade_order_line_id_list
                .unwrap_or_default()
                .into_iter()
                .map(|id| placeholder_line(strip_quotes(&id.into_string())))
                .collect()
        } else {
            lines
        };
        Ok(Order {
            platform: ID.into(),
            shop: shop.into(),
            order_id: self.trade_order_id.into_string(),
            source_order_id: None,
            status,
            platform_status,
            created_at: time(self.creation_time, "creation_time")?,
            updated_at: time(self.modification_time, "modification_time")?,
            paid_at: None,
            currency: self
                .actual_fee_currency_code
                .unwrap_or_else(|| "TWD".into()),
            total: amount(self.actual_fee, "actual_fee")?,
            shipping_fee: match amount(self.actual_shipping_fee, "actual_shipping_fee")? {
                Some(a) => Some(a),
                None => amount(self.shipping_fee, "shipping_fee")?,
            },
            discount: None,
            buyer: Party {
                id: self.buyer_id.map(TextOrNumber::into_string),
                name: non_empty(self.buyer_full_name.as_deref()),
            },
            seller: Party {
                id: self.seller_id.map(TextOrNumber::into_string),
                name: non_empty(self.seller_full_name.as_deref()),
            },
            receiver: Receiver {
                name: non_empty(d.receiver_name.as_deref()),
                phone: non_empty(d.receiver_phone.as_deref()),
                country: non_empty(d.country_code.as_deref()),
                state: non_empty(d.state.as_deref()),
                city: non_empty(d.city.as_deref()),
                district: non_empty(d.area.as_deref()),
                town: None,
                address: non_empty(d.detail_address.as_deref()),
                zip: non_empty(d.post_code.as_deref()),
            },
            buyer_message: None,
            seller_memo: None,
            lines,
        })
    }
}

impl WireLine {
    fn normalize(self) -> Result<OrderLine, FieldError> {
        let sku_properties = match self.sku_info.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(text) => match serde_json::from_str::<Vec<WireSku>>(text) {
                Ok(v) => v
                    .into_iter()
                    .map(|s| SkuProperty {
                        name: s.property_name.unwrap_or_default(),
                        value: s.value_text.unwrap_or_default(),
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(
                        "{ID}: line {}: sku_info is not the expected JSON ({e}); sku_properties left empty",
                        self.trade_order_line_id.clone().into_string()
                    );
                    Vec::new()
                }
            },
        };
        let platform_status = self.status;
        let status = platform_status.as_deref().map(map_status);
        let tracking_number = self
            .shipment_list
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| non_empty(s.tracking_number.as_deref()))
            .next_back();
        Ok(OrderLine {
            line_id: strip_quotes(&self.trade_order_line_id.into_string()),
            product_id: self.product_id.map(TextOrNumber::into_string),
            sku_id: self.sku_id.map(TextOrNumber::into_string),
            title: self.product_title.unwrap_or_default(),
            sku_properties,
            quantity: self.quantity.unwrap_or(0),
            unit_price: amount(self.unit_fee, "unit_fee")?,
            total: amount(self.actual_fee, "actual_fee")?,
            status,
            platform_status,
            refund_status: None,
            carrier: None,
            tracking_number,
            image_url: non_empty(self.product_main_image.as_deref()),
        })
    }
}

/// Normalize a saved response of any of the three endpoints (for `ordersync normalize` and
/// the fixture tests). List responses without lines keep lines holding only their ids.
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    super::collect_orders(|emit| normalize_saved_each(body, shop, emit))
}

/// As [`normalize_saved`], order by order into `emit`. The body is read as a list answer
/// first (one parse for the large case); only a detail answer is read a second time.
pub fn normalize_saved_each(
    body: &[u8],
    shop: &str,
    emit: &mut dyn FnMut(Order),
) -> Result<(), PlatformError> {
    let items_refused = || PlatformError::Request {
        platform: ID,
        message: "this is an /order/items/get response (order lines, not orders); \
                  normalize an /orders/get or /order/get response"
            .into(),
    };
    let list = match parse_envelope::<ListResult<WireOrder>>(body, LIST, None) {
        Ok(list) => list,
        Err(e) => {
            // Lines lack the order fields: say what the file is rather than what is missing.
            let v: Json = parse_json(body, ID, "saved response", None)?;
            let result = v.get("result");
            if result.and_then(|r| r.get("module")).is_some() {
                return normalize_saved_detail(body, shop, emit);
            }
            let first = match result.and_then(|r| r.get("model_list")) {
                Some(Json::Array(a)) => a.first(),
                _ => None,
            };
            if first.is_some_and(|e| e.get("trade_order_line_id").is_some()) {
                return Err(items_refused());
            }
            return Err(e);
        }
    };
    if list.module {
        return normalize_saved_detail(body, shop, emit);
    }
    if list
        .model_list
        .first()
        .is_some_and(|o| o.trade_order_line_id)
    {
        return Err(items_refused());
    }
    for o in list.model_list {
        emit(
            o.normalize(shop, Vec::new())
                .map_err(|e| malformed(LIST, None, e))?,
        );
    }
    Ok(())
}

/// A saved `/order/get` answer: one order with its lines.
fn normalize_saved_detail(
    body: &[u8],
    shop: &str,
    emit: &mut dyn FnMut(Order),
) -> Result<(), PlatformError> {
    let d: DetailResult = parse_envelope(body, DETAIL, None)?;
    let Some(m) = d.module else {
        return Err(malformed(
            DETAIL,
            None,
            (
                "$.result.module".into(),
                "is null: there is no order".into(),
            ),
        ));
    };
    let lines = m
        .trade_order_line_list
        .unwrap_or_default()
        .into_iter()
        .map(WireLine::normalize)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed(DETAIL, None, e))?;
    emit(
        m.order
            .normalize(shop, lines)
            .map_err(|e| malformed(DETAIL, None, e))?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> (Vec<u8>, serde_json::Value) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/taobao-tw/");
        let body = std::fs::read(format!("{dir}{name}.json")).unwrap();
        let expected = std::fs::read_to_string(format!("{dir}{name}.expected.json"))
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(serde_json::Value::Null);
        (body, expected)
    }

    #[test]
    fn seed_examples_normalize_to_the_checked_in_output() {
        for name in ["orders_get", "order_get", "orders_get_modified"] {
            let (body, expected) = fixture(name);
            let got = serde_json::to_value(normalize_saved(&body, "fixture").unwrap()).unwrap();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn seed_list_fields_are_read_exactly() {
        let (body, _) = fixture("orders_get");
        let orders = normalize_saved(&body, "s").unwrap();
        assert_eq!(orders.len(), 2);
        let o = &orders[0];
        assert_eq!(o.order_id, "558757367941");
        assert_eq!(o.total.unwrap().to_string(), "62.00");
        assert_eq!(
            o.created_at.unwrap().to_rfc3339(),
            "2020-06-24T16:54:03.859+08:00"
        );
        // The list wraps line ids in extra quotes; they must be stripped.
        assert_eq!(o.lines[0].line_id, "558757467941");
        assert_eq!(orders[1].lines[0].line_id, "546108499700");
    }

    #[test]
    fn items_response_is_refused_with_a_reason() {
        let (body, _) = fixture("order_items_get");
        let e = normalize_saved(&body, "s").unwrap_err().to_string();
        assert!(e.contains("/order/items/get"), "{e}");
    }

    #[test]
    fn error_envelope_is_classified_and_never_retried_when_ours() {
        let body = br#"{"type":"ISV","code":"IncompleteSignature","message":"The request signature does not conform to platform standards","request_id":"0b1"}"#;
        let e = parse_envelope::<ListResult<WireOrder>>(body, LIST, Some(1)).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth);
        let text = e.to_string();
        assert!(
            text.contains("IncompleteSignature")
                && text.contains("type ISV")
                && text.contains("0b1")
        );
        let body = br#"{"type":"ISP","code":"ServiceTimeout","message":"busy","request_id":"0b2"}"#;
        let e = parse_envelope::<ListResult<WireOrder>>(body, LIST, Some(1)).unwrap_err();
        assert!(e.is_transient());
    }

    #[test]
    fn malformed_fields_name_their_json_path() {
        let body = br#"{"code":"0","result":{"model_list":[{"trade_order_id":"1","actual_fee":"12x"}],"total_count":1}}"#;
        let e = normalize_saved(body, "s").unwrap_err().to_string();
        assert!(e.contains("$.actual_fee") && e.contains("12x"), "{e}");
        let body = br#"{"code":"0","result":{"model_list":[{"trade_order_id":{"x":1}}]}}"#;
        let e = normalize_saved(body, "s").unwrap_err().to_string();
        assert!(e.contains("trade_order_id"), "{e}");
    }

    #[test]
    fn every_documented_status_is_mapped() {
        for s in [
            "unpaid",
            "pending",
            "ready_to_ship",
            "shipped",
            "delivered",
            "canceled",
            "returned",
            "failed",
        ] {
            assert_ne!(map_status(s), Status::Unknown, "{s}");
        }
    }
}
