//! The LazOP wire format of taobao-tw: the envelope, its checks and error classes, and the
//! answers' objects. The list's orders borrow their text from the body (read once, by
//! [`super::read::read_list`]); lines and details are owned, since an `/order/items/get`
//! answer's lines are kept until the last batch is in.

use super::ID;
use crate::error::{ErrorClass, PlatformError, ban_seconds};
use crate::platforms::{TextOrNumber, TextOrNumberRef, parse_json};
use serde::Deserialize;
use std::borrow::Cow;

/// The LazOP envelope: `code == "0"` and a `result`, or an error with `type`/`code`/`message`.
#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    code: Option<TextOrNumber>,
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    result: Option<T>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ListResult<T> {
    pub(super) success: Option<bool>,
    /// Missing only where `total_count` says 0 (see [`Outcome::shape_problem`]).
    pub(super) model_list: Option<Vec<T>>,
    pub(super) total_count: Option<u64>,
    /// A `/order/get` answer (`result.module`) read as a list: tells `normalize` to re-read it.
    #[serde(default, deserialize_with = "present")]
    pub(super) module: bool,
}

/// True for a key that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

#[derive(Deserialize)]
pub(super) struct DetailResult<'a> {
    success: Option<bool>,
    #[serde(borrow)]
    pub(super) module: Option<WireDetail<'a>>,
}

/// A `result` that says whether the call succeeded.
pub(super) trait Outcome {
    fn success(&self) -> Option<bool>;

    /// What makes a `code == "0"` answer not this endpoint's answer, if anything: (path, why).
    fn shape_problem(&self) -> Option<(&'static str, &'static str)> {
        None
    }
}

impl<T> Outcome for ListResult<T> {
    fn success(&self) -> Option<bool> {
        self.success
    }

    /// A `result` with no list (and no total of 0) is another answer's, or a proxy's: never
    /// read as "no orders".
    fn shape_problem(&self) -> Option<(&'static str, &'static str)> {
        (self.model_list.is_none() && !self.module && self.total_count != Some(0)).then_some((
            "$.result.model_list",
            "missing, and total_count is not 0: the answer holds no list",
        ))
    }
}

impl Outcome for DetailResult<'_> {
    fn success(&self) -> Option<bool> {
        self.success
    }
}

#[derive(Deserialize)]
pub(super) struct WireDetail<'a> {
    #[serde(flatten, borrow)]
    pub(super) order: WireOrder<'a>,
    pub(super) trade_order_line_list: Option<Vec<WireLine>>,
}

/// Check the envelope and return its `result`: `code == "0"` and a `result` whose `success`
/// is not `false`. (platforms.md asks for `success == true`; every seed answer has it, but an
/// answer without the key is still read, since `code` already says the call worked.)
pub(super) fn parse_envelope<'a, T: Deserialize<'a> + Outcome>(
    body: &'a [u8],
    endpoint: &str,
    page: Option<u32>,
) -> Result<T, PlatformError> {
    let env: Envelope<T> = parse_json(body, ID, endpoint, page)?;
    let Some(code) = env.code.map(TextOrNumber::into_string) else {
        return Err(PlatformError::Malformed {
            platform: ID,
            endpoint: endpoint.to_string(),
            page,
            path: "$.code".into(),
            detail: "the answer has no code".into(),
            saved_body: None,
        });
    };
    if code != "0" {
        let message = env.message.unwrap_or_default();
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: endpoint.to_string(),
            class: classify(env.kind.as_deref(), &code),
            hint: hint(&code),
            retry_after: ban_seconds(&message),
            code,
            kind: env.kind,
            message,
            request_id: env.request_id,
        });
    }
    let result = env.result.ok_or_else(|| PlatformError::Malformed {
        platform: ID,
        endpoint: endpoint.to_string(),
        page,
        path: "$.result".into(),
        detail: "code is \"0\" but there is no result".into(),
        saved_body: None,
    })?;
    if result.success() == Some(false) {
        return Err(PlatformError::Api {
            platform: ID,
            endpoint: endpoint.to_string(),
            code,
            kind: None,
            message: "result.success is false: the platform did not carry out the call, \
                      so its answer holds no orders to read"
                .into(),
            request_id: env.request_id,
            class: ErrorClass::Other,
            hint: None,
            retry_after: None,
        });
    }
    if let Some((path, detail)) = result.shape_problem() {
        return Err(PlatformError::Malformed {
            platform: ID,
            endpoint: endpoint.to_string(),
            page,
            path: path.into(),
            detail: detail.into(),
            saved_body: None,
        });
    }
    Ok(result)
}

/// `ISP`/`SYSTEM` errors are the platform's own trouble; `ISV` ones are ours.
fn classify(kind: Option<&str>, code: &str) -> ErrorClass {
    let lc = code.to_ascii_lowercase();
    if lc.contains("limit") || lc.contains("timeout") || lc.contains("busy") {
        return ErrorClass::Transient;
    }
    match kind {
        Some("ISP") | Some("SYSTEM") => ErrorClass::Transient,
        _ if lc.contains("signature")
            || lc.contains("token")
            || lc.contains("appkey")
            || lc.contains("permission")
            || lc.contains("auth") =>
        {
            ErrorClass::Auth
        }
        Some("ISV") => ErrorClass::Invalid,
        _ => ErrorClass::Other,
    }
}

fn hint(code: &str) -> Option<String> {
    let lc = code.to_ascii_lowercase();
    if lc.contains("signature") {
        Some("the signature was refused: check app_secret (and app_key) for this shop".into())
    } else if lc.contains("token") {
        Some("the access token was refused: renew the seller's access_token".into())
    } else if lc.contains("timestamp") {
        Some("the request time was refused: check this machine's clock".into())
    } else {
        None
    }
}

/// An `/orders/get` entry (and the order part of an `/order/get` module), its text borrowed.
#[derive(Debug, Deserialize)]
pub(super) struct WireOrder<'a> {
    #[serde(borrow)]
    pub(super) trade_order_id: TextOrNumberRef<'a>,
    pub(super) creation_time: Option<i64>,
    pub(super) modification_time: Option<i64>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) buyer_id: Option<TextOrNumberRef<'a>>,
    #[serde(borrow)]
    pub(super) buyer_full_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) seller_id: Option<TextOrNumberRef<'a>>,
    #[serde(borrow)]
    pub(super) seller_full_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) actual_fee: Option<TextOrNumberRef<'a>>,
    #[serde(borrow)]
    pub(super) actual_fee_currency_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) shipping_fee: Option<TextOrNumberRef<'a>>,
    #[serde(borrow)]
    pub(super) actual_shipping_fee: Option<TextOrNumberRef<'a>>,
    #[serde(borrow)]
    pub(super) delivery_info: Option<WireDelivery<'a>>,
    #[serde(borrow)]
    pub(super) trade_order_line_id_list: Option<Vec<TextOrNumberRef<'a>>>,
    /// Only order lines have this: an `/order/items/get` answer given to `normalize`.
    #[serde(default, deserialize_with = "present")]
    pub(super) trade_order_line_id: bool,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct WireDelivery<'a> {
    #[serde(borrow)]
    pub(super) receiver_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) receiver_phone: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) country_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) area: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) detail_address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) post_code: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize, Clone)]
pub(super) struct WireLine {
    pub(super) trade_order_line_id: TextOrNumber,
    pub(super) product_id: Option<TextOrNumber>,
    pub(super) sku_id: Option<TextOrNumber>,
    pub(super) product_title: Option<String>,
    pub(super) sku_info: Option<String>,
    pub(super) quantity: Option<i64>,
    pub(super) unit_fee: Option<TextOrNumber>,
    /// Goods plus this line's shipping (seed: unit 10, shipping 52, actual 62).
    pub(super) actual_fee: Option<TextOrNumber>,
    pub(super) shipping_fee: Option<TextOrNumber>,
    pub(super) actual_shipping_fee: Option<TextOrNumber>,
    pub(super) status: Option<String>,
    pub(super) shipment_list: Option<Vec<WireShipment>>,
    pub(super) product_main_image: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
pub(super) struct WireShipment {
    pub(super) tracking_number: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireSku {
    #[serde(rename = "propertyName")]
    pub(super) property_name: Option<String>,
    #[serde(rename = "valueText")]
    pub(super) value_text: Option<String>,
}
