//! `ordersync config check --online --shop NAME --probe-signature`: which of the five
//! candidate signature schemes the server accepts.
//!
//! PandaPon does not publish its signature formula, so a shop whose requests are refused may
//! simply need another `signature_scheme`. The probe signs one cheap request (page 1, page size
//! 1, the last half hour) with each scheme in turn and sorts the answers: accepted, refused as
//! authentication (the signature, or whatever else the gateway checks first), or no verdict (a
//! network or server failure, which says nothing about the scheme).

use super::{Pandapon, Scheme};
use crate::config::Shop;
use crate::error::{ErrorClass, PlatformError};
use crate::platforms::hooks::{SendPage, SignatureProbe};
use crate::platforms::{Adapter, By, ListPage, PageQuery, Window};
use chrono::{Duration, Utc};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// What the server said to one scheme.
#[derive(Debug)]
pub enum Verdict {
    Accepted,
    /// Refused as authentication or permission.
    Refused(PlatformError),
    /// Any other failure: no verdict on the scheme.
    Unknown(PlatformError),
}

/// The probe's findings for one shop.
#[derive(Debug)]
pub struct Probe {
    pub shop: String,
    pub platform: &'static str,
    /// The scheme the shop's config selects.
    pub configured: Scheme,
    pub verdicts: Vec<(Scheme, Verdict)>,
}

/// Sign one page-size-1 request with every scheme and record the answers; `send` sends one
/// list page (the probe itself does no I/O).
pub async fn probe(
    shop: &Shop,
    send: impl AsyncFn(&Pandapon, &PageQuery) -> Result<ListPage, PlatformError>,
) -> anyhow::Result<Probe> {
    let base = Pandapon::from_shop(shop)?;
    let configured = base.scheme();
    let platform = base.spec().id;
    let now = Utc::now();
    let q = PageQuery {
        window: Window {
            start: now - Duration::minutes(30),
            end: now - Duration::minutes(2),
        },
        by: By::Created,
        status: None,
        page: 1,
        page_size: 1,
    };
    let mut verdicts = Vec::with_capacity(Scheme::ALL.len());
    let mut adapter = base;
    for scheme in Scheme::ALL {
        adapter = adapter.with_scheme(scheme);
        let answer = send(&adapter, &q).await;
        verdicts.push((
            scheme,
            match answer {
                Ok(_) => Verdict::Accepted,
                Err(e) if e.class() == ErrorClass::Auth => Verdict::Refused(e),
                Err(e) => Verdict::Unknown(e),
            },
        ));
    }
    Ok(Probe {
        shop: shop.name.clone(),
        platform,
        configured,
        verdicts,
    })
}

impl Probe {
    /// The scheme to keep: the configured one when it was accepted, else the first accepted.
    pub fn keep(&self) -> Option<Scheme> {
        let accepted = |s: &Scheme| {
            self.verdicts
                .iter()
                .any(|(x, v)| x == s && matches!(v, Verdict::Accepted))
        };
        std::iter::once(self.configured)
            .chain(Scheme::ALL)
            .find(accepted)
    }

    /// `Ok` when a scheme was accepted; else the error that decides the exit code (3 when every
    /// scheme was refused, 4 when a failure left some scheme without a verdict).
    pub fn into_result(self) -> anyhow::Result<()> {
        if self.keep().is_some() {
            return Ok(());
        }
        let message = format!(
            "shop {:?}: the server accepted none of the signature schemes; check access_key, \
             secret_key and user_id",
            self.shop
        );
        let mut refused = None;
        for (_, v) in self.verdicts {
            match v {
                Verdict::Unknown(e) => return Err(anyhow::Error::new(e).context(message)),
                Verdict::Refused(e) => refused = refused.or(Some(e)),
                Verdict::Accepted => {}
            }
        }
        Err(match refused {
            Some(e) => anyhow::Error::new(e).context(message),
            None => anyhow::anyhow!(message),
        })
    }
}

/// The platform's own words for a failure, without the hint on switching schemes (the probe
/// is that switching).
fn short(e: &PlatformError) -> String {
    match e {
        PlatformError::Api { code, message, .. } => format!("code {code}: {message}"),
        other => other.to_string(),
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "shop {:?} ({}): one request (page size 1) signed with each scheme:",
            self.shop, self.platform
        )?;
        for (scheme, verdict) in &self.verdicts {
            let mark = if *scheme == self.configured {
                "  (configured)"
            } else {
                ""
            };
            let what = match verdict {
                Verdict::Accepted => "accepted".to_string(),
                Verdict::Refused(e) => format!("refused ({})", short(e)),
                Verdict::Unknown(e) => format!("no verdict ({})", short(e)),
            };
            writeln!(f, "  {:<17} {what}{mark}", scheme.name())?;
        }
        match self.keep() {
            Some(s) => {
                writeln!(f, "keep this line in [shops.{}]:", self.shop)?;
                writeln!(f, "signature_scheme = \"{s}\"")
            }
            None => writeln!(f, "no scheme was accepted"),
        }
    }
}

/// The registry's `probe_signature` hook of both PandaPon entries: the probe, sent through
/// the command's transport.
pub fn hook<'a>(
    shop: &'a Shop,
    send: &'a dyn SendPage,
) -> Pin<Box<dyn Future<Output = anyhow::Result<SignatureProbe>> + 'a>> {
    Box::pin(async move {
        let found = probe(shop, async |a, q| send.send(a, q).await).await?;
        Ok(SignatureProbe {
            report: found.to_string(),
            outcome: found.into_result(),
        })
    })
}
