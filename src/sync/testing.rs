//! Test helpers: drive one adapter through a real [`Transport`] against the sandbox, with the
//! sender, page by page (without the pull loop's windows, dedupe and checks).

use super::sender;
use crate::error::PlatformError;
use crate::model::Order;
use crate::net::{RetryPolicy, Transport, TransportOptions};
use crate::platforms::{Adapter, By, PageQuery, Window};
use std::time::Duration;

pub fn transport(platform: &'static str, base_url: String, rate_limit: u32) -> Transport {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Transport::new(TransportOptions {
        platform,
        base_url,
        rate_limit: f64::from(rate_limit),
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_retries: 8,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        secrets: Vec::new(),
        dump_dir: None,
    })
    .expect("client builds")
}

/// Every page of one window.
pub async fn pull_window<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    window: Window,
    by: By,
    page_size: u32,
) -> Result<Vec<Order>, PlatformError> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let q = PageQuery {
            window,
            by,
            status: None,
            page,
            page_size,
        };
        let p = sender::list_page(a, t, &q, |b| a.parse_list(b, &q)).await?;
        let n = p.orders.len() as u64;
        out.extend(p.orders);
        let more = match (p.has_next, p.total) {
            (Some(h), _) => h,
            (None, Some(total)) => u64::from(page) * u64::from(page_size) < total,
            (None, None) => n >= u64::from(page_size),
        };
        if !more || n == 0 {
            return Ok(out);
        }
        page += 1;
    }
}

/// Every window of `[since, until)` cut into `len` pieces.
pub async fn pull_range<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    len: chrono::Duration,
    by: By,
    page_size: u32,
) -> Result<Vec<Order>, PlatformError> {
    sender::credentials_due(a, t).await?;
    let mut out = Vec::new();
    let mut start = since;
    while start < until {
        let end = (start + len).min(until);
        out.extend(pull_window(a, t, Window { start, end }, by, page_size).await?);
        start = end;
    }
    Ok(out)
}
