//! `ordersync pull`: resolve the shop and the range, run the pull loop into a sink, advance
//! the state, report. [`pull_shop`] is one shop's pull; one shop is pulled by [`pull_one`]
//! here, several at once by `pull_many`.

use super::{adapter, human, load_source, shown, transport};
use crate::cli::PullArgs;
use crate::config::Shop;
use crate::error::usage;
use crate::platforms::{By, ByMode};
use crate::sink::{self, Output, Sink};
use crate::sync::{self, Plan, Summary, state};
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use std::io::Write;

pub(super) async fn pull(
    args: PullArgs,
    config: Option<std::path::PathBuf>,
    quiet: bool,
) -> Result<()> {
    if args.sandbox && config.is_some() {
        return Err(usage(
            "--sandbox and --config exclude each other: the sandbox brings its own config",
        ));
    }
    if args.sandbox && args.shop.is_empty() && args.platform.is_none() && !args.all {
        return Err(usage(format!(
            "with --sandbox, say which platform: --platform {} (or --all)",
            crate::platforms::PLATFORMS
                .iter()
                .map(|p| p.spec.id)
                .collect::<Vec<_>>()
                .join("|")
        )));
    }
    if let Some(p) = args.summary_json.as_deref() {
        refuse_link("--summary-json", p)?;
    }
    if let Some(p) = args.metrics_file.as_deref() {
        super::pull_many::check_metrics_file(p)?;
    }
    let source = load_source(args.sandbox, config.as_deref(), args.sandbox_orders).await?;
    match super::pull_many::select(&source.config, &args)? {
        None => {
            let shop = source
                .config
                .pick(args.shop.first().map(String::as_str), args.platform)?
                .clone();
            let db = mirror_url(&args, &source.config)?;
            pull_one(shop, &args, quiet, db).await
        }
        Some(shops) => {
            let db = mirror_url(&args, &source.config)?;
            super::pull_many::pull_many(shops, &args, quiet, db).await
        }
    }
}

/// The mirror a pull goes into: `--db` (or `ORDERSYNC_DB`), else the config's `db` (which
/// may be a secret reference). It holds the shops' marks itself, as a state file would.
fn mirror_url(
    args: &PullArgs,
    config: &crate::config::Config,
) -> Result<Option<secrecy::SecretString>> {
    let db = match &args.db {
        Some(d) => Some(secrecy::SecretString::from(d.clone())),
        None => config.db()?,
    };
    if db.is_some() && args.state.is_some() {
        return Err(usage(
            "--state and --db exclude each other: the mirror holds the shop's mark itself",
        ));
    }
    if args.revisit.is_some() && db.is_none() {
        return Err(usage(
            "--revisit re-scans into a mirror: it needs --db (re-scanned orders that did not \
             change are left out only there)",
        ));
    }
    Ok(db)
}

/// The mirror a shop's pull goes into.
#[derive(Clone, Copy)]
pub(super) struct MirrorTarget<'a> {
    pub db: &'a secrecy::SecretString,
    /// With several shops, a shop another worker holds is skipped rather than failed.
    pub skip_busy: bool,
}

/// What the mirror recorded of one shop's pull.
#[derive(Debug, Default, Clone)]
pub(super) struct Mirrored {
    pub shown: String,
    pub new: u64,
    pub updated: u64,
    pub last_seq: Option<i64>,
}

/// One shop's pull, into `sink`; the output is the caller's to commit.
pub(super) struct ShopRun {
    pub shop: String,
    pub platform: &'static str,
    /// The range pulled, once it was settled.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub result: Result<Summary>,
    /// Nothing was due yet: the state's mark is within --settle and --lookback of now.
    pub nothing_due: bool,
    /// End of the last window written completely.
    pub last_end: Option<DateTime<Utc>>,
    /// The shop's state entry; with --output it is the caller's to advance once the output
    /// is in place.
    pub state: Option<state::Handle>,
    /// The transport's figures, also when the pull failed.
    pub requests: u64,
    pub retries: u64,
    /// Orders written into the sink, also when the pull then failed.
    pub written: u64,
    pub started: std::time::Instant,
    /// How long the pull took, once it ended.
    pub took: std::time::Duration,
    /// With `--db`: the new and changed orders the mirror recorded.
    pub mirrored: Option<Mirrored>,
    /// Not pulled: another worker or run holds the shop (`--db`, several shops).
    pub skipped: Option<String>,
    /// With `--db`: the shop's mark in the mirror after the run (the mirror moves it with each
    /// window it commits, whatever the output).
    pub mirror_mark: Option<DateTime<Utc>>,
}

impl ShopRun {
    pub fn new(shop: &Shop) -> ShopRun {
        ShopRun {
            shop: shop.name.clone(),
            platform: shop.platform.as_str(),
            range: None,
            result: Ok(Summary::default()),
            nothing_due: false,
            last_end: None,
            state: None,
            requests: 0,
            retries: 0,
            written: 0,
            started: std::time::Instant::now(),
            took: std::time::Duration::ZERO,
            mirrored: None,
            skipped: None,
            mirror_mark: None,
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.took.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Pull one shop on its own: its output committed when the pull completes, its summary.
async fn pull_one(
    mut shop: Shop,
    args: &PullArgs,
    quiet: bool,
    db: Option<secrecy::SecretString>,
) -> Result<()> {
    if let Some(url) = &args.base_url {
        shop.set_base_url(url)?;
    }
    let states = match args.state.as_deref().filter(|_| !args.no_state) {
        Some(path) => Some(state::Shared::open(path)?),
        None => None,
    };
    let output = sink::file_or_stdout(args.output.as_deref());
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, args.csv_bom, output)?;
    if let Some(dir) = output.and_then(|p| p.parent()) {
        crate::sync::state::remove_leftovers(dir);
    }
    crate::logging::set_stdout_is_data(output.is_none());
    let out = Output::open(output)?;
    let mut sink = match &db {
        Some(_) => sink::make_tagged(format, csv_mode, args.csv_bom, out),
        None => sink::make(format, csv_mode, args.csv_bom, out),
    };
    // With --output, the file appears only at the end, so the state may only advance then;
    // on stdout, each window is delivered when flushed, so the state follows each window.
    let per_window = output.is_none();
    let run = pull_shop(
        &shop,
        args,
        states.as_ref(),
        sink.as_mut(),
        per_window,
        db.as_ref().map(|db| MirrorTarget {
            db,
            skip_busy: false,
        }),
    )
    .await;
    let metrics = |run: &ShopRun, mark| {
        if let Some(path) = args.metrics_file.as_deref() {
            let row = super::pull_many::Row::of(run, mark);
            super::pull_many::write_metrics(path, std::slice::from_ref(&row));
        }
    };
    let mut summary = match run.result {
        Ok(ref s) if run.nothing_due => {
            metrics(
                &run,
                later(run.state.as_ref().and_then(|s| s.mark()), run.mirror_mark),
            );
            return report(s, quiet, args.summary_json.as_deref());
        }
        Ok(ref s) => s.clone(),
        // With --output, nothing was delivered: the state must not move.
        Err(ref e) => {
            if let Some(path) = args.summary_json.as_deref() {
                let failed = FailedRun {
                    ok: false,
                    error: format!("{e:#}"),
                    platform: run.platform,
                    shop: &run.shop,
                    since: run.range.map(|r| r.0.to_rfc3339()),
                    until: run.range.map(|r| r.1.to_rfc3339()),
                    complete_until: run
                        .last_end
                        .filter(|_| per_window && run.state.is_some())
                        .map(|t| t.to_rfc3339()),
                    elapsed_ms: run.elapsed_ms(),
                };
                // The run's own error is what the user needs to see; a summary that cannot
                // be written is only logged.
                if let Err(w) = write_summary(&failed, path) {
                    tracing::warn!("{w:#}");
                }
            }
            let moved = later(run.last_end.filter(|_| per_window), run.mirror_mark);
            metrics(
                &run,
                later(run.state.as_ref().and_then(|s| s.mark()), moved),
            );
            return run.result.map(|_| ());
        }
    };
    if let (Some(m), false) = (&run.mirrored, quiet) {
        eprintln!(
            "ordersync: mirror {}: {} new, {} updated{}",
            m.shown,
            m.new,
            m.updated,
            m.last_seq
                .map_or(String::new(), |s| format!(" (feed up to seq {s})"))
        );
    }
    sink.commit()?;
    if let (Some(s), Some(end), false) = (&run.state, run.last_end, per_window) {
        s.advance(end)?;
    }
    metrics(
        &run,
        later(
            run.state.as_ref().and_then(|s| s.mark()),
            later(run.last_end, run.mirror_mark),
        ),
    );
    summary.shop = shop.name.clone();
    report(&summary, quiet, args.summary_json.as_deref())
}

/// The later of two marks (a state's mark never moves back).
pub(super) fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// Pull `shop` into `sink`: settle the range (from the flags and its state entry in
/// `states`), then scan it. With `per_window`, the state follows each window written;
/// otherwise the caller advances it once the output is in place.
pub(super) async fn pull_shop(
    shop: &Shop,
    args: &PullArgs,
    states: Option<&state::Shared>,
    sink: &mut dyn Sink,
    per_window: bool,
    mirror: Option<MirrorTarget<'_>>,
) -> ShopRun {
    let mut run = ShopRun::new(shop);
    let mut counted = Counted { sink, written: 0 };
    let result = pull_shop_into(
        &mut run,
        shop,
        args,
        states,
        &mut counted,
        per_window,
        mirror,
    )
    .await;
    run.result = result;
    run.written = counted.written;
    run.took = run.started.elapsed();
    run
}

/// Counts the orders a pull writes: a pull that fails has no summary, but what it wrote is
/// out (or in the file) all the same.
struct Counted<'a> {
    sink: &'a mut dyn Sink,
    written: u64,
}

impl Sink for Counted<'_> {
    fn write(&mut self, order: &crate::model::Order) -> std::io::Result<()> {
        self.sink.write(order)?;
        self.written += 1;
        Ok(())
    }
    fn write_change(
        &mut self,
        order: &crate::model::Order,
        change: &str,
        seq: i64,
    ) -> std::io::Result<()> {
        self.sink.write_change(order, change, seq)?;
        self.written += 1;
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.sink.finish()
    }
}

async fn pull_shop_into(
    run: &mut ShopRun,
    shop: &Shop,
    args: &PullArgs,
    states: Option<&state::Shared>,
    sink: &mut dyn Sink,
    per_window: bool,
    target: Option<MirrorTarget<'_>>,
) -> Result<Summary> {
    let now = Utc::now();
    let settle = Duration::from_std(args.settle).unwrap_or(Duration::minutes(2));
    let lookback = Duration::from_std(args.lookback).unwrap_or(Duration::minutes(10));
    let latest = now - settle;
    let by = args.by.unwrap_or(match shop.platform.spec().by_modified {
        ByMode::Unsupported(_) => By::Created,
        _ => By::Modified,
    });
    run.state = match states {
        Some(states) => Some(states.shop(by, shop)?),
        None => None,
    };
    let mut mirror = match target {
        None => None,
        Some(target) => {
            let opened = crate::store::run::MirrorRun::for_pull(
                Some(secrecy::ExposeSecret::expose_secret(target.db)),
                false,
                shop,
                by,
                !args.no_state,
                &crate::store::postgres::PgOptions { lease: args.lease },
            )
            .await;
            match opened {
                Err(e) if target.skip_busy && is_busy(&e) => {
                    tracing::info!("skipped: {e:#}");
                    run.skipped = Some(format!("{e:#}"));
                    run.nothing_due = true;
                    return Ok(Summary {
                        platform: shop.platform.to_string(),
                        shop: shop.name.clone(),
                        ..Summary::default()
                    });
                }
                opened => opened?,
            }
        }
    };
    let state = &run.state;
    let resume = state
        .as_ref()
        .and_then(|s| s.mark())
        .or_else(|| mirror.as_ref().and_then(|m| m.mark()));
    let since = match (args.since, resume) {
        (since, Some(mark)) => {
            if since.is_some() {
                tracing::info!(
                    "the state file has a mark for shop {:?}; --since applies only to the first run \
                     (use --no-state to backfill, or `ordersync state reset`)",
                    shop.name
                );
            }
            let since = mark - lookback;
            match &mirror {
                Some(m) => crate::store::revisit_since(
                    since,
                    args.revisit,
                    shop.platform.spec(),
                    m.origin(),
                    now,
                ),
                None => since,
            }
        }
        (Some(s), None) => s,
        (None, None) if state.is_some() => {
            return Err(usage(format!(
                "the state file has no mark for shop {:?} yet: pass --since for the first run",
                shop.name
            )));
        }
        (None, None) => {
            return Err(usage(
                "--since is required (e.g. --since 7d or --since 2026-11-01)",
            ));
        }
    };
    let until = match args.until {
        Some(u) if u > latest => {
            tracing::info!(
                "--until is later than now minus --settle; pulling up to {}",
                shown(latest)
            );
            latest
        }
        Some(u) => u,
        None => latest,
    };
    let mark = resume;
    if let Some(mark) = mark.filter(|&m| m > now) {
        // A clock turned back, or a state copied from elsewhere: orders up to the mark would
        // never be pulled again.
        tracing::warn!(
            "the state's mark for shop {:?} ({}) is ahead of now ({}): everything before it \
             counts as pulled. If the clock was wrong, reset it: ordersync state reset --state {} \
             --shop {} --to TIME",
            shop.name,
            shown(mark),
            shown(now),
            args.state
                .as_deref()
                .unwrap_or(std::path::Path::new("FILE"))
                .display(),
            shop.name
        );
    }
    if since >= until
        && let Some(mark) = mark
    {
        // Resuming from the state, nothing is due yet: success, not a mistake. A mark ahead
        // of now is worth a warning (a clock turned back, a state copied from elsewhere):
        // orders up to it would never be pulled again.
        if mark <= now {
            tracing::info!(
                "nothing to pull yet: the state's mark ({}) is within --settle and --lookback of now",
                shown(mark)
            );
        }
        run.range = Some((since, until));
        run.nothing_due = true;
        run.mirror_mark = mirror.as_ref().and_then(|m| m.mark());
        return Ok(Summary {
            platform: shop.platform.to_string(),
            shop: shop.name.clone(),
            since: since.to_rfc3339(),
            until: until.to_rfc3339(),
            ..Summary::default()
        });
    }
    if since >= until {
        let why = if args.until.is_some_and(|u| u <= latest) {
            "--until".to_string()
        } else {
            format!(
                "now minus --settle ({}): the platforms take a moment to list a change; a \
                 shorter --settle (e.g. --settle 30s) pulls closer to now",
                human(args.settle)
            )
        };
        return Err(usage(format!(
            "nothing to pull: --since {} is not before the end of the range, {} ({why})",
            shown(since),
            shown(until)
        )));
    }
    run.range = Some((since, until));
    let (status, keep_status) = status_filter(args.status.as_deref(), shop.platform.spec())?;
    let plan = Plan {
        since,
        until,
        by,
        status,
        keep_status,
        limit: args.limit,
        window: args.window,
        page_size: args.page_size,
        // `--by created` served through modified-time windows scans up to now: an order
        // created in range and modified a moment ago must not be left out.
        scan_until: now,
        concurrency: usize::from(args.concurrency),
        window_orders: mirror.is_some().then_some(crate::store::run::WINDOW_ORDERS),
    };
    let t = transport(
        shop,
        args.rate_limit,
        args.timeout,
        args.retries,
        args.dump_dir.as_deref(),
    )?
    .with_max_body(args.max_body);
    let deadline = args.give_up_after;
    let last_end = &mut run.last_end;
    let mut buffer = None;
    if let Some(m) = mirror.as_mut() {
        m.start(plan.since).await?;
        buffer = Some(m.buffer_sink());
    }
    let result: Result<Summary> = async {
        let a = adapter(shop)?;
        let mut to_state = |end| {
            *last_end = Some(end);
            match state {
                Some(s) if per_window => s.advance(end),
                _ => Ok(()),
            }
        };
        let mut to_mirror;
        let (into, checkpoint): (&mut dyn Sink, &mut dyn sync::Checkpoint) =
            match (mirror.as_mut(), buffer.as_mut()) {
                (Some(run), Some(b)) => {
                    // The pull loop writes into the mirror's buffer; at each window's end
                    // the mirror writes the new and changed orders to the output.
                    to_mirror = crate::store::run::MirrorCheckpoint {
                        run,
                        out: &mut *sink,
                    };
                    (b, &mut to_mirror)
                }
                _ => (&mut *sink, &mut to_state),
            };
        let pulling = sync::pull(a.as_ref(), &t, &plan, into, checkpoint);
        // The whole run is bounded: a server answering just slowly enough never to time
        // out, or a ban waited out over and over, ends here.
        match tokio::time::timeout(deadline, pulling).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::Error::new(crate::error::GaveUp(human(deadline)))),
        }
    }
    .await;
    run.requests = t.stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    run.retries = t.stats.retries.load(std::sync::atomic::Ordering::Relaxed);
    let Some(mut m) = mirror else {
        return result;
    };
    let result = match result {
        Ok(summary) => m.finish(sink).await.map(|()| summary),
        Err(e) => Err(e),
    };
    run.mirror_mark = m.mark_now();
    run.mirrored = Some(Mirrored {
        shown: m.shown(),
        new: m.new,
        updated: m.updated,
        last_seq: m.last_seq,
    });
    if let Err(e) = &result {
        m.fail(&format!("{e:#}")).await;
    }
    result
}

/// Another worker holds the shop's lease (PostgreSQL), or another run its lock file (SQLite).
fn is_busy(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::store::ShopBusy>().is_some()
}

/// What `--summary-json` holds for a run that failed once it had started: the error, and
/// how far the state got (`complete_until`, when a state file follows each window).
#[derive(serde::Serialize)]
struct FailedRun<'a> {
    ok: bool,
    error: String,
    platform: &'a str,
    shop: &'a str,
    since: Option<String>,
    until: Option<String>,
    complete_until: Option<String>,
    elapsed_ms: u64,
}

/// Write a summary as JSON to `path` (`-`: stdout), secrets removed.
pub(super) fn write_summary(s: &impl serde::Serialize, path: &std::path::Path) -> Result<()> {
    let text = crate::logging::redact(&serde_json::to_string_pretty(s)?) + "\n";
    if sink::file_or_stdout(Some(path)).is_none() {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot write the summary to stdout")?;
    } else {
        write_no_follow(path, text.as_bytes())
            .with_context(|| format!("cannot write the summary to {}", path.display()))?;
    }
    Ok(())
}

pub(super) fn report(s: &Summary, quiet: bool, json: Option<&std::path::Path>) -> Result<()> {
    if let Some(path) = json {
        write_summary(s, path)?;
    }
    if !quiet {
        let line = format!(
            "ordersync: {} orders from {} (shop {}) in {:.1}s: {} windows, {} pages, {} requests ({} retried), {} duplicates dropped, {} re-scans{}{}",
            s.orders_emitted,
            s.platform,
            s.shop,
            s.elapsed_ms as f64 / 1000.0,
            s.windows,
            s.pages,
            s.requests,
            s.retries,
            s.duplicates_dropped,
            s.rescans,
            if s.windows_reasked > 0 {
                format!(
                    ", {} windows asked again for answers that contradicted themselves",
                    s.windows_reasked
                )
            } else {
                String::new()
            },
            if s.stopped_at_limit {
                " (stopped at --limit)"
            } else {
                ""
            }
        );
        eprintln!("{}", crate::logging::redact(&line));
    }
    Ok(())
}

/// A file named by `flag` must not be a symbolic link: writing through one would let whoever
/// planted it choose which file a run overwrites.
pub(super) fn refuse_link(flag: &str, path: &std::path::Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(usage(format!(
            "{flag} {} is a symbolic link; it is not followed: give the file's own path",
            path.display()
        )));
    }
    Ok(())
}

/// Create or replace `path`'s content, never through a symbolic link.
fn write_no_follow(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
    opts.open(path)?.write_all(bytes)
}

/// `--status`: a normalized status (`awaiting_shipment`: kept by ordersync, whatever codes the
/// platform has for it), or one of the platform's own codes (sent to its filter). Anything
/// else is refused with both lists: it used to give an empty pull, exit 0.
fn status_filter(
    given: Option<&str>,
    spec: &crate::platforms::PlatformSpec,
) -> Result<(Option<String>, Option<crate::model::Status>)> {
    let Some(given) = given.map(str::trim) else {
        return Ok((None, None));
    };
    if let Some(s) = crate::model::Status::from_name(given) {
        return Ok((None, Some(s)));
    }
    if spec.statuses.contains(&given) {
        return Ok((Some(given.to_string()), None));
    }
    let normalized: Vec<&str> = crate::model::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    Err(usage(format!(
        "--status {given:?} is not a status: give a normalized one ({}) or one of {}'s own ({})",
        normalized.join(", "),
        spec.id,
        spec.statuses.join(", ")
    )))
}
