//! The PostgreSQL mirror, for fleets of workers (issue 17): the same tables, feed, export and
//! change rule as SQLite behind the same [`Store`] trait, plus the per-shop leases that let
//! several `ordersync pull` processes, on one machine or many, share the shops without ever
//! pulling one shop twice at once.
//!
//! Leases. `shop_leases` has a row per shop: `holder` (host, pid and a nonce of the worker),
//! `expires_at`, `renewed`, `last_run`, `last_error`. A worker takes a shop by locking that row
//! with `SELECT … FOR UPDATE SKIP LOCKED` and writing itself as holder when the row is free or
//! its lease has expired (its holder died or lost the server), renews it every lease/3 while it
//! works, and clears it when done. Every window's transaction locks the row again and checks
//! that this worker still holds it (and extends it): a worker that lost its lease (paused past
//! expiry, then taken over) cannot write a window, so the mirror never gets one shop from two
//! workers at once. The server's clock decides expiry, so machines' clocks need not agree.
//!
//! The feed's numbers. A consumer keeps the last `seq` it took, so a `seq` must never become
//! visible after a larger one: with concurrent writers, `BIGSERIAL` alone would allow that (a
//! transaction takes 10, another takes 11 and commits first). So a window that records changes
//! takes a transaction-scoped advisory lock before numbering them, held to its commit: windows
//! with changes commit one at a time, in `seq` order. Windows without changes do not wait. The
//! lock is held while the worker writes the window's changed orders out (they must be out
//! before the commit), so a worker whose output blocks would stall the others' windows: the
//! server ends any transaction idle for longer than the lease (at least 10 s), which frees
//! them and fails that worker's run (exit 4; its window is pulled again).
//!
//! The URL may hold a password: it is shown only through [`super::DbUrl::shown`], and the
//! server's error texts are scrubbed of it too.

use super::schema::{CURRENT, POSTGRES_STEPS};
use super::{
    BoxFut, Change, ChangeKind, DbError, Diff, ExportQuery, ExportSink, HeldOrders, ShopGuard,
    ShopLease, ShopMark, ShopRun, Staged, Store,
};
use crate::model::Order;
use crate::platforms::By;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod lease;
mod write;

pub use super::ShopBusy;
pub use lease::Lease;
use lease::holder_id;

/// The lease's default length (`--lease`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// Advisory lock keys (one namespace for ordersync: "ordr" in ASCII, then a number).
const MIGRATE_LOCK: i64 = 0x6f72_6472_0000_0001;
const FEED_LOCK: i64 = 0x6f72_6472_0000_0002;

/// `to_char` pattern of a `TIMESTAMPTZ` at UTC as RFC 3339 (sqlx's chrono feature is not on).
const UTC_TEXT: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

/// How long a query waits for a connection: the server gone, a run fails after this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long closing waits for a lease's release before leaving it to expire.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(3);

/// The fleet's table. Not a step of the mirror's schema (whose versions SQLite shares): it is
/// created, if missing, whenever a worker opens the database, in the migration's transaction.
pub const FLEET_SQL: &str = r#"
CREATE TABLE IF NOT EXISTS shop_leases (
    shop        TEXT PRIMARY KEY,
    holder      TEXT,
    taken_at    TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    renewed     TIMESTAMPTZ,
    last_run    TIMESTAMPTZ,
    last_error  TEXT
);
"#;

/// One order's lines from its document (`$1` shop, `$2` order id, `$3` the document): the
/// same mapping as SQLite's, line numbers from 0.
const INSERT_LINES: &str = r#"
INSERT INTO order_lines
    SELECT $1, $2, l.n - 1,
           l.v->>'line_id', l.v->>'product_id', l.v->>'sku_id', l.v->>'title',
           (l.v->>'quantity')::bigint, (l.v->>'unit_price')::numeric,
           (l.v->>'total')::numeric, l.v->>'status', l.v->>'platform_status',
           l.v->>'refund_status', l.v->>'carrier', l.v->>'tracking_number'
    FROM jsonb_array_elements($3::jsonb->'lines') WITH ORDINALITY AS l(v, n)
"#;

/// Options of a PostgreSQL mirror.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// How long a lease lasts without renewal.
    pub lease: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            lease: DEFAULT_LEASE,
        }
    }
}

pub struct PgStore {
    pool: PgPool,
    shown: String,
    /// Scrubbed from every error text.
    password: Option<String>,
    lease: Duration,
    /// This worker, as written in `shop_leases.holder`.
    holder: String,
    /// The leases this worker holds, by shop, and whether each is still ours.
    held: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>,
    /// The server could not be reached: closing does not wait on it again (the leases
    /// expire on their own).
    gone: Arc<AtomicBool>,
}

impl PgStore {
    /// Connect to `url`, bring the schema to [`CURRENT`] and make sure the fleet's table exists.
    pub async fn open(url: &str, shown: &str, opts: &PgOptions) -> Result<PgStore> {
        // As written in the URL (percent-encoded) and as sent: both are secrets.
        let written = url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(str::to_string))
            .filter(|p| !p.is_empty());
        let password = written.as_deref().map(percent_decode);
        if let Some(w) = &written {
            crate::logging::add_secret(w);
        }
        if let Some(p) = &password {
            // Redacted from every log line and error the process prints, whatever carries it.
            crate::logging::add_secret(p);
        }
        let fail = |what: &str, e: sqlx::Error| pg_error(shown, password.as_deref(), what, e);
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| {
                // The parser's message may quote the URL: say only that it is not valid.
                let _ = e;
                crate::error::usage(format!("--db {shown}: not a valid postgres:// URL"))
            })?
            .application_name("ordersync")
            // A transaction left open (a worker whose output blocks between staging a window
            // and committing it) would hold its shop's lease row and the feed's lock: the
            // server ends it after the lease's length, freeing both; that worker's commit then
            // fails (exit 4) and the window is pulled again.
            .options([(
                "idle_in_transaction_session_timeout",
                format!("{}ms", opts.lease.max(Duration::from_secs(10)).as_millis()),
            )]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect)
            .await
            .map_err(|e| fail("cannot connect", e))?;
        let store = PgStore {
            pool,
            shown: shown.to_string(),
            password,
            lease: opts.lease,
            holder: holder_id(),
            held: Arc::default(),
            gone: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    fn err(&self, what: &str, e: sqlx::Error) -> anyhow::Error {
        if is_connection(&e) {
            self.gone.store(true, Ordering::Relaxed);
        }
        pg_error(&self.shown, self.password.as_deref(), what, e)
    }

    /// A transaction. When no connection can be had, the pool only says it timed out: one
    /// direct attempt then tells why (refused, unknown host, password…).
    async fn begin(&self, what: &str) -> Result<Transaction<'static, Postgres>> {
        match self.pool.begin().await {
            Ok(tx) => Ok(tx),
            Err(sqlx::Error::PoolTimedOut) => {
                use sqlx::ConnectOptions;
                let direct = tokio::time::timeout(
                    Duration::from_secs(3),
                    self.pool.connect_options().connect(),
                )
                .await;
                let e = match direct {
                    Ok(Err(e)) => e,
                    _ => sqlx::Error::PoolTimedOut,
                };
                self.gone.store(true, Ordering::Relaxed);
                Err(self.err(what, e))
            }
            Err(e) => Err(self.err(what, e)),
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Bring the schema forward; several workers opening an empty database at once take
    /// turns (an advisory lock), and DDL is transactional, so a killed worker leaves the
    /// previous version whole.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.begin("cannot start a transaction").await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("cannot migrate it", e))?;
        let version = self.version_in(&mut tx).await?;
        if version > CURRENT {
            return Err(anyhow::Error::new(DbError {
                db: self.shown.clone(),
                what: format!(
                    "its schema is version {version}, newer than this ordersync knows \
                     ({CURRENT})"
                ),
                detail: "upgrade ordersync to use it".into(),
                transient: false,
            }));
        }
        for (reached, sql) in POSTGRES_STEPS {
            if *reached <= version {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(&format!("cannot migrate it to version {reached}"), e))?;
            if version > 0 {
                tracing::info!(
                    "database {}: schema migrated to version {reached}",
                    self.shown
                );
            }
        }
        sqlx::raw_sql(FLEET_SQL)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("cannot create the leases table", e))?;
        tx.commit()
            .await
            .map_err(|e| self.err("cannot migrate it", e))?;
        Ok(())
    }

    /// The schema version, 0 for a database without the mirror. A database holding tables
    /// of the mirror's names but no `schema_version` is not ours: refused rather than written.
    async fn version_in(&self, tx: &mut Transaction<'static, Postgres>) -> Result<i64> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() \
             AND table_name IN ('schema_version', 'shops', 'orders', 'order_lines', \
             'order_changes') ORDER BY 1",
        )
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| self.err("cannot read it", e))?;
        if tables.is_empty() {
            return Ok(0);
        }
        if !tables.iter().any(|t| t == "schema_version") {
            return Err(anyhow::Error::new(DbError {
                db: self.shown.clone(),
                what: "it holds tables of the mirror's names but is not an ordersync mirror".into(),
                detail: format!(
                    "tables {}; give another database (or schema, with ?options=-csearch_path=…)",
                    tables.join(", ")
                ),
                transient: false,
            }));
        }
        let v: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_version")
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| self.err("cannot read its schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    async fn version(&self) -> Result<i64> {
        let mut tx = self.begin("cannot read it").await?;
        let v = self.version_in(&mut tx).await?;
        let _ = tx.rollback().await;
        Ok(v)
    }
}

impl PgStore {
    async fn read_shops(&self, only: Option<&str>) -> Result<Vec<ShopMark>> {
        let rows = sqlx::query(
            "SELECT s.shop, s.platform, s.by_time, s.mark, s.origin, \
             (SELECT count(*) FROM orders o WHERE o.shop = s.shop) \
             FROM shops s WHERE $1::text IS NULL OR s.shop = $1 ORDER BY s.shop",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err("cannot read the shops", e))?;
        rows.into_iter()
            .map(|r| {
                let by: String = r.get(2);
                Ok(ShopMark {
                    shop: r.get(0),
                    platform: r.get(1),
                    by: if by == "created" {
                        By::Created
                    } else {
                        By::Modified
                    },
                    mark: parse_time(&self.shown, r.get(3))?,
                    origin: parse_time(&self.shown, r.get(4))?,
                    orders: r.get::<i64, _>(5) as u64,
                })
            })
            .collect()
    }

    async fn read_leases(&self) -> Result<Vec<ShopLease>> {
        let rows = sqlx::query(
            "SELECT shop, holder, to_char(expires_at AT TIME ZONE 'UTC', $1), \
             to_char(last_run AT TIME ZONE 'UTC', $1), last_error, \
             coalesce(expires_at > now(), false) FROM shop_leases ORDER BY shop",
        )
        .bind(UTC_TEXT)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err("cannot read the leases", e))?;
        rows.into_iter()
            .map(|r| {
                Ok(ShopLease {
                    shop: r.get(0),
                    holder: r.get(1),
                    expires_at: parse_time(&self.shown, r.get(2))?,
                    last_run: parse_time(&self.shown, r.get(3))?,
                    last_error: r.get(4),
                    live: r.get(5),
                })
            })
            .collect()
    }

    async fn finish(&self, shop: &str, error: Option<&str>) -> Result<()> {
        if self.gone.load(Ordering::Relaxed) {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO shop_leases (shop, last_run, last_error) VALUES ($1, now(), $2) \
             ON CONFLICT (shop) DO UPDATE SET last_run = now(), last_error = $2",
        )
        .bind(shop)
        .bind(error.map(|e| self.scrub(e)))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err("cannot record the run", e))?;
        Ok(())
    }

    fn scrub(&self, s: &str) -> String {
        scrub(s, self.password.as_deref())
    }

    async fn read_changes(
        &self,
        shop: Option<&str>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT seq, shop, order_id, change, changed, at FROM order_changes \
             WHERE seq > $1 AND ($2::text IS NULL OR shop = $2) ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(shop)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err("cannot read the change feed", e))?;
        rows.into_iter()
            .map(|r| {
                let kind: String = r.get(3);
                let changed: Option<String> = r.get(4);
                let at: String = r.get(5);
                Ok(Change {
                    seq: r.get(0),
                    shop: r.get(1),
                    order_id: r.get(2),
                    change: ChangeKind::parse(&kind).unwrap_or(ChangeKind::Updated),
                    changed: changed
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| bad_value(&self.shown, "order_changes.changed", e))?
                        .unwrap_or_default(),
                    at: parse_time(&self.shown, Some(at))?.unwrap_or_default(),
                    index: 0,
                })
            })
            .collect()
    }

    async fn read_documents(&self, shop: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT order_id, doc FROM orders WHERE shop = $1 AND order_id = ANY($2)")
                .bind(shop)
                .bind(ids)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err("cannot read the orders", e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Sorted by shop, creation time and id: PostgreSQL has no insertion order to scan by (as
    /// SQLite's rowid), and the sort walks `orders_by_created`.
    async fn stream_export(&self, q: &ExportQuery, each: ExportSink<'_>) -> Result<u64> {
        let by = match q.by.unwrap_or(By::Created) {
            By::Created => "created_us",
            By::Modified => "updated_us",
        };
        let sql = format!(
            "SELECT doc FROM orders WHERE ($1::text IS NULL OR shop = $1) \
             AND ($2::bigint IS NULL OR {by} >= $2) AND ($3::bigint IS NULL OR {by} < $3) \
             AND ($4::text IS NULL OR status = $4) ORDER BY shop, created_us, order_id"
        );
        let mut rows = sqlx::query(&sql)
            .bind(q.shop.as_deref())
            .bind(q.since.map(|t| t.timestamp_micros()))
            .bind(q.until.map(|t| t.timestamp_micros()))
            .bind(q.status.as_deref())
            .fetch(&self.pool);
        let mut n = 0u64;
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| self.err("cannot read the orders", e))?
        {
            let doc: &str = row
                .try_get(0)
                .map_err(|e| self.err("cannot read an order", e))?;
            each(doc)?;
            n += 1;
        }
        Ok(n)
    }

    async fn register(&self, run: &ShopRun, origin: DateTime<Utc>) -> Result<()> {
        if let Some(known) = self.read_shops(Some(&run.shop)).await?.pop() {
            if known.platform != run.platform {
                return Err(crate::error::usage(format!(
                    "database {}: shop {:?} was mirrored as a {} shop, but is now {}; use \
                     another database",
                    self.shown, run.shop, known.platform, run.platform
                )));
            }
            if known.by != run.by {
                return Err(crate::error::usage(format!(
                    "database {}: shop {:?} was mirrored with --by {}, not --by {}; the mark \
                     means one or the other",
                    self.shown, run.shop, known.by, run.by
                )));
            }
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO shops (shop, platform, by_time, mark, origin, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $5) ON CONFLICT (shop) DO NOTHING",
        )
        .bind(&run.shop)
        .bind(&run.platform)
        .bind(run.by.to_string())
        .bind(rfc3339(origin))
        .bind(rfc3339(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err("cannot record the shop", e))?;
        Ok(())
    }
}

impl Store for PgStore {
    fn shown(&self) -> String {
        self.shown.clone()
    }

    fn schema_version(&self) -> BoxFut<'_, i64> {
        Box::pin(self.version())
    }

    fn lock_shop<'a>(&'a self, shop: &'a str) -> BoxFut<'a, ShopGuard> {
        Box::pin(self.lock(shop))
    }

    fn shop<'a>(&'a self, shop: &'a str) -> BoxFut<'a, Option<ShopMark>> {
        Box::pin(async move { Ok(self.read_shops(Some(shop)).await?.pop()) })
    }

    fn shops(&self) -> BoxFut<'_, Vec<ShopMark>> {
        Box::pin(self.read_shops(None))
    }

    fn register_shop<'a>(&'a self, run: &'a ShopRun, origin: DateTime<Utc>) -> BoxFut<'a, ()> {
        Box::pin(self.register(run, origin))
    }

    fn stage_window<'a>(
        &'a self,
        run: &'a ShopRun,
        orders: &'a HeldOrders,
        mark: Option<DateTime<Utc>>,
        ledger: Option<&'a crate::sync::WindowLedger>,
    ) -> BoxFut<'a, Box<dyn Staged>> {
        Box::pin(self.stage(run, orders, mark, ledger))
    }

    fn ledger<'a>(
        &'a self,
        shop: &'a str,
        range: crate::platforms::Window,
    ) -> BoxFut<'a, Vec<super::LedgerRow>> {
        Box::pin(async move {
            super::ledger::pg_rows(&self.pool, shop, range)
                .await
                .map_err(|e| self.err("cannot read the window ledger", e))
        })
    }

    fn count_in<'a>(&'a self, shop: &'a str, by: By, from_us: i64, to_us: i64) -> BoxFut<'a, u64> {
        Box::pin(async move {
            super::ledger::OrdersInWindow::count(&self.pool, shop, by, from_us, to_us)
                .await
                .map_err(|e| self.err("cannot count the orders", e))
        })
    }

    fn ids_in<'a>(
        &'a self,
        shop: &'a str,
        by: By,
        from_us: i64,
        to_us: i64,
    ) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            super::ledger::OrdersInWindow::ids(&self.pool, shop, by, from_us, to_us)
                .await
                .map_err(|e| self.err("cannot read the orders", e))
        })
    }

    fn changes_after<'a>(
        &'a self,
        shop: Option<&'a str>,
        after: i64,
        limit: u64,
    ) -> BoxFut<'a, Vec<Change>> {
        Box::pin(self.read_changes(shop, after, limit))
    }

    fn documents<'a>(
        &'a self,
        shop: &'a str,
        order_ids: &'a [String],
    ) -> BoxFut<'a, Vec<(String, String)>> {
        Box::pin(self.read_documents(shop, order_ids))
    }

    fn export<'a>(&'a self, q: &'a ExportQuery, each: ExportSink<'a>) -> BoxFut<'a, u64> {
        Box::pin(self.stream_export(q, each))
    }

    fn leases(&self) -> BoxFut<'_, Vec<ShopLease>> {
        Box::pin(self.read_leases())
    }

    fn finish_run<'a>(&'a self, shop: &'a str, error: Option<&'a str>) -> BoxFut<'a, ()> {
        Box::pin(self.finish(shop, error))
    }

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            // Give back the leases still held (their guards may outlive the pool).
            let shops: Vec<String> = self.held.lock().unwrap().drain().map(|(s, _)| s).collect();
            for shop in shops {
                if self.gone.load(Ordering::Relaxed) {
                    tracing::warn!(
                        "database {}: could not give back shop {shop:?} (the server is gone); \
                         it is free again when its lease expires",
                        self.shown
                    );
                    continue;
                }
                let r = tokio::time::timeout(
                    RELEASE_TIMEOUT,
                    sqlx::query(
                        "UPDATE shop_leases SET holder = NULL, expires_at = NULL \
                         WHERE shop = $1 AND holder = $2",
                    )
                    .bind(&shop)
                    .bind(&self.holder)
                    .execute(&self.pool),
                )
                .await;
                if !matches!(r, Ok(Ok(_))) {
                    tracing::warn!(
                        "database {}: could not give back shop {shop:?}; it is free again \
                         when its lease expires",
                        self.shown
                    );
                }
            }
            self.pool.close().await;
            Ok(())
        })
    }
}

/// Times in the database's own text columns (marks, feed), as SQLite has them: UTC,
/// microseconds, so that text order is time order.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(db: &str, text: Option<String>) -> Result<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.to_utc())
            .map_err(|e| bad_value(db, &format!("time {t:?}"), e))
    })
    .transpose()
}

fn bad_value(db: &str, what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(DbError {
        db: db.to_string(),
        what: format!("it holds an unreadable {what}"),
        detail: e.to_string(),
        transient: false,
    })
}

/// `%XX` escapes decoded (a URL's password as the server sees it).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = || std::str::from_utf8(b.get(i + 1..i + 3)?).ok();
        match hex().and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(v) if b[i] == b'%' => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `s` with the password, if it occurs, replaced by `***`.
fn scrub(s: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 && s.contains(p) => s.replace(p, "***"),
        _ => s.to_string(),
    }
}

/// The connection, not the query, failed.
fn is_connection(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")))
}

/// A sqlx error as a [`DbError`] naming the database (host, port and name; never the
/// password): what failed, the server's own words, and whether trying again later may work
/// (the server gone or restarting, a connection cut, a deadlock: exit 4).
pub(crate) fn pg_error(
    db: &str,
    password: Option<&str>,
    what: &str,
    e: sqlx::Error,
) -> anyhow::Error {
    let (detail, transient) = match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            // SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57P
            // operator intervention (shutdown), 40 transaction rollback (serialization,
            // deadlock).
            let transient = code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code.starts_with("40");
            let hint = match code.as_str() {
                "28P01" | "28000" => " (check the user and password of the --db URL)",
                "3D000" => " (create the database first, e.g. createdb)",
                "42501" => " (the user may not do this; grant it the rights)",
                _ => "",
            };
            (format!("{}{hint}", d.message()), transient)
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => (e.to_string(), !matches!(e, sqlx::Error::Tls(_))),
        sqlx::Error::Protocol(_) => (e.to_string(), true),
        other => (other.to_string(), false),
    };
    anyhow::Error::new(DbError {
        db: db.to_string(),
        what: what.to_string(),
        detail: scrub(&detail, password),
        transient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_the_password() {
        assert_eq!(
            scrub("auth failed for s3cret-pw", Some("s3cret-pw")),
            "auth failed for ***"
        );
        assert_eq!(scrub("no secret here", Some("s3cret-pw")), "no secret here");
        assert_eq!(scrub("a b", None), "a b");
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("p%40ss%2Fw"), "p@ss/w");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn holders_are_distinct_per_worker() {
        let (a, b) = (holder_id(), holder_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }
}
