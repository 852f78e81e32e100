//! vv-tool's access token: a configured `access_token`, or one obtained from `client_id` +
//! `client_secret` at `POST /api/proxy/oauth/token` (`grant_type=client_credentials`),
//! cached until shortly before its `expires_in`, and fetched anew once when a call is refused
//! as unauthenticated.

use super::answer::{api_error, envelope};
use super::{ID, TOKEN, Vvtool};
use crate::error::{ErrorClass, PlatformError};
use crate::platforms::json::Json;
use crate::platforms::{ApiRequest, Body, Call, Exchange, Method, parse_json};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};

/// A token obtained from the token endpoint.
pub(super) struct Fetched {
    token: SecretString,
    /// When to fetch the next one (shortly before `expires_in` runs out).
    refresh_at: Option<Instant>,
}

impl Vvtool {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Option<Fetched>> {
        self.fetched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token to send: a fetched one, else the configured one.
    pub(super) fn token(&self) -> Result<SecretString, PlatformError> {
        if let Some(f) = self.lock().as_ref() {
            return Ok(f.token.clone());
        }
        self.configured_token
            .clone()
            .ok_or_else(|| PlatformError::Request {
                platform: ID,
                message: "no access token yet: the client-credentials exchange has not run".into(),
            })
    }

    /// Whether a token must be fetched before the next call.
    pub(super) fn needs_token(&self) -> bool {
        if self.client.is_none() {
            return false;
        }
        match self.lock().as_ref() {
            Some(f) => f.refresh_at.is_some_and(|at| Instant::now() >= at),
            None => self.configured_token.is_none(),
        }
    }

    /// The client-credentials exchange for a fresh token, cached when its answer is read.
    pub(super) fn token_exchange(&self) -> Box<dyn Exchange<'_, ()> + '_> {
        Box::new(TokenExchange {
            a: self,
            sent: false,
        })
    }
}

const TOKEN_HINT: &str = "the token exchange was refused: check client_id and client_secret";

fn e_status(e: &PlatformError) -> String {
    match e {
        PlatformError::Http { status, .. } => status.to_string(),
        _ => String::new(),
    }
}

/// Client credentials exchanged for a token at [`TOKEN`].
struct TokenExchange<'a> {
    a: &'a Vvtool,
    sent: bool,
}

impl<'a> Exchange<'a, ()> for TokenExchange<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        if std::mem::replace(&mut self.sent, true) {
            return None;
        }
        let client = self.a.client.as_ref();
        Some(Call {
            endpoint: TOKEN,
            page: None,
            build: Box::new(move |_now| {
                let Some((client_id, client_secret)) = client else {
                    return Err(PlatformError::Request {
                        platform: ID,
                        message: "cannot fetch an access token without client_id and client_secret"
                            .into(),
                    });
                };
                Ok(ApiRequest {
                    method: Method::Post,
                    path: TOKEN.to_string(),
                    query: Vec::new(),
                    headers: Vec::new(),
                    body: Body::Form(vec![
                        ("grant_type".into(), "client_credentials".into()),
                        ("client_id".into(), client_id.clone()),
                        (
                            "client_secret".into(),
                            client_secret.expose_secret().to_string(),
                        ),
                    ]),
                })
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let (token, expires_in) = parse_token(body)?;
        let refresh_at = expires_in.map(|secs| {
            let margin = (secs / 5).min(300);
            Instant::now() + Duration::from_secs(secs.saturating_sub(margin))
        });
        *self.a.lock() = Some(Fetched { token, refresh_at });
        Ok(())
    }

    /// A refusal of the exchange is a credentials problem, whatever its code.
    fn refused(&self, e: PlatformError) -> PlatformError {
        match e {
            PlatformError::Api {
                platform,
                endpoint,
                code,
                kind,
                message,
                request_id,
                class,
                hint,
                retry_after,
            } if class != ErrorClass::Transient => PlatformError::Api {
                platform,
                endpoint,
                code,
                kind,
                message,
                request_id,
                class: ErrorClass::Auth,
                hint: hint.or_else(|| Some(TOKEN_HINT.into())),
                retry_after,
            },
            PlatformError::Http {
                status: 400 | 401 | 403,
                ..
            } => PlatformError::Api {
                platform: ID,
                endpoint: TOKEN.into(),
                code: e_status(&e),
                kind: None,
                message: "the token exchange was refused".into(),
                request_id: None,
                class: ErrorClass::Auth,
                hint: Some(TOKEN_HINT.into()),
                retry_after: None,
            },
            other => other,
        }
    }

    fn finish(self: Box<Self>) -> Result<(), PlatformError> {
        Ok(())
    }
}

/// Whether an error says the token itself was refused (not the shop or the interface).
pub(super) fn is_token_refusal(err: &PlatformError) -> bool {
    match err {
        PlatformError::Http { status, .. } => *status == 401,
        PlatformError::Api {
            code,
            message,
            class,
            ..
        } => *class == ErrorClass::Auth && (code == "401" || mentions_token(message)),
        _ => false,
    }
}

pub(super) fn mentions_token(msg: &str) -> bool {
    let m = msg.to_lowercase();
    ["token", "unauthenticated", "unauthorized", "过期", "令牌"]
        .iter()
        .any(|w| m.contains(w))
}

/// Parse a token answer: `{"code": 0, "data": {"access_token", "token_type", "expires_in",
/// "scope"}}` (the bare OAuth2 object is accepted too). Returns the token and its lifetime.
pub(super) fn parse_token(body: &[u8]) -> Result<(SecretString, Option<u64>), PlatformError> {
    let v: Json = parse_json(body, ID, TOKEN, None)?;
    let (code, msg) = envelope(&v);
    if let Some(code) = code.filter(|c| c != "0") {
        return Err(api_error(TOKEN, code, msg, v.get("data")));
    }
    let data = match v.get("data") {
        Some(d @ Json::Object(_)) => d,
        _ => &v,
    };
    let token = match data.get("access_token") {
        Some(Json::String(s)) if !s.trim().is_empty() => SecretString::from(s.trim().to_string()),
        _ => {
            return Err(PlatformError::Malformed {
                platform: ID,
                endpoint: TOKEN.into(),
                page: None,
                path: "$.data.access_token".into(),
                detail: "missing or empty".into(),
                saved_body: None,
            });
        }
    };
    let expires_in = match data.get("expires_in") {
        Some(Json::Number(n)) => n.as_u64(),
        Some(Json::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok((token, expires_in))
}
