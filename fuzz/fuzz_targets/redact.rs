//! The redactor on arbitrary secrets and texts (issue 14): never panic, the byte form agrees
//! with the text form, and a secret is gone from what it redacted (unless the secret overlaps
//! the `[REDACTED]` marker itself, where a replacement can spell it anew).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::logging::{REDACTED, add_secret, redact, redact_bytes};

fuzz_target!(|input: (String, String, &[u8])| {
    let (secret, text, raw) = input;
    add_secret(&secret);
    let out = redact(&text);
    assert_eq!(redact_bytes(text.as_bytes()), out.as_bytes());
    let _ = redact_bytes(raw);
    let s = secret.trim();
    let overlaps = s.chars().any(|c| REDACTED.contains(c));
    if s.chars().count() >= 4 && !overlaps {
        assert!(!out.contains(s), "{s:?} kept in {out:?}");
    }
});
