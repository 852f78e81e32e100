//! Digests for the sandbox's own signature checks.
//!
//! The sandbox is a witness: each platform module builds the string its vendor's document says
//! is signed, on its own, and only the hash functions below are shared. Nothing here comes from
//! `crate::platforms`, so a misreading of a signature in an adapter fails against the sandbox
//! instead of being mirrored by it.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// MD5 of `text`, as lowercase hex.
pub fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// HMAC-SHA256 of `text` under `key`, as lowercase hex.
pub fn hmac_sha256_hex(key: &str, text: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// HMAC-MD5 of `text` under `key`, as lowercase hex.
pub fn hmac_md5_hex(key: &str, text: &str) -> String {
    let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether a sent signature equals the expected hex, ignoring ASCII case, in time that does
/// not depend on where they differ.
pub fn same_hex(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| {
                diff | (a.to_ascii_lowercase() ^ b.to_ascii_lowercase())
            })
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_published_vectors() {
        // RFC 1321 and RFC 4231 / RFC 2202 test cases.
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_md5_hex("Jefe", "what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert!(same_hex("ABCdef", "abcDEF"));
        assert!(!same_hex("abcdef", "abcdee"));
        assert!(!same_hex("abc", "abcd"));
    }
}
