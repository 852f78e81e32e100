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
    BoxFut, Change, ChangeKind, DbError, Diff, ExportQuery, ExportSink, ShopGuard, ShopLease,
    ShopMark, ShopRun, Staged, Store,
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

/// Another live worker holds the shop's lease: exit 4 for a single shop; a pull of many shops
/// skips it (find it in an error's chain with `downcast_ref`).
#[derive(Debug, thiserror::Error)]
#[error(
    "database {db}: shop {shop:?} is being pulled by {by}; this run stops without pulling it. \
     Try again later"
)]
pub struct ShopBusy {
    pub db: String,
    pub shop: String,
    /// Who holds it, for people: "worker HOST:PID:NONCE, whose lease runs until …".
    pub by: String,
}

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

/// A shop taken by this worker. Renewed in the background while it lives; dropping it gives
/// the shop back (or, if the server cannot be reached, leaves it to expire).
pub struct Lease {
    shop: String,
    holder: String,
    pool: PgPool,
    db: String,
    renew: tokio::task::JoinHandle<()>,
    held: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>,
    gone: Arc<AtomicBool>,
}

impl Lease {
    pub fn shop(&self) -> &str {
        &self.shop
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        if self.held.lock().unwrap().remove(&self.shop).is_none() {
            // Given back already, by the store's close.
            return;
        }
        if self.gone.load(Ordering::Relaxed) {
            tracing::warn!(
                "database {}: could not give back shop {:?} (the server is gone); it is free \
                 again when its lease expires",
                self.db,
                self.shop
            );
            return;
        }
        let (pool, shop, holder, db) = (
            self.pool.clone(),
            self.shop.clone(),
            self.holder.clone(),
            self.db.clone(),
        );
        let release = async move {
            let r = tokio::time::timeout(
                RELEASE_TIMEOUT,
                sqlx::query(
                    "UPDATE shop_leases SET holder = NULL, expires_at = NULL \
                     WHERE shop = $1 AND holder = $2",
                )
                .bind(&shop)
                .bind(&holder)
                .execute(&pool),
            )
            .await;
            if !matches!(r, Ok(Ok(_))) {
                tracing::warn!(
                    "database {db}: could not give back shop {shop:?}; it is free again when \
                     its lease expires"
                );
            }
        };
        // Give it back before the process can end: a multi-threaded runtime (the binary's)
        // lets us wait here; elsewhere, best effort in the background.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(release));
            }
            Ok(h) => {
                h.spawn(release);
            }
            Err(_) => {}
        }
    }
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

    /// Take `shop` for this worker, or `None` when another live worker holds it (or is taking
    /// it right now). A lease whose holder did not renew it in time is taken over. For the
    /// many-shops pull: a shop that is `None` is skipped, not an error.
    pub async fn try_take(&self, shop: &str) -> Result<Option<Lease>> {
        Ok(self.take(shop).await?.ok())
    }

    /// Take `shop`, or say who holds it.
    async fn take(&self, shop: &str) -> Result<std::result::Result<Lease, String>> {
        sqlx::query("INSERT INTO shop_leases (shop) VALUES ($1) ON CONFLICT (shop) DO NOTHING")
            .bind(shop)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err("cannot read the leases", e))?;
        let mut tx = self.begin("cannot start a transaction").await?;
        let row = sqlx::query(
            "SELECT holder, expires_at > now(), \
             to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM shop_leases WHERE shop = $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(shop)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err("cannot read the leases", e))?;
        // Every refusal ends its transaction before answering: a dropped one is rolled back
        // only when its connection is next used, and its row lock would make the next take
        // (on another connection) skip the row as if a worker were taking it.
        let Some(row) = row else {
            let _ = tx.rollback().await;
            return Ok(Err("another worker, taking it right now".into()));
        };
        let holder: Option<String> = row.get(0);
        let live: Option<bool> = row.get(1);
        let until: Option<String> = row.get(2);
        if let Some(h) = &holder {
            if live == Some(true) && *h != self.holder {
                let _ = tx.rollback().await;
                return Ok(Err(format!(
                    "worker {h}, whose lease runs until {}",
                    until.unwrap_or_default()
                )));
            }
            if *h != self.holder {
                tracing::info!(
                    "shop {shop:?}: taking it over from worker {h}, whose lease expired at {}",
                    until.unwrap_or_default()
                );
            }
        }
        sqlx::query(
            "UPDATE shop_leases SET holder = $2, taken_at = now(), renewed = now(), \
             expires_at = now() + $3 * interval '1 millisecond' WHERE shop = $1",
        )
        .bind(shop)
        .bind(&self.holder)
        .bind(self.lease_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err("cannot take the lease", e))?;
        tx.commit()
            .await
            .map_err(|e| self.err("cannot take the lease", e))?;
        let ours = Arc::new(AtomicBool::new(true));
        self.held
            .lock()
            .unwrap()
            .insert(shop.to_string(), ours.clone());
        let renew = tokio::spawn(renew_loop(
            self.pool.clone(),
            shop.to_string(),
            self.holder.clone(),
            self.lease,
            self.shown.clone(),
            ours,
        ));
        Ok(Ok(Lease {
            shop: shop.to_string(),
            holder: self.holder.clone(),
            pool: self.pool.clone(),
            db: self.shown.clone(),
            renew,
            held: self.held.clone(),
            gone: self.gone.clone(),
        }))
    }

    async fn lock(&self, shop: &str) -> Result<ShopGuard> {
        match self.take(shop).await? {
            Ok(lease) => Ok(Box::new(lease)),
            Err(by) => Err(anyhow::Error::new(ShopBusy {
                db: self.shown.clone(),
                shop: shop.to_string(),
                by,
            })),
        }
    }

    async fn stage(
        &self,
        run: &ShopRun,
        orders: &[Order],
        mark: Option<DateTime<Utc>>,
    ) -> Result<Box<dyn Staged>> {
        let ours = self.held.lock().unwrap().get(&run.shop).cloned();
        if ours.is_none() {
            return Err(anyhow::Error::new(DbError {
                db: self.shown.clone(),
                what: format!("this worker holds no lease on shop {:?}", run.shop),
                detail: "a window is written only under the shop's lease (lock_shop)".into(),
                transient: false,
            }));
        }
        let mut tx = self.begin("cannot start a transaction").await?;
        // Fencing: still ours? (Extend it while at it.) The row stays locked to the commit, so
        // nobody can take the shop over between this check and the window's commit.
        let still: Option<i64> = sqlx::query_scalar(
            "UPDATE shop_leases SET expires_at = greatest(expires_at, \
             now() + $3 * interval '1 millisecond'), renewed = now() \
             WHERE shop = $1 AND holder = $2 RETURNING 1::bigint",
        )
        .bind(&run.shop)
        .bind(&self.holder)
        .bind(self.lease_ms())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err("cannot check the lease", e))?;
        if still.is_none() {
            if let Some(o) = &ours {
                o.store(false, Ordering::Relaxed);
            }
            return Err(anyhow::Error::new(DbError {
                db: self.shown.clone(),
                what: format!("lost the lease on shop {:?}", run.shop),
                detail: "it expired and another worker took the shop over; this run stops, \
                         the other resumes from the mark"
                    .into(),
                transient: true,
            }));
        }
        let now = Utc::now();
        let at = rfc3339(now);
        // An order may come twice in a window (a re-scan saw a newer version): the last one
        // is the newest.
        let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(orders.len());
        for (i, o) in orders.iter().enumerate() {
            last_of.insert(o.order_id.as_str(), i);
        }
        let ids: Vec<String> = last_of.keys().map(|s| s.to_string()).collect();
        let mut stored: HashMap<String, (Option<i64>, String)> = HashMap::new();
        if !ids.is_empty() {
            let rows = sqlx::query(
                "SELECT order_id, updated_us, doc FROM orders \
                 WHERE shop = $1 AND order_id = ANY($2)",
            )
            .bind(&run.shop)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err("cannot read the stored orders", e))?;
            for r in rows {
                stored.insert(r.get(0), (r.get(1), r.get(2)));
            }
        }
        let mut changes = Vec::new();
        let mut feed_locked = false;
        for (index, o) in orders.iter().enumerate() {
            if last_of.get(o.order_id.as_str()) != Some(&index) {
                continue;
            }
            let doc = serde_json::to_string(o)?;
            let updated_us = o.updated_at.map(|t| t.at().timestamp_micros());
            let old = stored.get(&o.order_id);
            if let Some((Some(old_us), _)) = old
                && updated_us.is_some_and(|u| u < *old_us)
            {
                // The mirror holds a newer version (seen by an earlier window or run).
                continue;
            }
            let (kind, changed) = match super::diff(old.map(|(_, d)| d.as_str()), &doc) {
                Diff::Same => {
                    if old.is_some_and(|(_, d)| *d != doc) {
                        // Only the modification time moved: keep the newest version, no
                        // feed entry.
                        sqlx::query(
                            "UPDATE orders SET updated_at = $3, updated_us = $4, doc = $5 \
                             WHERE shop = $1 AND order_id = $2",
                        )
                        .bind(&run.shop)
                        .bind(&o.order_id)
                        .bind(o.updated_at.map(|t| t.to_rfc3339()))
                        .bind(updated_us)
                        .bind(&doc)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err("cannot write an order", e))?;
                    }
                    continue;
                }
                Diff::New => (ChangeKind::New, Vec::new()),
                Diff::Updated(keys) => (ChangeKind::Updated, keys),
            };
            if !feed_locked {
                // Number this window's changes only after every earlier numbered window has
                // committed: see the module's comment on the feed.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(FEED_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err("cannot lock the change feed", e))?;
                feed_locked = true;
            }
            let changed_json = (kind == ChangeKind::Updated)
                .then(|| serde_json::to_string(&changed))
                .transpose()?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO order_changes (shop, order_id, change, changed, at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            )
            .bind(&run.shop)
            .bind(&o.order_id)
            .bind(kind.as_str())
            .bind(changed_json)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err("cannot write the change feed", e))?;
            self.upsert(&mut tx, run, o, &doc, seq, &at).await?;
            changes.push(Change {
                seq,
                shop: run.shop.clone(),
                order_id: o.order_id.clone(),
                change: kind,
                changed,
                at: now,
                index,
            });
        }
        if let Some(mark) = mark {
            sqlx::query(
                "UPDATE shops SET mark = $2, updated_at = $3 \
                 WHERE shop = $1 AND (mark IS NULL OR mark < $2)",
            )
            .bind(&run.shop)
            .bind(rfc3339(mark))
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("cannot move the shop's mark", e))?;
        }
        Ok(Box::new(PgStaged {
            tx: Some(tx),
            changes,
            db: self.shown.clone(),
            password: self.password.clone(),
            gone: self.gone.clone(),
        }))
    }

    async fn upsert(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        run: &ShopRun,
        o: &Order,
        doc: &str,
        seq: i64,
        at: &str,
    ) -> Result<()> {
        let time = |t: Option<crate::model::Timestamp>| t.map(|t| t.to_rfc3339());
        let us = |t: Option<crate::model::Timestamp>| t.map(|t| t.at().timestamp_micros());
        let money = |a: Option<crate::model::Amount>| a.map(|a| a.to_string());
        sqlx::query(
            "INSERT INTO orders (shop, order_id, platform, status, platform_status, created_at, \
             updated_at, paid_at, created_us, updated_us, currency, total, shipping_fee, \
             discount, buyer_id, buyer_name, line_count, doc, first_seen, last_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::numeric, \
             $13::numeric, $14::numeric, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (shop, order_id) DO UPDATE SET platform = excluded.platform, \
             status = excluded.status, platform_status = excluded.platform_status, \
             created_at = excluded.created_at, updated_at = excluded.updated_at, \
             paid_at = excluded.paid_at, created_us = excluded.created_us, \
             updated_us = excluded.updated_us, currency = excluded.currency, \
             total = excluded.total, shipping_fee = excluded.shipping_fee, \
             discount = excluded.discount, buyer_id = excluded.buyer_id, \
             buyer_name = excluded.buyer_name, line_count = excluded.line_count, \
             doc = excluded.doc, last_seq = excluded.last_seq",
        )
        .bind(&run.shop)
        .bind(&o.order_id)
        .bind(&o.platform)
        .bind(o.status.as_str())
        .bind(&o.platform_status)
        .bind(time(o.created_at))
        .bind(time(o.updated_at))
        .bind(time(o.paid_at))
        .bind(us(o.created_at))
        .bind(us(o.updated_at))
        .bind(&o.currency)
        .bind(money(o.total))
        .bind(money(o.shipping_fee))
        .bind(money(o.discount))
        .bind(&o.buyer.id)
        .bind(&o.buyer.name)
        .bind(o.lines.len() as i64)
        .bind(doc)
        .bind(at)
        .bind(seq)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err("cannot write an order", e))?;
        sqlx::query("DELETE FROM order_lines WHERE shop = $1 AND order_id = $2")
            .bind(&run.shop)
            .bind(&o.order_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err("cannot write an order's lines", e))?;
        if !o.lines.is_empty() {
            sqlx::query(INSERT_LINES)
                .bind(&run.shop)
                .bind(&o.order_id)
                .bind(doc)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.err("cannot write an order's lines", e))?;
        }
        Ok(())
    }

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

/// Renew the lease every lease/3 until aborted. A renewal that finds the lease gone (taken
/// over after it expired) marks it lost; the next window then refuses to write.
async fn renew_loop(
    pool: PgPool,
    shop: String,
    holder: String,
    lease: Duration,
    db: String,
    ours: Arc<AtomicBool>,
) {
    let every = (lease / 3).max(Duration::from_millis(100));
    let ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(every).await;
        let r = sqlx::query(
            "UPDATE shop_leases SET expires_at = now() + $3 * interval '1 millisecond', \
             renewed = now() WHERE shop = $1 AND holder = $2",
        )
        .bind(&shop)
        .bind(&holder)
        .bind(ms)
        .execute(&pool)
        .await;
        match r {
            Ok(done) if done.rows_affected() == 0 => {
                ours.store(false, Ordering::Relaxed);
                tracing::warn!(
                    "database {db}: the lease on shop {shop:?} was taken over by another worker"
                );
                return;
            }
            Ok(_) => {}
            Err(_) => tracing::warn!(
                "database {db}: cannot renew the lease on shop {shop:?}; trying again"
            ),
        }
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
        orders: &'a [Order],
        mark: Option<DateTime<Utc>>,
    ) -> BoxFut<'a, Box<dyn Staged>> {
        Box::pin(self.stage(run, orders, mark))
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

struct PgStaged {
    tx: Option<Transaction<'static, Postgres>>,
    changes: Vec<Change>,
    db: String,
    password: Option<String>,
    gone: Arc<AtomicBool>,
}

impl Staged for PgStaged {
    fn changes(&self) -> &[Change] {
        &self.changes
    }

    fn commit(mut self: Box<Self>) -> BoxFut<'static, ()> {
        Box::pin(async move {
            if let Some(tx) = self.tx.take() {
                tx.commit().await.map_err(|e| {
                    if is_connection(&e) {
                        self.gone.store(true, Ordering::Relaxed);
                    }
                    pg_error(
                        &self.db,
                        self.password.as_deref(),
                        "cannot commit a window",
                        e,
                    )
                })?;
            }
            Ok(())
        })
    }
}

/// This worker's name in `shop_leases.holder`: host, process and a nonce (two runs of one
/// process are two workers).
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    let nonce: u32 = rand::random();
    format!("{host}:{}:{nonce:08x}", std::process::id())
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
