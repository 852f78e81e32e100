//! `ordersync state show|reset`: read or rewind the marks of a state file.

use crate::cli::StateCommand;
use crate::error::usage;
use crate::sync::state::{lock, read, resolve, write};
use anyhow::Result;
use chrono::Utc;
use std::collections::BTreeMap;
use std::io::Write;

/// `ordersync state show|reset`.
pub(super) fn command(cmd: StateCommand) -> Result<()> {
    let mut out = std::io::stdout();
    match cmd {
        StateCommand::Show { state, shop } => {
            let file = read(&resolve(&state)?)?;
            let shops: BTreeMap<_, _> = file
                .shops
                .into_iter()
                .filter(|(k, _)| shop.as_ref().is_none_or(|s| s == k))
                .collect();
            if shops.is_empty() {
                writeln!(
                    out,
                    "{}: no marks{}",
                    state.display(),
                    shop.map(|s| format!(" for shop {s:?}")).unwrap_or_default()
                )?;
                return Ok(());
            }
            for (name, e) in shops {
                writeln!(
                    out,
                    "{name}\t{}\t--by {}\tmark {}\t(written {})",
                    e.platform,
                    e.by,
                    e.mark
                        .with_timezone(&crate::model::platform_offset())
                        .to_rfc3339(),
                    e.written_at.to_rfc3339()
                )?;
            }
            Ok(())
        }
        StateCommand::Reset { state, shop, to } => {
            let state = resolve(&state)?;
            let _lock = lock(&state)?;
            let mut file = read(&state)?;
            let name = match shop {
                Some(s) => s,
                None if file.shops.len() == 1 => {
                    file.shops.keys().next().cloned().unwrap_or_default()
                }
                None => {
                    return Err(usage(format!(
                        "say which shop with --shop NAME; shops in {}: {}",
                        state.display(),
                        file.shops.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            };
            match (file.shops.get_mut(&name), to) {
                (None, _) => {
                    return Err(usage(format!(
                        "{}: no mark for shop {name:?}",
                        state.display()
                    )));
                }
                (Some(e), Some(t)) => {
                    e.mark = t;
                    e.written_at = Utc::now();
                    eprintln!("shop {name:?}: mark set to {}", super::shown(t));
                }
                (Some(_), None) => {
                    file.shops.remove(&name);
                    eprintln!("shop {name:?}: mark removed; the next run needs --since");
                }
            }
            write(&state, &file)
        }
    }
}
