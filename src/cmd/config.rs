//! `ordersync config check`: load the config, resolve secrets, optionally call each shop
//! (and, through a platform's `probe_signature` hook, probe which signature scheme the server
//! accepts).

use super::{adapter, remember_secrets, transport};
use crate::config::Config;
use crate::error::{PlatformError, usage};
use crate::net::Transport;
use crate::platforms::hooks::{self, SendPage};
use crate::platforms::{Adapter, By, ByMode, ListPage, PageQuery, PlatformId};
use anyhow::Result;
use chrono::{Duration, Utc};
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::time::Duration as StdDuration;

/// `config check --online --shop NAME --probe-signature`: the shop's platform's
/// `probe_signature` hook, sent through a transport of this command's.
pub(super) async fn probe_signature_scheme(
    config: Option<std::path::PathBuf>,
    online: bool,
    shop: Option<&str>,
) -> Result<()> {
    let mut out = std::io::stdout();
    let offering = || hooks::offering(|p| p.probe_signature.is_some());
    let (true, Some(name)) = (online, shop) else {
        return Err(usage(format!(
            "--probe-signature sends requests, so it needs --online, and --shop NAME naming a \
             shop of a platform that offers it ({})",
            offering()
        )));
    };
    let config = remember_secrets(Config::load(
        config.as_deref(),
        &crate::platforms::shop_kinds(),
    )?);
    let shop = config.pick(Some(name), None)?;
    let Some(probe) = shop.platform.platform().probe_signature else {
        return Err(usage(format!(
            "--probe-signature applies to shops of {} only: shop {name:?} is {}, whose \
             signature is documented",
            offering(),
            shop.platform
        )));
    };
    let t = transport(shop, None, StdDuration::from_secs(15), 2, None)?;
    let found = probe(shop, &Bare(&t)).await?;
    write!(out, "{}", crate::logging::redact(&found.report))?;
    found.outcome
}

/// Sends a hook's pages as they come, through `config check`'s transport.
struct Bare<'t>(&'t Transport);

impl SendPage for Bare<'_> {
    fn send<'a>(
        &'a self,
        adapter: &'a dyn Adapter,
        q: &'a PageQuery,
    ) -> Pin<Box<dyn Future<Output = Result<ListPage, PlatformError>> + 'a>> {
        Box::pin(crate::sync::sender::bare_page(adapter, self.0, q))
    }
}

pub(super) async fn config_check(
    config: Option<std::path::PathBuf>,
    online: bool,
    only: Option<&str>,
) -> Result<()> {
    let mut out = std::io::stdout();
    let config = remember_secrets(Config::load(
        config.as_deref(),
        &crate::platforms::shop_kinds(),
    )?);
    let redact = |e: &anyhow::Error| crate::logging::redact(&format!("{e:#}"));
    if let Some(name) = only {
        config.pick(Some(name), None)?;
    }
    writeln!(
        out,
        "config file {}: {} shop(s)",
        config.path.display(),
        config.shops.len()
    )?;
    let mut bad = 0;
    for shop in config
        .shops
        .iter()
        .filter(|s| only.is_none_or(|n| s.name == n))
    {
        let built: Result<()> = adapter(shop).map(drop);
        match built {
            Ok(()) => writeln!(
                out,
                "  {} ({}): ok, base url {}",
                shop.name, shop.platform, shop.base_url
            )?,
            Err(e) => {
                bad += 1;
                writeln!(out, "  {} ({}): {}", shop.name, shop.platform, redact(&e))?;
                continue;
            }
        }
        if online {
            match check_online(shop).await {
                Ok(()) => writeln!(out, "    online: a signed request succeeded")?,
                Err(e) => {
                    bad += 1;
                    writeln!(out, "    online: {}", redact(&e))?;
                }
            }
        }
    }
    if bad > 0 {
        return Err(usage(format!(
            "{bad} problem(s) in {}",
            config.path.display()
        )));
    }
    Ok(())
}

/// One cheap signed request (a page of one order) for `shop`. Every failure is returned, so
/// that the other shops are still checked and reported.
async fn check_online(shop: &crate::config::Shop) -> Result<()> {
    let t = transport(shop, None, StdDuration::from_secs(15), 1, None)?;
    let now = Utc::now();
    let plan_window = crate::platforms::Window {
        start: now - Duration::minutes(30),
        end: now - Duration::minutes(2),
    };
    let a = adapter(shop)?;
    let by = match a.spec().by_modified {
        ByMode::Native { .. } => By::Modified,
        _ => By::Created,
    };
    let q = crate::platforms::PageQuery {
        window: plan_window,
        by,
        status: None,
        page: 1,
        page_size: 1,
    };
    crate::sync::sender::credentials_due(a.as_ref(), &t).await?;
    crate::sync::sender::bare_page(a.as_ref(), &t, &q)
        .await
        .map(|_| ())
        .map_err(anyhow::Error::from)
}

/// The commented example config; `config init` takes its header and the shops of the
/// platforms asked for, so the example and what `init` writes cannot drift apart.
const EXAMPLE: &str = include_str!("../../config.example.toml");

/// `config init`: a commented config with one shop per platform asked for (all when none).
pub(super) fn config_init(
    platforms: &[PlatformId],
    output: Option<&std::path::Path>,
    force: bool,
) -> Result<()> {
    let mut wanted: Vec<PlatformId> = Vec::new();
    for p in if platforms.is_empty() {
        &PlatformId::ALL[..]
    } else {
        platforms
    } {
        if !wanted.contains(p) {
            wanted.push(*p);
        }
    }
    let text = example_for(&wanted)?;
    let Some(path) = output.filter(|p| *p != std::path::Path::new("-")) else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(());
    };
    write_new_private(path, text.as_bytes(), force)?;
    eprintln!(
        "wrote {}: fill in the credentials, then run `ordersync config check --config {}`",
        path.display(),
        path.display()
    );
    Ok(())
}

/// The example's header and its shops of `wanted`, in the order asked.
fn example_for(wanted: &[PlatformId]) -> Result<String> {
    let first = EXAMPLE.find("\n[shops.").map_or(EXAMPLE.len(), |i| i + 1);
    let (header, rest) = EXAMPLE.split_at(first);
    let mut sections: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, _) in rest.match_indices("\n[shops.") {
        sections.push(&rest[start..=i]);
        start = i + 1;
    }
    sections.push(&rest[start..]);
    let mut text = header.to_string();
    for (n, p) in wanted.iter().enumerate() {
        let line = format!("platform = \"{p}\"");
        let section = sections
            .iter()
            .find(|s| s.lines().any(|l| l.trim() == line))
            .ok_or_else(|| anyhow::anyhow!("no example shop for {p} in config.example.toml"))?;
        if n > 0 && !text.ends_with("\n\n") {
            text.push('\n');
        }
        text.push_str(section.trim_end());
        text.push('\n');
    }
    Ok(text)
}

/// Create `path` readable by its owner only (it will hold credentials), refusing to replace
/// an existing file unless `force`.
fn write_new_private(path: &std::path::Path, bytes: &[u8], force: bool) -> Result<()> {
    use anyhow::Context;
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            usage(format!(
                "{} exists already: pass --force to replace it, or choose another --output",
                path.display()
            ))
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered platform has an example shop, and what `init` writes for it parses
    /// as a config of that platform alone.
    #[test]
    fn init_writes_a_shop_for_each_platform_asked_for() {
        for p in PlatformId::ALL {
            let text = example_for(&[p]).unwrap();
            let c = Config::parse(
                &text,
                std::path::Path::new("init.toml"),
                &crate::platforms::shop_kinds(),
            )
            .unwrap_or_else(|e| panic!("{p}: {e:#}\n{text}"));
            let got: Vec<PlatformId> = c.shops.iter().map(|s| s.platform).collect();
            assert_eq!(got, vec![p], "{text}");
            assert!(text.starts_with("# ordersync configuration"), "{text}");
        }
        let two = example_for(&[PlatformId::Vvtool, PlatformId::TaobaoTw]).unwrap();
        let c = Config::parse(
            &two,
            std::path::Path::new("init.toml"),
            &crate::platforms::shop_kinds(),
        )
        .unwrap();
        assert_eq!(c.shops.len(), 2);
        assert!(two.find("vvtool").unwrap() < two.find("taobao-tw").unwrap());
    }
}
