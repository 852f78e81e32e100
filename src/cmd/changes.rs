//! `ordersync changes`: replay the mirror's change feed after a seq, without calling a
//! platform. Each entry carries the order as the mirror holds it now.

use crate::cli::ChangesArgs;
use crate::sink::Format;
use crate::store::{Change, DbUrl};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::Write;

/// Entries read per query.
const BATCH: u64 = 5_000;

pub(super) async fn changes(args: ChangesArgs) -> Result<()> {
    let json = match args.format {
        None | Some(Format::Ndjson) => false,
        Some(Format::Json) => true,
        Some(Format::Csv) => {
            return Err(crate::error::usage(
                "changes are written as ndjson or json (each carries its whole order)",
            ));
        }
    };
    if args.after < 0 {
        return Err(crate::error::usage("--after takes a seq, 0 or more"));
    }
    let url = DbUrl::parse(&args.db)?;
    let store = crate::store::open_for_reading(&url).await?;
    crate::logging::set_stdout_is_data(true);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut after = args.after;
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut written = 0u64;
    if json {
        out.write_all(b"[")?;
    }
    while left > 0 {
        let batch = store
            .changes_after(args.shop.as_deref(), after, left.min(BATCH))
            .await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.seq;
        left -= batch.len() as u64;
        let docs = documents(store.as_ref(), &batch).await?;
        for c in &batch {
            if json {
                out.write_all(if written == 0 { b"\n" } else { b",\n" })?;
            }
            write_entry(&mut out, c, docs.get(&(c.shop.clone(), c.order_id.clone())))?;
            if !json {
                out.write_all(b"\n")?;
            }
            written += 1;
        }
    }
    if json {
        out.write_all(if written == 0 { b"]\n" } else { b"\n]\n" })?;
    }
    out.flush().context("cannot write the changes to stdout")?;
    store.close().await?;
    Ok(())
}

/// The current documents of a batch's orders, by (shop, order id).
async fn documents(
    store: &dyn crate::store::Store,
    batch: &[Change],
) -> Result<HashMap<(String, String), String>> {
    let mut ids: HashMap<&str, Vec<String>> = HashMap::new();
    for c in batch {
        ids.entry(c.shop.as_str())
            .or_default()
            .push(c.order_id.clone());
    }
    let mut docs = HashMap::new();
    for (shop, ids) in ids {
        for (id, doc) in store.documents(shop, &ids).await? {
            docs.insert((shop.to_string(), id), doc);
        }
    }
    Ok(docs)
}

/// One entry: the feed's keys, then `"order"` with the stored document as it is.
fn write_entry(out: &mut impl Write, c: &Change, doc: Option<&String>) -> Result<()> {
    let mut head = serde_json::to_vec(c)?;
    head.pop();
    out.write_all(&head)?;
    out.write_all(b",\"order\":")?;
    out.write_all(doc.map_or("null", |d| d.as_str()).as_bytes())?;
    out.write_all(b"}")?;
    Ok(())
}
