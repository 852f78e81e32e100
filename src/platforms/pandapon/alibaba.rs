//! The 1688 order page (`/v2/alibaba/order/page`, seed 004): wire shape and normalization.
//!
//! `orderNo` is the order id and `tbOrderId` (the 1688 order) the `source_order_id`. Amounts
//! are integers in fen (`22500` is `225.00`). Lines come from `orderDetailInfoVOS`, whose
//! `skuInfos` and `productImgUrl` are JSON text (the image list holds an `.80x80.` thumbnail and
//! the full-size image; the full-size one is taken). The receiver is the `receiver` JSON text:
//! `toArea` is "province city district [town] street", split into state, city and district,
//! the rest kept verbatim as the address, less the town when `warehouseAddressInfo` names one
//! (`townText`, the receiver's `town`). Times look like `2025-04-24T17:17:43.000+08:00`.
//!
//! Status: the seed documents no codes for `orderStatus`; PandaPon's Taobao-page table is
//! assumed (an unknown code is warned about), and the code is kept verbatim as
//! `platform_status`. Without an `orderStatus`, `payStatus` (0 unpaid, 1 paid, as in the seed)
//! decides between awaiting payment and paid. A full refund (`refundStatus` not 0 and
//! `refundAmount` at least `totalAmount`) makes the order `refunded`; 1688 gives the refund
//! status per order only, so every line carries the order's `refundStatus` verbatim.
//!
//! Money (seed order 1232386407805223845: goods 599.00, shipping 25.00, total 594.05, and a
//! `discount` field of 0): the discount is Σ price × quantity + shippingFee − totalAmount when
//! the lines are complete ([`Order::derived_discount`]), else productAmount + shippingFee −
//! totalAmount; the `discount` field is not read, since it does not hold what was taken off.
//! A line's total is its `itemAmount` as given.

use super::{
    At, Ctx, Sub, json_source, map_status, order_id, own, quantity, text, text_of, tree_str,
};
use crate::error::PlatformError;
use crate::model::{Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status, non_empty};
use crate::platforms::TextOrNumberRef as Raw;
use crate::platforms::json::Json;
use serde::Deserialize;
use std::borrow::Cow;

/// Read on one thread and normalized on another, as the Taobao page's: text borrows from the
/// body, and the JSON texts are parsed into structs that borrow from their unescaped text, so
/// what an order allocates is mostly what its normalized form keeps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireOrder<'a> {
    #[serde(borrow)]
    id: Option<Raw<'a>>,
    #[serde(borrow)]
    order_no: Option<Raw<'a>>,
    #[serde(borrow)]
    tb_order_id: Option<Raw<'a>>,
    #[serde(borrow)]
    product_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    shipping_fee: Option<Raw<'a>>,
    #[serde(borrow)]
    total_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    refund_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    receiver: Option<Json<'a>>,
    #[serde(borrow)]
    warehouse_address_info: Option<Json<'a>>,
    #[serde(borrow)]
    sub_buyer_login_id: Option<Raw<'a>>,
    #[serde(borrow)]
    seller_login_id: Option<Raw<'a>>,
    #[serde(borrow)]
    order_status: Option<Raw<'a>>,
    #[serde(borrow)]
    pay_status: Option<Raw<'a>>,
    #[serde(borrow)]
    refund_status: Option<Raw<'a>>,
    #[serde(borrow)]
    message: Option<Raw<'a>>,
    #[serde(borrow)]
    user_id: Option<Raw<'a>>,
    #[serde(borrow)]
    user_name: Option<Raw<'a>>,
    #[serde(borrow)]
    create_time: Option<Raw<'a>>,
    #[serde(borrow, rename = "orderDetailInfoVOS")]
    details: Option<Vec<WireDetail<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDetail<'a> {
    #[serde(borrow)]
    id: Option<Raw<'a>>,
    #[serde(borrow)]
    product_id: Option<Raw<'a>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    quantity: Option<Raw<'a>>,
    #[serde(borrow)]
    sku_id: Option<Raw<'a>>,
    #[serde(borrow)]
    spec_id: Option<Raw<'a>>,
    #[serde(borrow)]
    item_amount: Option<Raw<'a>>,
    #[serde(borrow)]
    price: Option<Raw<'a>>,
    #[serde(borrow)]
    status: Option<Raw<'a>>,
    #[serde(borrow)]
    sku_infos: Option<Json<'a>>,
    #[serde(borrow)]
    pay_time: Option<Raw<'a>>,
    #[serde(borrow)]
    product_img_url: Option<Json<'a>>,
}

/// The `receiver` JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReceiver<'t> {
    #[serde(borrow)]
    to_full_name: Option<Raw<'t>>,
    #[serde(borrow)]
    to_mobile: Option<Raw<'t>>,
    #[serde(borrow)]
    to_phone: Option<Raw<'t>>,
    #[serde(borrow)]
    to_post: Option<Raw<'t>>,
    #[serde(borrow)]
    to_area: Option<Raw<'t>>,
}

/// The `warehouseAddressInfo` JSON text (only what the receiver lacks is read from it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireWarehouse<'t> {
    #[serde(borrow)]
    full_name: Option<Raw<'t>>,
    #[serde(borrow)]
    mobile: Option<Raw<'t>>,
    #[serde(borrow)]
    phone: Option<Raw<'t>>,
    #[serde(borrow)]
    post_code: Option<Raw<'t>>,
    #[serde(borrow)]
    province_text: Option<Raw<'t>>,
    #[serde(borrow)]
    city_text: Option<Raw<'t>>,
    #[serde(borrow)]
    area_text: Option<Raw<'t>>,
    #[serde(borrow)]
    town_text: Option<Raw<'t>>,
    #[serde(borrow)]
    address: Option<Raw<'t>>,
}

/// One `skuInfos` entry.
#[derive(Deserialize)]
struct WireSku<'t> {
    #[serde(borrow)]
    name: Option<Json<'t>>,
    #[serde(borrow)]
    value: Option<Json<'t>>,
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
        let platform_status = text(own(self.order_status)).unwrap_or_default();
        let refund_status = text(own(self.refund_status));
        let details = self.details.unwrap_or_default();
        let mut paid_at = None;
        let mut lines = Vec::with_capacity(details.len());
        for (i, mut d) in details.into_iter().enumerate() {
            let paid = at.time(d.pay_time.take(), detail(i, "payTime"));
            paid_at = match (paid_at, paid) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
            let mut l = line(&at, i, d);
            l.refund_status.clone_from(&refund_status);
            lines.push(l);
        }
        let receiver_text = json_source(self.receiver.as_ref());
        let receiver: Option<WireReceiver> = at.json_text(receiver_text.as_deref(), "receiver");
        let warehouse_text = json_source(self.warehouse_address_info.as_ref());
        let warehouse: Option<WireWarehouse> =
            at.json_text(warehouse_text.as_deref(), "warehouseAddressInfo");
        let total = at.fen(own(self.total_amount), "totalAmount");
        let shipping_fee = at.fen(own(self.shipping_fee), "shippingFee");
        let product_amount = at.fen(own(self.product_amount), "productAmount");
        let refund_amount = match self.refund_amount {
            None => None,
            v => at.fen(own(v), "refundAmount"),
        };
        let status = order_status(
            &at,
            &platform_status,
            text(own(self.pay_status)).as_deref(),
            Refund {
                status: refund_status.as_deref(),
                amount: refund_amount,
                total,
            },
        );
        let mut order = Order {
            platform: platform.into(),
            shop: ctx.shop.into(),
            source_order_id: text(own(self.tb_order_id)),
            status,
            platform_status,
            created_at: at.time(self.create_time, "createTime"),
            updated_at: None,
            paid_at,
            currency: "CNY".into(),
            total,
            shipping_fee,
            discount: None,
            buyer: Party {
                id: text(own(self.user_id)),
                name: text(own(self.user_name)).or_else(|| text(own(self.sub_buyer_login_id))),
            },
            seller: Party {
                id: None,
                name: text(own(self.seller_login_id)),
            },
            receiver: receiver_of(receiver, warehouse),
            buyer_message: text(own(self.message)),
            seller_memo: None,
            lines,
            order_id: id.clone(),
        };
        let goods_formula = match (product_amount, shipping_fee, total) {
            (Some(goods), Some(ship), Some(total)) => goods
                .value()
                .checked_add(ship.value())
                .and_then(|d| d.checked_sub(total.value()))
                .map(Amount::from),
            _ => None,
        };
        order.discount = order.derived_discount(goods_formula);
        if order.discount.is_none() && order.list_price().is_none() {
            at.warn(
                "discount",
                "cannot be derived: the lines are incomplete and productAmount, shippingFee or \
                 totalAmount is missing",
            );
        }
        Ok(order)
    }
}

/// What the refund fields say about an order.
struct Refund<'a> {
    status: Option<&'a str>,
    amount: Option<Amount>,
    total: Option<Amount>,
}

impl Refund<'_> {
    /// `refundStatus` is not 0 and the whole total was refunded.
    fn is_full(&self) -> bool {
        let pending = self.status.is_some_and(|s| s.trim() != "0");
        match (self.amount, self.total) {
            (Some(amount), Some(total)) => pending && amount > Amount::ZERO && amount >= total,
            _ => false,
        }
    }
}

/// The normalized status from `orderStatus` (the Taobao page's table, assumed), else
/// `payStatus`, overridden by a full refund.
fn order_status(at: &At, order_status: &str, pay_status: Option<&str>, refund: Refund) -> Status {
    if refund.is_full() {
        return Status::Refunded;
    }
    if !order_status.trim().is_empty() {
        return map_status(at.platform, order_status);
    }
    match pay_status.map(str::trim) {
        Some("0") => Status::PendingPayment,
        Some("1") => Status::Paid,
        other => {
            at.warn(
                "orderStatus",
                &format!("is missing and payStatus is {other:?}; the status is unknown"),
            );
            Status::Unknown
        }
    }
}

/// The receiver from the `receiver` text, completed from `warehouseAddressInfo` (the address
/// the goods go to, the same place in the seed): `townText` is the town, and is taken off the
/// front of the street address that `toArea` leaves.
fn receiver_of<'t>(r: Option<WireReceiver<'t>>, w: Option<WireWarehouse<'t>>) -> Receiver {
    if r.is_none() && w.is_none() {
        return Receiver::default();
    }
    let (state, city, district, address) =
        match r.as_ref().and_then(|r| text_of(r.to_area.as_ref())) {
            Some(area) => split_area(&area),
            None => (None, None, None, None),
        };
    let wf = |f: for<'w> fn(&'w WireWarehouse<'t>) -> &'w Option<Raw<'t>>| {
        w.as_ref().and_then(|w| text_of(f(w).as_ref()))
    };
    let rf = |f: for<'w> fn(&'w WireReceiver<'t>) -> &'w Option<Raw<'t>>| {
        r.as_ref().and_then(|r| text_of(f(r).as_ref()))
    };
    let town = wf(|w| &w.town_text);
    let address = match (address, &town) {
        (Some(a), Some(t)) => match a.strip_prefix(t.as_str()) {
            Some(rest) if rest.starts_with(char::is_whitespace) => non_empty(Some(rest.trim())),
            _ => Some(a),
        },
        (a, _) => a.or_else(|| wf(|w| &w.address)),
    };
    Receiver {
        name: rf(|r| &r.to_full_name).or_else(|| wf(|w| &w.full_name)),
        phone: rf(|r| &r.to_mobile)
            .or_else(|| rf(|r| &r.to_phone))
            .or_else(|| wf(|w| &w.mobile))
            .or_else(|| wf(|w| &w.phone)),
        country: None,
        state: state.or_else(|| wf(|w| &w.province_text)),
        city: city.or_else(|| wf(|w| &w.city_text)),
        district: district.or_else(|| wf(|w| &w.area_text)),
        town,
        address,
        zip: rf(|r| &r.to_post).or_else(|| wf(|w| &w.post_code)),
    }
}

type Area = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `"浙江省 杭州市 西湖区 转塘 xxxxxxx"` → state, city, district and the rest verbatim. Text
/// with fewer than three space-separated parts is kept whole as the address.
fn split_area(area: &str) -> Area {
    let whole = || (None, None, None, non_empty(Some(area.trim())));
    let mut rest = area.trim();
    let mut parts = Vec::with_capacity(3);
    for n in 0..3 {
        match rest.split_once(char::is_whitespace) {
            Some((head, tail)) => {
                parts.push(head.to_string());
                rest = tail.trim_start();
            }
            None if n == 2 && !rest.is_empty() => {
                parts.push(rest.to_string());
                rest = "";
            }
            None => return whole(),
        }
    }
    let mut p = parts.into_iter();
    (p.next(), p.next(), p.next(), non_empty(Some(rest)))
}

/// Whether a URL names a scaled copy (`x.80x80.jpg`, `x.jpg_80x80.jpg`).
fn is_thumbnail(url: &str) -> bool {
    let file = url.rsplit('/').next().unwrap_or(url);
    let scaled = |seg: &str| {
        let seg = seg.rsplit('_').next().unwrap_or(seg);
        seg.split_once('x').is_some_and(|(w, h)| {
            !w.is_empty()
                && !h.is_empty()
                && w.bytes().all(|b| b.is_ascii_digit())
                && h.bytes().all(|b| b.is_ascii_digit())
        })
    };
    // The segments between the name and the extension.
    let middle = file
        .split_once('.')
        .and_then(|(_, rest)| rest.rsplit_once('.'))
        .map(|(middle, _)| middle);
    middle.is_some_and(|m| m.split('.').any(scaled))
}

fn image(at: &At, i: usize, v: Option<&Json>) -> Option<String> {
    // A bare URL instead of a JSON list is taken as it is.
    if let Some(Json::String(s)) = v
        && s.trim_start().starts_with("http")
    {
        return non_empty(Some(s.trim()));
    }
    let field = detail(i, "productImgUrl");
    let text = json_source(v);
    match at.json_text::<Json>(text.as_deref(), field)? {
        Json::String(u) => pick_image(std::iter::once(u.as_ref())),
        Json::Array(list)
            if list
                .iter()
                .all(|u| matches!(u, Json::String(_) | Json::Null)) =>
        {
            pick_image(list.iter().filter_map(|u| match u {
                Json::String(u) => Some(u.as_ref()),
                _ => None,
            }))
        }
        _ => {
            at.warn(
                field,
                "is not the expected JSON text (a list of URLs, or one URL)",
            );
            None
        }
    }
}

/// The first full-size image of a list of URLs, else its last (blank ones left out).
fn pick_image<'u>(urls: impl Iterator<Item = &'u str>) -> Option<String> {
    let mut last = None;
    for u in urls {
        let u = u.trim();
        if u.is_empty() {
            continue;
        }
        if !is_thumbnail(u) {
            return Some(u.to_string());
        }
        last = Some(u);
    }
    last.map(str::to_string)
}

/// A field of the line `orderDetailInfoVOS[i]`, for warnings.
fn detail(i: usize, field: &str) -> Sub<'_> {
    Sub {
        list: "orderDetailInfoVOS",
        i,
        field,
    }
}

fn line(at: &At, i: usize, d: WireDetail) -> OrderLine {
    let sku_text = json_source(d.sku_infos.as_ref());
    let skus: Option<Vec<WireSku>> = at.json_text(sku_text.as_deref(), detail(i, "skuInfos"));
    OrderLine {
        line_id: text(own(d.id)).unwrap_or_default(),
        product_id: text(own(d.product_id)),
        sku_id: text(own(d.sku_id)).or_else(|| text(own(d.spec_id))),
        title: d.name.map(Cow::into_owned).unwrap_or_default(),
        sku_properties: skus
            .unwrap_or_default()
            .into_iter()
            .map(|s| SkuProperty {
                name: tree_str(s.name.as_ref()).unwrap_or_default(),
                value: tree_str(s.value.as_ref()).unwrap_or_default(),
            })
            .collect(),
        quantity: quantity(own(d.quantity)),
        unit_price: at.fen(own(d.price), detail(i, "price")),
        total: at.fen(own(d.item_amount), detail(i, "itemAmount")),
        status: None,
        platform_status: text(own(d.status)),
        refund_status: None,
        carrier: None,
        tracking_number: None,
        image_url: image(at, i, d.product_img_url.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_splits_into_state_city_district_and_rest() {
        assert_eq!(
            split_area("浙江省 杭州市 西湖区 转塘 xxxxxxx"),
            (
                Some("浙江省".into()),
                Some("杭州市".into()),
                Some("西湖区".into()),
                Some("转塘 xxxxxxx".into())
            )
        );
        assert_eq!(
            split_area("浙江省 杭州市 西湖区"),
            (
                Some("浙江省".into()),
                Some("杭州市".into()),
                Some("西湖区".into()),
                None
            )
        );
        assert_eq!(
            split_area("某地 某路"),
            (None, None, None, Some("某地 某路".into()))
        );
        assert_eq!(
            split_area("广东省 深圳市 南山区 粤海街道 科技园\n南区 1 号")
                .3
                .as_deref(),
            Some("粤海街道 科技园\n南区 1 号")
        );
    }

    #[test]
    fn thumbnails_are_recognized() {
        assert!(is_thumbnail(
            "http://cbu01.alicdn.com/img/ibank/O1CN01gLdsgC1Bs333C46ph_!!0-0-cib.80x80.jpg"
        ));
        assert!(!is_thumbnail(
            "http://cbu01.alicdn.com/img/ibank/O1CN01gLdsgC1Bs333C46ph_!!0-0-cib.jpg"
        ));
        assert!(is_thumbnail("https://img.alicdn.com/x.jpg_220x220.jpg"));
        assert!(!is_thumbnail("https://img.example.com/sandbox/box.jpg"));
        assert!(is_thumbnail("x.a.b.80x80.jpg"));
        assert!(!is_thumbnail("80x80.jpg"), "the name is not a scale");
        assert!(!is_thumbnail("x.80x80"), "nor the extension");
        assert!(!is_thumbnail("x..jpg"));
        assert!(!is_thumbnail("x.80x.jpg"));
    }
}
