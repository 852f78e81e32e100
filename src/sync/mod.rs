//! The pull loop: windows → pages → dedupe → sink, for any adapter.
//!
//! For each window it learns the window's total from page 1, then pages in the order that
//! cannot skip an order while orders change during the scan: forward on ascending lists,
//! last-to-first on newest-first lists (then page 1 again), forward on `has_next` lists. It
//! compares the total at the start and the end of the scan and re-scans (then halves) a window
//! whose total changed. A `has_next` list gives no total to compare, so a multi-page window
//! scanned by modification time is scanned again until a pass finds no order the previous
//! passes missed. Dedupe remembers the orders of the current and the previous window only
//! (an order seen twice is seen within a window's passes or across one inclusive border), so
//! memory does not grow with the number of orders pulled. Once a window's total is known, its
//! remaining pages are fetched concurrently (bounded by `--concurrency`; the rate limiter in
//! `net` still paces every request) and emitted in page order, so output stays deterministic;
//! a `has_next` list keeps the next page's request in flight while a page is read. Windows
//! adapt to the orders they hold (`window::Sizer`): created-time windows grow while sparse, all
//! shrink when dense, and a window whose page 1 reports too many orders is cut before it is
//! scanned, which bounds what dedupe remembers. A list that reports no total (`has_next`)
//! cannot tell before: its pass is stopped once it has received more than a window may hold,
//! the window is cut into parts, and the orders already emitted are remembered until the last
//! part is done, so that the parts do not emit them again. Orders are deduplicated by
//! `order_id` (keeping a newer `updated_at`) against the current and the previous window. After each completed window the
//! sink is flushed and `checkpoint` is called with the window's end, which is what state files
//! record (and where the mirror commits the window); a checkpoint runs while the next window is
//! scanned, and the last one before the pull returns.

mod check;
mod scan;
use scan::{Dense, Scanned, WindowTail, window};
pub mod progress;
pub mod sender;
pub mod state;
#[cfg(test)]
pub(crate) mod testing;
pub mod window;

use crate::error::PlatformError;
use crate::model::{Order, Status, Timestamp};
use crate::net::Transport;
use crate::platforms::{Adapter, By, ByMode, ListPage, PageQuery, Window};
use crate::sink::Sink;
use anyhow::Result;
use chrono::{DateTime, Utc};

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What to pull.
#[derive(Debug, Clone)]
pub struct Plan {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub by: By,
    /// A status code the platform's list filters on (its own value).
    pub status: Option<String>,
    /// Keep only orders in this normalized status (`--status awaiting_shipment`): one
    /// normalized status may stand for several platform codes, so it is applied here.
    pub keep_status: Option<Status>,
    pub limit: Option<u64>,
    /// Window length override (`--window`).
    pub window: Option<std::time::Duration>,
    /// Page size override, capped at the platform's maximum.
    pub page_size: Option<u32>,
    /// Upper bound for modified-time scans that serve `--by created` (now - settle).
    pub scan_until: DateTime<Utc>,
    /// Pages of one window fetched at once.
    pub concurrency: usize,
    /// At most this many orders in a window: set when the sink holds a window's orders until
    /// its checkpoint (the mirror), so that memory stays flat however many orders a run pulls.
    pub window_orders: Option<u64>,
}

/// End-of-run figures (stderr, `--summary-json`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub platform: String,
    pub shop: String,
    pub since: String,
    pub until: String,
    pub windows: u64,
    pub pages: u64,
    pub requests: u64,
    pub retries: u64,
    pub orders_emitted: u64,
    pub duplicates_dropped: u64,
    pub filtered_out: u64,
    pub rescans: u64,
    /// Windows asked again because an answer contradicted itself or the window's total.
    pub windows_reasked: u64,
    pub split_windows: u64,
    pub elapsed_ms: u64,
    /// End of the last window emitted completely.
    pub complete_until: Option<String>,
    pub stopped_at_limit: bool,
}

/// How many times a window whose total keeps changing is scanned before it is halved.
const SCANS_BEFORE_SPLIT: u32 = 3;

/// Fetches pages; shared by the concurrent requests of one window.
struct Fetcher<'a, A: Adapter + ?Sized> {
    adapter: &'a A,
    t: &'a Transport,
    plan: &'a Plan,
    pages: AtomicU64,
    /// Windows (start, end in ms) in which an answer contradicted itself.
    reasked: std::sync::Mutex<std::collections::HashSet<(i64, i64)>>,
}

/// Takes pages in order: filter, dedupe, write, count.
struct Emitter<'a> {
    sink: &'a mut dyn Sink,
    limit: Option<u64>,
    /// `--by created` served through modified-time windows: keep created in this range.
    created_filter: Option<Window>,
    keep_status: Option<Status>,
    seen: HashMap<OrderKey, Version>,
    /// `seen` of the previous window.
    seen_before: HashMap<OrderKey, Version>,
    /// What passes stopped because their window was dense had emitted: kept until the last
    /// part of that window (`cut_until`) is done. At most a window's worth per cut.
    seen_cut: HashMap<OrderKey, Version>,
    cut_until: Option<DateTime<Utc>>,
    keys: KeyHasher,
    /// Orders new to `seen` (or newer versions) in the current pass over a window.
    new_in_pass: u64,
    /// Orders per second of the last complete window, to guess how many pages the next holds.
    density: Option<f64>,
    /// Pages of the last pass over the current window.
    pass_pages: Option<u32>,
    /// The platform's total at the end of the last pass over a window (`None`: it gave none).
    pass_total: Option<u64>,
    /// The total of the last window scanned completely (see [`WindowLedger`]).
    window_total: Option<u64>,
    summary: Summary,
    progress: progress::Progress,
}

/// What one complete window held, for the mirror's ledger (`ordersync verify`): what the
/// platform said the window holds and how many distinct orders the pull received from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLedger {
    pub window: Window,
    /// The time the platform filtered on (after `ViaModified`, always `Modified`).
    pub by: By,
    /// The platform's total at the end of the window's last pass (summed over the parts of a
    /// window halved while scanned); `None` where the platform gives none (`has_next` lists)
    /// or the window never held still.
    pub platform_total: Option<u64>,
    /// Distinct orders received in the window, after `--status` and `--by created` filters.
    pub received: u64,
}

/// What a pull calls after each fully emitted and flushed window, with what the window held:
/// a state file records its end, the mirror commits the window's orders and its ledger row
/// with it. Any `FnMut(DateTime<Utc>) -> Result<()>` is one (it is given the window's end).
///
/// The returned future runs while the next window is scanned and emitted into the same sink:
/// whatever it commits of the sink's content must be taken when `window_done` is called, not
/// when the future is first polled.
pub trait Checkpoint {
    fn window_done(
        &mut self,
        done: WindowLedger,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + '_>>;
}

impl<F: FnMut(DateTime<Utc>) -> Result<()>> Checkpoint for F {
    fn window_done(
        &mut self,
        done: WindowLedger,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + '_>> {
        Box::pin(std::future::ready(self(done.window.end)))
    }
}

/// Run a pull. `checkpoint` is called after each fully emitted and flushed window.
pub async fn pull<A: Adapter + ?Sized>(
    adapter: &A,
    t: &Transport,
    plan: &Plan,
    sink: &mut dyn Sink,
    checkpoint: &mut dyn Checkpoint,
) -> Result<Summary> {
    let started = Instant::now();
    let spec = adapter.spec();
    let (scan_by, range, created_filter, max_window) = match spec.by_mode(plan.by) {
        ByMode::Native { max_window } => (plan.by, (plan.since, plan.until), None, max_window),
        ByMode::ViaModified => {
            let max = match spec.by_modified {
                ByMode::Native { max_window } => max_window,
                _ => None,
            };
            (
                By::Modified,
                (plan.since, plan.scan_until.max(plan.until)),
                Some(Window {
                    start: plan.since,
                    end: plan.until,
                }),
                max,
            )
        }
        ByMode::Unsupported(why) => {
            return Err(crate::error::usage(format!(
                "{} cannot pull by {} time: {why}",
                spec.id, plan.by
            )));
        }
    };
    // Creation times never change, so created-time windows need not be short: a day keeps
    // paging shallow. Modified-time windows use the platform's default (30 minutes where the
    // platform recommends it).
    let mut len = plan.window.unwrap_or(match scan_by {
        By::Created => std::time::Duration::from_secs(24 * 3600),
        By::Modified => spec.default_window,
    });
    if let Some(max) = max_window {
        len = len.min(max);
    }
    sender::credentials_due(adapter, t).await?;
    // Windows adapt to how many orders they hold: created-time ones (without --window) grow
    // while sparse, and every window shrinks when dense (`window::Sizer`).
    let page = page_size(adapter, plan);
    let bounds = window::Bounds::for_page_size(page);
    let bounds = match plan.window_orders {
        Some(orders) => bounds.held_whole(orders),
        None => bounds,
    };
    let mut sizer = window::Sizer::new(
        len,
        max_window,
        bounds,
        scan_by == By::Created && plan.window.is_none(),
    );
    let fetcher = Fetcher {
        adapter,
        t,
        plan,
        pages: AtomicU64::new(0),
        reasked: Default::default(),
    };
    let mut emitter = Emitter {
        sink,
        limit: plan.limit,
        created_filter,
        keep_status: plan.keep_status,
        seen: HashMap::new(),
        seen_before: HashMap::new(),
        seen_cut: HashMap::new(),
        cut_until: None,
        keys: KeyHasher::default(),
        new_in_pass: 0,
        density: None,
        pass_pages: None,
        pass_total: None,
        window_total: None,
        summary: Summary {
            platform: spec.id.to_string(),
            since: plan.since.to_rfc3339(),
            until: plan.until.to_rfc3339(),
            ..Summary::default()
        },
        progress: progress::Progress::new(spec.id, (range.1 - range.0).num_seconds().max(0) as u64),
    };
    // Windows to scan, in order: the current one and the next are always planned (the next
    // one's page 1 may be fetched early), and a window split before its scan puts its parts
    // in front.
    let mut upcoming: VecDeque<Window> = VecDeque::new();
    let mut planned_until = range.0;
    let mut prefetched: Option<(Window, Result<ListPage, PlatformError>)> = None;
    // A window scanned and flushed whose checkpoint is still to come.
    let mut finished: Option<WindowLedger> = None;
    loop {
        while upcoming.len() < 2 && planned_until < range.1 {
            let w = Window {
                start: planned_until,
                end: sizer.end_of(planned_until, range.1),
            };
            planned_until = w.end;
            upcoming.push_back(w);
        }
        let Some(w) = upcoming.pop_front() else {
            break;
        };
        let first = match prefetched.take() {
            Some((pw, page)) if pw == w => Some(page),
            other => {
                prefetched = other;
                None
            }
        };
        // The next window's first page is asked for while this window is scanned: its
        // answer says how many pages follow, so without it the pull would wait a round trip
        // at every window border. Only on creation-time scans: there a window's orders stay
        // put, while on modification-time scans an early page 1 would stretch the time
        // between the two totals that tell whether the window changed under the scan, and an
        // order moving out while another moves in leaves the totals equal. (Nor under
        // --limit, where it may never be needed, nor with --concurrency 1, which asks for one
        // request at a time, nor while a page fetched early for a later window waits.)
        let prefetch_for = upcoming.front().copied().filter(|_| {
            prefetched.is_none()
                && scan_by == By::Created
                && plan.limit.is_none()
                && plan.concurrency > 1
        });
        // It is asked for once this window's last page has been (see `WindowTail`): answers
        // are read in the order they were asked for, so it is then read after this window's
        // pages instead of being held, parsed, through the whole window.
        let tail = WindowTail::default();
        let prefetch = async {
            let n = prefetch_for?;
            tail.reached().await?;
            Some((n, fetcher.first_page(n, scan_by).await))
        };
        let scanned = async {
            let split_above = sizer.bounds().split_above;
            let done = window(
                &fetcher,
                &mut emitter,
                w,
                scan_by,
                first,
                split_above,
                &tail,
            )
            .await;
            // A window cut into parts (or failed) comes before the next one after all.
            tail.end(matches!(done, Ok(Scanned::Complete)));
            done
        };
        // The previous window's checkpoint (for the mirror, a transaction) runs while this
        // window is scanned, so that the pull never waits on the database between windows.
        // `window_done` takes what it commits when it is called, here, before this window
        // emits anything.
        let pending = finished
            .take()
            .map(|done| (done.window.end, checkpoint.window_done(done)));
        let committing = async {
            match pending {
                Some((end, commit)) => commit.await.map(|()| Some(end)),
                None => Ok(None),
            }
        };
        let (committed, done, first_of_next) =
            futures_util::future::join3(committing, scanned, prefetch).await;
        if first_of_next.is_some() {
            prefetched = first_of_next;
        }
        if let Some(end) = committed? {
            emitter.summary.complete_until = Some(end.to_rfc3339());
        }
        match done? {
            Scanned::Complete => {}
            Scanned::Limit => {
                emitter.sink.flush()?;
                emitter.summary.stopped_at_limit = true;
                break;
            }
            Scanned::TooBig(total) => {
                // Nothing of `w` was emitted yet: scan it as shorter windows instead.
                sizer.window_held(w.end - w.start, total);
                let parts = sizer.bounds().parts_for(total);
                tracing::debug!(
                    "{}: window {w} holds {total} orders; cutting it in {parts}",
                    spec.id
                );
                let parts = window::split(w, parts).unwrap_or_default();
                emitter.summary.split_windows += 1;
                for part in parts.into_iter().rev() {
                    upcoming.push_front(part);
                }
                continue;
            }
            Scanned::Dense(Dense { received, estimate }) => {
                // What the pass emitted stays emitted: its parts must not emit it again.
                sizer.window_held(w.end - w.start, estimate);
                let parts = sizer.bounds().parts_for(estimate);
                tracing::debug!(
                    "{}: window {w} went on past {received} orders (about {estimate}); \
                     cutting it in {parts}",
                    spec.id
                );
                emitter.cut(w);
                emitter.summary.split_windows += 1;
                // (`scan` stops a pass only on a window it can split.)
                for part in window::split(w, parts)
                    .unwrap_or_default()
                    .into_iter()
                    .rev()
                {
                    upcoming.push_front(part);
                }
                continue;
            }
        }
        emitter.sink.flush()?;
        finished = Some(WindowLedger {
            window: w,
            by: scan_by,
            platform_total: emitter.window_total,
            received: emitter.seen.len() as u64,
        });
        sizer.window_held(w.end - w.start, emitter.seen.len() as u64);
        let secs = (w.end - w.start).num_milliseconds().max(1) as f64 / 1000.0;
        emitter.density = Some(emitter.seen.len() as f64 / secs);
        // The two tables swap roles and keep their capacity: no table is built up anew (and
        // rehashed a dozen times on the way) for every window.
        std::mem::swap(&mut emitter.seen, &mut emitter.seen_before);
        emitter.seen.clear();
        if emitter.cut_until.is_some_and(|until| w.end >= until) {
            emitter.seen_cut.clear();
            emitter.cut_until = None;
        }
        emitter.progress.window_done(
            (w.end - range.0).num_seconds().max(0) as u64,
            t.stats.requests.load(Ordering::Relaxed),
        );
    }
    if let Some(done) = finished {
        let end = done.window.end;
        checkpoint.window_done(done).await?;
        emitter.summary.complete_until = Some(end.to_rfc3339());
    }
    emitter.progress.finish();
    let mut s = emitter.summary;
    s.pages = fetcher.pages.load(Ordering::Relaxed);
    s.requests = t.stats.requests.load(Ordering::Relaxed);
    s.retries = t.stats.retries.load(Ordering::Relaxed);
    s.windows_reasked = fetcher.reasked_count();
    s.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(s)
}

/// The page size asked for: `--page-size`, at most the platform's maximum.
fn page_size<A: Adapter + ?Sized>(adapter: &A, plan: &Plan) -> u32 {
    let max = adapter.spec().max_page_size;
    plan.page_size.map_or(max, |s| s.min(max))
}

impl<A: Adapter + ?Sized> Fetcher<'_, A> {
    /// Note that window `w` had to be asked again because an answer contradicted itself.
    fn reasked(&self, w: Window) {
        self.reasked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((w.start.timestamp_millis(), w.end.timestamp_millis()));
    }

    fn reasked_count(&self) -> u64 {
        self.reasked.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }

    /// Page 1 of a window.
    async fn first_page(&self, w: Window, by: By) -> Result<ListPage, PlatformError> {
        self.fetch(w, by, 1, page_size(self.adapter, self.plan))
            .await
    }

    async fn fetch(
        &self,
        w: Window,
        by: By,
        page: u32,
        size: u32,
    ) -> Result<ListPage, PlatformError> {
        let q = PageQuery {
            window: w,
            by,
            status: self.plan.status.clone(),
            page,
            page_size: size,
        };
        let endpoint = self.adapter.list_endpoint(by);
        // A page that contradicts itself fails like a garbled one: the transport asks again.
        let parse = |b: &[u8]| {
            let p = self.adapter.parse_list(b, &q)?;
            match check::contradiction(&p, page, size) {
                None => Ok(p),
                Some(detail) => {
                    self.reasked(w);
                    Err(PlatformError::Contradiction {
                        platform: self.t.platform(),
                        endpoint: endpoint.to_string(),
                        page: Some(page),
                        detail,
                    })
                }
            }
        };
        let p = sender::list_page(self.adapter, self.t, &q, parse).await?;
        self.pages.fetch_add(1, Ordering::Relaxed);
        Ok(p)
    }
}

impl Emitter<'_> {
    /// Write a page's new orders; `true` when the limit is reached.
    fn emit(&mut self, page: ListPage) -> Result<bool> {
        for o in page.orders {
            if self.limit_reached() {
                return Ok(true);
            }
            if let Some(f) = self.created_filter
                && !o
                    .created_at
                    .is_some_and(|c| c.at() >= f.start && c.at() < f.end)
            {
                self.summary.filtered_out += 1;
                continue;
            }
            if self.keep_status.is_some_and(|s| s != o.status) {
                self.summary.filtered_out += 1;
                continue;
            }
            if !self.is_new(&o) {
                self.summary.duplicates_dropped += 1;
                continue;
            }
            self.new_in_pass += 1;
            self.sink.write(&o)?;
            self.summary.orders_emitted += 1;
        }
        self.progress.orders(self.summary.orders_emitted);
        Ok(self.limit_reached())
    }

    fn limit_reached(&self) -> bool {
        self.limit.is_some_and(|l| self.summary.orders_emitted >= l)
    }

    /// Window `w`'s pass was stopped with what it emitted in `seen`: remember that until the
    /// parts `w` is cut into are done, and start them afresh.
    fn cut(&mut self, w: Window) {
        for (key, version) in self.seen.drain() {
            let kept = self.seen_cut.entry(key).or_insert(version);
            *kept = (*kept).max(version);
        }
        self.cut_until = self.cut_until.max(Some(w.end));
    }

    /// First sighting, or a newer version of an order already emitted.
    fn is_new(&mut self, o: &Order) -> bool {
        let key = self.keys.key(&o.order_id);
        let version = version_of(o.updated_at);
        let before = self
            .seen_before
            .get(&key)
            .copied()
            .max(self.seen_cut.get(&key).copied());
        match self.seen.get_mut(&key) {
            Some(prev) if version > *prev => {
                *prev = version;
                true
            }
            Some(_) => false,
            None => {
                self.seen.insert(key, version);
                before.is_none_or(|prev| version > prev)
            }
        }
    }
}

/// An order id as dedupe remembers it: 128 bits of keyed hash, not the id's text, so that
/// the memory of a window's orders does not depend on how long ids are. Two ids share a key
/// with a probability of about n²/2¹²⁹ (for a million orders, 10⁻²⁷), and the keys are
/// random per run. Two `u64`s rather than a `u128`, whose 16-byte alignment would pad each
/// entry of the dedupe table from 24 to 32 bytes.
type OrderKey = (u64, u64);

/// The version of an order dedupe compares: its modification time in microseconds since the
/// epoch, `i64::MIN` when the platform gives none (older than any time, as `None` is).
type Version = i64;

fn version_of(updated_at: Option<Timestamp>) -> Version {
    updated_at.map_or(i64::MIN, |t| t.at().timestamp_micros())
}

#[derive(Default)]
struct KeyHasher(std::hash::RandomState, std::hash::RandomState);

impl KeyHasher {
    fn key(&self, order_id: &str) -> OrderKey {
        use std::hash::BuildHasher;
        (self.0.hash_one(order_id), self.1.hash_one(order_id))
    }
}
