//! `ordersync pull --all` / `--shop PATTERN`: several shops pulled at once into one output.
//!
//! Each shop is [`pull_shop`](super::pull::pull_shop) as on its own: its own transport (so
//! its own rate limiter), its own state entry, windows and deadline; `--shops-at-once`
//! threads take the shops one after another, so their parsing uses every core. What they
//! share:
//! - the output, through [`sink::Shared`], one whole order at a time;
//! - the state file, locked once for the run and updated one shop at a time.
//!
//! With `--output FILE`, the file is put in place once every shop has ended, when at least
//! one shop pulled its range; it then holds every order written, whole, including those of
//! shops that failed midway. The state of a shop moves only when its pull completed and the
//! file is in place, so a failed shop's range is pulled again by the next run: nothing is
//! lost, and what was written twice is what the lookback writes twice anyway (dedupe on
//! `order_id` + `updated_at`). When no shop completed, no file is written, as with one shop.
//! On stdout, each shop's state follows its windows as they are flushed, as with one shop.
//!
//! One shop's failure does not stop the others; the exit code is the worst shop's
//! ([`severity`]). The summary has a row per shop ([`Row`]), on stderr, in `--summary-json`
//! (an object with a `shops` array) and in `--metrics-file` ([`metrics`]).

mod metrics;

pub(super) use self::metrics::{check_metrics_file, write_metrics};

use super::pull::{ShopRun, later, pull_shop, refuse_link, write_summary};
use crate::cli::PullArgs;
use crate::config::{Config, Shop};
use crate::error::{Exit, exit_code, usage};
use crate::sink::{self, Output};
use crate::sync::{progress, state};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tracing::Instrument;

/// The shops the flags name when they name several (`--all`, a pattern, `--shop` twice);
/// `None` for one shop named as before (`--shop NAME`, `--platform ID`), which keeps the
/// one-shop output and summary.
pub(super) fn select(config: &Config, args: &PullArgs) -> Result<Option<Vec<Shop>>> {
    let patterns = &args.shop;
    if !args.all && patterns.len() <= 1 && !patterns.iter().any(|p| is_pattern(p)) {
        return Ok(None);
    }
    let listed = || {
        config
            .shops
            .iter()
            .map(|s| format!("{} ({})", s.name, s.platform))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let of_platform = |s: &&Shop| args.platform.is_none_or(|p| s.platform == p);
    let mut chosen: Vec<&Shop> = Vec::new();
    if args.all {
        chosen.extend(config.shops.iter().filter(of_platform));
        if chosen.is_empty() {
            let which = args.platform.map_or(String::new(), |p| format!("{p} shop"));
            return Err(usage(format!(
                "--all: no {}in {}; shops there: {}",
                if which.is_empty() {
                    "shop ".to_string()
                } else {
                    which + " "
                },
                config.path.display(),
                if config.shops.is_empty() {
                    "none".to_string()
                } else {
                    listed()
                }
            )));
        }
    } else {
        for pattern in patterns {
            let matching: Vec<&Shop> = config
                .shops
                .iter()
                .filter(|s| matches(pattern, &s.name))
                .filter(of_platform)
                .collect();
            if matching.is_empty() {
                return Err(usage(format!(
                    "--shop {pattern:?} matches no {}shop in {}; shops there: {}",
                    args.platform.map_or(String::new(), |p| format!("{p} ")),
                    config.path.display(),
                    listed()
                )));
            }
            for s in matching {
                if !chosen.iter().any(|c| c.name == s.name) {
                    chosen.push(s);
                }
            }
        }
    }
    if args.base_url.is_some() {
        return Err(usage(
            "--base-url overrides one shop's URL; with several shops, set base_url in each \
             shop's table of the config",
        ));
    }
    Ok(Some(chosen.into_iter().cloned().collect()))
}

/// Whether a `--shop` value is a pattern rather than a name.
fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A shell-style pattern over a whole name: `*` any characters (none too), `?` one.
fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // The classic backtracking match: remember the last `*` and where it was tried.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Which failure a run over several shops exits with: one that needs a person (a config or
/// usage mistake, then refused credentials, then anything else) before one that mends itself
/// (a transient failure, exit 4).
pub(super) fn severity(e: Exit) -> u8 {
    match e {
        Exit::Ok => 0,
        // Only verify exits 5; a pull never does.
        Exit::GaveUp | Exit::Disagree => 1,
        Exit::Failure => 2,
        Exit::Auth => 3,
        Exit::Usage => 4,
    }
}

/// Pull `shops`, `--shops-at-once` at a time, into one output.
pub(super) async fn pull_many(
    shops: Vec<Shop>,
    args: &PullArgs,
    quiet: bool,
    db: Option<secrecy::SecretString>,
) -> Result<()> {
    let states = match args.state.as_deref().filter(|_| !args.no_state) {
        Some(path) => Some(state::Shared::open(path)?),
        None => None,
    };
    let output = sink::file_or_stdout(args.output.as_deref());
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, args.csv_bom, output)?;
    if let Some(dir) = output.and_then(|p| p.parent()) {
        state::remove_leftovers(dir);
    }
    crate::logging::set_stdout_is_data(output.is_none());
    let out = Output::open(output)?;
    let shared = sink::Shared::new(match &db {
        Some(_) => sink::make_tagged(format, csv_mode, args.csv_bom, out),
        None => sink::make(format, csv_mode, args.csv_bom, out),
    });
    // With --db, each shop takes its own lease (PostgreSQL) or lock (SQLite); a shop another
    // worker holds is skipped, so that several workers can share the shops.
    let target = db.as_ref().map(|db| super::pull::MirrorTarget {
        db,
        skip_busy: true,
    });
    // As with one shop: on stdout, a window is delivered once flushed, so each shop's state
    // follows its windows; a file is delivered only at the end.
    let per_window = output.is_none();
    let started = std::time::Instant::now();
    let count = shops.len();
    let bar = std::sync::Mutex::new(progress::Shops::new(count));
    let runs = std::sync::Mutex::new(Vec::<(usize, ShopRun)>::with_capacity(count));
    let queue = std::sync::Mutex::new(shops.into_iter().enumerate());
    let workers = usize::from(args.shops_at_once).min(count);
    // Each pull runs on a thread of its own, one shop after another from the queue, so that
    // the shops' parsing and normalizing use every core; their waits (rate limiters, the
    // network) are their own. Blocking here is fine: this task only waits for the threads.
    let ended = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let worker = || -> Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start a runtime for a shop's pull")?;
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((i, shop)) = next else {
                        return Ok(());
                    };
                    let span = tracing::error_span!("shop", name = %shop.name);
                    let pulled = async {
                        let mut writer = shared.writer();
                        pull_shop(
                            &shop,
                            args,
                            states.as_ref(),
                            &mut writer,
                            per_window,
                            target,
                        )
                        .await
                    };
                    let run = rt.block_on(pulled.instrument(span));
                    ended_one(&run, &bar);
                    runs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, run));
                }
            };
            let threads: Vec<_> = (0..workers)
                .map(|n| {
                    std::thread::Builder::new()
                        .name(format!("ordersync-shops-{n}"))
                        .spawn_scoped(scope, worker)
                })
                .collect();
            let mut ended = Ok(());
            for t in threads {
                let r = match t {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    Err(e) => {
                        Err(anyhow::Error::new(e).context("cannot start a thread for the shops"))
                    }
                };
                ended = ended.and(r);
            }
            ended
        })
    });
    let bar = bar.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut runs = runs.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = ended {
        // A thread or its runtime could not be started: the shops it would have pulled are
        // failures of their own (the next run pulls them), the others count as they ended.
        tracing::error!("{e:#}");
        let left = queue.into_inner().unwrap_or_else(|e| e.into_inner());
        for (i, shop) in left {
            let mut run = ShopRun::new(&shop);
            run.result = Err(anyhow::anyhow!("not pulled: {e:#}"));
            runs.push((i, run));
        }
    }
    bar.finish();
    // The rows in the config's order, whichever shop ended first.
    runs.sort_by_key(|(i, _)| *i);
    let mut runs: Vec<ShopRun> = runs.into_iter().map(|(_, r)| r).collect();
    let pulled = runs.iter().any(|r| r.result.is_ok() && !r.nothing_due);
    // The output and then the states: a state moves only once what it covers is in place.
    let delivered = if pulled {
        shared.into_inner().commit()
    } else {
        drop(shared);
        Ok(())
    };
    let mut rows = Vec::with_capacity(runs.len());
    let mut worst: Option<anyhow::Error> = None;
    let delivery_error = delivered.as_ref().err().map(|e| format!("{e:#}"));
    for run in &mut runs {
        let old = run.state.as_ref().and_then(|s| s.mark());
        // A state file's mark follows the windows on stdout, or the file once in place
        // (below); the mirror's follows the windows it committed, whatever the output.
        let mut mark = later(
            later(old, run.last_end.filter(|_| per_window)),
            run.mirror_mark,
        );
        if let (Ok(_), Some(msg)) = (&run.result, &delivery_error) {
            run.result = Err(anyhow::anyhow!(
                "the orders were pulled but the output could not be put in place: {msg}"
            ));
        }
        if let (Ok(_), Some(s), Some(end), false) =
            (&run.result, &run.state, run.last_end, per_window)
        {
            match s.advance(end) {
                Ok(()) => mark = later(old, Some(end)),
                Err(e) => run.result = Err(e.context("cannot advance the state")),
            }
        }
        rows.push(Row::of(run, mark));
        if let Err(e) = std::mem::replace(&mut run.result, Ok(Default::default())) {
            let replace = worst
                .as_ref()
                .is_none_or(|w| severity(exit_code(&e)) > severity(exit_code(w)));
            if replace {
                worst = Some(e);
            }
        }
    }
    let summary = Many {
        ok: worst.is_none(),
        exit_code: worst.as_ref().map_or(0, |e| exit_code(e) as u8),
        shops_total: rows.len(),
        shops_failed: rows.iter().filter(|r| !r.ok).count(),
        orders_emitted: rows.iter().map(|r| r.orders).sum(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        shops: rows,
    };
    if let Some(path) = args.metrics_file.as_deref() {
        write_metrics(path, &summary.shops);
    }
    if let Some(path) = args.summary_json.as_deref() {
        // Checked before the run; a link planted since is refused here too.
        let written =
            refuse_link("--summary-json", path).and_then(|()| write_summary(&summary, path));
        match (written, &worst) {
            (Err(w), Some(_)) => tracing::warn!("{w:#}"),
            (Err(w), None) => return Err(w),
            (Ok(()), _) => {}
        }
    }
    if !quiet {
        report(&summary);
    }
    match worst {
        None => Ok(()),
        Some(e) => {
            let failed: Vec<&str> = summary
                .shops
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.shop.as_str())
                .collect();
            Err(e.context(format!(
                "{} of {} shops failed ({}); the worst",
                failed.len(),
                summary.shops_total,
                failed.join(", ")
            )))
        }
    }
}

/// A shop's pull ended: the progress line moves on, and a failure is said at once (the
/// others may run for a long time yet).
fn ended_one(run: &ShopRun, bar: &std::sync::Mutex<progress::Shops>) {
    bar.lock()
        .unwrap_or_else(|e| e.into_inner())
        .shop_done(run.written, run.result.is_ok());
    if let Err(e) = &run.result {
        eprintln!(
            "{}",
            crate::logging::redact(&format!(
                "ordersync: shop {} ({}) failed, exit {}: {e:#}",
                run.shop,
                run.platform,
                exit_code(e) as u8
            ))
        );
    }
}

/// `--summary-json` of a run over several shops.
#[derive(serde::Serialize)]
struct Many {
    ok: bool,
    exit_code: u8,
    shops_total: usize,
    shops_failed: usize,
    orders_emitted: u64,
    elapsed_ms: u64,
    shops: Vec<Row>,
}

/// One shop's line of the summary (and its metrics).
#[derive(serde::Serialize)]
pub(super) struct Row {
    pub ok: bool,
    pub exit_code: u8,
    pub error: Option<String>,
    pub platform: &'static str,
    pub shop: String,
    /// The range pulled (null when the shop failed before it was settled).
    pub since: Option<String>,
    pub until: Option<String>,
    /// The shop's mark after the run, in the state file or the mirror (null without
    /// --state or --db).
    pub mark: Option<String>,
    pub orders: u64,
    /// Orders new to / updated in the mirror (`--db`; null without it).
    pub new: Option<u64>,
    pub updated: Option<u64>,
    /// Not pulled because another worker or run holds the shop (`--db`): by whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub requests: u64,
    pub retries: u64,
    pub windows: u64,
    pub pages: u64,
    pub duplicates_dropped: u64,
    pub rescans: u64,
    pub windows_reasked: u64,
    pub stopped_at_limit: bool,
    pub elapsed_ms: u64,
    #[serde(skip)]
    pub times: Times,
}

/// The row's times as Unix seconds, for the metrics.
#[derive(Default)]
pub(super) struct Times {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub mark: Option<i64>,
}

impl Row {
    /// The row of `run`, whose mark (state file or mirror) is now `mark`.
    pub fn of(run: &ShopRun, mark: Option<DateTime<Utc>>) -> Row {
        let (exit_code, error) = match &run.result {
            Ok(_) => (0, None),
            Err(e) => (
                exit_code(e) as u8,
                Some(crate::logging::redact(&format!("{e:#}"))),
            ),
        };
        let s = run.result.as_ref().ok();
        let figure = |f: fn(&crate::sync::Summary) -> u64| s.map_or(0, f);
        Row {
            ok: run.result.is_ok(),
            exit_code,
            error,
            platform: run.platform,
            shop: run.shop.clone(),
            since: run.range.map(|r| r.0.to_rfc3339()),
            until: run.range.map(|r| r.1.to_rfc3339()),
            mark: mark.map(|m| m.to_rfc3339()),
            orders: run.written,
            new: run.mirrored.as_ref().map(|m| m.new),
            updated: run.mirrored.as_ref().map(|m| m.updated),
            skipped: run.skipped.clone(),
            requests: s.map_or(run.requests, |s| s.requests),
            retries: s.map_or(run.retries, |s| s.retries),
            windows: figure(|s| s.windows),
            pages: figure(|s| s.pages),
            duplicates_dropped: figure(|s| s.duplicates_dropped),
            rescans: figure(|s| s.rescans),
            windows_reasked: figure(|s| s.windows_reasked),
            stopped_at_limit: s.is_some_and(|s| s.stopped_at_limit),
            elapsed_ms: run.elapsed_ms(),
            times: Times {
                since: run.range.map(|r| r.0.timestamp()),
                until: run.range.map(|r| r.1.timestamp()),
                mark: mark.map(|m| m.timestamp()),
            },
        }
    }
}

/// The summary on stderr: a line per shop, then the run's.
fn report(m: &Many) {
    for r in &m.shops {
        let range = match (&r.since, &r.until) {
            (Some(a), Some(b)) => format!("{} .. {}", short(a), short(b)),
            _ => "-".to_string(),
        };
        let mark = r.mark.as_deref().map_or("-".to_string(), short);
        let outcome = match (&r.error, &r.skipped) {
            (None, None) => "ok".to_string(),
            (None, Some(_)) => "skipped (held by another run)".to_string(),
            (Some(_), _) => format!("FAILED (exit {})", r.exit_code),
        };
        let line = format!(
            "ordersync: shop {} ({}): {outcome}, {} orders, range {range}, mark {mark}, {} requests ({} retried), {:.1}s",
            r.shop,
            r.platform,
            r.orders,
            r.requests,
            r.retries,
            r.elapsed_ms as f64 / 1000.0
        );
        eprintln!("{}", crate::logging::redact(&line));
    }
    eprintln!(
        "ordersync: {} orders from {} shops in {:.1}s; {} failed",
        m.orders_emitted,
        m.shops_total,
        m.elapsed_ms as f64 / 1000.0,
        m.shops_failed
    );
}

/// An RFC 3339 time as shown on stderr: in the platforms' offset, to the second.
fn short(t: &str) -> String {
    DateTime::parse_from_rfc3339(t).map_or_else(|_| t.to_string(), |t| super::shown(t.to_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names() {
        assert!(matches("tw-*", "tw-1"));
        assert!(matches("tw-*", "tw-"));
        assert!(!matches("tw-*", "xtw-1"));
        assert!(matches("*-1688", "pandapon-1688"));
        assert!(!matches("*-1688", "pandapon-1688x"));
        assert!(matches("s?op", "shop"));
        assert!(!matches("s?op", "sop"));
        assert!(matches("*a*b*", "xaxxbx"));
        assert!(!matches("*a*b*", "xbxxax"));
        assert!(matches("店*", "店舖一"));
        assert!(matches("*", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn a_failure_that_needs_a_person_is_worse_than_one_that_mends_itself() {
        let order = [
            Exit::Ok,
            Exit::GaveUp,
            Exit::Failure,
            Exit::Auth,
            Exit::Usage,
        ];
        for w in order.windows(2) {
            assert!(severity(w[0]) < severity(w[1]), "{w:?}");
        }
    }
}
