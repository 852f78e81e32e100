//! What the two Trade platforms' list readers share: where an answer came from (for the
//! errors its trades give), a trade handed over to be normalized later, and the collection of
//! a reader's orders into a page for `pull`.
//!
//! Each platform has one reader of its list answer, trade by trade as the body is parsed,
//! borrowing from it. `normalize` hands what it emits to its writing thread (a trade is
//! normalized there, and the first error stops the read); `pull` collects it with
//! [`collect`].

use super::normalize_trade;
use crate::error::PlatformError;
use crate::model::Order;
use crate::platforms::Deferred;
use crate::platforms::json::Json;

/// Where a list answer came from: named by the errors of its trades.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub platform: &'static str,
    /// The endpoint, or what the answer is (`saved response`).
    pub endpoint: &'static str,
    /// The page, when the answer is one of a pull.
    pub page: Option<u32>,
}

impl Origin {
    /// A malformed field of the answer at JSON path `path`.
    pub fn malformed(&self, path: &str, detail: String) -> PlatformError {
        PlatformError::malformed(self.platform, self.endpoint, self.page, path, detail)
    }

    /// Normalize the trade found at JSON path `path`.
    pub fn trade(&self, trade: &Json, shop: &str, path: &str) -> Result<Order, PlatformError> {
        normalize_trade(trade, self.platform, shop, path)
            .map_err(|(path, detail)| self.malformed(&path, detail))
    }

    /// The trade found at JSON path `path`, normalized when called.
    pub fn deferred<'a>(self, trade: Json<'a>, shop: &'a str, path: String) -> Deferred<'a> {
        Box::new(move || self.trade(&trade, shop, &path))
    }
}

/// Run a reader and collect the orders it emits, each normalized as it comes.
///
/// A trade that does not normalize does not stop the read: an error of the answer itself (its
/// syntax, its envelope), which the reader can only report once it has read on, comes first;
/// otherwise the first trade's error. So a page fails with the error a read of the whole page
/// would give first.
pub fn collect<'a, T>(
    read: impl FnOnce(&mut dyn FnMut(Deferred<'a>) -> bool) -> Result<T, PlatformError>,
) -> Result<(T, Vec<Order>), PlatformError> {
    let mut orders = Vec::new();
    let mut first_error = None;
    let paging = read(&mut |order| {
        // After a failed trade, the rest of the answer is only read for its own errors.
        if first_error.is_none() {
            match order() {
                Ok(o) => orders.push(o),
                Err(e) => first_error = Some(e),
            }
        }
        true
    })?;
    first_error.map_or(Ok((paging, orders)), Err)
}
