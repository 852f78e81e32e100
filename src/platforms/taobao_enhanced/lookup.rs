//! `ordersync get` on the enhanced list: named orders looked up by `tid`, [`GET_BATCH`] ids a
//! query, among the orders modified in the last month.

use super::read::read_page;
use super::{GET_BATCH, ID, LIST, MAX_PAGE_SIZE, TaobaoEnhanced};
use crate::error::PlatformError;
use crate::model::{Order, platform_offset};
use crate::platforms::trade::TIME_FORMAT;
use crate::platforms::{Call, Exchange};
use chrono::{DateTime, Months, Utc};
use std::collections::HashSet;

/// Named orders: the list filtered on `tid`, [`GET_BATCH`] ids a query, each query paged.
pub(super) struct Lookup<'a> {
    a: &'a TaobaoEnhanced,
    ids: &'a [String],
    /// Each batch's ids, comma-separated as `tid` takes them.
    batches: Vec<String>,
    batch: usize,
    page: u32,
    out: Vec<Order>,
}

impl<'a> Lookup<'a> {
    pub(super) fn new(a: &'a TaobaoEnhanced, ids: &'a [String]) -> Self {
        Lookup {
            a,
            ids,
            batches: ids.chunks(GET_BATCH).map(|b| b.join(",")).collect(),
            batch: 0,
            page: 1,
            out: Vec::new(),
        }
    }
}

impl<'a> Exchange<'a, Vec<Order>> for Lookup<'a> {
    fn next(&mut self) -> Option<Call<'a>> {
        let tids = self.batches.get(self.batch)?.clone();
        let page = self.page;
        let a = self.a;
        Some(Call {
            endpoint: LIST,
            page: Some(page),
            build: Box::new(move |now: DateTime<Utc>| {
                // Among orders modified in the last month (a superset of those created
                // then): the platform wants a range of at most one month.
                let last = now.with_timezone(&platform_offset());
                let first = last.checked_sub_months(Months::new(1)).unwrap_or(last);
                let biz = [
                    ("tid", tids.clone()),
                    ("start_created", first.format(TIME_FORMAT).to_string()),
                    ("end_created", last.format(TIME_FORMAT).to_string()),
                    ("date_type", "1".to_string()),
                    ("order_asc", "ASC".to_string()),
                    ("page_no", page.to_string()),
                    ("page_size", MAX_PAGE_SIZE.to_string()),
                ];
                Ok(a.signed(&biz, now))
            }),
        })
    }

    fn read(&mut self, body: &[u8]) -> Result<(), PlatformError> {
        let (total, orders) = read_page(body, &self.a.shop, Some(self.page))?;
        let got = orders.len() as u64;
        self.out.extend(orders);
        if got == 0 || u64::from(self.page) * u64::from(MAX_PAGE_SIZE) >= total.unwrap_or(0) {
            self.batch += 1;
            self.page = 1;
        } else {
            self.page += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<Order>, PlatformError> {
        let out = self.out;
        let found: HashSet<&str> = out.iter().map(|o| o.order_id.as_str()).collect();
        let missing: Vec<&str> = self
            .ids
            .iter()
            .map(String::as_str)
            .filter(|id| !found.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(PlatformError::Request {
                platform: ID,
                message: format!(
                    "not found among the orders modified in the last month (the enhanced list \
                     looks no further back): {}",
                    missing.join(", ")
                ),
            });
        }
        Ok(out)
    }
}
