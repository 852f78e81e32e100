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
//!
//! This file owns the command: the shop, the mirror, the range and the passes. [`compare`]
//! compares the windows, [`print`] writes the report, [`repair`] re-pulls what disagrees.

mod compare;
mod print;
mod repair;
#[cfg(test)]
mod tests;

use super::{adapter, load_source, shown, transport};
use crate::cli::VerifyArgs;
use crate::config::Shop;
use crate::error::usage;
use crate::platforms::{Adapter, By, ByMode, Window};
use crate::store::DbUrl;
use anyhow::Result;
use compare::check;
use print::print_report;
use repair::{repair, spans_to_repair};
use std::io::Write;

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
