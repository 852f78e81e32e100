//! CSV output with fixed, documented columns.
//!
//! Rows are flat records written field by field (the csv crate's serde support cannot flatten
//! nested structs or vectors). Order columns come first, then line columns prefixed `line_`;
//! `--csv orders` writes one row per order with `line_count` instead. An order without lines
//! still gets one row (with empty line columns) so no order is dropped. RFC 4180 quoting.

use super::{Output, Sink, SinkOutput};
use crate::model::{Amount, Order, OrderLine, Timestamp};
use anyhow::Result;
use std::io::{self, Write};

/// Order columns, in order.
pub const ORDER_COLUMNS: &[&str] = &[
    "platform",
    "shop",
    "order_id",
    "source_order_id",
    "status",
    "platform_status",
    "created_at",
    "updated_at",
    "paid_at",
    "currency",
    "total",
    "shipping_fee",
    "discount",
    "buyer_id",
    "buyer_name",
    "seller_id",
    "seller_name",
    "receiver_name",
    "receiver_phone",
    "receiver_country",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "receiver_town",
    "receiver_address",
    "receiver_zip",
    "buyer_message",
    "seller_memo",
];

/// Line columns, in order (after the order columns in `--csv lines`).
pub const LINE_COLUMNS: &[&str] = &[
    "line_id",
    "line_product_id",
    "line_sku_id",
    "line_title",
    "line_sku_properties",
    "line_quantity",
    "line_unit_price",
    "line_total",
    "line_status",
    "line_platform_status",
    "line_refund_status",
    "line_carrier",
    "line_tracking_number",
    "line_image_url",
];

/// The CSV sink.
pub struct CsvSink {
    w: csv::Writer<Output>,
    mode: super::CsvMode,
    header_done: bool,
    /// `change` and `seq` columns at the end (`--db` runs), and the values of the row
    /// being written.
    change_columns: bool,
    tag: Option<(String, i64)>,
}

impl CsvSink {
    pub fn new(mut out: Output, mode: super::CsvMode, bom: bool) -> CsvSink {
        if bom {
            // Written before anything else; an error surfaces on the first flush.
            let _ = out.write_all("\u{feff}".as_bytes());
        }
        CsvSink {
            w: csv::WriterBuilder::new()
                .flexible(false)
                .terminator(csv::Terminator::CRLF)
                .from_writer(out),
            mode,
            header_done: false,
            change_columns: false,
            tag: None,
        }
    }

    /// End every row with `change` and `seq` (see [`Sink::write_change`]).
    pub fn with_change_columns(mut self) -> CsvSink {
        self.change_columns = true;
        self
    }

    /// The row's trailing `change`, `seq` fields, when the sink has those columns.
    fn tag_fields(&self, row: &mut Vec<String>) {
        if self.change_columns {
            let (change, seq) = self.tag.clone().unwrap_or_default();
            row.push(change);
            row.push(if self.tag.is_some() {
                seq.to_string()
            } else {
                String::new()
            });
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        let mut cols: Vec<&str> = ORDER_COLUMNS.to_vec();
        match self.mode {
            super::CsvMode::Lines => cols.extend_from_slice(LINE_COLUMNS),
            super::CsvMode::Orders => cols.push("line_count"),
        }
        if self.change_columns {
            cols.extend_from_slice(&["change", "seq"]);
        }
        self.w.write_record(&cols).map_err(io::Error::other)
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn amount(a: &Option<Amount>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

fn time(t: &Option<Timestamp>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn order_fields(o: &Order) -> Vec<String> {
    let r = &o.receiver;
    vec![
        o.platform.clone(),
        o.shop.clone(),
        o.order_id.clone(),
        opt(&o.source_order_id).into(),
        o.status.as_str().into(),
        o.platform_status.clone(),
        time(&o.created_at),
        time(&o.updated_at),
        time(&o.paid_at),
        o.currency.clone(),
        amount(&o.total),
        amount(&o.shipping_fee),
        amount(&o.discount),
        opt(&o.buyer.id).into(),
        opt(&o.buyer.name).into(),
        opt(&o.seller.id).into(),
        opt(&o.seller.name).into(),
        opt(&r.name).into(),
        opt(&r.phone).into(),
        opt(&r.country).into(),
        opt(&r.state).into(),
        opt(&r.city).into(),
        opt(&r.district).into(),
        opt(&r.town).into(),
        opt(&r.address).into(),
        opt(&r.zip).into(),
        opt(&o.buyer_message).into(),
        opt(&o.seller_memo).into(),
    ]
}

fn line_fields(l: &OrderLine) -> Vec<String> {
    let props: Vec<String> = l
        .sku_properties
        .iter()
        .map(|p| format!("{}:{}", p.name, p.value))
        .collect();
    vec![
        l.line_id.clone(),
        opt(&l.product_id).into(),
        opt(&l.sku_id).into(),
        l.title.clone(),
        props.join(";"),
        l.quantity.to_string(),
        amount(&l.unit_price),
        amount(&l.total),
        l.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        opt(&l.platform_status).into(),
        opt(&l.refund_status).into(),
        opt(&l.carrier).into(),
        opt(&l.tracking_number).into(),
        opt(&l.image_url).into(),
    ]
}

impl Sink for CsvSink {
    fn write(&mut self, o: &Order) -> io::Result<()> {
        self.header()?;
        let base = order_fields(o);
        match self.mode {
            super::CsvMode::Orders => {
                let mut row = base;
                row.push(o.lines.len().to_string());
                self.tag_fields(&mut row);
                self.w.write_record(&row).map_err(io::Error::other)?;
            }
            super::CsvMode::Lines if o.lines.is_empty() => {
                let mut row = base;
                row.extend(std::iter::repeat_n(String::new(), LINE_COLUMNS.len()));
                self.tag_fields(&mut row);
                self.w.write_record(&row).map_err(io::Error::other)?;
            }
            super::CsvMode::Lines => {
                for l in &o.lines {
                    let mut row = base.clone();
                    row.extend(line_fields(l));
                    self.tag_fields(&mut row);
                    self.w.write_record(&row).map_err(io::Error::other)?;
                }
            }
        }
        Ok(())
    }
    fn write_change(&mut self, o: &Order, change: &str, seq: i64) -> io::Result<()> {
        self.tag = Some((change.to_string(), seq));
        let r = self.write(o);
        self.tag = None;
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.header()?;
        self.w.flush()
    }
}

impl SinkOutput for CsvSink {
    fn into_output(mut self: Box<Self>) -> Result<Output> {
        self.finish()?;
        Ok(self.w.into_inner().map_err(|e| e.into_error())?)
    }
}
