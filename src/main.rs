//! The `ordersync` binary: parse the command line, set up logging, run, map errors to exit
//! codes. Everything else lives in the library.

use clap::Parser;
use ordersync::error::{exit_code, is_broken_pipe};
use std::process::ExitCode;

/// jemalloc rather than the system allocator: a pull frees a page of orders (a MB and more
/// on some platforms) for every page it reads, on several threads; glibc keeps much of that
/// freed memory, so a long pull's peak memory crept up with the number of pages. jemalloc,
/// built to hand freed pages back at once (`.cargo/config.toml`), stays flat, and
/// `normalize` runs faster on it.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // reqwest is built without a default crypto provider (no aws-lc, no OpenSSL): install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = ordersync::cli::Cli::parse();
    ordersync::logging::init(cli.verbose, cli.quiet, cli.color, cli.progress);
    let ran = ordersync::cmd::run(cli);
    ordersync::logging::finish();
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Secrets known by now (configured, or issued during the run) are removed from
            // the last line too: an error may quote what a platform echoed back.
            eprintln!("error: {}", ordersync::logging::redact(&format!("{e:#}")));
            let code = exit_code(&e);
            ExitCode::from(code as u8)
        }
    }
}
