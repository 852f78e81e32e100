//! Whether a page contradicts itself: a total or `has_next` claiming orders the page does not
//! hold. Trusting such a page would end a window's scan with orders missing and move the state
//! past them; the pull loop asks for it again instead (see `Fetcher::fetch`). What a whole
//! window's pages add up to is checked in `scan`.

use crate::platforms::ListPage;

/// What is wrong with page `n` (of `size` orders) on its own, if anything: orders missing
/// that its own total or `has_next` says are there. A short page saying `has_next` is not
/// one: paging goes on to the next page anyway, so nothing is lost by believing it (vv-tool's
/// own example shows one trade beside `has_next: true`); an empty one would end the scan.
pub(super) fn contradiction(p: &ListPage, n: u32, size: u32) -> Option<String> {
    let got = p.orders.len() as u64;
    let size = u64::from(size);
    if p.has_next == Some(true) && got == 0 {
        return Some("has_next is true on a page with no orders".into());
    }
    let total = p.total?;
    let before = u64::from(n.saturating_sub(1)) * size;
    let expected = total.saturating_sub(before).min(size);
    if got < expected {
        return Some(format!(
            "the total is {total}, so page {n} of {size} orders should hold {expected}, but it holds {got}"
        ));
    }
    if p.has_next == Some(false) && before + got < total {
        return Some(format!(
            "has_next is false on page {n}, but the total is {total} and {} came so far",
            before + got
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(orders: usize, total: Option<u64>, has_next: Option<bool>) -> ListPage {
        let o = crate::model::Order::sample("1");
        ListPage {
            orders: vec![o; orders],
            total,
            has_next,
        }
    }

    #[test]
    fn claims_without_their_orders_are_contradictions() {
        // Total 5: page 1 of 100 empty or short; page 2 of 3 holding 1 of the 2 left.
        assert!(contradiction(&page(0, Some(5), None), 1, 100).is_some());
        assert!(contradiction(&page(4, Some(5), None), 1, 100).is_some());
        assert!(contradiction(&page(1, Some(5), None), 2, 3).is_some());
        assert!(contradiction(&page(0, None, Some(true)), 1, 45).is_some());
        assert!(contradiction(&page(2, Some(5), Some(false)), 1, 2).is_some());
    }

    #[test]
    fn consistent_pages_are_not() {
        assert!(contradiction(&page(0, Some(0), None), 1, 100).is_none());
        assert!(contradiction(&page(5, Some(5), None), 1, 100).is_none());
        assert!(contradiction(&page(1, Some(5), None), 3, 2).is_none());
        assert!(contradiction(&page(0, Some(4), None), 3, 2).is_none());
        assert!(contradiction(&page(1, None, Some(true)), 1, 45).is_none());
        assert!(contradiction(&page(0, None, Some(false)), 1, 45).is_none());
        assert!(contradiction(&page(0, None, None), 1, 45).is_none());
    }
}
