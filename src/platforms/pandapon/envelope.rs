//! PandaPon's answer envelope and its errors: `code == 200` with `data: {total, data: [...]}`
//! (the 1688 page repeats a code inside `data`); an answer without the order list is an error,
//! never "no orders"; error codes are not documented, so they are classed by range and words,
//! and a refused signature names the scheme in use and the others.

use super::{AmountUnit, Endpoint, Scheme};
use crate::error::{ErrorClass, PlatformError};
use crate::platforms::{TextOrNumber, parse_json};
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

/// The envelope without its data: checked first, so an error envelope whose `data` has an
/// unexpected shape is still reported as the platform's error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Head {
    pub(super) request_id: Option<TextOrNumber>,
    pub(super) code: Option<TextOrNumber>,
    pub(super) msg: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    data: Option<PageData<T>>,
}

/// Head and data in one parse (the common case: a well-formed answer).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Whole<T> {
    request_id: Option<TextOrNumber>,
    code: Option<TextOrNumber>,
    msg: Option<Value>,
    data: Option<PageData<T>>,
}

#[derive(Deserialize)]
pub(super) struct PageData<T> {
    total: Option<TextOrNumber>,
    data: Option<Vec<T>>,
    /// The 1688 page repeats a code and message inside `data`.
    code: Option<TextOrNumber>,
    msg: Option<Value>,
}

pub(super) fn value_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Check the envelope and return the page's wire orders and `data.total`.
pub(super) fn parse_page<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    page: Option<u32>,
    ctx: &Ctx,
) -> Result<(Vec<T>, Option<u64>), PlatformError> {
    let platform = ctx.endpoint.id();
    let endpoint = ctx.endpoint.path();
    // One pass reads head and data together. Only when that fails is the head read alone, so
    // an error answer whose `data` has an unexpected shape is still the platform's error.
    let whole: serde_json::Result<Whole<T>> = crate::platforms::json::over_body!(body, |de| {
        Whole::<T>::deserialize(&mut de).and_then(|v| de.end().map(|()| v))
    });
    let (head, data) = match whole {
        Ok(w) => (
            Head {
                request_id: w.request_id,
                code: w.code,
                msg: w.msg,
            },
            w.data,
        ),
        Err(_) => {
            let head: Head = parse_json(body, platform, endpoint, page)?;
            if head
                .code
                .clone()
                .map(TextOrNumber::into_string)
                .as_deref()
                .map(str::trim)
                == Some("200")
            {
                let env: Envelope<T> = parse_json(body, platform, endpoint, page)?;
                (head, env.data)
            } else {
                (head, None)
            }
        }
    };
    let request_id = head.request_id.map(TextOrNumber::into_string);
    let Some(code) = head.code.map(TextOrNumber::into_string) else {
        return Err(malformed(
            ctx,
            page,
            "$.code",
            "the answer has no code".into(),
        ));
    };
    if code.trim() != "200" {
        return Err(api_error(ctx, code, value_text(head.msg), request_id));
    }
    let Some(data) = data else {
        return Err(malformed(
            ctx,
            page,
            "$.data",
            "code is 200 but there is no data".into(),
        ));
    };
    if let Some(inner) = data.code.map(TextOrNumber::into_string)
        && inner.trim() != "200"
    {
        return Err(api_error(ctx, inner, value_text(data.msg), request_id));
    }
    let total =
        match data.total.map(TextOrNumber::into_string) {
            None => None,
            Some(t) => Some(t.trim().parse::<u64>().map_err(|_| {
                malformed(ctx, page, "$.data.total", format!("{t:?} is not a count"))
            })?),
        };
    // An answer without the order list is not "no orders": only an explicit total of 0 may
    // leave it out.
    match (data.data, total) {
        (Some(orders), _) => Ok((orders, total)),
        (None, Some(0)) => Ok((Vec::new(), total)),
        (None, _) => Err(malformed(
            ctx,
            page,
            "$.data.data",
            "code is 200 but data holds no order list (and no total of 0)".into(),
        )),
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
