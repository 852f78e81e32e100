//! Request signing primitives shared by the adapters and the sandbox.
//!
//! Every platform signs raw UTF-8 values (never URL-encoded ones) over parameters sorted by
//! name in byte order; a `BTreeMap<String, String>` gives exactly that order. Golden vectors
//! copied from the vendors' documents pin each algorithm in the tests below, so the client and
//! the sandbox cannot agree on a wrong signature.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::collections::BTreeMap;

/// Parameters in signing order.
pub type Params = BTreeMap<String, String>;

/// `name1value1name2value2...` over sorted parameters, skipping `sign` and empty values.
pub fn concat_sorted(params: &Params) -> String {
    let mut s = String::new();
    for (k, v) in params {
        if k == "sign" || v.is_empty() {
            continue;
        }
        s.push_str(k);
        s.push_str(v);
    }
    s
}

/// LazOP (Taobao Taiwan): `UPPER_HEX(HMAC_SHA256(secret, api_path + concat_sorted))`.
pub fn lazop_sign(secret: &str, api_path: &str, params: &Params) -> String {
    let mut msg = String::from(api_path);
    msg.push_str(&concat_sorted(params));
    hex::encode_upper(hmac_sha256(secret.as_bytes(), msg.as_bytes()))
}

/// fw199 enhanced list: `lower_hex(MD5(secret + concat_sorted + secret))`.
pub fn wrapped_md5_sign(secret: &str, params: &Params) -> String {
    let msg = format!("{secret}{}{secret}", concat_sorted(params));
    hex::encode(md5(msg.as_bytes()))
}

/// Raw MD5 digest.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// Raw HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Raw HMAC-MD5.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Md5>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Compare two signatures without leaking where they differ (ASCII case-insensitive).
pub fn signatures_match(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_uppercase() ^ y.to_ascii_uppercase())
    }) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tw_system(ts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("app_key", "123456".into()),
            ("access_token", "test".into()),
            ("timestamp", ts.into()),
            ("sign_method", "sha256".into()),
        ]
    }

    fn with(sys: Vec<(&'static str, String)>, extra: &[(&str, &str)]) -> Params {
        let mut p: Params = sys.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    #[test]
    fn lazop_vendor_example() {
        let p = with(tw_system("1517820392000"), &[("order_id", "1234")]);
        assert_eq!(
            format!("/order/get{}", concat_sorted(&p)),
            "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256timestamp1517820392000"
        );
        assert_eq!(
            lazop_sign("helloworld", "/order/get", &p),
            "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
        );
    }

    #[test]
    fn lazop_orders_get_vector() {
        let p = with(
            tw_system("1592988843859"),
            &[("Order_Status", "all"), ("Page_Size", "2"), ("Page", "1")],
        );
        assert_eq!(
            lazop_sign("helloworld", "/orders/get", &p),
            "42FD93D7C1AB77282AD2970D4CD235E110A309CF2AA34DF14C7A57F5DFB4CE65"
        );
    }

    #[test]
    fn lazop_items_get_vector() {
        let p = with(
            tw_system("1592988843859"),
            &[("trade_order_line_id_list", "[\"558757467941\"]")],
        );
        assert_eq!(
            lazop_sign("helloworld", "/order/items/get", &p),
            "4C5A7822321103E0CED5DF2033689EA756F950974CB6A8818C24CA6B39E47C3B"
        );
    }

    fn enhanced(nick: &str) -> Params {
        params(&[
            ("appid", "uwkahf@jfs92"),
            ("timestamp", "1633618722"),
            ("tb_seller_nick", nick),
            ("start_created", "2021-10-01 00:00:00"),
            ("end_created", "2021-10-07 23:59:59"),
            ("page_no", "1"),
            ("page_size", "100"),
        ])
    }

    #[test]
    fn enhanced_md5_vectors() {
        let p = enhanced("kingdo");
        assert_eq!(
            format!("testsecret{}testsecret", concat_sorted(&p)),
            "testsecretappiduwkahf@jfs92end_created2021-10-07 23:59:59page_no1page_size100start_created2021-10-01 00:00:00tb_seller_nickkingdotimestamp1633618722testsecret"
        );
        assert_eq!(
            wrapped_md5_sign("testsecret", &p),
            "c4ccf97d91d15a51d83037030b842169"
        );
        assert_eq!(
            wrapped_md5_sign("testsecret", &enhanced("源丰有限贸易")),
            "c9eeeaf4b7e89d34dcaaeb4f7cbd17b9"
        );
    }

    #[test]
    fn empty_values_and_sign_are_not_signed() {
        let mut p = enhanced("kingdo");
        p.insert("buyer_nick".into(), String::new());
        p.insert("sign".into(), "whatever".into());
        assert_eq!(
            wrapped_md5_sign("testsecret", &p),
            "c4ccf97d91d15a51d83037030b842169"
        );
    }

    #[test]
    fn byte_order_puts_capitals_first() {
        let p = params(&[("access_token", "a"), ("Page", "1"), ("Page_Size", "2")]);
        assert_eq!(concat_sorted(&p), "Page1Page_Size2access_tokena");
    }

    #[test]
    fn signature_compare() {
        assert!(signatures_match("abcDEF", "ABCdef"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "abcd"));
    }
}
