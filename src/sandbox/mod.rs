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
//! own example orders. [`faults`] injects latency, failures, throttling and drift.

pub mod dataset;
pub mod digest;
pub mod faults;
pub mod pandapon;
pub mod taobao_enhanced;
pub mod taobao_tw;
pub mod vvtool;

use crate::platforms::PlatformId;
use axum::Router;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::Arc;

/// How the sandbox behaves; the flags of `ordersync sandbox`.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Generated orders per platform.
    pub orders: usize,
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
        Router::new()
            .merge(taobao_tw::routes(self.clone()))
            .merge(taobao_enhanced::routes(self.clone()))
            .merge(vvtool::routes(self.clone()))
            .merge(pandapon::routes(self.clone()))
    }

    /// Base URL of a platform on a sandbox listening at `addr`.
    pub fn base_url(addr: SocketAddr, platform: PlatformId) -> String {
        match platform {
            PlatformId::TaobaoTw => format!("http://{addr}/rest"),
            PlatformId::TaobaoEnhanced => format!("http://{addr}/fw199"),
            PlatformId::Vvtool => format!("http://{addr}/vvtool"),
            PlatformId::PandaponTaobao | PlatformId::Pandapon1688 => {
                format!("http://{addr}/pandapon")
            }
        }
    }

    /// A complete config file with one shop per implemented platform, named
    /// `sandbox-<platform id>`, holding the sandbox's base URLs and credentials.
    pub fn config_toml(addr: SocketAddr) -> String {
        let mut out =
            String::from("# ordersync sandbox: one shop per platform, pointing at this sandbox.\n");
        out.push_str(&taobao_tw::config_section(&Sandbox::base_url(
            addr,
            PlatformId::TaobaoTw,
        )));
        out.push_str(&taobao_enhanced::config_section(&Sandbox::base_url(
            addr,
            PlatformId::TaobaoEnhanced,
        )));
        out.push_str(&vvtool::config_section(&Sandbox::base_url(
            addr,
            PlatformId::Vvtool,
        )));
        // One section per PandaPon endpoint: pandapon-taobao and pandapon-1688.
        out.push_str(&pandapon::config_section(&Sandbox::base_url(
            addr,
            PlatformId::PandaponTaobao,
        )));
        out
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
