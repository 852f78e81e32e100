//! Fault injection for the sandbox: latency, failures, throttling and drift.
//!
//! Every handler passes through [`Faults::gate`] first. It sleeps the configured latency,
//! counts the request against the per-platform throttle (a sliding one-second window), and with
//! probability `fail_rate` picks a fault. Faults that need the platform's own envelope
//! (throttling) or its real body (truncation) are handed back to the module to finish.

use super::SandboxOptions;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the handler must do.
pub enum Gate {
    /// Serve normally.
    Pass,
    /// Answer with this response as is (5xx, reset, timeout).
    Respond(Response),
    /// Answer with the platform's own throttling error.
    Throttle,
    /// Serve the real answer, cut in half.
    Truncate,
}

/// Counters the tests and benchmark read.
#[derive(Debug, Default)]
pub struct FaultStats {
    pub requests: AtomicU64,
    pub injected: AtomicU64,
    pub throttled: AtomicU64,
}

/// Fault settings and state.
pub struct Faults {
    latency: Duration,
    fail_rate: f64,
    throttle_rps: Option<u32>,
    drift_rate: f64,
    rng: Mutex<StdRng>,
    recent: Mutex<HashMap<(&'static str, usize), VecDeque<Instant>>>,
    pub stats: FaultStats,
}

/// How long a "timeout" fault stalls before answering 504.
const STALL: Duration = Duration::from_secs(3);

impl Faults {
    pub fn new(o: &SandboxOptions) -> Faults {
        Faults {
            latency: Duration::from_millis(o.latency_ms),
            fail_rate: o.fail_rate,
            throttle_rps: o.throttle_rps,
            drift_rate: o.drift_rate,
            rng: Mutex::new(StdRng::seed_from_u64(o.seed.wrapping_mul(31))),
            recent: Mutex::new(HashMap::new()),
            stats: FaultStats::default(),
        }
    }

    /// Decide the fate of one request to `platform`'s shop `shop` (as the request names it;
    /// each shop has its own rate limit) with throttle limit `limit_rps` (the platform's
    /// documented limit, or the `--throttle-rps` override).
    pub async fn gate(&self, platform: &'static str, shop: usize, limit_rps: Option<u32>) -> Gate {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if let Some(limit) = self.throttle_rps.or(limit_rps) {
            let now = Instant::now();
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let q = recent.entry((platform, shop)).or_default();
            while q
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                q.pop_front();
            }
            q.push_back(now);
            if q.len() > limit as usize {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                return Gate::Throttle;
            }
        }
        if self.fail_rate <= 0.0 {
            return Gate::Pass;
        }
        let pick = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            if !rng.random_bool(self.fail_rate.min(1.0)) {
                return Gate::Pass;
            }
            rng.random_range(0..5)
        };
        self.stats.injected.fetch_add(1, Ordering::Relaxed);
        match pick {
            0 => Gate::Respond(StatusCode::SERVICE_UNAVAILABLE.into_response()),
            1 => Gate::Respond(reset_response()),
            2 => {
                tokio::time::sleep(STALL).await;
                Gate::Respond(StatusCode::GATEWAY_TIMEOUT.into_response())
            }
            3 => Gate::Truncate,
            _ => Gate::Throttle,
        }
    }

    /// Whether this list request should modify orders first.
    pub fn roll_drift(&self) -> bool {
        if self.drift_rate <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random_bool(self.drift_rate.min(1.0))
    }
}

/// A response whose body breaks off mid-stream: the client sees a reset connection.
fn reset_response() -> Response {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"partial\":".to_vec()),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        )),
    ];
    Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
}

/// The real answer cut in half, as a complete HTTP response.
pub fn truncated(body: &serde_json::Value) -> Response {
    let text = body.to_string();
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text[..cut].to_string(),
    )
        .into_response()
}

/// Serve `body` as JSON, or cut in half when the gate said so.
pub fn finish(body: serde_json::Value, truncate: bool) -> Response {
    if truncate {
        truncated(&body)
    } else {
        axum::Json(body).into_response()
    }
}
