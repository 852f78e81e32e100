//! `ordersync get`: named orders in full.

use crate::cli::GetArgs;

use crate::sink::{self, Output};
use anyhow::Result;

use super::{adapter, load_source, transport};
use crate::sync;
use std::time::Duration as StdDuration;

pub(super) async fn get(args: GetArgs, config: Option<std::path::PathBuf>) -> Result<()> {
    let source = load_source(args.sandbox, config.as_deref(), 500).await?;
    let shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    let t = transport(&shop, None, StdDuration::from_secs(30), 8, None)?;
    let orders = sync::sender::lookup(adapter(&shop)?.as_ref(), &t, &args.ids).await?;
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
