//! `ordersync pull`: resolve the shop and the range, run the pull loop into a sink, advance
//! the state, report.

use super::{adapter, human, load_source, shown, transport};
use crate::cli::PullArgs;
use crate::error::usage;
use crate::platforms::{By, ByMode};
use crate::sink::{self, Output};
use crate::sync::{self, Plan, Summary};
use anyhow::{Context, Result};
use chrono::{Duration, Utc};
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
    if args.sandbox && args.shop.is_none() && args.platform.is_none() {
        return Err(usage(format!(
            "with --sandbox, say which platform: --platform {}",
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
    let source = load_source(args.sandbox, config.as_deref(), args.sandbox_orders).await?;
    let mut shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    if let Some(url) = &args.base_url {
        shop.set_base_url(url)?;
    }
    let now = Utc::now();
    let settle = Duration::from_std(args.settle).unwrap_or(Duration::minutes(2));
    let lookback = Duration::from_std(args.lookback).unwrap_or(Duration::minutes(10));
    let latest = now - settle;
    let by = args.by.unwrap_or(match shop.platform.spec().by_modified {
        ByMode::Unsupported(_) => By::Created,
        _ => By::Modified,
    });
    let state = match args.state.as_deref().filter(|_| !args.no_state) {
        Some(path) => Some(crate::sync::state::open(path, by, &shop)?),
        None => None,
    };
    // The mirror (`--db`) holds the marks itself, as a state file would.
    // --db (or ORDERSYNC_DB), else the config's `db` (which may be a secret reference).
    let db = match &args.db {
        Some(d) => Some(secrecy::SecretString::from(d.clone())),
        None => source.config.db()?,
    };
    let mut mirror = crate::store::run::MirrorRun::for_pull(
        db.as_ref().map(secrecy::ExposeSecret::expose_secret),
        args.state.is_some(),
        &shop,
        by,
        !args.no_state,
        &crate::store::postgres::PgOptions { lease: args.lease },
    )
    .await?;
    if args.revisit.is_some() && mirror.is_none() {
        return Err(usage(
            "--revisit re-scans into a mirror: it needs --db (re-scanned orders that did not \
             change are left out only there)",
        ));
    }
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
        let summary = Summary {
            platform: shop.platform.to_string(),
            shop: shop.name.clone(),
            since: since.to_rfc3339(),
            until: until.to_rfc3339(),
            ..Summary::default()
        };
        return report(&summary, quiet, args.summary_json.as_deref());
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
    };
    let output = sink::file_or_stdout(args.output.as_deref());
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, args.csv_bom, output)?;
    if let Some(dir) = output.and_then(|p| p.parent()) {
        crate::sync::state::remove_leftovers(dir);
    }
    crate::logging::set_stdout_is_data(output.is_none());
    let out = Output::open(output)?;
    let mut sink = match &mirror {
        Some(_) => sink::make_tagged(format, csv_mode, args.csv_bom, out),
        None => sink::make(format, csv_mode, args.csv_bom, out),
    };
    let t = transport(
        &shop,
        args.rate_limit,
        args.timeout,
        args.retries,
        args.dump_dir.as_deref(),
    )?
    .with_max_body(args.max_body);
    // With --output, the file appears only at the end, so the state may only advance then;
    // on stdout, each window is delivered when flushed, so the state follows each window.
    let per_window = output.is_none();
    let mut last_end = None;
    let deadline = args.give_up_after;
    let started = std::time::Instant::now();
    let mut mirror_sink = None;
    if let Some(m) = mirror.as_mut() {
        // The mirror writes the changed orders; the pull loop writes into its buffer.
        m.start(
            plan.since,
            std::mem::replace(&mut sink, crate::store::run::placeholder_sink()),
        )
        .await?;
        mirror_sink = Some(m.buffer_sink());
    }
    let result: Result<Summary> = async {
        let a = adapter(&shop)?;
        let mut to_state = |end| {
            last_end = Some(end);
            match &state {
                Some(s) if per_window => s.advance(end),
                _ => Ok(()),
            }
        };
        let (into, checkpoint): (&mut dyn sink::Sink, &mut dyn sync::Checkpoint) =
            match (mirror.as_mut(), mirror_sink.as_mut()) {
                (Some(m), Some(b)) => (b, m),
                _ => (sink.as_mut(), &mut to_state),
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
    let mut summary = match result {
        Ok(s) => s,
        // With --output, nothing was delivered: the state must not move.
        Err(e) => {
            if let Some(path) = args.summary_json.as_deref() {
                let failed = FailedRun {
                    ok: false,
                    error: format!("{e:#}"),
                    platform: shop.platform.as_str(),
                    shop: &shop.name,
                    since: plan.since.to_rfc3339(),
                    until: plan.until.to_rfc3339(),
                    complete_until: last_end
                        .filter(|_| per_window && state.is_some())
                        .map(|t| t.to_rfc3339()),
                    elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                };
                // The run's own error is what the user needs to see; a summary that cannot
                // be written is only logged.
                if let Err(w) = write_summary(&failed, path) {
                    tracing::warn!("{w:#}");
                }
            }
            if let Some(m) = mirror {
                m.fail(&format!("{e:#}")).await;
            }
            return Err(e);
        }
    };
    if let Some(m) = mirror {
        let shown = m.shown();
        let (new, updated, last_seq) = (m.new, m.updated, m.last_seq);
        sink = m.finish().await?;
        if !quiet {
            eprintln!(
                "ordersync: mirror {shown}: {new} new, {updated} updated{}",
                last_seq.map_or(String::new(), |s| format!(" (feed up to seq {s})"))
            );
        }
    }
    sink.commit()?;
    if let (Some(s), Some(end), false) = (&state, last_end, per_window) {
        s.advance(end)?;
    }
    summary.shop = shop.name.clone();
    report(&summary, quiet, args.summary_json.as_deref())
}

/// What `--summary-json` holds for a run that failed once it had started: the error, and
/// how far the state got (`complete_until`, when a state file follows each window).
#[derive(serde::Serialize)]
struct FailedRun<'a> {
    ok: bool,
    error: String,
    platform: &'a str,
    shop: &'a str,
    since: String,
    until: String,
    complete_until: Option<String>,
    elapsed_ms: u64,
}

/// Write a summary as JSON to `path` (`-`: stdout), secrets removed.
fn write_summary(s: &impl serde::Serialize, path: &std::path::Path) -> Result<()> {
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
fn refuse_link(flag: &str, path: &std::path::Path) -> Result<()> {
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
