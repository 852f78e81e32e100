//! The one reader of a taobao-tw list answer (`/orders/get`), for `pull` and `normalize`
//! alike, and the saved answers `normalize` takes (a list, or an `/order/get` detail).
//!
//! LazOP sends `code` after `result` (so does the seed's own example), and `success` after
//! `model_list`: nothing in a list can be trusted before the end of the body. [`read_list`]
//! parses an answer once, its orders borrowing their text from the body, checks it whole, and
//! then hands its orders over one by one ([`List::orders`]): `pull` normalizes them with their
//! line ids, `normalize` hands them to its writing thread to be normalized there.

use super::normalize::{At, malformed, with_lines};
use super::wire::{DetailResult, ListResult, WireOrder, parse_envelope};
use super::{DETAIL, ID, ITEMS, LIST};
use crate::error::PlatformError;
use crate::model::Order;
use crate::platforms::json::Json;
use crate::platforms::{Deferred, PlatformId, SavedOptions, parse_json, parse_json_in};

/// A list answer, read and checked.
pub(super) struct List<'a> {
    /// `total_count`: results in the whole window.
    pub(super) total: Option<u64>,
    /// The answer has a `result.module`: it is an `/order/get` answer, not a list.
    pub(super) detail: bool,
    page: Option<u32>,
    orders: Vec<WireOrder<'a>>,
}

/// Read a list answer (`page`: the page asked for, for messages; `None` for a saved one).
pub(super) fn read_list(body: &[u8], page: Option<u32>) -> Result<List<'_>, PlatformError> {
    let res: ListResult<WireOrder> = parse_envelope(body, LIST, page)?;
    Ok(List {
        total: res.total_count,
        detail: res.module,
        page,
        orders: res.model_list.unwrap_or_default(),
    })
}

impl<'a> List<'a> {
    /// The orders, in the answer's order.
    pub(super) fn orders(self) -> impl Iterator<Item = Listed<'a>> {
        let page = self.page;
        self.orders
            .into_iter()
            .enumerate()
            .map(move |(index, wire)| Listed { index, page, wire })
    }
}

/// One order of a list answer, not normalized yet.
pub(super) struct Listed<'a> {
    index: usize,
    page: Option<u32>,
    wire: WireOrder<'a>,
}

impl Listed<'_> {
    /// The line ids the entry names, unquoted.
    pub(super) fn line_ids(&self) -> Vec<String> {
        self.wire.line_ids()
    }

    /// The order without lines (and so without a discount): the list carries none.
    pub(super) fn normalize(self, shop: &str) -> Result<Order, PlatformError> {
        self.wire
            .normalize(shop, &At::list(LIST, self.index))
            .map_err(|e| malformed(LIST, self.page, e))
    }
}

/// Normalize a saved response of any of the three endpoints (for `ordersync normalize` and
/// the fixture tests). A list answer carries no lines: its orders come out with `lines: []`.
pub fn normalize_saved(body: &[u8], shop: &str) -> Result<Vec<Order>, PlatformError> {
    crate::platforms::normalize_saved(PlatformId::TaobaoTw, body, shop)
}

/// The registry's reader of a saved answer: a list's orders are handed over before they are
/// normalized; `emit` returns `false` to stop. The body is read as a list answer first (one
/// parse for the large case); only a detail answer is read a second time.
pub(super) fn read_saved<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let list = match read_list(body, None) {
        Ok(list) => list,
        Err(e) => {
            // Lines lack the order fields: say what the file is rather than what is missing.
            let v: Json = parse_json(body, ID, "saved response", None)?;
            let result = v.get("result");
            if result.and_then(|r| r.get("module")).is_some() {
                return saved_detail(body, shop, emit);
            }
            let first = match result.and_then(|r| r.get("model_list")) {
                Some(Json::Array(a)) => a.first(),
                _ => None,
            };
            if first.is_some_and(|e| e.get("trade_order_line_id").is_some()) {
                return Err(items_refused());
            }
            return Err(e);
        }
    };
    if list.detail {
        return saved_detail(body, shop, emit);
    }
    if list.orders.first().is_some_and(|o| o.trade_order_line_id) {
        return Err(items_refused());
    }
    if !list.orders.is_empty() {
        warn_no_lines(list.orders.len());
    }
    for o in list.orders() {
        let order = move || o.normalize(shop).map(|order| with_lines(order, Vec::new()));
        if !emit(Box::new(order)) {
            break;
        }
    }
    Ok(())
}

/// Said once per saved list answer: quantity 0 and an empty title would be invented lines.
pub(super) fn warn_no_lines(orders: usize) {
    tracing::warn!(
        "{ID}: this {LIST} answer carries no order lines, so its {orders} order(s) are written \
         with lines: [] and a null discount (pull fetches lines with {ITEMS}; normalize an \
         {DETAIL} answer for an order with its lines)"
    );
}

fn items_refused() -> PlatformError {
    PlatformError::Request {
        platform: ID,
        message: "this is an /order/items/get response (order lines, not orders); normalize an \
                  /orders/get or /order/get response"
            .into(),
    }
}

/// The registry's reader of one order cut out of a saved list answer (`result.model_list`).
pub(super) fn read_one(
    bytes: &[u8],
    index: usize,
    shop: &str,
    _: &SavedOptions,
) -> Result<Order, PlatformError> {
    let at = || format!("$.result.model_list[{index}]");
    let wire: WireOrder = match parse_json_in(bytes, ID, LIST, at) {
        Ok(wire) => wire,
        Err(e) => {
            // Lines lack the order fields: say what the file is rather than what is missing.
            let line = Json::parse(bytes).is_ok_and(|v| v.get("trade_order_line_id").is_some());
            return Err(if line { items_refused() } else { e });
        }
    };
    if wire.trade_order_line_id {
        return Err(items_refused());
    }
    let listed = Listed {
        index,
        page: None,
        wire,
    };
    listed
        .normalize(shop)
        .map(|order| with_lines(order, Vec::new()))
}

/// A saved `/order/get` answer: one order with its lines.
fn saved_detail<'a>(
    body: &'a [u8],
    shop: &'a str,
    emit: &mut dyn FnMut(Deferred<'a>) -> bool,
) -> Result<(), PlatformError> {
    let d: DetailResult = parse_envelope(body, DETAIL, None)?;
    let Some(m) = d.module else {
        return Err(malformed(
            DETAIL,
            None,
            (
                "$.result.module".into(),
                "is null: there is no order".into(),
            ),
        ));
    };
    let order = m.normalize(shop).map_err(|e| malformed(DETAIL, None, e))?;
    emit(Box::new(move || Ok(order)));
    Ok(())
}
