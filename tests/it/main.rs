//! End-to-end tests: the real `ordersync` binary against the sandbox on loopback.
//!
//! One test binary (faster to link on small CI machines); one module per concern.

mod cli;
mod contract;
mod faults;
mod hostile;
mod many_shops;
mod mirror;
mod money;
mod normalize_stream;
mod pandapon;
mod pg;
mod postgres;
mod props;
mod sandbox_scale;
mod sqlite_runs;
mod support;
mod sync;
mod taobao_enhanced;
mod taobao_tw;
mod verify;
mod vvtool;
