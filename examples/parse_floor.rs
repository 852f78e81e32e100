//! The parse-only floor of `ordersync normalize` (issue 18, `bench/run.sh b`): the least any
//! reader of a saved answer must do, which is to read the file and check that it is JSON.
//!
//!     cargo run --release --example parse_floor -- FILE
//!
//! The file is read whole and parsed by serde_json into `IgnoredAny` (nothing kept, every
//! string and number still scanned); it prints the number of bytes. `normalize` over the same
//! file also reads it, checks it, keeps what the platform's reader keeps, normalizes and
//! writes: its time over this one's is what that costs.

use serde::de::IgnoredAny;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_floor FILE");
        return ExitCode::from(2);
    };
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("parse_floor: cannot read {}: {e}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    match serde_json::from_slice::<IgnoredAny>(&body) {
        Ok(IgnoredAny) => {
            println!("{}", body.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parse_floor: {}: not JSON: {e}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
