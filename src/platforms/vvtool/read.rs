//! Reading a list answer (`erps/sold`, `erps/increment`), one reader for `pull` and
//! `normalize` alike: trade by trade as the body is parsed (the tree of one trade at a time,
//! borrowed from the body), its envelope checked. `data` is a PHP-style map: keys that are
//! unsigned integers (`"0"`, `"1"`, ...) are the trades in numeric order, beside optional
//! `has_next`, `total_results`, `withholding_money` and a `trades` list; `data` may also be an
//! array, `[]` or `null`.

use super::ID;
use super::answer::{api_error, envelope};
use crate::error::PlatformError;
use crate::model::Order;
use crate::platforms::json::{self, EVERYTHING, Json, Shape, Streamed, Under};
use crate::platforms::trade::{Origin, TRADE, TRADE_LIST, collect};
use crate::platforms::{Deferred, ListPage, PlatformId, SavedOptions, parse_json_shaped};

/// A flag (`has_next`) as vv-tool may send it: a boolean, 0 or 1, or their text.
fn flag(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => n.as_u64().map(|n| n != 0),
        Json::String(s) => match s.trim() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `{"code", "msg", "data": {"0": Trade, "1": Trade, ..., "has_next", ...}}` (or `data` as an
/// array of trades, or with a `trades` array), trades as the normalizer reads them.
static LIST_SHAPE: Under = Under {
    key: "data",
    shape: &DataShape,
};

struct DataShape;

impl Shape for DataShape {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        Some(
            if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                &TRADE
            } else if key == "trades" {
                &TRADE_LIST
            } else {
                &EVERYTHING
            },
        )
    }
    fn element(&self) -> &'static dyn Shape {
        &TRADE
    }
}

/// What `normalize` names the endpoint of a saved answer in its errors.
pub const SAVED: &str = "saved response";

/// Read a list answer trade by trade into `emit`, each trade handed over before it is
/// normalized; `emit` returns `false` to stop. Returns the answer's paging fields (a page
/// without orders; nothing when stopped).
///
/// The numbered trades of `data` are handed over as they are parsed once `code` (0) has been
/// read, while their keys come as `"0"`, `"1"`, ...; anything else (keys out of order, `code`
/// after `data`, `data` as an array, a body that breaks off) falls back to the tree of the
/// whole answer, which names what is wrong and hands over the trades not handed over yet,
/// the numbered ones in numeric order, then the `trades` list.
pub fn read_list<'a>(
    body: &'a [u8],
    shop: &'a str,
    at: Origin,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<ListPage, PlatformError> {
    let ready =
        |depth: usize, partial: &Json<'a>| depth > 0 || envelope(partial).0.as_deref() == Some("0");
    let mut each = |_: usize, key: &str, trade: Json<'a>| {
        emit(at.deferred(trade, shop, format!("$.data.{key}")))
    };
    let (tree, handed) = match json::stream_numbered(body, &["data"], &TRADE, &ready, &mut each) {
        Streamed::Stopped => return Ok(ListPage::default()),
        // The trades handed over are not in the tree.
        Streamed::Done(tree) => (tree, 0),
        Streamed::Fallback => (read_whole(body, at)?, 0),
        Streamed::Failed { emitted } => (read_whole(body, at)?, emitted),
    };
    let (paging, trades) = trades_of(&tree, at)?;
    for (path, t) in trades {
        if handed_over(&path, handed) {
            continue;
        }
        let order = at.trade(t, shop, &path);
        if !emit(Box::new(move || order)) {
            break;
        }
    }
    Ok(paging)
}

/// [`read_list`]'s fallback: the tree of the whole answer.
pub(super) fn read_whole(body: &[u8], at: Origin) -> Result<Json<'_>, PlatformError> {
    parse_json_shaped(body, &LIST_SHAPE, ID, at.endpoint, at.page)
}

/// Whether the trade at `path` is one of the first `handed` numbered ones: those are the
/// only trades [`json::stream_numbered`] hands over, as `"0"`, `"1"`, ... in that order.
fn handed_over(path: &str, handed: usize) -> bool {
    path.strip_prefix("$.data.")
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .filter(|k| k.len() == 1 || !k.starts_with('0'))
        .and_then(|k| k.parse::<usize>().ok())
        .is_some_and(|n| n < handed)
}

/// The registry's reader of one trade cut out of a saved list answer (`data."0"`, `"1"`, ...).
pub(super) fn read_one(
    bytes: &[u8],
    index: usize,
    shop: &str,
    _: &SavedOptions,
) -> Result<Order, PlatformError> {
    let at = Origin {
        platform: ID,
        endpoint: SAVED,
        page: None,
    };
    let trade = parse_json_shaped(bytes, &TRADE, ID, SAVED, None)?;
    at.trade(&trade, shop, &format!("$.data.{index}"))
}

/// One page of a pull from `endpoint`: its paging fields and its orders.
pub fn read_page(
    body: &[u8],
    endpoint: &'static str,
    shop: &str,
    page: Option<u32>,
) -> Result<ListPage, PlatformError> {
    let at = Origin {
        platform: ID,
        endpoint,
        page,
    };
    let (mut paging, orders) = collect(|emit| read_list(body, shop, at, emit))?;
    paging.orders = orders;
    Ok(paging)
}

/// Trades with their JSON paths.
type Trades<'v, 'a> = Vec<(String, &'v Json<'a>)>;

/// Check a list answer's envelope: its paging fields, and its trades with their JSON paths.
pub(super) fn trades_of<'v, 'a>(
    v: &'v Json<'a>,
    at: Origin,
) -> Result<(ListPage, Trades<'v, 'a>), PlatformError> {
    let malformed = |path: &str, detail: String| at.malformed(path, detail);
    let endpoint = at.endpoint;
    let (code, msg) = envelope(v);
    match code {
        Some(c) if c == "0" => {}
        Some(c) => return Err(api_error(endpoint, c, msg, v.get("data"))),
        None => return Err(malformed("$.code", "missing or not an integer".into())),
    }
    let mut trades: Vec<(String, &Json)> = Vec::new();
    let mut out = ListPage::default();
    match v.get("data") {
        None | Some(Json::Null) => {}
        Some(Json::Array(a)) => {
            trades.extend(
                a.iter()
                    .enumerate()
                    .map(|(i, t)| (format!("$.data[{i}]"), t)),
            );
        }
        Some(d @ Json::Object(_)) => {
            let mut numbered: Vec<(u64, &str, &Json)> = Vec::new();
            let mut listed: Vec<(String, &Json)> = Vec::new();
            for (k, val) in d.entries() {
                if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
                    match k.parse::<u64>() {
                        Ok(n) => numbered.push((n, k, val)),
                        Err(_) => {
                            return Err(malformed(
                                &format!("$.data.{k}"),
                                "trade key out of range".into(),
                            ));
                        }
                    }
                    continue;
                }
                match k {
                    "has_next" => {
                        out.has_next = match val {
                            Json::Null => None,
                            other => Some(flag(other).ok_or_else(|| {
                                malformed(
                                    "$.data.has_next",
                                    format!("expected a boolean, found {other}"),
                                )
                            })?),
                        }
                    }
                    "total_results" => {
                        out.total = match val {
                            Json::Null => None,
                            Json::Number(n) if n.as_u64().is_some() => n.as_u64(),
                            Json::String(s) if s.trim().parse::<u64>().is_ok() => {
                                s.trim().parse().ok()
                            }
                            other => {
                                return Err(malformed(
                                    "$.data.total_results",
                                    format!("expected a count, found {other}"),
                                ));
                            }
                        }
                    }
                    "withholding_money" => {}
                    // The response table also documents a `trades` list (read after the
                    // numbered trades).
                    "trades" => match val {
                        Json::Array(a) => listed.extend(
                            a.iter()
                                .enumerate()
                                .map(|(i, t)| (format!("$.data.trades[{i}]"), t)),
                        ),
                        Json::Null => {}
                        other => {
                            return Err(malformed(
                                "$.data.trades",
                                format!("expected an array, found {other}"),
                            ));
                        }
                    },
                    other => tracing::debug!("{ID}: ignoring $.data.{other}"),
                }
            }
            numbered.sort_by_key(|(n, _, _)| *n);
            trades.extend(
                numbered
                    .into_iter()
                    .map(|(_, k, t)| (format!("$.data.{k}"), t)),
            );
            trades.extend(listed);
        }
        Some(other) => {
            return Err(malformed(
                "$.data",
                format!("expected an object or an array, found {other}"),
            ));
        }
    }
    Ok((out, trades))
}

/// Normalize a saved `erps/sold` or `erps/increment` answer (for `ordersync normalize` and
/// the fixture tests).
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    crate::platforms::normalize_saved(PlatformId::Vvtool, body, shop)
}

/// As [`normalize_saved`], trade by trade as the body is parsed, each handed over before it
/// is normalized (`normalize` does that on its writing thread); `emit` returns `false` to
/// stop.
pub fn normalize_saved_each<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let at = Origin {
        platform: ID,
        endpoint: SAVED,
        page: None,
    };
    read_list(body, shop, at, emit).map(|_| ())
}
