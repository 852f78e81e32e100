//! Taobao Taiwan open platform (LazOP stack): `/orders/get`, `/order/items/get`, `/order/get`.
//!
//! Signing is HMAC-SHA256 over the API path plus the sorted parameters (see `signing`). The
//! order list carries no lines: after each list page, the lines of all its orders are fetched
//! with `/order/items/get` in batches (the list wraps each line id in extra quotes, which are
//! stripped before the ids are sent back). Only modification-time filtering exists, so
//! `--by created` is served by pulling modified windows and keeping orders created in range.
//! Times are epoch milliseconds and are kept at millisecond precision.
//!
//! Money (model.md): an order's `actual_fee` is what the buyer pays, shipping included; a
//! line's `actual_fee` also includes that line's own shipping (`actual_shipping_fee`), which is
//! taken off so a line total never holds postage. TW has no discount field: the discount is
//! derived from complete lines ([`Order::derived_discount`]). A missing or unreadable amount is
//! null with a warning naming its JSON path. A call is a success only when `code` is `"0"`
//! and `result.success` is not `false`.

use super::json::Json;
use super::signing::{Params, lazop_sign};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Call, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec, TextOrNumber, parse_json,
};
use crate::config::SecretRef;
use crate::error::{ErrorClass, PlatformError, ban_seconds};
use crate::model::{
    Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status, Timestamp, non_empty,
    warn_unknown_status,
};
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
    statuses: &[
        "unpaid",
        "pending",
        "ready_to_ship",
        "shipped",
        "delivered",
        "canceled",
        "returned",
        "failed",
    ],
    max_page_size: 100,
    list_order: ListOrder::NewestFirst,
    by_created: ByMode::ViaModified,
    by_modified: ByMode::Native { max_window: None },
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "app_key, app_secret, access_token",
    notes: "lines fetched with /order/items/get in batches of 100; --by created pulls orders \
            modified since --since and keeps those created in range",
};

/// This platform in the registry.
pub static PLATFORM: Platform = Platform {
    id: PlatformId::TaobaoTw,
    spec: &SPEC,
    keys: &["app_key", "app_secret", "access_token"],
    secret_keys: &["app_secret", "access_token"],
    adapter: |shop| Ok(Box::new(TaobaoTw::from_shop(shop)?)),
    read_saved,
};

/// A taobao-tw shop's own config keys.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    app_key: Option<String>,
    app_secret: Option<SecretRef>,
    access_token: Option<SecretRef>,
}

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
        let r: Keys = shop.keys()?;
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
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                let at = At::list(LIST, i);
                // Only the line ids are known here; `complete`, which always follows,
                // swaps these id-only lines for the real ones.
                let ids = o.line_ids();
                let mut order = o.normalize(&self.shop, &at)?;
                order.lines = ids.into_iter().map(id_only_line).collect();
                Ok(order)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| malformed(LIST, Some(q.page), e))?;
        Ok(ListPage {
            orders,
            total: res.total_count,
            has_next: None,
        })
    }

    fn complete<'a>(&'a self, page: ListPage) -> Box<dyn Exchange<'a, ListPage> + 'a> {
        let ids: Vec<String> = page
            .orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.line_id.clone()))
            .collect();
        Box::new(Lines {
            a: self,
            page,
            batches: ids
                .chunks(LINE_BATCH)
                .map(|b| serde_json::to_string(b).expect("strings serialize"))
                .collect(),
            batch: 0,
            items_page: 1,
            lines: Vec::with_capacity(ids.len()),
        })
    }

    fn lookup<'a>(&'a self, ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Details {
            a: self,
            ids,
            next: 0,
            out: Vec::new(),
            failed: None,
        })
    }
}

/// The lines of a list page's orders, fetched with `/order/items/get` in batches of
/// [`LINE_BATCH`] ids (each batch paged while its total says more), then attached.
struct Lines<'a> {
    a: &'a TaobaoTw,
    page: ListPage,
    /// Each batch's ids, as the JSON list the endpoint takes.
    batches: Vec<String>,
    batch: usize,
    items_page: u32,
    lines: Vec<(At, WireLine)>,
}

impl<'a> Exchange<'a, ListPage> for Lines<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        let list = self.batches.get(self.batch)?.clone();
        let page = self.items_page;
        let a = self.a;
        Some(Call {
            endpoint: ITEMS,
            page: Some(page),
            build: Box::new(move |now| {
                let biz = [
                    ("trade_order_line_id_list", list.clone()),
                    ("Page", page.to_string()),
                    ("Page_Size", LINE_BATCH.to_string()),
                ];
                Ok(a.signed(ITEMS, &biz, now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let page = self.items_page;
        let res: ListResult<WireLine> = parse_envelope(body, ITEMS, Some(page))?;
        let lines = res.model_list.unwrap_or_default();
        let got = lines.len();
        self.lines.extend(
            lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| (At::items(page, i), l)),
        );
        let total = res.total_count.unwrap_or(0) as usize;
        if got == 0 || page as usize * LINE_BATCH >= total {
            self.batch += 1;
            self.items_page = 1;
        } else {
            self.items_page += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<ListPage, PlatformError> {
        let Lines {
            mut page, lines, ..
        } = *self;
        let mut fetched: HashMap<String, OrderLine> = HashMap::new();
        for (at, l) in lines {
            let line = l.normalize(&at).map_err(|e| malformed(ITEMS, None, e))?;
            fetched.insert(line.line_id.clone(), line);
        }
        for o in &mut page.orders {
            let wanted: Vec<String> = o.lines.drain(..).map(|l| l.line_id).collect();
            let mut missing = Vec::new();
            for id in wanted {
                match fetched.remove(&id) {
                    Some(line) => o.lines.push(line),
                    None => missing.push(id),
                }
            }
            if missing.is_empty() {
                o.discount = o.derived_discount(None);
            } else {
                // Never a line without quantity or title: what is known is kept, and the
                // discount, which needs every line, stays unknown.
                tracing::warn!(
                    "{ID}: order {}: /order/items/get did not return line(s) {}; they are \
                     left out and the order's discount is null",
                    o.order_id,
                    missing.join(", ")
                );
                o.discount = None;
            }
        }
        Ok(page)
    }
}

/// Named orders, one `/order/get` each; the first one not found (or unreadable) ends it.
struct Details<'a> {
    a: &'a TaobaoTw,
    ids: &'a [String],
    next: usize,
    out: Vec<Order>,
    failed: Option<PlatformError>,
}

impl<'a> Exchange<'a, Vec<Order>> for Details<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        if self.failed.is_some() {
            return None;
        }
        let id = self.ids.get(self.next)?;
        let a = self.a;
        Some(Call {
            endpoint: DETAIL,
            page: None,
            build: Box::new(move |now| {
                Ok(a.signed(DETAIL, &[("trade_order_id", id.clone())], now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let detail: DetailResult = parse_envelope(body, DETAIL, None)?;
        let id = &self.ids[self.next];
        self.next += 1;
        // Not found, or unreadable, is not worth asking again: kept for `finish`.
        match detail.module {
            None => {
                self.failed = Some(PlatformError::Request {
                    platform: ID,
                    message: format!("order {id} was not found"),
                })
            }
            Some(module) => match module.normalize(&self.a.shop) {
                Ok(o) => self.out.push(o),
                Err(e) => self.failed = Some(malformed(DETAIL, None, e)),
            },
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<Order>, PlatformError> {
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

fn malformed(endpoint: &str, page: Option<u32>, (path, detail): (String, String)) -> PlatformError {
    PlatformError::malformed(ID, endpoint, page, path, detail)
}

/// A line known only by its id (from the list's `trade_order_line_id_list`): a carrier
/// between `parse_list` and `complete`, never written out.
fn id_only_line(id: String) -> OrderLine {
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

/// Where a wire object sits in an answer, for warnings: the endpoint and the JSON path.
struct At {
    endpoint: &'static str,
    path: String,
}

impl At {
    /// Entry `i` of a list answer's `model_list`.
    fn list(endpoint: &'static str, i: usize) -> At {
        At {
            endpoint,
            path: format!("$.result.model_list[{i}]"),
        }
    }

    /// Entry `i` of page `page` of an `/order/items/get` answer.
    fn items(page: u32, i: usize) -> At {
        At {
            endpoint: ITEMS,
            path: format!("(page {page}) $.result.model_list[{i}]"),
        }
    }

    /// The order of an `/order/get` answer.
    fn detail() -> At {
        At {
            endpoint: DETAIL,
            path: "$.result.module".into(),
        }
    }

    /// Line `j` of an `/order/get` answer.
    fn detail_line(j: usize) -> At {
        At {
            endpoint: DETAIL,
            path: format!("$.result.module.trade_order_line_list[{j}]"),
        }
    }

    fn warn(&self, subject: &str, field: &str, what: &str) {
        tracing::warn!(
            "{ID} {}: {subject}: {}.{field} {what}",
            self.endpoint,
            self.path
        );
    }

    /// An amount the platform gave as text (or a number); missing or unreadable is null
    /// with a warning, never zero.
    fn amount(&self, subject: &str, v: Option<TextOrNumber>, field: &str) -> Option<Amount> {
        match v.map(TextOrNumber::into_string) {
            None => {
                self.warn(subject, field, "is missing; the amount is left null");
                None
            }
            Some(s) if s.trim().is_empty() => {
                self.warn(subject, field, "is empty; the amount is left null");
                None
            }
            Some(s) => match Amount::parse(&s) {
                Ok(a) => Some(a),
                Err(_) => {
                    self.warn(
                        subject,
                        field,
                        &format!("holds {s:?}, which is not a decimal amount; it is left null"),
                    );
                    None
                }
            },
        }
    }

    /// The postage actually paid: `actual_shipping_fee`, or `shipping_fee` when only that is
    /// given (the seed gives both, equal). An unreadable `actual_shipping_fee` is not replaced
    /// by `shipping_fee`, which may be the postage before a shipping discount.
    fn shipping(
        &self,
        subject: &str,
        actual: Option<TextOrNumber>,
        listed: Option<TextOrNumber>,
    ) -> Option<Amount> {
        match (actual, listed) {
            (None, Some(listed)) => self.amount(subject, Some(listed), "shipping_fee"),
            (actual, _) => self.amount(subject, actual, "actual_shipping_fee"),
        }
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
    success: Option<bool>,
    /// Missing only where `total_count` says 0 (see [`Outcome::shape_problem`]).
    model_list: Option<Vec<T>>,
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
    success: Option<bool>,
    module: Option<WireDetail>,
}

/// A `result` that says whether the call succeeded.
trait Outcome {
    fn success(&self) -> Option<bool>;

    /// What makes a `code == "0"` answer not this endpoint's answer, if anything: (path, why).
    fn shape_problem(&self) -> Option<(&'static str, &'static str)> {
        None
    }
}

impl<T> Outcome for ListResult<T> {
    fn success(&self) -> Option<bool> {
        self.success
    }

    /// A `result` with no list (and no total of 0) is another answer's, or a proxy's: never
    /// read as "no orders".
    fn shape_problem(&self) -> Option<(&'static str, &'static str)> {
        (self.model_list.is_none() && !self.module && self.total_count != Some(0)).then_some((
            "$.result.model_list",
            "missing, and total_count is not 0: the answer holds no list",
        ))
    }
}

impl Outcome for DetailResult {
    fn success(&self) -> Option<bool> {
        self.success
    }
}

#[derive(Deserialize)]
struct WireDetail {
    #[serde(flatten)]
    order: WireOrder,
    trade_order_line_list: Option<Vec<WireLine>>,
}

/// Check the envelope and return its `result`: `code == "0"` and a `result` whose `success`
/// is not `false`. (platforms.md asks for `success == true`; every seed answer has it, but an
/// answer without the key is still read, since `code` already says the call worked.)
fn parse_envelope<T: serde::de::DeserializeOwned + Outcome>(
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
    let result = env.result.ok_or_else(|| PlatformError::Malformed {
        platform: ID,
        endpoint: endpoint.to_string(),
        page,
        path: "$.result".into(),
        detail: "code is \"0\" but there is no result".into(),
        saved_body: None,
    })?;
    if result.success() == Some(false) {
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: endpoint.to_string(),
            code,
            kind: None,
            message: "result.success is false: the platform did not carry out the call, \
                      so its answer holds no orders to read"
                .into(),
            request_id: env.request_id,
            class: ErrorClass::Other,
            hint: None,
            retry_after: None,
        });
    }
    if let Some((path, detail)) = result.shape_problem() {
        return Err(PlatformError::Malformed {
            platform: ID,
            endpoint: endpoint.to_string(),
            page,
            path: path.into(),
            detail: detail.into(),
            saved_body: None,
        });
    }
    Ok(result)
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
    trade_order_line_id: TextOrNumber,
    product_id: Option<TextOrNumber>,
    sku_id: Option<TextOrNumber>,
    product_title: Option<String>,
    sku_info: Option<String>,
    quantity: Option<i64>,
    unit_fee: Option<TextOrNumber>,
    /// Goods plus this line's shipping (seed: unit 10, shipping 52, actual 62).
    actual_fee: Option<TextOrNumber>,
    shipping_fee: Option<TextOrNumber>,
    actual_shipping_fee: Option<TextOrNumber>,
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
    /// The line ids the list entry names, unquoted.
    fn line_ids(&self) -> Vec<String> {
        self.trade_order_line_id_list
            .iter()
            .flatten()
            .map(|id| strip_quotes(&id.clone().into_string()))
            .collect()
    }

    /// The order without lines (and so without a discount yet): see [`with_lines`].
    fn normalize(self, shop: &str, at: &At) -> Result<Order, FieldError> {
        let platform_status = self.status.unwrap_or_default();
        let status = map_status(&platform_status);
        if status == Status::Unknown {
            warn_unknown_status(ID, &platform_status);
        }
        let order_id = self.trade_order_id.into_string();
        let subject = format!("order {order_id}");
        let total = at.amount(&subject, self.actual_fee, "actual_fee");
        let shipping_fee = at.shipping(&subject, self.actual_shipping_fee, self.shipping_fee);
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
        Ok(Order {
            platform: ID.into(),
            shop: shop.into(),
            order_id,
            source_order_id: None,
            status,
            platform_status,
            created_at: time(self.creation_time, "creation_time")?,
            updated_at: time(self.modification_time, "modification_time")?,
            paid_at: None,
            currency: self
                .actual_fee_currency_code
                .unwrap_or_else(|| "TWD".into()),
            total,
            shipping_fee,
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
            lines: Vec::new(),
        })
    }
}

/// The order with all its lines, and the discount they make known (TW has no discount
/// field, so the platform's own figure is none).
fn with_lines(mut order: Order, lines: Vec<OrderLine>) -> Order {
    order.lines = lines;
    order.discount = order.derived_discount(None);
    order
}

impl WireDetail {
    /// An `/order/get` module: the order with its lines.
    fn normalize(self, shop: &str) -> Result<Order, FieldError> {
        let order = self.order.normalize(shop, &At::detail())?;
        let Some(wire_lines) = self.trade_order_line_list else {
            tracing::warn!(
                "{ID} {DETAIL}: order {}: $.result.module.trade_order_line_list is missing; \
                 the order is written with no lines and a null discount",
                order.order_id
            );
            return Ok(order);
        };
        let lines = wire_lines
            .into_iter()
            .enumerate()
            .map(|(j, l)| l.normalize(&At::detail_line(j)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(with_lines(order, lines))
    }
}

impl WireLine {
    fn normalize(self, at: &At) -> Result<OrderLine, FieldError> {
        let line_id = strip_quotes(&self.trade_order_line_id.into_string());
        let subject = format!("line {line_id}");
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
                    at.warn(
                        &subject,
                        "sku_info",
                        &format!("is not the expected JSON ({e}); sku_properties left empty"),
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
        let paid = at.amount(&subject, self.actual_fee, "actual_fee");
        let shipping = at.shipping(&subject, self.actual_shipping_fee, self.shipping_fee);
        // `actual_fee` holds the line's shipping too; the line total is the goods alone.
        let total = match (paid, shipping) {
            (Some(paid), Some(shipping)) => {
                paid.value().checked_sub(shipping.value()).map(Amount::from)
            }
            (Some(_), None) => {
                at.warn(
                    &subject,
                    "actual_fee",
                    "includes the line's shipping, which is not known; the line total is left null",
                );
                None
            }
            (None, _) => None,
        };
        Ok(OrderLine {
            line_id,
            product_id: self.product_id.map(TextOrNumber::into_string),
            sku_id: self.sku_id.map(TextOrNumber::into_string),
            title: self.product_title.unwrap_or_default(),
            sku_properties,
            quantity: self.quantity.unwrap_or(0),
            unit_price: at.amount(&subject, self.unit_fee, "unit_fee"),
            total,
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
/// the fixture tests). A list answer carries no lines: its orders come out with `lines: []`.
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    super::collect_orders(|emit| normalize_saved_each(body, shop, emit))
}

/// [`normalize_saved_each`] for the registry: orders come normalized already.
fn read_saved<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    normalize_saved_each(body, shop, &mut |o| {
        emit(Box::new(move || Ok(o)));
    })
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
    let model_list = list.model_list.unwrap_or_default();
    if model_list.first().is_some_and(|o| o.trade_order_line_id) {
        return Err(items_refused());
    }
    if !model_list.is_empty() {
        // Said once per answer: quantity 0 and an empty title would be invented lines.
        tracing::warn!(
            "{ID}: this {LIST} answer carries no order lines, so its {} order(s) are written \
             with lines: [] and a null discount (pull fetches lines with {ITEMS}; normalize an \
             {DETAIL} answer for an order with its lines)",
            model_list.len()
        );
    }
    for (i, o) in model_list.into_iter().enumerate() {
        let order = o
            .normalize(shop, &At::list(LIST, i))
            .map_err(|e| malformed(LIST, None, e))?;
        emit(with_lines(order, Vec::new()));
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
    emit(m.normalize(shop).map_err(|e| malformed(DETAIL, None, e))?);
    Ok(())
}

#[cfg(test)]
mod tests;
