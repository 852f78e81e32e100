//! The one HTTP path every adapter's requests take: rate limit, sign, send, classify, retry.
//!
//! Each attempt waits for a token from the shop's rate limiter, asks the adapter to build and
//! sign the request anew (signed requests carry timestamps and nonces, so a replay could be
//! refused), sends it with a timeout, and hands the body to the adapter's parser. Transient
//! failures (transport errors, HTTP 5xx/429, throttling codes, garbled bodies) are retried with
//! jittered exponential backoff, honouring any delay the platform asked for. URLs, query
//! strings and headers are never logged: that is where tokens and signatures travel.

use crate::error::PlatformError;
use crate::platforms::{ApiRequest, Body, Method};
use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Retry policy for one run.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A platform asking for a longer pause than this (a ban) makes us give up instead.
    pub max_wait: Duration,
    /// Total time spent waiting between tries of one request before giving up.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_wait: Duration::from_secs(120),
            max_total: Duration::from_secs(300),
        }
    }
}

/// Counters for the end-of-run summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

/// Everything needed to talk to one shop.
pub struct Transport {
    client: reqwest::Client,
    base_url: String,
    platform: &'static str,
    limiter: DefaultDirectRateLimiter,
    guard: SecondGuard,
    retry: RetryPolicy,
    /// Values scrubbed from anything we save or print.
    secrets: Vec<SecretString>,
    /// Where malformed bodies are saved for the user to inspect.
    dumps: Option<crate::dump::Dumps>,
    pub stats: Arc<Stats>,
    /// Whose turn it is to read and parse a body: see [`Transport::send`].
    bodies: tokio::sync::Semaphore,
    /// For the answer's head, and again for its body once it is its turn to be read.
    timeout: Duration,
    /// The most bytes of one answer read (after gzip inflation): `--max-body`.
    max_body: u64,
}

/// The default `--max-body`: far above the largest real page (a 500-trade taobao-enhanced
/// page is a few MB), low enough that a hostile or broken server cannot exhaust memory.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// The platforms count requests per second (a sliding second, in the sandbox). The limiter
/// spaces requests a little more than 1/rate apart, but a task woken late can send a request
/// close behind the next one; this keeps the send times of the requests of the last
/// `GUARD_SPAN` (a second plus 15 ms for the trip to the platform) and holds a request back
/// while `rate` of them are that recent.
struct SecondGuard {
    rate: usize,
    /// Send times within the last `GUARD_SPAN`, oldest first: at most `rate`, and no more than
    /// one second's requests however high the rate (memory does not follow `--rate-limit`).
    sent: std::sync::Mutex<std::collections::VecDeque<tokio::time::Instant>>,
}

/// The most bytes reserved for a body on the word of its Content-Length (more still arrives).
const MOST_PREALLOCATED: u64 = 64 << 20;

const GUARD_SPAN: Duration = Duration::from_millis(1_015);

impl SecondGuard {
    fn new(rate: f64) -> SecondGuard {
        SecondGuard {
            // A fractional rate (0.5/s) is paced by the limiter; the guard allows one a second.
            rate: rate.ceil().clamp(1.0, 1e6) as usize,
            sent: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Wait until one more request keeps `rate` or fewer in any `GUARD_SPAN`, and record it.
    async fn wait_turn(&self) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = tokio::time::Instant::now();
                while sent.front().is_some_and(|&t| t + GUARD_SPAN <= now) {
                    sent.pop_front();
                }
                match sent.front() {
                    Some(&oldest) if sent.len() >= self.rate => oldest + GUARD_SPAN - now,
                    _ => {
                        sent.push_back(now);
                        return;
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Whether a base URL points at this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(base_url: &str) -> bool {
    match url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Options for [`Transport::new`].
pub struct TransportOptions {
    pub platform: &'static str,
    pub base_url: String,
    /// Requests per second, above 0 (fractions allowed: 0.5 is one request every 2 s).
    pub rate_limit: f64,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub secrets: Vec<SecretString>,
    pub dump_dir: Option<PathBuf>,
}

impl Transport {
    /// Build the client and limiter.
    pub fn new(opts: TransportOptions) -> anyhow::Result<Transport> {
        // reqwest is built without a default crypto provider; make sure one is installed
        // (a no-op when `main` already did).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("ordersync/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .redirect(same_origin_redirects());
        // HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY are honoured (reqwest reads them),
        // but never for this machine: a proxy would see the sandbox's or a local gateway's
        // credentials for nothing.
        if is_loopback(&opts.base_url) {
            client = client.no_proxy();
        }
        let client = client.build()?;
        // A burst of one and a period 2% longer than 1/rate, so that `rate` consecutive
        // requests span a little more than a second; `SecondGuard` then holds back any request
        // that scheduling delays bunched up against the one `rate` requests before it.
        let period = Duration::from_secs_f64(1.02 / opts.rate_limit.clamp(1e-3, 1e6));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(NonZeroU32::MIN);
        let limiter = RateLimiter::direct(quota);
        for secret in &opts.secrets {
            crate::logging::add_secret(secret.expose_secret());
        }
        Ok(Transport {
            client,
            base_url: opts.base_url.trim_end_matches('/').to_string(),
            platform: opts.platform,
            limiter,
            guard: SecondGuard::new(opts.rate_limit),
            retry: opts.retry,
            secrets: opts.secrets,
            // A folder named by the caller is used as it is (tests name a fresh one);
            // `ordersync pull` checks it first (`with_dumps`).
            dumps: opts
                .dump_dir
                .and_then(|d| crate::dump::Dumps::explicit(&d).ok()),
            stats: Arc::new(Stats::default()),
            bodies: tokio::sync::Semaphore::new(1),
            timeout: opts.timeout,
            max_body: DEFAULT_MAX_BODY,
        })
    }

    /// Read at most `bytes` of any answer (`--max-body`).
    pub fn with_max_body(mut self, bytes: u64) -> Transport {
        self.max_body = bytes.max(1);
        self
    }

    /// Save malformed bodies with `dumps` (`None`: not at all).
    pub fn with_dumps(mut self, dumps: Option<crate::dump::Dumps>) -> Transport {
        self.dumps = dumps;
        self
    }

    /// The platform id, for messages.
    pub fn platform(&self) -> &'static str {
        self.platform
    }

    /// Send a request built by `build` (called anew for every attempt) and parse the answer
    /// with `parse`, retrying transient failures.
    pub async fn call<T>(
        &self,
        endpoint: &str,
        page: Option<u32>,
        build: impl Fn(chrono::DateTime<Utc>) -> Result<ApiRequest, PlatformError>,
        parse: impl Fn(&[u8]) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_total_delay(Some(self.retry.max_total));
        let max_wait = self.retry.max_wait;
        let attempt = || async {
            let head = async {
                self.limiter.until_ready().await;
                self.guard.wait_turn().await;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                let req = build(Utc::now())?;
                let exchange = is_credentials_exchange(&req);
                self.head(endpoint, &req).await.map(|r| (r, exchange))
            };
            // The place in the queue for reading bodies is taken at once, before the rate
            // limiter is waited for: whichever request the limiter lets out first, bodies are
            // read in the order the calls were made (see `head`).
            let (resp, turn) = tokio::join!(head, self.bodies.acquire());
            let _turn = turn.expect("the body semaphore is never closed");
            let (resp, exchange) = resp?;
            let body = self.body(endpoint, resp).await?;
            if exchange {
                // Whatever token it issues is a secret from now on, and its answer is never
                // saved: a token must not land on disk.
                remember_issued_tokens(&body);
                return parse(&body);
            }
            parse(&body).map_err(|e| self.save_malformed(e, page, &body))
        };
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(PlatformError::is_transient)
            .adjust(|e: &PlatformError, dur| {
                let dur = dur?;
                match e.retry_after() {
                    Some(asked) if asked > max_wait => None,
                    Some(asked) => Some(asked.max(dur)),
                    None => Some(dur),
                }
            })
            .notify(|e: &PlatformError, dur| {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "{}: retrying in {:.1}s after: {}",
                    self.platform,
                    dur.as_secs_f64(),
                    self.redact(&e.to_string())
                );
            })
            .await
    }

    /// Send one request and wait for the head of its answer.
    ///
    /// Requests go out concurrently, but their bodies ([`Transport::body`]) are read and
    /// parsed one at a time, in the order the calls were made: an answer waits in its socket
    /// until the answers asked for before it have been parsed. Parsing runs on one task
    /// anyway, and pages are written in the order they were asked for, so this costs no time;
    /// what it saves is memory: pages that arrive early no longer sit parsed (a MB and more
    /// for 500 trades) behind one that is late, and at most one body is held at a time.
    /// `--timeout` applies to the head and, separately, to reading the body once its turn has
    /// come: an answer waiting behind one that hangs does not time out for it.
    async fn head(
        &self,
        endpoint: &str,
        req: &ApiRequest,
    ) -> Result<reqwest::Response, PlatformError> {
        let url = format!("{}{}", self.base_url, req.path);
        let mut rb = match req.method {
            Method::Get => self.client.get(&url),
            Method::Post => self.client.post(&url),
        };
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        for (k, v) in &req.headers {
            if k.eq_ignore_ascii_case("authorization") {
                // A bearer token (configured or issued) is a secret wherever it shows up.
                let token = v.split_once(' ').map_or(v.as_str(), |(_scheme, t)| t);
                crate::logging::add_secret(token);
            }
            rb = rb.header(k, v);
        }
        rb = match &req.body {
            Body::None => rb,
            Body::Form(f) => rb.form(f),
            Body::Json(v) => rb.json(v),
        };
        tracing::debug!("{} {:?} {}", self.platform, req.method, req.path);
        tokio::time::timeout(self.timeout, rb.send())
            .await
            .map_err(|_| self.timed_out(endpoint))?
            .map_err(|e| self.transport_err(endpoint, &e))
    }

    /// Read the body of an answer (its turn to be read has come); an HTTP error status is an
    /// error once the body has been read.
    async fn body(
        &self,
        endpoint: &str,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, PlatformError> {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read piece by piece into one buffer sized from Content-Length: collecting the pieces
        // first and then joining them held a big page (a few MB of trades) twice.
        let too_large = || PlatformError::TooLarge {
            platform: self.platform,
            endpoint: endpoint.to_string(),
            limit: self.max_body,
        };
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let expected = resp
            .content_length()
            .unwrap_or(0)
            .min(MOST_PREALLOCATED)
            .min(self.max_body);
        let reading = async {
            let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
            // Pieces come inflated when the answer was gzipped: the cap counts what is held.
            while let Some(piece) = resp.chunk().await.transpose() {
                let piece = piece.map_err(|e| self.transport_err(endpoint, &e))?;
                if (body.len() + piece.len()) as u64 > self.max_body {
                    return Err(too_large());
                }
                body.extend_from_slice(&piece);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(self.timeout, reading)
            .await
            .map_err(|_| self.timed_out(endpoint))??;
        tracing::trace!(
            "{} {} answered {} ({} bytes)",
            self.platform,
            endpoint,
            status,
            body.len()
        );
        if status.is_redirection() {
            return Err(PlatformError::Redirect {
                platform: self.platform,
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                to: location_host(resp.headers(), resp.url()),
            });
        }
        if !status.is_success() {
            return Err(PlatformError::Http {
                platform: self.platform,
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                retry_after,
            });
        }
        Ok(body)
    }

    fn transport_err(&self, endpoint: &str, e: &reqwest::Error) -> PlatformError {
        let detail = describe_reqwest(e);
        let host = host_and_port(&self.base_url);
        if e.is_connect() && is_dns_failure(e) {
            return PlatformError::Unresolved {
                platform: self.platform,
                endpoint: endpoint.to_string(),
                host,
                detail,
            };
        }
        PlatformError::Transport {
            platform: self.platform,
            endpoint: endpoint.to_string(),
            // The host and port, never the URL (whose query may carry a token or signature).
            detail: if e.is_connect() {
                format!("{detail} (to {host}, the shop's base_url)")
            } else {
                detail
            },
        }
    }

    fn timed_out(&self, endpoint: &str) -> PlatformError {
        PlatformError::Transport {
            platform: self.platform,
            endpoint: endpoint.to_string(),
            detail: format!(
                "the request timed out (no answer within {}s)",
                self.timeout.as_secs_f64()
            ),
        }
    }

    /// Remove every secret from a text (this shop's, and every other known one).
    pub fn redact(&self, text: &str) -> String {
        crate::logging::redact(&redact(text, &self.secrets))
    }

    /// Save the raw body of a malformed response (secrets removed) and name the file.
    fn save_malformed(&self, err: PlatformError, page: Option<u32>, body: &[u8]) -> PlatformError {
        match err {
            PlatformError::Malformed {
                platform,
                endpoint,
                page: p,
                path,
                detail,
                saved_body: None,
            } => {
                let saved_body = self.save_body(platform, &endpoint, body);
                PlatformError::Malformed {
                    platform,
                    endpoint,
                    page: p.or(page),
                    path,
                    detail,
                    saved_body,
                }
            }
            PlatformError::Garbled {
                platform,
                endpoint,
                page: p,
                detail,
                saved_body: None,
            } => {
                let saved_body = self.save_body(platform, &endpoint, body);
                PlatformError::Garbled {
                    platform,
                    endpoint,
                    page: p.or(page),
                    detail,
                    saved_body,
                }
            }
            other => other,
        }
    }

    /// Write a body (secrets removed) into the dump folder; the path, when it worked.
    fn save_body(&self, platform: &str, endpoint: &str, body: &[u8]) -> Option<PathBuf> {
        self.dumps.as_ref()?.save(platform, endpoint, body)
    }
}

/// Whether a request exchanges credentials for a token (OAuth2's `grant_type`, or a
/// `client_secret` or `refresh_token` sent along): its answer carries a token.
fn is_credentials_exchange(req: &ApiRequest) -> bool {
    const KEYS: [&str; 3] = ["grant_type", "client_secret", "refresh_token"];
    let named = |k: &str| KEYS.iter().any(|x| k.eq_ignore_ascii_case(x));
    req.query.iter().any(|(k, _)| named(k))
        || match &req.body {
            Body::None => false,
            Body::Form(f) => f.iter().any(|(k, _)| named(k)),
            Body::Json(v) => v.as_object().is_some_and(|m| m.keys().any(|k| named(k))),
        }
}

/// Remember every token a credentials exchange answered with: any text member whose name
/// says token (`access_token`, `refresh_token`, `id_token`, ...), at any depth.
fn remember_issued_tokens(body: &[u8]) {
    fn walk(v: &serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        serde_json::Value::String(t)
                            if k.to_ascii_lowercase().contains("token") =>
                        {
                            crate::logging::add_secret(t);
                        }
                        other => walk(other),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(walk),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        walk(&v);
    }
}

/// Redirects are followed only within the origin (scheme, host, port) they come from, five at
/// most: a request carries its signature, token or client secret in its query, headers or
/// body, and following a redirect would send them to whoever the `Location` names. A redirect
/// that is not followed is answered as it is, and [`Transport::body`] makes it an error.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if same && attempt.previous().len() <= 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Replace each secret in `text` with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[SecretString]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let s = s.expose_secret();
        if s.len() >= 4 && out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}

/// Where a redirect points, for the message: its host and port only (its path and query may
/// carry a token).
fn location_host(headers: &reqwest::header::HeaderMap, base: &reqwest::Url) -> String {
    let Some(location) = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return "nowhere (no Location header)".into();
    };
    match base.join(location) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "an address without a host".into(),
        },
        Err(_) => "an unreadable Location".into(),
    }
}

/// `host:port` of a base URL, for messages (no path, no query).
fn host_and_port(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| "the configured host".into())
}

/// Whether a connect error is a failed name lookup (hyper-util reports it as "dns error").
fn is_dns_failure(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        source = s.source();
    }
    false
}

/// A reqwest error described without its URL (which may carry a token or signature).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering `GET /slow` with its head and its body each `pause` late, anything
    /// else at once, and never answering `GET /never`.
    async fn pausing_server(pause: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = sock.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        head.extend_from_slice(&buf[..n]);
                    }
                    let line = String::from_utf8_lossy(&head)
                        .lines()
                        .next()
                        .unwrap()
                        .to_string();
                    if line.contains("/never") {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let slow = line.contains("/slow");
                    if slow {
                        tokio::time::sleep(pause).await;
                    }
                    let reply =
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
                    sock.write_all(reply).await.unwrap();
                    sock.flush().await.unwrap();
                    if slow {
                        tokio::time::sleep(pause).await;
                    }
                    let _ = sock.write_all(b"hello").await;
                });
            }
        });
        format!("http://{addr}")
    }

    fn transport(base_url: String, timeout: Duration) -> Transport {
        Transport::new(TransportOptions {
            platform: "test",
            base_url,
            rate_limit: 1000.0,
            timeout,
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            secrets: Vec::new(),
            dump_dir: None,
        })
        .unwrap()
    }

    async fn get(t: &Transport, path: &str) -> Result<Vec<u8>, PlatformError> {
        let build = |_| {
            Ok(ApiRequest {
                method: Method::Get,
                path: path.to_string(),
                query: Vec::new(),
                headers: Vec::new(),
                body: Body::None,
            })
        };
        t.call(path, None, build, |b| Ok(b.to_vec())).await
    }

    /// The head and the body each get `--timeout`, and an answer waiting for its turn to be
    /// read is not timed meanwhile: here the slow answer takes 1.4 timeouts in all and the
    /// fast one, sent after it, waits as long for its turn.
    #[tokio::test]
    async fn an_answer_waiting_behind_a_slow_one_does_not_time_out() {
        let base = pausing_server(Duration::from_millis(350)).await;
        let t = transport(base, Duration::from_millis(500));
        let started = std::time::Instant::now();
        let (slow, fast) = tokio::join!(get(&t, "/slow"), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            get(&t, "/fast").await
        });
        assert_eq!(slow.unwrap(), b"hello");
        assert_eq!(fast.unwrap(), b"hello");
        assert!(started.elapsed() >= Duration::from_millis(700));
    }

    #[tokio::test]
    async fn no_answer_is_a_timeout() {
        let base = pausing_server(Duration::ZERO).await;
        let t = transport(base, Duration::from_millis(200));
        let err = get(&t, "/never").await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
    }

    /// However the requests bunch up, no `rate + 1` of them leave within `GUARD_SPAN`.
    #[tokio::test(start_paused = true)]
    async fn the_guard_keeps_rate_requests_per_second() {
        let guard = SecondGuard::new(5.0);
        let t0 = Instant::now();
        let mut sent = Vec::new();
        for i in 0..16u64 {
            // Some requests come late, some all at once.
            if i % 4 == 3 {
                tokio::time::sleep(Duration::from_millis(130)).await;
            }
            guard.wait_turn().await;
            sent.push(Instant::now() - t0);
        }
        for (i, pair) in sent.windows(6).enumerate() {
            assert!(
                pair[5] - pair[0] >= GUARD_SPAN,
                "requests {i}..{}: {sent:?}",
                i + 5
            );
        }
        // The first five go at once; it never waits longer than it must.
        assert!(sent[4] < Duration::from_millis(200), "{sent:?}");
        assert_eq!(sent[5], sent[0] + GUARD_SPAN);
    }
}
