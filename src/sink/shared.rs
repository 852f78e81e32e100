//! One output shared by the shops of a run pulled at once (`pull --all`).
//!
//! Each shop writes through its own [`ShopWriter`]; every order is written whole while the
//! shared sink is held, so orders from different shops interleave only between orders: an
//! NDJSON line, a JSON array element and all the CSV rows of one order are never cut by
//! another shop's. The document itself (the JSON array's brackets, the CSV header) is the one
//! sink's, begun once and finished once, when the run commits it.

use super::{Sink, SinkOutput};
use crate::model::Order;
use std::io;
use std::sync::{Mutex, MutexGuard};

/// A sink the shops of one run write into, one whole order at a time.
pub struct Shared {
    sink: Mutex<Box<dyn SinkOutput + Send>>,
}

impl Shared {
    pub fn new(sink: Box<dyn SinkOutput + Send>) -> Shared {
        Shared {
            sink: Mutex::new(sink),
        }
    }

    /// A writer for one shop's pull.
    pub fn writer(&self) -> ShopWriter<'_> {
        ShopWriter {
            shared: self,
            written: 0,
        }
    }

    /// The sink, to be committed (or dropped, which leaves no file) once every shop is done.
    pub fn into_inner(self) -> Box<dyn SinkOutput + Send> {
        self.sink.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn SinkOutput + Send>> {
        // A shop whose write panicked while holding it left at worst a whole order or none
        // (each write is one `write_all` into a buffer); the others carry on.
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One shop's way into a [`Shared`] sink; counts what it wrote.
pub struct ShopWriter<'a> {
    shared: &'a Shared,
    written: u64,
}

impl ShopWriter<'_> {
    /// Orders this shop has written so far (also when its pull then failed).
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Sink for ShopWriter<'_> {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        self.shared.lock().write(order)?;
        self.written += 1;
        Ok(())
    }
    fn write_change(&mut self, order: &Order, change: &str, seq: i64) -> io::Result<()> {
        self.shared.lock().write_change(order, change, seq)?;
        self.written += 1;
        Ok(())
    }
    fn takes_json(&self) -> bool {
        self.shared.lock().takes_json()
    }
    fn write_change_json(&mut self, json: &[u8], change: &str, seq: i64) -> io::Result<()> {
        self.shared.lock().write_change_json(json, change, seq)?;
        self.written += 1;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.shared.lock().flush()
    }
    /// The shared document is finished once, by the run, not by each shop.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CsvMode, Format, Output, make};
    use super::*;
    use crate::model::{Amount, OrderLine, Party, Receiver, Status, Timestamp};

    fn order(shop: &str, n: usize, lines: usize) -> Order {
        Order {
            platform: "vvtool".into(),
            shop: shop.into(),
            order_id: format!("{shop}-{n}"),
            source_order_id: None,
            status: Status::Paid,
            platform_status: "paid".into(),
            created_at: Timestamp::from_epoch_millis(1_592_988_843_859),
            updated_at: None,
            paid_at: None,
            currency: "CNY".into(),
            total: Some(Amount::parse("10.50").unwrap()),
            shipping_fee: None,
            discount: None,
            buyer: Party::default(),
            seller: Party::default(),
            // Long and multi-line, so that a torn write would show.
            receiver: Receiver {
                address: Some(format!("{}\nline two", "x".repeat(3000))),
                ..Receiver::default()
            },
            buyer_message: None,
            seller_memo: None,
            lines: (0..lines)
                .map(|i| OrderLine {
                    line_id: format!("{shop}-{n}-{i}"),
                    product_id: None,
                    sku_id: None,
                    title: "t".into(),
                    sku_properties: vec![],
                    quantity: 1,
                    unit_price: None,
                    total: None,
                    status: None,
                    platform_status: None,
                    refund_status: None,
                    carrier: None,
                    tracking_number: None,
                    image_url: None,
                })
                .collect(),
        }
    }

    /// Writers on several threads: every order comes out whole, and each shop's own orders
    /// keep their order.
    fn written_by_threads(format: Format) -> (String, Vec<u64>) {
        let shared = Shared::new(make(
            format,
            CsvMode::Lines,
            false,
            Output::Memory(Vec::new()),
        ));
        let counts = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let shared = &shared;
                    s.spawn(move || {
                        let mut w = shared.writer();
                        for n in 0..200 {
                            w.write(&order(&format!("s{t}"), n, 1 + n % 3)).unwrap();
                            if n % 50 == 0 {
                                w.flush().unwrap();
                            }
                        }
                        w.written()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let text = match shared.into_inner().into_output().unwrap() {
            Output::Memory(v) => String::from_utf8(v).unwrap(),
            _ => unreachable!("memory output"),
        };
        (text, counts)
    }

    #[test]
    fn ndjson_from_several_shops_is_whole_lines() {
        let (text, counts) = written_by_threads(Format::Ndjson);
        assert_eq!(counts, vec![200; 4]);
        let mut next = [0usize; 4];
        for line in text.lines() {
            let o: serde_json::Value = serde_json::from_str(line).expect("a whole order per line");
            let shop = o["shop"].as_str().unwrap();
            let t: usize = shop[1..].parse().unwrap();
            assert_eq!(o["order_id"], format!("{shop}-{}", next[t]));
            next[t] += 1;
        }
        assert_eq!(next, [200; 4]);
    }

    #[test]
    fn json_from_several_shops_is_one_array() {
        let (text, _) = written_by_threads(Format::Json);
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(v.len(), 800);
    }

    #[test]
    fn csv_rows_of_one_order_stay_together_under_one_header() {
        let (text, _) = written_by_threads(Format::Csv);
        assert_eq!(text.matches("platform,shop,order_id").count(), 1);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let h = r.headers().unwrap().clone();
        let id = h.iter().position(|c| c == "order_id").unwrap();
        let rows: Vec<::csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        // 200 orders per shop of 1, 2 and 3 lines in turn: 67 + 67 * 2 + 66 * 3 rows.
        assert_eq!(rows.len(), 4 * (67 + 67 * 2 + 66 * 3));
        // An order's rows are contiguous: once another order's row is seen, it never returns.
        let mut finished = std::collections::HashSet::new();
        let mut current = String::new();
        for row in &rows {
            if row[id] != current {
                assert!(finished.insert(current.clone()), "{current} split");
                current = row[id].to_string();
                assert!(!finished.contains(&current), "{current} split");
            }
        }
    }
}
