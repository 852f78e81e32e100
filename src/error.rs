//! Error types callers must tell apart, and the exit codes they map to.
//!
//! Inside the crate, platform failures are a typed [`PlatformError`] (so retries can ask
//! [`PlatformError::is_transient`]); at the top, everything is an `anyhow::Error` whose chain is
//! searched by [`exit_code`]. Messages never contain secrets: request URLs, query strings and
//! headers are never formatted into an error.

use std::path::PathBuf;
use std::time::Duration;

/// Process exit codes, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Auth = 3,
    GaveUp = 4,
    /// `verify`: a window of the mirror disagrees with the platform.
    Disagree = 5,
}

/// `ordersync verify` found windows where the mirror and the platform disagree: exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Disagreement(pub String);

/// Another run holds the state file's lock (exit code 4: try again later).
#[derive(Debug, thiserror::Error)]
#[error(
    "another ordersync run is using the state file {0} (lock {0}.lock is held); this run stops without pulling. Try again when it has finished"
)]
pub struct Locked(pub String);

/// A usage or configuration mistake: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Build a [`UsageError`] wrapped in `anyhow`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The run took longer than `--give-up-after`: exit code 4, like giving up on retries.
#[derive(Debug, thiserror::Error)]
#[error(
    "gave up: the run took longer than --give-up-after {0}; the state is at the last complete window"
)]
pub struct GaveUp(pub String);

/// What kind of failure a platform error is, for retries and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Credentials, signature, token or permission refused: exit 3, never retried.
    Auth,
    /// Throttling, timeouts, busy servers: retried, exit 4 after giving up.
    Transient,
    /// Our request was wrong (bad parameter, range too long): not retried.
    Invalid,
    /// Anything else the platform said.
    Other,
}

/// A failure talking to a platform.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The platform answered with an error envelope.
    #[error("{platform} {endpoint}: the platform answered code {code}{kind}: {message}{request_id}{hint}",
        kind = kind.as_deref().map(|k| format!(" (type {k})")).unwrap_or_default(),
        request_id = request_id.as_deref().map(|r| format!(" [request id {r}]")).unwrap_or_default(),
        hint = hint.as_deref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Api {
        platform: &'static str,
        endpoint: String,
        code: String,
        kind: Option<String>,
        message: String,
        request_id: Option<String>,
        class: ErrorClass,
        hint: Option<String>,
        retry_after: Option<Duration>,
    },
    /// A non-success HTTP status.
    #[error("{platform} {endpoint}: HTTP status {status}")]
    Http {
        platform: &'static str,
        endpoint: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    /// A redirect that was not followed: to another origin (the request's signature, token
    /// or secrets would go along), or one too many.
    #[error(
        "{platform} {endpoint}: HTTP status {status}, a redirect to {to}, not followed: a redirect to another host would carry the credentials there; check base_url"
    )]
    Redirect {
        platform: &'static str,
        endpoint: String,
        status: u16,
        /// The `Location`'s host (and port).
        to: String,
    },
    /// The answer is bigger than `--max-body` (once inflated, when it came compressed).
    #[error(
        "{platform} {endpoint}: the answer is larger than {limit} bytes (--max-body); not read further"
    )]
    TooLarge {
        platform: &'static str,
        endpoint: String,
        limit: u64,
    },
    /// The request never got an answer (connection refused or reset, timeout).
    #[error("{platform} {endpoint}: {detail}")]
    Transport {
        platform: &'static str,
        endpoint: String,
        detail: String,
    },
    /// The answer is not complete JSON (cut off, garbled): most often a broken connection.
    #[error("{platform} {endpoint}{page}: the answer is not valid JSON ({detail}){saved}",
        page = page.map(|p| format!(" page {p}")).unwrap_or_default(),
        saved = saved_body.as_ref().map(|p| format!(" (raw body saved to {})", p.display())).unwrap_or_default())]
    Garbled {
        platform: &'static str,
        endpoint: String,
        page: Option<u32>,
        detail: String,
        saved_body: Option<PathBuf>,
    },
    /// The answer is JSON but not what the platform documents.
    #[error("{platform} {endpoint}{page}: malformed response at {path}: {detail}{saved}",
        page = page.map(|p| format!(" page {p}")).unwrap_or_default(),
        saved = saved_body.as_ref().map(|p| format!(" (raw body saved to {})", p.display())).unwrap_or_default())]
    Malformed {
        platform: &'static str,
        endpoint: String,
        page: Option<u32>,
        path: String,
        detail: String,
        saved_body: Option<PathBuf>,
    },
    /// The answer contradicts itself or the window's other answers (a total with no orders,
    /// `has_next` on an empty page, a short page that is not the last). Trusting it would
    /// complete a window with orders missing and move the state past them, so it is asked
    /// again like a garbled answer, and the window fails when it keeps contradicting itself.
    #[error("{platform} {endpoint}{page}: the answer contradicts itself: {detail}",
        page = page.map(|p| format!(" page {p}")).unwrap_or_default())]
    Contradiction {
        platform: &'static str,
        endpoint: String,
        page: Option<u32>,
        detail: String,
    },
    /// The shop's host name does not resolve: a typo in `base_url` or no DNS. Not retried for
    /// minutes (it seldom mends itself within a run); the next run tries again.
    #[error(
        "{platform} {endpoint}: cannot resolve the host {host} (the shop's base_url): check the name, and that this machine can look names up ({detail})"
    )]
    Unresolved {
        platform: &'static str,
        endpoint: String,
        host: String,
        detail: String,
    },
    /// A request could not be built (bad local input such as a range the platform cannot serve).
    #[error("{platform}: {message}")]
    Request {
        platform: &'static str,
        message: String,
    },
}

impl PlatformError {
    /// An answer that parsed but does not say what it should, at JSON `path`.
    pub fn malformed(
        platform: &'static str,
        endpoint: &str,
        page: Option<u32>,
        path: impl Into<String>,
        detail: String,
    ) -> PlatformError {
        PlatformError::Malformed {
            platform,
            endpoint: endpoint.to_string(),
            page,
            path: path.into(),
            detail,
            saved_body: None,
        }
    }

    /// The class used for retries and exit codes.
    pub fn class(&self) -> ErrorClass {
        match self {
            PlatformError::Api { class, .. } => *class,
            PlatformError::Http { status, .. } => match status {
                401 | 403 => ErrorClass::Auth,
                408 | 429 | 500..=599 => ErrorClass::Transient,
                _ => ErrorClass::Other,
            },
            // A cut-off body is most often a fault of the connection; retrying is safe because
            // list calls are idempotent. A well-formed answer of the wrong shape will not get
            // better by asking again.
            PlatformError::Transport { .. }
            | PlatformError::Garbled { .. }
            | PlatformError::Contradiction { .. } => ErrorClass::Transient,
            PlatformError::Malformed { .. }
            | PlatformError::Redirect { .. }
            | PlatformError::TooLarge { .. }
            | PlatformError::Unresolved { .. } => ErrorClass::Other,
            PlatformError::Request { .. } => ErrorClass::Invalid,
        }
    }

    /// Worth another try after a pause.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// A delay the platform asked for (`Retry-After`, "ban will last N seconds").
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Api { retry_after, .. } | PlatformError::Http { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The platform's own error code, when it gave one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            PlatformError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The exit code for an error chain.
pub fn exit_code(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return Exit::Usage;
        }
        if cause.downcast_ref::<Disagreement>().is_some() {
            return Exit::Disagree;
        }
        if cause.downcast_ref::<Locked>().is_some()
            || cause.downcast_ref::<GaveUp>().is_some()
            || cause.downcast_ref::<crate::store::ShopBusy>().is_some()
        {
            return Exit::GaveUp;
        }
        if let Some(d) = cause.downcast_ref::<crate::store::DbError>() {
            return if d.transient {
                Exit::GaveUp
            } else {
                Exit::Failure
            };
        }
        if let Some(p) = cause.downcast_ref::<PlatformError>() {
            return match p.class() {
                ErrorClass::Auth => Exit::Auth,
                ErrorClass::Transient => Exit::GaveUp,
                ErrorClass::Invalid => Exit::Usage,
                ErrorClass::Other => Exit::Failure,
            };
        }
    }
    Exit::Failure
}

/// Whether the chain holds a broken pipe (`ordersync pull | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Parse "ban will last 31062 more seconds"-style text (Taobao) into a delay.
pub fn ban_seconds(message: &str) -> Option<Duration> {
    let idx = message.find("last")?;
    let rest = &message[idx + 4..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_class() {
        let e = anyhow::Error::new(PlatformError::Http {
            platform: "vvtool",
            endpoint: "/x".into(),
            status: 503,
            retry_after: None,
        });
        assert_eq!(exit_code(&e), Exit::GaveUp);
        assert_eq!(exit_code(&usage("bad")), Exit::Usage);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), Exit::Failure);
    }

    #[test]
    fn ban_text_is_parsed() {
        assert_eq!(
            ban_seconds("App Call Limited, This ban will last 31062 more seconds"),
            Some(Duration::from_secs(31062))
        );
        assert_eq!(ban_seconds("nothing here"), None);
    }
}
