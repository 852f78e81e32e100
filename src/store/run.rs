//! A pull into the mirror (`pull --db`): the pull loop writes into a buffer; at each
//! checkpoint the window's orders are staged in one transaction, the new and changed ones
//! written and flushed to the output with their `change` and `seq`, and then the transaction
//! (orders, feed, the shop's mark, the window's ledger row) commits. A kill before the
//! commit repeats the window's output lines on the next run but loses none; a kill after it
//! has nothing left to repeat.

use super::{DbUrl, HeldOrders, ShopGuard, ShopMark, ShopRun, Store};
use crate::model::Order;
use crate::platforms::By;
use crate::sink::Sink;
use crate::sync::WindowLedger;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::io;
use std::sync::{Arc, Mutex};

/// The most orders a window of a pull into the mirror holds (the pull loop splits and sizes
/// windows to it): [`BufferSink`] keeps a window's orders until the window commits, in one
/// transaction with the shop's mark. Two windows are held at once (one commits while the next
/// is scanned), as their stored documents, in a temporary file past the first 64 KiB
/// ([`HeldOrders`]); what a full window still costs in memory (its pages in flight, its
/// transaction) is what a dense shop's pull takes over a sparse shop's (issue 18: 10% at most
/// over a 10,000-order pull's). Windows of 400 to 600 orders. Smaller windows cost a short
/// page each: a few percent more requests on 100-order pages. A platform that reports no
/// total (vv-tool's `has_next` list) has a window's pass cut once it goes past this.
pub const WINDOW_ORDERS: u64 = 800;

/// The mirror's side of one pull.
pub struct MirrorRun {
    store: Box<dyn Store>,
    run: ShopRun,
    _guard: ShopGuard,
    known: Option<ShopMark>,
    buffer: Arc<Mutex<HeldOrders>>,
    /// `--no-state`: the mark is neither read nor moved (a backfill into the mirror).
    keep_mark: bool,
    pub new: u64,
    pub updated: u64,
    pub last_seq: Option<i64>,
    /// The latest mark this run committed.
    committed: Option<DateTime<Utc>>,
}

impl MirrorRun {
    /// Open the mirror, take the shop for this run, read its mark.
    pub async fn begin(
        url: &DbUrl,
        shop: &str,
        platform: &str,
        by: By,
        use_mark: bool,
        pg: &super::postgres::PgOptions,
    ) -> Result<MirrorRun> {
        let store = super::open_with(url, pg).await?;
        let guard = store.lock_shop(shop).await?;
        let known = store.shop(shop).await?;
        let run = ShopRun {
            shop: shop.to_string(),
            platform: platform.to_string(),
            by,
        };
        Ok(MirrorRun {
            store,
            run,
            _guard: guard,
            known: known.filter(|_| use_mark),
            buffer: Arc::default(),
            keep_mark: !use_mark,
            new: 0,
            updated: 0,
            last_seq: None,
            committed: None,
        })
    }

    /// The mirror of a `pull`, when `--db` (or `ORDERSYNC_DB`) names one.
    pub async fn for_pull(
        db: Option<&str>,
        has_state: bool,
        shop: &crate::config::Shop,
        by: By,
        use_mark: bool,
        pg: &super::postgres::PgOptions,
    ) -> Result<Option<MirrorRun>> {
        let Some(db) = db.filter(|d| !d.trim().is_empty()) else {
            return Ok(None);
        };
        if has_state {
            return Err(crate::error::usage(
                "--state and --db exclude each other: the mirror holds the shop's mark itself",
            ));
        }
        let url = DbUrl::parse(db)?;
        Ok(Some(
            MirrorRun::begin(&url, &shop.name, shop.platform.as_str(), by, use_mark, pg).await?,
        ))
    }

    /// The database for messages.
    pub fn shown(&self) -> String {
        self.store.shown()
    }

    /// Everything up to this instant is in the mirror (`None`: a first run).
    pub fn mark(&self) -> Option<DateTime<Utc>> {
        self.known.as_ref().and_then(|k| k.mark)
    }

    /// The shop's mark now: the one read at the start, or a later one this run committed
    /// (`None` with `--no-state`, which neither reads nor moves it).
    pub fn mark_now(&self) -> Option<DateTime<Utc>> {
        self.mark().max(self.committed)
    }

    /// The `--since` of the shop's first run.
    pub fn origin(&self) -> Option<DateTime<Utc>> {
        self.known.as_ref().and_then(|k| k.origin)
    }

    /// Record the shop (or check that it is pulled as before), `origin` being where this
    /// run starts.
    pub async fn start(&mut self, origin: DateTime<Utc>) -> Result<()> {
        self.store.register_shop(&self.run, origin).await
    }

    /// The sink the pull loop writes into.
    pub fn buffer_sink(&self) -> BufferSink {
        BufferSink(self.buffer.clone())
    }

    /// The orders buffered since the last call.
    fn take_buffered(&self) -> HeldOrders {
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stage `orders` (the mark, the window's ledger row), write the changes to `out`,
    /// commit. The ledger is written with `--no-state` too: a backfill or a repair records
    /// what the platform says now.
    async fn commit(
        &mut self,
        orders: HeldOrders,
        mark: Option<DateTime<Utc>>,
        ledger: Option<WindowLedger>,
        out: &mut dyn Sink,
    ) -> Result<()> {
        let mark = mark.filter(|_| !self.keep_mark);
        if orders.is_empty() && mark.is_none() && ledger.is_none() {
            return Ok(());
        }
        let staged = self
            .store
            .stage_window(&self.run, &orders, mark, ledger.as_ref())
            .await?;
        // JSON and NDJSON take the held text as it is; CSV needs the order read back.
        let as_text = out.takes_json();
        for c in staged.changes() {
            let change = c.change.as_str();
            if as_text {
                out.write_change_json(orders.doc(c.index)?.as_bytes(), change, c.seq)?;
            } else {
                out.write_change(&orders.order(c.index)?, change, c.seq)?;
            }
            match c.change {
                super::ChangeKind::New => self.new += 1,
                super::ChangeKind::Updated => self.updated += 1,
            }
            self.last_seq = Some(c.seq);
        }
        // The lines are out before the window commits: a kill from here on repeats them on
        // the next run, it never loses them.
        out.flush()?;
        staged.commit().await?;
        self.committed = self.committed.max(mark);
        Ok(())
    }

    /// Commit what a run stopped at `--limit` emitted after its last complete window
    /// (without moving the mark, its changes written to `out`), and close the database.
    pub async fn finish(&mut self, out: &mut dyn Sink) -> Result<()> {
        let orders = self.take_buffered();
        self.commit(orders, None, None, out).await?;
        self.store.finish_run(&self.run.shop, None).await?;
        self.store.close().await
    }
}

impl MirrorRun {
    /// The run failed: record why (for `ordersync shops`) and give the shop back, as far as
    /// the database can still be reached; nothing more is written.
    pub async fn fail(self, error: &str) {
        let record = async {
            self.store.finish_run(&self.run.shop, Some(error)).await?;
            self.store.close().await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), record).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("could not record the failed run: {e:#}"),
            Err(_) => tracing::debug!("could not record the failed run: the database is slow"),
        }
    }
}

/// The pull loop's checkpoint in a `--db` run: the window is committed to the mirror, its
/// new and changed orders written to `out` first.
pub struct MirrorCheckpoint<'a> {
    pub run: &'a mut MirrorRun,
    pub out: &'a mut dyn Sink,
}

impl crate::sync::Checkpoint for MirrorCheckpoint<'_> {
    fn window_done(
        &mut self,
        done: WindowLedger,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + '_>> {
        // Taken now: the next window is emitted into the buffer while this one commits.
        let orders = self.run.take_buffered();
        Box::pin(
            self.run
                .commit(orders, Some(done.window.end), Some(done), &mut *self.out),
        )
    }
}

/// Holds a window's orders until its checkpoint, as the documents the mirror stores.
pub struct BufferSink(Arc<Mutex<HeldOrders>>);

impl Sink for BufferSink {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(order);
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
