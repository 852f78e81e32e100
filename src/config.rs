//! The config file: shops, their platform, credentials and overrides.
//!
//! Found at `--config`, else `$ORDERSYNC_CONFIG`, else `$XDG_CONFIG_HOME/ordersync/config.toml`
//! (`~/.config/ordersync/config.toml`). Unknown keys are errors (typos must not pass
//! silently), and so are keys that belong to another platform. Secrets are a literal string,
//! `{ env = "VAR" }` or `{ file = "PATH" }`; they are resolved only when a shop is used and
//! held as `SecretString`, which never prints its value.

use crate::error::usage;
use crate::platform_id::PlatformId;
use anyhow::{Context, Result};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The mirror (`--db`), a literal or a secret reference: a PostgreSQL URL holds a password.
    pub db: Option<SecretRef>,
    #[serde(default)]
    pub shops: BTreeMap<String, ShopConfig>,
}

/// One `[shops.NAME]` table, as written. The keys common to every platform are read here;
/// the platform's own (credentials, options) are kept as written and read by its adapter,
/// which knows what they mean (`Shop::keys`).
#[derive(Debug, Deserialize, Clone, Default)]
pub struct ShopConfig {
    pub platform: String,
    pub base_url: Option<String>,
    pub rate_limit: Option<f64>,
    pub allow_http: Option<bool>,
    #[serde(flatten)]
    pub keys: toml::Table,
}

/// What reading a config must know of a platform. The config reader names no platform and
/// looks none up: whoever loads a config hands it the registry's list
/// (`platforms::shop_kinds()`), since the adapters themselves are built from config shops.
#[derive(Debug, Clone)]
pub struct ShopKind {
    pub id: PlatformId,
    /// The keys its shops take besides the common ones.
    pub keys: &'static [&'static str],
    /// Those of `keys` that hold secrets.
    pub secret_keys: &'static [&'static str],
    pub default_base_url: &'static str,
    pub default_rate_limit: u32,
}

/// Check a shop's own keys against its platform's list: a key of another platform is named
/// as such, an unknown one as unknown; secrets must have one of the secret forms.
fn check_keys(
    text: &str,
    name: &str,
    path: &Path,
    platform: &ShopKind,
    kinds: &[ShopKind],
    raw: &ShopConfig,
) -> Result<()> {
    let allowed = platform.keys;
    let common = ["platform", "base_url", "rate_limit", "allow_http"];
    for (k, v) in &raw.keys {
        let at = match line_of(text, name, k) {
            Some(n) => format!("config file {}, line {n}", path.display()),
            None => format!("config file {}", path.display()),
        };
        if !allowed.contains(&k.as_str()) {
            let foreign = kinds.iter().any(|p| p.keys.contains(&k.as_str()));
            return Err(usage(if foreign {
                format!(
                    "{at}: shop {name:?}: key `{k}` does not apply to {} shops (their keys: {})",
                    platform.id,
                    allowed.join(", ")
                )
            } else {
                format!(
                    "{at}: shop {name:?}: unknown key `{k}`; {} shops take {}, {}",
                    platform.id,
                    common.join(", "),
                    allowed.join(", ")
                )
            }));
        }
        let bad = if platform.secret_keys.contains(&k.as_str()) {
            SecretRef::deserialize(v.clone())
                .err()
                .map(|e| e.to_string())
        } else {
            (!v.is_str()).then(|| format!("invalid type: {}, expected a string", v.type_str()))
        };
        if let Some(e) = bad {
            return Err(usage(format!("{at}: shop {name:?}: key `{k}`: {e}")));
        }
    }
    Ok(())
}

/// The line (1-based) where `key` is set in table `[shops.SHOP]`, for messages: the keys a
/// platform reads are kept as written, without the parser's positions.
fn line_of(text: &str, shop: &str, key: &str) -> Option<usize> {
    let headers = [format!("[shops.{shop}]"), format!("[shops.\"{shop}\"]")];
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            let compact: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            inside = headers.iter().any(|h| compact.starts_with(h.as_str()));
            continue;
        }
        let name = l.split('=').next().unwrap_or("").trim().trim_matches('"');
        if inside && l.contains('=') && name == key {
            return Some(i + 1);
        }
    }
    None
}

/// A secret as written in the config.
#[derive(Debug, Clone)]
pub enum SecretRef {
    Literal(String),
    Env(String),
    File(PathBuf),
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            file: Option<PathBuf>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Table(Table),
        }
        let bad = || {
            serde::de::Error::custom(
                "a secret must be a string, { env = \"VAR\" } or { file = \"PATH\" }",
            )
        };
        match Raw::deserialize(d).map_err(|_| bad())? {
            Raw::Text(s) => Ok(SecretRef::Literal(s)),
            Raw::Table(Table {
                env: Some(e),
                file: None,
            }) => Ok(SecretRef::Env(e)),
            Raw::Table(Table {
                env: None,
                file: Some(f),
            }) => Ok(SecretRef::File(f)),
            Raw::Table(_) => Err(bad()),
        }
    }
}

/// A shop ready to use: platform known, keys checked.
#[derive(Debug, Clone)]
pub struct Shop {
    pub name: String,
    pub platform: PlatformId,
    pub base_url: String,
    /// Requests per second, above 0.
    pub rate_limit: f64,
    pub allow_http: bool,
    /// Which of its keys hold secrets (from its platform's [`ShopKind`]).
    pub secret_keys: &'static [&'static str],
    pub raw: ShopConfig,
    /// The file it came from (for messages and relative secret files).
    pub source: PathBuf,
}

impl Shop {
    fn where_(&self) -> String {
        format!(
            "shop {:?} ({}) in {}",
            self.name,
            self.platform,
            self.source.display()
        )
    }

    /// Every secret this shop has, resolved where possible (for redaction).
    pub fn secrets(&self) -> Vec<SecretString> {
        self.secret_keys
            .iter()
            .filter_map(|k| self.raw.keys.get(*k))
            .filter_map(|v| SecretRef::deserialize(v.clone()).ok())
            .filter_map(|s| self.resolve("secret", &s).ok())
            .collect()
    }

    /// The platform's own keys, read into the adapter's own struct `T`.
    pub fn keys<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(toml::Value::Table(self.raw.keys.clone()))
            .map_err(|e| usage(format!("{}: {e}", self.where_())))
    }

    /// Point the shop at another base URL (`--base-url`), with the same checks as the config.
    pub fn set_base_url(&mut self, url: &str) -> Result<()> {
        self.base_url = url.to_string();
        check_base_url(self)
    }

    /// A required plain value.
    pub fn require(&self, key: &str, v: &Option<String>) -> Result<String> {
        match v {
            Some(s) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(usage(format!(
                "{}: `{key}` is missing or empty",
                self.where_()
            ))),
        }
    }

    /// A required secret, resolved.
    pub fn secret(&self, key: &str, v: &Option<SecretRef>) -> Result<SecretString> {
        match v {
            Some(r) => self.resolve(key, r),
            None => Err(usage(format!("{}: `{key}` is missing", self.where_()))),
        }
    }

    /// An optional secret, resolved when present.
    pub fn optional_secret(
        &self,
        key: &str,
        v: &Option<SecretRef>,
    ) -> Result<Option<SecretString>> {
        v.as_ref().map(|r| self.resolve(key, r)).transpose()
    }

    fn resolve(&self, key: &str, r: &SecretRef) -> Result<SecretString> {
        let value = match r {
            SecretRef::Literal(s) => s.clone(),
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                usage(format!(
                    "{}: `{key}` comes from environment variable {var}, which is not set",
                    self.where_()
                ))
            })?,
            SecretRef::File(f) => {
                let path = if f.is_relative() {
                    self.source.parent().unwrap_or(Path::new(".")).join(f)
                } else {
                    f.clone()
                };
                std::fs::read_to_string(&path)
                    .map_err(|e| {
                        usage(format!(
                            "{}: `{key}` comes from file {}, which cannot be read: {e}",
                            self.where_(),
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_string()
            }
        };
        if value.is_empty() {
            return Err(usage(format!("{}: `{key}` is empty", self.where_())));
        }
        Ok(SecretString::from(value))
    }
}

/// Where the config file is looked for, in order.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORDERSYNC_CONFIG") {
        return Some(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("ordersync/config.toml"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/ordersync/config.toml"))
}

/// A loaded config file.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub shops: Vec<Shop>,
    /// The top-level `db` (the mirror), as written.
    pub db: Option<SecretRef>,
}

impl Config {
    /// Load from `--config` or the default places; `kinds` is what the registry says of
    /// each platform.
    pub fn load(explicit: Option<&Path>, kinds: &[ShopKind]) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => default_path().ok_or_else(|| {
                usage("no config file: pass --config FILE, set ORDERSYNC_CONFIG, or try --sandbox")
            })?,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "cannot read config file {}: {e}\n  hint: see config.example.toml, or try `ordersync pull --sandbox`",
                path.display()
            ))
        })?;
        let config = Config::parse(&text, &path, kinds)?;
        warn_if_readable_secrets(&config);
        Ok(config)
    }

    /// Parse config text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path, kinds: &[ShopKind]) -> Result<Config> {
        let file: ConfigFile = toml::from_str(text)
            .map_err(|e| usage(format!("config file {}: {e}", path.display())))?;
        let mut shops = Vec::new();
        for (name, raw) in file.shops {
            let platform = PlatformId::parse(&raw.platform).map_err(|e| {
                usage(format!(
                    "config file {}: shop {name:?}: {e}",
                    path.display()
                ))
            })?;
            let kind = kinds.iter().find(|k| k.id == platform).ok_or_else(|| {
                usage(format!(
                    "config file {}: shop {name:?}: platform {platform} is not available here",
                    path.display()
                ))
            })?;
            check_keys(text, &name, path, kind, kinds, &raw)?;
            let base_url = raw
                .base_url
                .clone()
                .unwrap_or_else(|| kind.default_base_url.to_string());
            let shop = Shop {
                name: name.clone(),
                platform,
                rate_limit: raw.rate_limit.unwrap_or(f64::from(kind.default_rate_limit)),
                allow_http: raw.allow_http.unwrap_or(false),
                secret_keys: kind.secret_keys,
                base_url,
                raw,
                source: path.to_path_buf(),
            };
            check_base_url(&shop)?;
            if let Err(e) = check_rate(shop.rate_limit) {
                return Err(usage(format!("{}: `rate_limit`: {e}", shop.where_())));
            }
            shops.push(shop);
        }
        Ok(Config {
            path: path.to_path_buf(),
            shops,
            db: file.db,
        })
    }

    /// The mirror's URL from the top-level `db` (a literal, `{ env = "VAR" }` or
    /// `{ file = "PATH" }`, a relative path being relative to the config file), if set.
    pub fn db(&self) -> Result<Option<SecretString>> {
        let at = || format!("config file {}: `db`", self.path.display());
        let value = match &self.db {
            None => return Ok(None),
            Some(SecretRef::Literal(s)) => s.clone(),
            Some(SecretRef::Env(var)) => std::env::var(var).map_err(|_| {
                usage(format!(
                    "{}: comes from environment variable {var}, which is not set",
                    at()
                ))
            })?,
            Some(SecretRef::File(f)) => {
                let path = if f.is_relative() {
                    self.path.parent().unwrap_or(Path::new(".")).join(f)
                } else {
                    f.clone()
                };
                std::fs::read_to_string(&path)
                    .map_err(|e| {
                        usage(format!(
                            "{}: comes from file {}, which cannot be read: {e}",
                            at(),
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_string()
            }
        };
        if value.trim().is_empty() {
            return Err(usage(format!("{} is empty", at())));
        }
        Ok(Some(SecretString::from(value)))
    }

    /// Pick a shop by `--shop NAME` or `--platform ID`.
    pub fn pick(&self, shop: Option<&str>, platform: Option<PlatformId>) -> Result<&Shop> {
        if let Some(name) = shop {
            let s = self.shops.iter().find(|s| s.name == name).ok_or_else(|| {
                usage(format!(
                    "no shop named {name:?} in {}; shops there: {}",
                    self.path.display(),
                    self.names(None)
                ))
            })?;
            if let Some(p) = platform.filter(|p| *p != s.platform) {
                return Err(usage(format!(
                    "shop {name:?} is a {} shop, not {p}",
                    s.platform
                )));
            }
            return Ok(s);
        }
        let Some(p) = platform else {
            return match self.shops.as_slice() {
                [only] => Ok(only),
                _ => Err(usage(format!(
                    "say which shop with --shop NAME or --platform ID; shops in {}: {}",
                    self.path.display(),
                    self.names(None)
                ))),
            };
        };
        let matching: Vec<&Shop> = self.shops.iter().filter(|s| s.platform == p).collect();
        match matching.as_slice() {
            [only] => Ok(only),
            [] => Err(usage(format!(
                "no {p} shop in {}; shops there: {}",
                self.path.display(),
                self.names(None)
            ))),
            _ => Err(usage(format!(
                "several {p} shops in {}: {}; pick one with --shop NAME",
                self.path.display(),
                self.names(Some(p))
            ))),
        }
    }

    fn names(&self, p: Option<PlatformId>) -> String {
        let v: Vec<String> = self
            .shops
            .iter()
            .filter(|s| p.is_none_or(|p| s.platform == p))
            .map(|s| format!("{} ({})", s.name, s.platform))
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }
}

/// `https://` is required except on loopback or when the shop allows plain http.
fn check_base_url(shop: &Shop) -> Result<()> {
    let url = url::Url::parse(&shop.base_url)
        .with_context(|| {
            format!(
                "{}: base_url {:?} is not a URL",
                shop.where_(),
                shop.base_url
            )
        })
        .map_err(|e| usage(format!("{e:#}")))?;
    let loopback = is_loopback(&shop.base_url);
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || shop.allow_http => Ok(()),
        "http" => Err(usage(format!(
            "{}: base_url {} is plain http, which would send credentials unencrypted; \
             use https, or set allow_http = true for this shop if the platform offers nothing else",
            shop.where_(),
            shop.base_url
        ))),
        other => Err(usage(format!(
            "{}: base_url scheme {other:?} is not supported (use https)",
            shop.where_()
        ))),
    }
}

/// Literal secrets of a real shop (not on loopback) in a file others can read deserve a
/// warning.
fn warn_if_readable_secrets(config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(&config.path) else {
            return;
        };
        if meta.permissions().mode() & 0o044 == 0 {
            return;
        }
        let exposed = config.shops.iter().any(|shop| {
            !is_loopback(&shop.base_url)
                && shop.platform.platform().secret_keys.iter().any(|k| {
                    matches!(
                        shop.raw
                            .keys
                            .get(*k)
                            .map(|v| SecretRef::deserialize(v.clone())),
                        Some(Ok(SecretRef::Literal(_)))
                    )
                })
        });
        if exposed {
            tracing::warn!(
                "{} holds literal secrets and other users can read it; run `chmod 600 {}` \
                 or move the secrets to {{ env = ... }} / {{ file = ... }}",
                config.path.display(),
                config.path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = config;
}

fn is_loopback(base_url: &str) -> bool {
    match url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A rate limit must be a number of requests per second above 0 (0.5 is one every 2 s): 0
/// would never send, and was once taken for 1 without a word.
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 && rate <= 1e6 {
        Ok(rate)
    } else {
        Err(format!(
            "{rate} is not a rate: give requests per second above 0 (e.g. 5, or 0.5 for one \
             every 2 seconds)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Config> {
        Config::parse(t, Path::new("test.toml"), &crate::platforms::shop_kinds())
    }

    #[test]
    fn parses_the_example_config() {
        let c = parse(include_str!("../config.example.toml")).unwrap();
        assert_eq!(c.shops.len(), 5);
        assert!(c.pick(None, Some(PlatformId::Vvtool)).is_ok());
    }

    #[test]
    fn rejects_unknown_and_foreign_keys() {
        let e = parse("[shops.a]\nplatform = \"taobao-tw\"\napp_kee = \"1\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("app_kee"), "{e:#}");
        let e = parse("[shops.a]\nplatform = \"taobao-tw\"\nappid = \"1\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("does not apply"), "{e:#}");
        assert!(format!("{e:#}").contains("their keys: app_key"), "{e:#}");
        let e = parse("[shops.a]\nplatform = \"taobao-tw\"\napp_kee = \"1\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("unknown key `app_kee`"), "{e:#}");
        assert!(format!("{e:#}").contains("test.toml, line 3"), "{e:#}");
        let e = parse("[shops.a]\nplatform = \"taobao-enhanced\"\nsysid = 100\n").unwrap_err();
        assert!(format!("{e:#}").contains("key `sysid`"), "{e:#}");
        let e = parse("[shops.a]\nplatform = \"shopee\"\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("taobao-tw, taobao-enhanced"),
            "{e:#}"
        );
    }

    #[derive(Deserialize)]
    struct Secrets {
        app_secret: Option<SecretRef>,
        access_token: Option<SecretRef>,
    }

    #[test]
    fn secrets_resolve_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "from-file\n").unwrap();
        let text = "[shops.a]\nplatform = \"taobao-tw\"\napp_secret = { file = \"s.txt\" }\n\
                    access_token = { env = \"ORDERSYNC_TEST_UNSET_VAR\" }\n";
        let c = Config::parse(
            text,
            &dir.path().join("c.toml"),
            &crate::platforms::shop_kinds(),
        )
        .unwrap();
        let s = &c.shops[0];
        use secrecy::ExposeSecret;
        let r: Secrets = s.keys().unwrap();
        assert_eq!(
            s.secret("app_secret", &r.app_secret)
                .unwrap()
                .expose_secret(),
            "from-file"
        );
        let e = s.secret("access_token", &r.access_token).unwrap_err();
        assert!(format!("{e:#}").contains("ORDERSYNC_TEST_UNSET_VAR"));
        let e = parse("[shops.a]\nplatform = \"taobao-tw\"\napp_secret = { envv = \"X\" }\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("a secret must be"), "{e:#}");
    }

    #[test]
    fn plain_http_needs_loopback_or_opt_in() {
        let e = parse("[shops.a]\nplatform = \"vvtool\"\nbase_url = \"http://api.example.com\"\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("allow_http"));
        assert!(parse("[shops.a]\nplatform = \"vvtool\"\nbase_url = \"http://api.example.com\"\nallow_http = true\n").is_ok());
        assert!(
            parse("[shops.a]\nplatform = \"vvtool\"\nbase_url = \"http://127.0.0.1:9/x\"\n")
                .is_ok()
        );
    }
}
