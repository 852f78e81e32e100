//! Leases: a worker takes a shop by locking its row in `shop_leases` (`FOR UPDATE SKIP
//! LOCKED`), renews it while it works, and gives it back when done; a lease whose worker died
//! expires and is taken over.

use super::*;

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
    /// Who holds `shop` whose lease row is locked: most often its holder, committing a window
    /// (the commit keeps the row locked, for fencing), else a worker taking it right now.
    async fn locked_by(&self, shop: &str) -> String {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT holder, to_char(expires_at AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM shop_leases WHERE shop = $1 AND expires_at > now()",
        )
        .bind(shop)
        .fetch_optional(&self.pool)
        .await
        .ok()
        .flatten();
        match row {
            Some((Some(h), until)) if h != self.holder => format!(
                "worker {h}, whose lease runs until {}",
                until.unwrap_or_default()
            ),
            _ => "another worker, taking it right now".into(),
        }
    }

    /// Take `shop` for this worker, or `None` when another live worker holds it (or is taking
    /// it right now). A lease whose holder did not renew it in time is taken over. For the
    /// many-shops pull: a shop that is `None` is skipped, not an error.
    pub async fn try_take(&self, shop: &str) -> Result<Option<Lease>> {
        Ok(self.take(shop).await?.ok())
    }

    /// Take `shop`, or say who holds it.
    pub(super) async fn take(&self, shop: &str) -> Result<std::result::Result<Lease, String>> {
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
            return Ok(Err(self.locked_by(shop).await));
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

    pub(super) async fn lock(&self, shop: &str) -> Result<ShopGuard> {
        match self.take(shop).await? {
            Ok(lease) => Ok(Box::new(lease)),
            Err(by) => Err(anyhow::Error::new(ShopBusy {
                db: self.shown.clone(),
                shop: shop.to_string(),
                by,
            })),
        }
    }
}

/// Renew the lease every lease/3 until aborted. A renewal that finds the lease gone (taken
/// over after it expired) marks it lost; the next window then refuses to write.
pub(super) async fn renew_loop(
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

/// This worker's name in `shop_leases.holder`: host, process and a nonce (two runs of one
/// process are two workers).
pub(super) fn holder_id() -> String {
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
