//! The state and config readers on arbitrary text (issue 14): never panic, and a state that
//! is read says exactly what its text says: a corrupt file is refused, never taken for a mark.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::config::Config;
use ordersync::sync::state;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Ok(file) = state::parse(text, Path::new("state.json")) {
        // Accepted: the text is one complete JSON document, and every mark in it reads back
        // as the same instant from the text itself.
        let given: serde_json::Value = serde_json::from_str(text).expect("accepted, so JSON");
        for (shop, entry) in &file.shops {
            let written = given["shops"][shop]["mark"].as_str().expect("a mark is text");
            let strict = chrono::DateTime::parse_from_rfc3339(written).expect("strict RFC 3339");
            assert_eq!(strict.to_utc(), entry.mark, "{shop}: {written:?}");
        }
    }
    let _ = Config::parse(text, Path::new("config.toml"));
});
