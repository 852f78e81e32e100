//! A window's orders as a `--db` pull holds them until the window commits: each one as the
//! JSON document the mirror stores (what `serde_json` makes of the [`Order`]), with its id.
//!
//! Why documents: the document is what staging writes, and it takes about 1.6 KB where an
//! [`Order`] with its dozens of small strings takes 2.7. The [`Order`] is read back from it
//! ([`order_from_doc`], the reader `export` uses) where a column or the output needs one, one
//! at a time.
//!
//! Why a temporary file: two windows are held at once (one commits while the next is
//! scanned), and a dense shop's windows are full (800 orders, `store::run::WINDOW_ORDERS`)
//! where a sparse shop's hold a few hundred. Held in memory, that difference was most of a
//! pull's growth from 10,000 to a million orders (issue 18). Past `IN_MEMORY` bytes the
//! documents go to an unnamed temporary file, which the system removes however the process
//! ends, and which no other user can open (no name, mode 0600; `TMPDIR` says where it is
//! made). The pages it writes are the kernel's cache, not the process's memory.

use super::export::order_from_doc;
use crate::model::Order;
use anyhow::{Context, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::Mutex;

/// How much of a window's documents stays in memory (about 40 orders): past this it goes to
/// the temporary file, in pieces of about this size.
const IN_MEMORY: usize = 64 * 1024;

/// A window's orders, in the order they were emitted.
#[derive(Debug, Default)]
pub struct HeldOrders {
    /// The ids, end to end.
    ids: String,
    items: Vec<Held>,
    /// The documents, end to end: the first `spilled` bytes in `file`, the rest in `tail`.
    tail: String,
    spilled: u64,
    /// Locked for each read or write: both move the file's offset.
    file: Option<Mutex<File>>,
    /// Set when the temporary file could not be made or written: the rest stays in memory.
    in_memory_only: bool,
}

#[derive(Debug)]
struct Held {
    id: Range<usize>,
    doc: Range<u64>,
}

impl HeldOrders {
    /// Hold these orders (tests, and callers that have them at hand).
    pub fn of(orders: &[Order]) -> HeldOrders {
        let mut held = HeldOrders::default();
        for o in orders {
            held.push(o);
        }
        held
    }

    /// Add one order after the others.
    pub fn push(&mut self, order: &Order) {
        let start = self.spilled + self.tail.len() as u64;
        let at = self.tail.len();
        crate::model::write_order(&mut self.tail, order);
        let len = (self.tail.len() - at) as u64;
        let id_start = self.ids.len();
        self.ids.push_str(&order.order_id);
        self.items.push(Held {
            id: id_start..self.ids.len(),
            doc: start..start + len,
        });
        if self.tail.len() >= IN_MEMORY {
            self.spill();
        }
    }

    /// Move the text in memory to the temporary file. Should that fail, the window stays in
    /// memory from there on: it only takes more memory, nothing is lost.
    fn spill(&mut self) {
        if self.in_memory_only {
            return;
        }
        if self.file.is_none() {
            // Unnamed: the system removes it when it is closed, or the process killed.
            match tempfile::tempfile() {
                Ok(f) => self.file = Some(Mutex::new(f)),
                Err(e) => return self.refuse(&e),
            }
        }
        let Some(f) = self.file.as_mut() else {
            return;
        };
        let f = f.get_mut().unwrap_or_else(|e| e.into_inner());
        // Written at its offset: a failed write leaves what was spilled before whole.
        let written = f
            .seek(SeekFrom::Start(self.spilled))
            .and_then(|_| f.write_all(self.tail.as_bytes()));
        match written {
            Ok(()) => {
                self.spilled += self.tail.len() as u64;
                self.tail.clear();
            }
            Err(e) => self.refuse(&e),
        }
    }

    fn refuse(&mut self, e: &io::Error) {
        self.in_memory_only = true;
        // Said once a run, not once a window.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::warn!(
                "cannot write a window's orders to a temporary file ({e}; TMPDIR says where \
                 it goes): holding them in memory"
            )
        });
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `index`th order's id.
    pub fn id(&self, index: usize) -> &str {
        &self.ids[self.items[index].id.clone()]
    }

    /// The `index`th order's document, as the mirror stores it.
    pub fn doc(&self, index: usize) -> Result<Cow<'_, str>> {
        let doc = self.items[index].doc.clone();
        if doc.start >= self.spilled {
            let at = (doc.start - self.spilled) as usize..(doc.end - self.spilled) as usize;
            return Ok(Cow::Borrowed(&self.tail[at]));
        }
        let Some(f) = self.file.as_ref() else {
            anyhow::bail!("order {} was held in a file that is gone", self.id(index));
        };
        let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = vec![0; (doc.end - doc.start) as usize];
        f.seek(SeekFrom::Start(doc.start))
            .and_then(|_| f.read_exact(&mut bytes))
            .and_then(|()| String::from_utf8(bytes).map_err(io::Error::other))
            .map(Cow::Owned)
            .with_context(|| {
                format!(
                    "cannot read order {} back from the window's temporary file",
                    self.id(index)
                )
            })
    }

    /// The `index`th order, read back from its document.
    pub fn order(&self, index: usize) -> Result<Order> {
        Ok(self.read(index)?.1)
    }

    /// The `index`th order's document and the order read back from it.
    pub fn read(&self, index: usize) -> Result<(Cow<'_, str>, Order)> {
        let doc = self.doc(index)?;
        let order = order_from_doc(&doc)
            .map_err(|e| e.context(format!("order {} does not read back", self.id(index))))?;
        Ok((doc, order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn order(id: &str, memo: &str) -> Order {
        Order {
            total: Some("12.5".parse().unwrap()),
            seller_memo: Some(memo.into()),
            ..Order::sample(id)
        }
    }

    #[test]
    fn holds_each_order_as_its_document_and_gives_it_back() {
        let mut unknown = order("8", "a status no table maps");
        unknown.status = Status::Unknown;
        unknown.lines.push(crate::model::OrderLine {
            line_id: "8-1".into(),
            product_id: None,
            sku_id: None,
            title: "t".into(),
            sku_properties: Vec::new(),
            quantity: 2,
            unit_price: None,
            total: None,
            status: Some(Status::Unknown),
            platform_status: Some("WAIT_BUYER_C12377524S".into()),
            refund_status: None,
            carrier: None,
            tracking_number: None,
            image_url: None,
        });
        let orders = [
            order("7", "first \"quoted\""),
            order("十二", ""),
            unknown,
            order("7", "again"),
        ];
        let held = HeldOrders::of(&orders);
        assert_eq!(held.len(), 4);
        for (i, o) in orders.iter().enumerate() {
            assert_eq!(held.id(i), o.order_id);
            assert_eq!(held.doc(i).unwrap(), serde_json::to_string(o).unwrap());
            assert_eq!(&held.order(i).unwrap(), o);
        }
        assert!(HeldOrders::default().is_empty());
    }

    fn many(n: usize) -> Vec<Order> {
        // About 1.2 KB each: a window of them passes IN_MEMORY several times.
        (0..n)
            .map(|i| order(&format!("{i}"), &"備註 memo ".repeat(100)))
            .collect()
    }

    #[test]
    fn a_large_window_goes_to_a_file_and_reads_back_whole() {
        let orders = many(300);
        let held = HeldOrders::of(&orders);
        assert!(held.file.is_some());
        assert!(held.spilled > 2 * IN_MEMORY as u64, "{}", held.spilled);
        assert!(held.tail.len() < IN_MEMORY);
        // Out of order, as staging reads the last version of each id.
        for i in (0..orders.len()).rev() {
            assert_eq!(held.id(i), orders[i].order_id);
            let (doc, order) = held.read(i).unwrap();
            assert_eq!(doc, serde_json::to_string(&orders[i]).unwrap());
            assert_eq!(order, orders[i]);
        }
    }

    #[test]
    fn a_file_that_cannot_be_written_leaves_the_window_in_memory() {
        let orders = many(300);
        let mut held = HeldOrders::of(&orders[..100]);
        let spilled = held.spilled;
        assert!(spilled > 0);
        // The same file, opened again for reading only: the next write fails.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        let mut copy = vec![0; spilled as usize];
        let f = held.file.as_mut().unwrap().get_mut().unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_exact(&mut copy).unwrap();
        std::fs::write(&path, &copy).unwrap();
        held.file = Some(Mutex::new(File::open(&path).unwrap()));
        for o in &orders[100..] {
            held.push(o);
        }
        assert!(held.in_memory_only);
        assert_eq!(held.spilled, spilled, "nothing more went to the file");
        assert!(held.tail.len() > 2 * IN_MEMORY);
        for (i, o) in orders.iter().enumerate() {
            assert_eq!(&held.order(i).unwrap(), o);
        }
    }
}
