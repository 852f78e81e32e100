//! The five candidate signature schemes of `platforms.md` (PandaPon publishes no formula), the
//! Taobao page's amount unit (undocumented), and the request nonce.

use rand::distr::{Alphanumeric, SampleString};
use std::fmt;

/// One candidate signature formula (see `platforms.md`). All give 32 uppercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `UPPER(MD5("access-key=AK&nonce-str=N&timestamp=T&key=S"))`, WeChat-Pay style.
    Md5QueryKey,
    /// `UPPER(MD5("access-key=AK&nonce-str=N&timestamp=T" + S))`.
    Md5QuerySecret,
    /// `UPPER(MD5(AK + N + T + S))`.
    Md5Concat,
    /// `UPPER(MD5(S + "access-key" + AK + "nonce-str" + N + "timestamp" + T + S))`.
    Md5Wrapped,
    /// `UPPER(HMAC_MD5(key = S, "access-key=AK&nonce-str=N&timestamp=T"))`.
    HmacMd5Query,
}

impl Scheme {
    pub const DEFAULT: Scheme = Scheme::Md5QueryKey;
    pub const ALL: [Scheme; 5] = [
        Scheme::Md5QueryKey,
        Scheme::Md5QuerySecret,
        Scheme::Md5Concat,
        Scheme::Md5Wrapped,
        Scheme::HmacMd5Query,
    ];

    /// The name used in `signature_scheme`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Md5QueryKey => "md5-query-key",
            Scheme::Md5QuerySecret => "md5-query-secret",
            Scheme::Md5Concat => "md5-concat",
            Scheme::Md5Wrapped => "md5-wrapped",
            Scheme::HmacMd5Query => "hmac-md5-query",
        }
    }

    /// Parse a `signature_scheme` value.
    pub fn parse(s: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|x| x.name() == s.trim())
    }

    /// Every scheme name, comma-separated, for messages.
    pub fn names() -> String {
        Scheme::ALL.map(Scheme::name).join(", ")
    }

    /// The `signature` header for these signed values.
    pub fn sign(self, access_key: &str, nonce: &str, timestamp: &str, secret: &str) -> String {
        use crate::platforms::signing::{hmac_md5, md5};
        let query = format!("access-key={access_key}&nonce-str={nonce}&timestamp={timestamp}");
        let digest = match self {
            Scheme::Md5QueryKey => md5(format!("{query}&key={secret}").as_bytes()).to_vec(),
            Scheme::Md5QuerySecret => md5(format!("{query}{secret}").as_bytes()).to_vec(),
            Scheme::Md5Concat => {
                md5(format!("{access_key}{nonce}{timestamp}{secret}").as_bytes()).to_vec()
            }
            Scheme::Md5Wrapped => md5(format!(
                "{secret}access-key{access_key}nonce-str{nonce}timestamp{timestamp}{secret}"
            )
            .as_bytes())
            .to_vec(),
            Scheme::HmacMd5Query => hmac_md5(secret.as_bytes(), query.as_bytes()),
        };
        hex::encode_upper(digest)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit of the Taobao page's amounts, which seed 003 does not state (`amount_unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmountUnit {
    /// Integers in fen (`22500` is `225.00`), as the 1688 page of the same vendor gives them.
    #[default]
    Fen,
    /// Decimal yuan (`225`, `225.5`, `"225.50"`).
    Yuan,
}

impl AmountUnit {
    /// The name used in `amount_unit`.
    pub fn name(self) -> &'static str {
        match self {
            AmountUnit::Fen => "fen",
            AmountUnit::Yuan => "yuan",
        }
    }

    /// Parse an `amount_unit` value.
    pub fn parse(s: &str) -> Option<AmountUnit> {
        match s.trim() {
            "fen" => Some(AmountUnit::Fen),
            "yuan" => Some(AmountUnit::Yuan),
            _ => None,
        }
    }
}

/// 32 random alphanumeric characters from the thread's CSPRNG, new for every request.
pub fn nonce() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}
