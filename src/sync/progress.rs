//! The progress line on stderr: how much of the range is done, windows, orders, requests per
//! second, ETA.
//!
//! Drawn only when stderr is a terminal and `-q` was not given (indicatif hides itself
//! otherwise), so cron and pipes get nothing. Log lines are printed above it (see `logging`).
//! Windows can change length during a pull (see `sync`), so the bar measures the part of the
//! time range that is done, not a count of windows.
//!
//! When several shops are pulled at once (`pull --all`), their bars would take turns in the
//! one place the log keeps for a bar; the run draws one line for all its shops instead
//! ([`Shops`]), and the pulls draw none.

use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether each pull draws its own bar (not while several shops are pulled at once).
static PER_PULL: AtomicBool = AtomicBool::new(true);

/// A progress bar over the time range of one pull.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    windows: Cell<u64>,
    orders: Cell<u64>,
    requests: Cell<u64>,
}

impl Progress {
    /// `span_secs`: the length of the range being pulled.
    pub fn new(platform: &str, span_secs: u64) -> Progress {
        let wanted = PER_PULL.load(Ordering::Relaxed) && crate::logging::progress_wanted();
        let bar = wanted.then(|| {
            let bar = ProgressBar::new(span_secs.max(1));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {percent:>3}% of the range, {msg} ({elapsed}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(platform.to_string());
            crate::logging::set_progress(Some(bar.clone()));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            windows: Cell::new(0),
            orders: Cell::new(0),
            requests: Cell::new(0),
        }
    }

    /// A window was emitted completely; `done_secs` of the range are now covered.
    pub fn window_done(&self, done_secs: u64, requests: u64) {
        self.windows.set(self.windows.get() + 1);
        self.requests.set(requests);
        if let Some(bar) = &self.bar {
            bar.set_position(done_secs);
        }
        self.redraw();
    }

    /// Orders emitted so far.
    pub fn orders(&self, n: u64) {
        self.orders.set(n);
        self.redraw();
    }

    fn redraw(&self) {
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} windows, {} orders, {:.1} req/s",
                self.windows.get(),
                self.orders.get(),
                self.requests.get() as f64 / secs
            ));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            crate::logging::set_progress(None);
        }
    }
}

/// One line for a run over several shops: shops done, orders, failures.
pub struct Shops {
    bar: Option<ProgressBar>,
    orders: u64,
    failed: u64,
}

impl Shops {
    /// Start the line for `count` shops; the pulls stop drawing their own bars.
    pub fn new(count: usize) -> Shops {
        PER_PULL.store(false, Ordering::Relaxed);
        let bar = crate::logging::progress_wanted().then(|| {
            let bar = ProgressBar::new(count as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "shops [{bar:30}] {pos}/{len} done, {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            crate::logging::set_progress(Some(bar.clone()));
            bar
        });
        let shops = Shops {
            bar,
            orders: 0,
            failed: 0,
        };
        shops.redraw();
        shops
    }

    /// A shop's pull ended, with `orders` written.
    pub fn shop_done(&mut self, orders: u64, ok: bool) {
        self.orders += orders;
        self.failed += u64::from(!ok);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.redraw();
    }

    fn redraw(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} orders, {} failed", self.orders, self.failed));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            crate::logging::set_progress(None);
        }
        PER_PULL.store(true, Ordering::Relaxed);
    }
}
