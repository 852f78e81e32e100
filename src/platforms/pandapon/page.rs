//! The one reader of a PandaPon page, for `pull` and `normalize` alike.
//!
//! A page is `{"requestId", "code", "msg", "data": {"total", "data": [order, ...], "code",
//! "msg"}}`. [`read_page`] parses it once and hands each wire order over as soon as it is read
//! when the answer has already said it succeeded: `code` 200 (it comes first in every answer
//! PandaPon sends) and nothing wrong in `data` before the list. Orders read before that is
//! known are held to the end of the body and handed over only if the answer succeeded, so an
//! error answer never yields an order, and a large saved page is written while it is read.
//!
//! The answer is checked as a whole, in this order: `code` (missing: malformed; not 200: the
//! platform's error), `data`, the code inside `data` (1688), `data.total`, and the order list
//! (missing only where `total` says 0). A body that does not parse has its head read alone
//! first, so an error answer whose `data` has an unexpected shape is still the platform's
//! error; with `code` 200, the page is read again with path tracking to name where it broke.

use super::{Ctx, Head, api_error, malformed, value_text};
use crate::error::PlatformError;
use crate::platforms::TextOrNumber;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// Read `body`, handing each wire order (with its index in `data.data`) to `each`, which
/// returns `false` to stop reading. Returns `data.total`. On an error, the orders handed over
/// before it stay handed over.
pub(super) fn read_page<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    page: Option<u32>,
    ctx: &Ctx,
    each: &mut dyn FnMut(usize, T) -> bool,
) -> Result<Option<u64>, PlatformError> {
    let mut state = State::new(Some(each));
    let read = crate::platforms::json::over_body!(body, |de| {
        Top::<T>(&mut state, PhantomData)
            .deserialize(&mut de)
            .and_then(|()| de.end())
    });
    if state.stopped {
        return Ok(None);
    }
    if read.is_err() {
        return Err(diagnose::<T>(body, page, ctx));
    }
    let total = state.check(page, ctx)?;
    for (i, o) in std::mem::take(&mut state.held) {
        if !state.hand_over(i, o) {
            break;
        }
    }
    Ok(total)
}

/// What reading found besides the orders.
struct State<'f, T> {
    head: Head,
    /// `data` was there (as `null` or an object).
    data_key: bool,
    /// `data` was an object.
    data: bool,
    total: Option<TextOrNumber>,
    inner_code: Option<TextOrNumber>,
    inner_msg: Option<Value>,
    /// `data.data` was a list.
    list: bool,
    /// Orders read so far.
    read: usize,
    /// Orders read before the answer said it succeeded.
    held: Vec<(usize, T)>,
    stopped: bool,
    /// `None`: orders are read and dropped (reading again for an error's path).
    each: Option<&'f mut dyn FnMut(usize, T) -> bool>,
}

impl<'f, T> State<'f, T> {
    fn new(each: Option<&'f mut dyn FnMut(usize, T) -> bool>) -> Self {
        State {
            head: Head {
                request_id: None,
                code: None,
                msg: None,
            },
            data_key: false,
            data: false,
            total: None,
            inner_code: None,
            inner_msg: None,
            list: false,
            read: 0,
            held: Vec::new(),
            stopped: false,
            each,
        }
    }

    fn hand_over(&mut self, index: usize, order: T) -> bool {
        let go_on = self.each.as_mut().is_none_or(|each| each(index, order));
        self.stopped = !go_on;
        go_on
    }

    /// The answer so far says it succeeded: its orders can be handed over as they are read.
    fn succeeded_so_far(&self) -> bool {
        self.head.code.as_ref().is_some_and(is_200)
            && self.inner_code.as_ref().is_none_or(is_200)
            && self.total.as_ref().is_none_or(|t| count(t).is_some())
    }

    /// Check the whole answer once read; returns `data.total`.
    fn check(&mut self, page: Option<u32>, ctx: &Ctx) -> Result<Option<u64>, PlatformError> {
        let request_id = self.head.request_id.take().map(TextOrNumber::into_string);
        let Some(code) = self.head.code.take().map(TextOrNumber::into_string) else {
            return Err(malformed(
                ctx,
                page,
                "$.code",
                "the answer has no code".into(),
            ));
        };
        if code.trim() != "200" {
            return Err(api_error(
                ctx,
                code,
                value_text(self.head.msg.take()),
                request_id,
            ));
        }
        if !self.data {
            return Err(malformed(
                ctx,
                page,
                "$.data",
                "code is 200 but there is no data".into(),
            ));
        }
        if let Some(inner) = self.inner_code.take().map(TextOrNumber::into_string)
            && inner.trim() != "200"
        {
            return Err(api_error(
                ctx,
                inner,
                value_text(self.inner_msg.take()),
                request_id,
            ));
        }
        let total = match self.total.take() {
            None => None,
            Some(t) => Some(count(&t).ok_or_else(|| {
                let t = t.into_string();
                malformed(ctx, page, "$.data.total", format!("{t:?} is not a count"))
            })?),
        };
        // An answer without the order list is not "no orders": only an explicit total of 0 may
        // leave it out.
        if !self.list && total != Some(0) {
            return Err(malformed(
                ctx,
                page,
                "$.data.data",
                "code is 200 but data holds no order list (and no total of 0)".into(),
            ));
        }
        Ok(total)
    }
}

/// A code that means success, read as [`State::check`] reads it (`200`, `"200"`, `200.0`).
fn is_200(code: &TextOrNumber) -> bool {
    match code {
        TextOrNumber::Int(n) => *n == 200,
        other => other.clone().into_string().trim() == "200",
    }
}

/// A total as a count (a number or text).
fn count(total: &TextOrNumber) -> Option<u64> {
    total.clone().into_string().trim().parse::<u64>().ok()
}

/// The error of a body that did not read: the platform's, when its head says so; otherwise
/// where the page broke, found by reading it again with path tracking.
fn diagnose<'a, T: Deserialize<'a>>(body: &'a [u8], page: Option<u32>, ctx: &Ctx) -> PlatformError {
    let (platform, endpoint) = (ctx.endpoint.id(), ctx.endpoint.path());
    let head: Head = match crate::platforms::parse_json(body, platform, endpoint, page) {
        Ok(head) => head,
        Err(e) => return e,
    };
    let request_id = head.request_id.map(TextOrNumber::into_string);
    let Some(code) = head.code.map(TextOrNumber::into_string) else {
        return malformed(ctx, page, "$.code", "the answer has no code".into());
    };
    if code.trim() != "200" {
        return api_error(ctx, code, value_text(head.msg), request_id);
    }
    let mut state = State::<T>::new(None);
    let mut track = serde_path_to_error::Track::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = Top::<T>(&mut state, PhantomData)
        .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
        .and_then(|()| de.end());
    let Err(e) = read else {
        // Not expected: the first read failed on this same body.
        return PlatformError::Garbled {
            platform,
            endpoint: endpoint.to_string(),
            page,
            detail: "the answer could not be read".into(),
            saved_body: None,
        };
    };
    match e.classify() {
        serde_json::error::Category::Data => PlatformError::Malformed {
            platform,
            endpoint: endpoint.to_string(),
            page,
            path: crate::platforms::display_path(&track.path().to_string()),
            detail: e.to_string(),
            saved_body: None,
        },
        _ => PlatformError::Garbled {
            platform,
            endpoint: endpoint.to_string(),
            page,
            detail: e.to_string(),
            saved_body: None,
        },
    }
}

/// Why reading stopped at the callback's request (never shown).
const STOPPED: &str = "stopped";

/// Read a key's value once; a repeated key is an error, as for a derived struct.
fn once<'de, A: MapAccess<'de>, V: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<V>,
    seen: &mut bool,
    key: &'static str,
) -> Result<(), A::Error> {
    if std::mem::replace(seen, true) {
        return Err(de::Error::duplicate_field(key));
    }
    *slot = map.next_value()?;
    Ok(())
}

/// The top-level object.
struct Top<'s, 'f, T>(&'s mut State<'f, T>, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Top<'_, '_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Top<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct Whole")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let (mut request_id, mut code, mut msg) = (false, false, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "requestId" => once(
                    &mut map,
                    &mut state.head.request_id,
                    &mut request_id,
                    "requestId",
                )?,
                "code" => once(&mut map, &mut state.head.code, &mut code, "code")?,
                "msg" => once(&mut map, &mut state.head.msg, &mut msg, "msg")?,
                "data" if state.data_key => return Err(de::Error::duplicate_field("data")),
                // An error answer's data is not read: its shape is no concern.
                "data" if state.head.code.as_ref().is_some_and(|c| !is_200(c)) => {
                    state.data_key = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "data" => {
                    state.data_key = true;
                    map.next_value_seed(Data::<T>(&mut *state, PhantomData))?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `data`: `{"total", "data": [...], "code", "msg"}`, or null.
struct Data<'s, 'f, T>(&'s mut State<'f, T>, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Data<'_, '_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Data<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct PageData")
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        state.data = true;
        let (mut total, mut list, mut code, mut msg) = (false, false, false, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "total" => once(&mut map, &mut state.total, &mut total, "total")?,
                "code" => once(&mut map, &mut state.inner_code, &mut code, "code")?,
                "msg" => once(&mut map, &mut state.inner_msg, &mut msg, "msg")?,
                "data" if std::mem::replace(&mut list, true) => {
                    return Err(de::Error::duplicate_field("data"));
                }
                "data" => map.next_value_seed(Orders::<T>(&mut *state, PhantomData))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `data.data`: the orders, or null.
struct Orders<'s, 'f, T>(&'s mut State<'f, T>, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Orders<'_, '_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Orders<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        state.list = true;
        let now = state.succeeded_so_far();
        while let Some(order) = seq.next_element::<T>()? {
            let index = state.read;
            state.read += 1;
            if state.each.is_none() {
                continue;
            }
            if !now {
                state.held.push((index, order));
            } else if !state.hand_over(index, order) {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}
