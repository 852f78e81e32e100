//! `--metrics-file`: the run's figures per shop in the Prometheus text exposition format, for
//! node_exporter's textfile collector (the convention for cron jobs: the job rewrites a
//! `*.prom` file at the end of each run, atomically, and node_exporter serves what it holds).
//!
//! Every series is a gauge: the file describes the last run, and is replaced whole by the
//! next. Written by hand: a handful of lines needs no crate.

use super::Row;
use crate::error::usage;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Refuse, before the run, a metrics file that could not be written at its end.
pub fn check_metrics_file(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(usage(format!(
            "--metrics-file {} is a folder; give a file name (node_exporter reads *.prom)",
            path.display()
        )));
    }
    let dir = folder_of(path);
    if !dir.is_dir() {
        return Err(usage(format!(
            "--metrics-file {}: the folder {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Write the metrics of a run that ended now with `rows`. A failure is logged, not returned:
/// the run's own outcome is what its exit code says.
pub fn write_metrics(path: &Path, rows: &[Row]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    if let Err(e) = replace(path, render(rows, now).as_bytes()) {
        tracing::warn!("{e:#}");
    }
}

/// The file's text for `rows`, the run having ended at `now` (Unix seconds).
fn render(rows: &[Row], now: f64) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, values: &[(Option<&Row>, Option<f64>)]| {
        let values: Vec<_> = values.iter().filter(|v| v.1.is_some()).collect();
        if values.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (row, value) in values {
            let labels = row.map_or(String::new(), |r| {
                format!(
                    "{{shop=\"{}\",platform=\"{}\"}}",
                    escape(&r.shop),
                    escape(r.platform)
                )
            });
            let _ = writeln!(out, "{name}{labels} {}", number(value.unwrap_or_default()));
        }
    };
    let all_ok = rows.iter().all(|r| r.ok);
    gauge(
        "ordersync_last_run_timestamp_seconds",
        "When the last ordersync pull ended (Unix time).",
        &[(None, Some(now))],
    );
    gauge(
        "ordersync_last_run_success",
        "1 when every shop of the last run succeeded, else 0.",
        &[(None, Some(f64::from(u8::from(all_ok))))],
    );
    let per_shop = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(Option<&Row>, Option<f64>)> {
        rows.iter().map(|r| (Some(r), f(r))).collect()
    };
    let n = |v: u64| Some(v as f64);
    let t = |v: Option<i64>| v.map(|v| v as f64);
    gauge(
        "ordersync_shop_success",
        "1 when the shop's pull succeeded in the last run, else 0.",
        &per_shop(&|r| Some(f64::from(u8::from(r.ok)))),
    );
    gauge(
        "ordersync_shop_exit_code",
        "The exit code of the shop's pull (0 success, 2 usage or config, 3 auth, 4 transient, 1 other).",
        &per_shop(&|r| Some(f64::from(r.exit_code))),
    );
    gauge(
        "ordersync_shop_orders",
        "Orders written for the shop in the last run.",
        &per_shop(&|r| n(r.orders)),
    );
    gauge(
        "ordersync_shop_orders_new",
        "Orders new to the mirror in the last run.",
        &per_shop(&|r| r.new.and_then(n)),
    );
    gauge(
        "ordersync_shop_orders_updated",
        "Orders updated in the mirror in the last run.",
        &per_shop(&|r| r.updated.and_then(n)),
    );
    gauge(
        "ordersync_shop_requests",
        "Requests sent to the platform for the shop in the last run.",
        &per_shop(&|r| n(r.requests)),
    );
    gauge(
        "ordersync_shop_retries",
        "Requests retried for the shop in the last run.",
        &per_shop(&|r| n(r.retries)),
    );
    gauge(
        "ordersync_shop_duration_seconds",
        "How long the shop's pull took in the last run.",
        &per_shop(&|r| Some(r.elapsed_ms as f64 / 1000.0)),
    );
    gauge(
        "ordersync_shop_range_start_timestamp_seconds",
        "Start of the range pulled for the shop in the last run (Unix time).",
        &per_shop(&|r| t(r.times.since)),
    );
    gauge(
        "ordersync_shop_range_end_timestamp_seconds",
        "End of the range pulled for the shop in the last run (Unix time).",
        &per_shop(&|r| t(r.times.until)),
    );
    gauge(
        "ordersync_shop_mark_timestamp_seconds",
        "The shop's mark (state file or mirror) after the last run: everything before it was delivered (Unix time).",
        &per_shop(&|r| t(r.times.mark)),
    );
    out
}

/// A label value: backslash, double quote and newline escaped, as the format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: integers without a fraction, others to the millisecond.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Replace `path` atomically: a temporary file in its folder, then a rename, so that
/// node_exporter never reads half a file. Readable by others (node_exporter runs as its own
/// user); the temporary file's name does not end in `.prom`, so it is never collected.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = folder_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".ordersync-metrics-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write the metrics file in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write the metrics file {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(shop: &str, ok: bool) -> Row {
        Row {
            ok,
            exit_code: if ok { 0 } else { 3 },
            error: (!ok).then(|| "refused".to_string()),
            platform: "vvtool",
            shop: shop.to_string(),
            since: None,
            until: None,
            mark: None,
            orders: 12,
            new: None,
            updated: None,
            skipped: None,
            requests: 4,
            retries: 1,
            windows: 1,
            pages: 3,
            duplicates_dropped: 0,
            rescans: 0,
            windows_reasked: 0,
            stopped_at_limit: false,
            elapsed_ms: 1500,
            times: super::super::Times {
                since: Some(1_700_000_000),
                until: Some(1_700_086_400),
                mark: ok.then_some(1_700_086_400),
            },
        }
    }

    #[test]
    fn the_text_format_with_labels_escaped() {
        let text = render(&[row("a\"b\\c", true), row("d", false)], 1_700_000_123.5);
        assert!(
            text.contains("ordersync_last_run_timestamp_seconds 1700000123.500\n"),
            "{text}"
        );
        assert!(text.contains("ordersync_last_run_success 0\n"), "{text}");
        assert!(
            text.contains("ordersync_shop_success{shop=\"a\\\"b\\\\c\",platform=\"vvtool\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("ordersync_shop_exit_code{shop=\"d\",platform=\"vvtool\"} 3\n"));
        assert!(
            text.contains(
                "ordersync_shop_duration_seconds{shop=\"d\",platform=\"vvtool\"} 1.500\n"
            )
        );
        // A mark only for the shop that has one; no mirror figures without a mirror.
        assert_eq!(
            text.matches("ordersync_shop_mark_timestamp_seconds{")
                .count(),
            1
        );
        assert!(!text.contains("orders_new"), "{text}");
        // Every series is announced once, before its samples.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let typed = format!("# TYPE {name} gauge");
            let at = text
                .find(&typed)
                .unwrap_or_else(|| panic!("{name} untyped"));
            assert!(at < text.find(line).unwrap());
            assert_eq!(text.matches(&typed).count(), 1);
        }
    }
}
