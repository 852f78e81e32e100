//! One window's scan: its passes, page by page or concurrently, and the checks that decide
//! whether the window held still while it was read (scanned again), contradicted itself
//! (asked again), or must be halved, and when a window is too dense to scan whole: told by
//! page 1's total before anything is emitted, or, on a list that gives no total (`has_next`),
//! once a pass has received more orders than a window may hold.

use super::{Emitter, Fetcher, SCANS_BEFORE_SPLIT, page_size, window as sizes};
use crate::error::PlatformError;
use crate::platforms::{Adapter, By, ListOrder, ListPage, Window};
use anyhow::Result;
use futures_util::stream::{self, FuturesOrdered, StreamExt};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a window's scan ended.
pub(super) enum Scanned {
    Complete,
    /// `--limit` was reached.
    Limit,
    /// Page 1 reported this many orders, more than a window may hold; nothing was emitted.
    TooBig(u64),
    /// A list without totals went on past what a window may hold: the pass was stopped,
    /// what it received was emitted.
    Dense(Dense),
}

/// A pass stopped because its window turned out dense: the orders it received (and
/// emitted), and about how many the window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dense {
    pub received: u64,
    pub estimate: u64,
}

/// Tells the fetch of the next window's page 1 when to go: once the window being scanned
/// has asked for its last page, or has ended (`None` from [`WindowTail::reached`] when it
/// did not end complete, and the page is not wanted yet).
#[derive(Default)]
pub(super) struct WindowTail {
    notify: tokio::sync::Notify,
    unwanted: AtomicBool,
}

impl WindowTail {
    /// The window's last page has been asked for (or it has only one).
    fn last_page_asked(&self) {
        self.notify.notify_one();
    }

    /// The window's scan is over, `complete` or not.
    pub(super) fn end(&self, complete: bool) {
        self.unwanted.store(!complete, Ordering::Relaxed);
        self.notify.notify_one();
    }

    /// Wait for either; `None` when the scan ended incomplete before the last page was asked
    /// for.
    pub(super) async fn reached(&self) -> Option<()> {
        self.notify.notified().await;
        (!self.unwanted.load(Ordering::Relaxed)).then_some(())
    }
}

/// Scan one window completely (halving it when needed), or report it as too big to scan
/// when its page 1 reports more than `split_above` orders.
pub(super) async fn window<A: Adapter + ?Sized>(
    f: &Fetcher<'_, A>,
    e: &mut Emitter<'_>,
    w: Window,
    by: By,
    mut first: Option<Result<ListPage, PlatformError>>,
    split_above: u64,
    tail: &WindowTail,
) -> Result<Scanned> {
    let platform = f.t.platform();
    let mut pending = vec![(w, 0u32)];
    // The window's total for the ledger: the sum over its parts, unknown once any part gave
    // none or never held still.
    e.window_total = Some(0);
    while let Some((w, depth)) = pending.pop() {
        e.summary.windows += 1;
        e.pass_pages = None;
        let mut stable = false;
        let mut halved = false;
        for attempt in 0..SCANS_BEFORE_SPLIT {
            if attempt > 0 {
                e.summary.rescans += 1;
            }
            // Only before anything of the window was emitted may it be cut differently.
            let split_above = (attempt == 0 && depth == 0).then_some(split_above);
            match scan(f, e, w, by, first.take(), split_above, tail).await {
                Ok(Scan::TooBig(total)) => return Ok(Scanned::TooBig(total)),
                Ok(Scan::Dense(d)) => return Ok(Scanned::Dense(d)),
                Ok(Scan::Stable) => {
                    stable = true;
                    break;
                }
                Ok(Scan::Changed) => continue,
                // The first pass can only be trusted once a second one finds nothing new.
                Ok(Scan::Unverified) if attempt > 0 && e.new_in_pass == 0 => {
                    stable = true;
                    break;
                }
                Ok(Scan::Unverified) => continue,
                Ok(Scan::Limit) => return Ok(Scanned::Limit),
                // The pass as a whole does not add up: asked again, and the window fails
                // when it never does (halving a window that lies would not help).
                Ok(Scan::Contradicted(err)) if attempt + 1 < SCANS_BEFORE_SPLIT => {
                    tracing::warn!(
                        "{}; asking for the window again",
                        f.t.redact(&err.to_string())
                    );
                    continue;
                }
                Ok(Scan::Contradicted(err)) => return Err(err.into()),
                // A page kept contradicting itself through the transport's retries.
                Err(err) if is_contradiction(&err) => return Err(err),
                Err(err) if is_transient(&err) && depth < 3 => {
                    if let Some((a, b)) = sizes::halve(w) {
                        tracing::warn!(
                            "{platform}: window {w} keeps failing ({err:#}); halving it"
                        );
                        e.summary.split_windows += 1;
                        pending.push((b, depth + 1));
                        pending.push((a, depth + 1));
                        stable = true;
                        halved = true;
                        break;
                    }
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
        if !stable {
            e.window_total = None;
        } else if !halved {
            // (A window halved after failing adds its parts' totals instead.)
            e.window_total = e.window_total.zip(e.pass_total).map(|(a, b)| a + b);
        }
        if !stable {
            match sizes::halve(w) {
                Some((a, b)) if depth < 6 => {
                    tracing::info!(
                        "{platform}: window {w} kept changing while scanned; halving it"
                    );
                    e.summary.split_windows += 1;
                    pending.push((b, depth + 1));
                    pending.push((a, depth + 1));
                }
                _ => tracing::warn!(
                    "{platform}: window {w} was still changing after {SCANS_BEFORE_SPLIT} scans; \
                     the next run's lookback will pick up what changed"
                ),
            }
        }
    }
    Ok(Scanned::Complete)
}

/// One pass over a window; `first` is its page 1 when that was fetched ahead. With
/// `split_above`, a window whose page 1 reports more orders than that (and that is at least
/// two seconds long) is left unscanned as `Scan::TooBig`; on a list that reports no total,
/// the pass stops as `Scan::Dense` once it has received more than that and more pages
/// follow (what it received is emitted; the caller makes sure it is not emitted again).
async fn scan<A: Adapter + ?Sized>(
    f: &Fetcher<'_, A>,
    e: &mut Emitter<'_>,
    w: Window,
    by: By,
    first: Option<Result<ListPage, PlatformError>>,
    split_above: Option<u64>,
    tail: &WindowTail,
) -> Result<Scan> {
    let size = page_size(f.adapter, f.plan);
    e.new_in_pass = 0;
    let first = match first {
        Some(page) => page?,
        None => f.fetch(w, by, 1, size).await?,
    };
    let total0 = first.total;
    let splittable = w.end - w.start >= chrono::Duration::seconds(2);
    if let (Some(total), Some(most)) = (total0, split_above)
        && total > most
        && splittable
    {
        return Ok(Scan::TooBig(total));
    }
    // Without a total, a pass learns how dense its window is as it goes.
    let dense_above = split_above.filter(|_| total0.is_none() && splittable);
    let mut covered = Covered::default();
    covered.add(&first, by);
    let full_first = first.orders.len() as u32 >= size;
    let has_next = first.has_next;
    // Orders the pass received, against what page 1 claimed (the re-read of page 1 at the end
    // of a newest-first scan is not counted).
    let mut received = first.orders.len() as u64;
    if e.emit(first)? {
        return Ok(Scan::Limit);
    }
    let pages = total0.map(|t| t.div_ceil(size as u64).max(1) as u32);
    let order = f.adapter.spec().list_order;
    let mut pages_in_pass = 1u32;
    if !matches!((pages, has_next), (Some(p), None) if p > 1) {
        // One page, or pages found one by one: nothing to wait for.
        tail.last_page_asked();
    }
    let end_total = match (pages, has_next) {
        // The total is known: fetch the other pages concurrently, emit them in order.
        (Some(pages), None) if pages > 1 => {
            let newest_first = order == ListOrder::NewestFirst;
            let numbers: Vec<u32> = if newest_first {
                (2..=pages).rev().collect()
            } else {
                (2..=pages).collect()
            };
            let last = numbers.last().copied();
            let mut last_total = total0;
            let mut pages_stream = stream::iter(numbers)
                .map(|n| {
                    if Some(n) == last {
                        tail.last_page_asked();
                    }
                    f.fetch(w, by, n, size)
                })
                .buffered(f.plan.concurrency.max(1));
            while let Some(page) = pages_stream.next().await {
                let page = page?;
                received += page.orders.len() as u64;
                last_total = total_seen(total0, last_total, page.total);
                if e.emit(page)? {
                    return Ok(Scan::Limit);
                }
            }
            drop(pages_stream);
            if newest_first {
                // Page 1 again: orders that arrived during the scan land there, and its total
                // tells whether the window changed.
                let again = f.fetch(w, by, 1, size).await?;
                if last_total == total0 {
                    last_total = again.total;
                }
                if e.emit(again)? {
                    return Ok(Scan::Limit);
                }
            }
            last_total
        }
        (Some(_), None) => total0,
        // Only has_next (or nothing): one page after the other. While the window is
        // expected to go on (as many full pages as the previous pass, or the previous window
        // at its density, held), the page after the one awaited is already asked for, so a
        // request is in flight while the other is read; near the expected end the pages go
        // one by one again, so as not to ask for pages past the last.
        _ => {
            let mut n = 2;
            let mut last_total = total0;
            let mut more = match (pages, has_next) {
                (_, Some(h)) => h,
                (Some(p), None) => p > 1,
                (None, None) => full_first,
            };
            let expected = if f.plan.concurrency > 1 {
                expected_full_pages(e, w, size)
            } else {
                0
            };
            let mut in_flight = FuturesOrdered::new();
            let mut asked = 1u32;
            while more {
                while in_flight.is_empty() || (in_flight.len() < 2 && asked < expected) {
                    asked += 1;
                    in_flight.push_back(f.fetch(w, by, asked, size));
                }
                let Some(page) = in_flight.next().await else {
                    break;
                };
                let page = page?;
                pages_in_pass += 1;
                covered.add(&page, by);
                let got = page.orders.len() as u32;
                received += u64::from(got);
                last_total = total_seen(total0, last_total, page.total);
                more = got > 0
                    && match (page.total, page.has_next) {
                        (_, Some(h)) => h,
                        (Some(t), None) => (n as u64) * (size as u64) < t,
                        (None, None) => got >= size,
                    };
                if e.emit(page)? {
                    return Ok(Scan::Limit);
                }
                n += 1;
                if let Some(most) = dense_above
                    && more
                    && received > most
                {
                    return Ok(Scan::Dense(Dense {
                        received,
                        estimate: covered.estimate(w, received),
                    }));
                }
            }
            last_total
        }
    };
    e.pass_pages = Some(pages_in_pass);
    e.pass_total = end_total;
    if let Some(total) = total0
        && end_total == total0
        && received < total
    {
        f.reasked(w);
        return Ok(Scan::Contradicted(PlatformError::Contradiction {
            platform: f.t.platform(),
            endpoint: f.adapter.list_endpoint(by).to_string(),
            page: None,
            detail: format!(
                "window {w} claims {total} orders from start to end, but its pages held {received}"
            ),
        }));
    }
    if total0.is_none() && by == By::Modified && pages_in_pass > 1 {
        return Ok(Scan::Unverified);
    }
    if end_total != total0 {
        tracing::info!(
            "{}: window {w} changed while scanned (total {:?} → {:?}); scanning it again",
            f.t.platform(),
            total0,
            end_total
        );
        return Ok(Scan::Changed);
    }
    Ok(Scan::Stable)
}

/// The window's total as the pass has seen it so far: the first that differs from page 1's
/// sticks. Pages are fetched concurrently and a retried one may be answered after a later
/// page, so a change seen by any page (not only the last) means the window moved under the
/// scan and must be scanned again.
fn total_seen(first: Option<u64>, so_far: Option<u64>, page: Option<u64>) -> Option<u64> {
    if so_far != first {
        so_far
    } else {
        page.or(so_far)
    }
}

/// How many full pages window `w` should hold: as many as the last pass over it, or else the
/// previous window's density over `w`'s length (0 when nothing is known yet).
fn expected_full_pages(e: &Emitter<'_>, w: Window, size: u32) -> u32 {
    if let Some(p) = e.pass_pages {
        return p.saturating_sub(1);
    }
    let secs = (w.end - w.start).num_milliseconds().max(0) as f64 / 1000.0;
    e.density
        .map_or(0, |d| (d * secs / f64::from(size.max(1))).floor() as u32)
}

/// The earliest and latest times (the one the window filters on) among the orders a pass
/// received: on a list sorted by that time (either way) the part of the window the pass has
/// covered, so that the window's density can be guessed before its end is reached.
#[derive(Default)]
struct Covered(Option<(i64, i64)>);

impl Covered {
    fn add(&mut self, page: &ListPage, by: By) {
        for o in &page.orders {
            let at = match by {
                By::Created => o.created_at,
                By::Modified => o.updated_at,
            };
            if let Some(ms) = at.map(|t| t.at().timestamp_millis()) {
                let (lo, hi) = self.0.get_or_insert((ms, ms));
                *lo = (*lo).min(ms);
                *hi = (*hi).max(ms);
            }
        }
    }

    /// How many orders window `w` holds, at the density of the part covered by `received`
    /// orders: more than `received` (more pages follow), at most 1,000 times as many (a
    /// list not sorted by time covers the whole window at once and is guessed low; a part
    /// scanned later that is still dense is cut again).
    fn estimate(&self, w: Window, received: u64) -> u64 {
        let span = (w.end - w.start).num_milliseconds().max(1) as u128;
        let covered = self
            .0
            .map_or(0, |(lo, hi)| (hi - lo).max(0) as u128)
            .max(1000);
        let guess = u128::from(received) * span / covered;
        u64::try_from(guess)
            .unwrap_or(u64::MAX)
            .clamp(received + 1, received.saturating_mul(1000))
    }
}

fn is_contradiction(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<PlatformError>(),
        Some(PlatformError::Contradiction { .. })
    )
}

fn is_transient(e: &anyhow::Error) -> bool {
    e.downcast_ref::<PlatformError>()
        .is_some_and(PlatformError::is_transient)
}

pub(super) enum Scan {
    /// Page 1 reported more orders than the window may hold; nothing was emitted.
    TooBig(u64),
    /// A list without totals went on past what the window may hold; what the pass received
    /// was emitted.
    Dense(Dense),
    Stable,
    Changed,
    /// Paged without a total while orders may move: needs another pass to confirm.
    Unverified,
    Limit,
    /// The pages, each plausible, do not add up to what the window claimed.
    Contradicted(PlatformError),
}

#[cfg(test)]
mod tests {
    use super::{Covered, total_seen};
    use crate::platforms::Window;

    /// A pass that covered a tenth of its window guesses ten times what it received; one
    /// that covered it all (a list not sorted by time) guesses one more.
    #[test]
    fn a_dense_window_is_guessed_from_the_part_covered() {
        let at = |s: i64| chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let w = Window {
            start: at(0),
            end: at(10_000),
        };
        let ms =
            |a: i64, b: i64| Covered(Some((at(a).timestamp_millis(), at(b).timestamp_millis())));
        assert_eq!(ms(9_000, 10_000).estimate(w, 700), 7_000);
        assert_eq!(ms(0, 10_000).estimate(w, 700), 701);
        // All in one second, or no times at all: at most a thousand times as many.
        assert_eq!(ms(5_000, 5_000).estimate(w, 700), 700_000);
        assert_eq!(Covered(None).estimate(w, 700), 700_000);
    }

    /// A middle page retried after the window changed is answered after the last page: its
    /// different total must still mark the pass as changed.
    #[test]
    fn a_total_that_differs_on_any_page_sticks() {
        let first = Some(100);
        let mut seen = first;
        for page in [Some(100), Some(99), Some(100), None] {
            seen = total_seen(first, seen, page);
        }
        assert_eq!(seen, Some(99));
        let mut steady = first;
        for page in [Some(100), None, Some(100)] {
            steady = total_seen(first, steady, page);
        }
        assert_eq!(steady, first);
    }
}
