//! The exchanges of a taobao-tw pull beyond the list: a list page's lines, fetched with
//! `/order/items/get` in batches, and named orders, one `/order/get` each (`ordersync get`).

use super::normalize::{At, malformed};
use super::wire::{DetailResult, ListResult, WireLine, parse_envelope};
use super::{DETAIL, ID, ITEMS, LINE_BATCH, TaobaoTw};
use crate::error::PlatformError;
use crate::model::{Order, OrderLine};
use crate::platforms::{Call, Exchange, ListPage};
use std::collections::HashMap;

/// The lines of a list page's orders, fetched with `/order/items/get` in batches of
/// [`LINE_BATCH`] ids (each batch paged while its total says more), then attached.
pub(super) struct Lines<'a> {
    a: &'a TaobaoTw,
    page: ListPage,
    /// Each batch's ids, as the JSON list the endpoint takes.
    batches: Vec<String>,
    batch: usize,
    items_page: u32,
    lines: Vec<(At, WireLine)>,
}

impl<'a> Lines<'a> {
    /// The exchange completing `page`, whose orders carry id-only lines.
    pub(super) fn new(a: &'a TaobaoTw, page: ListPage) -> Self {
        let ids: Vec<String> = page
            .orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.line_id.clone()))
            .collect();
        Lines {
            a,
            page,
            batches: ids
                .chunks(LINE_BATCH)
                .map(|b| serde_json::to_string(b).expect("strings serialize"))
                .collect(),
            batch: 0,
            items_page: 1,
            lines: Vec::with_capacity(ids.len()),
        }
    }
}

impl<'a> Exchange<'a, ListPage> for Lines<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        let list = self.batches.get(self.batch)?.clone();
        let page = self.items_page;
        let a = self.a;
        Some(Call {
            endpoint: ITEMS,
            page: Some(page),
            build: Box::new(move |now| {
                let biz = [
                    ("trade_order_line_id_list", list.clone()),
                    ("Page", page.to_string()),
                    ("Page_Size", LINE_BATCH.to_string()),
                ];
                Ok(a.signed(ITEMS, &biz, now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let page = self.items_page;
        let res: ListResult<WireLine> = parse_envelope(body, ITEMS, Some(page))?;
        let lines = res.model_list.unwrap_or_default();
        let got = lines.len();
        self.lines.extend(
            lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| (At::items(page, i), l)),
        );
        let total = res.total_count.unwrap_or(0) as usize;
        if got == 0 || page as usize * LINE_BATCH >= total {
            self.batch += 1;
            self.items_page = 1;
        } else {
            self.items_page += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<ListPage, PlatformError> {
        let Lines {
            mut page, lines, ..
        } = *self;
        let mut fetched: HashMap<String, OrderLine> = HashMap::new();
        for (at, l) in lines {
            let line = l.normalize(&at).map_err(|e| malformed(ITEMS, None, e))?;
            fetched.insert(line.line_id.clone(), line);
        }
        for o in &mut page.orders {
            let wanted: Vec<String> = o.lines.drain(..).map(|l| l.line_id).collect();
            let mut missing = Vec::new();
            for id in wanted {
                match fetched.remove(&id) {
                    Some(line) => o.lines.push(line),
                    None => missing.push(id),
                }
            }
            if missing.is_empty() {
                o.discount = o.derived_discount(None);
            } else {
                // Never a line without quantity or title: what is known is kept, and the
                // discount, which needs every line, stays unknown.
                tracing::warn!(
                    "{ID}: order {}: /order/items/get did not return line(s) {}; they are \
                     left out and the order's discount is null",
                    o.order_id,
                    missing.join(", ")
                );
                o.discount = None;
            }
        }
        Ok(page)
    }
}

/// Named orders, one `/order/get` each; the first one not found (or unreadable) ends it.
pub(super) struct Details<'a> {
    a: &'a TaobaoTw,
    ids: &'a [String],
    next: usize,
    out: Vec<Order>,
    failed: Option<PlatformError>,
}

impl<'a> Details<'a> {
    pub(super) fn new(a: &'a TaobaoTw, ids: &'a [String]) -> Self {
        Details {
            a,
            ids,
            next: 0,
            out: Vec::new(),
            failed: None,
        }
    }
}

impl<'a> Exchange<'a, Vec<Order>> for Details<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        if self.failed.is_some() {
            return None;
        }
        let id = self.ids.get(self.next)?;
        let a = self.a;
        Some(Call {
            endpoint: DETAIL,
            page: None,
            build: Box::new(move |now| {
                Ok(a.signed(DETAIL, &[("trade_order_id", id.clone())], now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let detail: DetailResult = parse_envelope(body, DETAIL, None)?;
        let id = &self.ids[self.next];
        self.next += 1;
        // Not found, or unreadable, is not worth asking again: kept for `finish`.
        match detail.module {
            None => {
                self.failed = Some(PlatformError::Request {
                    platform: ID,
                    message: format!("order {id} was not found"),
                })
            }
            Some(module) => match module.normalize(&self.a.shop) {
                Ok(o) => self.out.push(o),
                Err(e) => self.failed = Some(malformed(DETAIL, None, e)),
            },
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<Order>, PlatformError> {
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

/// A line known only by its id (from the list's `trade_order_line_id_list`): a carrier
/// between `parse_list` and `complete`, never written out.
pub(super) fn id_only_line(id: String) -> OrderLine {
    OrderLine {
        line_id: id,
        product_id: None,
        sku_id: None,
        title: String::new(),
        sku_properties: Vec::new(),
        quantity: 0,
        unit_price: None,
        total: None,
        status: None,
        platform_status: None,
        refund_status: None,
        carrier: None,
        tracking_number: None,
        image_url: None,
    }
}
