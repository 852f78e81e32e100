//! The request canonicalizer and signers on arbitrary parameters, secrets and paths: never
//! panic, and hold their invariants (canonical form, digest length and alphabet,
//! case-insensitive comparison).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::platforms::pandapon::Scheme;
use ordersync::platforms::signing::{
    Params, concat_sorted, hmac_md5, hmac_sha256, lazop_sign, md5, signatures_match,
    wrapped_md5_sign,
};

/// Parameters, a secret, an API path, another string, and raw bytes.
type Input<'a> = (Vec<(String, String)>, String, String, String, &'a [u8]);

fn is_hex(s: &str, len: usize, upper: bool) -> bool {
    let letters = if upper { b'A'..=b'F' } else { b'a'..=b'f' };
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || letters.contains(&b))
}

fuzz_target!(|input: Input<'_>| {
    let (pairs, secret, api_path, other, raw) = input;
    let params: Params = pairs.into_iter().collect();

    let canonical = concat_sorted(&params);
    let expected: String = params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    assert_eq!(canonical, expected);

    let lazop = lazop_sign(&secret, &api_path, &params);
    assert!(is_hex(&lazop, 64, true), "{lazop}");
    let wrapped = wrapped_md5_sign(&secret, &params);
    assert!(is_hex(&wrapped, 32, false), "{wrapped}");

    assert!(signatures_match(&lazop, &lazop.to_ascii_lowercase()));
    assert!(!signatures_match(&lazop, &wrapped));
    for (a, b) in [(&secret, &other), (&api_path, &other), (&lazop, &other)] {
        let m = signatures_match(a, b);
        assert_eq!(m, a.eq_ignore_ascii_case(b), "{a:?} vs {b:?}");
        assert_eq!(m, signatures_match(b, a));
    }

    assert_eq!(md5(raw).len(), 16);
    assert_eq!(hmac_sha256(raw, secret.as_bytes()).len(), 32);
    assert_eq!(hmac_md5(secret.as_bytes(), raw).len(), 16);

    for scheme in Scheme::ALL {
        let sig = scheme.sign(&api_path, &other, &canonical, &secret);
        assert!(is_hex(&sig, 32, true), "{scheme}: {sig}");
    }
});
