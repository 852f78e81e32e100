//! Deterministic, platform-neutral order data for the sandbox.
//!
//! Every platform module renders these [`GenOrder`]s into its own wire format. The same
//! `--seed` always yields the same orders (the `salt` keeps platforms apart), spread over the
//! 30 days before the sandbox's start time, with realistic lifecycles: an order's `modified`
//! time is never before its `created` time, and [`GenOrder::advance`] moves it along its
//! lifecycle (what drift uses). How an order is drawn from the seed and its index is
//! [`super::catalog::Segment::order`].

use super::catalog::Segment;
use chrono::{DateTime, Utc};
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

/// Generate `n` orders for a platform; `salt` keeps platforms apart.
pub fn generate(n: usize, seed: u64, salt: u64, now: DateTime<Utc>) -> Vec<GenOrder> {
    generate_span(n, seed, salt, now, 30)
}

/// As [`generate`], created over the `days` days before `now` (for platforms that serve more
/// than 30 days back). Each order is [`Segment::order`]: the sandbox itself never holds
/// them all, it builds them on demand ([`super::catalog`]).
pub fn generate_span(
    n: usize,
    seed: u64,
    salt: u64,
    now: DateTime<Utc>,
    days: i64,
) -> Vec<GenOrder> {
    let seg = Segment::new(n, seed, salt, now, days);
    (0..n).map(|j| seg.order(j, j as u64 + 1)).collect()
}

/// A generated order's money the way a Taobao Trade carries it (the vv-tool seed's Trade and
/// Order reference, checked against the enhanced seed's trade 1410072240792463390):
/// - each line has its own discount (`discount_fee`) and manual adjustment (`adjust_fee`):
///   line `total_fee` = price × num + adjust − discount;
/// - the order-level discount ([`GenOrder::discount_minor`]) is shared onto the lines in
///   proportion to their `total_fee` (`part_mjz_discount`), and `divide_order_fee` =
///   `total_fee` − share is what was paid for the line;
/// - trade `payment` = Σ `divide_order_fee` + `post_fee`; trade `discount_fee` = the
///   order-level discount; trade `total_fee` = Σ price × num.
///
/// Drawn from the order's own `seq`, so the rest of the generator (and every other platform's
/// data) is unchanged, and the same order always has the same money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaobaoMoney {
    pub lines: Vec<TaobaoLineMoney>,
}

/// One line of [`TaobaoMoney`], in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaobaoLineMoney {
    /// price × num.
    pub goods: i64,
    /// The line's own discount (`discount_fee`).
    pub discount: i64,
    /// The seller's manual adjustment (`adjust_fee`), usually a reduction.
    pub adjust: i64,
    /// The line's share of the order-level discount (`part_mjz_discount`).
    pub share: i64,
}

impl TaobaoLineMoney {
    /// `total_fee`: price × num + adjust − discount.
    pub fn total_fee(&self) -> i64 {
        self.goods + self.adjust - self.discount
    }

    /// `divide_order_fee`: `total_fee` − the order-level share.
    pub fn divided(&self) -> i64 {
        self.total_fee() - self.share
    }
}

impl TaobaoMoney {
    /// The trade's `payment` with postage `shipping_minor`.
    pub fn payment(&self, shipping_minor: i64) -> i64 {
        self.lines.iter().map(TaobaoLineMoney::divided).sum::<i64>() + shipping_minor
    }

    /// The trade's `discount_fee`: the order-level discount, Σ shares.
    pub fn order_discount(&self) -> i64 {
        self.lines.iter().map(|l| l.share).sum()
    }
}

/// The Taobao money of `g` (see [`TaobaoMoney`]).
pub fn taobao_money(g: &GenOrder) -> TaobaoMoney {
    let mut rng = StdRng::seed_from_u64(g.seq.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x7a0b);
    let mut lines: Vec<TaobaoLineMoney> = g
        .lines
        .iter()
        .map(|l| {
            let goods = l.unit_minor * l.quantity;
            // A line discount of 5-25% on some lines, a manual adjustment on a few: at most a
            // reduction of 5%, rarely a small increase. total_fee stays above 70% of goods.
            let discount = if rng.random_bool(0.4) {
                goods * rng.random_range(5..=25) / 100
            } else {
                0
            };
            let adjust = match rng.random_range(0..20) {
                0..=2 => -rng.random_range(1..=(goods / 20).max(1)),
                3 => rng.random_range(1..=500),
                _ => 0,
            };
            TaobaoLineMoney {
                goods,
                discount,
                adjust,
                share: 0,
            }
        })
        .collect();
    // The order-level discount, shared in proportion to total_fee; the rounding remainder
    // goes to the largest line (always far larger than a few fen).
    let whole: i64 = lines.iter().map(TaobaoLineMoney::total_fee).sum();
    let discount = g.discount_minor.clamp(0, whole.max(0));
    if whole > 0 {
        for l in &mut lines {
            l.share = discount * l.total_fee() / whole;
        }
        let rest = discount - lines.iter().map(|l| l.share).sum::<i64>();
        if let Some(big) = lines.iter_mut().max_by_key(|l| l.total_fee()) {
            big.share += rest;
        }
    }
    TaobaoMoney { lines }
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

/// A seeded generator for drift decisions.
pub fn drift_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_add(7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

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
        let wide = generate_span(200, 1, 2, now, 90);
        assert!(wide.iter().any(|g| now - g.created > Duration::days(30)));
        assert!(wide.iter().all(|g| now - g.created <= Duration::days(90)));
    }

    #[test]
    fn taobao_money_adds_up() {
        let orders = generate(500, 4, 2, Utc::now());
        let mut kinds = [0; 4];
        for g in &orders {
            let m = taobao_money(g);
            assert_eq!(m, taobao_money(g), "deterministic");
            assert_eq!(m.order_discount(), g.discount_minor, "{}", g.seq);
            for l in &m.lines {
                assert!(l.share >= 0 && l.divided() > 0, "{l:?}");
                kinds[0] += usize::from(l.discount > 0);
                kinds[1] += usize::from(l.adjust < 0);
                kinds[2] += usize::from(l.adjust > 0);
                kinds[3] += usize::from(l.share > 0);
            }
            // Invariant A, in Taobao's terms: goods + postage − every discount = payment.
            let taken: i64 = m
                .lines
                .iter()
                .map(|l| l.discount - l.adjust + l.share)
                .sum();
            assert_eq!(
                g.goods_minor() + g.shipping_minor - taken,
                m.payment(g.shipping_minor)
            );
        }
        assert!(
            kinds.iter().all(|&k| k > 5),
            "every kind of discount occurs: {kinds:?}"
        );
    }
}
