//! `ordersync get`: named orders in full.

use crate::cli::GetArgs;
use crate::platforms::{Adapter, PlatformId};
use crate::sink::{self, Output};
use anyhow::Result;

use super::{load_source, transport};
use std::time::Duration as StdDuration;

pub(super) async fn get(args: GetArgs, config: Option<std::path::PathBuf>) -> Result<()> {
    let source = load_source(args.sandbox, config.as_deref(), 500).await?;
    let shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    let t = transport(&shop, None, StdDuration::from_secs(30), 8, None)?;
    let orders = with_adapter!(&shop, |a| {
        a.prepare(&t).await?;
        a.get_orders(&t, &args.ids).await?
    });
    let mut sink = sink::make(
        args.format,
        sink::CsvMode::Lines,
        false,
        Output::open(None)?,
    );
    for o in &orders {
        sink.write(o)?;
    }
    sink.commit()
}
