//! enhanced Taobao order list (fw199). STUB: being implemented (issue 3).

use super::{Adapter, ApiRequest, By, ByMode, ListOrder, ListPage, PageQuery, PlatformSpec};
use crate::config::Shop;
use crate::error::PlatformError;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub const ID: &str = "taobao-enhanced";

pub static SPEC: PlatformSpec = PlatformSpec {
    id: ID,
    title: "enhanced Taobao order list (fw199)",
    default_base_url: "https://open.fw199.com",
    default_rate_limit: 5,
    max_page_size: 500,
    list_order: ListOrder::Ascending,
    by_created: ByMode::Native { max_window: Some(Duration::from_secs(31 * 24 * 3600)) },
    by_modified: ByMode::Native { max_window: Some(Duration::from_secs(31 * 24 * 3600)) },
    default_window: Duration::from_secs(1800),
    config_keys: "appid, app_secret, seller_nick, sysid (optional)",
    notes: "",
};

/// One taobao-enhanced shop.
pub struct TaobaoEnhanced {
    shop: String,
}

impl TaobaoEnhanced {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        Ok(TaobaoEnhanced { shop: shop.name.clone() })
    }
}

impl Adapter for TaobaoEnhanced {
    fn spec(&self) -> &'static PlatformSpec {
        &SPEC
    }

    fn list_endpoint(&self, _by: By) -> &'static str {
        "/"
    }

    fn list_request(&self, _q: &PageQuery, _now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        Err(PlatformError::Request { platform: ID, message: format!("shop {}: not implemented yet", self.shop) })
    }

    fn parse_list(&self, _body: &[u8], _q: &PageQuery) -> Result<ListPage, PlatformError> {
        Err(PlatformError::Request { platform: ID, message: "not implemented yet".into() })
    }
}
