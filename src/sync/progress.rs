//! The progress line on stderr: windows, orders, requests per second, ETA.
//!
//! Drawn only when stderr is a terminal and `-q` was not given (indicatif hides itself
//! otherwise), so cron and pipes get nothing. Log lines are printed above it (see `logging`).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// A progress bar over the windows of one pull.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    pub fn new(platform: &str, windows: u64) -> Progress {
        if !crate::logging::progress_wanted() {
            return Progress {
                bar: None,
                started: Instant::now(),
            };
        }
        let bar = ProgressBar::new(windows);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} windows, {msg} ({elapsed}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(platform.to_string());
        crate::logging::set_progress(Some(bar.clone()));
        Progress {
            bar: Some(bar),
            started: Instant::now(),
        }
    }

    /// A window was emitted completely.
    pub fn window_done(&self, requests: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            let orders = bar.message();
            let orders = orders.split(" orders").next().unwrap_or("0").to_string();
            bar.set_message(format!(
                "{orders} orders, {:.1} req/s",
                requests as f64 / secs
            ));
        }
    }

    /// Orders emitted so far.
    pub fn orders(&self, n: u64) {
        if let Some(bar) = &self.bar {
            let msg = bar.message();
            let rest = msg
                .split_once(" orders")
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            bar.set_message(format!("{n} orders{rest}"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            crate::logging::set_progress(None);
        }
    }
}
