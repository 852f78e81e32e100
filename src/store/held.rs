//! A window's orders as a `--db` pull holds them until the window commits: each one as the
//! JSON document the mirror stores (what `serde_json` makes of the [`Order`]), end to end in
//! one string, with its id beside it.
//!
//! Why not the orders themselves: two windows are held at once (one commits while the next is
//! scanned), and an [`Order`] with its dozens of small strings takes about 2.7 KB where its
//! document takes about 1.6 (issue 18: what a dense shop's full windows hold is a pull's
//! growth in memory over a small shop's). The document is what staging needs anyway; the
//! [`Order`] is read back from it ([`order_from_doc`], the reader `export` uses) where a
//! column or the output needs one, one at a time.

use super::export::order_from_doc;
use crate::model::Order;
use anyhow::Result;
use std::ops::Range;

/// A window's orders, in the order they were emitted.
#[derive(Debug, Default)]
pub struct HeldOrders {
    text: String,
    items: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    id: Range<usize>,
    doc: Range<usize>,
}

impl HeldOrders {
    /// Hold these orders (tests, and callers that have them at hand).
    pub fn of(orders: &[Order]) -> Result<HeldOrders> {
        let mut held = HeldOrders::default();
        for o in orders {
            held.push(o)?;
        }
        Ok(held)
    }

    /// Add one order after the others.
    pub fn push(&mut self, order: &Order) -> serde_json::Result<()> {
        let doc = serde_json::to_string(order)?;
        let start = self.text.len();
        self.text.push_str(&order.order_id);
        let id = start..self.text.len();
        self.text.push_str(&doc);
        let doc = id.end..self.text.len();
        self.items.push(Held { id, doc });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `index`th order's id.
    pub fn id(&self, index: usize) -> &str {
        &self.text[self.items[index].id.clone()]
    }

    /// The `index`th order's document, as the mirror stores it.
    pub fn doc(&self, index: usize) -> &str {
        &self.text[self.items[index].doc.clone()]
    }

    /// The `index`th order, read back from its document.
    pub fn order(&self, index: usize) -> Result<Order> {
        order_from_doc(self.doc(index))
            .map_err(|e| e.context(format!("order {} does not read back", self.id(index))))
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
        let held = HeldOrders::of(&orders).unwrap();
        assert_eq!(held.len(), 4);
        for (i, o) in orders.iter().enumerate() {
            assert_eq!(held.id(i), o.order_id);
            assert_eq!(held.doc(i), serde_json::to_string(o).unwrap());
            assert_eq!(&held.order(i).unwrap(), o);
        }
        assert!(HeldOrders::default().is_empty());
    }
}
