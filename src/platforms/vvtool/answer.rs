//! What a vv-tool answer says besides its trades: its `code` and `msg`, and every code of the
//! vendor's table explained with the vendor's advice. Code 614 covers throttling and timeouts
//! (retried) as well as bad parameters (not retried), told apart by `msg`.

use super::ID;
use super::token::mentions_token;
use crate::error::{ErrorClass, PlatformError};
use crate::platforms::json::Json;

/// The code and message of an answer.
pub(super) fn envelope(v: &Json) -> (Option<String>, String) {
    let code = match v.get("code") {
        Some(Json::Number(n)) => Some(n.to_string()),
        Some(Json::String(s)) => Some(s.trim().to_string()),
        _ => None,
    };
    let msg = match v.get("msg").or_else(|| v.get("message")) {
        Some(Json::String(s)) => s.to_string(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    (code, msg)
}

pub(super) fn api_error(
    endpoint: &str,
    code: String,
    message: String,
    data: Option<&Json>,
) -> PlatformError {
    let (class, mut hint) = classify(&code, &message);
    // 302 answers carry the authorisation link to scan.
    if code == "302"
        && let Some(link) = data.and_then(find_link)
    {
        hint = format!("{hint}: {link}");
    }
    PlatformError::Api {
        platform: ID,
        endpoint: endpoint.to_string(),
        code,
        kind: None,
        message,
        request_id: None,
        class,
        hint: Some(hint),
        retry_after: None,
    }
}

fn find_link(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if s.starts_with("http") => Some(s.to_string()),
        Json::Object(_) => v.entries().into_iter().find_map(|(_, v)| find_link(v)),
        _ => None,
    }
}

/// Every code of the vendor's table, with its advice. 614 is Taobao's own error passed
/// through: throttling and timeouts are worth a retry, bad parameters are not.
pub fn classify(code: &str, msg: &str) -> (ErrorClass, String) {
    let m = msg.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    let (class, advice): (ErrorClass, &str) = match code {
        "100" => (
            ErrorClass::Invalid,
            "the request parameters were refused: check them",
        ),
        "101" => (
            ErrorClass::Transient,
            "the request timed out (retried); check the network or contact vv-tool support",
        ),
        "103" => (
            ErrorClass::Invalid,
            "the Wangwang (seller) account does not exist: check the account this shop_id names",
        ),
        "200" => (
            ErrorClass::Other,
            "vv-tool system error: check that base_url points at the API \
             (https://api.vv-tool.com); otherwise contact vv-tool support",
        ),
        "202" => (
            ErrorClass::Transient,
            "vv-tool system error, worth retrying later (or ask in the vendor's integration group)",
        ),
        "203" => (
            ErrorClass::Other,
            "vv-tool does not support this interface yet",
        ),
        "204" if has(&["次数", "quota"]) => (
            ErrorClass::Auth,
            "the API call quota is used up: top it up on the vv-tool website",
        ),
        "204" => (
            ErrorClass::Auth,
            "no permission for this interface: enable the production interface on the vv-tool website",
        ),
        "302" => (
            ErrorClass::Auth,
            "the shop has not authorised vv-tool: scan the authorisation QR code from the link \
             in vv-tool's answer",
        ),
        "303" => (
            ErrorClass::Auth,
            "the shop has not subscribed to this vv-tool service",
        ),
        "401" => (
            ErrorClass::Auth,
            "the access token was refused: renew access_token, or configure client_id and \
             client_secret so that tokens are fetched automatically",
        ),
        "501" => (ErrorClass::Invalid, "the order was not found"),
        "614" if has(&["超时", "timeout", "timed out"]) => (
            ErrorClass::Transient,
            "Taobao timed out (retried): ask for fewer than 50 trades per page over less than \
             half an hour (--window 30m), avoid the peak hours 09:30-11:00, 14:00-17:00 and \
             20:00-22:30, or use --by modified (tool/erps/increment)",
        ),
        "614"
            if has(&[
                "限流", "频繁", "拒绝", "limit", "throttl", "frequen", "busy",
            ]) =>
        {
            (
                ErrorClass::Transient,
                "throttled (retried after a pause): call less often (lower rate_limit) and avoid \
             peak hours",
            )
        }
        "614" if has(&["用户不存在", "user not exist", "user does not exist"]) => (
            ErrorClass::Invalid,
            "the user does not exist: nicks with spaces or colons, or shorter than 5 or longer \
             than 20 characters, are refused",
        ),
        "614" if has(&["seller_nick"]) => (ErrorClass::Invalid, "fill in the correct seller nick"),
        "614" if has(&["不合法的参数"]) => (
            ErrorClass::Invalid,
            "the creation start and end times must not be empty",
        ),
        "614" if has(&["非法的参数"]) && has(&["卖家", "seller"]) => (
            ErrorClass::Invalid,
            "the seller id is invalid: check shop_id",
        ),
        "614" if has(&["参数", "param", "invalid"]) => {
            (ErrorClass::Invalid, "check the parameters sent")
        }
        "614" => (
            ErrorClass::Other,
            "Taobao's own error, passed through by vv-tool",
        ),
        _ if mentions_token(msg) => (
            ErrorClass::Auth,
            "the access token was refused: renew access_token, or configure client_id and \
             client_secret",
        ),
        _ => (ErrorClass::Other, "an error code vv-tool does not document"),
    };
    (class, advice.to_string())
}
