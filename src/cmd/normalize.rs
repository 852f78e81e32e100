//! `ordersync normalize`: a saved answer, read by the platform's reader, written to a sink.

use crate::cli::NormalizeArgs;
use crate::error::usage;
use crate::platforms::{Deferred, PlatformId};
use crate::sink::{self, Output};
use anyhow::{Context, Result};
use std::io::Read;

/// Read a whole file. A big one is read by two threads, a half each, into one buffer: copying
/// 100 MB from the page cache and touching each new page of the buffer took a tenth of a
/// `normalize` run, on one core while the other waited.
fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    const SPLIT_FROM: u64 = 16 << 20;
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut body = Vec::new();
    #[cfg(unix)]
    if meta.is_file()
        && meta.len() >= SPLIT_FROM
        && let Ok(size) = usize::try_from(meta.len())
    {
        use std::os::unix::fs::FileExt;
        body = vec![0u8; size];
        let (first, second) = body.split_at_mut(size / 2);
        std::thread::scope(|s| {
            let other = s.spawn(|| file.read_exact_at(second, (size / 2) as u64));
            let mine = file.read_exact_at(first, 0);
            mine.and(
                other
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a reading thread failed"))),
            )
        })?;
        // Then whatever was appended since the size was taken.
        file.seek(SeekFrom::Start(meta.len()))?;
    }
    file.read_to_end(&mut body)?;
    Ok(body)
}

pub(super) fn normalize(args: NormalizeArgs) -> Result<()> {
    use crate::platforms::pandapon::{self, AmountUnit};
    let unit = match args.amount_unit.as_deref() {
        None => None,
        Some(_) if args.platform != PlatformId::PandaponTaobao => {
            return Err(usage(
                "--amount-unit applies to --platform pandapon-taobao only (the other platforms \
                 document their amounts)",
            ));
        }
        Some(u) => Some(AmountUnit::parse(u).ok_or_else(|| usage(format!("--amount-unit {u:?}")))?),
    };
    let mut body = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read stdin")?;
    } else {
        body = read_file(&args.file)
            .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?;
    }
    let out = Output::open(None)?;
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, false, None)?;
    // Reading orders and writing them take about the same time: the writing (and, where the
    // platform's reader allows, the normalizing) runs on a second thread, fed in batches, so a
    // large file is written while the rest of it is read. Batches of 1,024 wake the writer
    // seldom; two of them queued keep it busy without holding much of the file's orders.
    const BATCH: usize = 1024;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            let mut sink = sink::make(format, csv_mode, false, out);
            for batch in rx {
                match batch {
                    Batch::Orders(orders) => {
                        for o in orders {
                            match o() {
                                Ok(o) => sink.write(&o)?,
                                Err(e) => {
                                    // As when the reader fails: what came before stays.
                                    sink.flush()?;
                                    return Err(file_error(e));
                                }
                            }
                        }
                    }
                    Batch::End => return sink.commit(),
                }
            }
            // The reader failed: keep what was written, without closing a JSON array, so a
            // partial output never looks whole.
            Ok(sink.flush()?)
        });
        let mut batch = Vec::with_capacity(BATCH);
        let mut emitted = 0usize;
        let mut emit = |o| {
            emitted += 1;
            batch.push(o);
            if batch.len() < BATCH {
                return true;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            // A send fails only once the writer has stopped; its error is reported below.
            tx.send(Batch::Orders(full)).is_ok()
        };
        let read = match unit {
            Some(unit) => {
                pandapon::normalize_saved_each_in(args.platform, &body, &args.shop, unit, &mut emit)
            }
            None => {
                crate::platforms::normalize_saved_each(args.platform, &body, &args.shop, &mut emit)
            }
        };
        // No order at all: say so if the answer is another platform's (the reader of one
        // platform may find nothing it knows in another's answer, and would print nothing).
        let read = match read {
            Ok(()) if emitted == 0 => match looks_like(args.platform, &body) {
                Some((other, n)) => Err(crate::error::PlatformError::Request {
                    platform: args.platform.as_str(),
                    message: format!(
                        "this is not a {} answer: it reads as a {other} answer ({n} orders); \
                         use --platform {other}",
                        args.platform.as_str()
                    ),
                }),
                None => Ok(()),
            },
            other => other,
        };
        if read.is_ok() {
            let _ = tx.send(Batch::Orders(batch));
            let _ = tx.send(Batch::End);
        }
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the output thread stopped unexpectedly")));
        // The writer's error comes first: it is about an earlier order than the reader's.
        written?;
        read.map_err(file_error)
    })
}

/// A saved file is not a network answer: what would be retried on the wire (a garbled or
/// cut-off body: exit 4, "try again") is simply a bad file here, exit 1.
fn file_error(e: crate::error::PlatformError) -> anyhow::Error {
    if e.is_transient() {
        anyhow::Error::msg(e.to_string())
    } else {
        e.into()
    }
}

/// What `normalize`'s reader hands its writer.
enum Batch<'a> {
    Orders(Vec<Deferred<'a>>),
    /// Everything was read: finish the output.
    End,
}

/// The platform whose reader finds orders in `body`, other than `platform`, with how many.
fn looks_like(platform: PlatformId, body: &[u8]) -> Option<(&'static str, usize)> {
    crate::platforms::PLATFORMS
        .iter()
        .filter(|p| p.id != platform)
        .find_map(|p| {
            let orders = crate::platforms::normalize_saved(p.id, body, "-").ok()?;
            (!orders.is_empty()).then_some((p.spec.id, orders.len()))
        })
}
