//! Normalizing taobao-tw's wire objects into the model: orders (without lines, from the list;
//! with them, from `/order/get`), lines, statuses, times and money (see the module doc of
//! `taobao_tw` for the money rules). Where a warning or an error is about is an [`At`].

use super::wire::{WireDelivery, WireDetail, WireLine, WireOrder, WireSku};
use super::{DETAIL, ID, ITEMS};
use crate::error::PlatformError;
use crate::model::{
    Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status, Timestamp, non_empty,
    warn_unknown_status,
};
use crate::platforms::{TextOrNumber, TextOrNumberRef};

/// A field that cannot be read: its JSON path and why.
pub(super) type FieldError = (String, String);

/// The owned value of a borrowed scalar, for the helpers shared with the owned lines.
fn own(v: Option<TextOrNumberRef<'_>>) -> Option<TextOrNumber> {
    v.map(TextOrNumberRef::owned)
}

pub(super) fn malformed(
    endpoint: &str,
    page: Option<u32>,
    (path, detail): (String, String),
) -> PlatformError {
    PlatformError::malformed(ID, endpoint, page, path, detail)
}

/// Where a wire object sits in an answer, for warnings: the endpoint and the JSON path.
pub(super) struct At {
    endpoint: &'static str,
    path: String,
}

impl At {
    /// Entry `i` of a list answer's `model_list`.
    pub(super) fn list(endpoint: &'static str, i: usize) -> At {
        At {
            endpoint,
            path: format!("$.result.model_list[{i}]"),
        }
    }

    /// Entry `i` of page `page` of an `/order/items/get` answer.
    pub(super) fn items(page: u32, i: usize) -> At {
        At {
            endpoint: ITEMS,
            path: format!("(page {page}) $.result.model_list[{i}]"),
        }
    }

    /// The order of an `/order/get` answer.
    pub(super) fn detail() -> At {
        At {
            endpoint: DETAIL,
            path: "$.result.module".into(),
        }
    }

    /// Line `j` of an `/order/get` answer.
    pub(super) fn detail_line(j: usize) -> At {
        At {
            endpoint: DETAIL,
            path: format!("$.result.module.trade_order_line_list[{j}]"),
        }
    }

    fn warn(&self, subject: &str, field: &str, what: &str) {
        crate::logging::warn_repeating(format_args!(
            "{ID} {}: {subject}: {}.{field} {what}",
            self.endpoint, self.path
        ));
    }

    /// An amount the platform gave as text (or a number); missing or unreadable is null
    /// with a warning, never zero.
    fn amount(&self, subject: &str, v: Option<TextOrNumber>, field: &str) -> Option<Amount> {
        match v.map(TextOrNumber::into_string) {
            None => {
                self.warn(subject, field, "is missing; the amount is left null");
                None
            }
            Some(s) if s.trim().is_empty() => {
                self.warn(subject, field, "is empty; the amount is left null");
                None
            }
            Some(s) => match Amount::parse(&s) {
                Ok(a) => Some(a),
                Err(_) => {
                    self.warn(
                        subject,
                        field,
                        &format!("holds {s:?}, which is not a decimal amount; it is left null"),
                    );
                    None
                }
            },
        }
    }

    /// The postage actually paid: `actual_shipping_fee`, or `shipping_fee` when only that is
    /// given (the seed gives both, equal). An unreadable `actual_shipping_fee` is not replaced
    /// by `shipping_fee`, which may be the postage before a shipping discount.
    fn shipping(
        &self,
        subject: &str,
        actual: Option<TextOrNumber>,
        listed: Option<TextOrNumber>,
    ) -> Option<Amount> {
        match (actual, listed) {
            (None, Some(listed)) => self.amount(subject, Some(listed), "shipping_fee"),
            (actual, _) => self.amount(subject, actual, "actual_shipping_fee"),
        }
    }
}

pub(super) fn time(ms: Option<i64>, field: &str) -> Result<Option<Timestamp>, FieldError> {
    match ms {
        None | Some(0) => Ok(None),
        Some(ms) => Timestamp::from_epoch_millis(ms).map(Some).ok_or_else(|| {
            (
                format!("$.{field}"),
                format!("{ms} is not a valid epoch-ms time"),
            )
        }),
    }
}

/// The normalized status of a LazOP order or line status.
pub fn map_status(s: &str) -> Status {
    match s {
        "unpaid" => Status::PendingPayment,
        "pending" | "ready_to_ship" | "packed" | "repacked" => Status::AwaitingShipment,
        "shipped" => Status::Shipped,
        "delivered" => Status::Delivered,
        "canceled" | "cancelled" | "failed" => Status::Cancelled,
        "returned" => Status::Refunded,
        _ => Status::Unknown,
    }
}

/// The list wraps line ids in extra quotes (`"\"558757467941\""`); strip them.
pub fn strip_quotes(id: &str) -> String {
    id.trim().trim_matches('"').to_string()
}

impl WireOrder<'_> {
    /// The line ids the list entry names, unquoted.
    pub(super) fn line_ids(&self) -> Vec<String> {
        self.trade_order_line_id_list
            .iter()
            .flatten()
            .map(|id| strip_quotes(&id.clone().owned().into_string()))
            .collect()
    }

    /// The order without lines (and so without a discount yet): see [`with_lines`].
    pub(super) fn normalize(self, shop: &str, at: &At) -> Result<Order, FieldError> {
        let platform_status = self.status.map(String::from).unwrap_or_default();
        let status = map_status(&platform_status);
        if status == Status::Unknown {
            warn_unknown_status(ID, &platform_status);
        }
        let order_id = self.trade_order_id.owned().into_string();
        let subject = format!("order {order_id}");
        let total = at.amount(&subject, own(self.actual_fee), "actual_fee");
        let shipping_fee = at.shipping(
            &subject,
            own(self.actual_shipping_fee),
            own(self.shipping_fee),
        );
        let d: WireDelivery = self.delivery_info.unwrap_or_default();
        Ok(Order {
            platform: ID.into(),
            shop: shop.into(),
            order_id,
            source_order_id: None,
            status,
            platform_status,
            created_at: time(self.creation_time, "creation_time")?,
            updated_at: time(self.modification_time, "modification_time")?,
            paid_at: None,
            currency: self
                .actual_fee_currency_code
                .map_or_else(|| "TWD".into(), String::from),
            total,
            shipping_fee,
            discount: None,
            buyer: Party {
                id: own(self.buyer_id).map(TextOrNumber::into_string),
                name: non_empty(self.buyer_full_name.as_deref()),
            },
            seller: Party {
                id: own(self.seller_id).map(TextOrNumber::into_string),
                name: non_empty(self.seller_full_name.as_deref()),
            },
            receiver: Receiver {
                name: non_empty(d.receiver_name.as_deref()),
                phone: non_empty(d.receiver_phone.as_deref()),
                country: non_empty(d.country_code.as_deref()),
                state: non_empty(d.state.as_deref()),
                city: non_empty(d.city.as_deref()),
                district: non_empty(d.area.as_deref()),
                town: None,
                address: non_empty(d.detail_address.as_deref()),
                zip: non_empty(d.post_code.as_deref()),
            },
            buyer_message: None,
            seller_memo: None,
            lines: Vec::new(),
        })
    }
}

/// The order with all its lines, and the discount they make known (TW has no discount
/// field, so the platform's own figure is none).
pub(super) fn with_lines(mut order: Order, lines: Vec<OrderLine>) -> Order {
    order.lines = lines;
    order.discount = order.derived_discount(None);
    order
}

impl WireDetail<'_> {
    /// An `/order/get` module: the order with its lines.
    pub(super) fn normalize(self, shop: &str) -> Result<Order, FieldError> {
        let order = self.order.normalize(shop, &At::detail())?;
        let Some(wire_lines) = self.trade_order_line_list else {
            tracing::warn!(
                "{ID} {DETAIL}: order {}: $.result.module.trade_order_line_list is missing; \
                 the order is written with no lines and a null discount",
                order.order_id
            );
            return Ok(order);
        };
        let lines = wire_lines
            .into_iter()
            .enumerate()
            .map(|(j, l)| l.normalize(&At::detail_line(j)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(with_lines(order, lines))
    }
}

impl WireLine {
    pub(super) fn normalize(self, at: &At) -> Result<OrderLine, FieldError> {
        let line_id = strip_quotes(&self.trade_order_line_id.into_string());
        let subject = format!("line {line_id}");
        let sku_properties = match self.sku_info.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(text) => match serde_json::from_str::<Vec<WireSku>>(text) {
                Ok(v) => v
                    .into_iter()
                    .map(|s| SkuProperty {
                        name: s.property_name.unwrap_or_default(),
                        value: s.value_text.unwrap_or_default(),
                    })
                    .collect(),
                Err(e) => {
                    at.warn(
                        &subject,
                        "sku_info",
                        &format!("is not the expected JSON ({e}); sku_properties left empty"),
                    );
                    Vec::new()
                }
            },
        };
        let platform_status = self.status;
        let status = platform_status.as_deref().map(map_status);
        let tracking_number = self
            .shipment_list
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| non_empty(s.tracking_number.as_deref()))
            .next_back();
        let paid = at.amount(&subject, self.actual_fee, "actual_fee");
        let shipping = at.shipping(&subject, self.actual_shipping_fee, self.shipping_fee);
        // `actual_fee` holds the line's shipping too; the line total is the goods alone.
        let total = match (paid, shipping) {
            (Some(paid), Some(shipping)) => {
                paid.value().checked_sub(shipping.value()).map(Amount::from)
            }
            (Some(_), None) => {
                at.warn(
                    &subject,
                    "actual_fee",
                    "includes the line's shipping, which is not known; the line total is left null",
                );
                None
            }
            (None, _) => None,
        };
        Ok(OrderLine {
            line_id,
            product_id: self.product_id.map(TextOrNumber::into_string),
            sku_id: self.sku_id.map(TextOrNumber::into_string),
            title: self.product_title.unwrap_or_default(),
            sku_properties,
            quantity: self.quantity.unwrap_or(0),
            unit_price: at.amount(&subject, self.unit_fee, "unit_fee"),
            total,
            status,
            platform_status,
            refund_status: None,
            carrier: None,
            tracking_number,
            image_url: non_empty(self.product_main_image.as_deref()),
        })
    }
}
