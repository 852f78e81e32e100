//! Logging to stderr (stdout is data), filtered by `-v`/`-q`, `ORDERSYNC_LOG` or `RUST_LOG`.
//!
//! While a progress bar is drawn, each log line is written with the bar suspended, so lines
//! and bar never mix.

use indicatif::ProgressBar;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

static QUIET: AtomicBool = AtomicBool::new(false);
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Install the global subscriber.
pub fn init(verbose: u8, quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    let default = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn,ordersync=info",
            1 => "warn,ordersync=debug",
            2 => "info,ordersync=trace",
            _ => "trace",
        }
    };
    let filter = std::env::var("ORDERSYNC_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAboveBar)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether a progress bar may be drawn: stderr is a terminal and `-q` was not given.
pub fn progress_wanted() -> bool {
    !QUIET.load(Ordering::Relaxed) && io::stderr().is_terminal()
}

/// Register (or clear) the bar log lines must be printed above.
pub fn set_progress(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

struct StderrAboveBar;

/// Collects one log event and writes it when dropped.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let write = || {
            let _ = io::stderr().lock().write_all(&self.0);
        };
        match bar {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAboveBar {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter(Vec::new())
    }
}
