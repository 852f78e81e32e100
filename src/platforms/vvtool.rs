//! vv-tool ERP API (erps/sold, erps/increment). STUB: being implemented (issue 3).

use super::{Adapter, ApiRequest, By, ByMode, ListOrder, ListPage, PageQuery, PlatformSpec};
use crate::config::Shop;
use crate::error::PlatformError;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub const ID: &str = "vvtool";

pub static SPEC: PlatformSpec = PlatformSpec {
    id: ID,
    title: "vv-tool ERP API (erps/sold, erps/increment)",
    default_base_url: "https://api.vv-tool.com",
    default_rate_limit: 10,
    max_page_size: 45,
    list_order: ListOrder::HasNextOnly,
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Native { max_window: Some(Duration::from_secs(24 * 3600)) },
    default_window: Duration::from_secs(1800),
    config_keys: "shop_id, access_token or client_id + client_secret",
    notes: "",
};

/// One vvtool shop.
pub struct Vvtool {
    shop: String,
}

impl Vvtool {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        Ok(Vvtool { shop: shop.name.clone() })
    }
}

impl Adapter for Vvtool {
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
