//! `ordersync export`: the mirror's current orders, in any format, without calling a
//! platform.

use crate::cli::ExportArgs;
use crate::sink::{self, Output};
use crate::store::{DbUrl, ExportQuery};
use anyhow::Result;

pub(super) async fn export(args: ExportArgs) -> Result<()> {
    let status = match args.status.as_deref().map(str::trim) {
        Some(s) => Some(
            crate::model::Status::from_name(s)
                .ok_or_else(|| {
                    crate::error::usage(format!(
                        "--status {s:?} is not a normalized status ({})",
                        crate::model::Status::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    if let (Some(s), Some(u)) = (args.since, args.until)
        && s >= u
    {
        return Err(crate::error::usage(
            "--since is not before --until: nothing would be exported",
        ));
    }
    let url = DbUrl::parse(&args.db)?;
    let store = crate::store::open_for_reading(&url).await?;
    let q = ExportQuery {
        shop: args.shop,
        by: args.by,
        since: args.since,
        until: args.until,
        status,
    };
    let output = sink::file_or_stdout(args.output.as_deref());
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, args.csv_bom, output)?;
    if let Some(dir) = output.and_then(|p| p.parent()) {
        crate::sync::state::remove_leftovers(dir);
    }
    crate::logging::set_stdout_is_data(output.is_none());
    let out = Output::open(output)?;
    let n = crate::store::export::export(store.as_ref(), &q, format, csv_mode, args.csv_bom, out)
        .await?;
    store.close().await?;
    tracing::info!("exported {n} orders from {}", store.shown());
    Ok(())
}
