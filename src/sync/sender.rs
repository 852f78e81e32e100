//! The only code that sends: it carries out what the (sans-IO) adapters ask for over a
//! [`Transport`], the way vector's `HttpClientContext` carries out a sink's requests.
//!
//! Adapters build requests and read answers; this module sends them in order, renews
//! credentials when a call is refused as unauthenticated (then retries that call once), and
//! leaves every error stamped with the platform and endpoint that the transport names. The
//! transport keeps what makes pulls fast (rate limiting, retries, bodies read in call order).

use crate::error::{ErrorClass, PlatformError};
use crate::model::Order;
use crate::net::Transport;
use crate::platforms::{Adapter, Exchange, ListPage, PageQuery};
use std::sync::Mutex;

/// Carry out an exchange to its end.
pub async fn run<'a, T>(
    t: &Transport,
    mut ex: Box<dyn Exchange<'a, T> + 'a>,
) -> Result<T, PlatformError> {
    while let Some(call) = ex.next() {
        // The transport may read an answer more than once (a garbled one is asked for again);
        // the exchange changes nothing until a read succeeds.
        let cell = Mutex::new(&mut ex);
        let sent = t
            .call(call.endpoint, call.page, &call.build, |b| {
                cell.lock().unwrap_or_else(|e| e.into_inner()).read(b)
            })
            .await;
        if let Err(e) = sent {
            return Err(ex.refused(e));
        }
    }
    ex.finish()
}

/// Run the credentials exchange due before the next call, if any.
pub async fn credentials_due<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
) -> Result<(), PlatformError> {
    match a.credentials(None) {
        Some(ex) => run(t, ex).await,
        None => Ok(()),
    }
}

/// One list page, read by `parse` (which may add checks to the adapter's own reading),
/// completed (e.g. with its lines), credentials renewed once on an `Auth` refusal.
pub async fn list_page<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    q: &PageQuery,
    parse: impl Fn(&[u8]) -> Result<ListPage, PlatformError>,
) -> Result<ListPage, PlatformError> {
    let endpoint = a.list_endpoint(q.by);
    let mut renewed = false;
    loop {
        let res = t
            .call(endpoint, Some(q.page), |now| a.list_request(q, now), &parse)
            .await;
        match res {
            Ok(p) => {
                let p = run(t, a.complete(p)).await?;
                // A token about to expire is renewed between pages.
                credentials_due(a, t).await?;
                return Ok(p);
            }
            Err(e) if e.class() == ErrorClass::Auth && !renewed => match a.credentials(Some(&e)) {
                Some(ex) => {
                    run(t, ex).await?;
                    renewed = true;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// Page 1 of a window at the smallest page size, not completed (no lines fetched): what the
/// platform says the window holds (`ordersync verify`). Credentials are renewed once on an
/// `Auth` refusal, as for any page.
pub async fn window_total<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    window: crate::platforms::Window,
    by: crate::platforms::By,
) -> Result<ListPage, PlatformError> {
    // One order per page: every platform takes it (`config check --online` asks for it too).
    let q = PageQuery {
        window,
        by,
        status: None,
        page: 1,
        page_size: 1,
    };
    credentials_due(a, t).await?;
    match bare_page(a, t, &q).await {
        Err(e) if e.class() == ErrorClass::Auth => match a.credentials(Some(&e)) {
            Some(ex) => {
                run(t, ex).await?;
                bare_page(a, t, &q).await
            }
            None => Err(e),
        },
        other => other,
    }
}

/// Named orders in full (`ordersync get`).
pub async fn lookup<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    ids: &[String],
) -> Result<Vec<Order>, PlatformError> {
    credentials_due(a, t).await?;
    run(t, a.lookup(ids)).await
}

/// One list page as the platform sends it, without completing it or renewing credentials:
/// what `config check --online` and the signature probe ask to see whether a call is accepted.
pub async fn bare_page<A: Adapter + ?Sized>(
    a: &A,
    t: &Transport,
    q: &PageQuery,
) -> Result<ListPage, PlatformError> {
    t.call(
        a.list_endpoint(q.by),
        Some(q.page),
        |now| a.list_request(q, now),
        |b| a.parse_list(b, q),
    )
    .await
}
