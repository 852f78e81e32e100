//! The `ordersync` binary: parse the command line, set up logging, run, map errors to exit
//! codes. Everything else lives in the library.

use clap::Parser;
use ordersync::error::{exit_code, is_broken_pipe};
use std::process::ExitCode;

fn main() -> ExitCode {
    // reqwest is built without a default crypto provider (no aws-lc, no OpenSSL): install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = ordersync::cli::Cli::parse();
    ordersync::logging::init(cli.verbose, cli.quiet);
    match ordersync::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = exit_code(&e);
            ExitCode::from(code as u8)
        }
    }
}
