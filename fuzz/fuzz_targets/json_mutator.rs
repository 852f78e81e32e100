//! A structure-aware mutator for the `normalize_*` targets (libFuzzer's `fuzz_mutator!`).
//!
//! Byte-level mutations of a JSON response almost always break its syntax, so they rarely reach
//! the code that reads fields. Half the time this mutator lets libFuzzer mutate bytes as usual;
//! otherwise, when the input parses as JSON, it changes the tree one to three times: a value
//! anywhere (inside strings holding packed JSON too) replaced by one of another shape (null,
//! empty and nested containers, edge numbers, numeric, date and odd strings), or a member or
//! element deleted or duplicated, and writes the tree back.

use serde_json::{Value, json};

/// xorshift64*, seeded by libFuzzer so a run is reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng(u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`; `n` must be positive.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The mutator: returns the new size of `data[..]`, at most `max_size`.
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(seed);
    if rng.below(2) == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let Ok(mut doc) = serde_json::from_slice::<Value>(&data[..size]) else {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    };
    for _ in 0..=rng.below(3) {
        mutate_tree(&mut doc, &mut rng);
    }
    let out = serde_json::to_vec(&doc).expect("a Value always serializes");
    if out.len() > max_size {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(members) => members.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order (`n < count(v)`).
fn nth_mut(v: &mut Value, mut n: usize) -> &mut Value {
    if n == 0 {
        return v;
    }
    n -= 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(members) => members.values_mut().collect(),
        _ => Vec::new(),
    };
    for child in children {
        let k = count(child);
        if n < k {
            return nth_mut(child, n);
        }
        n -= k;
    }
    unreachable!("n is below count(v)")
}

fn mutate_tree(doc: &mut Value, rng: &mut Rng) {
    let n = rng.below(count(doc));
    let node = nth_mut(doc, n);
    // A string holding packed JSON (PandaPon's fields): mutate inside it, half the time.
    if let Value::String(text) = node
        && let Ok(mut inner @ (Value::Array(_) | Value::Object(_))) =
            serde_json::from_str::<Value>(text)
        && rng.below(2) == 0
    {
        mutate_tree(&mut inner, rng);
        *text = inner.to_string();
        return;
    }
    match (rng.below(4), node) {
        (2, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.below(items.len()));
        }
        (2, Value::Object(members)) if !members.is_empty() => {
            let key = members.keys().nth(rng.below(members.len())).cloned();
            members.remove(&key.expect("in range"));
        }
        (3, Value::Array(items)) if !items.is_empty() => {
            let i = rng.below(items.len());
            items.insert(i, items[i].clone());
        }
        (_, node) => *node = random_value(rng, 2),
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 10 } else { 12 }) {
        0 | 1 => Value::Null,
        2 => Value::Bool(rng.below(2) == 0),
        3 => json!([]),
        4 => json!({}),
        5 => json!(rng.pick(&[0i64, -1, 1, i64::MIN, i64::MAX, i64::from(i32::MAX) + 1])),
        6 => {
            let random = rng.next();
            json!(rng.pick(&[u64::MAX, 1 << 53, (1 << 53) + 1, random]))
        }
        7 => json!(rng.pick(&[0.5, -0.01, 1e300, -1e300, f64::MAX, 5e-324, -0.0, 100.005])),
        8 => Value::String(random_string(rng)),
        9 => Value::String(
            rng.pick(&[
                "79228162514264337593543950336",
                "-92233720368547758080",
                "18446744073709551616",
                "1e999",
            ])
            .to_string(),
        ),
        10 => json!([random_value(rng, depth - 1)]),
        _ => {
            let key = rng.pick(&[
                "code", "data", "result", "id", "tid", "orders", "order", "items",
            ]);
            let mut members = serde_json::Map::new();
            members.insert(key.to_string(), random_value(rng, depth - 1));
            Value::Object(members)
        }
    }
}

fn random_string(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => (rng.next() as i64).to_string(),
        1 => format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02}",
            rng.below(10_000),
            rng.below(14),
            rng.below(33),
            rng.below(26),
            rng.below(62),
            rng.below(62)
        ),
        _ => rng
            .pick(&[
                "",
                " ",
                "null",
                "NaN",
                "-",
                ".5",
                "1,000.00",
                "¥12.50",
                "[]",
                "{}",
                "[{\"a\":",
                "\u{0}",
                "\u{feff}",
                "😀",
                "2020-02-30 00:00:00",
                "0000-01-01 00:00:00",
                "262143-12-31 23:59:59",
                "2025-04-24T17:17:43.000+08:00",
                "2025-04-24T17:17:43+99:00",
            ])
            .to_string(),
    }
}
