//! Where normalized orders go: NDJSON, JSON or CSV, on stdout or in a file.
//!
//! A sink writes orders one at a time as they arrive; nothing is collected in memory. A file
//! given with `--output` is written to a temporary file beside it and renamed into place only
//! when the run completes, so a reader never sees half a file and a failed run leaves the old
//! file untouched.

mod csv;

use crate::model::Order;
use anyhow::{Context, Result};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use self::csv::{CsvSink, LINE_COLUMNS, ORDER_COLUMNS};

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

/// Something that takes normalized orders.
pub trait Sink {
    /// Write one order.
    fn write(&mut self, order: &Order) -> io::Result<()>;
    /// Push everything written so far to the output (before state advances).
    fn flush(&mut self) -> io::Result<()>;
    /// Finish the document (closing bracket) and flush; the output stays open.
    fn finish(&mut self) -> io::Result<()>;
}

/// Build a sink of `format` over `out`.
pub fn make(format: Format, csv_mode: CsvMode, bom: bool, out: Output) -> Box<dyn SinkOutput> {
    match format {
        Format::Ndjson => Box::new(NdjsonSink { out }),
        Format::Json => Box::new(JsonSink { out, count: 0 }),
        Format::Csv => Box::new(CsvSink::new(out, csv_mode, bom)),
    }
}

/// A sink that owns its output and can commit it.
pub trait SinkOutput: Sink {
    /// Finish and put the output in place (rename the temporary file).
    fn commit(self: Box<Self>) -> Result<()>;
}

/// NDJSON: one order per line.
pub struct NdjsonSink {
    out: Output,
}

impl Sink for NdjsonSink {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, order)?;
        self.out.write_all(b"\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl SinkOutput for NdjsonSink {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.finish()?;
        self.out.commit()
    }
}

/// JSON: one array, streamed element by element.
pub struct JsonSink {
    out: Output,
    count: u64,
}

impl Sink for JsonSink {
    fn write(&mut self, order: &Order) -> io::Result<()> {
        self.out
            .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        self.count += 1;
        serde_json::to_writer(&mut self.out, order)?;
        Ok(())
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
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.finish()?;
        self.out.commit()
    }
}

/// Stdout, or a temporary file renamed into place on commit.
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    File {
        tmp: BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
    /// In-memory, for tests and benchmarks.
    Memory(Vec<u8>),
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
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ordersync-")
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| {
                crate::error::usage(format!(
                    "cannot write output {}: cannot create a file in {}: {e}",
                    path.display(),
                    dir.display()
                ))
            })?;
        Ok(Output::File {
            tmp: BufWriter::with_capacity(64 * 1024, tmp),
            path: path.to_path_buf(),
        })
    }

    /// Flush, fsync and rename into place (files); flush (stdout).
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
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
            Output::File { tmp, .. } => tmp.write(buf),
            Output::Memory(v) => v.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File { tmp, .. } => tmp.write_all(buf),
            Output::Memory(v) => v.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { tmp, .. } => tmp.flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}
