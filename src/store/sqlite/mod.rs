//! The SQLite mirror: one file (plus its write-ahead log), opened through sqlx.
//!
//! WAL mode, so that readers (`sqlite3`, BI tools, `ordersync export`) never block a pull
//! and a killed process leaves the last committed transaction whole; `synchronous=NORMAL`,
//! which in WAL mode may lose the last transactions to a power cut but never mixes them (a
//! window and its mark stay together either way). Writes take the write lock at `BEGIN
//! IMMEDIATE`, so two writers wait for each other (up to the busy timeout) rather than fail
//! half-way. Opening, migrating and closing, and the per-shop run locks (files beside the
//! database, released by the kernel when a run dies), are in [`open`].

mod open;

use super::schema;
use super::{
    BoxFut, Change, ChangeKind, DbError, Diff, ExportQuery, ExportSink, HeldOrders, ShopGuard,
    ShopMark, ShopRun, Staged, Store,
};
use crate::model::Order;
use crate::platforms::By;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// How long a write waits for another writer's transaction before giving up (exit 4).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How [`db_error`] ends the detail of a busy or locked database.
const BUSY_HINT: &str = " (another program holds it; try again later)";

/// Ids looked up per query when a window's stored versions are read.
const LOOKUP_CHUNK: usize = 500;

/// SQLite's page cache for a pull's writes, in KiB. The connection is opened with 32 MiB, which
/// `export` and `changes` use to read; a pull fills it as the mirror grows, so it was the largest
/// part of a million-order pull's memory (issue 18). A window's writes touch a few hundred
/// pages; the operating system's file cache holds the rest, outside the process. The pool's
/// two connections each fill their own: at 2 MiB they were still a pull's memory growing with
/// the mirror, by some 4 MiB over its first 20,000 orders (issue 18); at 512 KiB by about 1.
const PULL_CACHE_KIB: u32 = 512;

pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    read_only: bool,
}

impl SqliteStore {
    fn shown_path(&self) -> String {
        self.path.display().to_string()
    }

    fn err(&self, what: &str, e: sqlx::Error) -> anyhow::Error {
        db_error(&self.shown_path(), what, e)
    }

    async fn stage(
        &self,
        run: &ShopRun,
        orders: &HeldOrders,
        mark: Option<DateTime<Utc>>,
        ledger: Option<&crate::sync::WindowLedger>,
    ) -> Result<Box<dyn Staged>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err("cannot start a transaction", e))?;
        // Set on each window's transaction rather than at open, which `export` and `changes`
        // share: they keep the larger cache for reading.
        sqlx::query(&format!("PRAGMA cache_size = -{PULL_CACHE_KIB}"))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("cannot set the page cache", e))?;
        let now = Utc::now();
        let at = rfc3339(now);
        // An order may come twice in a window (a re-scan saw a newer version): the last one
        // is the newest.
        let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(orders.len());
        for i in 0..orders.len() {
            last_of.insert(orders.id(i), i);
        }
        let ids: Vec<&str> = last_of.keys().copied().collect();
        let mut stored: HashMap<String, (Option<i64>, String)> = HashMap::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT order_id, updated_us, doc FROM orders WHERE shop = ?1 AND order_id IN ({})",
                placeholders(2, chunk.len())
            );
            // Not kept prepared: the last chunk of each window has its own number of ids, so
            // sqlx's per-connection cache would keep a large statement per window size, which
            // grew a long pull's memory (issue 18).
            let mut q = sqlx::query(&sql).persistent(false).bind(&run.shop);
            for id in chunk {
                q = q.bind(*id);
            }
            let rows = q
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err("cannot read the stored orders", e))?;
            for r in rows {
                stored.insert(r.get(0), (r.get(1), r.get(2)));
            }
        }
        let mut changes = Vec::new();
        for index in 0..orders.len() {
            if last_of.get(orders.id(index)) != Some(&index) {
                continue;
            }
            let (doc, o) = orders.read(index)?;
            let (doc, o) = (doc.as_ref(), &o);
            let updated_us = o.updated_at.map(|t| t.at().timestamp_micros());
            let old = stored.get(&o.order_id);
            if let Some((Some(old_us), _)) = old
                && updated_us.is_some_and(|u| u < *old_us)
            {
                // The mirror holds a newer version (seen by an earlier window or run).
                continue;
            }
            let d = super::diff(old.map(|(_, d)| d.as_str()), doc);
            let (kind, changed) = match d {
                Diff::Same => {
                    if old.is_some_and(|(_, d)| d != doc) {
                        // Only the modification time moved: keep the newest version, no
                        // feed entry.
                        sqlx::query(
                            "UPDATE orders SET updated_at = ?3, updated_us = ?4, doc = ?5 \
                             WHERE shop = ?1 AND order_id = ?2",
                        )
                        .bind(&run.shop)
                        .bind(&o.order_id)
                        .bind(o.updated_at.map(|t| t.to_rfc3339()))
                        .bind(updated_us)
                        .bind(doc)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err("cannot write an order", e))?;
                    }
                    continue;
                }
                Diff::New => (ChangeKind::New, Vec::new()),
                Diff::Updated(keys) => (ChangeKind::Updated, keys),
            };
            let changed_json = (kind == ChangeKind::Updated)
                .then(|| serde_json::to_string(&changed))
                .transpose()?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO order_changes (shop, order_id, change, changed, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
            )
            .bind(&run.shop)
            .bind(&o.order_id)
            .bind(kind.as_str())
            .bind(changed_json)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err("cannot write the change feed", e))?;
            self.upsert(&mut tx, run, o, doc, seq, &at).await?;
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
                "UPDATE shops SET mark = ?2, updated_at = ?3 \
                 WHERE shop = ?1 AND (mark IS NULL OR mark < ?2)",
            )
            .bind(&run.shop)
            .bind(rfc3339(mark))
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("cannot move the shop's mark", e))?;
        }
        if let Some(l) = ledger {
            super::ledger::sqlite_record(&mut tx, &run.shop, l, &at)
                .await
                .map_err(|e| self.err("cannot write the window ledger", e))?;
        }
        Ok(Box::new(SqliteStaged {
            tx: Some(tx),
            changes,
            db: self.shown_path(),
        }))
    }

    async fn upsert(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20) \
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
        sqlx::query("DELETE FROM order_lines WHERE shop = ?1 AND order_id = ?2")
            .bind(&run.shop)
            .bind(&o.order_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err("cannot write an order's lines", e))?;
        if !o.lines.is_empty() {
            sqlx::query(schema::SQLITE_INSERT_LINES)
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
             FROM shops s WHERE ?1 IS NULL OR s.shop = ?1 ORDER BY s.shop",
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
                    mark: parse_time(&self.shown_path(), r.get(3))?,
                    origin: parse_time(&self.shown_path(), r.get(4))?,
                    orders: r.get::<i64, _>(5) as u64,
                })
            })
            .collect()
    }

    async fn read_changes(
        &self,
        shop: Option<&str>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT seq, shop, order_id, change, changed, at FROM order_changes \
             WHERE seq > ?1 AND (?2 IS NULL OR shop = ?2) ORDER BY seq LIMIT ?3",
        )
        .bind(after)
        .bind(shop)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err("cannot read the change feed", e))?;
        let db = self.shown_path();
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
                        .map_err(|e| bad_value(&db, "order_changes.changed", e))?
                        .unwrap_or_default(),
                    at: parse_time(&db, Some(at))?.unwrap_or_default(),
                    index: 0,
                })
            })
            .collect()
    }

    async fn read_documents(&self, shop: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT order_id, doc FROM orders WHERE shop = ?1 AND order_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(shop);
            for id in chunk {
                q = q.bind(id);
            }
            let rows = q
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err("cannot read the orders", e))?;
            out.extend(rows.into_iter().map(|r| (r.get(0), r.get(1))));
        }
        Ok(out)
    }

    async fn stream_export(&self, q: &ExportQuery, each: ExportSink<'_>) -> Result<u64> {
        let by = match q.by.unwrap_or(By::Created) {
            By::Created => "created_us",
            By::Modified => "updated_us",
        };
        let sql = format!(
            "SELECT doc FROM orders WHERE (?1 IS NULL OR shop = ?1) \
             AND (?2 IS NULL OR {by} >= ?2) AND (?3 IS NULL OR {by} < ?3) \
             AND (?4 IS NULL OR status = ?4) ORDER BY rowid"
        );
        // In the order the mirror first received the orders (window by window, so roughly by
        // time): a table scan. Sorting by creation time walked the index and fetched each row
        // by its rowid, three times slower on a mirror of a million orders (9.2 s against
        // 3.2 s for `sqlite3` itself), and a consumer that needs an order sorts anyway.
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
                    self.shown_path(),
                    run.shop,
                    known.platform,
                    run.platform
                )));
            }
            if known.by != run.by {
                return Err(crate::error::usage(format!(
                    "database {}: shop {:?} was mirrored with --by {}, not --by {}; the mark \
                     means one or the other",
                    self.shown_path(),
                    run.shop,
                    known.by,
                    run.by
                )));
            }
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO shops (shop, platform, by_time, mark, origin, updated_at) \
             VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT (shop) DO NOTHING",
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

impl Store for SqliteStore {
    fn shown(&self) -> String {
        self.shown_path()
    }

    fn schema_version(&self) -> BoxFut<'_, i64> {
        Box::pin(self.version())
    }

    fn lock_shop<'a>(&'a self, shop: &'a str) -> BoxFut<'a, ShopGuard> {
        Box::pin(async move { self.lock(shop) })
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
            // A mirror read as it is may predate the ledger.
            if self.version().await? < 3 {
                return Ok(Vec::new());
            }
            super::ledger::sqlite_rows(&self.pool, shop, range)
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

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.close_pool().await;
            Ok(())
        })
    }
}

struct SqliteStaged {
    tx: Option<Transaction<'static, Sqlite>>,
    changes: Vec<Change>,
    db: String,
}

impl Staged for SqliteStaged {
    fn changes(&self) -> &[Change] {
        &self.changes
    }

    fn commit(mut self: Box<Self>) -> BoxFut<'static, ()> {
        Box::pin(async move {
            if let Some(tx) = self.tx.take() {
                tx.commit()
                    .await
                    .map_err(|e| db_error(&self.db, "cannot commit a window", e))?;
            }
            Ok(())
        })
    }
}

/// `?from, ?from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Times in the database's own columns (marks, feed): UTC, microseconds, so that text order
/// is time order.
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

/// A sqlx error as a [`DbError`]: what failed, SQLite's own words, and whether trying again
/// later may work (busy, locked, I/O, the connection gone: exit 4).
pub(crate) fn db_error(db: &str, what: &str, e: sqlx::Error) -> anyhow::Error {
    let (detail, transient) = match &e {
        sqlx::Error::Database(d) => {
            let code = d
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or_default();
            // Primary result codes: BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
            let primary = code & 0xff;
            let hint = match primary {
                26 => " (the file is not an SQLite database: it was left as it is)",
                11 => " (the file is damaged: it was left as it is)",
                8 => " (it is read-only)",
                5 | 6 => BUSY_HINT,
                _ => "",
            };
            (
                format!("{}{hint}", d.message()),
                matches!(primary, 5 | 6 | 10 | 13),
            )
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => (e.to_string(), true),
        other => (other.to_string(), false),
    };
    anyhow::Error::new(DbError {
        db: db.to_string(),
        what: what.to_string(),
        detail,
        transient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Amount, Status, Timestamp};

    fn order(id: &str, status: Status, updated_ms: i64) -> Order {
        Order {
            platform: "taobao-tw".into(),
            status,
            platform_status: status.as_str().into(),
            created_at: Timestamp::from_epoch_millis(1_700_000_000_000),
            updated_at: Timestamp::from_epoch_millis(updated_ms),
            currency: "TWD".into(),
            total: Some(Amount::parse("12.5").unwrap()),
            ..Order::sample(id)
        }
    }

    async fn window(
        s: &SqliteStore,
        run: &ShopRun,
        orders: &[Order],
        mark: Option<DateTime<Utc>>,
    ) -> Vec<Change> {
        let held = HeldOrders::of(orders);
        let staged = s.stage_window(run, &held, mark, None).await.unwrap();
        let changes = staged.changes().to_vec();
        staged.commit().await.unwrap();
        changes
    }

    #[tokio::test]
    async fn export_reads_every_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("m.db")).await.unwrap();
        let run = ShopRun {
            shop: "s".into(),
            platform: "taobao-tw".into(),
            by: By::Modified,
        };
        s.register_shop(&run, Utc::now()).await.unwrap();
        let n = 2007;
        let orders: Vec<Order> = (0..n)
            .map(|i| order(&format!("o{i}"), Status::Paid, 1_700_000_000_000 + i as i64))
            .collect();
        for w in orders.chunks(300) {
            window(&s, &run, w, None).await;
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut each = |doc: &str| -> Result<()> {
            let v: serde_json::Value = serde_json::from_str(doc)?;
            assert!(seen.insert(v["order_id"].as_str().unwrap().to_string()));
            Ok(())
        };
        let got = s.export(&ExportQuery::default(), &mut each).await.unwrap();
        assert_eq!((got as usize, seen.len()), (n, n));
        let q = ExportQuery {
            status: Some("shipped".into()),
            ..ExportQuery::default()
        };
        assert_eq!(s.export(&q, &mut |_: &str| Ok(())).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn only_content_is_a_change_and_the_newest_version_stays() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("m.db")).await.unwrap();
        let run = ShopRun {
            shop: "s".into(),
            platform: "taobao-tw".into(),
            by: By::Modified,
        };
        // Marks are kept to the microsecond.
        let t0 = DateTime::from_timestamp_micros(
            (Utc::now() - chrono::Duration::days(1)).timestamp_micros(),
        )
        .unwrap();
        s.register_shop(&run, t0).await.unwrap();
        let a = order("1", Status::Paid, 1_700_000_100_000);
        let c = window(&s, &run, std::slice::from_ref(&a), Some(t0)).await;
        assert_eq!((c.len(), c[0].change), (1, ChangeKind::New));
        // Same content, later updated_at: no change, but the row holds the newer time.
        let touched = order("1", Status::Paid, 1_700_000_200_000);
        assert!(window(&s, &run, &[touched], None).await.is_empty());
        let docs = s.read_documents("s", &["1".into()]).await.unwrap();
        assert!(
            docs[0].1.contains(
                &Timestamp::from_epoch_millis(1_700_000_200_000)
                    .unwrap()
                    .to_rfc3339()
            )
        );
        // An older version seen late does not overwrite the newer one.
        let stale = order("1", Status::Cancelled, 1_700_000_150_000);
        assert!(window(&s, &run, &[stale], None).await.is_empty());
        // A real change lists its keys; the same order twice in a window is recorded once.
        let shipped = order("1", Status::Shipped, 1_700_000_300_000);
        let c = window(&s, &run, &[shipped.clone(), shipped], None).await;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].changed, ["status", "platform_status"]);
        // The mark never moves back; a rolled-back window leaves nothing.
        window(&s, &run, &[], Some(t0 - chrono::Duration::hours(1))).await;
        assert_eq!(s.read_shops(Some("s")).await.unwrap()[0].mark, Some(t0));
        let staged = s
            .stage_window(
                &run,
                &HeldOrders::of(&[order("2", Status::Paid, 1)]),
                Some(Utc::now()),
                None,
            )
            .await
            .unwrap();
        assert_eq!(staged.changes().len(), 1);
        drop(staged);
        assert_eq!(s.read_shops(Some("s")).await.unwrap()[0].mark, Some(t0));
        assert!(
            s.read_documents("s", &["2".into()])
                .await
                .unwrap()
                .is_empty()
        );
        let feed = s.read_changes(None, 0, 100).await.unwrap();
        assert_eq!(feed.len(), 2);
        assert!(feed[0].seq < feed[1].seq);
    }
}
