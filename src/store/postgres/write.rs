//! Writing a window: its orders upserted, their changes numbered in the feed and the shop's
//! mark moved, in one transaction that commits only once the caller has written the changes out.

use super::*;

impl PgStore {
    pub(super) async fn stage(
        &self,
        run: &ShopRun,
        orders: &HeldOrders,
        mark: Option<DateTime<Utc>>,
        ledger: Option<&crate::sync::WindowLedger>,
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
        for i in 0..orders.len() {
            last_of.insert(orders.id(i), i);
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
        // The window's new and changed orders, numbered in the feed at the end.
        let mut changed_orders: Vec<(usize, ChangeKind, Vec<String>)> = Vec::new();
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
            let (kind, changed) = match crate::store::diff(old.map(|(_, d)| d.as_str()), doc) {
                Diff::Same => {
                    if old.is_some_and(|(_, d)| d != doc) {
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
            // `last_seq` is set below, once the change has its number.
            self.upsert(&mut tx, run, o, doc, 0, &at).await?;
            changed_orders.push((index, kind, changed));
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
        if let Some(l) = ledger {
            crate::store::ledger::pg_record(&mut tx, &run.shop, l, &at)
                .await
                .map_err(|e| self.err("cannot write the window ledger", e))?;
        }
        let changes = self
            .number_changes(&mut tx, run, orders, changed_orders, now, &at)
            .await?;
        Ok(Box::new(PgStaged {
            tx: Some(tx),
            changes,
            db: self.shown.clone(),
            password: self.password.clone(),
            gone: self.gone.clone(),
        }))
    }

    /// Number the window's changes in the feed, last: the feed's lock is taken here and held
    /// to the commit (see the module's comment on the feed), so everything else the window
    /// writes is done before it, and the numbering is two statements, whatever the window's
    /// size. Other workers' windows with changes wait only that long.
    async fn number_changes(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        run: &ShopRun,
        orders: &HeldOrders,
        changed_orders: Vec<(usize, ChangeKind, Vec<String>)>,
        now: DateTime<Utc>,
        at: &str,
    ) -> Result<Vec<Change>> {
        if changed_orders.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err("cannot lock the change feed", e))?;
        let mut ids = Vec::with_capacity(changed_orders.len());
        let mut kinds = Vec::with_capacity(changed_orders.len());
        let mut keys = Vec::with_capacity(changed_orders.len());
        for (index, kind, changed) in &changed_orders {
            ids.push(orders.id(*index).to_string());
            kinds.push(kind.as_str());
            keys.push(
                (*kind == ChangeKind::Updated)
                    .then(|| serde_json::to_string(changed))
                    .transpose()?,
            );
        }
        let numbered: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO order_changes (shop, order_id, change, changed, at) \
             SELECT $1, u.order_id, u.change, u.changed, $5 \
             FROM unnest($2::text[], $3::text[], $4::text[]) \
             WITH ORDINALITY AS u(order_id, change, changed, n) ORDER BY u.n \
             RETURNING seq, order_id",
        )
        .bind(&run.shop)
        .bind(&ids)
        .bind(&kinds)
        .bind(&keys)
        .bind(at)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| self.err("cannot write the change feed", e))?;
        let seq_of: HashMap<String, i64> = numbered.into_iter().map(|(s, id)| (id, s)).collect();
        let mut changes = Vec::with_capacity(changed_orders.len());
        let mut seqs = Vec::with_capacity(changed_orders.len());
        for (index, kind, changed) in changed_orders {
            let order_id = orders.id(index).to_string();
            let Some(&seq) = seq_of.get(&order_id) else {
                return Err(anyhow::Error::new(DbError {
                    db: self.shown.clone(),
                    what: format!("the change feed gave no number to order {order_id:?}"),
                    detail: String::new(),
                    transient: false,
                }));
            };
            seqs.push(seq);
            changes.push(Change {
                seq,
                shop: run.shop.clone(),
                order_id,
                change: kind,
                changed,
                at: now,
                index,
            });
        }
        sqlx::query(
            "UPDATE orders SET last_seq = u.seq \
             FROM unnest($2::text[], $3::bigint[]) AS u(order_id, seq) \
             WHERE orders.shop = $1 AND orders.order_id = u.order_id",
        )
        .bind(&run.shop)
        .bind(&ids)
        .bind(&seqs)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err("cannot write an order", e))?;
        // Written out in feed order.
        changes.sort_by_key(|c| c.seq);
        Ok(changes)
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
