//! Cutting a time range into scan windows.
//!
//! Windows are half-open, contiguous, cover `[since, until)` exactly, and are never longer
//! than the platform allows. Their length adapts to how many orders they hold ([`Sizer`],
//! [`Bounds`]); a window whose page 1 reports too many orders is [`split`] before it is
//! scanned, one without a total once a pass has read too many. A window that proves troublesome (the platform times out on it, or its results
//! keep changing while it is scanned) is [`halve`]d.

use crate::platforms::Window;
use chrono::{DateTime, Duration, Utc};

/// How many orders a window should hold, for a platform's page size. Windows of about
/// `target` orders keep the concurrent page fetch busy and cost few short pages; the caps in
/// orders matter for big pages (500 on taobao-enhanced), where dedupe memory, not paging,
/// is what a window's size costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Below this the next window is twice as long...
    pub grow_below: u64,
    /// ...above `shrink_above` it is cut to hold about `target`...
    pub target: u64,
    pub shrink_above: u64,
    /// ...and a window whose page 1 reports more than `split_above` is split into windows of
    /// about `target` before it is scanned (on a list without totals, a pass that goes past
    /// it is stopped and the window cut). Dedupe remembers every order of the current and
    /// the previous window, so this bounds its memory, whatever the number of orders pulled.
    pub split_above: u64,
}

impl Bounds {
    pub fn for_page_size(page_size: u32) -> Bounds {
        let page = u64::from(page_size.max(1));
        let cap = |pages: u64, orders: u64| (pages * page).min(orders);
        Bounds {
            grow_below: cap(8, 3_000),
            target: cap(24, 6_000),
            shrink_above: cap(40, 9_000),
            split_above: cap(64, 12_000),
        }
    }

    /// These bounds with at most `orders` orders in a window (split above it, cut to about
    /// half of it): for a pull that holds each window's orders until the window is done (the
    /// mirror commits a window in one transaction), so that what it holds does not grow with
    /// the size of the shop. Smaller windows cost a short page each, so only such pulls ask.
    pub fn held_whole(self, orders: u64) -> Bounds {
        let orders = orders.max(2);
        Bounds {
            grow_below: self.grow_below.min(orders / 4),
            target: self.target.min(orders / 2),
            shrink_above: self.shrink_above.min(orders * 3 / 4),
            split_above: self.split_above.min(orders),
        }
    }

    /// How many windows to cut a window reported to hold `orders` into.
    pub fn parts_for(&self, orders: u64) -> u64 {
        orders.div_ceil(self.target.max(1)).max(1)
    }
}

/// The longest window when the platform sets no limit.
const LONGEST: Duration = Duration::days(31);
/// The shortest window the sizer asks for (splitting on trouble still goes below).
const SHORTEST: Duration = Duration::minutes(1);

/// The length of the next window, adapted to how many orders the previous window held.
/// Created-time scans without `--window` grow their windows while they hold few orders, up to
/// the platform's limit or 31 days: creation times do not move, so a longer window is as safe
/// as a short one, and a window that holds several full pages costs fewer requests (no short
/// page per day) and lets its pages be fetched at once. Every window shrinks when it holds too
/// many orders; other windows grow back only up to their first length (the platform's
/// recommended one, or `--window`).
pub struct Sizer {
    len: Duration,
    longest: Duration,
    bounds: Bounds,
}

impl Sizer {
    pub fn new(
        len: std::time::Duration,
        max: Option<std::time::Duration>,
        bounds: Bounds,
        grow: bool,
    ) -> Sizer {
        let len = Duration::from_std(len)
            .unwrap_or(Duration::days(1))
            .max(Duration::seconds(1));
        let longest = if grow {
            max.and_then(|m| Duration::from_std(m).ok())
                .unwrap_or(LONGEST)
                .max(len)
        } else {
            len
        };
        Sizer {
            len,
            longest,
            bounds,
        }
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The end of the window starting at `start`, at most `until`.
    pub fn end_of(&self, start: DateTime<Utc>, until: DateTime<Utc>) -> DateTime<Utc> {
        (start + self.len).min(until)
    }

    /// A window `span` long held `orders` orders: the next one is twice as long when that was
    /// few, as long as needed for `target` orders at the same density when it was many.
    pub fn window_held(&mut self, span: Duration, orders: u64) {
        let b = self.bounds;
        let next = if orders < b.grow_below {
            span * 2
        } else if orders > b.shrink_above {
            let ms =
                i128::from(span.num_milliseconds()) * i128::from(b.target) / i128::from(orders);
            Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
        } else {
            span
        };
        // Never shorter than SHORTEST unless the first length was (a --window of seconds).
        self.len = next.clamp(SHORTEST.min(self.longest), self.longest);
    }
}

/// `w` cut into `parts` windows of equal length (fewer when `w` is too short for a second
/// each); `None` when it cannot be cut at all.
pub fn split(w: Window, parts: u64) -> Option<Vec<Window>> {
    let span = w.end - w.start;
    let parts = parts.min(u64::try_from(span.num_seconds()).unwrap_or(0));
    if parts < 2 {
        return None;
    }
    let parts = i32::try_from(parts).unwrap_or(i32::MAX);
    let cut = |i: i32| {
        if i == parts {
            w.end
        } else {
            w.start + span / parts * i
        }
    };
    Some(
        (0..parts)
            .map(|i| Window {
                start: cut(i),
                end: cut(i + 1),
            })
            .collect(),
    )
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
    fn windows_grow_when_sparse_and_shrink_when_dense() {
        let day = std::time::Duration::from_secs(86_400);
        let d = Duration::days;
        let len = |s: &Sizer| s.end_of(t(0), t(100_000_000)) - t(0);
        // Page size 100: grow below 800 orders, shrink above 4,000 to about 2,400.
        let mut s = Sizer::new(day, Some(day * 20), Bounds::for_page_size(100), true);
        s.window_held(d(1), 150);
        assert_eq!(len(&s), d(2));
        for span in [2, 4, 8, 16] {
            s.window_held(d(span), 0);
        }
        assert_eq!(len(&s), d(20), "never past the platform's limit");
        s.window_held(d(20), 2_000); // twenty pages: keep
        assert_eq!(len(&s), d(20));
        s.window_held(d(20), 8_000); // eighty pages: cut to hold about 2,400
        assert_eq!(len(&s), d(6));
        s.window_held(d(6), 1_000_000_000);
        assert_eq!(len(&s), Duration::minutes(1), "at least a minute");
        // The range end cuts the last window.
        assert_eq!(s.end_of(t(0), t(30)), t(30));

        // Modified-time scans and --window: shrink when dense, grow back to the first length only.
        let mut fixed = Sizer::new(day, Some(day * 20), Bounds::for_page_size(100), false);
        fixed.window_held(d(1), 0);
        assert_eq!(len(&fixed), d(1));
        fixed.window_held(d(1), 24_000);
        assert_eq!(len(&fixed), d(1) / 10);
        fixed.window_held(d(1) / 10, 10);
        assert_eq!(len(&fixed), d(1) / 5);
        for _ in 0..5 {
            fixed.window_held(d(1), 10);
        }
        assert_eq!(len(&fixed), d(1));
        // A --window shorter than a minute stays what it is.
        let mut short = Sizer::new(
            std::time::Duration::from_secs(10),
            None,
            Bounds::for_page_size(100),
            false,
        );
        short.window_held(Duration::seconds(10), 1_000_000);
        assert_eq!(len(&short), Duration::seconds(10));
        // No platform limit: at most 31 days.
        let mut open = Sizer::new(day, None, Bounds::for_page_size(100), true);
        for _ in 0..10 {
            open.window_held(len(&open), 0);
        }
        assert_eq!(len(&open), d(31));
    }

    #[test]
    fn bounds_cap_orders_for_big_pages() {
        let small = Bounds::for_page_size(20);
        assert_eq!(
            (
                small.grow_below,
                small.target,
                small.shrink_above,
                small.split_above
            ),
            (160, 480, 800, 1_280)
        );
        let big = Bounds::for_page_size(500);
        assert_eq!(
            (
                big.grow_below,
                big.target,
                big.shrink_above,
                big.split_above
            ),
            (3_000, 6_000, 9_000, 12_000)
        );
        assert_eq!(big.parts_for(12_001), 3);
        assert_eq!(big.parts_for(0), 1);
    }

    #[test]
    fn a_window_held_whole_is_capped_in_orders() {
        let big = Bounds::for_page_size(500).held_whole(2_400);
        assert_eq!(
            (
                big.grow_below,
                big.target,
                big.shrink_above,
                big.split_above
            ),
            (600, 1_200, 1_800, 2_400)
        );
        assert_eq!(big.parts_for(2_401), 3);
        // Bounds already under the cap stay as they were.
        let small = Bounds::for_page_size(20);
        assert_eq!(small.held_whole(2_400), small);
    }

    #[test]
    fn split_cuts_into_contiguous_parts_of_at_least_a_second() {
        let w = Window {
            start: t(0),
            end: t(100),
        };
        let parts = split(w, 3).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].start, t(0));
        assert_eq!(parts[2].end, t(100));
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert_eq!(
            split(w, 1_000).unwrap().len(),
            100,
            "a second each at least"
        );
        assert!(split(w, 1).is_none());
        let short = Window {
            start: t(0),
            end: t(1),
        };
        assert!(split(short, 5).is_none());
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
            page in 1u32..500,
            grow: bool,
            held in proptest::collection::vec(0u64..100_000, 0..64),
        ) {
            let secs = std::time::Duration::from_secs;
            let mut sizer = Sizer::new(secs(len), max.map(secs), Bounds::for_page_size(page), grow);
            let until = t(a + span);
            let mut ws: Vec<Window> = Vec::new();
            let mut start = t(a);
            while start < until {
                let w = Window { start, end: sizer.end_of(start, until) };
                start = w.end;
                sizer.window_held(w.end - w.start, held.get(ws.len()).copied().unwrap_or(0));
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
