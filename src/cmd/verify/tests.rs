//! Unit tests of verify's window plan and verdicts (the command itself is tested through the
//! binary in tests/it/verify.rs).

use super::compare::{Checked, Verdict, plan_windows, verdict};
use crate::platforms::{By, Window};
use crate::store::LedgerRow;
use chrono::{DateTime, Utc};

fn at(h: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
}

fn row(s: i64, e: i64) -> LedgerRow {
    LedgerRow {
        window: Window {
            start: at(s),
            end: at(e),
        },
        by: By::Modified,
        platform_total: Some(1),
        received: 1,
        recorded_at: String::new(),
    }
}

/// Ledger windows are used where they fit; gaps (and overlapping rows of a later run's
/// lookback) get windows of the default length; together they cover the range once.
#[test]
fn windows_follow_the_ledger_and_fill_the_gaps() {
    let range = Window {
        start: at(0),
        end: at(10),
    };
    let rows = vec![row(1, 3), row(2, 4), row(3, 5), row(8, 12)];
    let got = plan_windows(
        range,
        rows,
        By::Modified,
        std::time::Duration::from_secs(7200),
    );
    let spans: Vec<(i64, i64, bool)> = got
        .iter()
        .map(|(w, r)| {
            (
                (w.start - at(0)).num_hours(),
                (w.end - at(0)).num_hours(),
                r.is_some(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            (0, 1, false),
            (1, 3, true),
            (3, 5, true),
            (5, 7, false),
            (7, 9, false),
            (9, 10, false)
        ]
    );
}

#[test]
fn a_count_that_moved_since_the_pull_is_changed_not_missing() {
    let c = |platform, mirror, ledger: Option<LedgerRow>, missing: Option<Vec<String>>| {
        let mut c = Checked {
            window: row(0, 1).window,
            ledger,
            platform,
            mirror,
            missing,
            extra: None,
            verdict: Verdict::Agree,
        };
        c.verdict = verdict(&c);
        c.verdict
    };
    let pulled = |n| {
        Some(LedgerRow {
            platform_total: Some(n),
            received: n,
            ..row(0, 1)
        })
    };
    assert_eq!(c(5, 5, pulled(5), None), Verdict::Agree);
    assert_eq!(c(5, 4, pulled(5), None), Verdict::Missing);
    assert_eq!(c(4, 5, pulled(5), None), Verdict::Changed);
    assert_eq!(c(5, 4, None, None), Verdict::Missing);
    assert_eq!(c(4, 5, None, None), Verdict::Extra);
    // Same counts, other ids: not in agreement.
    assert_eq!(c(5, 5, pulled(5), Some(vec!["x".into()])), Verdict::Missing);
}
