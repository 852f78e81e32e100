//! Taobao Trade objects, shared by taobao-enhanced and vvtool: their statuses, their request
//! times, what of a trade is read (`wire`), how it is normalized (`normalize`), and what
//! the two platforms' list readers share (`read`).
//!
//! Both APIs return Taobao TOP `Trade` objects: order lines in `orders.order[]`, amounts as
//! decimal strings (`"105.58"`), times as `yyyy-MM-dd HH:mm:ss` in China time, ids as strings or
//! (vv-tool documents `Number`) JSON integers that exceed 2^53.

mod normalize;
mod read;
mod wire;

pub use normalize::{FieldError, normalize_lines, normalize_trade};
pub use read::{Origin, collect};
pub use wire::{TRADE, TRADE_FIELDS, TRADE_LIST, TradeListShape, TradeShape};

use super::Window;
use crate::model::{Status, platform_offset};
use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};
#[cfg(test)]
use {super::json::Json, crate::model::Order};

/// The Taobao request time format (`yyyy-MM-dd HH:mm:ss`, China time).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The Taobao Trade statuses, as `--status` passes them to the list's `status` filter.
pub const TRADE_STATUSES: &[&str] = &[
    "WAIT_BUYER_PAY",
    "TRADE_NO_CREATE_PAY",
    "PAY_PENDING_CONFIRM",
    "PAY_PENDING",
    "PAID_FORBID_CONSIGN",
    "WAIT_PRE_AUTH_CONFIRM",
    "WAIT_SELLER_SEND_GOODS",
    "SELLER_CONSIGNED_PART",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED_BY_TAOBAO",
    "TRADE_CLOSED",
];

/// Map a Taobao Trade status (`WAIT_SELLER_SEND_GOODS`, ...) to the normalized status.
pub fn trade_status(s: &str) -> Status {
    match s {
        "WAIT_BUYER_PAY" | "TRADE_NO_CREATE_PAY" | "PAY_PENDING_CONFIRM" => Status::PendingPayment,
        "PAY_PENDING" | "PAID_FORBID_CONSIGN" | "WAIT_PRE_AUTH_CONFIRM" => Status::Paid,
        "WAIT_SELLER_SEND_GOODS" => Status::AwaitingShipment,
        "SELLER_CONSIGNED_PART" => Status::PartiallyShipped,
        "WAIT_BUYER_CONFIRM_GOODS" => Status::Shipped,
        "TRADE_BUYER_SIGNED" => Status::Delivered,
        "TRADE_FINISHED" => Status::Completed,
        "TRADE_CLOSED_BY_TAOBAO" => Status::Cancelled,
        "TRADE_CLOSED" => Status::Refunded,
        _ => Status::Unknown,
    }
}

/// Format an instant as a Taobao request time.
pub fn china_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&platform_offset())
        .format(TIME_FORMAT)
        .to_string()
}

/// The inclusive whole-second bounds `[first, last]` (China time) that select exactly the
/// trades whose whole-second time lies in the half-open window `[start, end)`: `first` is
/// `start` rounded up to a second, `last` is one second before `end` rounded up. Taobao
/// filters include both bounds, so adjacent windows neither overlap nor leave a gap.
pub fn inclusive_seconds(w: &Window) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let ceil = |t: DateTime<Utc>| {
        let whole = t.with_nanosecond(0).unwrap_or(t);
        if whole < t {
            whole + Duration::seconds(1)
        } else {
            whole
        }
    };
    let first = ceil(w.start);
    // A window shorter than a second holding no whole second still asks for one second.
    let last = (ceil(w.end) - Duration::seconds(1)).max(first);
    let o = platform_offset();
    (first.with_timezone(&o), last.with_timezone(&o))
}

#[cfg(test)]
mod tests;
