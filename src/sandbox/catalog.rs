//! On-demand orders: a platform's generated orders as a pure function of (seed, index), and
//! what drift changed as a small overlay beside them.
//!
//! Nothing is built up front, so `--orders 10000000` starts at once in a few megabytes. Each
//! [`Segment`] lays its orders out over its days in index order (index 0 the oldest, a hashed
//! jitter within each slot), so the orders created in a time range are an index range found
//! by binary search over [`Segment::created`], and the ones modified in a range lie among
//! those created up to five days earlier ([`MAX_MODIFIED_DELAY_SECS`]). A query therefore
//! scans only its window's candidates, computing times from hashes, and builds a whole order
//! ([`Segment::order`]) or its wire form only for the filters that need it and the page it
//! serves. The sorted result of a query is cached (a few `u32` handles per hit) so paging
//! through it does not scan again; drift bumps [`Catalog::version`], which retires the cache.
//!
//! Handles: `0..generated` are generated orders (seq = handle + 1), then the seed document's
//! examples, then the orders that arrived by drift (seq continuing after the generated ones).

use super::dataset::{self, GenLine, GenOrder, Stage};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How long after its creation a generated order may last have been modified.
pub const MAX_MODIFIED_DELAY_SECS: i64 = 5 * 86400;
/// Bits of a packed sort entry that hold the handle (the rest hold the key).
const HANDLE_BITS: u32 = 27;
/// The most generated orders one list can hold (handles must fit [`HANDLE_BITS`]).
pub const MAX_GENERATED: usize = (1 << HANDLE_BITS) - 1;

/// SplitMix64: a cheap, well-mixed hash of one word.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed of shop `shop` (1-based) of a sandbox started with `seed`: shop 1 keeps the seed,
/// so one shop serves what it always served.
pub fn shop_seed(seed: u64, shop: usize) -> u64 {
    if shop <= 1 {
        seed
    } else {
        mix(seed ^ mix(shop as u64 ^ 0x5109_5109))
    }
}

/// `n` generated orders created over the `days` days before `now`.
#[derive(Debug, Clone)]
pub struct Segment {
    key: u64,
    n: usize,
    now: DateTime<Utc>,
    /// Seconds: orders are created in `(now - span, now - 600]`.
    span: i64,
}

impl Segment {
    /// `salt` keeps platforms apart under one seed.
    pub fn new(n: usize, seed: u64, salt: u64, now: DateTime<Utc>, days: i64) -> Segment {
        Segment {
            key: mix(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            n,
            now,
            span: days.max(1) * 86400,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn hash(&self, j: usize, lane: u64) -> u64 {
        mix(self.key ^ mix((j as u64) ^ lane.wrapping_mul(0xA24B_AED4_963E_E407)))
    }

    /// Creation time of order `j`: slot `j` of `n` equal slots over the span, jittered within
    /// its slot, so that it never decreases with `j`.
    pub fn created(&self, j: usize) -> DateTime<Utc> {
        let width = (self.span - 600).max(1) as u128;
        let jitter = u128::from(self.hash(j, 1) >> 32);
        let pos = (((j as u128) << 32) | jitter) * width / ((self.n.max(1) as u128) << 32);
        self.now - Duration::seconds(self.span) + Duration::seconds(pos as i64 + 1)
    }

    /// Last modification of order `j` (created at `created`): up to five days later, never
    /// after `now`.
    pub fn modified(&self, j: usize, created: DateTime<Utc>) -> DateTime<Utc> {
        let age = (self.now - created).num_seconds();
        let delay = self.hash(j, 2) % age.clamp(1, MAX_MODIFIED_DELAY_SECS) as u64;
        created + Duration::seconds(delay as i64)
    }

    /// The first index whose creation time is at or after `t`.
    pub fn first_created_at(&self, t: DateTime<Utc>) -> usize {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.created(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Order `j` in full, numbered `seq`.
    pub fn order(&self, j: usize, seq: u64) -> GenOrder {
        let created = self.created(j);
        let modified = self.modified(j, created);
        let mut rng = StdRng::seed_from_u64(self.hash(j, 3));
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
                let product = rng.random_range(0..dataset::PRODUCTS.len());
                GenLine {
                    product,
                    sku: rng.random_range(0..6),
                    quantity: rng.random_range(1..=3),
                    unit_minor: dataset::PRODUCTS[product].price_minor,
                }
            })
            .collect();
        let paid = (stage != Stage::Unpaid && stage != Stage::Cancelled)
            .then(|| created + Duration::seconds(rng.random_range(1..120)).min(modified - created));
        GenOrder {
            seq,
            created,
            modified,
            paid,
            stage,
            buyer: rng.random_range(0..dataset::BUYERS.len()),
            receiver: rng.random_range(0..dataset::RECEIVERS.len()),
            lines,
            shipping_minor: [0, 6000, 1000, 800][rng.random_range(0..4)],
            discount_minor: if rng.random_bool(0.3) {
                rng.random_range(1..500)
            } else {
                0
            },
            buyer_message: rng
                .random_bool(0.2)
                .then(|| dataset::MESSAGES[rng.random_range(0..dataset::MESSAGES.len())]),
            seller_memo: rng.random_bool(0.1).then_some("VIP"),
        }
    }
}

/// Which time a query ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Created,
    Modified,
}

/// What a query sees of one record, as cheaply as it can be had.
pub enum View<'a> {
    /// An untouched generated order: its times, computed; [`Catalog::order`] builds the rest.
    Times {
        seq: u64,
        created: DateTime<Utc>,
        modified: DateTime<Utc>,
    },
    /// A generated order drift has changed, or one that arrived by drift.
    Order(&'a GenOrder),
    /// The `n`th example order of the seed document (the platform holds it).
    Seed(usize),
}

impl View<'_> {
    /// (seq, created, modified) of a generated order; `None` for a seed example.
    pub fn times(&self) -> Option<(u64, DateTime<Utc>, DateTime<Utc>)> {
        match self {
            View::Times {
                seq,
                created,
                modified,
            } => Some((*seq, *created, *modified)),
            View::Order(g) => Some((g.seq, g.created, g.modified)),
            View::Seed(_) => None,
        }
    }
}

/// One list of orders a platform serves: generated segments, the seed examples, drift.
pub struct Catalog {
    segments: Vec<Segment>,
    /// First handle of each segment.
    starts: Vec<usize>,
    generated: usize,
    seeds: usize,
    salt: u64,
    /// Added to every seq, so that shops of one platform never share an order id.
    seq_base: u64,
    /// Generated orders drift has moved along, by handle.
    overlay: HashMap<u32, GenOrder>,
    /// Orders that arrived by drift, in arrival order.
    fresh: Vec<GenOrder>,
    version: u64,
}

impl Catalog {
    /// `salt` is what new orders arriving by drift are generated with; `seeds` the number of
    /// example orders the platform holds beside the generated ones; `shop` (1-based) which
    /// shop's list this is (its orders are numbered apart from the other shops').
    pub fn new(segments: Vec<Segment>, seeds: usize, salt: u64, shop: usize) -> Catalog {
        let mut starts = Vec::with_capacity(segments.len());
        let mut generated = 0;
        for s in &segments {
            starts.push(generated);
            generated += s.len();
        }
        assert!(
            generated <= MAX_GENERATED,
            "at most {MAX_GENERATED} generated orders per list"
        );
        Catalog {
            segments,
            starts,
            generated,
            seeds,
            salt,
            seq_base: (shop.max(1) as u64 - 1) << (HANDLE_BITS + 1),
            overlay: HashMap::new(),
            fresh: Vec::new(),
            version: 0,
        }
    }

    /// Every record: generated, seed examples, arrived.
    pub fn len(&self) -> usize {
        self.generated + self.seeds + self.fresh.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes with every drift event.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn locate(&self, h: usize) -> (usize, usize) {
        let s = self.starts.partition_point(|&st| st <= h) - 1;
        (s, h - self.starts[s])
    }

    /// What a query sees of record `h`.
    pub fn view(&self, h: u32) -> View<'_> {
        let i = h as usize;
        if i < self.generated {
            if let Some(g) = self.overlay.get(&h) {
                return View::Order(g);
            }
            let (s, j) = self.locate(i);
            let seg = &self.segments[s];
            let created = seg.created(j);
            View::Times {
                seq: self.seq_base + i as u64 + 1,
                created,
                modified: seg.modified(j, created),
            }
        } else if i < self.generated + self.seeds {
            View::Seed(i - self.generated)
        } else {
            View::Order(&self.fresh[i - self.generated - self.seeds])
        }
    }

    /// Record `h` in full, or `None` for a seed example (or no such record).
    pub fn order(&self, h: u32) -> Option<GenOrder> {
        let i = h as usize;
        if i < self.generated {
            if let Some(g) = self.overlay.get(&h) {
                return Some(g.clone());
            }
            let (s, j) = self.locate(i);
            Some(self.segments[s].order(j, self.seq_base + i as u64 + 1))
        } else if i < self.generated + self.seeds {
            None
        } else {
            self.fresh.get(i - self.generated - self.seeds).cloned()
        }
    }

    /// The handle of the generated (or arrived) order numbered `seq`.
    pub fn handle_of_seq(&self, seq: u64) -> Option<u32> {
        let g = self.generated as u64;
        match seq.checked_sub(self.seq_base)? {
            0 => None,
            s if s <= g => Some((s - 1) as u32),
            s if s - g <= self.fresh.len() as u64 => Some((s - 1 + self.seeds as u64) as u32),
            _ => None,
        }
    }

    /// The handle of seed example `n`.
    pub fn seed_handle(&self, n: usize) -> u32 {
        (self.generated + n) as u32
    }

    /// One drift event, as if buyers and sellers acted mid-scan: one to three random records
    /// move a step along their lifecycle at `now` (seed examples stay as documented), and
    /// half the time a new unpaid order arrives.
    pub fn drift(&mut self, rng: &mut StdRng, now: DateTime<Utc>) {
        let len = self.len();
        if len > 0 {
            for _ in 0..rng.random_range(1..=3) {
                let i = rng.random_range(0..len);
                if i < self.generated {
                    let h = i as u32;
                    let mut g = match self.overlay.remove(&h) {
                        Some(g) => g,
                        None => self.order(h).expect("a generated order"),
                    };
                    g.advance(now);
                    self.overlay.insert(h, g);
                } else if i >= self.generated + self.seeds {
                    self.fresh[i - self.generated - self.seeds].advance(now);
                }
            }
        }
        if rng.random_bool(0.5) {
            let seq = self.seq_base + (self.generated + self.fresh.len()) as u64 + 1;
            self.fresh.push(dataset::fresh_order(seq, self.salt, now));
        }
        self.version += 1;
    }

    /// The index ranges of each segment's generated orders that may have their `by` time
    /// in `[lo, hi]`, by their creation time.
    fn ranges(
        &self,
        by: By,
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
    ) -> Vec<std::ops::Range<usize>> {
        // Keys may round a time to its second or add a sub-second part: a little slack.
        let slack = Duration::seconds(2);
        let before = match by {
            By::Created => slack,
            By::Modified => slack + Duration::seconds(MAX_MODIFIED_DELAY_SECS),
        };
        self.segments
            .iter()
            .map(|seg| {
                let from = lo.map_or(0, |t| seg.first_created_at(t - before));
                let to = hi.map_or(seg.len(), |t| seg.first_created_at(t + slack));
                from..to.max(from)
            })
            .collect()
    }

    /// Every record that may have its `by` time in `[lo, hi]` (generated ones outside are
    /// left out by their creation time; drifted, arrived and seed records are all visited).
    pub fn scan(
        &self,
        by: By,
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        mut visit: impl FnMut(u32, View<'_>),
    ) {
        let ranges = self.ranges(by, lo, hi);
        for ((seg, &start), range) in self.segments.iter().zip(&self.starts).zip(ranges) {
            for j in range {
                let h = (start + j) as u32;
                if !self.overlay.is_empty() && self.overlay.contains_key(&h) {
                    continue;
                }
                let created = seg.created(j);
                visit(
                    h,
                    View::Times {
                        seq: self.seq_base + u64::from(h) + 1,
                        created,
                        modified: seg.modified(j, created),
                    },
                );
            }
        }
        for (&h, g) in &self.overlay {
            visit(h, View::Order(g));
        }
        for n in 0..self.seeds {
            visit(self.seed_handle(n), View::Seed(n));
        }
        for (k, g) in self.fresh.iter().enumerate() {
            visit((self.generated + self.seeds + k) as u32, View::Order(g));
        }
    }

    /// The handles of the records whose key (`key`: epoch milliseconds of the time the
    /// wire shows, however the platform rounds it) lies in `key_bounds` (both included) and
    /// that `keep` accepts, sorted by (key, `id`) ascending. `bounds` are the same times, to
    /// pick the candidates by (see [`Catalog::scan`]).
    pub fn select(
        &self,
        by: By,
        bounds: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        key_bounds: (i64, i64),
        key: impl Fn(&View<'_>) -> Option<i64>,
        mut keep: impl FnMut(u32, &View<'_>) -> bool,
        id: impl Fn(u32) -> u128,
    ) -> Vec<u32> {
        let base = self
            .segments
            .iter()
            .map(|s| (s.now - Duration::seconds(s.span + 86400)).timestamp_millis())
            .min()
            .unwrap_or(0);
        let limit = 1i64 << (64 - HANDLE_BITS - 1);
        // Untouched generated orders are ordered by (key, handle), handle order being their
        // id order; they are packed in one word each. The few others carry their id.
        // Sized for every candidate at once: growing by doubling would hold two copies.
        let candidates = self
            .ranges(by, bounds.0, bounds.1)
            .iter()
            .map(ExactSizeIterator::len)
            .sum();
        let mut main: Vec<u64> = Vec::with_capacity(candidates);
        let mut side: Vec<(i64, u128, u32)> = Vec::new();
        self.scan(by, bounds.0, bounds.1, |h, v| {
            let Some(k) = key(&v) else { return };
            if k < key_bounds.0 || k > key_bounds.1 || !keep(h, &v) {
                return;
            }
            let rel = k.saturating_sub(base);
            if matches!(v, View::Times { .. }) && (0..limit).contains(&rel) {
                main.push(((rel as u64) << HANDLE_BITS) | u64::from(h));
            } else {
                side.push((k, id(h), h));
            }
        });
        main.shrink_to_fit();
        main.sort_unstable();
        side.sort_unstable();
        let mask = (1u64 << HANDLE_BITS) - 1;
        let mut out = Vec::with_capacity(main.len() + side.len());
        let mut s = side.into_iter().peekable();
        for m in main {
            let (k, h) = ((m >> HANDLE_BITS) as i64 + base, (m & mask) as u32);
            while let Some(&(sk, sid, sh)) = s.peek() {
                if (sk, sid) < (k, id(h)) {
                    out.push(sh);
                    s.next();
                } else {
                    break;
                }
            }
            out.push(h);
        }
        out.extend(s.map(|(_, _, h)| h));
        out
    }
}

/// A numeric id for tie-breaking (ids are digit strings or numbers); 0 when not numeric.
pub fn numeric_id(v: &serde_json::Value) -> u128 {
    match v {
        serde_json::Value::String(s) => s.trim_matches('"').parse().unwrap_or(0),
        serde_json::Value::Number(n) => n.as_u64().map_or(0, u128::from),
        _ => 0,
    }
}

/// The sorted results of the last few queries of one list, so paging through a query does
/// not scan again. Entries of an older catalog version are never served.
#[derive(Default)]
pub struct QueryCache {
    entries: Mutex<VecDeque<Cached>>,
}

/// A query's key, the catalog version it was answered at, its sorted handles.
type Cached = (String, u64, Arc<Vec<u32>>);

const CACHED_QUERIES: usize = 4;
/// Older results are let go once the cached ones hold this many handles (32 MB).
const CACHED_HANDLES: usize = 8 << 20;

impl QueryCache {
    /// The result of query `key` at catalog `version`, computed by `run` when not cached.
    pub fn get(&self, key: String, version: u64, run: impl FnOnce() -> Vec<u32>) -> Arc<Vec<u32>> {
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.retain(|(_, v, _)| *v == version);
        if let Some(pos) = e.iter().position(|(k, _, _)| *k == key) {
            let hit = e.remove(pos).expect("present");
            let out = hit.2.clone();
            e.push_front(hit);
            return out;
        }
        // Let go of older results first, so two large ones are never held at once.
        let mut held = 0;
        e.retain(|(_, _, hits)| {
            held += hits.len();
            held <= CACHED_HANDLES / 2
        });
        let fresh = Arc::new(run());
        e.push_front((key, version, fresh.clone()));
        e.truncate(CACHED_QUERIES);
        let mut held = 0;
        let keep = e
            .iter()
            .take_while(|(_, _, hits)| {
                held += hits.len();
                held <= CACHED_HANDLES
            })
            .count();
        e.truncate(keep.max(1));
        fresh
    }
}

/// The rows of page `page` (1-based) of size `size` over `hits`, ascending or newest first.
pub fn page_of(hits: &[u32], page: usize, size: usize, ascending: bool) -> Vec<u32> {
    let skip = (page - 1).saturating_mul(size);
    if ascending {
        hits.iter().skip(skip).take(size).copied().collect()
    } else {
        hits.iter().rev().skip(skip).take(size).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(n: usize) -> Catalog {
        let now = Utc::now();
        Catalog::new(
            vec![
                Segment::new(n, 7, 1, now, 30),
                Segment::new(n / 10, 7 ^ 0x90, 1, now, 90),
            ],
            2,
            1,
            1,
        )
    }

    /// Orders are a pure function of their index; creation times never decrease with it and
    /// modification follows creation.
    #[test]
    fn orders_are_pure_and_times_ordered() {
        let c = catalog(2000);
        let seg = &c.segments[0];
        for j in 0..seg.len() {
            let a = seg.order(j, 1);
            let b = seg.order(j, 1);
            assert_eq!(
                (a.created, a.modified, a.total_minor()),
                (b.created, b.modified, b.total_minor())
            );
            assert!(a.modified >= a.created && a.modified <= seg.now, "{j}");
            assert!(seg.now - a.created >= Duration::seconds(600));
            if j > 0 {
                assert!(seg.created(j - 1) <= a.created, "{j}");
            }
        }
        let t = seg.created(777);
        assert!(seg.first_created_at(t) <= 777 && seg.created(seg.first_created_at(t)) == t);
    }

    /// A selection equals filtering and sorting every record, before and after drift.
    #[test]
    fn select_matches_a_full_sort_through_drift() {
        let mut c = catalog(3000);
        let mut rng = StdRng::seed_from_u64(3);
        let now = Utc::now();
        for round in 0..3 {
            let lo = now - Duration::days(12);
            let hi = now - Duration::days(4);
            let key = |v: &View<'_>| v.times().map(|(_, _, m)| m.timestamp() * 1000);
            // Generated ids rise with the handle, as every platform's do; the rest are arbitrary.
            let id = |h: u32| {
                if h < 3300 {
                    u128::from(h) * 10
                } else {
                    u128::from(h) * 7919 % 33000
                }
            };
            let got = c.select(
                By::Modified,
                (Some(lo), Some(hi)),
                (lo.timestamp() * 1000, hi.timestamp() * 1000),
                key,
                |h, _| h % 3 != 0,
                id,
            );
            let mut want: Vec<(i64, u128, u32)> = (0..c.len() as u32)
                .filter(|h| h % 3 != 0)
                .filter_map(|h| Some((key(&c.view(h))?, id(h), h)))
                .filter(|(k, _, _)| (lo.timestamp() * 1000..=hi.timestamp() * 1000).contains(k))
                .collect();
            want.sort_unstable();
            let want: Vec<u32> = want.into_iter().map(|w| w.2).collect();
            assert!(want.len() > 100, "round {round}: {}", want.len());
            assert_eq!(got, want, "round {round}");
            for _ in 0..40 {
                c.drift(&mut rng, now - Duration::days(5));
            }
        }
        assert!(!c.overlay.is_empty() && !c.fresh.is_empty());
    }

    #[test]
    fn shops_have_their_own_seeds() {
        assert_eq!(shop_seed(42, 1), 42);
        assert_ne!(shop_seed(42, 2), shop_seed(42, 3));
        assert_ne!(shop_seed(42, 2), 42);
    }
}
