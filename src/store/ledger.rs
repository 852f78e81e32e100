//! The ledger of pulled windows (issue 18): for each window a `--db` run completed, what the
//! platform said the window holds and how many orders the pull received, written in the
//! window's own transaction (with its orders and the shop's mark). `ordersync verify` reads it
//! back to tell a window the platform changed since the pull from one the mirror lost orders
//! of, and counts the mirror's orders per window.
//!
//! The SQL of both backends lives here, so that the two stay side by side; each backend's
//! [`super::Store`] methods call into it and name their own errors.

use crate::platforms::{By, Window};
use crate::sync::WindowLedger;
use chrono::{DateTime, Utc};
use sqlx::{
    Database, Encode, Executor, FromRow, IntoArguments, PgConnection, PgPool, Pool, Row,
    SqliteConnection, SqlitePool, Type,
};

/// One window of the ledger, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub window: Window,
    pub by: By,
    /// The platform's total at pull time; `None` where it gives none.
    pub platform_total: Option<u64>,
    /// Orders the pull received in the window.
    pub received: u64,
    /// When the window was committed.
    pub recorded_at: String,
}

/// The column of `orders` that holds the time a shop's windows are on.
fn time_column(by: By) -> &'static str {
    match by {
        By::Created => "created_us",
        By::Modified => "updated_us",
    }
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn row_of(
    start: i64,
    end: i64,
    by: &str,
    total: Option<i64>,
    received: i64,
    at: String,
) -> Option<LedgerRow> {
    Some(LedgerRow {
        window: Window {
            start: DateTime::from_timestamp_micros(start)?,
            end: DateTime::from_timestamp_micros(end)?,
        },
        by: if by == "created" {
            By::Created
        } else {
            By::Modified
        },
        platform_total: total.and_then(|t| u64::try_from(t).ok()),
        received: u64::try_from(received).unwrap_or(0),
        recorded_at: at,
    })
}

const LEDGER_COLUMNS: &str = "start_us, end_us, by_time, platform_total, received, recorded_at";

// ---------------------------------------------------------------------------------------------
// Both backends: the mirror's orders in a window, by the shop's time column.
//
// One query text serves SQLite and PostgreSQL: both take `$N` placeholders (sqlx's SQLite
// driver reads `$N` as the N-th argument), so these are generic over the sqlx database and its
// pool rather than written twice.

/// The orders of `shop` whose `by` time is in `[from_us, to_us)`, as the `WHERE` clause both
/// questions below ask it with.
fn in_window(by: By) -> String {
    let col = time_column(by);
    format!("WHERE shop = $1 AND {col} >= $2 AND {col} < $3")
}

/// The mirror's orders in a window, asked of either backend's pool. A trait with one
/// implementation for the pool of any sqlx database that can run these queries, so that the
/// bounds sqlx needs for that are written once; callers name it in full
/// (`ledger::OrdersInWindow::count(&pool, …)`).
pub(super) trait OrdersInWindow {
    /// How many orders of `shop` the mirror holds with their `by` time in `[from_us, to_us)`.
    async fn count(&self, shop: &str, by: By, from_us: i64, to_us: i64) -> sqlx::Result<u64>;

    /// The ids of those orders, in order.
    async fn ids(&self, shop: &str, by: By, from_us: i64, to_us: i64) -> sqlx::Result<Vec<String>>;
}

impl<DB> OrdersInWindow for Pool<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    async fn count(&self, shop: &str, by: By, from_us: i64, to_us: i64) -> sqlx::Result<u64> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM orders {}", in_window(by)))
            .bind(shop)
            .bind(from_us)
            .bind(to_us)
            .fetch_one(self)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ids(&self, shop: &str, by: By, from_us: i64, to_us: i64) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(&format!(
            "SELECT order_id FROM orders {} ORDER BY order_id",
            in_window(by)
        ))
        .bind(shop)
        .bind(from_us)
        .bind(to_us)
        .fetch_all(self)
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite

pub(super) async fn sqlite_record(
    tx: &mut SqliteConnection,
    shop: &str,
    l: &WindowLedger,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO window_ledger (shop, by_time, start_us, end_us, platform_total, received, \
         recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (shop, by_time, start_us, end_us) DO UPDATE SET \
         platform_total = excluded.platform_total, received = excluded.received, \
         recorded_at = excluded.recorded_at",
    )
    .bind(shop)
    .bind(l.by.to_string())
    .bind(us(l.window.start))
    .bind(us(l.window.end))
    .bind(l.platform_total.map(|t| t as i64))
    .bind(l.received as i64)
    .bind(at)
    .execute(tx)
    .await
    .map(drop)
}

pub(super) async fn sqlite_rows(
    pool: &SqlitePool,
    shop: &str,
    range: Window,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {LEDGER_COLUMNS} FROM window_ledger \
         WHERE shop = ?1 AND end_us > ?2 AND start_us < ?3 ORDER BY start_us, recorded_at DESC"
    ))
    .bind(shop)
    .bind(us(range.start))
    .bind(us(range.end))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| row_of(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

pub(super) async fn pg_record(
    tx: &mut PgConnection,
    shop: &str,
    l: &WindowLedger,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO window_ledger (shop, by_time, start_us, end_us, platform_total, received, \
         recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (shop, by_time, start_us, end_us) DO UPDATE SET \
         platform_total = excluded.platform_total, received = excluded.received, \
         recorded_at = excluded.recorded_at",
    )
    .bind(shop)
    .bind(l.by.to_string())
    .bind(us(l.window.start))
    .bind(us(l.window.end))
    .bind(l.platform_total.map(|t| t as i64))
    .bind(l.received as i64)
    .bind(at)
    .execute(tx)
    .await
    .map(drop)
}

pub(super) async fn pg_rows(
    pool: &PgPool,
    shop: &str,
    range: Window,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {LEDGER_COLUMNS} FROM window_ledger \
         WHERE shop = $1 AND end_us > $2 AND start_us < $3 ORDER BY start_us, recorded_at DESC"
    ))
    .bind(shop)
    .bind(us(range.start))
    .bind(us(range.end))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| row_of(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect())
}
