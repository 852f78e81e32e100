//! PandaPon's answer envelope and its errors: `code == 200` with `data: {total, data: [...]}`
//! (the 1688 page repeats a code inside `data`; the page is read and checked by `page`); error
//! codes are not documented, so they are classed by range and words, and a refused signature
//! names the scheme in use and the others.

use super::{AmountUnit, Endpoint, Scheme};
use crate::error::{ErrorClass, PlatformError};
use crate::platforms::TextOrNumber;
use serde::Deserialize;
use serde_json::Value;

/// What parsing needs to know besides the body.
pub(super) struct Ctx<'a> {
    pub(super) endpoint: Endpoint,
    pub(super) shop: &'a str,
    /// The scheme the request was signed with (none for saved bodies).
    pub(super) scheme: Option<Scheme>,
    /// How the Taobao page's amounts are read.
    pub(super) amount_unit: AmountUnit,
}

/// The envelope without its data: read alone when a page does not read, so an error envelope
/// whose `data` has an unexpected shape is still reported as the platform's error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Head {
    pub(super) request_id: Option<TextOrNumber>,
    pub(super) code: Option<TextOrNumber>,
    pub(super) msg: Option<Value>,
}

pub(super) fn value_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

pub(super) fn malformed(ctx: &Ctx, page: Option<u32>, path: &str, detail: String) -> PlatformError {
    PlatformError::malformed(ctx.endpoint.id(), ctx.endpoint.path(), page, path, detail)
}

pub(super) fn api_error(
    ctx: &Ctx,
    code: String,
    message: String,
    request_id: Option<String>,
) -> PlatformError {
    let class = classify(&code, &message);
    PlatformError::Api {
        platform: ctx.endpoint.id(),
        endpoint: ctx.endpoint.path().to_string(),
        hint: hint(ctx, class, &message),
        code,
        kind: None,
        message,
        request_id,
        class,
        retry_after: None,
    }
}

pub(super) fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

pub(super) const THROTTLE_WORDS: &[&str] = &["频繁", "限流", "limit", "too many", "throttl"];
pub(super) const CLOCK_WORDS: &[&str] = &["timestamp", "时间戳", "expired", "过期"];
pub(super) const AUTH_WORDS: &[&str] = &[
    "sign",
    "签名",
    "access-key",
    "accesskey",
    "access_key",
    "secret",
    "密钥",
    "user-id",
    "userid",
    "auth",
    "认证",
    "鉴权",
    "permission",
    "权限",
    "forbidden",
    "nonce",
];
pub(super) const BUSY_WORDS: &[&str] =
    &["繁忙", "busy", "系统异常", "timeout", "超时", "unavailable"];

/// PandaPon's error codes are not documented; it answers HTTP-like codes (`200` is success),
/// so the class comes from the code's range and the message's words.
pub(super) fn classify(code: &str, message: &str) -> ErrorClass {
    let msg = message.to_lowercase();
    let n: Option<u32> = code.trim().parse().ok();
    if n == Some(429) || contains_any(&msg, THROTTLE_WORDS) {
        return ErrorClass::Transient;
    }
    if matches!(n, Some(401 | 403))
        || contains_any(&msg, CLOCK_WORDS)
        || contains_any(&msg, AUTH_WORDS)
    {
        return ErrorClass::Auth;
    }
    if matches!(n, Some(500..=599)) || contains_any(&msg, BUSY_WORDS) {
        return ErrorClass::Transient;
    }
    if matches!(n, Some(400..=499)) {
        return ErrorClass::Invalid;
    }
    ErrorClass::Other
}

pub(super) fn hint(ctx: &Ctx, class: ErrorClass, message: &str) -> Option<String> {
    if class != ErrorClass::Auth {
        return None;
    }
    let msg = message.to_lowercase();
    if contains_any(&msg, CLOCK_WORDS) && !msg.contains("sign") && !msg.contains("签名") {
        return Some(
            "the request time was refused (PandaPon allows 600 s of clock difference): check this machine's clock"
                .into(),
        );
    }
    Some(match ctx.scheme {
        Some(scheme) => {
            let others: Vec<&str> = Scheme::ALL
                .into_iter()
                .filter(|s| *s != scheme)
                .map(Scheme::name)
                .collect();
            format!(
                "the request was signed with signature scheme `{scheme}`{default}; PandaPon does not \
                 publish its formula. If access_key, secret_key and user_id of shop {shop:?} are right, set \
                 `signature_scheme` in that shop's config to one of the others: {}; \
                 `ordersync config check --online --shop {shop} --probe-signature` tries each",
                others.join(", "),
                shop = ctx.shop,
                default = if scheme == Scheme::DEFAULT {
                    " (the default)"
                } else {
                    ""
                },
            )
        }
        None => format!(
            "the credentials or signature were refused; the signature schemes are: {}",
            Scheme::names()
        ),
    })
}
