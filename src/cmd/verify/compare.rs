//! Comparing a range window by window: which windows (the ledger's, then the default length
//! in the gaps), what the platform lists in each (its total, or an id scan where it gives
//! none or a small window disagrees), what the mirror holds there, and the verdict.

use super::Target;
use crate::model::Order;
use crate::platforms::{By, ListOrder, Window};
use crate::sink::Sink;
use crate::store::{LedgerRow, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// A window whose platform total is at most this many pages (at the platform's largest page
/// size) is scanned for its ids when it disagrees, to name the orders missing.
const NAME_IDS_UP_TO_PAGES: u64 = 5;

/// How a window compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Agree,
    /// The platform's count differs from the one the ledger recorded at pull time.
    Changed,
    /// The platform lists more orders than the mirror holds.
    Missing,
    /// The mirror holds orders the platform does not list (any more) in the window.
    Extra,
}

impl Verdict {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Verdict::Agree => "agree",
            Verdict::Changed => "changed",
            Verdict::Missing => "missing",
            Verdict::Extra => "extra",
        }
    }
}

/// One window's comparison.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) window: Window,
    pub(super) ledger: Option<LedgerRow>,
    pub(super) platform: u64,
    pub(super) mirror: u64,
    /// Ids the platform lists and the mirror lacks, and the reverse, when the window's ids
    /// were scanned.
    pub(super) missing: Option<Vec<String>>,
    pub(super) extra: Option<Vec<String>>,
    pub(super) verdict: Verdict,
}

/// What one pass of verification found.
pub(super) struct Report {
    pub(super) windows: Vec<Checked>,
    /// The platform gives no totals: every window was verified by an id scan.
    pub(super) by_id_scan: bool,
    pub(super) requests: u64,
}

impl Report {
    pub(super) fn disagreeing(&self) -> impl Iterator<Item = &Checked> {
        self.windows.iter().filter(|c| c.verdict != Verdict::Agree)
    }
}

/// The windows of `range`: the ledger's where it has rows of this `by` (the earliest first,
/// the latest recorded for one start), windows of `len` in the gaps.
pub(super) fn plan_windows(
    range: Window,
    ledger: Vec<LedgerRow>,
    by: By,
    len: std::time::Duration,
) -> Vec<(Window, Option<LedgerRow>)> {
    let len = chrono::Duration::from_std(len).unwrap_or(chrono::Duration::days(1));
    let mut out = Vec::new();
    let mut cursor = range.start;
    let fill = |out: &mut Vec<(Window, Option<LedgerRow>)>, from: DateTime<Utc>, to| {
        let mut s = from;
        while s < to {
            let e = (s + len).min(to);
            out.push((Window { start: s, end: e }, None));
            s = e;
        }
    };
    for row in ledger {
        if row.by != by || row.window.start < cursor || row.window.end > range.end {
            continue;
        }
        fill(&mut out, cursor, row.window.start);
        cursor = row.window.end;
        out.push((row.window, Some(row)));
    }
    fill(&mut out, cursor, range.end);
    out
}

/// Compare every window of `range`.
pub(super) async fn check(t: &Target<'_>, store: &dyn Store, range: Window) -> Result<Report> {
    let shop = t.shop.name.as_str();
    let before = t
        .transport
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let ledger = store.ledger(shop, range).await?;
    let windows = plan_windows(range, ledger, t.by, t.window);
    let by_id_scan = t.adapter.spec().list_order == ListOrder::HasNextOnly;
    // Without totals, the whole range is scanned once and its ids sorted into the windows.
    let scanned = if by_id_scan {
        Some(id_scan(t, t.adapter.listed_range(range)).await?)
    } else {
        None
    };
    let mut checked = Vec::with_capacity(windows.len());
    for (w, row) in windows {
        let listed = t.adapter.listed_range(w);
        let (from, to) = (
            listed.start.timestamp_micros(),
            listed.end.timestamp_micros(),
        );
        let platform_ids = scanned.as_ref().map(|ids| ids_within(ids, from, to));
        let (platform, platform_ids) = match platform_ids {
            Some(ids) => (ids.len() as u64, Some(ids)),
            None => {
                let page =
                    crate::sync::sender::window_total(t.adapter, t.transport, w, t.by).await?;
                match page.total {
                    Some(total) => (total, None),
                    // No total after all: this window's ids, then.
                    None => {
                        let ids = ids_within(&id_scan(t, listed).await?, from, to);
                        (ids.len() as u64, Some(ids))
                    }
                }
            }
        };
        let mirror = store.count_in(shop, t.by, from, to).await?;
        let mut c = Checked {
            window: w,
            ledger: row,
            platform,
            mirror,
            missing: None,
            extra: None,
            verdict: Verdict::Agree,
        };
        let mut platform_ids = platform_ids;
        if platform_ids.is_none()
            && platform != mirror
            && platform <= NAME_IDS_UP_TO_PAGES * u64::from(t.adapter.spec().max_page_size)
        {
            platform_ids = Some(ids_within(&id_scan(t, listed).await?, from, to));
        }
        if let Some(ids) = platform_ids {
            let held: BTreeSet<String> = store
                .ids_in(shop, t.by, from, to)
                .await?
                .into_iter()
                .collect();
            let listed: BTreeSet<String> = ids.into_iter().collect();
            c.missing = Some(listed.difference(&held).cloned().collect());
            c.extra = Some(held.difference(&listed).cloned().collect());
        }
        c.verdict = verdict(&c);
        checked.push(c);
    }
    let after = t
        .transport
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(Report {
        windows: checked,
        by_id_scan,
        requests: after - before,
    })
}

/// Agree when the counts (and, where scanned, the ids) are the same; otherwise changed when
/// the platform's count moved since the pull recorded it, else missing or extra.
pub(super) fn verdict(c: &Checked) -> Verdict {
    let ids_differ = c.missing.as_ref().is_some_and(|m| !m.is_empty())
        || c.extra.as_ref().is_some_and(|e| !e.is_empty());
    if c.platform == c.mirror && !ids_differ {
        return Verdict::Agree;
    }
    if let Some(row) = &c.ledger
        && row.platform_total.unwrap_or(row.received) != c.platform
    {
        return Verdict::Changed;
    }
    let missing = c
        .missing
        .as_ref()
        .map_or(c.platform > c.mirror, |m| !m.is_empty());
    if missing {
        Verdict::Missing
    } else {
        Verdict::Extra
    }
}

/// The ids (sorted) whose time lies in `[from, to)` µs.
fn ids_within(ids: &HashMap<String, i64>, from: i64, to: i64) -> Vec<String> {
    let mut v: Vec<String> = ids
        .iter()
        .filter(|(_, t)| **t >= from && **t < to)
        .map(|(id, _)| id.clone())
        .collect();
    v.sort();
    v
}

/// Every order the platform lists in `range` by the shop's time, as id → that time (µs; the
/// newest version's), through the pull loop (its paging, re-scans and retries).
async fn id_scan(t: &Target<'_>, range: Window) -> Result<HashMap<String, i64>> {
    let plan = crate::sync::Plan {
        since: range.start,
        until: range.end,
        by: t.by,
        status: None,
        keep_status: None,
        limit: None,
        window: None,
        page_size: None,
        scan_until: Utc::now(),
        concurrency: 4,
        // The sink keeps only ids: windows need no cap on what they hold.
        window_orders: None,
    };
    let mut ids = IdSink {
        by: t.by,
        ids: HashMap::new(),
    };
    let mut nothing = |_end: DateTime<Utc>| Ok(());
    crate::sync::pull(t.adapter, t.transport, &plan, &mut ids, &mut nothing).await?;
    Ok(ids.ids)
}

/// Keeps each order's id and scanned time.
struct IdSink {
    by: By,
    ids: HashMap<String, i64>,
}

impl Sink for IdSink {
    fn write(&mut self, o: &Order) -> std::io::Result<()> {
        let at = match self.by {
            By::Created => o.created_at,
            By::Modified => o.updated_at,
        };
        if let Some(at) = at {
            let us = at.at().timestamp_micros();
            let e = self.ids.entry(o.order_id.clone()).or_insert(us);
            *e = (*e).max(us);
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
