//! PandaPon OpenAPI: `/v2/taobao/order/page` and `/v2/alibaba/order/page`. STUB: being
//! implemented (issue 4).

use super::{Adapter, ApiRequest, By, ByMode, ListOrder, ListPage, PageQuery, PlatformId, PlatformSpec};
use crate::config::Shop;
use crate::error::PlatformError;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub static SPEC_TAOBAO: PlatformSpec = PlatformSpec {
    id: "pandapon-taobao",
    title: "PandaPon OpenAPI, Taobao order page",
    default_base_url: "https://api.pandapon.com",
    default_rate_limit: 5,
    max_page_size: 100,
    list_order: ListOrder::NewestFirst,
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Unsupported("PandaPon's order page filters on creation time only"),
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "access_key, secret_key, user_id, signature_scheme (optional)",
    notes: "",
};

pub static SPEC_1688: PlatformSpec = PlatformSpec {
    id: "pandapon-1688",
    title: "PandaPon OpenAPI, 1688 order page",
    default_base_url: "https://api.pandapon.com",
    default_rate_limit: 5,
    max_page_size: 100,
    list_order: ListOrder::NewestFirst,
    by_created: ByMode::Native { max_window: None },
    by_modified: ByMode::Unsupported("PandaPon's order page filters on creation time only"),
    default_window: Duration::from_secs(24 * 3600),
    config_keys: "access_key, secret_key, user_id, signature_scheme (optional)",
    notes: "",
};

/// One PandaPon shop (either endpoint).
pub struct Pandapon {
    platform: PlatformId,
}

impl Pandapon {
    /// Build from a config shop, resolving its secrets.
    pub fn from_shop(shop: &Shop) -> anyhow::Result<Self> {
        Ok(Pandapon { platform: shop.platform })
    }
}

impl Adapter for Pandapon {
    fn spec(&self) -> &'static PlatformSpec {
        self.platform.spec()
    }

    fn list_endpoint(&self, _by: By) -> &'static str {
        "/"
    }

    fn list_request(&self, _q: &PageQuery, _now: DateTime<Utc>) -> Result<ApiRequest, PlatformError> {
        Err(PlatformError::Request { platform: self.spec().id, message: "not implemented yet".into() })
    }

    fn parse_list(&self, _body: &[u8], _q: &PageQuery) -> Result<ListPage, PlatformError> {
        Err(PlatformError::Request { platform: self.spec().id, message: "not implemented yet".into() })
    }
}
