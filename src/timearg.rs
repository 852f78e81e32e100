//! Parsing the times users type for `--since` / `--until`.
//!
//! Accepted: RFC 3339 (`2026-11-01T08:00:00+08:00`), a date (`2026-11-01`, midnight in the
//! platforms' zone, +08:00), a platform-local time (`2026-11-01 08:00:00`), or a duration ago
//! (`90s`, `30m`, `24h`, `7d`, `2w`).

use crate::model::platform_offset;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parse a time argument relative to `now`.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Some(d) = parse_duration(t) {
        return now.checked_sub_signed(d).ok_or_else(|| too_long(s));
    }
    if looks_like_duration(t) {
        return Err(too_long(s));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.to_utc());
    }
    let local = |n: NaiveDateTime| platform_offset().from_local_datetime(&n).single();
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return local(n).map(|d| d.to_utc()).ok_or_else(|| bad(s));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let n = d.and_hms_opt(0, 0, 0).ok_or_else(|| bad(s))?;
        return local(n).map(|d| d.to_utc()).ok_or_else(|| bad(s));
    }
    Err(bad(s))
}

fn bad(s: &str) -> String {
    format!(
        "{s:?} is not a time; use RFC 3339 (2026-11-01T08:00:00+08:00), a date (2026-11-01), \
         \"2026-11-01 08:00:00\" (+08:00), or a duration ago (30m, 24h, 7d)"
    )
}

/// The longest duration accepted, in days (a century): far beyond any range worth pulling,
/// and well inside what times can represent, so no sum or difference of times overflows.
pub const LONGEST_DAYS: i64 = 36_525;

/// `90s`, `30m`, `24h`, `7d`, `2w`, up to [`LONGEST_DAYS`].
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    let d = match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    }?;
    (d <= Duration::days(LONGEST_DAYS)).then_some(d)
}

/// Digits and a unit: a duration, if perhaps too long to be one.
fn looks_like_duration(s: &str) -> bool {
    let s = s.trim();
    s.strip_suffix(['s', 'm', 'h', 'd', 'w'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn too_long(s: &str) -> String {
    format!("{s:?} is too long: durations go up to a century ({LONGEST_DAYS}d)")
}

fn duration_error(s: &str, examples: &str) -> String {
    if looks_like_duration(s) {
        too_long(s)
    } else {
        format!("{s:?} is not a duration; use e.g. {examples}")
    }
}

/// A clap value parser for durations that may be zero (`--settle 0s`).
pub fn duration_or_zero_arg(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| duration_error(s, "0s, 90s, 30m, 24h, 7d"))
}

/// A clap value parser for durations (`--window 30m`).
pub fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s).and_then(|d| d.to_std().ok()) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(format!("{s:?} is zero; use e.g. 90s, 30m, 24h, 7d")),
        None => Err(duration_error(s, "90s, 30m, 24h, 7d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn every_accepted_form() {
        let p = |s| parse_time(s, now()).unwrap().to_rfc3339();
        assert_eq!(p("7d"), "2026-11-18T12:00:00+00:00");
        assert_eq!(p("30m"), "2026-11-25T11:30:00+00:00");
        assert_eq!(p("2026-11-01"), "2026-10-31T16:00:00+00:00");
        assert_eq!(p("2026-11-01 08:00:00"), "2026-11-01T00:00:00+00:00");
        assert_eq!(p("2026-11-01T08:00:00+08:00"), "2026-11-01T00:00:00+00:00");
        assert_eq!(p("2026-11-01T00:00:00Z"), "2026-11-01T00:00:00+00:00");
    }

    #[test]
    fn rejects_nonsense_with_a_useful_message() {
        let e = parse_time("yesterday", now()).unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains("yesterday"));
        assert!(parse_time("2026-13-01", now()).is_err());
        assert!(parse_time("-5d", now()).is_err());
        assert!(duration_arg("0m").is_err());
        assert_eq!(duration_arg("30m").unwrap().as_secs(), 1800);
    }

    #[test]
    fn durations_past_a_century_are_refused_not_panicked_on() {
        for s in [
            "100000000d",
            "9223372036854775807s",
            "99999999999999999999d",
            "5300w",
        ] {
            let e = parse_time(s, now()).unwrap_err();
            assert!(e.contains("too long"), "{s}: {e}");
            assert!(duration_arg(s).unwrap_err().contains("too long"), "{s}");
            assert!(duration_or_zero_arg(s).unwrap_err().contains("too long"));
        }
        assert!(duration_arg("36525d").is_ok());
    }
}
