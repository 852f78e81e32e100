//! The progress line on stderr: how much of the range is done, windows, orders, requests per
//! second, ETA.
//!
//! Drawn only when stderr is a terminal and `-q` was not given (indicatif hides itself
//! otherwise), so cron and pipes get nothing. Log lines are printed above it (see `logging`).
//! Windows can change length during a pull (see `sync`), so the bar measures the part of the
//! time range that is done, not a count of windows.

use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::time::Instant;

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
        let bar = crate::logging::progress_wanted().then(|| {
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
