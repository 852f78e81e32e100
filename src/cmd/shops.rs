//! `ordersync shops`: what the mirror knows of each shop — its mark, how many orders it holds,
//! and, in a fleet's PostgreSQL database, which worker holds its lease and how its last run
//! ended. Reads only; calls no platform.

use crate::cli::{ShopsArgs, ShopsFormat};
use crate::store::{DbUrl, ShopLease, ShopMark};
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// One row: a shop the mirror has seen, or one that only has a lease row (its first run
/// failed before its first window).
#[derive(Debug, serde::Serialize)]
struct Row {
    shop: String,
    platform: Option<String>,
    by: Option<String>,
    mark: Option<DateTime<Utc>>,
    orders: u64,
    holder: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    /// A holder whose lease has run out is shown, but any worker may take the shop over.
    lease_live: bool,
    last_run: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

pub(super) async fn shops(args: ShopsArgs, config: Option<PathBuf>) -> Result<()> {
    let given = match args.db {
        Some(d) if !d.trim().is_empty() => secrecy::SecretString::from(d),
        _ => {
            let missing = || {
                crate::error::usage(
                    "say which mirror: --db URL, ORDERSYNC_DB, or `db` in the config file",
                )
            };
            let config =
                crate::config::Config::load(config.as_deref(), &crate::platforms::shop_kinds())
                    .map_err(|_| missing())?;
            config.db()?.ok_or_else(missing)?
        }
    };
    let url = DbUrl::parse(secrecy::ExposeSecret::expose_secret(&given))?;
    let store = crate::store::open_for_reading(&url).await?;
    let marks = store.shops().await?;
    let leases = store.leases().await?;
    store.close().await?;
    let rows = merge(marks, leases);
    crate::logging::set_stdout_is_data(true);
    let mut out = std::io::stdout().lock();
    match args.format {
        ShopsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            out.write_all(b"\n")?;
        }
        ShopsFormat::Table => out.write_all(table(&rows).as_bytes())?,
    }
    out.flush()?;
    Ok(())
}

fn merge(marks: Vec<ShopMark>, leases: Vec<ShopLease>) -> Vec<Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for m in marks {
        rows.insert(
            m.shop.clone(),
            Row {
                shop: m.shop,
                platform: Some(m.platform),
                by: Some(m.by.to_string()),
                mark: m.mark,
                orders: m.orders,
                holder: None,
                lease_expires_at: None,
                lease_live: false,
                last_run: None,
                last_error: None,
            },
        );
    }
    for l in leases {
        let row = rows.entry(l.shop.clone()).or_insert_with(|| Row {
            shop: l.shop.clone(),
            platform: None,
            by: None,
            mark: None,
            orders: 0,
            holder: None,
            lease_expires_at: None,
            lease_live: false,
            last_run: None,
            last_error: None,
        });
        row.holder = l.holder;
        row.lease_expires_at = l.expires_at;
        row.lease_live = l.live;
        row.last_run = l.last_run;
        row.last_error = l.last_error;
    }
    rows.into_values().collect()
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// Aligned columns; an error is cut to one line (the JSON has it whole).
fn table(rows: &[Row]) -> String {
    let head = [
        "SHOP",
        "PLATFORM",
        "MARK",
        "ORDERS",
        "LEASE HOLDER",
        "LEASE UNTIL",
        "LAST RUN",
        "LAST ERROR",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let holder = match (&r.holder, r.lease_live) {
                (Some(h), true) => h.clone(),
                (Some(h), false) => format!("{h} (expired)"),
                (None, _) => "-".into(),
            };
            let error = match &r.last_error {
                Some(e) => {
                    let line = e.lines().next().unwrap_or_default();
                    if line.chars().count() > 100 {
                        format!("{}…", line.chars().take(100).collect::<String>())
                    } else {
                        line.to_string()
                    }
                }
                None if r.last_run.is_some() => "ok".into(),
                None => "-".into(),
            };
            [
                r.shop.clone(),
                r.platform.clone().unwrap_or_else(|| "-".into()),
                time(r.mark),
                r.orders.to_string(),
                holder,
                time(r.lease_expires_at.filter(|_| r.holder.is_some())),
                time(r.last_run),
                error,
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cols: Vec<&str>| {
        let last = cols.len() - 1;
        for (i, c) in cols.iter().enumerate() {
            s.push_str(c);
            if i < last {
                let pad = width[i] - c.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.push('\n');
    };
    line(head.to_vec());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::By;

    #[test]
    fn a_lease_only_shop_gets_a_row_and_columns_align() {
        let t = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let rows = merge(
            vec![ShopMark {
                shop: "tw".into(),
                platform: "taobao-tw".into(),
                by: By::Modified,
                mark: t("2026-12-01T10:00:00Z"),
                origin: None,
                orders: 12,
            }],
            vec![
                ShopLease {
                    shop: "tw".into(),
                    holder: Some("h1:42:00ab".into()),
                    expires_at: t("2026-12-01T10:02:00Z"),
                    live: true,
                    last_run: t("2026-12-01T09:00:00Z"),
                    last_error: None,
                },
                ShopLease {
                    shop: "vv".into(),
                    holder: None,
                    expires_at: None,
                    live: false,
                    last_run: t("2026-12-01T09:30:00Z"),
                    last_error: Some("platform refused: bad token\nmore".into()),
                },
            ],
        );
        assert_eq!(rows.len(), 2);
        let out = table(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[1].starts_with("tw "), "{out}");
        assert!(
            lines[1].contains("h1:42:00ab") && lines[1].ends_with("ok"),
            "{out}"
        );
        assert!(lines[2].ends_with("platform refused: bad token"), "{out}");
        let col = lines[0].find("LEASE HOLDER").unwrap();
        assert_eq!(lines[1].find("h1:42:00ab"), Some(col), "{out}");
    }
}
