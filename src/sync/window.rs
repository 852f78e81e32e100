//! Cutting a time range into scan windows.
//!
//! Windows are half-open, contiguous, cover `[since, until)` exactly, and are never longer
//! than the platform allows. A window that proves too big (the platform times out on it, or its
//! results keep changing while it is scanned) is halved.

use crate::platforms::Window;
use chrono::{DateTime, Duration, Utc};

/// Split `[since, until)` into windows of at most `len`.
pub fn split(since: DateTime<Utc>, until: DateTime<Utc>, len: std::time::Duration) -> Vec<Window> {
    let len = Duration::from_std(len)
        .unwrap_or(Duration::days(1))
        .max(Duration::seconds(1));
    let mut out = Vec::new();
    let mut start = since;
    while start < until {
        let end = (start + len).min(until);
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// The two halves of a window, or `None` when it is too short to split.
pub fn halve(w: Window) -> Option<(Window, Window)> {
    let span = w.end - w.start;
    if span < Duration::seconds(2) {
        return None;
    }
    let mid = w.start + span / 2;
    Some((
        Window {
            start: w.start,
            end: mid,
        },
        Window {
            start: mid,
            end: w.end,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    proptest! {
        #[test]
        fn windows_cover_the_range_exactly(a in 0i64..1_000_000, span in 0i64..10_000_000, len in 1u64..200_000) {
            let ws = split(t(a), t(a + span), std::time::Duration::from_secs(len));
            if span == 0 {
                prop_assert!(ws.is_empty());
            } else {
                prop_assert_eq!(ws[0].start, t(a));
                prop_assert_eq!(ws.last().unwrap().end, t(a + span));
            }
            for pair in ws.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            for w in &ws {
                prop_assert!(w.start < w.end);
                prop_assert!((w.end - w.start).num_seconds() as u64 <= len);
            }
        }
    }

    #[test]
    fn halves_meet_in_the_middle() {
        let (a, b) = halve(Window {
            start: t(0),
            end: t(100),
        })
        .unwrap();
        assert_eq!(
            (a.start, a.end, b.start, b.end),
            (t(0), t(50), t(50), t(100))
        );
        assert!(
            halve(Window {
                start: t(0),
                end: t(1)
            })
            .is_none()
        );
    }
}
