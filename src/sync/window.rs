//! Cutting a time range into scan windows.
//!
//! Windows are half-open, contiguous, cover `[since, until)` exactly, and are never longer
//! than the platform allows. Created-time windows adapt their length to how many orders they
//! hold ([`Sizer`]). A window that proves too big (the platform times out on it, or its
//! results keep changing while it is scanned) is halved.

use crate::platforms::Window;
use chrono::{DateTime, Duration, Utc};

/// Windows of created-time scans grow while they hold fewer pages than this (enough to keep
/// the concurrent page fetch busy)...
const GROW_BELOW_PAGES: u64 = 8;
/// ...and shrink back once they hold more than this.
const SHRINK_ABOVE_PAGES: u64 = 40;
/// The longest window when the platform sets no limit.
const LONGEST: Duration = Duration::days(31);

/// The length of the next window: fixed, or adapted to how many orders the previous window
/// held. Adapting is for created-time scans only: creation times do not move, so a longer
/// window is as safe as a short one, and a window that holds several full pages costs fewer
/// requests (no short page per day) and lets its pages be fetched at once. Modified-time
/// windows keep the platform's recommended length.
pub struct Sizer {
    len: Duration,
    /// Shrinking stops at the starting length (halving on trouble still goes below).
    shortest: Duration,
    longest: Duration,
    /// `Some(page size)` when windows adapt.
    adapt: Option<u32>,
}

impl Sizer {
    pub fn new(
        len: std::time::Duration,
        max: Option<std::time::Duration>,
        adapt: Option<u32>,
    ) -> Sizer {
        let len = Duration::from_std(len)
            .unwrap_or(Duration::days(1))
            .max(Duration::seconds(1));
        let longest = max
            .and_then(|m| Duration::from_std(m).ok())
            .unwrap_or(LONGEST)
            .max(len);
        Sizer {
            len,
            shortest: len,
            longest,
            adapt,
        }
    }

    /// The end of the window starting at `start`, at most `until`.
    pub fn end_of(&self, start: DateTime<Utc>, until: DateTime<Utc>) -> DateTime<Utc> {
        (start + self.len).min(until)
    }

    /// The window just scanned held `orders` orders: double the next one when it held few
    /// pages, halve it (down to the first length) when it held many.
    pub fn window_held(&mut self, orders: u64) {
        let Some(page_size) = self.adapt else {
            return;
        };
        let pages = orders.div_ceil(u64::from(page_size.max(1)));
        if pages < GROW_BELOW_PAGES {
            self.len = (self.len * 2).min(self.longest);
        } else if pages > SHRINK_ABOVE_PAGES {
            self.len = (self.len / 2).max(self.shortest);
        }
    }
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

    #[test]
    fn created_windows_grow_when_sparse_and_shrink_when_dense() {
        let day = std::time::Duration::from_secs(86_400);
        let len = |s: &Sizer| s.end_of(t(0), t(100_000_000)) - t(0);
        let mut s = Sizer::new(day, Some(day * 20), Some(100));
        s.window_held(150); // two pages: grow
        assert_eq!(len(&s), Duration::days(2));
        s.window_held(0);
        s.window_held(0);
        s.window_held(0);
        s.window_held(0);
        assert_eq!(
            len(&s),
            Duration::days(20),
            "never past the platform's limit"
        );
        s.window_held(2_000); // twenty pages: keep
        assert_eq!(len(&s), Duration::days(20));
        s.window_held(4_001); // forty-one pages: shrink
        assert_eq!(len(&s), Duration::days(10));
        for _ in 0..20 {
            s.window_held(1_000_000);
        }
        assert_eq!(
            len(&s),
            Duration::days(1),
            "shrinking stops at the first length"
        );
        // The range end cuts the last window.
        assert_eq!(s.end_of(t(0), t(60)), t(60));

        // Fixed windows (modified-time scans, or --window) never change.
        let mut fixed = Sizer::new(day, None, None);
        fixed.window_held(0);
        fixed.window_held(1_000_000);
        assert_eq!(len(&fixed), Duration::days(1));
        // No platform limit: at most 31 days.
        let mut open = Sizer::new(day, None, Some(100));
        for _ in 0..10 {
            open.window_held(0);
        }
        assert_eq!(len(&open), Duration::days(31));
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    proptest! {
        #[test]
        fn windows_cover_the_range_exactly(
            a in 0i64..1_000_000,
            span in 0i64..10_000_000,
            len in 1u64..200_000,
            max in proptest::option::of(1u64..4_000_000),
            adapt in proptest::option::of(1u32..500),
            held in proptest::collection::vec(0u64..100_000, 0..64),
        ) {
            let secs = std::time::Duration::from_secs;
            let mut sizer = Sizer::new(secs(len), max.map(secs), adapt);
            let until = t(a + span);
            let mut ws: Vec<Window> = Vec::new();
            let mut start = t(a);
            while start < until {
                let w = Window { start, end: sizer.end_of(start, until) };
                start = w.end;
                sizer.window_held(held.get(ws.len()).copied().unwrap_or(0));
                ws.push(w);
            }
            if span == 0 {
                prop_assert!(ws.is_empty());
            } else {
                prop_assert_eq!(ws[0].start, t(a));
                prop_assert_eq!(ws.last().unwrap().end, until);
            }
            for pair in ws.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            let longest = max.unwrap_or(31 * 86_400).max(len);
            for w in &ws {
                prop_assert!(w.start < w.end);
                prop_assert!((w.end - w.start).num_seconds() as u64 <= longest);
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
