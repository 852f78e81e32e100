//! `normalize_saved` for pandapon-taobao on arbitrary bytes: never panics, and an error
//! names the platform. Mutated both byte-wise and structurally (see `json_mutator.rs`).

#![no_main]

mod json_mutator;

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use ordersync::platforms::{PlatformId, normalize_saved};

const PLATFORM: PlatformId = PlatformId::PandaponTaobao;

fuzz_target!(|body: &[u8]| {
    if let Err(e) = normalize_saved(PLATFORM, body, "fuzz-shop") {
        let msg = e.to_string();
        assert!(
            msg.contains(PLATFORM.as_str()),
            "error does not name the platform: {msg}"
        );
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    json_mutator::mutate(data, size, max_size, seed)
});
