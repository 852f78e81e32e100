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

mod lookup;
mod read;

pub use read::{normalize_saved, normalize_saved_each};

use super::SavedList;
use super::cut::{Container, ListAt};
use super::signing::{Params, wrapped_md5_sign};
use super::trade::{TIME_FORMAT, inclusive_seconds};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec,
};
use crate::config::{SecretRef, Shop};
use crate::error::PlatformError;
use crate::model::{Order, platform_offset};
use chrono::{DateTime, Months, Utc};
use lookup::Lookup;
use read::read_page;
use secrecy::{ExposeSecret, SecretString};
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
    probe_signature: None,
    adapter: |shop| Ok(Box::new(TaobaoEnhanced::from_shop(shop)?)),
    read_saved: |body, shop, _, emit| normalize_saved_each(body, shop, emit),
    saved_list: SavedList {
        at: ListAt {
            path: &["data", "items"],
            container: Container::Array,
        },
        read_one: read::read_one,
        read_many: None,
        amount_unit: false,
        after: None,
    },
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
        let (total, orders) = read_page(body, &self.shop, Some(q.page))?;
        Ok(ListPage {
            orders,
            total,
            has_next: None,
        })
    }

    fn lookup<'a>(&'a self, ids: &'a [String]) -> Box<dyn Exchange<'a, Vec<Order>> + 'a> {
        Box::new(Lookup::new(self, ids))
    }
}

#[cfg(test)]
mod tests;
