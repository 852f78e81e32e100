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
        return Ok(now - d);
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

/// `90s`, `30m`, `24h`, `7d`, `2w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Some(Duration::seconds(n)),
        'm' => Some(Duration::minutes(n)),
        'h' => Some(Duration::hours(n)),
        'd' => Some(Duration::days(n)),
        'w' => Some(Duration::weeks(n)),
        _ => None,
    }
}

/// A clap value parser for durations that may be zero (`--settle 0s`).
pub fn duration_or_zero_arg(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| format!("{s:?} is not a duration; use e.g. 0s, 90s, 30m, 24h, 7d"))
}

/// A clap value parser for durations (`--window 30m`).
pub fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s)
        .and_then(|d| d.to_std().ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a duration; use e.g. 90s, 30m, 24h, 7d"))
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
}
