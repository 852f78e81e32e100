//! Reading a list answer, one reader for `pull` and `normalize` alike: trade by trade as the
//! body is parsed (the tree of one trade at a time, borrowed from the body, never the tree of
//! the page), its envelope checked (`code`, `data.total`, `data.items`), an error answer
//! classified from its message.

use super::{ID, LIST};
use crate::error::{ErrorClass, PlatformError};
use crate::model::Order;
use crate::platforms::json::{self, Json, Streamed, Under};
use crate::platforms::trade::{Origin, TRADE, TRADE_LIST, collect};
use crate::platforms::{Deferred, PlatformId, SavedOptions, parse_json_shaped};

/// `{"code", "message", "data": {"total", "items": [Trade, ...]}}`, trades as the normalizer
/// reads them.
static LIST_SHAPE: Under = Under {
    key: "data",
    shape: &Under {
        key: "items",
        shape: &TRADE_LIST,
    },
};

/// Where an answer came from: a page of a pull, or a saved answer (no page).
fn origin(page: Option<u32>) -> Origin {
    Origin {
        platform: ID,
        endpoint: LIST,
        page,
    }
}

/// Read a list answer trade by trade into `emit`, each trade handed over before it is
/// normalized; `emit` returns `false` to stop. Returns `data.total` (`None` when stopped).
///
/// Trades are handed over as they are parsed only once `code` (0) and `data.total`, if any,
/// have been read and are in order, so an error answer never yields orders; anything else
/// (`code` after `data`, a body that breaks off) falls back to a read of the whole tree,
/// which names what is wrong and hands over the trades not handed over yet. So an answer
/// fails with the same error however it is read.
pub fn read_list<'a>(
    body: &'a [u8],
    shop: &'a str,
    page: Option<u32>,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<Option<u64>, PlatformError> {
    let at = origin(page);
    let mut each = |index: usize, _: &str, trade: Json<'a>| {
        emit(Box::new(move || {
            at.trade(&trade, shop, &format!("$.data.items[{index}]"))
        }))
    };
    let skip = match json::stream_array(
        body,
        &["data", "items"],
        &TRADE,
        &ready_to_stream,
        &mut each,
    ) {
        Streamed::Done(tree) => return envelope(&tree, at).map(|(total, _)| total),
        Streamed::Stopped => return Ok(None),
        Streamed::Fallback => 0,
        Streamed::Failed { emitted } => emitted,
    };
    read_whole(body, shop, page, skip, emit)
}

/// [`read_list`]'s fallback: the tree of the whole answer, its trades from `skip` on.
pub(super) fn read_whole<'a>(
    body: &'a [u8],
    shop: &'a str,
    page: Option<u32>,
    skip: usize,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<Option<u64>, PlatformError> {
    let at = origin(page);
    // A `Json` tree, not typed structs: the vendor's own example repeats a key inside a trade.
    let v = parse_json_shaped(body, &LIST_SHAPE, ID, LIST, page)?;
    let (total, items) = envelope(&v, at)?;
    for (i, t) in items.iter().enumerate().skip(skip) {
        let order = at.trade(t, shop, &format!("$.data.items[{i}]"));
        if !emit(Box::new(move || order)) {
            break;
        }
    }
    Ok(total)
}

/// The registry's reader of one trade cut out of a saved list answer (`data.items`).
pub(super) fn read_one(
    bytes: &[u8],
    index: usize,
    shop: &str,
    _: &SavedOptions,
) -> Result<Order, PlatformError> {
    let trade = parse_json_shaped(bytes, &TRADE, ID, LIST, None)?;
    origin(None).trade(&trade, shop, &format!("$.data.items[{index}]"))
}

/// One page of a pull (or of `get`): (`data.total`, its orders).
pub fn read_page(
    body: &[u8],
    shop: &str,
    page: Option<u32>,
) -> Result<(Option<u64>, Vec<Order>), PlatformError> {
    collect(|emit| read_list(body, shop, page, emit))
}

/// Whether trades may be handed over as they are parsed, asked before descending into `data`
/// (depth 0: `code` is 0) and into `data.items` (depth 1: `data.total`, if read yet, is a
/// count).
fn ready_to_stream(depth: usize, partial: &Json) -> bool {
    match depth {
        0 => code_of(partial).is_ok_and(|c| c == "0"),
        _ => total_of(partial).is_ok(),
    }
}

/// The code of an answer, as text (or what is wrong with `$.code`).
fn code_of(v: &Json) -> Result<String, String> {
    match v.get("code") {
        Some(Json::Number(n)) => Ok(n.to_string()),
        Some(Json::String(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(format!("expected an integer, found {other}")),
        None => Err("missing".into()),
    }
}

/// A `data.total` as a count.
fn total_of(data: &Json) -> Result<Option<u64>, String> {
    match data.get("total") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Json::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(format!("expected a count, found {other}")),
    }
}

/// Check a list answer's envelope: (`data.total`, the trades).
fn envelope<'v, 'a>(
    v: &'v Json<'a>,
    at: Origin,
) -> Result<(Option<u64>, &'v [Json<'a>]), PlatformError> {
    let code = code_of(v).map_err(|detail| at.malformed("$.code", detail))?;
    if code != "0" {
        let message = match v.get("message").or_else(|| v.get("msg")) {
            Some(Json::String(s)) => s.to_string(),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (class, hint) = classify(&message);
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: LIST.to_string(),
            code,
            kind: None,
            message,
            request_id: None,
            class,
            hint,
            retry_after: None,
        });
    }
    // An answer without `data`, or with a `data` holding neither a list nor a total of 0, is
    // not the list's envelope (another API's answer, a proxy's): never read as "no orders".
    let data = match v.get("data") {
        Some(Json::Null) => return Ok((None, &[])),
        None => {
            return Err(at.malformed(
                "$.data",
                "missing: this is not the enhanced list's answer ({\"code\": 0, \"data\": \
                 {\"total\": N, \"items\": [...]}})"
                    .to_string(),
            ));
        }
        Some(d @ Json::Object(_)) => d,
        Some(other) => {
            return Err(at.malformed("$.data", format!("expected an object, found {other}")));
        }
    };
    let total = total_of(data).map_err(|detail| at.malformed("$.data.total", detail))?;
    let items = match data.get("items") {
        None if total != Some(0) => {
            return Err(at.malformed(
                "$.data.items",
                "missing (and data.total is not 0): the answer holds no list".to_string(),
            ));
        }
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(a)) => a.as_slice(),
        Some(other) => {
            return Err(at.malformed("$.data.items", format!("expected an array, found {other}")));
        }
    };
    Ok((total, items))
}

/// The platform's codes are not documented: decide from the message.
fn classify(message: &str) -> (ErrorClass, Option<String>) {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&[
        "频繁", "限流", "稍后", "超时", "繁忙", "busy", "timeout", "too many", "limit",
    ]) {
        return (ErrorClass::Transient, None);
    }
    if has(&["timestamp", "时间戳"]) {
        return (
            ErrorClass::Auth,
            Some("the request time was refused: check this machine's clock".into()),
        );
    }
    if has(&["签名", "sign"]) {
        return (
            ErrorClass::Auth,
            Some("the signature was refused: check app_secret (and appid) for this shop".into()),
        );
    }
    if has(&["appid", "app_id"]) {
        return (ErrorClass::Auth, Some("check appid for this shop".into()));
    }
    if has(&["授权", "订购", "seller", "卖家", "nick", "auth", "权限"]) {
        return (
            ErrorClass::Auth,
            Some(
                "the seller is not authorised for this app: check seller_nick (the seller's \
                 login nick, not the shop name) and that the seller has subscribed"
                    .into(),
            ),
        );
    }
    if has(&["参数", "param", "跨度", "格式", "不能超过", "invalid"]) {
        return (ErrorClass::Invalid, None);
    }
    (ErrorClass::Other, None)
}

/// Normalize a saved list response (for `ordersync normalize` and the fixture tests).
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    crate::platforms::normalize_saved(PlatformId::TaobaoEnhanced, body, shop)
}

/// As [`normalize_saved`], order by order into `emit`, each handed over before it is
/// normalized (`normalize` does that on its writing thread); `emit` returns `false` to stop.
pub fn normalize_saved_each<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    read_list(body, shop, None, emit).map(|_| ())
}
