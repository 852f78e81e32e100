//! The sandbox: a real HTTP server that emulates all five order APIs over loopback.
//!
//! It is what the tests talk to, and what `pull --sandbox` and `ordersync sandbox` serve to a
//! new user. Each platform is one module that owns its routes, its signature or token check,
//! its paging and filters, and its own definition of the wire format: responses are built from
//! the platforms' documents with `serde_json::json!`, never from the adapters' structs, so a
//! misreading of a platform shows up as a failing test instead of being mirrored on both sides.
//!
//! All platforms draw their orders from [`dataset`], a deterministic generator (`--orders`,
//! `--seed`), spread over the 30 days before the sandbox started, plus each seed document's
//! own example orders. Orders are built on demand, never held ([`catalog`]), so a sandbox
//! of ten million orders per platform starts at once in little memory. With `--shops N` every
//! platform serves N shops, each with its own credentials and its own orders (its own seed);
//! the seed documents' examples belong to shop 1. [`faults`] injects latency, failures,
//! throttling and drift.

pub mod catalog;
pub mod dataset;
pub mod digest;
pub mod faults;
pub mod pandapon;
pub mod taobao_enhanced;
pub mod taobao_tw;
pub mod vvtool;

use axum::Router;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::Arc;

/// How the sandbox behaves; the flags of `ordersync sandbox`.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Generated orders per platform (and per shop).
    pub orders: usize,
    /// Shops per platform, each with its own credentials and orders.
    pub shops: usize,
    pub seed: u64,
    pub latency_ms: u64,
    /// Probability that a request fails (5xx, reset, timeout, truncated body, throttle code).
    pub fail_rate: f64,
    /// Requests per second per platform before answering with the platform's throttle error.
    pub throttle_rps: Option<u32>,
    /// Probability, per list request, that orders are modified (and new ones added) mid-scan.
    pub drift_rate: f64,
    /// The sandbox's idea of "now" at start; generated orders lie in the 30 days before it.
    pub now: DateTime<Utc>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            orders: 500,
            shops: 1,
            seed: 42,
            latency_ms: 0,
            fail_rate: 0.0,
            throttle_rps: None,
            drift_rate: 0.0,
            now: Utc::now(),
        }
    }
}

/// Shared state of a running sandbox.
pub struct Sandbox {
    pub options: SandboxOptions,
    pub faults: faults::Faults,
    pub taobao_tw: taobao_tw::State,
    pub taobao_enhanced: taobao_enhanced::State,
    pub vvtool: vvtool::State,
    pub pandapon: pandapon::State,
}

impl Sandbox {
    /// Generate the data set for every platform.
    pub fn new(options: SandboxOptions) -> Sandbox {
        Sandbox {
            faults: faults::Faults::new(&options),
            taobao_tw: taobao_tw::State::new(&options),
            taobao_enhanced: taobao_enhanced::State::new(&options),
            vvtool: vvtool::State::new(&options),
            pandapon: pandapon::State::new(&options),
            options,
        }
    }

    /// The axum router serving every platform.
    pub fn router(self: &Arc<Self>) -> Router {
        SERVED
            .iter()
            .fold(Router::new(), |r, p| r.merge((p.routes)(self.clone())))
    }

    /// Base URL of a platform (its id as users type it) on a sandbox listening at `addr`.
    pub fn base_url(addr: SocketAddr, platform: impl std::fmt::Display) -> String {
        let id = platform.to_string();
        let path = SERVED
            .iter()
            .find(|p| p.ids.contains(&id.as_str()))
            .map_or("/unknown-platform", |p| p.path);
        format!("http://{addr}{path}")
    }

    /// A complete config file with one shop per implemented platform, named
    /// `sandbox-<platform id>`, holding the sandbox's base URLs and credentials.
    pub fn config_toml(addr: SocketAddr) -> String {
        Sandbox::config_toml_shops(addr, 1)
    }

    /// As [`Sandbox::config_toml`] for a sandbox serving `shops` shops per platform: named
    /// `sandbox-<platform id>-<i>` when there are several ([`shop_name`]).
    pub fn config_toml_shops(addr: SocketAddr, shops: usize) -> String {
        let mut out = format!(
            "# ordersync sandbox: {} per platform, pointing at this sandbox.\n",
            if shops > 1 {
                format!("{shops} shops")
            } else {
                "one shop".to_string()
            }
        );
        for shop in 1..=shops.max(1) {
            for p in SERVED {
                out.push_str(&(p.config_section)(
                    &format!("http://{addr}{}", p.path),
                    shop,
                    shops,
                ));
            }
        }
        out
    }
}

/// What the sandbox serves, listed once: each platform module's entry. (Each also keeps its
/// state in a field of [`Sandbox`], which tests inspect by name.)
pub static SERVED: &[&Served] = &[
    &taobao_tw::SERVED,
    &taobao_enhanced::SERVED,
    &vvtool::SERVED,
    &pandapon::SERVED,
];

/// One platform module of the sandbox.
pub struct Served {
    /// The platform ids it answers for (PandaPon's two pages share one server).
    pub ids: &'static [&'static str],
    /// Where under the sandbox's address it lives: its base URL's path.
    pub path: &'static str,
    pub routes: fn(Arc<Sandbox>) -> Router,
    /// The config file section(s) of its shop number `shop` (1-based) of `shops`, given the
    /// base URL.
    pub config_section: fn(&str, usize, usize) -> String,
}

/// The config name of shop `shop` (1-based) of `shops` of a platform: `sandbox-<platform>`
/// alone, `sandbox-<platform>-<shop>` among several.
pub fn shop_name(platform: &str, shop: usize, shops: usize) -> String {
    if shops > 1 {
        format!("sandbox-{platform}-{shop}")
    } else {
        format!("sandbox-{platform}")
    }
}

/// Shop `shop`'s version of a credential: shop 1 has the documented sandbox value, the
/// others their own.
pub fn shop_credential(base: &str, shop: usize) -> String {
    if shop <= 1 {
        base.to_string()
    } else {
        format!("{base}-shop{shop}")
    }
}

/// A sandbox serving on a loopback port, stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<Sandbox>,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Start a sandbox on `addr` (port 0 picks a free one) in the current tokio runtime.
pub async fn spawn(addr: SocketAddr, options: SandboxOptions) -> std::io::Result<Running> {
    let state = Arc::new(Sandbox::new(options));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = state.router();
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok(Running {
        addr,
        state,
        handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every platform of the registry is served, by exactly one module, and its sandbox shop
    /// is in the config the sandbox hands out.
    #[test]
    fn every_registered_platform_is_served_once() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let config = Sandbox::config_toml(addr);
        for p in crate::platforms::PLATFORMS {
            let id = p.spec.id;
            let serving = SERVED.iter().filter(|s| s.ids.contains(&id)).count();
            assert_eq!(serving, 1, "{id}");
            assert!(
                config.contains(&format!("[shops.sandbox-{id}]")),
                "{id}: {config}"
            );
            assert!(!Sandbox::base_url(addr, p.id).contains("unknown"), "{id}");
        }
        let served: usize = SERVED.iter().map(|s| s.ids.len()).sum();
        assert_eq!(served, crate::platforms::PLATFORMS.len());
    }
}
