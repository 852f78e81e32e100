//! The 1688 order page (`/v2/alibaba/order/page`, seed 004): wire shape and normalization.
//!
//! `orderNo` is the order id and `tbOrderId` (the 1688 order) the `source_order_id`. Amounts
//! are integers in fen (`22500` is `225.00`). Lines come from `orderDetailInfoVOS`, whose
//! `skuInfos` and `productImgUrl` are JSON text (the image list holds an `.80x80.` thumbnail and
//! the full-size image; the full-size one is taken). The receiver is the `receiver` JSON text:
//! `toArea` is "province city district [town] street", split into state, city and district,
//! the rest kept verbatim as the address. Times look like `2025-04-24T17:17:43.000+08:00`.
//! The seed documents no codes for `orderStatus`; PandaPon's Taobao-page table is applied, and
//! the code is kept verbatim as `platform_status`.

use super::{At, Ctx, map_status, order_id, quantity, text, value_str};
use crate::error::PlatformError;
use crate::model::{Order, OrderLine, Party, Receiver, SkuProperty, non_empty};
use crate::platforms::TextOrNumber;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireOrder {
    id: Option<TextOrNumber>,
    order_no: Option<TextOrNumber>,
    tb_order_id: Option<TextOrNumber>,
    discount: Option<TextOrNumber>,
    shipping_fee: Option<TextOrNumber>,
    total_amount: Option<TextOrNumber>,
    receiver: Option<Value>,
    sub_buyer_login_id: Option<TextOrNumber>,
    seller_login_id: Option<TextOrNumber>,
    order_status: Option<TextOrNumber>,
    message: Option<TextOrNumber>,
    user_id: Option<TextOrNumber>,
    user_name: Option<TextOrNumber>,
    create_time: Option<TextOrNumber>,
    #[serde(rename = "orderDetailInfoVOS")]
    details: Option<Vec<WireDetail>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDetail {
    id: Option<TextOrNumber>,
    product_id: Option<TextOrNumber>,
    name: Option<String>,
    quantity: Option<TextOrNumber>,
    sku_id: Option<TextOrNumber>,
    spec_id: Option<TextOrNumber>,
    item_amount: Option<TextOrNumber>,
    price: Option<TextOrNumber>,
    status: Option<TextOrNumber>,
    sku_infos: Option<Value>,
    pay_time: Option<TextOrNumber>,
    product_img_url: Option<Value>,
}

/// The `receiver` JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReceiver {
    to_full_name: Option<TextOrNumber>,
    to_mobile: Option<TextOrNumber>,
    to_phone: Option<TextOrNumber>,
    to_post: Option<TextOrNumber>,
    to_area: Option<TextOrNumber>,
}

/// One `skuInfos` entry.
#[derive(Deserialize)]
struct WireSku {
    name: Option<Value>,
    value: Option<Value>,
}

/// `productImgUrl`: a JSON list of URLs (or one URL).
#[derive(Deserialize)]
#[serde(untagged)]
enum Images {
    Many(Vec<Option<String>>),
    One(String),
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
        let platform_status = text(self.order_status).unwrap_or_default();
        let status = map_status(platform, &platform_status);
        let details = self.details.unwrap_or_default();
        let mut paid_at = None;
        let mut lines = Vec::with_capacity(details.len());
        for (i, d) in details.into_iter().enumerate() {
            let paid = at.time(
                d.pay_time.clone(),
                &format!("orderDetailInfoVOS[{i}].payTime"),
            );
            paid_at = match (paid_at, paid) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
            lines.push(line(&at, i, d));
        }
        let receiver: Option<WireReceiver> = at.json_text(self.receiver.as_ref(), "receiver");
        let receiver = receiver.map(receiver_of).unwrap_or_default();
        Ok(Order {
            platform: platform.into(),
            shop: ctx.shop.into(),
            source_order_id: text(self.tb_order_id),
            status,
            platform_status,
            created_at: at.time(self.create_time, "createTime"),
            updated_at: None,
            paid_at,
            currency: "CNY".into(),
            total: at.fen(self.total_amount, "totalAmount"),
            shipping_fee: at.fen(self.shipping_fee, "shippingFee"),
            discount: at.fen(self.discount, "discount"),
            buyer: Party {
                id: text(self.user_id),
                name: text(self.user_name).or_else(|| text(self.sub_buyer_login_id)),
            },
            seller: Party {
                id: None,
                name: text(self.seller_login_id),
            },
            receiver,
            buyer_message: text(self.message),
            seller_memo: None,
            lines,
            order_id: id,
        })
    }
}

fn receiver_of(r: WireReceiver) -> Receiver {
    let (state, city, district, address) = match text(r.to_area) {
        Some(area) => split_area(&area),
        None => (None, None, None, None),
    };
    Receiver {
        name: text(r.to_full_name),
        phone: text(r.to_mobile).or_else(|| text(r.to_phone)),
        country: None,
        state,
        city,
        district,
        town: None,
        address,
        zip: text(r.to_post),
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
    let segs: Vec<&str> = file.split('.').collect();
    segs.len() > 2 && segs[1..segs.len() - 1].iter().any(|s| scaled(s))
}

fn image(at: &At, i: usize, v: Option<&Value>) -> Option<String> {
    // A bare URL instead of a JSON list is taken as it is.
    if let Some(Value::String(s)) = v
        && s.trim_start().starts_with("http")
    {
        return non_empty(Some(s.trim()));
    }
    let urls: Vec<String> =
        match at.json_text::<Images>(v, &format!("orderDetailInfoVOS[{i}].productImgUrl"))? {
            Images::Many(v) => v
                .into_iter()
                .filter_map(|u| non_empty(u.as_deref()))
                .collect(),
            Images::One(u) => non_empty(Some(&u)).into_iter().collect(),
        };
    urls.iter()
        .find(|u| !is_thumbnail(u))
        .or(urls.last())
        .cloned()
}

fn line(at: &At, i: usize, d: WireDetail) -> OrderLine {
    let skus: Option<Vec<WireSku>> = at.json_text(
        d.sku_infos.as_ref(),
        &format!("orderDetailInfoVOS[{i}].skuInfos"),
    );
    OrderLine {
        line_id: text(d.id).unwrap_or_default(),
        product_id: text(d.product_id),
        sku_id: text(d.sku_id).or_else(|| text(d.spec_id)),
        title: d.name.unwrap_or_default(),
        sku_properties: skus
            .unwrap_or_default()
            .into_iter()
            .map(|s| SkuProperty {
                name: value_str(s.name.as_ref()).unwrap_or_default(),
                value: value_str(s.value.as_ref()).unwrap_or_default(),
            })
            .collect(),
        quantity: quantity(d.quantity),
        unit_price: at.fen(d.price, &format!("orderDetailInfoVOS[{i}].price")),
        total: at.fen(
            d.item_amount,
            &format!("orderDetailInfoVOS[{i}].itemAmount"),
        ),
        status: None,
        platform_status: text(d.status),
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
    }
}
