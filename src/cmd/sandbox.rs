//! `ordersync sandbox`: serve the emulator and print its config.

use crate::cli::SandboxArgs;
use crate::error::usage;
use crate::sandbox::{Sandbox, SandboxOptions};
use anyhow::Result;
use chrono::Utc;
use std::io::Write;

pub(super) async fn serve_sandbox(args: SandboxArgs) -> Result<()> {
    let opts = SandboxOptions {
        orders: args.orders,
        shops: args.shops,
        seed: args.seed,
        latency_ms: args.latency_ms,
        fail_rate: args.fail_rate,
        throttle_rps: args.throttle_rps,
        drift_rate: args.drift_rate,
        now: Utc::now(),
    };
    let running = crate::sandbox::spawn(args.addr, opts)
        .await
        .map_err(|e| usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        Sandbox::config_toml_shops(running.addr, args.shops)
    )?;
    out.flush()?;
    drop(out);
    tracing::info!(
        "sandbox serving all platforms on http://{}; Ctrl-C stops it",
        running.addr
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
