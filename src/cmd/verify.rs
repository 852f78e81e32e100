//! `ordersync verify`: prove that the mirror holds what the platform lists (issue 18).
//!
//! The range is cut into windows: the ledger's own windows where the mirror has them (so that
//! what the platform says now can be set against what it said at pull time), the platform's
//! default windows elsewhere. For each window the platform is asked cheaply (page 1 at one
//! order per page: its total only) and the mirror's orders whose scanned time (created or
//! modified, as the shop is pulled) falls in what that request covers are counted. Platforms
//! that give no total (vv-tool's `has_next` list) are verified by a full id scan of the range
//! instead, which also names the orders missing. A window that disagrees is *changed* when the
//! platform's count now differs from what the ledger recorded at pull time (orders moved on
//! since; the next pull takes them), *missing* when the platform lists more than the mirror
//! holds, *extra* when fewer. `--repair` re-pulls the disagreeing windows through the pull
//! path (`pull::pull_shop`, the mark left alone as with `--no-state`), so that what comes back
//! reaches the change feed, then verifies again.

use super::{adapter, load_source, pull, shown, transport};
use crate::cli::{PullArgs, VerifyArgs};
use crate::config::Shop;
use crate::error::usage;
use crate::model::Order;
use crate::platforms::{Adapter, By, ByMode, ListOrder, Window};
use crate::sink::Sink;
use crate::store::{DbUrl, LedgerRow, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

/// A window whose platform total is at most this many pages (at the platform's largest page
/// size) is scanned for its ids when it disagrees, to name the orders missing.
const NAME_IDS_UP_TO_PAGES: u64 = 5;

/// How a window compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Agree,
    /// The platform's count differs from the one the ledger recorded at pull time.
    Changed,
    /// The platform lists more orders than the mirror holds.
    Missing,
    /// The mirror holds orders the platform does not list (any more) in the window.
    Extra,
}

impl Verdict {
    fn as_str(self) -> &'static str {
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
struct Checked {
    window: Window,
    ledger: Option<LedgerRow>,
    platform: u64,
    mirror: u64,
    /// Ids the platform lists and the mirror lacks, and the reverse, when the window's ids
    /// were scanned.
    missing: Option<Vec<String>>,
    extra: Option<Vec<String>>,
    verdict: Verdict,
}

/// What one pass of verification found.
struct Report {
    windows: Vec<Checked>,
    /// The platform gives no totals: every window was verified by an id scan.
    by_id_scan: bool,
    requests: u64,
}

impl Report {
    fn disagreeing(&self) -> impl Iterator<Item = &Checked> {
        self.windows.iter().filter(|c| c.verdict != Verdict::Agree)
    }
}

/// What verify needs of the shop and the mirror.
struct Target<'a> {
    shop: &'a Shop,
    by: By,
    adapter: &'a dyn Adapter,
    transport: &'a crate::net::Transport,
    /// Window length where the ledger has none.
    window: std::time::Duration,
}

pub(super) async fn verify(
    args: VerifyArgs,
    config: Option<std::path::PathBuf>,
    quiet: bool,
) -> Result<()> {
    let source = load_source(false, config.as_deref(), 0).await?;
    let mut shop = source.config.pick(Some(&args.shop), None)?.clone();
    if let Some(url) = &args.base_url {
        shop.set_base_url(url)?;
    }
    let db = match &args.db {
        Some(d) if !d.trim().is_empty() => secrecy::SecretString::from(d.clone()),
        _ => source.config.db()?.ok_or_else(|| {
            usage("say which mirror: --db URL, ORDERSYNC_DB, or `db` in the config file")
        })?,
    };
    let url = DbUrl::parse(secrecy::ExposeSecret::expose_secret(&db))?;
    let store = if args.repair {
        crate::store::open(&url).await?
    } else {
        crate::store::open_for_reading(&url).await?
    };
    let known = match store.shop(&shop.name).await? {
        Some(k) => k,
        None => {
            let names: Vec<String> = store.shops().await?.into_iter().map(|s| s.shop).collect();
            store.close().await?;
            return Err(usage(format!(
                "the mirror {} has never pulled shop {:?} (its shops: {}); pull it with --db \
                 first",
                url.shown(),
                shop.name,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
    };
    let spec = shop.platform.spec();
    if known.platform != spec.id {
        return Err(usage(format!(
            "shop {:?} is a {} shop in the config but the mirror {} holds it as {}",
            shop.name,
            spec.id,
            url.shown(),
            known.platform
        )));
    }
    let max_window = match spec.by_mode(known.by) {
        ByMode::Native { max_window } => max_window,
        ByMode::ViaModified => {
            return Err(usage(format!(
                "shop {:?} is mirrored --by {} on {}, which lists orders by modification time \
                 only: its windows' totals cannot be set against the mirror's orders by \
                 creation time, so verify cannot count it",
                shop.name, known.by, spec.id
            )));
        }
        ByMode::Unsupported(why) => {
            return Err(usage(format!(
                "{} cannot list by {}: {why}",
                spec.id, known.by
            )));
        }
    };
    let Some(mark) = known.mark else {
        return Err(usage(format!(
            "shop {:?} has no complete window in the mirror yet: nothing to verify",
            shop.name
        )));
    };
    let until = match args.until {
        Some(u) if u > mark => {
            tracing::info!(
                "--until is past the shop's mark ({}); verifying up to the mark",
                shown(mark)
            );
            mark
        }
        Some(u) => u,
        None => mark,
    };
    if args.since >= until {
        return Err(usage(format!(
            "nothing to verify: --since {} is not before {} (--until, or the shop's mark)",
            shown(args.since),
            shown(until)
        )));
    }
    let range = Window {
        start: args.since,
        end: until,
    };
    let mut window = args.window.unwrap_or(match known.by {
        By::Created => std::time::Duration::from_secs(24 * 3600),
        By::Modified => spec.default_window,
    });
    if let Some(max) = max_window {
        window = window.min(max);
    }
    let t = transport(&shop, args.rate_limit, args.timeout, args.retries, None)?;
    let a = adapter(&shop)?;
    let target = Target {
        shop: &shop,
        by: known.by,
        adapter: a.as_ref(),
        transport: &t,
        window,
    };
    let first = check(&target, store.as_ref(), range).await?;
    let mut out = std::io::stdout().lock();
    crate::logging::set_stdout_is_data(true);
    print_report(&mut out, &target, range, &first)?;
    let mut last = first;
    if args.repair && last.disagreeing().next().is_some() {
        // The repair pulls open the mirror themselves (and take the shop's lock).
        store.close().await?;
        let spans = spans_to_repair(&last);
        let mut repaired = (0u64, 0u64);
        for span in &spans {
            let (new, updated) = repair(&shop, known.by, &db, *span, &args).await?;
            repaired.0 += new;
            repaired.1 += updated;
        }
        writeln!(
            out,
            "repair: re-pulled {} range(s) into the mirror: {} new, {} updated (in the change \
             feed: `ordersync changes`); verifying again",
            spans.len(),
            repaired.0,
            repaired.1
        )?;
        let store = crate::store::open(&url).await?;
        last = check(&target, store.as_ref(), range).await?;
        store.close().await?;
        print_report(&mut out, &target, range, &last)?;
    } else {
        store.close().await?;
    }
    out.flush()?;
    let bad = last.disagreeing().count();
    if !quiet {
        eprintln!(
            "ordersync: verify of shop {}: {} windows, {} requests",
            shop.name,
            last.windows.len(),
            last.requests
        );
    }
    if bad > 0 {
        return Err(anyhow::Error::new(crate::error::Disagreement(format!(
            "shop {}: {bad} of {} windows disagree with the platform{}",
            shop.name,
            last.windows.len(),
            if args.repair {
                ""
            } else {
                "; --repair re-pulls them"
            }
        ))));
    }
    Ok(())
}

/// The windows of `range`: the ledger's where it has rows of this `by` (the earliest first,
/// the latest recorded for one start), windows of `len` in the gaps.
fn plan_windows(
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
async fn check(t: &Target<'_>, store: &dyn Store, range: Window) -> Result<Report> {
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
fn verdict(c: &Checked) -> Verdict {
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

/// The disagreeing windows, adjacent ones joined: each is pulled once.
fn spans_to_repair(r: &Report) -> Vec<Window> {
    let mut spans: Vec<Window> = Vec::new();
    for c in r.disagreeing() {
        match spans.last_mut() {
            Some(last) if last.end == c.window.start => last.end = c.window.end,
            _ => spans.push(c.window),
        }
    }
    spans
}

/// Pull `span` into the mirror as `pull --no-state` would (the mark left alone); the new
/// and updated orders it recorded.
async fn repair(
    shop: &Shop,
    by: By,
    db: &secrecy::SecretString,
    span: Window,
    args: &VerifyArgs,
) -> Result<(u64, u64)> {
    let pull_args = repair_args(&shop.name, by, span, args)?;
    let mut discard = Discard;
    let run = pull::pull_shop(
        shop,
        &pull_args,
        None,
        &mut discard,
        false,
        Some(pull::MirrorTarget {
            db,
            skip_busy: false,
        }),
    )
    .await;
    run.result?;
    Ok(run.mirrored.map_or((0, 0), |m| (m.new, m.updated)))
}

/// The flags of the repair's pull, parsed as the command line's would be.
fn repair_args(shop: &str, by: By, span: Window, args: &VerifyArgs) -> Result<PullArgs> {
    #[derive(clap::Parser)]
    struct Pull {
        #[command(flatten)]
        args: PullArgs,
    }
    let mut argv: Vec<String> = [
        "pull",
        "--shop",
        shop,
        "--no-state",
        "--settle",
        "0s",
        "--by",
        &by.to_string(),
        "--since",
        &span.start.to_rfc3339(),
        "--until",
        &span.end.to_rfc3339(),
        "--timeout",
        &format!("{}s", args.timeout.as_secs().max(1)),
        "--retries",
        &args.retries.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(rate) = args.rate_limit {
        argv.extend(["--rate-limit".to_string(), rate.to_string()]);
    }
    <Pull as clap::Parser>::try_parse_from(argv)
        .map(|p| p.args)
        .map_err(|e| anyhow::anyhow!("cannot set up the repair's pull: {e}"))
}

/// The repair's output: its changes are in the mirror's feed; verify's stdout is its report.
struct Discard;

impl Sink for Discard {
    fn write(&mut self, _: &Order) -> std::io::Result<()> {
        Ok(())
    }
    fn write_change(&mut self, _: &Order, _: &str, _: i64) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One line per disagreeing window, then a summary line.
fn print_report(
    out: &mut dyn Write,
    t: &Target<'_>,
    range: Window,
    r: &Report,
) -> std::io::Result<()> {
    for c in r.disagreeing() {
        let mut line = format!(
            "{:<8} {}  platform {}  mirror {}",
            c.verdict.as_str(),
            c.window,
            c.platform,
            c.mirror
        );
        if let Some(row) = &c.ledger {
            match row.platform_total {
                Some(total) => line.push_str(&format!("  (at pull: platform {total}")),
                None => line.push_str("  (at pull: no total"),
            }
            line.push_str(&format!(", received {})", row.received));
        }
        if let Some(m) = c.missing.as_ref().filter(|m| !m.is_empty()) {
            line.push_str(&format!("  missing: {}", m.join(" ")));
        }
        if let Some(e) = c.extra.as_ref().filter(|e| !e.is_empty()) {
            line.push_str(&format!("  not listed: {}", e.join(" ")));
        }
        writeln!(out, "{line}")?;
    }
    let count = |v: Verdict| r.windows.iter().filter(|c| c.verdict == v).count();
    let bad = r.disagreeing().count();
    writeln!(
        out,
        "verify {} ({}, by {}) {}: {} windows, {} agree, {} disagree ({} changed, {} missing, \
         {} extra){}",
        t.shop.name,
        t.adapter.spec().id,
        t.by,
        range,
        r.windows.len(),
        r.windows.len() - bad,
        bad,
        count(Verdict::Changed),
        count(Verdict::Missing),
        count(Verdict::Extra),
        if r.by_id_scan {
            format!(
                "; {} gives no totals: every window was verified by a full id scan",
                t.adapter.spec().id
            )
        } else {
            String::new()
        }
    )?;
    if count(Verdict::Changed) > 0 {
        writeln!(
            out,
            "changed: the platform's count moved since the pull recorded it (orders modified \
             since, or added late); a pull from the mark brings what moved, then verify again"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn row(s: i64, e: i64) -> LedgerRow {
        LedgerRow {
            window: Window {
                start: at(s),
                end: at(e),
            },
            by: By::Modified,
            platform_total: Some(1),
            received: 1,
            recorded_at: String::new(),
        }
    }

    /// Ledger windows are used where they fit; gaps (and overlapping rows of a later run's
    /// lookback) get windows of the default length; together they cover the range once.
    #[test]
    fn windows_follow_the_ledger_and_fill_the_gaps() {
        let range = Window {
            start: at(0),
            end: at(10),
        };
        let rows = vec![row(1, 3), row(2, 4), row(3, 5), row(8, 12)];
        let got = plan_windows(
            range,
            rows,
            By::Modified,
            std::time::Duration::from_secs(7200),
        );
        let spans: Vec<(i64, i64, bool)> = got
            .iter()
            .map(|(w, r)| {
                (
                    (w.start - at(0)).num_hours(),
                    (w.end - at(0)).num_hours(),
                    r.is_some(),
                )
            })
            .collect();
        assert_eq!(
            spans,
            vec![
                (0, 1, false),
                (1, 3, true),
                (3, 5, true),
                (5, 7, false),
                (7, 9, false),
                (9, 10, false)
            ]
        );
    }

    #[test]
    fn a_count_that_moved_since_the_pull_is_changed_not_missing() {
        let c = |platform, mirror, ledger: Option<LedgerRow>, missing: Option<Vec<String>>| {
            let mut c = Checked {
                window: row(0, 1).window,
                ledger,
                platform,
                mirror,
                missing,
                extra: None,
                verdict: Verdict::Agree,
            };
            c.verdict = verdict(&c);
            c.verdict
        };
        let pulled = |n| {
            Some(LedgerRow {
                platform_total: Some(n),
                received: n,
                ..row(0, 1)
            })
        };
        assert_eq!(c(5, 5, pulled(5), None), Verdict::Agree);
        assert_eq!(c(5, 4, pulled(5), None), Verdict::Missing);
        assert_eq!(c(4, 5, pulled(5), None), Verdict::Changed);
        assert_eq!(c(5, 4, None, None), Verdict::Missing);
        assert_eq!(c(4, 5, None, None), Verdict::Extra);
        // Same counts, other ids: not in agreement.
        assert_eq!(c(5, 5, pulled(5), Some(vec!["x".into()])), Verdict::Missing);
    }
}
