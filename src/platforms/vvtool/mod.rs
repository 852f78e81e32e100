//! vv-tool ERP API: `POST /tool/erps/sold` (by creation time, at most three months back) and
//! `POST /tool/erps/increment` (by modification time, windows of at most one day).
//!
//! How far back sold goes, the seed says twice and differently: its introduction says the last
//! 30 days ("获取近 30 天"), its `start_created` row three months ("查询三个月内"). The
//! parameter row is the more specific: ranges up to 90 days back are asked for, with a
//! warning past 30 days that the platform may hold nothing older; further back is refused.
//!
//! Authorization is `Authorization: Bearer <access_token>`: a configured `access_token`, or
//! one obtained from `client_id` + `client_secret` at `POST /api/proxy/oauth/token`
//! (`grant_type=client_credentials`). A fetched token is cached until shortly before its
//! `expires_in` (checked before the first page and after every page), and fetched anew once
//! when a call is refused as unauthenticated ([`Adapter::credentials`]).
//!
//! Requests are form-encoded: `fields` (every field the Trade normalizer reads), `shop_id`,
//! the time range (`start_created`/`end_created` on sold, `start_create`/`end_create` (sic) on
//! increment, China time, both included), `type` (every trade type: the default leaves some
//! out), `page_no`, `page_size` (at most 45), `use_has_next=true`. The answer is
//! `{"code": 0, "msg", "data": {...}}` where `data` is a PHP-style map: keys that are unsigned
//! integers (`"0"`, `"1"`, ...) are the trades in numeric order, beside optional `has_next`,
//! `total_results` and `withholding_money`; `data` may also be an array, `[]` or `null`.
//! Every code of the vendor's table is explained with the vendor's advice; code 614 covers
//! throttling and timeouts (retried) as well as bad parameters (not retried), told apart by
//! `msg`.
mod answer;
mod read;
mod token;

pub use answer::classify;
pub use read::{normalize_saved, normalize_saved_each};

use super::SavedList;
use super::cut::{Container, ListAt};
use super::trade::{TIME_FORMAT, TRADE_FIELDS, inclusive_seconds};
use super::{
    Adapter, ApiRequest, Body, By, ByMode, Exchange, ListOrder, ListPage, Method, PageQuery,
    Platform, PlatformId, PlatformSpec,
};
use crate::config::{SecretRef, Shop};
use crate::error::{PlatformError, usage};
use crate::model::platform_offset;
use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, NaiveTime, Utc};
use read::read_page;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use token::{Fetched, is_token_refusal};

pub const ID: &str = "vvtool";
pub const SOLD: &str = "/tool/erps/sold";
pub const INCREMENT: &str = "/tool/erps/increment";
pub const TOKEN: &str = "/api/proxy/oauth/token";
/// The documented page size limit ("more will likely time out").
pub const MAX_PAGE_SIZE: u32 = 45;
/// `erps/sold` is documented (its introduction) for trades created in the last 30 days...
pub const SOLD_DAYS: i64 = 30;
/// ... and (its `start_created` row) for three months: the furthest back asked for.
pub const SOLD_MAX_DAYS: i64 = 90;
/// `erps/increment` serves at most one day per query.
pub const INCREMENT_MAX_SECS: i64 = 24 * 3600;
/// Every trade type of the vendor's list: without `type`, only guarantee_trade,
/// auto_delivery, ec, cod and step trades are returned.
pub const ALL_TYPES: &str = "fixed,auction,guarantee_trade,step,independent_simple_trade,\
independent_shop_trade,auto_delivery,ec,cod,game_equipment,shopex_trade,netcn_trade,\
external_trade,instant_trade,b2c_cod,hotel_trade,super_market_trade,super_market_cod_trade,\
taohua,waimai,o2o_offlinetrade,nopaid,eticket,tmall_i18n,insurance_plus,finance,pre_auth_type,\
lazada";

pub static SPEC: PlatformSpec = PlatformSpec {
    id: ID,
    title: "vv-tool ERP API (erps/sold, erps/increment)",
    // The vendor documents plain http://api.vv-tool.com; https is the default here. If the
    // gateway serves only http, set base_url = "http://api.vv-tool.com" and allow_http = true.
    default_base_url: "https://api.vv-tool.com",
    default_rate_limit: 10,
    statuses: crate::platforms::trade::TRADE_STATUSES,
    max_page_size: MAX_PAGE_SIZE,
    list_order: ListOrder::HasNextOnly,
    // At most 90 days back (warned past 30); the adapter refuses an older start.
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Native {
        max_window: Some(Duration::from_secs(INCREMENT_MAX_SECS as u64)),
    },
    // The vendor's advice against timeouts: windows under half an hour, pages under 50.
    default_window: Duration::from_secs(1800),
    config_keys: "shop_id, access_token or client_id + client_secret",
    notes: "Bearer token (configured, or client credentials exchanged at \
            /api/proxy/oauth/token and renewed before expiry); --by created uses tool/erps/sold \
            (orders created in the last 90 days at most; past 30 days a warning, as the \
            vendor's introduction says 30), --by modified uses tool/erps/increment \
            (windows of at most one day, 30 minutes by default); pages of at most 45 with \
            use_has_next; 10 requests per second (documented). The vendor documents plain \
            http://api.vv-tool.com: the default here is https (set base_url and allow_http = \
            true to use http).",
};

/// This platform in the registry.
pub static PLATFORM: Platform = Platform {
    id: PlatformId::Vvtool,
    spec: &SPEC,
    keys: &["shop_id", "access_token", "client_id", "client_secret"],
    secret_keys: &["access_token", "client_secret"],
    probe_signature: None,
    adapter: |shop| Ok(Box::new(Vvtool::from_shop(shop)?)),
    read_saved: |body, shop, _, emit| normalize_saved_each(body, shop, emit),
    saved_list: SavedList {
        at: ListAt {
            path: &["data"],
            container: Container::Numbered,
        },
        read_one: read::read_one,
        read_many: None,
        amount_unit: false,
        after: None,
    },
};

/// A vvtool shop's own config keys.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    shop_id: Option<String>,
    access_token: Option<SecretRef>,
    client_id: Option<String>,
    client_secret: Option<SecretRef>,
}

/// Credentials and identity for one vvtool shop.
pub struct Vvtool {
    pub shop: String,
    pub shop_id: String,
    configured_token: Option<SecretString>,
    client: Option<(String, SecretString)>,
    fetched: Mutex<Option<Fetched>>,
    /// Whether the "past 30 days" warning was given (once per run).
    warned_old: AtomicBool,
}

impl Vvtool {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        let r: Keys = shop.keys()?;
        let shop_id = shop.require("shop_id", &r.shop_id)?;
        let configured_token = shop.optional_secret("access_token", &r.access_token)?;
        let client = match (&r.client_id, &r.client_secret) {
            (Some(id), Some(_)) => Some((
                shop.require("client_id", &Some(id.clone()))?,
                shop.secret("client_secret", &r.client_secret)?,
            )),
            (None, None) => None,
            _ => {
                return Err(usage(format!(
                    "shop {:?}: client_id and client_secret go together (or set access_token)",
                    shop.name
                )));
            }
        };
        if configured_token.is_none() && client.is_none() {
            return Err(usage(format!(
                "shop {:?} ({ID}): set access_token, or client_id and client_secret",
                shop.name
            )));
        }
        Ok(Vvtool::new(&shop.name, &shop_id, configured_token, client))
    }

    /// An adapter from its parts.
    pub fn new(
        shop: &str,
        shop_id: &str,
        access_token: Option<SecretString>,
        client: Option<(String, SecretString)>,
    ) -> Vvtool {
        Vvtool {
            shop: shop.to_string(),
            shop_id: shop_id.to_string(),
            configured_token: access_token,
            client,
            fetched: Mutex::new(None),
            warned_old: AtomicBool::new(false),
        }
    }

    /// The form of one list page (without the token).
    pub fn list_form(
        &self,
        q: &PageQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, PlatformError> {
        let (first, last) = inclusive_seconds(&q.window);
        let (start_key, end_key) = match q.by {
            By::Created => {
                let earliest = earliest_sold_start(now, SOLD_MAX_DAYS);
                if first < earliest {
                    return Err(PlatformError::Request {
                        platform: ID,
                        message: format!(
                            "vv-tool serves --by created (tool/erps/sold) only for orders created \
                             in the last {SOLD_MAX_DAYS} days (three months), from {}; the range \
                             starts at {}: use a later --since, or --by modified \
                             (tool/erps/increment) to find older orders that changed since",
                            earliest.format(TIME_FORMAT),
                            first.format(TIME_FORMAT)
                        ),
                    });
                }
                if first < earliest_sold_start(now, SOLD_DAYS)
                    && !self.warned_old.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        "{ID}: shop {}: the range starts at {}, more than {SOLD_DAYS} days back; \
                         tool/erps/sold is documented for the last {SOLD_DAYS} days in its \
                         introduction and three months in its start_created row: orders older \
                         than {SOLD_DAYS} days may be missing",
                        self.shop,
                        first.format(TIME_FORMAT)
                    );
                }
                ("start_created", "end_created")
            }
            By::Modified => {
                if (last - first).num_seconds() > INCREMENT_MAX_SECS {
                    return Err(PlatformError::Request {
                        platform: ID,
                        message: format!(
                            "vv-tool serves --by modified (tool/erps/increment) in windows of at \
                             most one day; window {} is longer: use a shorter --window",
                            q.window
                        ),
                    });
                }
                ("start_create", "end_create")
            }
        };
        let mut form = vec![
            ("fields".to_string(), TRADE_FIELDS.join(",")),
            ("shop_id".to_string(), self.shop_id.clone()),
            (start_key.to_string(), first.format(TIME_FORMAT).to_string()),
            (end_key.to_string(), last.format(TIME_FORMAT).to_string()),
            ("type".to_string(), ALL_TYPES.to_string()),
            ("page_no".to_string(), q.page.max(1).to_string()),
            (
                "page_size".to_string(),
                q.page_size.clamp(1, MAX_PAGE_SIZE).to_string(),
            ),
            ("use_has_next".to_string(), "true".to_string()),
        ];
        if let Some(s) = q.status.as_deref().filter(|s| !s.trim().is_empty()) {
            form.push(("status".to_string(), s.to_string()));
        }
        Ok(form)
    }
}

/// Midnight (China time) `days` days before `now`: the earliest creation time `erps/sold`
/// serves with `days` = [`SOLD_MAX_DAYS`], or is surely documented for with [`SOLD_DAYS`].
pub fn earliest_sold_start(now: DateTime<Utc>, days: i64) -> DateTime<FixedOffset> {
    let local = (now - ChronoDuration::days(days)).with_timezone(&platform_offset());
    local.with_time(NaiveTime::MIN).single().unwrap_or(local)
}

impl Adapter for Vvtool {
    fn spec(&self) -> &'static PlatformSpec {
        &SPEC
    }

    fn list_endpoint(&self, by: By) -> &'static str {
        match by {
            By::Created => SOLD,
            By::Modified => INCREMENT,
        }
    }

    fn list_request(&self, q: &PageQuery, now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        let form = self.list_form(q, now)?;
        let token = self.token()?;
        Ok(ApiRequest {
            method: Method::Post,
            path: self.list_endpoint(q.by).to_string(),
            query: Vec::new(),
            headers: vec![(
                "Authorization".into(),
                format!("Bearer {}", token.expose_secret()),
            )],
            body: Body::Form(form),
        })
    }

    fn parse_list(&self, body: &[u8], q: &PageQuery) -> Result<ListPage, PlatformError> {
        read_page(body, self.list_endpoint(q.by), &self.shop, Some(q.page))
    }

    fn credentials(
        &self,
        refused: Option<&PlatformError>,
    ) -> Option<Box<dyn Exchange<'_, ()> + '_>> {
        match refused {
            None => self.needs_token().then(|| self.token_exchange()),
            Some(err) => {
                if self.client.is_none() || !is_token_refusal(err) {
                    return None;
                }
                tracing::info!("{ID}: the access token was refused; fetching a new one");
                Some(self.token_exchange())
            }
        }
    }
}

#[cfg(test)]
mod tests;
