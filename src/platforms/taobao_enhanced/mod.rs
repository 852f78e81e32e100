//! The enhanced Taobao order list (fw199 "H7B" open platform):
//! `POST {base}/gateway/taobao/order/ext/list`, form-encoded.
//!
//! Every request carries `appid`, `timestamp` (unix seconds), `tb_seller_nick` (the seller's
//! login nick, not the shop name), `sysid` (`100` unless configured: the vendor's sample says
//! that without it no orders come back; configured empty, it is not sent), and `sign` =
//! `lower_hex(MD5(secret + sorted name+value pairs + secret))` (see `signing`). A query is a
//! time range `start_created`..`end_created` (China time, both included, at most one month)
//! on creation time (`date_type=0`, `--by created`) or modification time (`date_type=1`,
//! `--by modified`), sorted oldest first (`order_asc=ASC`), paged with `page_no`/`page_size`
//! (at most 500) and `data.total`. Success is `code == 0`; anything else is an error carrying
//! `message`. Trades are Taobao Trade objects, normalized by [`super::trade`].
//!
//! `start_created` is documented as "查询1个月内": a range starting more than a month back is
//! still asked for (the list covers the 3 days before the seller authorised the app and
//! everything after, which may be longer), with a warning that it may hold nothing older.

use super::json::{self, Json, Streamed, Under};
use super::signing::{Params, wrapped_md5_sign};
use super::trade::{TIME_FORMAT, TRADE, TRADE_LIST, inclusive_seconds, normalize_trade};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Call, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec, parse_json_shaped,
};
use crate::config::{SecretRef, Shop};
use crate::error::{ErrorClass, PlatformError};
use crate::model::{Order, platform_offset};
use chrono::{DateTime, Months, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const ID: &str = "taobao-enhanced";
/// The one endpoint.
pub const LIST: &str = "/gateway/taobao/order/ext/list";
/// The documented page size limit.
pub const MAX_PAGE_SIZE: u32 = 500;
/// The `sysid` of the vendor's sample ("此值很重要,代表不同的应用,否则拉到订单").
pub const DEFAULT_SYSID: &str = "100";
/// Order ids per `tid` lookup (`ordersync get`).
const GET_BATCH: usize = 20;

pub static SPEC: PlatformSpec = PlatformSpec {
    id: ID,
    title: "enhanced Taobao order list (fw199)",
    default_base_url: "https://open.fw199.com",
    // Not documented; a conservative pace.
    default_rate_limit: 5,
    statuses: crate::platforms::trade::TRADE_STATUSES,
    max_page_size: MAX_PAGE_SIZE,
    list_order: ListOrder::Ascending,
    // The platform allows one calendar month per query; 28 days always fits in one.
    by_created: ByMode::Native {
        max_window: Some(Duration::from_secs(28 * 24 * 3600)),
    },
    by_modified: ByMode::Native {
        max_window: Some(Duration::from_secs(28 * 24 * 3600)),
    },
    // A dedicated order store (not TOP itself): pages of 500 over a day are cheap.
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "appid, app_secret, seller_nick, sysid (optional, default 100)",
    notes: "POST form, MD5-signed; date_type=0 (created) or 1 (modified), order_asc=ASC, pages \
            of up to 500, at most one month per query; covers the 3 days before the seller \
            authorised the app and everything after, lagging by seconds. seller_nick is the \
            seller's login nick, not the shop name; sysid is 100 (the vendor's sample) unless \
            configured (empty: not sent); ask the vendor which your app needs (without the \
            right one the list comes back empty). Queries are documented within one month \
            back: an older --since is warned about. `get` looks orders up among \
            those modified in the last month.",
};

/// Credentials and identity for one taobao-enhanced shop.
pub struct TaobaoEnhanced {
    pub shop: String,
    pub appid: String,
    pub app_secret: SecretString,
    pub seller_nick: String,
    /// `None`: not sent (configured empty).
    pub sysid: Option<String>,
    /// Whether the "more than a month back" warning was given (once per run).
    pub warned_old: AtomicBool,
}

/// This platform in the registry.
pub static PLATFORM: Platform = Platform {
    id: PlatformId::TaobaoEnhanced,
    spec: &SPEC,
    keys: &["appid", "app_secret", "seller_nick", "sysid"],
    secret_keys: &["app_secret"],
    adapter: |shop| Ok(Box::new(TaobaoEnhanced::from_shop(shop)?)),
    read_saved: normalize_saved_each,
};

/// A taobao-enhanced shop's own config keys.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    appid: Option<String>,
    app_secret: Option<SecretRef>,
    seller_nick: Option<String>,
    sysid: Option<String>,
}

impl TaobaoEnhanced {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        let r: Keys = shop.keys()?;
        Ok(TaobaoEnhanced {
            shop: shop.name.clone(),
            appid: shop.require("appid", &r.appid)?,
            app_secret: shop.secret("app_secret", &r.app_secret)?,
            seller_nick: shop.require("seller_nick", &r.seller_nick)?,
            sysid: match &r.sysid {
                None => Some(DEFAULT_SYSID.to_string()),
                Some(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            },
            warned_old: AtomicBool::new(false),
        })
    }

    /// The signed form for business parameters `biz` (empty values are not sent).
    pub fn signed(&self, biz: &[(&str, String)], now: DateTime<Utc>) -> ApiRequest {
        let mut p = Params::new();
        p.insert("appid".into(), self.appid.clone());
        p.insert("timestamp".into(), now.timestamp().to_string());
        p.insert("tb_seller_nick".into(), self.seller_nick.clone());
        if let Some(s) = &self.sysid {
            p.insert("sysid".into(), s.clone());
        }
        for (k, v) in biz {
            if !v.is_empty() {
                p.insert((*k).to_string(), v.clone());
            }
        }
        let sign = wrapped_md5_sign(self.app_secret.expose_secret(), &p);
        p.insert("sign".into(), sign);
        ApiRequest {
            method: Method::Post,
            path: LIST.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Form(p.into_iter().collect()),
        }
    }

    /// "查询1个月内": warn, once, when a window starts more than a month before `now`.
    fn warn_if_old(&self, q: &PageQuery, now: DateTime<Utc>) {
        let o = platform_offset();
        let month_ago = now.with_timezone(&o).checked_sub_months(Months::new(1));
        if month_ago.is_some_and(|m| q.window.start < m)
            && !self.warned_old.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "{ID}: shop {}: the range starts at {}, more than a month back; the enhanced \
                 list is documented for queries within one month (查询1个月内) and may hold \
                 nothing older",
                self.shop,
                q.window.start.with_timezone(&o).format(TIME_FORMAT)
            );
        }
    }

    /// The business parameters of one list page.
    pub fn list_params(&self, q: &PageQuery) -> Result<Vec<(&'static str, String)>, PlatformError> {
        let (first, last) = inclusive_seconds(&q.window);
        let limit = first.checked_add_months(Months::new(1));
        if limit.is_none_or(|l| last > l) {
            return Err(PlatformError::Request {
                platform: ID,
                message: format!(
                    "the enhanced order list serves at most one month per query \
                     (start_created..end_created); window {} is longer: use a shorter --window",
                    q.window
                ),
            });
        }
        Ok(vec![
            ("start_created", first.format(TIME_FORMAT).to_string()),
            ("end_created", last.format(TIME_FORMAT).to_string()),
            (
                "date_type",
                match q.by {
                    By::Created => "0",
                    By::Modified => "1",
                }
                .to_string(),
            ),
            ("order_asc", "ASC".to_string()),
            ("status", q.status.clone().unwrap_or_default()),
            ("page_no", q.page.max(1).to_string()),
            ("page_size", q.page_size.clamp(1, MAX_PAGE_SIZE).to_string()),
        ])
    }
}

impl Adapter for TaobaoEnhanced {
    fn spec(&self) -> &'static PlatformSpec {
        &SPEC
    }

    fn list_endpoint(&self, _by: By) -> &'static str {
        LIST
    }

    fn list_request(&self, q: &PageQuery, now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        self.warn_if_old(q, now);
        Ok(self.signed(&self.list_params(q)?, now))
    }

    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError> {
        let (total, orders) = parse_page(body, &self.shop, Some(q.page))?;
        Ok(ListPage {
            orders,
            total,
            has_next: None,
        })
    }

    fn lookup<'a>(&'a self, ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Lookup {
            a: self,
            ids,
            batches: ids.chunks(GET_BATCH).map(|b| b.join(",")).collect(),
            batch: 0,
            page: 1,
            out: Vec::new(),
        })
    }
}

/// Named orders: the list filtered on `tid`, [`GET_BATCH`] ids a query, each query paged.
struct Lookup<'a> {
    a: &'a TaobaoEnhanced,
    ids: &'a [String],
    /// Each batch's ids, comma-separated as `tid` takes them.
    batches: Vec<String>,
    batch: usize,
    page: u32,
    out: Vec<Order>,
}

impl<'a> Exchange<'a, Vec<Order>> for Lookup<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        let tids = self.batches.get(self.batch)?.clone();
        let page = self.page;
        let a = self.a;
        Some(Call {
            endpoint: LIST,
            page: Some(page),
            build: Box::new(move |now: DateTime<Utc>| {
                // Among orders modified in the last month (a superset of those created
                // then): the platform wants a range of at most one month.
                let last = now.with_timezone(&platform_offset());
                let first = last.checked_sub_months(Months::new(1)).unwrap_or(last);
                let biz = [
                    ("tid", tids.clone()),
                    ("start_created", first.format(TIME_FORMAT).to_string()),
                    ("end_created", last.format(TIME_FORMAT).to_string()),
                    ("date_type", "1".to_string()),
                    ("order_asc", "ASC".to_string()),
                    ("page_no", page.to_string()),
                    ("page_size", MAX_PAGE_SIZE.to_string()),
                ];
                Ok(a.signed(&biz, now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let (total, orders) = parse_page(body, &self.a.shop, Some(self.page))?;
        let got = orders.len() as u64;
        self.out.extend(orders);
        if got == 0 || u64::from(self.page) * u64::from(MAX_PAGE_SIZE) >= total.unwrap_or(0) {
            self.batch += 1;
            self.page = 1;
        } else {
            self.page += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<Order>, PlatformError> {
        let out = self.out;
        let found: HashSet<&str> = out.iter().map(|o| o.order_id.as_str()).collect();
        let missing: Vec<&str> = self
            .ids
            .iter()
            .map(String::as_str)
            .filter(|id| !found.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(PlatformError::Request {
                platform: ID,
                message: format!(
                    "not found among the orders modified in the last month (the enhanced list \
                     looks no further back): {}",
                    missing.join(", ")
                ),
            });
        }
        Ok(out)
    }
}

/// `{"code", "message", "data": {"total", "items": [Trade, ...]}}`, trades as the normalizer
/// reads them.
static LIST_SHAPE: Under = Under {
    key: "data",
    shape: &Under {
        key: "items",
        shape: &TRADE_LIST,
    },
};

/// Check the envelope of a list response and normalize its trades: (`data.total`, orders).
fn parse_page(
    body: &[u8],
    shop: &str,
    page: Option<u32>,
) -> Result<(Option<u64>, Vec<Order>), PlatformError> {
    // Trade by trade as the body is read: the tree of one trade at a time, not of the page
    // (a 500-trade page's tree is larger than its body). Only when `code` (0) and
    // `data.total`, if any, come before the trades; anything else, a trade that does not
    // normalize included, is read again the ordinary way, which gives the exact error.
    let mut orders = Vec::new();
    let mut each =
        |index: usize, _: &str, trade: Json| match normalize_item(&trade, index, shop, page) {
            Ok(order) => {
                orders.push(order);
                true
            }
            Err(_) => false,
        };
    if let Streamed::Done(tree) = json::stream_array(
        body,
        &["data", "items"],
        &TRADE,
        &ready_to_stream,
        &mut each,
    ) && let Ok((total, _)) = envelope(&tree, page)
    {
        return Ok((total, orders));
    }
    parse_page_whole(body, shop, page)
}

/// As [`parse_page`], from the tree of the whole page.
fn parse_page_whole(
    body: &[u8],
    shop: &str,
    page: Option<u32>,
) -> Result<(Option<u64>, Vec<Order>), PlatformError> {
    // A `Json` tree, not typed structs: the vendor's own example repeats a key inside a trade.
    let v = parse_json_shaped(body, &LIST_SHAPE, ID, LIST, page)?;
    let (total, items) = envelope(&v, page)?;
    let orders = items
        .iter()
        .enumerate()
        .map(|(i, t)| normalize_item(t, i, shop, page))
        .collect::<Result<_, _>>()?;
    Ok((total, orders))
}

fn normalize_item(
    trade: &Json,
    index: usize,
    shop: &str,
    page: Option<u32>,
) -> Result<Order, PlatformError> {
    normalize_trade(trade, ID, shop, &format!("$.data.items[{index}]"))
        .map_err(|(path, detail)| malformed(page, &path, detail))
}

fn malformed(page: Option<u32>, path: &str, detail: String) -> PlatformError {
    PlatformError::malformed(ID, LIST, page, path, detail)
}

/// Whether trades may be handed over as they are parsed, asked before descending into `data`
/// (depth 0: `code` is 0) and into `data.items` (depth 1: `data.total`, if read yet, is a
/// count).
fn ready_to_stream(depth: usize, partial: &Json) -> bool {
    match depth {
        0 => code_of(partial).is_ok_and(|c| c == "0"),
        _ => total_of(partial).is_ok(),
    }
}

/// The code of an answer, as text (or what is wrong with `$.code`).
fn code_of(v: &Json) -> Result<String, String> {
    match v.get("code") {
        Some(Json::Number(n)) => Ok(n.to_string()),
        Some(Json::String(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(format!("expected an integer, found {other}")),
        None => Err("missing".into()),
    }
}

/// A `data.total` as a count.
fn total_of(data: &Json) -> Result<Option<u64>, String> {
    match data.get("total") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Json::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(format!("expected a count, found {other}")),
    }
}

/// Check a list answer's envelope: (`data.total`, the trades).
fn envelope<'v, 'a>(
    v: &'v Json<'a>,
    page: Option<u32>,
) -> Result<(Option<u64>, &'v [Json<'a>]), PlatformError> {
    let code = code_of(v).map_err(|detail| malformed(page, "$.code", detail))?;
    if code != "0" {
        let message = match v.get("message").or_else(|| v.get("msg")) {
            Some(Json::String(s)) => s.to_string(),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (class, hint) = classify(&message);
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: LIST.to_string(),
            code,
            kind: None,
            message,
            request_id: None,
            class,
            hint,
            retry_after: None,
        });
    }
    // An answer without `data`, or with a `data` holding neither a list nor a total of 0, is
    // not the list's envelope (another API's answer, a proxy's): never read as "no orders".
    let data = match v.get("data") {
        Some(Json::Null) => return Ok((None, &[])),
        None => {
            return Err(malformed(
                page,
                "$.data",
                "missing: this is not the enhanced list's answer ({\"code\": 0, \"data\": \
                 {\"total\": N, \"items\": [...]}})"
                    .to_string(),
            ));
        }
        Some(d @ Json::Object(_)) => d,
        Some(other) => {
            return Err(malformed(
                page,
                "$.data",
                format!("expected an object, found {other}"),
            ));
        }
    };
    let total = total_of(data).map_err(|detail| malformed(page, "$.data.total", detail))?;
    let items = match data.get("items") {
        None if total != Some(0) => {
            return Err(malformed(
                page,
                "$.data.items",
                "missing (and data.total is not 0): the answer holds no list".to_string(),
            ));
        }
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(a)) => a.as_slice(),
        Some(other) => {
            return Err(malformed(
                page,
                "$.data.items",
                format!("expected an array, found {other}"),
            ));
        }
    };
    Ok((total, items))
}

/// A saved list answer, trade by trade as it is parsed: each trade is handed over before it
/// is normalized (`normalize` does that on its writing thread). Trades are handed over only
/// once `code` (0) and `data.total` have been read and are in order, so an error answer never
/// yields orders; anything unexpected falls back to the ordinary read, which names it.
fn normalize_saved_streamed<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let mut each = |index: usize, _: &str, trade: Json<'a>| {
        emit(Box::new(move || normalize_item(&trade, index, shop, None)))
    };
    let skip = match json::stream_array(
        body,
        &["data", "items"],
        &TRADE,
        &ready_to_stream,
        &mut each,
    ) {
        Streamed::Done(tree) => return envelope(&tree, None).map(|_| ()),
        Streamed::Stopped => return Ok(()),
        Streamed::Fallback => 0,
        Streamed::Failed { emitted } => emitted,
    };
    // The ordinary read: the exact error, or the trades not handed over yet.
    let v = parse_json_shaped(body, &LIST_SHAPE, ID, LIST, None)?;
    let (_, items) = envelope(&v, None)?;
    for (i, t) in items.iter().enumerate().skip(skip) {
        let order = normalize_item(t, i, shop, None);
        if !emit(Box::new(move || order)) {
            break;
        }
    }
    Ok(())
}

/// The platform's codes are not documented: decide from the message.
fn classify(message: &str) -> (ErrorClass, Option<String>) {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&[
        "频繁", "限流", "稍后", "超时", "繁忙", "busy", "timeout", "too many", "limit",
    ]) {
        return (ErrorClass::Transient, None);
    }
    if has(&["timestamp", "时间戳"]) {
        return (
            ErrorClass::Auth,
            Some("the request time was refused: check this machine's clock".into()),
        );
    }
    if has(&["签名", "sign"]) {
        return (
            ErrorClass::Auth,
            Some("the signature was refused: check app_secret (and appid) for this shop".into()),
        );
    }
    if has(&["appid", "app_id"]) {
        return (ErrorClass::Auth, Some("check appid for this shop".into()));
    }
    if has(&["授权", "订购", "seller", "卖家", "nick", "auth", "权限"]) {
        return (
            ErrorClass::Auth,
            Some(
                "the seller is not authorised for this app: check seller_nick (the seller's \
                 login nick, not the shop name) and that the seller has subscribed"
                    .into(),
            ),
        );
    }
    if has(&["参数", "param", "跨度", "格式", "不能超过", "invalid"]) {
        return (ErrorClass::Invalid, None);
    }
    (ErrorClass::Other, None)
}

/// Normalize a saved list response (for `ordersync normalize` and the fixture tests).
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    super::normalize_saved(super::PlatformId::TaobaoEnhanced, body, shop)
}

/// As [`normalize_saved`], order by order into `emit`, each handed over before it is
/// normalized; `emit` returns `false` to stop.
pub fn normalize_saved_each<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(super::Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    normalize_saved_streamed(body, shop, emit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::Window;
    use crate::platforms::signing::signatures_match;
    use serde_json::Value;

    const FIXTURE: &[u8] = include_bytes!("../../../fixtures/taobao-enhanced/list.json");

    fn adapter(sysid: Option<&str>) -> TaobaoEnhanced {
        TaobaoEnhanced {
            shop: "fixture".into(),
            appid: "uwkahf@jfs92".into(),
            app_secret: SecretString::from("testsecret"),
            seller_nick: "kingdo".into(),
            sysid: sysid.map(str::to_string),
            warned_old: AtomicBool::new(false),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn query(start: &str, end: &str, by: By, page: u32) -> PageQuery {
        PageQuery {
            window: Window {
                start: t(start),
                end: t(end),
            },
            by,
            status: None,
            page,
            page_size: 100,
        }
    }

    fn form(r: &ApiRequest) -> Params {
        match &r.body {
            Body::Form(f) => f.iter().cloned().collect(),
            other => panic!("expected a form, got {other:?}"),
        }
    }

    /// list.expected.json, money by hand from the seed (model.md's Money rules):
    /// - 1410072240792463390: total = payment 105.58, shipping = post_fee 0.00, line total =
    ///   divide_order_fee 105.58; discount = 138.00 × 1 + 0.00 − 105.58 = 32.42 (line
    ///   discount_fee 24.00 + order-level part_mjz_discount 8.42; the trade's discount_fee
    ///   8.42 is only the latter);
    /// - 2161196210547294406: total 143.84, shipping 0.00, line total 143.84; discount =
    ///   228.00 × 1 + 0.00 − 143.84 = 84.16 (46.00 + 38.16).
    #[test]
    fn fixture_normalizes_to_the_expected_orders() {
        let orders = normalize_saved(FIXTURE, "fixture").unwrap();
        let got = serde_json::to_value(&orders).unwrap();
        let want: Value = serde_json::from_str(include_str!(
            "../../../fixtures/taobao-enhanced/list.expected.json"
        ))
        .unwrap();
        assert_eq!(got, want);
    }

    /// `normalize` streams a saved answer; whatever the body, it must come to the same
    /// orders, or the same error, as the page read the pull uses.
    #[test]
    fn streamed_answers_read_as_whole_pages() {
        let seed: Value = serde_json::from_slice(FIXTURE).unwrap();
        let trade = |tid: &str| {
            let mut t = seed["data"]["items"][0].clone();
            t["tid"] = Value::String(tid.into());
            t
        };
        let full = serde_json::json!({"code": 0, "message": "ok",
            "data": {"total": 3, "items": [trade("1"), trade("2"), trade("3")]}})
        .to_string();
        // A trade that does not normalize (no id) in the middle of the page.
        let mut no_id = trade("2");
        no_id.as_object_mut().unwrap().remove("tid");
        no_id.as_object_mut().unwrap().remove("tid_str");
        let bodies: Vec<String> = vec![
            full.clone(),
            String::from_utf8(FIXTURE.to_vec()).unwrap(),
            serde_json::json!({"code": 0, "data": {"items": [trade("1"), no_id, trade("3")]}})
                .to_string(),
            serde_json::json!({"code": 40001, "message": "签名错误", "data": {"items": [trade("1")]}})
                .to_string(),
            serde_json::json!({"code": 0, "data": {"total": "x", "items": [trade("1")]}}).to_string(),
            // Code after data (json! would sort the keys).
            format!(r#"{{"data":{{"items":[{}]}},"code":0}}"#, trade("1")),
            serde_json::json!({"code": "0", "data": null}).to_string(),
            serde_json::json!({"code": 0, "data": {"items": [trade("1"), 7]}}).to_string(),
            full[..full.find("\"tid\":\"2\"").unwrap()].to_string(),
            format!("{full} x"),
        ];
        for body in &bodies {
            let streamed = normalize_saved(body.as_bytes(), "s")
                .map(|o| serde_json::to_value(o).unwrap())
                .map_err(|e| e.to_string());
            type Parse = fn(&[u8], &str, Option<u32>) -> Result<Parsed, PlatformError>;
            type Parsed = (Option<u64>, Vec<Order>);
            let page = |parse: Parse| {
                parse(body.as_bytes(), "s", Some(2))
                    .map(|(total, o)| (total, serde_json::to_value(o).unwrap()))
                    .map_err(|e| e.to_string())
            };
            let (paged, whole) = (page(parse_page), page(parse_page_whole));
            assert_eq!(paged, whole, "{body}");
            let paged = paged
                .map(|(_, orders)| orders)
                .map_err(|e| e.replace(" page 2", ""));
            assert_eq!(streamed, paged, "{body}");
        }
    }

    #[test]
    fn fixture_has_a_duplicate_key_that_still_parses() {
        // The seed's second trade repeats `buyer_open_uid`: typed deserialization refuses it.
        #[derive(serde::Deserialize)]
        struct Strict {
            #[allow(dead_code)]
            data: StrictData,
        }
        #[derive(serde::Deserialize)]
        struct StrictData {
            #[allow(dead_code)]
            items: Vec<StrictTrade>,
        }
        #[derive(serde::Deserialize)]
        struct StrictTrade {
            #[allow(dead_code)]
            buyer_open_uid: String,
        }
        let strict = serde_json::from_slice::<Strict>(FIXTURE)
            .err()
            .expect("refused");
        assert!(
            strict
                .to_string()
                .contains("duplicate field `buyer_open_uid`"),
            "{strict}"
        );
        // The last occurrence wins, as in JavaScript, Python and Jackson.
        let orders = normalize_saved(FIXTURE, "fixture").unwrap();
        assert_eq!(
            orders[1].buyer.id.as_deref(),
            Some("AAEt90gYAAjcqSrFKsJnK_Ba")
        );
        let (total, _) = parse_page(FIXTURE, "fixture", Some(1)).unwrap();
        assert_eq!(
            total,
            Some(3),
            "the example says total 3 beside two items: taken as given"
        );
    }

    #[test]
    fn request_is_a_signed_form_matching_the_doc_vector() {
        // The documented vector: the same parameters sign to c4ccf97d91d15a51d83037030b842169.
        let a = adapter(None);
        let biz = [
            ("start_created", "2021-10-01 00:00:00".to_string()),
            ("end_created", "2021-10-07 23:59:59".to_string()),
            ("page_no", "1".to_string()),
            ("page_size", "100".to_string()),
        ];
        let r = a.signed(&biz, DateTime::from_timestamp(1633618722, 0).unwrap());
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, LIST);
        let f = form(&r);
        assert_eq!(f["sign"], "c4ccf97d91d15a51d83037030b842169");
        assert_eq!(f["timestamp"], "1633618722");
        assert_eq!(f["tb_seller_nick"], "kingdo");
        assert!(!f.contains_key("sysid"));
        let mut nick = adapter(None);
        nick.seller_nick = "源丰有限贸易".into();
        let f = form(&nick.signed(&biz, DateTime::from_timestamp(1633618722, 0).unwrap()));
        assert_eq!(f["sign"], "c9eeeaf4b7e89d34dcaaeb4f7cbd17b9");
    }

    #[test]
    fn list_request_parameters() {
        let a = adapter(Some("100"));
        let q = query(
            "2021-10-01T00:00:00+08:00",
            "2021-10-08T00:00:00+08:00",
            By::Modified,
            2,
        );
        let now = t("2021-10-08T00:05:00+08:00");
        let f = form(&a.list_request(&q, now).unwrap());
        assert_eq!(f["start_created"], "2021-10-01 00:00:00");
        assert_eq!(f["end_created"], "2021-10-07 23:59:59");
        assert_eq!(f["date_type"], "1");
        assert_eq!(f["order_asc"], "ASC");
        assert_eq!(f["page_no"], "2");
        assert_eq!(f["page_size"], "100");
        assert_eq!(f["sysid"], "100");
        assert!(!f.contains_key("status"), "empty values are not sent");
        let mut p = f.clone();
        p.remove("sign");
        assert!(signatures_match(
            &wrapped_md5_sign("testsecret", &p),
            &f["sign"]
        ));
        let q = query(
            "2021-10-01T00:00:00+08:00",
            "2021-10-08T00:00:00+08:00",
            By::Created,
            1,
        );
        assert_eq!(form(&a.list_request(&q, now).unwrap())["date_type"], "0");
    }

    #[test]
    fn a_window_longer_than_a_month_is_refused() {
        let a = adapter(None);
        let now = t("2021-12-01T00:00:00+08:00");
        // 2021-10-01 00:00:00 .. 2021-11-01 00:00:00 inclusive is exactly one month: fine.
        let ok = query(
            "2021-10-01T00:00:00+08:00",
            "2021-11-01T00:00:01+08:00",
            By::Created,
            1,
        );
        assert!(a.list_request(&ok, now).is_ok());
        let long = query(
            "2021-10-01T00:00:00+08:00",
            "2021-11-01T00:00:02+08:00",
            By::Created,
            1,
        );
        let e = a.list_request(&long, now).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Invalid);
        assert!(e.to_string().contains("one month"), "{e}");
    }

    #[test]
    fn errors_are_classified() {
        let q = query(
            "2021-10-01T00:00:00+08:00",
            "2021-10-02T00:00:00+08:00",
            By::Created,
            1,
        );
        let a = adapter(None);
        let err = |body: &str| a.parse_list(body.as_bytes(), &q).unwrap_err();
        let e = err(r#"{"code":1001,"message":"sign签名错误","data":null}"#);
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(e.api_code(), Some("1001"));
        assert!(e.to_string().contains("app_secret"), "{e}");
        assert_eq!(
            err(r#"{"code":1005,"message":"请求过于频繁,请稍后再试"}"#).class(),
            ErrorClass::Transient
        );
        assert_eq!(
            err(r#"{"code":2001,"message":"查询时间跨度不能超过1个月"}"#).class(),
            ErrorClass::Invalid
        );
        assert_eq!(
            err(r#"{"code":"1004","message":"tb_seller_nick未授权"}"#).class(),
            ErrorClass::Auth
        );
        assert_eq!(
            err(r#"{"code":9,"message":"???"}"#).class(),
            ErrorClass::Other
        );
        // Garbled answers name the path.
        let e = err(r#"{"code":0,"data":{"total":1,"items":[{"payment":"1.00"}]}}"#);
        assert!(e.to_string().contains("$.data.items[0].tid"), "{e}");
        let e = err(r#"{"code":0,"data":{"total":1,"items":{}}}"#);
        assert!(e.to_string().contains("$.data.items"), "{e}");
        // An empty page in any of its shapes.
        for body in [
            r#"{"code":0,"data":{"total":0,"items":[]}}"#,
            r#"{"code":0,"data":null}"#,
        ] {
            assert!(a.parse_list(body.as_bytes(), &q).unwrap().orders.is_empty());
        }
    }

    mod against_the_sandbox {
        use super::*;
        use crate::sandbox::{Sandbox, SandboxOptions, spawn, taobao_enhanced as sbx};
        use crate::sync::testing::{pull_range, transport};
        use std::collections::{BTreeMap, BTreeSet};

        fn sandbox_adapter(shop: &str) -> TaobaoEnhanced {
            TaobaoEnhanced {
                shop: shop.into(),
                appid: sbx::APPID.into(),
                app_secret: SecretString::from(sbx::APP_SECRET),
                seller_nick: sbx::SELLER_NICK.into(),
                sysid: Some(sbx::SYSID.into()),
                warned_old: AtomicBool::new(false),
            }
        }

        async fn start(opts: SandboxOptions) -> (crate::sandbox::Running, crate::net::Transport) {
            let sb = spawn("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
            let base = Sandbox::base_url(sb.addr, crate::platforms::PlatformId::TaobaoEnhanced);
            let t = transport(ID, base, 50);
            (sb, t)
        }

        #[tokio::test]
        async fn the_seed_trades_come_back_as_the_checked_in_output() {
            let (_sb, t) = start(SandboxOptions {
                orders: 10,
                ..Default::default()
            })
            .await;
            let a = sandbox_adapter("fixture");
            let orders = pull_range(
                &a,
                &t,
                t_("2021-10-01T00:00:00+08:00"),
                t_("2021-10-08T00:00:00+08:00"),
                chrono::Duration::days(7),
                By::Created,
                MAX_PAGE_SIZE,
            )
            .await
            .unwrap();
            let want: Value = serde_json::from_str(include_str!(
                "../../../fixtures/taobao-enhanced/list.expected.json"
            ))
            .unwrap();
            assert_eq!(serde_json::to_value(&orders).unwrap(), want);
        }

        fn t_(s: &str) -> DateTime<Utc> {
            DateTime::parse_from_rfc3339(s).unwrap().to_utc()
        }

        /// The sandbox's own answer: trades whose `field` time lies in `[since, until)`.
        fn expected(
            sb: &crate::sandbox::Running,
            field: &str,
            since: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> BTreeMap<String, String> {
            sb.state
                .taobao_enhanced
                .trades()
                .into_iter()
                .filter_map(|v| {
                    let at = sbx::parse_time(v[field].as_str()?)?;
                    let pair = (
                        v["tid"].as_str()?.to_string(),
                        v["modified"].as_str()?.to_string(),
                    );
                    (at >= since && at < until).then_some(pair)
                })
                .collect()
        }

        #[tokio::test]
        async fn no_trade_is_lost_or_doubled_across_pages_and_windows() {
            let (sb, t) = start(SandboxOptions {
                orders: 400,
                ..Default::default()
            })
            .await;
            let a = sandbox_adapter("s");
            let now = sb.state.options.now;
            // Odd borders: windows of 61 h 7 min 13.5 s, pages of 17.
            let since = now - chrono::Duration::days(20) + chrono::Duration::milliseconds(250);
            let until = now - chrono::Duration::minutes(2);
            let len = chrono::Duration::milliseconds(((61 * 60 + 7) * 60 + 13) * 1000 + 500);
            for (by, field) in [(By::Created, "created"), (By::Modified, "modified")] {
                let orders = pull_range(&a, &t, since, until, len, by, 17).await.unwrap();
                let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
                let unique: BTreeSet<&str> = ids.iter().copied().collect();
                assert_eq!(unique.len(), ids.len(), "{by}: a trade came twice");
                let want = expected(&sb, field, since, until);
                assert!(want.len() > 200, "{}", want.len());
                assert_eq!(
                    unique,
                    want.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    "{by}"
                );
                for o in &orders {
                    assert!(!o.lines.is_empty());
                    assert_eq!(o.currency, "CNY");
                }
            }
        }

        #[tokio::test]
        async fn faults_are_retried_without_losing_trades() {
            let (sb, t) = start(SandboxOptions {
                orders: 200,
                fail_rate: 0.25,
                ..Default::default()
            })
            .await;
            let a = sandbox_adapter("s");
            let now = sb.state.options.now;
            let (since, until) = (now - chrono::Duration::days(10), now);
            let orders = pull_range(
                &a,
                &t,
                since,
                until,
                chrono::Duration::days(3),
                By::Created,
                25,
            )
            .await
            .unwrap();
            let got: BTreeSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
            assert_eq!(got.len(), orders.len());
            assert_eq!(
                got,
                expected(&sb, "created", since, until).into_keys().collect()
            );
            assert!(
                sb.state
                    .faults
                    .stats
                    .injected
                    .load(std::sync::atomic::Ordering::Relaxed)
                    > 0
            );
        }

        #[tokio::test]
        async fn a_wrong_secret_is_an_auth_error_with_a_hint() {
            let (sb, t) = start(SandboxOptions {
                orders: 5,
                ..Default::default()
            })
            .await;
            let mut a = sandbox_adapter("s");
            a.app_secret = SecretString::from("wrong-secret");
            let now = sb.state.options.now;
            let e = pull_range(
                &a,
                &t,
                now - chrono::Duration::days(1),
                now,
                chrono::Duration::days(1),
                By::Created,
                100,
            )
            .await
            .unwrap_err();
            assert_eq!(e.class(), ErrorClass::Auth);
            assert!(e.to_string().contains("app_secret"), "{e}");
            assert!(!e.to_string().contains("wrong-secret"));
        }

        #[tokio::test]
        async fn get_finds_orders_by_tid() {
            let (sb, t) = start(SandboxOptions {
                orders: 30,
                ..Default::default()
            })
            .await;
            let a = sandbox_adapter("s");
            let tids: Vec<String> = sb.state.taobao_enhanced.trades()[..3]
                .iter()
                .map(|v| v["tid"].as_str().unwrap().to_string())
                .collect();
            let got = crate::sync::sender::lookup(&a, &t, &tids).await.unwrap();
            let mut ids: Vec<String> = got.iter().map(|o| o.order_id.clone()).collect();
            ids.sort();
            let mut want = tids.clone();
            want.sort();
            assert_eq!(ids, want);
            let e = crate::sync::sender::lookup(&a, &t, &["1".to_string()])
                .await
                .unwrap_err();
            assert!(e.to_string().contains("not found"), "{e}");
        }
    }
}
