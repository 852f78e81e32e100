//! Where normalized orders go: NDJSON, JSON or CSV, on stdout or in a file.
//!
//! A sink writes orders one at a time as they arrive; nothing is collected in memory. A file
//! given with `--output` is written to a temporary file beside it and renamed into place only
//! when the run completes, so a reader never sees half a file and a failed run leaves the old
//! file untouched.
//!
//! Several shops pulled at once write into one sink through [`Shared`], one whole order at a
//! time.

mod csv;
mod shared;

use crate::model::Order;
use anyhow::{Context, Result};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use self::csv::{CsvSink, LINE_COLUMNS, ORDER_COLUMNS};
pub use self::shared::{Shared, ShopWriter};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON order per line (default; made for `jq` and streaming).
    Ndjson,
    /// One JSON array of orders.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// CSV row granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvMode {
    /// One row per order line, order columns repeated.
    Lines,
    /// One row per order, with a line count.
    Orders,
}

/// What to write, from the flags as given: `--format`, else the output file's extension
/// (`.csv`, `.json`, `.ndjson`/`.jsonl`), else NDJSON. The CSV-only options (`--csv`,
/// `--csv-bom`) are refused with any other format rather than silently ignored.
pub fn choose_format(
    format: Option<Format>,
    csv_mode: Option<CsvMode>,
    csv_bom: bool,
    output: Option<&Path>,
) -> Result<(Format, CsvMode)> {
    let from_extension = || {
        let ext = output?.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    };
    let chosen = format.or_else(from_extension).unwrap_or(Format::Ndjson);
    if chosen != Format::Csv {
        let given = match (csv_mode, csv_bom) {
            (Some(_), _) => Some("--csv"),
            (None, true) => Some("--csv-bom"),
            (None, false) => None,
        };
        if let Some(flag) = given {
            let why = if format.is_some() {
                "--format".to_string()
            } else if let Some(path) = output {
                format!("the output file name {}", path.display())
            } else {
                "the default".to_string()
            };
            return Err(crate::error::usage(format!(
                "{flag} applies to CSV output, but the format is {} (from {why}): add \
                 --format csv",
                format_name(chosen)
            )));
        }
    }
    Ok((chosen, csv_mode.unwrap_or(CsvMode::Lines)))
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Ndjson => "ndjson",
        Format::Json => "json",
        Format::Csv => "csv",
    }
}

/// `-` names stdout (as in most command-line tools), never a file called `-`.
pub fn file_or_stdout(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| *p != Path::new("-"))
}

/// Something that takes normalized orders.
pub trait Sink {
    /// Write one order.
    fn write(&mut self, order: &Order) -> io::Result<()>;
    /// Write one order of a `--db` run with its change-feed entry: two more keys (columns in
    /// CSV) after the order's, `change` (`new` or `updated`) and `seq`.
    fn write_change(&mut self, order: &Order, change: &str, seq: i64) -> io::Result<()> {
        let _ = (order, change, seq);
        Err(io::Error::other(
            "this output cannot carry change-feed keys",
        ))
    }
    /// Whether [`Sink::write_json`] and [`Sink::write_change_json`] take an order's JSON
    /// text in place of the order.
    fn takes_json(&self) -> bool {
        false
    }
    /// Write one order given as the compact JSON text `serde_json` makes of it (`normalize`
    /// serializes on its reading threads, in parallel). Only where [`Sink::takes_json`].
    fn write_json(&mut self, json: &[u8]) -> io::Result<()> {
        let _ = json;
        Err(io::Error::other("this output needs the orders themselves"))
    }
    /// [`Sink::write_change`] of an order given as its JSON text (the mirror holds a window's
    /// orders as text). Only where [`Sink::takes_json`].
    fn write_change_json(&mut self, json: &[u8], change: &str, seq: i64) -> io::Result<()> {
        let _ = (json, change, seq);
        Err(io::Error::other("this output needs the orders themselves"))
    }
    /// Push everything written so far to the output (before state advances).
    fn flush(&mut self) -> io::Result<()>;
    /// Finish the document (closing bracket) and flush; the output stays open.
    fn finish(&mut self) -> io::Result<()>;
}

/// Build a sink of `format` over `out`.
pub fn make(
    format: Format,
    csv_mode: CsvMode,
    bom: bool,
    out: Output,
) -> Box<dyn SinkOutput + Send> {
    match format {
        Format::Ndjson => Box::new(NdjsonSink {
            out,
            buf: Vec::new(),
        }),
        Format::Json => Box::new(JsonSink {
            out,
            count: 0,
            buf: Vec::new(),
        }),
        Format::Csv => Box::new(CsvSink::new(out, csv_mode, bom)),
    }
}

/// Build a sink of `format` over `out` for orders written with [`Sink::write_change`] (a
/// CSV header then ends with `change,seq`).
pub fn make_tagged(
    format: Format,
    csv_mode: CsvMode,
    bom: bool,
    out: Output,
) -> Box<dyn SinkOutput + Send> {
    match format {
        Format::Csv => Box::new(CsvSink::new(out, csv_mode, bom).with_change_columns()),
        _ => make(format, csv_mode, bom, out),
    }
}

/// One order as JSON with `"change"` and `"seq"` appended: the order's own text with its
/// closing brace replaced, so the keys come last and the order reads exactly as in a plain
/// pull.
fn tagged_json(buf: &mut Vec<u8>, order: &Order, change: &str, seq: i64) -> io::Result<()> {
    crate::model::write_order(buf, order);
    tag_json(buf, change, seq)
}

/// [`tagged_json`] for an order already in `buf` as JSON text.
fn tag_json(buf: &mut Vec<u8>, change: &str, seq: i64) -> io::Result<()> {
    if buf.last() == Some(&b'}') {
        buf.pop();
    }
    buf.extend_from_slice(b",\"change\":");
    serde_json::to_writer(&mut *buf, change)?;
    write!(buf, ",\"seq\":{seq}}}")
}

/// A sink that owns its output and can commit it.
pub trait SinkOutput: Sink {
    /// Finish the document and hand back the output.
    fn into_output(self: Box<Self>) -> Result<Output>;

    /// Finish and put the output in place (rename the temporary file).
    fn commit(self: Box<Self>) -> Result<()> {
        self.into_output()?.commit()
    }
}

/// NDJSON: one order per line.
pub struct NdjsonSink {
    out: Output,
    /// One order's text: serialized here, then written at once (serde writes many small
    /// pieces, each of which would otherwise go through [`Output`]).
    buf: Vec<u8>,
}

impl NdjsonSink {
    /// One line, the order's text put in the buffer by `fill`.
    fn line(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        self.buf.clear();
        fill(&mut self.buf)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }
}

impl Sink for NdjsonSink {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        self.line(|buf| {
            crate::model::write_order(buf, order);
            Ok(())
        })
    }
    fn write_change(&mut self, order: &Order, change: &str, seq: i64) -> io::Result<()> {
        self.line(|buf| tagged_json(buf, order, change, seq))
    }
    fn takes_json(&self) -> bool {
        true
    }
    fn write_json(&mut self, json: &[u8]) -> io::Result<()> {
        self.out.write_all(json)?;
        self.out.write_all(b"\n")
    }
    fn write_change_json(&mut self, json: &[u8], change: &str, seq: i64) -> io::Result<()> {
        self.line(|buf| {
            buf.extend_from_slice(json);
            tag_json(buf, change, seq)
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl SinkOutput for NdjsonSink {
    fn into_output(mut self: Box<Self>) -> Result<Output> {
        self.finish()?;
        Ok(self.out)
    }
}

/// JSON: one array, streamed element by element.
pub struct JsonSink {
    out: Output,
    count: u64,
    /// As in [`NdjsonSink`].
    buf: Vec<u8>,
}

impl JsonSink {
    /// One element of the array, the order's text put in the buffer by `fill`.
    fn element(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        self.buf.clear();
        self.buf
            .extend_from_slice(if self.count == 0 { b"[\n" } else { b",\n" });
        fill(&mut self.buf)?;
        self.out.write_all(&self.buf)?;
        self.count += 1;
        Ok(())
    }
}

impl Sink for JsonSink {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        self.element(|buf| {
            crate::model::write_order(buf, order);
            Ok(())
        })
    }
    fn write_change(&mut self, order: &Order, change: &str, seq: i64) -> io::Result<()> {
        self.element(|buf| tagged_json(buf, order, change, seq))
    }
    fn takes_json(&self) -> bool {
        true
    }
    fn write_json(&mut self, json: &[u8]) -> io::Result<()> {
        self.out
            .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        self.out.write_all(json)?;
        self.count += 1;
        Ok(())
    }
    fn write_change_json(&mut self, json: &[u8], change: &str, seq: i64) -> io::Result<()> {
        self.element(|buf| {
            buf.extend_from_slice(json);
            tag_json(buf, change, seq)
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out
            .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
}

impl SinkOutput for JsonSink {
    fn into_output(mut self: Box<Self>) -> Result<Output> {
        self.finish()?;
        Ok(self.out)
    }
}

/// Stdout, or a temporary file renamed into place on commit.
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    File {
        tmp: BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
    /// A pipe or device named with `--output`, written in place.
    Special(BufWriter<std::fs::File>),
    /// In-memory, for tests and benchmarks.
    Memory(Vec<u8>),
}

/// The mode of a new output file: that of the file it replaces, else rw-r--r-- (what a shell
/// redirection gives under the usual umask), not the temporary file's private 0600.
#[cfg(unix)]
fn output_permissions(existing: Option<&std::fs::Metadata>) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    let mode = existing.map_or(0o644, |m| m.permissions().mode() & 0o7777);
    std::fs::Permissions::from_mode(mode)
}

impl Output {
    /// Stdout, or a temporary file next to `path`.
    pub fn open(path: Option<&Path>) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::with_capacity(
                64 * 1024,
                io::stdout(),
            )));
        };
        // A pipe, a device (/dev/null) or anything else that is not a regular file is written
        // to as it is: renaming a file over it would replace it.
        let existing = std::fs::metadata(path).ok();
        if let Some(meta) = existing.as_ref().filter(|m| !m.is_file()) {
            if meta.is_dir() {
                return Err(crate::error::usage(format!(
                    "--output {} is a folder; give a file name",
                    path.display()
                )));
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| {
                    crate::error::usage(format!("cannot write output {}: {e}", path.display()))
                })?;
            return Ok(Output::Special(BufWriter::with_capacity(64 * 1024, file)));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ordersync-")
            .suffix(".partial")
            .permissions(output_permissions(existing.as_ref()))
            .tempfile_in(dir)
            .map_err(|e| {
                crate::error::usage(format!(
                    "cannot write output {}: cannot create a file in {}: {e}",
                    path.display(),
                    dir.display()
                ))
            })?;
        // Locked while it lives: the next run removes such files only when no run holds them.
        let _ = tmp.as_file().try_lock();
        Ok(Output::File {
            tmp: BufWriter::with_capacity(64 * 1024, tmp),
            path: path.to_path_buf(),
        })
    }

    /// Flush, fsync and rename into place (files); flush (stdout).
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
            Output::Special(mut w) => Ok(w.flush()?),
            Output::Memory(_) => Ok(()),
            Output::File { tmp, path } => {
                let tmp = tmp.into_inner().map_err(|e| e.into_error())?;
                tmp.as_file().sync_all()?;
                tmp.persist(&path).with_context(|| {
                    format!("cannot move the output into place at {}", path.display())
                })?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Special(w) => w.write(buf),
            Output::File { tmp, .. } => tmp.write(buf),
            Output::Memory(v) => v.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::Special(w) => w.write_all(buf),
            Output::File { tmp, .. } => tmp.write_all(buf),
            Output::Memory(v) => v.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Special(w) => w.flush(),
            Output::File { tmp, .. } => tmp.flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Amount, OrderLine, Party, Receiver, SkuProperty, Status, Timestamp};

    fn order(id: &str, lines: usize) -> Order {
        Order {
            platform: "taobao-tw".into(),
            shop: "s".into(),
            order_id: id.into(),
            source_order_id: None,
            status: Status::Paid,
            platform_status: "pending".into(),
            created_at: Timestamp::from_epoch_millis(1_592_988_843_859),
            updated_at: None,
            paid_at: None,
            currency: "TWD".into(),
            total: Some(Amount::parse("62").unwrap()),
            shipping_fee: None,
            discount: None,
            buyer: Party::default(),
            seller: Party::default(),
            receiver: Receiver {
                name: Some("王, \"小\" 明".into()),
                address: Some("科技园\n南区 1 号".into()),
                ..Receiver::default()
            },
            buyer_message: None,
            seller_memo: None,
            lines: (0..lines)
                .map(|i| OrderLine {
                    line_id: format!("{id}-{i}"),
                    product_id: None,
                    sku_id: None,
                    title: "T".into(),
                    sku_properties: vec![
                        SkuProperty {
                            name: "颜色分类".into(),
                            value: "豆沙色".into(),
                        },
                        SkuProperty {
                            name: "时间".into(),
                            value: "10:30".into(),
                        },
                    ],
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

    fn render(format: Format, mode: CsvMode, orders: &[Order]) -> String {
        let mut sink = make(format, mode, false, Output::Memory(Vec::new()));
        for o in orders {
            sink.write(o).unwrap();
        }
        match sink.into_output().unwrap() {
            Output::Memory(v) => String::from_utf8(v).unwrap(),
            _ => unreachable!("memory output"),
        }
    }

    #[test]
    fn json_is_one_valid_array_even_when_empty() {
        assert_eq!(render(Format::Json, CsvMode::Lines, &[]), "[]\n");
        let text = render(
            Format::Json,
            CsvMode::Lines,
            &[order("1", 1), order("2", 0)],
        );
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["lines"], serde_json::json!([]));
    }

    #[test]
    fn ndjson_is_one_order_per_line() {
        let text = render(
            Format::Ndjson,
            CsvMode::Lines,
            &[order("1", 2), order("2", 1)],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let o: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(o["receiver"]["address"], "科技园\n南区 1 号");
        assert_eq!(o["total"], "62.00");
        assert_eq!(o["updated_at"], serde_json::Value::Null);
    }

    #[test]
    fn csv_quotes_per_rfc4180_and_keeps_line_less_orders() {
        let text = render(Format::Csv, CsvMode::Lines, &[order("1", 2), order("2", 0)]);
        assert!(text.contains("\"王, \"\"小\"\" 明\""), "{text}");
        assert!(text.contains("\"科技园\n南区 1 号\""), "{text}");
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let h = r.headers().unwrap().clone();
        assert_eq!(h.len(), ORDER_COLUMNS.len() + LINE_COLUMNS.len());
        let rows: Vec<::csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(
            rows.len(),
            3,
            "two lines of order 1, one row for line-less order 2"
        );
        let props = h.iter().position(|c| c == "line_sku_properties").unwrap();
        assert_eq!(&rows[0][props], "颜色分类:豆沙色;时间:10:30");
        assert_eq!(&rows[2][h.iter().position(|c| c == "line_id").unwrap()], "");

        let text = render(Format::Csv, CsvMode::Orders, &[order("1", 2)]);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<::csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].iter().next_back(), Some("2"));
    }

    #[test]
    fn an_order_given_as_text_is_written_as_the_order_itself() {
        let o = order("7", 2);
        let text = serde_json::to_string(&o).unwrap();
        for format in [Format::Ndjson, Format::Json] {
            let written = |as_text: bool| {
                let mut sink = make_tagged(format, CsvMode::Lines, false, Output::Memory(vec![]));
                assert!(sink.takes_json());
                for seq in [1, 2] {
                    if as_text {
                        sink.write_change_json(text.as_bytes(), "new", seq).unwrap();
                        sink.write_json(text.as_bytes()).unwrap();
                    } else {
                        sink.write_change(&o, "new", seq).unwrap();
                        sink.write(&o).unwrap();
                    }
                }
                let Output::Memory(v) = sink.into_output().unwrap() else {
                    unreachable!("memory output")
                };
                v
            };
            assert_eq!(written(true), written(false), "{format:?}");
        }
        assert!(!make(Format::Csv, CsvMode::Lines, false, Output::Memory(vec![])).takes_json());
    }

    #[test]
    fn change_keys_come_after_the_order_in_every_format() {
        let o = order("7", 2);
        let mut sink = make_tagged(
            Format::Ndjson,
            CsvMode::Lines,
            false,
            Output::Memory(vec![]),
        );
        sink.write_change(&o, "updated", 42).unwrap();
        let Output::Memory(v) = sink.into_output().unwrap() else {
            unreachable!("memory output")
        };
        let text = String::from_utf8(v).unwrap();
        let plain = serde_json::to_string(&o).unwrap();
        assert_eq!(
            text,
            format!(
                "{},\"change\":\"updated\",\"seq\":42}}\n",
                &plain[..plain.len() - 1]
            )
        );
        let mut sink = make_tagged(Format::Json, CsvMode::Lines, false, Output::Memory(vec![]));
        sink.write_change(&o, "new", 1).unwrap();
        sink.write_change(&o, "new", 2).unwrap();
        let Output::Memory(v) = sink.into_output().unwrap() else {
            unreachable!("memory output")
        };
        let arr: Vec<serde_json::Value> = serde_json::from_slice(&v).unwrap();
        assert_eq!(arr[1]["seq"], 2);
        assert_eq!(arr[0]["change"], "new");
        let mut sink = make_tagged(Format::Csv, CsvMode::Orders, false, Output::Memory(vec![]));
        sink.write_change(&o, "new", 9).unwrap();
        let Output::Memory(v) = sink.into_output().unwrap() else {
            unreachable!("memory output")
        };
        let mut r = ::csv::Reader::from_reader(v.as_slice());
        let h = r.headers().unwrap().clone();
        assert_eq!(
            h.iter().rev().take(2).collect::<Vec<_>>(),
            ["seq", "change"]
        );
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(
            row.iter().rev().take(3).collect::<Vec<_>>(),
            ["9", "new", "2"]
        );
    }

    #[test]
    fn an_empty_csv_still_has_its_header() {
        let text = render(Format::Csv, CsvMode::Orders, &[]);
        assert!(text.starts_with("platform,shop,order_id"));
        assert!(text.trim_end().ends_with("line_count"));
    }
}
