//! Reading a saved answer as a stream: never whole, its orders written while it is read.
//!
//! The answer is cut ([`crate::platforms::cut`]) into its orders and a skeleton (the answer
//! without them). The orders go in batches to worker threads, which read them with the
//! platform's reader of a batch, or of one order ([`crate::platforms::SavedList::read`]), and,
//! for JSON and NDJSON, serialize them there too; a writing thread writes the results in the
//! answer's order.
//! The skeleton is read by the platform's reader of a whole answer, which checks the envelope
//! (`code`, totals) and hands over any order the cut left in it.
//!
//! An error answer must never yield an order, so orders flow only once the envelope has said
//! the call succeeded. When the container of orders opens, the answer so far (closed) is
//! checked: where `code` comes first, that settles it and the answer is read in one pass.
//! Where it comes last (taobao-tw), the first pass only builds the skeleton; once it checks
//! out, the answer is cut again and its orders flow. A file is read twice from disk; a pipe is
//! copied to a temporary file during the first pass (and the copy dropped as soon as the
//! answer turns out to need one pass).

use super::{file_error, looks_like};
use crate::error::PlatformError;
use crate::model::Order;
use crate::platforms::cut::{self, Cut, CutError, Cuts};
use crate::platforms::{Deferred, PlatformId, SavedList, SavedOptions, Span};
use crate::sink::SinkOutput;
use anyhow::{Context, Result};
use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, OnceLock};

/// Where the answer is read from.
pub(super) enum Source {
    /// A file that can be read again from `start`.
    File { file: File, start: u64 },
    /// A pipe (or anything that cannot seek): read once.
    Stream(Box<dyn Read + Send>),
}

impl Source {
    pub(super) fn open(path: &Path) -> io::Result<Source> {
        if path.as_os_str() == "-" {
            #[cfg(unix)]
            {
                use std::os::fd::AsFd;
                // Standard input redirected from a file (`< answer.json`) can be read twice.
                let mut file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
                if file.metadata()?.is_file() {
                    let start = file.stream_position()?;
                    return Ok(Source::File { file, start });
                }
            }
            return Ok(Source::Stream(Box::new(io::stdin())));
        }
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::other("it is a directory"));
        }
        Ok(if meta.is_file() {
            Source::File { file, start: 0 }
        } else {
            Source::Stream(Box::new(file))
        })
    }
}

/// What is being read.
pub(super) struct Answer<'a> {
    pub platform: PlatformId,
    pub shop: &'a str,
    pub opts: SavedOptions,
    /// The file's name, for errors.
    pub name: &'a Path,
}

impl Answer<'_> {
    /// Read a whole answer (a skeleton) with the platform's reader, handing its orders to
    /// `emit`.
    fn read_whole<'b>(
        &self,
        body: &'b [u8],
        shop: &'b str,
        emit: &mut dyn FnMut(Deferred<'b>) -> bool,
    ) -> Result<(), PlatformError> {
        (self.platform.platform().read_saved)(body, shop, &self.opts, emit)
    }

    /// Check a skeleton's envelope: `Ok` when the platform's reader reads it (its orders are
    /// not normalized).
    fn check(&self, skeleton: &[u8]) -> Result<(), PlatformError> {
        self.read_whole(skeleton, self.shop, &mut |_| true)
    }

    fn cut_error(&self, e: CutError) -> anyhow::Error {
        match e {
            CutError::Io(e) => anyhow::anyhow!("cannot read {}: {e}", self.name.display()),
            CutError::Syntax { at, what } => file_error(PlatformError::Garbled {
                platform: self.platform.as_str(),
                endpoint: "saved response".into(),
                page: None,
                detail: format!("{what} (byte {at})"),
                saved_body: None,
            }),
        }
    }
}

/// Orders handed to the workers at a time: enough to make a batch's hand-offs cheap, few
/// enough that a handful of batches in flight hold little of the answer.
const BATCH_ORDERS: usize = 256;
const BATCH_BYTES: usize = 512 << 10;

/// Orders cut out, to be read by a worker.
struct Job {
    bytes: Vec<u8>,
    /// (index in the answer, start, end) in `bytes`.
    spans: Vec<Span>,
    reply: SyncSender<Done>,
}

/// A batch as a worker read it: its orders up to the first that failed, then that one's
/// error. A sink that takes JSON text gets the orders serialized (one after the other in
/// `json`, each ending at its entry of `ends`): serializing on the workers spreads it over
/// them, and an order is then freed by the thread that built it, whose allocator cache takes
/// its memory back for the next one (freed on the writing thread, it went back to the
/// system and was faulted in again, batch after batch).
#[derive(Default)]
struct Done {
    orders: Vec<Order>,
    json: Vec<u8>,
    ends: Vec<usize>,
    failed: Option<anyhow::Error>,
}

/// What the writing thread is handed, in the answer's order.
enum Item<'a> {
    /// A batch being read by a worker.
    Cut(Receiver<Done>),
    /// Orders of the skeleton, normalized on the writing thread.
    Whole(Vec<Deferred<'a>>),
    /// Everything was read: finish the output.
    End,
}

/// Read `source` as `answer` into `sink`.
pub(super) fn normalize(
    answer: Answer,
    source: Source,
    sink: Box<dyn SinkOutput + Send>,
) -> Result<()> {
    let list = &answer.platform.platform().saved_list;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    // Filled once the answer is cut; the orders it still holds borrow from it while written.
    let skeleton: OnceLock<Vec<u8>> = OnceLock::new();
    let (jobs, to_read) = sync_channel::<Job>(workers);
    let to_read = Mutex::new(to_read);
    let spare = Spares::default();
    std::thread::scope(|scope| {
        let (items, to_write) = sync_channel::<Item>(4);
        let spare_done = &spare.done;
        let json = sink.takes_json();
        let writer = scope.spawn(move || write(to_write, sink, spare_done));
        for _ in 0..workers {
            let (to_read, spare) = (&to_read, &spare);
            let (shop, opts) = (answer.shop, answer.opts);
            scope.spawn(move || work(to_read, spare, list, shop, &opts, json));
        }
        let mut batches = Batches {
            jobs,
            items,
            bytes: Vec::new(),
            spans: Vec::new(),
            closed: false,
            spare: &spare,
        };
        let read = read(&answer, source, &mut batches, &skeleton);
        let Batches { jobs, items, .. } = batches;
        drop(jobs);
        let read = read.and_then(|(cut, handed)| finish(&answer, cut, handed, &items, &skeleton));
        if read.is_ok() {
            let _ = items.send(Item::End);
        }
        drop(items);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the output thread stopped unexpectedly")));
        // The writer's error comes first: it is about an earlier order than the reader's.
        written?;
        read
    })
}

/// Cut the answer, handing its orders to `batches` once its envelope allows. Returns the
/// last pass's cut (its skeleton moved into `skeleton`) and how many orders were handed
/// over.
fn read(
    answer: &Answer,
    source: Source,
    batches: &mut Batches,
    skeleton: &OnceLock<Vec<u8>>,
) -> Result<(Cut, usize)> {
    let at = &answer.platform.platform().saved_list.at;
    let spilling = Cell::new(matches!(source, Source::Stream(_)));
    type Rewind = Box<dyn FnOnce() -> io::Result<Box<dyn Read>>>;
    let (mut first, rewind): (Box<dyn Read + '_>, Rewind) = match source {
        Source::File { file, start } => {
            let mut again = file.try_clone().context("cannot read the file twice")?;
            let rewind = move || -> io::Result<Box<dyn Read>> {
                again.seek(SeekFrom::Start(start))?;
                Ok(Box::new(again))
            };
            (Box::new(file), Box::new(rewind))
        }
        Source::Stream(pipe) => {
            let spill = tempfile::tempfile().context("cannot make a temporary file")?;
            let mut again = spill.try_clone().context("cannot make a temporary file")?;
            let tee = Tee {
                pipe,
                spill: Some(spill),
                on: &spilling,
            };
            let rewind = move || -> io::Result<Box<dyn Read>> {
                again.seek(SeekFrom::Start(0))?;
                Ok(Box::new(again))
            };
            (Box::new(tee), Box::new(rewind))
        }
    };
    let ready = Cell::new(false);
    let decide = |head: &[u8]| {
        let ok = answer.check(head).is_ok();
        ready.set(ok);
        if ok {
            spilling.set(false);
        }
        ok
    };
    let mut pass = Pass {
        decide: Some(&decide),
        batches,
        handed: 0,
    };
    let a = cut::cut(&mut first, at, &mut pass).map_err(|e| answer.cut_error(e))?;
    drop(first);
    let mut handed = pass.handed;
    let mut last = if !a.found || ready.get() || a.stopped {
        a
    } else {
        // The envelope comes after the orders: check it before any order is read.
        answer.check(&a.skeleton).map_err(file_error)?;
        drop(a);
        let again = rewind().with_context(|| format!("cannot read {}", answer.name.display()))?;
        let mut pass = Pass {
            decide: None,
            batches,
            handed: 0,
        };
        let b = cut::cut(again, at, &mut pass).map_err(|e| answer.cut_error(e))?;
        handed = pass.handed;
        b
    };
    let body = std::mem::take(&mut last.skeleton);
    let _ = skeleton.set(body);
    batches.send();
    Ok((last, handed))
}

/// After the orders cut out: the skeleton's own orders (read by the platform's reader of a
/// whole answer, which checks it once more), then what is said once per answer.
fn finish<'s>(
    answer: &'s Answer,
    cut: Cut,
    handed: usize,
    items: &SyncSender<Item<'s>>,
    skeleton: &'s OnceLock<Vec<u8>>,
) -> Result<()> {
    if cut.stopped {
        return Ok(());
    }
    let body = skeleton.get().map_or(&[][..], Vec::as_slice);
    const BATCH: usize = 1024;
    let mut batch = Vec::with_capacity(BATCH);
    let mut whole = 0usize;
    let mut emit = |o: Deferred<'s>| {
        whole += 1;
        batch.push(o);
        if batch.len() < BATCH {
            return true;
        }
        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        // A send fails only once the writer has stopped; its error is reported then.
        items.send(Item::Whole(full)).is_ok()
    };
    let read = answer.read_whole(body, answer.shop, &mut emit);
    let _ = items.send(Item::Whole(batch));
    read.map_err(file_error)?;
    if handed + whole == 0 {
        // No order at all: say so if the answer is another platform's (the reader of one
        // platform may find nothing it knows in another's answer, and would print nothing).
        if let Some((other, n)) = looks_like(answer.platform, body) {
            return Err(file_error(PlatformError::Request {
                platform: answer.platform.as_str(),
                message: format!(
                    "this is not a {} answer: it reads as a {other} answer ({n} orders); use \
                     --platform {other}",
                    answer.platform.as_str()
                ),
            }));
        }
    }
    let list = &answer.platform.platform().saved_list;
    if let Some(after) = list.after
        && cut.found
        && cut.orders > 0
    {
        after(cut.orders);
    }
    Ok(())
}

/// Whether the answer so far (closed) lets orders flow.
type Decide<'p> = &'p dyn Fn(&[u8]) -> bool;

/// One pass of the cut: decides at the container whether orders flow, and batches them.
struct Pass<'p, 'b> {
    /// The first pass: whether the answer so far lets orders flow. `None`: they do.
    decide: Option<Decide<'p>>,
    batches: &'p mut Batches<'b>,
    handed: usize,
}

impl Cuts for Pass<'_, '_> {
    fn opened(&mut self, head: &[u8]) -> bool {
        self.decide.is_none_or(|decide| decide(head))
    }

    fn order(&mut self, index: usize, bytes: &[u8]) -> bool {
        self.handed += 1;
        self.batches.push(index, bytes)
    }
}

/// Orders cut out, gathered into jobs for the workers.
struct Batches<'a> {
    jobs: SyncSender<Job>,
    items: SyncSender<Item<'a>>,
    bytes: Vec<u8>,
    spans: Vec<Span>,
    /// The writer or the workers stopped: stop cutting.
    closed: bool,
    spare: &'a Spares,
}

/// Buffers of jobs done, for the next jobs: a new one would be new pages to fault in (the
/// allocator hands freed pages back at once, for `pull`'s sake). Given back empty.
struct Spare<T>(Mutex<Vec<T>>);

impl<T> Default for Spare<T> {
    fn default() -> Self {
        Spare(Mutex::new(Vec::new()))
    }
}

impl<T> Spare<T> {
    fn take(&self, make: impl FnOnce() -> T) -> T {
        let spare = self.0.lock().ok().and_then(|mut s| s.pop());
        spare.unwrap_or_else(make)
    }

    fn give(&self, t: T) {
        if let Ok(mut s) = self.0.lock()
            && s.len() < 8
        {
            s.push(t);
        }
    }
}

/// The spare buffers of the jobs and of their results.
#[derive(Default)]
struct Spares {
    bytes: Spare<Vec<u8>>,
    done: Spare<Done>,
}

impl Batches<'_> {
    fn push(&mut self, index: usize, order: &[u8]) -> bool {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(order);
        self.spans.push((index, start, self.bytes.len()));
        if self.spans.len() >= BATCH_ORDERS || self.bytes.len() >= BATCH_BYTES {
            self.send();
        }
        !self.closed
    }

    /// Hand the batch so far to a worker, and its place in the output to the writer.
    fn send(&mut self) {
        if self.spans.is_empty() || self.closed {
            return;
        }
        let (reply, results) = sync_channel(1);
        let job = Job {
            bytes: std::mem::replace(
                &mut self.bytes,
                self.spare.bytes.take(|| Vec::with_capacity(BATCH_BYTES)),
            ),
            spans: std::mem::take(&mut self.spans),
            reply,
        };
        self.closed = self.items.send(Item::Cut(results)).is_err() || self.jobs.send(job).is_err();
    }
}

/// A worker: reads the orders of each job, stopping a job at its first order in error.
fn work(
    jobs: &Mutex<Receiver<Job>>,
    spare: &Spares,
    list: &SavedList,
    shop: &str,
    opts: &SavedOptions,
    json: bool,
) {
    loop {
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok(mut job) = job else { return };
        let mut done = spare.done.take(Done::default);
        list.read(&job.bytes, &job.spans, shop, opts, &mut |order| {
            match order {
                Ok(order) if json => {
                    crate::model::write_order(&mut done.json, &order);
                    done.ends.push(done.json.len());
                }
                Ok(order) => done.orders.push(order),
                Err(e) => {
                    done.failed = Some(file_error(e));
                    return false;
                }
            }
            true
        });
        job.bytes.clear();
        spare.bytes.give(job.bytes);
        // The writer may have stopped: nobody is waiting.
        let _ = job.reply.send(done);
    }
}

/// The writing thread: writes what it is handed, in order. On an order in error, what came
/// before it stays written (flushed, and a JSON array left open so that a partial output
/// never looks whole).
fn write(
    items: Receiver<Item>,
    mut sink: Box<dyn SinkOutput + Send>,
    spare: &Spare<Done>,
) -> Result<()> {
    for item in items {
        match item {
            Item::Cut(results) => {
                let Ok(mut done) = results.recv() else {
                    sink.flush()?;
                    anyhow::bail!("a reading thread stopped unexpectedly");
                };
                for order in &done.orders {
                    sink.write(order)?;
                }
                let mut start = 0;
                for &end in &done.ends {
                    sink.write_json(&done.json[start..end])?;
                    start = end;
                }
                if let Some(e) = done.failed.take() {
                    sink.flush()?;
                    return Err(e);
                }
                done.orders.clear();
                done.json.clear();
                done.ends.clear();
                spare.give(done);
            }
            Item::Whole(deferred) => {
                for order in deferred {
                    write_one(sink.as_mut(), order())?;
                }
            }
            Item::End => return sink.commit(),
        }
    }
    // The reader failed: keep what was written, without closing a JSON array.
    Ok(sink.flush()?)
}

/// Write one order, or flush what came before an order in error and return its error.
fn write_one(sink: &mut dyn SinkOutput, order: Result<Order, PlatformError>) -> Result<()> {
    match order {
        Ok(o) => Ok(sink.write(&o)?),
        Err(e) => {
            sink.flush()?;
            Err(file_error(e))
        }
    }
}

/// A pipe read once, copied to a spill file while `on` says a second pass may be needed.
struct Tee<'a> {
    pipe: Box<dyn Read + Send>,
    spill: Option<File>,
    on: &'a Cell<bool>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if !self.on.get() {
            self.spill = None;
        }
        if let Some(spill) = &mut self.spill {
            spill.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}
