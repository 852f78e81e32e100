//! Opening and closing an SQLite mirror, and the lock files beside it.
//!
//! Creating a mirror (the file, WAL mode, the schema) and migrating it are done by one run at
//! a time, across threads and processes: under `FILE.lock`, a file lock beside the database,
//! held from the first connection to the end of the migration. Without it, the shops of
//! `pull --all`, or runs started together from cron, opening a new file at once could fail
//! with "database is locked" (exit 4): switching a file into WAL mode needs it to itself, and
//! SQLite answers SQLITE_BUSY there without waiting in the busy handler (sqlx says so where
//! it leaves `journal_mode` unset by default, launchbadge/sqlx PR 1930). Closing takes the
//! same lock, since the last connection to close cleans the WAL up under an exclusive lock
//! that a connection opening meanwhile could run into. A busy answer that still comes while
//! opening (another program, a killed run's WAL being recovered) is tried again, up to
//! [`OPEN_WAIT`].
//!
//! Each shop's run holds `FILE.SHOP.lock` (SHOP as it is when plain, else `x` and hex: never
//! empty, so never `FILE.lock`), released by the kernel when the run dies; the holder's
//! process id is written in it, so that a run refused can say who holds the shop.

use super::{BUSY_HINT, BUSY_TIMEOUT, SqliteStore, db_error};
use crate::store::schema::{CURRENT, SQLITE_STEPS};
use crate::store::{DbError, ShopBusy, ShopGuard};
use anyhow::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long opening waits for other runs creating, migrating or closing the mirror, or for a
/// busy database, before it gives up (exit 4). Migrating a large mirror can take minutes.
const OPEN_WAIT: Duration = Duration::from_secs(300);

/// How long closing waits for its turn before it closes anyway.
const CLOSE_WAIT: Duration = BUSY_TIMEOUT;

/// How often a held lock, or a busy database, is tried again while opening.
const RETRY_EVERY: Duration = Duration::from_millis(20);

impl SqliteStore {
    /// Open `path` for writing, creating it and bringing its schema to [`CURRENT`].
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, false).await
    }

    /// Open an existing mirror to read it (`changes`, `export`): nothing is created or
    /// migrated, and an older schema is read as it is.
    pub async fn open_read_only(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, true).await
    }

    async fn open_with(path: &Path, read_only: bool) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let refuse = |what: &str| -> anyhow::Error {
            anyhow::Error::new(DbError {
                db: shown.clone(),
                what: what.to_string(),
                detail: String::new(),
                transient: false,
            })
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(crate::error::usage(format!(
                    "--db {shown} is a folder; give a database file"
                )));
            }
            Ok(m) if !m.is_file() && !m.file_type().is_symlink() => {
                return Err(crate::error::usage(format!(
                    "--db {shown} is not a regular file; give a database file"
                )));
            }
            Ok(m) if !read_only && m.permissions().readonly() => {
                // Root could write it anyway; the mode says the owner wants it left alone.
                return Err(refuse(
                    "the file is read-only (no write permission); a pull writes the mirror. \
                     `ordersync export` and `ordersync changes` can read it as it is",
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && read_only => {
                return Err(crate::error::usage(format!(
                    "--db {shown}: no such database (a `pull --db` creates it)"
                )));
            }
            _ => {}
        }
        // Readers take no turn: they create and migrate nothing, and may not be allowed to
        // write beside a mirror they only read.
        let _turn = match read_only {
            true => None,
            false => Some(take_turn(path, OPEN_WAIT).await?),
        };
        let deadline = Instant::now() + OPEN_WAIT;
        loop {
            match Self::connect(path, read_only).await {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    tracing::debug!("{e:#}; trying again");
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                opened => return opened,
            }
        }
    }

    /// One attempt at opening: the pool (whose first connection sets WAL mode), then the
    /// schema brought forward.
    async fn connect(path: &Path, read_only: bool) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(!read_only)
            .read_only(read_only)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", "-32768");
        let opts = if read_only {
            // Reading never changes the journal mode (which would need a write).
            opts.journal_mode(SqliteJournalMode::Wal)
        } else {
            opts
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .connect_with(opts)
            .await
            .map_err(|e| db_error(&shown, "cannot open it", e))?;
        let store = SqliteStore {
            pool,
            path: path.to_path_buf(),
            read_only,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Bring the schema forward, one step per transaction.
    async fn migrate(&self) -> Result<()> {
        let version = self.version().await?;
        if version > CURRENT {
            return Err(anyhow::Error::new(DbError {
                db: self.shown_path(),
                what: format!(
                    "its schema is version {version}, newer than this ordersync knows \
                     ({CURRENT})"
                ),
                detail: "upgrade ordersync to use it".into(),
                transient: false,
            }));
        }
        if self.read_only {
            if version == 0 {
                return Err(crate::error::usage(format!(
                    "--db {}: not an ordersync mirror (no schema_version table)",
                    self.shown_path()
                )));
            }
            return Ok(());
        }
        for (reached, sql) in SQLITE_STEPS {
            if *reached <= version {
                continue;
            }
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| self.err("cannot migrate it", e))?;
            // A concurrent run may have migrated it meanwhile.
            if version_in(&mut tx)
                .await
                .map_err(|e| self.err("cannot read it", e))?
                >= *reached
            {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(&format!("cannot migrate it to version {reached}"), e))?;
            tx.commit()
                .await
                .map_err(|e| self.err("cannot migrate it", e))?;
            if version > 0 {
                tracing::info!(
                    "database {}: schema migrated to version {reached}",
                    self.shown_path()
                );
            }
        }
        Ok(())
    }

    /// The schema version, 0 for an empty database. A database holding other tables but
    /// no `schema_version` is not ours: refused rather than written to.
    pub(super) async fn version(&self) -> Result<i64> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| self.err("cannot open it", e))?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.err("cannot read it", e))?;
        if tables.is_empty() {
            return Ok(0);
        }
        if !tables.iter().any(|t| t == "schema_version") {
            return Err(anyhow::Error::new(DbError {
                db: self.shown_path(),
                what: "it is an SQLite database, but not an ordersync mirror".into(),
                detail: format!(
                    "it holds other tables ({}); give a new file or an ordersync mirror",
                    tables.join(", ")
                ),
                transient: false,
            }));
        }
        let v: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_version")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.err("cannot read its schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    /// Close the connections, in turn with runs opening the file (see the module's doc).
    pub(super) async fn close_pool(&self) {
        let _turn = match self.read_only {
            true => None,
            // Not having the turn in time is no reason to keep the connections open.
            false => take_turn(&self.path, CLOSE_WAIT).await.ok(),
        };
        self.pool.close().await;
    }

    /// Take `shop` for this run: its lock file, held until the guard is dropped.
    pub(super) fn lock(&self, shop: &str) -> Result<ShopGuard> {
        let lock_path = PathBuf::from(format!("{}.{}.lock", self.path.display(), file_safe(shop)));
        let mut f = open_lock_file(&lock_path, &self.shown_path())?;
        match f.try_lock() {
            Ok(()) => {
                // Who holds it, for a run refused meanwhile; the lock is what counts.
                let _ = f
                    .set_len(0)
                    .and_then(|()| writeln!(f, "{}", std::process::id()));
                Ok(Box::new(f))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = f
                    .rewind()
                    .and_then(|()| f.read_to_string(&mut text))
                    .ok()
                    .and_then(|_| text.trim().parse::<u32>().ok());
                Err(anyhow::Error::new(ShopBusy {
                    db: self.shown_path(),
                    shop: shop.to_string(),
                    by: format!(
                        "another ordersync run{} (it holds the lock {})",
                        pid.map_or(String::new(), |p| format!(", process {p}")),
                        lock_path.display()
                    ),
                }))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(crate::error::usage(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))),
        }
    }
}

/// The schema version as seen inside a transaction.
async fn version_in(tx: &mut Transaction<'static, Sqlite>) -> Result<i64, sqlx::Error> {
    let has: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    )
    .fetch_one(&mut **tx)
    .await?;
    if has == 0 {
        return Ok(0);
    }
    let v: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_version")
        .fetch_one(&mut **tx)
        .await?;
    Ok(v.unwrap_or(0))
}

/// Wait (up to `wait`) for the turn to open or close the database at `db`: its `FILE.lock`.
async fn take_turn(db: &Path, wait: Duration) -> Result<std::fs::File> {
    let shown = db.display().to_string();
    let path = PathBuf::from(format!("{shown}.lock"));
    let f = open_lock_file(&path, &shown)?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                if !told && started.elapsed() > BUSY_TIMEOUT {
                    tracing::info!(
                        "database {shown}: waiting for another ordersync run to finish creating \
                         or migrating it"
                    );
                    told = true;
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(anyhow::Error::new(DbError {
                    db: shown,
                    what: "another ordersync run kept it busy".into(),
                    detail: format!(
                        "the lock {} was held for over {} s while it created, migrated or \
                         closed the database; try again later",
                        path.display(),
                        wait.as_secs()
                    ),
                    transient: true,
                }));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(crate::error::usage(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

/// Open (creating it) a lock file beside the database, never through a symbolic link.
fn open_lock_file(path: &Path, shown: &str) -> Result<std::fs::File> {
    let mut opts = std::fs::File::options();
    opts.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
    opts.open(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "its folder does not exist".to_string(),
            _ => e.to_string(),
        };
        crate::error::usage(format!(
            "--db {shown}: cannot open the lock file {}: {why}",
            path.display()
        ))
    })
}

/// SQLite answered "busy" or "locked": another connection had the file to itself.
fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<DbError>()
            .is_some_and(|d| d.transient && d.detail.ends_with(BUSY_HINT))
    })
}

/// A shop name as part of a file name: as it is when it is plain, else hex.
fn file_safe(shop: &str) -> String {
    if !shop.is_empty()
        && shop.len() <= 64
        && shop
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        shop.to_string()
    } else {
        format!("x{}", hex::encode(shop.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Threads, each with a runtime of its own as the shops of `pull --all` have, open one new
    /// file at the same instant, round after round: every open succeeds, at the current schema.
    #[test]
    fn many_open_a_new_file_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..10 {
            let path = dir.path().join(format!("new-{round}.db"));
            let start = std::sync::Barrier::new(8);
            std::thread::scope(|scope| {
                let opened: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .unwrap();
                            start.wait();
                            rt.block_on(async {
                                let s = SqliteStore::open(&path).await?;
                                let v = s.schema_version().await?;
                                s.close().await?;
                                anyhow::Ok(v)
                            })
                        })
                    })
                    .collect();
                for t in opened {
                    let v = t.join().unwrap();
                    assert_eq!(
                        v.unwrap_or_else(|e| panic!("round {round}: {e:#}")),
                        CURRENT
                    );
                }
            });
        }
    }

    #[test]
    fn a_held_shop_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = SqliteStore::open(&path).await.unwrap();
            let guard = s.lock("tw").unwrap();
            let e = s.lock("tw").unwrap_err();
            let busy = e.downcast_ref::<ShopBusy>().expect("a ShopBusy");
            assert_eq!(busy.shop, "tw");
            assert!(
                busy.by.contains(&format!("process {}", std::process::id())),
                "{e}"
            );
            assert_eq!(crate::error::exit_code(&e), crate::error::Exit::GaveUp);
            drop(guard);
            s.lock("tw").unwrap();
        });
    }
}
