//! Logging to stderr (stdout is data), filtered by `-v`/`-q`, `ORDERSYNC_LOG` or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber.
pub fn init(verbose: u8, quiet: bool) {
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
