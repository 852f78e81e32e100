//! Verify's report on stdout: a line per disagreeing window, then a summary of the pass.

use super::Target;
use super::compare::{Report, Verdict};
use crate::platforms::Window;
use std::io::Write;

/// One line per disagreeing window, then a summary line.
pub(super) fn print_report(
    out: &mut dyn Write,
    t: &Target<'_>,
    range: Window,
    r: &Report,
) -> std::io::Result<()> {
    for c in r.disagreeing() {
        let mut line = format!(
            "{:<8} {}  platform {}  mirror {}",
            c.verdict.as_str(),
            c.window,
            c.platform,
            c.mirror
        );
        if let Some(row) = &c.ledger {
            match row.platform_total {
                Some(total) => line.push_str(&format!("  (at pull: platform {total}")),
                None => line.push_str("  (at pull: no total"),
            }
            line.push_str(&format!(", received {})", row.received));
        }
        if let Some(m) = c.missing.as_ref().filter(|m| !m.is_empty()) {
            line.push_str(&format!("  missing: {}", m.join(" ")));
        }
        if let Some(e) = c.extra.as_ref().filter(|e| !e.is_empty()) {
            line.push_str(&format!("  not listed: {}", e.join(" ")));
        }
        writeln!(out, "{line}")?;
    }
    let count = |v: Verdict| r.windows.iter().filter(|c| c.verdict == v).count();
    let bad = r.disagreeing().count();
    writeln!(
        out,
        "verify {} ({}, by {}) {}: {} windows, {} agree, {} disagree ({} changed, {} missing, \
         {} extra){}",
        t.shop.name,
        t.adapter.spec().id,
        t.by,
        range,
        r.windows.len(),
        r.windows.len() - bad,
        bad,
        count(Verdict::Changed),
        count(Verdict::Missing),
        count(Verdict::Extra),
        if r.by_id_scan {
            format!(
                "; {} gives no totals: every window was verified by a full id scan",
                t.adapter.spec().id
            )
        } else {
            String::new()
        }
    )?;
    if count(Verdict::Changed) > 0 {
        writeln!(
            out,
            "changed: the platform's count moved since the pull recorded it (orders modified \
             since, or added late); a pull from the mark brings what moved, then verify again"
        )?;
    }
    Ok(())
}
