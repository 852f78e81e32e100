//! The Taobao order page (`/v2/taobao/order/page`, seed 003): wire shape and normalization.
//!
//! `orderNo` is the order id; lines come from `subOrderVOS`. Each sub-order's `subOrderResult`
//! is JSON text whose `option_fields.zh` is JSON text again (the SKU properties, in document
//! order) and whose `option_fields.SKU_IMG_URL` is the line's image. Sub-order status strings
//! (`BULIDING`, sic) are kept verbatim as the line's `platform_status`; PandaPon documents no
//! table for them, so the line's normalized `status` is null. Amounts are integers in fen.

use super::{At, Ctx, OrderedPairs, map_status, order_id, quantity, text, tree_str, value_str};
use crate::error::PlatformError;
use crate::model::{Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status};
use crate::platforms::TextOrNumber;
use crate::platforms::json::{EVERYTHING, Json, Shape};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireOrder {
    id: Option<TextOrNumber>,
    order_no: Option<TextOrNumber>,
    user_name: Option<TextOrNumber>,
    user_id: Option<TextOrNumber>,
    create_time: Option<TextOrNumber>,
    pay_time: Option<TextOrNumber>,
    purchase_amount: Option<TextOrNumber>,
    status: Option<TextOrNumber>,
    #[serde(rename = "warehouseAddressInfoVO")]
    warehouse: Option<WireAddress>,
    #[serde(rename = "receiverVO")]
    receiver: Option<WireAddress>,
    remark: Option<TextOrNumber>,
    #[serde(rename = "subOrderVOS")]
    sub_orders: Option<Vec<WireSubOrder>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireAddress {
    name: Option<TextOrNumber>,
    phone: Option<TextOrNumber>,
    mobile_phone: Option<TextOrNumber>,
    country: Option<TextOrNumber>,
    state: Option<TextOrNumber>,
    city: Option<TextOrNumber>,
    district: Option<TextOrNumber>,
    address: Option<TextOrNumber>,
    zip: Option<TextOrNumber>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSubOrder {
    sub_order_id: Option<TextOrNumber>,
    quantity: Option<TextOrNumber>,
    title: Option<String>,
    purchase_currency: Option<String>,
    purchase_amount: Option<TextOrNumber>,
    item_map_id: Option<TextOrNumber>,
    domestic_post_fee: Option<TextOrNumber>,
    sku_id: Option<TextOrNumber>,
    status: Option<TextOrNumber>,
    taobao_purchase_id: Option<TextOrNumber>,
    sub_order_result: Option<Value>,
    refund_status: Option<TextOrNumber>,
}

impl WireOrder {
    pub(super) fn normalize(
        self,
        ctx: &Ctx,
        index: usize,
        page: Option<u32>,
    ) -> Result<Order, PlatformError> {
        let platform = ctx.endpoint.id();
        let Some(id) = order_id(platform, self.order_no, self.id, index) else {
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
        };
        let platform_status = text(self.status).unwrap_or_default();
        let status = map_status(platform, &platform_status);
        let subs = self.sub_orders.unwrap_or_default();

        let mut shipping: Option<Amount> = None;
        let mut purchase_ids: Vec<String> = Vec::new();
        let mut currency = None;
        let mut lines = Vec::with_capacity(subs.len());
        for (i, s) in subs.into_iter().enumerate() {
            if let Some(fee) = at.fen(
                s.domestic_post_fee.clone(),
                &format!("subOrderVOS[{i}].domesticPostFee"),
            ) {
                shipping = Some(
                    shipping
                        .unwrap_or(Amount::ZERO)
                        .checked_add(fee)
                        .unwrap_or(fee),
                );
            }
            if let Some(p) = text(s.taobao_purchase_id.clone())
                && !purchase_ids.contains(&p)
            {
                purchase_ids.push(p);
            }
            if currency.is_none() {
                currency = non_blank(s.purchase_currency.clone());
            }
            lines.push(line(&at, i, s));
        }

        // The receiver view has no name or phone; the warehouse address the goods go to has.
        let r = self.receiver.unwrap_or_default();
        let w = self.warehouse.unwrap_or_default();
        let pick = |a: Option<TextOrNumber>, b: Option<TextOrNumber>| text(a).or_else(|| text(b));
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

        Ok(Order {
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
            total: at
                .fen(self.purchase_amount, "purchaseAmount")
                .unwrap_or(Amount::ZERO),
            shipping_fee: shipping,
            discount: None,
            buyer: Party {
                id: text(self.user_id),
                name: text(self.user_name),
            },
            seller: Party::default(),
            receiver,
            buyer_message: text(self.remark),
            seller_memo: None,
            lines,
            order_id: id,
        })
    }
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
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

fn line(at: &At, i: usize, s: WireSubOrder) -> OrderLine {
    let field = format!("subOrderVOS[{i}].subOrderResult");
    let result = at.json_tree(s.sub_order_result.as_ref(), &field, &SubOrderResult);
    let options = result.as_ref().and_then(|r| r.get("option_fields"));
    let props: Option<OrderedPairs> = options.and_then(|o| {
        let (key, v) = match o.get("zh") {
            Some(v) if *v != Json::Null => ("zh", v),
            _ => ("en", o.get("en")?),
        };
        at.json_text_in_tree(v, &format!("{field}.option_fields.{key}"))
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
    let platform_status = text(s.status).or_else(|| from_result("status"));
    OrderLine {
        line_id: text(s.sub_order_id)
            .or_else(|| from_result("sub_purchase_order_id"))
            .unwrap_or_default(),
        product_id: text(s.item_map_id).or_else(|| from_result("item_id")),
        sku_id: text(s.sku_id).or_else(|| from_result("sku_id")),
        title: non_blank(s.title)
            .or_else(|| from_result("title"))
            .unwrap_or_default(),
        sku_properties,
        quantity: quantity(s.quantity),
        unit_price: None,
        total: at.fen(
            s.purchase_amount,
            &format!("subOrderVOS[{i}].purchaseAmount"),
        ),
        status: None::<Status>,
        platform_status,
        refund_status: text(s.refund_status),
        carrier: None,
        tracking_number: None,
        image_url: tree_str(options.and_then(|o| o.get("SKU_IMG_URL"))),
    }
}
