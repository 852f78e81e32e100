//! Cutting a saved list answer into its orders while it is read, so that `normalize` never
//! holds a large answer whole.
//!
//! An answer is an envelope (`code`, totals, messages) around one container of orders at a
//! known path (`data.items`, `result.model_list`, ...). [`cut`] reads the answer once, in
//! chunks, and splits it in two:
//! - each order of the container, handed to [`Cuts::order`] as its own bytes (an order is
//!   found by counting brackets outside strings, sixty-four bytes a step ([`scan`]), then
//!   read by the platform's reader of one order, which checks its syntax);
//! - the *skeleton*: the answer byte for byte without those orders, so the container reads
//!   as `[]` (or `{}`). The platform's reader of a whole answer checks the skeleton's
//!   envelope exactly as it checks a whole answer.
//!
//! When the container opens, [`Cuts::opened`] gets the skeleton so far with every open
//! bracket closed: an answer with no orders yet, in which an envelope that puts `code` first
//! can already be checked. Whether orders are handed over from then on is the caller's
//! choice; an answer whose `code` comes last (taobao-tw) is cut twice instead, the first time
//! for its skeleton only.
//!
//! The walk checks the envelope's own syntax along the path (members, colons, commas); values
//! beside the path are copied whole and checked when the skeleton is parsed.

use std::io::{self, Read};

mod scan;

/// What holds the orders at the end of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// An array: each element is an order.
    Array,
    /// An object whose members `"0"`, `"1"`, ... are orders, cut while their keys come in
    /// that order (vv-tool's `data`). Any other member stays in the skeleton.
    Numbered,
}

/// Where a platform's saved list answer keeps its orders.
#[derive(Clone, Copy, Debug)]
pub struct ListAt {
    /// Keys from the top object to the container.
    pub path: &'static [&'static str],
    pub container: Container,
}

/// Told what a pass finds.
pub trait Cuts {
    /// The container has just opened; `head` is the answer so far with its open brackets
    /// closed. Returns whether to hand orders over to [`Cuts::order`] (otherwise they are
    /// only counted).
    fn opened(&mut self, head: &[u8]) -> bool;
    /// The order numbered `index` (from 0, in the container's order); `false` stops the pass.
    fn order(&mut self, index: usize, bytes: &[u8]) -> bool;
}

/// What a pass over an answer found.
#[derive(Debug, Default)]
pub struct Cut {
    /// The answer without the orders cut out of it.
    pub skeleton: Vec<u8>,
    /// Orders cut out (all of them, handed over or not).
    pub orders: usize,
    /// Whether the container was found (otherwise the skeleton is the whole answer).
    pub found: bool,
    /// The pass was stopped by [`Cuts::order`].
    pub stopped: bool,
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The answer is not JSON where the walk reads it: `at` is a byte offset in the answer.
    #[error("at byte {at}: {what}")]
    Syntax { at: u64, what: String },
}

/// Read `input` to its end, cutting the orders at `at` out of it.
pub fn cut(input: impl Read, at: &ListAt, cuts: &mut dyn Cuts) -> Result<Cut, CutError> {
    let mut walk = Walk {
        input: Input::new(input),
        at,
        cuts,
        out: Cut::default(),
        hand_over: false,
    };
    walk.answer()?;
    Ok(walk.out)
}

/// Bytes read from the answer and not yet consumed.
struct Input<R> {
    reader: R,
    /// `buf[..filled]` holds what was read; its capacity is kept between reads.
    buf: Vec<u8>,
    filled: usize,
    /// `buf[pos..filled]` is not consumed yet.
    pos: usize,
    /// Bytes dropped from the front of `buf` so far (for offsets in errors).
    base: u64,
    eof: bool,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Input {
            reader,
            buf: vec![0; CHUNK],
            filled: 0,
            pos: 0,
            base: 0,
            eof: false,
        }
    }

    /// Read more; `false` at the end of the answer.
    fn more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.buf.len() - self.filled < CHUNK / 2 {
            // An order larger than half a chunk: the buffer doubles, so that a huge one is
            // read (and measured again from its start) a few times, not once per chunk.
            let len = (self.filled + CHUNK).max(self.buf.len() * 2);
            self.buf.resize(len, 0);
        }
        let n = loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled += n;
        self.eof = n == 0;
        Ok(n > 0)
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next byte that is not whitespace, not consumed; `None` at the end.
    fn peek(&mut self, keep: Option<&mut Vec<u8>>) -> io::Result<Option<u8>> {
        let mut keep = keep;
        loop {
            let rest = self.rest();
            let ws = rest
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            if let Some(k) = keep.as_deref_mut() {
                k.extend_from_slice(&rest[..ws]);
            }
            self.pos += ws;
            if let Some(&b) = self.rest().first() {
                return Ok(Some(b));
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// The length of the complete JSON value at the front of what is left (reading more as
    /// needed); `None` when the answer ends first.
    fn value_len(&mut self) -> io::Result<Option<usize>> {
        loop {
            match value_len(self.rest(), self.eof) {
                Some(n) => return Ok(Some(n)),
                None if !self.more()? => return Ok(value_len(self.rest(), true)),
                None => {}
            }
        }
    }
}

/// The length of the JSON value at the front of `b` (which starts with no whitespace), found
/// by counting brackets outside strings; `None` when `b` ends first. Its syntax is not
/// checked: whoever parses it does.
fn value_len(b: &[u8], at_end: bool) -> Option<usize> {
    match *b.first()? {
        b'{' | b'[' => scan::bracketed_len(b),
        b'"' => string_end(b, 0),
        _ => match b
            .iter()
            .position(|c| matches!(c, b',' | b']' | b'}' | b':') || c.is_ascii_whitespace())
        {
            Some(0) => Some(1),
            Some(n) => Some(n),
            None if at_end => Some(b.len()),
            None => None,
        },
    }
}

/// The index just past the string that opens at `b[start]`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
        if i > b.len() {
            return None;
        }
    }
}

struct Walk<'c, R> {
    input: Input<R>,
    at: &'c ListAt,
    cuts: &'c mut dyn Cuts,
    out: Cut,
    hand_over: bool,
}

impl<R: Read> Walk<'_, R> {
    fn syntax(&self, what: impl Into<String>) -> CutError {
        CutError::Syntax {
            at: self.input.offset(),
            what: what.into(),
        }
    }

    /// The next byte that is not whitespace (whitespace is kept), or an error at the end.
    fn next_byte(&mut self, expected: &str) -> Result<u8, CutError> {
        match self.input.peek(Some(&mut self.out.skeleton))? {
            Some(b) => Ok(b),
            None => Err(self.syntax(format!("the answer breaks off where {expected} should be"))),
        }
    }

    /// Consume `n` bytes, keeping them in the skeleton or not.
    fn take(&mut self, n: usize, keep: bool) {
        if keep {
            let bytes = &self.input.rest()[..n];
            self.out.skeleton.extend_from_slice(bytes);
        }
        self.input.pos += n;
    }

    /// One whole value, kept or not; returns where it starts in the input's buffer (valid
    /// until the next read).
    fn value(&mut self, keep: bool, what: &str) -> Result<usize, CutError> {
        let ws = if keep {
            Some(&mut self.out.skeleton)
        } else {
            None
        };
        if self.input.peek(ws)?.is_none() {
            return Err(self.syntax(format!("the answer breaks off where {what} should be")));
        }
        let Some(n) = self.input.value_len()? else {
            return Err(self.syntax(format!("the answer breaks off inside {what}")));
        };
        let start = self.input.pos;
        self.take(n, keep);
        Ok(start)
    }

    fn answer(&mut self) -> Result<(), CutError> {
        if self.at.path.is_empty() || self.input.peek(Some(&mut self.out.skeleton))? != Some(b'{') {
            // Not an object: the whole answer is the skeleton, for the platform's reader to
            // say what it is.
            return self.copy_rest();
        }
        self.object(0)?;
        if self.out.stopped {
            return Ok(());
        }
        self.copy_rest()
    }

    fn copy_rest(&mut self) -> Result<(), CutError> {
        loop {
            let rest = self.input.rest().len();
            self.take(rest, true);
            if !self.input.more()? {
                return Ok(());
            }
        }
    }

    /// An object on the path, `depth` keys down (its `{` not consumed yet).
    fn object(&mut self, depth: usize) -> Result<(), CutError> {
        self.take(1, true);
        let mut first = true;
        loop {
            match self.next_byte("a key or '}'")? {
                b'}' if first => break,
                b'"' => {}
                _ => return Err(self.syntax("expected a key")),
            }
            first = false;
            let start = self.value(true, "a key")?;
            let end = self.input.pos;
            let key = key_text(&self.input.buf[start..end]);
            if self.next_byte("':'")? != b':' {
                return Err(self.syntax("expected ':' after a key"));
            }
            self.take(1, true);
            let on_path = key.as_deref() == Some(self.at.path[depth]);
            let opens = self.next_byte("a value")?;
            if on_path && depth + 1 < self.at.path.len() && opens == b'{' {
                self.object(depth + 1)?;
            } else if on_path && depth + 1 == self.at.path.len() {
                if self.out.found {
                    return Err(
                        self.syntax(format!("the answer has {} twice", self.at.path.join(".")))
                    );
                }
                match (self.at.container, opens) {
                    (Container::Array, b'[') => self.array(depth + 1)?,
                    (Container::Numbered, b'{') => self.numbered(depth + 1)?,
                    // `null` or another type: the platform's reader says what it makes of it.
                    _ => {
                        self.value(true, "a value")?;
                    }
                }
            } else {
                self.value(true, "a value")?;
            }
            if self.out.stopped {
                return Ok(());
            }
            match self.next_byte("',' or '}'")? {
                b',' => self.take(1, true),
                b'}' => break,
                _ => return Err(self.syntax("expected ',' or '}' after a value")),
            }
        }
        self.take(1, true);
        Ok(())
    }

    /// The container opened: tell the caller, with the head closed at `depth` levels.
    fn open(&mut self, depth: usize, close: u8) {
        self.out.found = true;
        let mut head = self.out.skeleton.clone();
        head.push(close);
        head.extend(std::iter::repeat_n(b'}', depth));
        self.hand_over = self.cuts.opened(&head);
    }

    /// One order cut out: handed over or counted.
    fn order(&mut self, start: usize) {
        let index = self.out.orders;
        self.out.orders += 1;
        if self.hand_over && !self.out.stopped {
            let bytes = &self.input.buf[start..self.input.pos];
            if !self.cuts.order(index, bytes) {
                self.out.stopped = true;
            }
        }
    }

    /// The array of orders (its `[` not consumed yet), `depth` keys down.
    fn array(&mut self, depth: usize) -> Result<(), CutError> {
        self.take(1, true);
        self.open(depth, b']');
        if self.input.peek(None)? == Some(b']') {
            self.take(1, true);
            return Ok(());
        }
        loop {
            if self.out.stopped {
                return Ok(());
            }
            match self.input.peek(None)? {
                None => return Err(self.syntax("the answer breaks off inside the order list")),
                Some(b']' | b',') => return Err(self.syntax("expected an order")),
                Some(_) => {}
            }
            let start = self.value(false, "an order")?;
            self.order(start);
            match self.input.peek(None)? {
                Some(b',') => self.take(1, false),
                Some(b']') => break,
                Some(_) => return Err(self.syntax("expected ',' or ']' after an order")),
                None => return Err(self.syntax("the answer breaks off inside the order list")),
            }
        }
        self.take(1, true);
        Ok(())
    }

    /// The object of numbered orders (its `{` not consumed yet), `depth` keys down. Members
    /// not cut stay in the skeleton, separated by commas of their own.
    fn numbered(&mut self, depth: usize) -> Result<(), CutError> {
        self.take(1, true);
        self.open(depth, b'}');
        let mut kept = 0usize;
        if self.input.peek(None)? == Some(b'}') {
            self.take(1, true);
            return Ok(());
        }
        loop {
            if self.out.stopped {
                return Ok(());
            }
            if self.input.peek(None)? != Some(b'"') {
                return Err(self.syntax("expected a key"));
            }
            // The member is measured whole before anything of it is consumed, so that it can
            // be kept or cut as one.
            let key_len = self.input.value_len()?.ok_or_else(|| {
                self.syntax("the answer breaks off inside a key of the order object")
            })?;
            let cut = is_index(&self.input.rest()[..key_len], self.out.orders);
            if kept > 0 && !cut {
                self.out.skeleton.push(b',');
            }
            self.take(key_len, !cut);
            if self.input.peek(None)? != Some(b':') {
                return Err(self.syntax("expected ':' after a key"));
            }
            self.take(1, !cut);
            let start = self.value(!cut, "an order")?;
            if cut {
                self.order(start);
            } else {
                kept += 1;
            }
            match self.input.peek(None)? {
                Some(b',') => self.take(1, false),
                Some(b'}') => break,
                Some(_) => return Err(self.syntax("expected ',' or '}' after an order")),
                None => return Err(self.syntax("the answer breaks off inside the order object")),
            }
        }
        self.take(1, true);
        Ok(())
    }
}

/// Whether a key (its quoted bytes) is `n` in decimal, read without allocating for the plain
/// keys every numbered order has.
fn is_index(quoted: &[u8], n: usize) -> bool {
    if quoted.contains(&b'\\') {
        return key_text(quoted).is_some_and(|k| k == n.to_string());
    }
    let digits = quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    let plain = !digits.is_empty() && (digits == b"0" || digits[0] != b'0');
    plain
        && digits.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            == Some(n)
}

/// A key's text (its quoted bytes), unescaped; `None` if it is not a JSON string.
fn key_text(quoted: &[u8]) -> Option<String> {
    if !quoted.contains(&b'\\') {
        return std::str::from_utf8(quoted.get(1..quoted.len().checked_sub(1)?)?)
            .ok()
            .map(str::to_string);
    }
    serde_json::from_slice(quoted).ok()
}

#[cfg(test)]
mod tests;
