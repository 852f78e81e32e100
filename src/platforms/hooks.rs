//! What only some platforms offer, as optional hooks of their [`super::Platform`] entry: a
//! command asks the registry for the hook instead of naming a platform, and a platform
//! without it gets a usage error that lists those with it (see [`offering`]).
//!
//! Hooks, like adapters, do no I/O of their own: the command hands them a [`SendPage`] that
//! sends through its transport.

use super::{Adapter, ListPage, PLATFORMS, PageQuery, Platform};
use crate::config::Shop;
use crate::error::PlatformError;
use std::future::Future;
use std::pin::Pin;

/// Sends one list page as the platform answers it, without completing the page or renewing
/// credentials (`sync::sender::bare_page` through the command's transport).
pub trait SendPage {
    fn send<'a>(
        &'a self,
        adapter: &'a dyn Adapter,
        q: &'a PageQuery,
    ) -> Pin<Box<dyn Future<Output = Result<ListPage, PlatformError>> + 'a>>;
}

/// What `config check --probe-signature` found for one shop.
pub struct SignatureProbe {
    /// The findings as printed (secrets are redacted by the command before printing).
    pub report: String,
    /// `Ok` when a scheme was accepted; else the error that decides the exit code.
    pub outcome: anyhow::Result<()>,
}

/// `config check --online --shop NAME --probe-signature`: sign one cheap request with each
/// signature scheme the platform may expect and say which the server accepts (for a platform
/// that does not publish its signature formula).
pub type ProbeSignature =
    for<'a> fn(
        &'a Shop,
        &'a dyn SendPage,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<SignatureProbe>> + 'a>>;

/// The ids of the platforms that have a hook, as a usage error lists them: `has` picks the
/// hook (e.g. `|p| p.probe_signature.is_some()`).
pub fn offering(has: impl Fn(&Platform) -> bool) -> String {
    PLATFORMS
        .iter()
        .filter(|p| has(p))
        .map(|p| p.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
