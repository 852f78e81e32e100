//! `ordersync platforms`: what each platform supports.

use super::human;
use crate::platforms::{By, ByMode};
use anyhow::Result;
use std::io::Write;

pub(super) fn platforms() -> Result<()> {
    let mut out = std::io::stdout().lock();
    for p in crate::platforms::PLATFORMS {
        let s = p.spec;
        let by = |b: By| match s.by_mode(b) {
            ByMode::Native {
                max_window: Some(w),
            } => format!("yes (windows of at most {})", human(w)),
            ByMode::Native { max_window: None } => "yes".to_string(),
            ByMode::ViaModified => "via modified-time windows, filtered on creation time".into(),
            ByMode::Unsupported(why) => format!("no: {why}"),
        };
        writeln!(out, "{}  {}", s.id, s.title)?;
        writeln!(out, "  base url      {}", s.default_base_url)?;
        writeln!(out, "  --by created  {}", by(By::Created))?;
        writeln!(out, "  --by modified {}", by(By::Modified))?;
        writeln!(
            out,
            "  page size     {} (the most ordersync asks for)",
            s.max_page_size
        )?;
        writeln!(
            out,
            "  rate limit    {} requests/s (override with rate_limit)",
            s.default_rate_limit
        )?;
        writeln!(
            out,
            "  window        {} for --by modified, 1d for --by created (change with --window)",
            human(s.default_window)
        )?;
        writeln!(out, "  config keys   {}", s.config_keys)?;
        writeln!(
            out,
            "  --status      a normalized status, or one of {}",
            s.statuses.join(", ")
        )?;
        match crate::store::default_revisit(s) {
            Some(span) => writeln!(
                out,
                "  --revisit     {} by default with --db: it cannot list orders by modification \
                 time, so each run re-scans the orders created within that span for changes",
                human(span)
            )?,
            None => writeln!(
                out,
                "  --revisit     not needed with --db (modified-time windows see every change)"
            )?,
        }
        if !s.notes.is_empty() {
            writeln!(out, "  notes         {}", s.notes)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
