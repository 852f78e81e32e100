//! Reading a saved PandaPon page order by order, for `ordersync normalize`.
//!
//! A page is `{"requestId", "code", "msg", "data": {"total", "data": [order, ...], "code",
//! "msg"}}`. [`each_order`] hands each order to a callback while the body is still being
//! parsed, so that a large saved page is written as it is read. Orders are only handed over
//! once `code` has been read and is 200 (it comes first in every answer PandaPon sends);
//! otherwise, and whenever the body is not what this reader expects, it gives up with
//! [`Outcome::Fallback`] before handing over anything, and the caller reads the page the
//! ordinary way, which produces the exact error.

use super::Head;
use crate::platforms::TextOrNumber;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// How a streamed read ended.
pub(super) enum Outcome {
    /// Read to the end; the head, and the total, inner code and message of `data` (1688).
    Done {
        head: Head,
        total: Option<TextOrNumber>,
        inner_code: Option<TextOrNumber>,
        inner_msg: Option<Value>,
    },
    /// Nothing was handed over: read the page the ordinary way.
    Fallback,
    /// Stopped after `emitted` orders: the body broke off or an order did not parse. The
    /// ordinary read names the problem.
    Failed { emitted: usize },
    /// The callback asked to stop.
    Stopped,
}

/// Read `body`, handing each order (with its index) to `each`; `each` returns `false` to stop.
pub(super) fn each_order<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    each: &mut dyn FnMut(usize, T) -> bool,
) -> Outcome {
    let mut state = State {
        head: Head {
            request_id: None,
            code: None,
            msg: None,
        },
        total: None,
        inner_code: None,
        inner_msg: None,
        emitted: 0,
        saw_list: false,
        stopped: false,
        each,
    };
    let read = crate::platforms::json::over_body!(body, |de| {
        Page::<T>(&mut state, PhantomData)
            .deserialize(&mut de)
            .and_then(|()| de.end())
    });
    match read {
        _ if state.stopped => Outcome::Stopped,
        // No order list (`data: {}`, a missing `data`): the ordinary read decides whether that
        // is an error (it is, unless `total` is 0).
        Ok(()) if !state.saw_list => Outcome::Fallback,
        Ok(()) => Outcome::Done {
            head: state.head,
            total: state.total,
            inner_code: state.inner_code,
            inner_msg: state.inner_msg,
        },
        Err(_) if state.emitted == 0 => Outcome::Fallback,
        Err(_) => Outcome::Failed {
            emitted: state.emitted,
        },
    }
}

struct State<'f, T> {
    head: Head,
    total: Option<TextOrNumber>,
    inner_code: Option<TextOrNumber>,
    inner_msg: Option<Value>,
    emitted: usize,
    /// `data.data` was an array.
    saw_list: bool,
    stopped: bool,
    each: &'f mut dyn FnMut(usize, T) -> bool,
}

fn is_200(code: &TextOrNumber) -> bool {
    match code {
        TextOrNumber::Int(200) => true,
        TextOrNumber::Text(t) => t.trim() == "200",
        _ => false,
    }
}

/// A total the ordinary read accepts (a count, as a number or text).
pub(super) fn total_is_a_count(total: &TextOrNumber) -> bool {
    total.clone().into_string().trim().parse::<u64>().is_ok()
}

impl<T> State<'_, T> {
    fn code_is_ok(&self) -> bool {
        self.head.code.as_ref().is_some_and(is_200)
    }

    /// What came before the orders in `data` raises no error the ordinary read would report.
    fn data_head_is_ok(&self) -> bool {
        self.inner_code.as_ref().is_none_or(is_200)
            && self.total.as_ref().is_none_or(total_is_a_count)
    }
}

/// Why a streamed read gave up early (never shown: the ordinary read reports).
const GIVE_UP: &str = "not streamable";

/// The top-level object.
struct Page<'s, 'f, T>(&'s mut State<'f, T>, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Page<'_, '_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Page<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PandaPon answer")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "requestId" => state.head.request_id = map.next_value()?,
                "code" => state.head.code = map.next_value()?,
                "msg" => state.head.msg = map.next_value()?,
                "data" if state.code_is_ok() => {
                    map.next_value_seed(Data::<T>(&mut *state, PhantomData))?
                }
                "data" => return Err(de::Error::custom(GIVE_UP)),
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
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Data<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the page's data")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        // No data: the ordinary read says what that means.
        Err(E::custom(GIVE_UP))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "total" => state.total = map.next_value()?,
                "code" => state.inner_code = map.next_value()?,
                "msg" => state.inner_msg = map.next_value()?,
                "data" if state.data_head_is_ok() => {
                    map.next_value_seed(Orders::<T>(&mut *state, PhantomData))?
                }
                "data" => return Err(de::Error::custom(GIVE_UP)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `data.data`: the orders, handed over one by one.
struct Orders<'s, 'f, T>(&'s mut State<'f, T>, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Orders<'_, '_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Orders<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of orders")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        state.saw_list = true;
        while let Some(order) = seq.next_element::<T>()? {
            let index = state.emitted;
            state.emitted += 1;
            if !(state.each)(index, order) {
                state.stopped = true;
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}
