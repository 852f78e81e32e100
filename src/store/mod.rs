//! The mirror: a database that holds every order of the shops pulled into it exactly once, in
//! its newest version, with a feed of what changed (issue 16).
//!
//! This module owns what every backend shares: the [`Store`] trait a backend implements, the
//! [`Change`] feed entries, the parsing of `--db` URLs ([`DbUrl`]), and the rule of what a
//! change is ([`change`]). SQLite (`sqlite.rs`) is the embedded default; PostgreSQL (issue 17)
//! implements the same trait for fleets. The schema is in [`schema`]; the ledger of pulled
//! windows that `ordersync verify` reads (issue 18) in [`ledger`].
//!
//! Exactly once: a window's orders and the shop's mark are written in one transaction
//! ([`Store::stage_window`] then [`Staged::commit`]). Between the two the caller writes and
//! flushes the changed orders to its output, so a kill can repeat an output line but never
//! lose one, and the mirror itself never holds an order twice.

pub mod change;
pub mod export;
pub mod held;
pub mod ledger;
pub mod postgres;
pub mod run;
pub mod schema;
pub mod sqlite;

use crate::platforms::By;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub use change::{ChangeKind, Diff, diff};
pub use held::HeldOrders;
pub use ledger::LedgerRow;

/// A boxed future, so that [`Store`] can be used as `dyn Store` (async fns in traits are not
/// object safe).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Held while a run pulls a shop into the mirror; dropping it lets the next run in.
pub type ShopGuard = Box<dyn std::any::Any + Send + Sync>;

/// Which database `--db` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `sqlite:PATH`, `sqlite://PATH`, or a bare path ending in `.db`, `.sqlite` or
    /// `.sqlite3`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given (it may hold a password: never print it,
    /// print [`DbUrl::shown`]).
    Postgres(String),
}

impl DbUrl {
    /// Read a `--db` value. Anything else is refused with the forms that are accepted.
    pub fn parse(given: &str) -> Result<DbUrl> {
        let s = given.trim();
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(s.to_string()));
        }
        let path = if let Some(rest) = s.strip_prefix("sqlite://") {
            Some(rest)
        } else {
            s.strip_prefix("sqlite:")
        };
        if let Some(p) = path {
            // sqlx's own options (`?mode=ro`) are not ours to take: the path is a file name.
            let p = p.split('?').next().unwrap_or_default();
            if p.is_empty() || p == ":memory:" {
                return Err(crate::error::usage(format!(
                    "--db {given:?}: give the database file, e.g. --db sqlite:orders.db (an \
                     in-memory database would forget the mirror when the run ends)"
                )));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(p)));
        }
        let ext = std::path::Path::new(s)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("db" | "sqlite" | "sqlite3")) {
            return Ok(DbUrl::Sqlite(PathBuf::from(s)));
        }
        Err(crate::error::usage(format!(
            "--db {:?} is not a database: give sqlite:FILE (or a file ending in .db or .sqlite) \
             or postgres://USER@HOST/DB",
            shown_url(s)
        )))
    }

    /// The database for messages: the file, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            DbUrl::Sqlite(p) => p.display().to_string(),
            DbUrl::Postgres(u) => shown_url(u),
        }
    }
}

/// A URL with any password replaced by `***`.
fn shown_url(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_string(),
    }
}

/// Open (creating or migrating as needed) the database `url` names.
pub async fn open(url: &DbUrl) -> Result<Box<dyn Store>> {
    open_with(url, &postgres::PgOptions::default()).await
}

/// [`open`], with the PostgreSQL fleet's options (`--lease`).
pub async fn open_with(url: &DbUrl, pg: &postgres::PgOptions) -> Result<Box<dyn Store>> {
    match url {
        DbUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(path).await?)),
        DbUrl::Postgres(u) => Ok(Box::new(
            postgres::PgStore::open(u, &url.shown(), pg).await?,
        )),
    }
}

/// Open an existing mirror to read it (`changes`, `export`): nothing is created or
/// migrated.
pub async fn open_for_reading(url: &DbUrl) -> Result<Box<dyn Store>> {
    match url {
        DbUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open_read_only(path).await?)),
        DbUrl::Postgres(_) => open(url).await,
    }
}

/// How far back each `pull --db` run re-scans by default: 14 days on platforms that cannot
/// list orders by modification time (PandaPon), where a later status change would otherwise
/// never reach the mirror; nothing elsewhere (their modified-time windows see every change).
pub fn default_revisit(spec: &crate::platforms::PlatformSpec) -> Option<std::time::Duration> {
    match spec.by_modified {
        crate::platforms::ByMode::Unsupported(_) => {
            Some(std::time::Duration::from_secs(14 * 86400))
        }
        _ => None,
    }
}

/// Where a resumed mirror run starts: at `since` (the mark less the lookback), or earlier to
/// re-scan the `--revisit` span (default [`default_revisit`]; `0s` turns it off), but never
/// before the shop's first `--since`.
pub fn revisit_since(
    since: DateTime<Utc>,
    revisit: Option<std::time::Duration>,
    spec: &crate::platforms::PlatformSpec,
    origin: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some(span) = revisit.or_else(|| default_revisit(spec)) else {
        return since;
    };
    let Ok(span) = chrono::Duration::from_std(span) else {
        return since;
    };
    let mut from = now - span;
    if let Some(o) = origin {
        from = from.max(o);
    }
    since.min(from)
}

/// The shop a run pulls into the mirror.
#[derive(Debug, Clone)]
pub struct ShopRun {
    pub shop: String,
    pub platform: String,
    pub by: By,
}

/// A shop as the mirror knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShopMark {
    pub shop: String,
    pub platform: String,
    pub by: By,
    /// Everything up to this instant has been committed to the mirror; `None` before the
    /// first complete window.
    pub mark: Option<DateTime<Utc>>,
    /// The `--since` of the shop's first run: revisits never reach before it.
    pub origin: Option<DateTime<Utc>>,
    pub orders: u64,
}

/// A shop's lease in a fleet's database (PostgreSQL): who pulls it, until when, and how its
/// last run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShopLease {
    pub shop: String,
    /// The worker holding it (`host:pid:nonce`), `None` when free.
    pub holder: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the lease is still running (a holder whose lease expired is taken over).
    pub live: bool,
    pub last_run: Option<DateTime<Utc>>,
    /// How the last run ended, `None` when it succeeded.
    pub last_error: Option<String>,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The change's number, increasing across the whole mirror (never reused).
    pub seq: i64,
    pub shop: String,
    pub order_id: String,
    pub change: ChangeKind,
    /// Top-level keys of the order that differ from the version the mirror held (empty for
    /// a new order).
    pub changed: Vec<String>,
    /// When the mirror recorded it.
    pub at: DateTime<Utc>,
    /// Which of the orders given to [`Store::stage_window`] it is (not stored).
    #[serde(skip)]
    pub index: usize,
}

/// A window staged in an open transaction: its changes are known (with their `seq`), nothing
/// is visible to anyone else until [`Staged::commit`]. Dropped without a commit, it rolls
/// back.
pub trait Staged: Send {
    /// The new and changed orders of the window, in the order they were given.
    fn changes(&self) -> &[Change];
    /// Make the window's orders, their changes and the shop's mark durable, all or nothing.
    fn commit(self: Box<Self>) -> BoxFut<'static, ()>;
}

/// What `ordersync export` reads.
#[derive(Debug, Clone, Default)]
pub struct ExportQuery {
    pub shop: Option<String>,
    pub by: Option<By>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A normalized status (`Status::as_str`).
    pub status: Option<String>,
}

/// Receives exported orders, one JSON document at a time, in the order the mirror first
/// received them (a table scan: the fastest a backend can read).
pub type ExportSink<'a> = &'a mut (dyn FnMut(&str) -> Result<()> + Send);

/// A mirror database. Every method is one round of work on the database; none calls a
/// platform.
pub trait Store: Send + Sync {
    /// The database for messages (the file, or the URL without its password).
    fn shown(&self) -> String;

    /// The schema version the database is at (after the migrations `open` ran).
    fn schema_version(&self) -> BoxFut<'_, i64>;

    /// Take the shop for this run: a second run on the same shop is refused with
    /// [`crate::error::Locked`] (exit 4) while the guard lives. A killed run's lock goes
    /// with its process.
    fn lock_shop<'a>(&'a self, shop: &'a str) -> BoxFut<'a, ShopGuard>;

    /// The shop's mark and origin, `None` when the mirror has never seen the shop.
    fn shop<'a>(&'a self, shop: &'a str) -> BoxFut<'a, Option<ShopMark>>;

    /// Every shop in the mirror.
    fn shops(&self) -> BoxFut<'_, Vec<ShopMark>>;

    /// Record the shop (platform, `--by`, origin) before its first window, or check that it
    /// is pulled as before: another platform or another `--by` is refused.
    fn register_shop<'a>(&'a self, run: &'a ShopRun, origin: DateTime<Utc>) -> BoxFut<'a, ()>;

    /// Open a transaction holding the window's orders (each written unless the mirror holds
    /// a newer version), with `mark`, the shop's mark moved to it (never back), and with
    /// `ledger`, the window's row of the ledger. The returned changes follow
    /// [`change::diff`].
    fn stage_window<'a>(
        &'a self,
        run: &'a ShopRun,
        orders: &'a HeldOrders,
        mark: Option<DateTime<Utc>>,
        ledger: Option<&'a crate::sync::WindowLedger>,
    ) -> BoxFut<'a, Box<dyn Staged>>;

    /// The shop's ledger rows of windows that overlap `range`, by start (for one start, the
    /// latest recorded first). None from a mirror older than the ledger (schema 3).
    fn ledger<'a>(
        &'a self,
        shop: &'a str,
        range: crate::platforms::Window,
    ) -> BoxFut<'a, Vec<LedgerRow>>;

    /// How many of the shop's orders have their `by` time in `[from_us, to_us)`.
    fn count_in<'a>(&'a self, shop: &'a str, by: By, from_us: i64, to_us: i64) -> BoxFut<'a, u64>;

    /// The ids of those orders, sorted.
    fn ids_in<'a>(
        &'a self,
        shop: &'a str,
        by: By,
        from_us: i64,
        to_us: i64,
    ) -> BoxFut<'a, Vec<String>>;

    /// The change feed after `after` (exclusive), of one shop or all, oldest first, at most
    /// `limit` entries.
    fn changes_after<'a>(
        &'a self,
        shop: Option<&'a str>,
        after: i64,
        limit: u64,
    ) -> BoxFut<'a, Vec<Change>>;

    /// The current document (as stored JSON) of each of `order_ids` of `shop` that the
    /// mirror holds.
    fn documents<'a>(
        &'a self,
        shop: &'a str,
        order_ids: &'a [String],
    ) -> BoxFut<'a, Vec<(String, String)>>;

    /// Stream the mirror's orders matching `q` into `each`; returns how many.
    fn export<'a>(&'a self, q: &'a ExportQuery, each: ExportSink<'a>) -> BoxFut<'a, u64>;

    /// The shops' leases (a fleet's database); none where runs lock files instead.
    fn leases(&self) -> BoxFut<'_, Vec<ShopLease>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Record how a shop's run ended (`error` is `None` on success), for `ordersync shops`.
    fn finish_run<'a>(&'a self, shop: &'a str, error: Option<&'a str>) -> BoxFut<'a, ()> {
        let _ = (shop, error);
        Box::pin(async { Ok(()) })
    }

    /// Close the connections (checkpointing the write-ahead log where there is one).
    fn close(&self) -> BoxFut<'_, ()>;
}

/// Another live run holds the shop: a worker's lease (PostgreSQL) or a run's lock file
/// (SQLite). Exit 4 for a single shop; a pull of many shops skips the shop (find it in an
/// error's chain with `downcast_ref`).
#[derive(Debug, thiserror::Error)]
#[error(
    "database {db}: shop {shop:?} is being pulled by {by}; this run stops without pulling it. \
     Try again later"
)]
pub struct ShopBusy {
    pub db: String,
    pub shop: String,
    /// Who holds it, for people: "worker HOST:PID:NONCE, whose lease runs until …", "another
    /// ordersync run, process PID (it holds the lock FILE.SHOP.lock)".
    pub by: String,
}

/// A database failure, told with the database's name. Losing the database mid-run (a
/// server gone, a disk that fails) is a transient failure: exit 4, as for the platforms; a
/// database that cannot be read or written at all is refused at open with exit 1 or 2.
#[derive(Debug, thiserror::Error)]
#[error("database {db}: {what}: {detail}")]
pub struct DbError {
    pub db: String,
    pub what: String,
    pub detail: String,
    /// The connection or the file went away, or the database stayed busy: worth a retry
    /// later (exit 4).
    pub transient: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_backend() {
        assert_eq!(
            DbUrl::parse("sqlite:orders.db").unwrap(),
            DbUrl::Sqlite("orders.db".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/o.sqlite").unwrap(),
            DbUrl::Sqlite("/tmp/o.sqlite".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite:mirror?mode=rwc").unwrap(),
            DbUrl::Sqlite("mirror".into())
        );
        assert_eq!(
            DbUrl::parse("data/o.SQLITE").unwrap(),
            DbUrl::Sqlite("data/o.SQLITE".into())
        );
        assert_eq!(
            DbUrl::parse("postgresql://u:pw@h/db").unwrap(),
            DbUrl::Postgres("postgresql://u:pw@h/db".into())
        );
        assert_eq!(
            DbUrl::parse("postgres://u:secret@h/db").unwrap().shown(),
            "postgres://u:***@h/db"
        );
        for bad in [
            "orders.txt",
            "sqlite:",
            "sqlite::memory:",
            "mysql://h/db",
            "",
        ] {
            let e = DbUrl::parse(bad).unwrap_err();
            assert_eq!(
                crate::error::exit_code(&e),
                crate::error::Exit::Usage,
                "{bad}: {e}"
            );
        }
        let e = DbUrl::parse("mysql://u:hunter2@h/db").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
