//! `verify --repair`: the disagreeing windows re-pulled into the mirror through the pull
//! path (`pull::pull_shop`, as `pull --no-state` would), so that what comes back reaches the
//! change feed.

use super::compare::Report;
use crate::cli::{PullArgs, VerifyArgs};
use crate::cmd::pull;
use crate::config::Shop;
use crate::model::Order;
use crate::platforms::{By, Window};
use crate::sink::Sink;
use anyhow::Result;

/// The disagreeing windows, adjacent ones joined: each is pulled once.
pub(super) fn spans_to_repair(r: &Report) -> Vec<Window> {
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
pub(super) async fn repair(
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
