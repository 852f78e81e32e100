//! ordersync: pull e-commerce orders from five order APIs into one normalized model.
//!
//! `main.rs` only calls [`cmd::run`]. The pipeline is: `cli` parses, `config` resolves shops
//! and secrets, `platforms` adapters build signed requests and parse pages, `net` sends them,
//! `sync` drives windows, pages and state, `sink` writes NDJSON/JSON/CSV. `sandbox` emulates
//! the platforms for tests and for new users.

// `PlatformError` carries the platform's code, message and request id for the user; it is
// large, but only ever on the cold path.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod cmd;
pub mod config;
pub mod dump;
pub mod error;
pub mod logging;
pub mod model;
pub mod net;
pub mod platform_id;
pub mod platforms;
pub mod sandbox;
pub mod sink;
pub mod store;
pub mod sync;
pub mod timearg;
