//! Deterministic, platform-neutral order data for the sandbox.
//!
//! Every platform module renders these [`GenOrder`]s into its own wire format. The same
//! `--seed` always yields the same orders (the `salt` keeps platforms apart), spread over the
//! 30 days before the sandbox's start time, with realistic lifecycles: an order's `modified`
//! time is never before its `created` time, and [`GenOrder::advance`] moves it along its
//! lifecycle (what drift uses).

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Where an order is in its life; each platform maps this onto its own status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Unpaid,
    Paid,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Refunded,
}

/// One generated order.
#[derive(Debug, Clone)]
pub struct GenOrder {
    /// Unique within the platform; modules derive their ids from it.
    pub seq: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub paid: Option<DateTime<Utc>>,
    pub stage: Stage,
    pub buyer: usize,
    pub receiver: usize,
    pub lines: Vec<GenLine>,
    /// Minor units (fen / cents).
    pub shipping_minor: i64,
    pub discount_minor: i64,
    pub buyer_message: Option<&'static str>,
    pub seller_memo: Option<&'static str>,
}

/// One generated line.
#[derive(Debug, Clone)]
pub struct GenLine {
    pub product: usize,
    pub sku: usize,
    pub quantity: i64,
    pub unit_minor: i64,
}

impl GenOrder {
    /// Sum of the lines in minor units.
    pub fn goods_minor(&self) -> i64 {
        self.lines.iter().map(|l| l.unit_minor * l.quantity).sum()
    }

    /// What the buyer pays: goods + shipping - discount.
    pub fn total_minor(&self) -> i64 {
        self.goods_minor() + self.shipping_minor - self.discount_minor
    }

    /// Move one step along the lifecycle and stamp `at` as the modification time.
    pub fn advance(&mut self, at: DateTime<Utc>) {
        self.stage = match self.stage {
            Stage::Unpaid => Stage::Paid,
            Stage::Paid => Stage::AwaitingShipment,
            Stage::AwaitingShipment => Stage::Shipped,
            Stage::PartiallyShipped => Stage::Shipped,
            Stage::Shipped => Stage::Delivered,
            Stage::Delivered => Stage::Completed,
            s @ (Stage::Completed | Stage::Cancelled | Stage::Refunded) => s,
        };
        if self.paid.is_none() && self.stage != Stage::Unpaid {
            self.paid = Some(at);
        }
        if at > self.modified {
            self.modified = at;
        }
    }
}

/// A product in the sandbox catalogue.
pub struct Product {
    pub title: &'static str,
    pub image: &'static str,
    /// Property name and the values its SKUs take.
    pub property: (&'static str, &'static [&'static str]),
    pub size: (&'static str, &'static [&'static str]),
    pub price_minor: i64,
}

pub const PRODUCTS: &[Product] = &[
    Product {
        title: "親膚棉白T",
        image: "https://img.example.com/sandbox/tee.jpg",
        property: ("色系", &["黑色", "白色", "灰色"]),
        size: ("產品尺寸", &["S", "M", "L", "XL"]),
        price_minor: 29900,
    },
    Product {
        title: "冰丝绸睡衣女春夏蕾丝花边家居服",
        image: "https://img.example.com/sandbox/pajama.jpg",
        property: ("颜色分类", &["豆沙色", "藏青色", "香槟色"]),
        size: ("尺码", &["M", "L", "XL"]),
        price_minor: 13800,
    },
    Product {
        title: "不锈钢保温杯 500ml",
        image: "https://img.example.com/sandbox/cup.jpg",
        property: ("颜色分类", &["银色", "玫瑰金"]),
        size: ("容量", &["350ml", "500ml"]),
        price_minor: 5990,
    },
    Product {
        title: "Wireless earbuds: noise cancelling",
        image: "https://img.example.com/sandbox/earbuds.jpg",
        property: ("颜色分类", &["white", "black"]),
        size: ("版本", &["標準版", "Pro 版: 10:30 快充"]),
        price_minor: 119900,
    },
];

pub const BUYERS: &[&str] = &["abbyh", "MiaYu", "咸梅00", "tb446831190", "小明", "lin_88"];

/// Receivers: name, phone, state, city, district, town, address, zip.
pub const RECEIVERS: &[[&str; 8]] = &[
    [
        "黃**雲",
        "09******62",
        "台灣",
        "台北市",
        "松山區",
        "",
        "南京東路5段250巷3-1號",
        "105",
    ],
    [
        "余**萱",
        "09******08",
        "台灣",
        "台北市",
        "大安區",
        "",
        "基隆路二段142之1號",
        "106",
    ],
    [
        "丽**",
        "*******1889",
        "福建省",
        "漳州市",
        "云霄县",
        "云陵镇",
        "云*镇**路***号",
        "363300",
    ],
    [
        "刘**",
        "*******8101",
        "河北省",
        "衡水市",
        "故城县",
        "里老乡",
        "里*乡**县**乡小**村",
        "253800",
    ],
    [
        "王, \"小\" 明",
        "138****0000",
        "广东省",
        "深圳市",
        "南山区",
        "粤海街道",
        "科技园\n南区 1 号",
        "518000",
    ],
];

pub const MESSAGES: &[&str] = &[
    "需要礼盒,谢谢!",
    "請盡快出貨",
    "please, no \"fragile\" sticker",
];

/// Generate `n` orders for a platform; `salt` keeps platforms' data apart.
pub fn generate(n: usize, seed: u64, salt: u64, now: DateTime<Utc>) -> Vec<GenOrder> {
    let mut rng = StdRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let span = 30 * 24 * 3600;
    (0..n)
        .map(|i| {
            let created = now - Duration::seconds(rng.random_range(600..span));
            let age = (now - created).num_seconds();
            let modified =
                created + Duration::seconds(rng.random_range(0..age.clamp(1, 5 * 86400)));
            let stage = match rng.random_range(0..100) {
                0..=9 => Stage::Unpaid,
                10..=14 => Stage::Paid,
                15..=39 => Stage::AwaitingShipment,
                40..=42 => Stage::PartiallyShipped,
                43..=62 => Stage::Shipped,
                63..=69 => Stage::Delivered,
                70..=89 => Stage::Completed,
                90..=95 => Stage::Cancelled,
                _ => Stage::Refunded,
            };
            let n_lines = rng.random_range(1..=3);
            let lines = (0..n_lines)
                .map(|_| {
                    let product = rng.random_range(0..PRODUCTS.len());
                    GenLine {
                        product,
                        sku: rng.random_range(0..6),
                        quantity: rng.random_range(1..=3),
                        unit_minor: PRODUCTS[product].price_minor,
                    }
                })
                .collect();
            let paid = (stage != Stage::Unpaid && stage != Stage::Cancelled).then(|| {
                created + Duration::seconds(rng.random_range(1..120)).min(modified - created)
            });
            GenOrder {
                seq: i as u64 + 1,
                created,
                modified,
                paid,
                stage,
                buyer: rng.random_range(0..BUYERS.len()),
                receiver: rng.random_range(0..RECEIVERS.len()),
                lines,
                shipping_minor: [0, 6000, 1000, 800][rng.random_range(0..4)],
                discount_minor: if rng.random_bool(0.3) {
                    rng.random_range(1..500)
                } else {
                    0
                },
                buyer_message: rng
                    .random_bool(0.2)
                    .then(|| MESSAGES[rng.random_range(0..MESSAGES.len())]),
                seller_memo: rng.random_bool(0.1).then_some("VIP"),
            }
        })
        .collect()
}

/// A new, unpaid order placed at `now`.
pub fn fresh_order(seq: u64, salt: u64, now: DateTime<Utc>) -> GenOrder {
    let mut g = generate(1, seq, salt, now).remove(0);
    g.seq = seq;
    g.created = now;
    g.modified = now;
    g.stage = Stage::Unpaid;
    g.paid = None;
    g
}

/// One drift event over a platform's records, as if buyers and sellers acted mid-scan: one
/// to three random generated orders move a step along their lifecycle at `now`
/// (`generated` picks the generated order out of a record; seed examples stay as documented).
/// Returns the indices of the records changed, and whether a new order should arrive now.
pub fn drift_event<R>(
    recs: &mut [R],
    rng: &mut StdRng,
    now: DateTime<Utc>,
    mut generated: impl FnMut(&mut R) -> Option<&mut GenOrder>,
) -> (Vec<usize>, bool) {
    let mut touched = Vec::new();
    if !recs.is_empty() {
        for _ in 0..rng.random_range(1..=3) {
            let i = rng.random_range(0..recs.len());
            if let Some(g) = generated(&mut recs[i]) {
                g.advance(now);
                touched.push(i);
            }
        }
    }
    (touched, rng.random_bool(0.5))
}

/// A seeded generator for drift decisions.
pub fn drift_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_add(7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let now = Utc::now();
        let a = generate(200, 1, 2, now);
        let b = generate(200, 1, 2, now);
        assert_eq!(a.len(), 200);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.created, y.created);
            assert_eq!(x.total_minor(), y.total_minor());
            assert!(x.modified >= x.created && x.modified <= now);
            assert!(!x.lines.is_empty());
        }
        let c = generate(200, 1, 3, now);
        assert_ne!(a[0].created, c[0].created);
    }
}
