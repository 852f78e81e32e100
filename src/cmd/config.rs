//! `ordersync config check`: load the config, resolve secrets, optionally call each shop
//! (and, for PandaPon, probe which signature scheme the server accepts).

use super::{adapter, remember_secrets, transport};
use crate::config::Config;
use crate::error::usage;
use crate::platforms::{By, ByMode, PlatformId};
use anyhow::Result;
use chrono::{Duration, Utc};
use std::io::Write;
use std::time::Duration as StdDuration;

/// `config check --online --shop NAME --probe-signature` (PandaPon only).
pub(super) async fn probe_signature_scheme(
    config: Option<std::path::PathBuf>,
    online: bool,
    shop: Option<&str>,
) -> Result<()> {
    let mut out = std::io::stdout();
    let (true, Some(name)) = (online, shop) else {
        return Err(usage(
            "--probe-signature sends requests, so it needs --online, and --shop NAME naming a \
             PandaPon shop (pandapon-taobao or pandapon-1688)",
        ));
    };
    let config = remember_secrets(Config::load(
        config.as_deref(),
        &crate::platforms::shop_kinds(),
    )?);
    let shop = config.pick(Some(name), None)?;
    if !matches!(
        shop.platform,
        PlatformId::PandaponTaobao | PlatformId::Pandapon1688
    ) {
        return Err(usage(format!(
            "--probe-signature applies to PandaPon shops (pandapon-taobao, pandapon-1688) only: \
             shop {name:?} is {}, whose signature is documented",
            shop.platform
        )));
    }
    let t = transport(shop, None, StdDuration::from_secs(15), 2, None)?;
    let probe = crate::platforms::pandapon::probe::probe(shop, async |a, q| {
        crate::sync::sender::bare_page(a, &t, q).await
    })
    .await?;
    write!(out, "{}", crate::logging::redact(&probe.to_string()))?;
    probe.into_result()
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
