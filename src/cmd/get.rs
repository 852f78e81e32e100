//! `ordersync get`: named orders in full.
//!
//! All ids are asked for at once. When the platform refuses that (an id it does not know), each
//! id is asked for on its own, so that the orders found are printed and the missing ones named:
//! one unknown id must not hide the others.

use super::{adapter, load_source, transport};
use crate::cli::GetArgs;
use crate::error::{ErrorClass, PlatformError};
use crate::sink::{self, Output};
use crate::sync;
use anyhow::Result;
use std::time::Duration as StdDuration;

pub(super) async fn get(args: GetArgs, config: Option<std::path::PathBuf>) -> Result<()> {
    let source = load_source(args.sandbox, config.as_deref(), 500).await?;
    let shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    let t = transport(&shop, None, StdDuration::from_secs(30), 8, None)?;
    let a = adapter(&shop)?;
    let mut sink = sink::make(
        args.format,
        sink::CsvMode::Lines,
        false,
        Output::open(None)?,
    );
    let mut missing = Vec::new();
    match sync::sender::lookup(a.as_ref(), &t, &args.ids).await {
        Ok(orders) => {
            for o in &orders {
                sink.write(o)?;
            }
        }
        Err(e) if args.ids.len() == 1 && about_an_id(&e) => {
            missing.push(format!("{}: {e}", args.ids[0]));
        }
        Err(e) if about_an_id(&e) => {
            for id in &args.ids {
                match sync::sender::lookup(a.as_ref(), &t, std::slice::from_ref(id)).await {
                    Ok(orders) => {
                        for o in &orders {
                            sink.write(o)?;
                        }
                    }
                    Err(e) if about_an_id(&e) => missing.push(format!("{id}: {e}")),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    sink.commit()?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} of {} orders not found:\n  {}",
            missing.len(),
            args.ids.len(),
            missing.join("\n  ")
        ))
    }
}

/// An error about what was asked for (an unknown id), not about the credentials or the
/// connection: worth asking for the other ids on their own.
fn about_an_id(e: &PlatformError) -> bool {
    matches!(e.class(), ErrorClass::Invalid | ErrorClass::Other)
}
