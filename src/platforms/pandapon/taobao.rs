//! The Taobao order page (`/v2/taobao/order/page`, seed 003): wire shape and normalization.
//!
//! `orderNo` is the order id; lines come from `subOrderVOS`. Each sub-order's `subOrderResult`
//! is JSON text whose `option_fields.zh` is JSON text again (the SKU properties, in document
//! order) and whose `option_fields.SKU_IMG_URL` is the line's image. Sub-order status strings
//! (`BULIDING`, sic) are kept verbatim as the line's `platform_status`; PandaPon documents no
//! table for them, so the line's normalized `status` is null.
//!
//! Money: the seed does not say the unit of `purchaseAmount` and `domesticPostFee` (its example
//! shows only `0` and `null`); the shop's `amount_unit` does (default fen, as the 1688 page of
//! the same vendor), and a fraction read as fen is an error naming the field. The order's
//! `purchaseAmount` is the total, Σ `domesticPostFee` the shipping, and a sub-order's
//! `purchaseAmount` its line total. No unit price is given, so the lines are never complete and
//! the discount is the page's own figure: Σ sub-order `purchaseAmount` + Σ `domesticPostFee` −
//! the order's `purchaseAmount`, taking the sub-orders' amounts as before the order's discount
//! (as PandaPon's 1688 line amounts are); null while any of them is (an unpaid order's
//! sub-orders have none in the seed).

use super::{
    At, Ctx, OrderedPairs, Sub, map_status, order_id, own, quantity, text, tree_str, value_str,
};
use crate::error::PlatformError;
use crate::model::{Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status};
use crate::platforms::TextOrNumberRef as Raw;
use crate::platforms::json::{EVERYTHING, Json, Shape};
use serde::Deserialize;
use std::borrow::Cow;

/// Read on one thread and normalized on another (`ordersync normalize`): its text borrows from
/// the body, so reading allocates next to nothing and the normalizing thread frees only what
/// it allocated itself (glibc's allocator serialized the two threads on one lock when the
/// writer freed the reader's strings).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireOrder<'a> {
    #[serde(borrow)]
    id: Option<Raw<'a>>,
    #[serde(borrow)]
    order_no: Option<Raw<'a>>,
    #[serde(borrow)]
    user_name: Option<Raw<'a>>,
    #[serde(borrow)]
    user_id: Option<Raw<'a>>,
    #[serde(borrow)]
    create_time: Option<Raw<'a>>,
    #[serde(borrow)]
    pay_time: Option<Raw<'a>>,
    #[serde(borrow)]
    purchase_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    status: Option<Raw<'a>>,
    #[serde(borrow, rename = "warehouseAddressInfoVO")]
    warehouse: Option<WireAddress<'a>>,
    #[serde(borrow, rename = "receiverVO")]
    receiver: Option<WireAddress<'a>>,
    #[serde(borrow)]
    remark: Option<Raw<'a>>,
    #[serde(borrow, rename = "subOrderVOS")]
    sub_orders: Option<Vec<WireSubOrder<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireAddress<'a> {
    #[serde(borrow)]
    name: Option<Raw<'a>>,
    #[serde(borrow)]
    phone: Option<Raw<'a>>,
    #[serde(borrow)]
    mobile_phone: Option<Raw<'a>>,
    #[serde(borrow)]
    country: Option<Raw<'a>>,
    #[serde(borrow)]
    state: Option<Raw<'a>>,
    #[serde(borrow)]
    city: Option<Raw<'a>>,
    #[serde(borrow)]
    district: Option<Raw<'a>>,
    #[serde(borrow)]
    address: Option<Raw<'a>>,
    #[serde(borrow)]
    zip: Option<Raw<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSubOrder<'a> {
    #[serde(borrow)]
    sub_order_id: Option<Raw<'a>>,
    #[serde(borrow)]
    quantity: Option<Raw<'a>>,
    #[serde(borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purchase_currency: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purchase_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    item_map_id: Option<Raw<'a>>,
    #[serde(borrow)]
    domestic_post_fee: Option<Raw<'a>>,
    #[serde(borrow)]
    sku_id: Option<Raw<'a>>,
    #[serde(borrow)]
    status: Option<Raw<'a>>,
    #[serde(borrow)]
    taobao_purchase_id: Option<Raw<'a>>,
    #[serde(borrow)]
    sub_order_result: Option<Json<'a>>,
    #[serde(borrow)]
    refund_status: Option<Raw<'a>>,
}

impl WireOrder<'_> {
    pub(super) fn normalize(
        self,
        ctx: &Ctx,
        index: usize,
        page: Option<u32>,
    ) -> Result<Order, PlatformError> {
        let platform = ctx.endpoint.id();
        let Some(id) = order_id(platform, own(self.order_no), own(self.id), index) else {
            return Err(super::malformed(
                ctx,
                page,
                &format!("$.data.data[{index}].orderNo"),
                "the order has neither orderNo nor id".into(),
            ));
        };
        let at = At {
            platform,
            order: &id,
            index,
        };
        let platform_status = text(own(self.status)).unwrap_or_default();
        let status = map_status(platform, &platform_status);
        let subs = self.sub_orders.unwrap_or_default();

        // Σ domesticPostFee; unknown as soon as one sub-order's fee is.
        let mut shipping: Option<Amount> = Some(Amount::ZERO);
        let mut purchase_ids: Vec<String> = Vec::new();
        let mut currency = None;
        let mut lines = Vec::with_capacity(subs.len());
        for (i, s) in subs.into_iter().enumerate() {
            let fee = at.amount(
                ctx,
                page,
                own(s.domestic_post_fee.clone()),
                sub_order(i, "domesticPostFee"),
            )?;
            shipping = shipping
                .zip(fee)
                .and_then(|(sum, fee)| sum.checked_add(fee));
            if let Some(p) = text(own(s.taobao_purchase_id.clone()))
                && !purchase_ids.contains(&p)
            {
                purchase_ids.push(p);
            }
            if currency.is_none() {
                currency = non_blank(s.purchase_currency.clone());
            }
            lines.push(line(ctx, page, &at, i, s)?);
        }
        if lines.is_empty() {
            // Postage is given per sub-order only.
            at.warn(
                "subOrderVOS",
                "holds no sub-order, so shipping_fee is unknown",
            );
            shipping = None;
        }

        // The receiver view has no name or phone; the warehouse address the goods go to has.
        let r = self.receiver.unwrap_or_default();
        let w = self.warehouse.unwrap_or_default();
        let pick = |a: Option<Raw>, b: Option<Raw>| text(own(a)).or_else(|| text(own(b)));
        let receiver = Receiver {
            name: pick(r.name, w.name),
            phone: pick(r.phone, w.phone).or_else(|| pick(r.mobile_phone, w.mobile_phone)),
            country: pick(r.country, w.country),
            state: pick(r.state, w.state),
            city: pick(r.city, w.city),
            district: pick(r.district, w.district),
            town: None,
            address: pick(r.address, w.address),
            zip: pick(r.zip, w.zip),
        };

        let total = at.amount(ctx, page, own(self.purchase_amount), "purchaseAmount")?;
        let mut order = Order {
            platform: platform.into(),
            shop: ctx.shop.into(),
            // One Taobao purchase order behind all sub-orders: the marketplace's id.
            source_order_id: match purchase_ids.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            },
            status,
            platform_status,
            created_at: at.time(self.create_time, "createTime"),
            updated_at: None,
            paid_at: at.time(self.pay_time, "payTime"),
            currency: currency.unwrap_or_else(|| "CNY".into()),
            total,
            shipping_fee: shipping,
            discount: None,
            buyer: Party {
                id: text(own(self.user_id)),
                name: text(own(self.user_name)),
            },
            seller: Party::default(),
            receiver,
            buyer_message: text(own(self.remark)),
            seller_memo: None,
            lines,
            order_id: id,
        };
        // No unit prices, so the lines are never complete: the page's own figure is what the
        // sub-orders' amounts and postage come to, less what the order cost.
        let figure = lines_paid(&order.lines)
            .zip(order.shipping_fee)
            .zip(order.total)
            .and_then(|((goods, ship), total)| {
                goods
                    .value()
                    .checked_add(ship.value())
                    .and_then(|d| d.checked_sub(total.value()))
            })
            .map(Amount::from);
        order.discount = order.derived_discount(figure);
        Ok(order)
    }
}

/// Σ line totals, when every line has one.
fn lines_paid(lines: &[OrderLine]) -> Option<Amount> {
    if lines.is_empty() {
        return None;
    }
    lines
        .iter()
        .try_fold(Amount::ZERO, |sum, l| sum.checked_add(l.total?))
}

fn non_blank(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).map(Cow::into_owned)
}

/// The keys of `subOrderResult` the normalizer reads; the rest of it is skipped while parsing.
struct SubOrderResult;

impl Shape for SubOrderResult {
    fn field(&self, key: &str) -> Option<&'static dyn Shape> {
        matches!(
            key,
            "option_fields" | "status" | "sub_purchase_order_id" | "item_id" | "sku_id" | "title"
        )
        .then_some(&EVERYTHING as &'static dyn Shape)
    }
    fn element(&self) -> &'static dyn Shape {
        &EVERYTHING
    }
}

/// A field of the sub-order `subOrderVOS[i]`, for warnings and errors.
fn sub_order(i: usize, field: &str) -> Sub<'_> {
    Sub {
        list: "subOrderVOS",
        i,
        field,
    }
}

fn line(
    ctx: &Ctx,
    page: Option<u32>,
    at: &At,
    i: usize,
    s: WireSubOrder<'_>,
) -> Result<OrderLine, PlatformError> {
    let field = |field| sub_order(i, field);
    let result = at.json_tree_in(
        s.sub_order_result.as_ref(),
        field("subOrderResult"),
        &SubOrderResult,
    );
    let options = result.as_ref().and_then(|r| r.get("option_fields"));
    let props: Option<OrderedPairs> = options.and_then(|o| {
        let (key, v) = match o.get("zh") {
            Some(v) if *v != Json::Null => ("subOrderResult.option_fields.zh", v),
            _ => ("subOrderResult.option_fields.en", o.get("en")?),
        };
        at.json_text_in_tree(v, field(key))
    });
    let sku_properties = props
        .map(|p| {
            p.0.into_iter()
                .map(|(name, value)| SkuProperty {
                    name,
                    value: value_str(Some(&value)).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let from_result = |key: &str| tree_str(result.as_ref().and_then(|r| r.get(key)));
    let platform_status = text(own(s.status)).or_else(|| from_result("status"));
    let total = at.amount(ctx, page, own(s.purchase_amount), field("purchaseAmount"))?;
    Ok(OrderLine {
        line_id: text(own(s.sub_order_id))
            .or_else(|| from_result("sub_purchase_order_id"))
            .unwrap_or_default(),
        product_id: text(own(s.item_map_id)).or_else(|| from_result("item_id")),
        sku_id: text(own(s.sku_id)).or_else(|| from_result("sku_id")),
        title: non_blank(s.title)
            .or_else(|| from_result("title"))
            .unwrap_or_default(),
        sku_properties,
        quantity: quantity(own(s.quantity)),
        unit_price: None,
        total,
        status: None::<Status>,
        platform_status,
        refund_status: text(own(s.refund_status)),
        carrier: None,
        tracking_number: None,
        image_url: tree_str(options.and_then(|o| o.get("SKU_IMG_URL"))),
    })
}
