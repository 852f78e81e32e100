//! `ordersync normalize`: a saved answer, read as a stream by the platform's readers, written
//! to a sink. How the answer is read (cut into orders, its envelope checked apart, the orders
//! read on worker threads) is in [`stream`].

mod stream;

use crate::cli::NormalizeArgs;
use crate::error::usage;
use crate::platforms::{PlatformId, SavedOptions, hooks};
use crate::sink::{self, Output};
use anyhow::Result;

pub(super) fn normalize(args: NormalizeArgs) -> Result<()> {
    use crate::platforms::AmountUnit;
    let amount_unit = match args.amount_unit.as_deref() {
        None => None,
        Some(_) if !args.platform.platform().saved_list.amount_unit => {
            return Err(usage(format!(
                "--amount-unit applies to --platform {} only (the other platforms document \
                 their amounts)",
                hooks::offering(|p| p.saved_list.amount_unit)
            )));
        }
        Some(u) => Some(AmountUnit::parse(u).ok_or_else(|| usage(format!("--amount-unit {u:?}")))?),
    };
    let source = stream::Source::open(&args.file)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?;
    let out = Output::open(None)?;
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, false, None)?;
    let sink = sink::make(format, csv_mode, false, out);
    let answer = stream::Answer {
        platform: args.platform,
        shop: &args.shop,
        opts: SavedOptions { amount_unit },
        name: &args.file,
    };
    stream::normalize(answer, source, sink)
}

/// A saved file is not a network answer: what would be retried on the wire (a garbled or
/// cut-off body: exit 4, "try again") is simply a bad file here, exit 1.
fn file_error(e: crate::error::PlatformError) -> anyhow::Error {
    if e.is_transient() {
        anyhow::Error::msg(e.to_string())
    } else {
        e.into()
    }
}

/// The platform whose reader finds orders in `body`, other than `platform`, with how many.
fn looks_like(platform: PlatformId, body: &[u8]) -> Option<(&'static str, usize)> {
    crate::platforms::PLATFORMS
        .iter()
        .filter(|p| p.id != platform)
        .find_map(|p| {
            let orders = crate::platforms::normalize_saved(p.id, body, "-").ok()?;
            (!orders.is_empty()).then_some((p.spec.id, orders.len()))
        })
}
