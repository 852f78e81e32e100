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
//!
//! Files: `wire` (the envelope, its checks and error classes, the answers' objects), `read` (the
//! one reader of a list answer, and the saved answers `normalize` takes), `normalize` (wire
//! objects into the model), `exchange` (a page's lines, and orders by id).

mod exchange;
mod normalize;
mod read;
mod wire;

use super::SavedList;
use super::cut::{Container, ListAt};
use super::signing::{Params, lazop_sign};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec,
};
use crate::config::SecretRef;
use crate::error::PlatformError;
use crate::model::Order;
use chrono::{DateTime, Utc};
use exchange::{Details, Lines, id_only_line};
pub use normalize::{map_status, strip_quotes};
pub use read::normalize_saved;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
#[cfg(test)]
use {
    crate::error::ErrorClass,
    crate::model::{Amount, Status},
    wire::{ListResult, WireOrder, parse_envelope},
};

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
    probe_signature: None,
    adapter: |shop| Ok(Box::new(TaobaoTw::from_shop(shop)?)),
    read_saved: |body, shop, _, emit| read::read_saved(body, shop, emit),
    saved_list: SavedList {
        at: ListAt {
            path: &["result", "model_list"],
            container: Container::Array,
        },
        read_one: read::read_one,
        read_many: None,
        amount_unit: false,
        after: Some(read::warn_no_lines),
    },
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

    /// The bounds are sent as whole milliseconds (rounded down), both inclusive: an order
    /// modified on the end's millisecond is listed in both windows.
    fn listed_range(&self, w: crate::platforms::Window) -> crate::platforms::Window {
        let ms =
            |t: DateTime<Utc>| DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t);
        crate::platforms::Window {
            start: ms(w.start),
            end: ms(w.end) + chrono::Duration::milliseconds(1),
        }
    }

    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError> {
        let list = read::read_list(body, Some(q.page))?;
        let total = list.total;
        let orders = list
            .orders()
            .map(|o| {
                // Only the line ids are known here; `complete`, which always follows, swaps
                // these id-only lines for the real ones.
                let ids = o.line_ids();
                let mut order = o.normalize(&self.shop)?;
                order.lines = ids.into_iter().map(id_only_line).collect();
                Ok(order)
            })
            .collect::<Result<_, _>>()?;
        Ok(ListPage {
            orders,
            total,
            has_next: None,
        })
    }

    fn complete<'a>(&'a self, page: ListPage) -> Box<dyn Exchange<'a, ListPage> + 'a> {
        Box::new(Lines::new(self, page))
    }

    fn lookup<'a>(&'a self, ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Details::new(self, ids))
    }
}

#[cfg(test)]
mod tests;
