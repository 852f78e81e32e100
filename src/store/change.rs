//! What counts as a change, for every backend: an order the mirror does not hold is new; an
//! order it holds is updated when its normalized content differs, key by key, at the top
//! level. The modification time alone is not content: a new `updated_at` over the same
//! content is not a change (platforms touch orders without changing anything a user sees).

use serde::Serialize;
use serde_json::Value;

/// The kind of a feed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    New,
    Updated,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Updated => "updated",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "new" => Some(ChangeKind::New),
            "updated" => Some(ChangeKind::Updated),
            _ => None,
        }
    }
}

/// How an incoming order compares with the version the mirror holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    New,
    /// The top-level keys whose values differ, in the model's key order.
    Updated(Vec<String>),
    /// Same content (perhaps another `updated_at`).
    Same,
}

/// Keys that are not content.
const NOT_CONTENT: &[&str] = &["updated_at"];

/// Compare the stored document `old` (the JSON the mirror holds, `None` when it holds none)
/// with the incoming one, both as ordersync serializes orders.
pub fn diff(old: Option<&str>, new: &str) -> Diff {
    let Some(old) = old else {
        return Diff::New;
    };
    if old == new {
        return Diff::Same;
    }
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (
        serde_json::from_str::<Value>(old),
        serde_json::from_str::<Value>(new),
    ) else {
        // A stored document that does not read back (edited by hand?) is replaced, and the
        // feed says the whole order changed.
        return Diff::Updated(vec!["*".to_string()]);
    };
    let mut changed: Vec<String> = Vec::new();
    // The incoming order's keys first, in the model's order (serde_json's map is sorted, so
    // take the order from the model's field list), then keys only the old version had.
    for key in KEY_ORDER {
        if NOT_CONTENT.contains(key) {
            continue;
        }
        if a.get(*key) != b.get(*key) {
            changed.push((*key).to_string());
        }
    }
    for key in b.keys().chain(a.keys()) {
        if !KEY_ORDER.contains(&key.as_str())
            && !NOT_CONTENT.contains(&key.as_str())
            && a.get(key) != b.get(key)
            && !changed.contains(key)
        {
            changed.push(key.clone());
        }
    }
    if changed.is_empty() {
        Diff::Same
    } else {
        Diff::Updated(changed)
    }
}

/// The top-level keys of `crate::model::Order`, in declaration order (a test checks the list
/// against the serialized model).
pub const KEY_ORDER: &[&str] = &[
    "platform",
    "shop",
    "order_id",
    "source_order_id",
    "status",
    "platform_status",
    "created_at",
    "updated_at",
    "paid_at",
    "currency",
    "total",
    "shipping_fee",
    "discount",
    "buyer",
    "seller",
    "receiver",
    "buyer_message",
    "seller_memo",
    "lines",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> String {
        v.to_string()
    }

    #[test]
    fn new_same_and_updated() {
        let a = doc(
            json!({"order_id": "1", "status": "paid", "updated_at": "t1", "total": "5.00",
            "lines": [{"quantity": 1}]}),
        );
        assert_eq!(diff(None, &a), Diff::New);
        assert_eq!(diff(Some(&a), &a), Diff::Same);
        let touched = doc(
            json!({"order_id": "1", "status": "paid", "updated_at": "t2",
            "total": "5.00", "lines": [{"quantity": 1}]}),
        );
        assert_eq!(
            diff(Some(&a), &touched),
            Diff::Same,
            "only updated_at moved"
        );
        let shipped = doc(
            json!({"order_id": "1", "status": "shipped", "updated_at": "t3",
            "total": "5.00", "lines": [{"quantity": 2}]}),
        );
        assert_eq!(
            diff(Some(&a), &shipped),
            Diff::Updated(vec!["status".into(), "lines".into()])
        );
        let extra = doc(
            json!({"order_id": "1", "status": "paid", "updated_at": "t1",
            "total": "5.00", "lines": [{"quantity": 1}], "zz": 1}),
        );
        assert_eq!(diff(Some(&a), &extra), Diff::Updated(vec!["zz".into()]));
        assert_eq!(diff(Some("not json"), &a), Diff::Updated(vec!["*".into()]));
    }

    #[test]
    fn key_order_is_the_models() {
        let o = crate::model::Order::sample("1");
        // serde_json's writer keeps the struct's field order.
        let text = serde_json::to_string(&o).unwrap();
        let mut at = 0;
        for key in KEY_ORDER {
            let found = text[at..]
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} missing or out of order in {text}"));
            at += found + 1;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), KEY_ORDER.len());
    }
}
