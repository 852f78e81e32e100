//! Turning the mirror's stored documents back into output: NDJSON and JSON copy the stored
//! text (it is exactly what `pull` printed, so an export reads like a pull and costs no
//! serialization), CSV reads each document back into an [`Order`] for the CSV sink's fixed
//! columns.

use super::{ExportQuery, Store};
use crate::model::{Amount, Order, OrderLine, Party, Receiver, SkuProperty, Status, Timestamp};
use crate::sink::{CsvMode, CsvSink, Format, Output, Sink, SinkOutput};
use anyhow::{Context, Result, anyhow};
use serde_json::{Map, Value};
use std::io::Write;

/// Write the mirror's orders matching `q` to `out` as `format`; returns how many.
pub async fn export(
    store: &dyn Store,
    q: &ExportQuery,
    format: Format,
    csv_mode: CsvMode,
    bom: bool,
    out: Output,
) -> Result<u64> {
    let db = store.shown();
    match format {
        Format::Ndjson | Format::Json => {
            let json = format == Format::Json;
            let mut out = out;
            let mut first = true;
            let mut each = |doc: &str| -> Result<()> {
                if json {
                    out.write_all(if first { b"[\n" } else { b",\n" })?;
                }
                first = false;
                out.write_all(doc.as_bytes())?;
                if !json {
                    out.write_all(b"\n")?;
                }
                Ok(())
            };
            let n = store.export(q, &mut each).await?;
            if json {
                out.write_all(if n == 0 { b"[]\n" } else { b"\n]\n" })?;
            }
            out.commit()?;
            Ok(n)
        }
        Format::Csv => {
            let mut sink = Box::new(CsvSink::new(out, csv_mode, bom));
            let mut each = |doc: &str| -> Result<()> {
                let o = order_from_doc(doc)
                    .with_context(|| format!("database {db}: an order does not read back"))?;
                sink.write(&o)?;
                Ok(())
            };
            let n = store.export(q, &mut each).await?;
            sink.commit()?;
            Ok(n)
        }
    }
}

/// An order as ordersync serialized it, read back.
pub fn order_from_doc(doc: &str) -> Result<Order> {
    let v: Value = serde_json::from_str(doc)?;
    let o = v.as_object().ok_or_else(|| anyhow!("not a JSON object"))?;
    let order_id = string(o, "order_id")?;
    let at = |e: anyhow::Error| e.context(format!("order {order_id}"));
    Ok(Order {
        platform: string(o, "platform").map_err(at)?,
        shop: string(o, "shop").map_err(at)?,
        source_order_id: opt_string(o, "source_order_id").map_err(at)?,
        status: {
            let s = string(o, "status").map_err(at)?;
            status(&s).ok_or_else(|| anyhow!("order {order_id}: status {s:?}"))?
        },
        platform_status: string(o, "platform_status").map_err(at)?,
        created_at: time(o, "created_at").map_err(at)?,
        updated_at: time(o, "updated_at").map_err(at)?,
        paid_at: time(o, "paid_at").map_err(at)?,
        currency: string(o, "currency").map_err(at)?,
        total: amount(o, "total").map_err(at)?,
        shipping_fee: amount(o, "shipping_fee").map_err(at)?,
        discount: amount(o, "discount").map_err(at)?,
        buyer: party(o.get("buyer")).map_err(at)?,
        seller: party(o.get("seller")).map_err(at)?,
        receiver: {
            let r = object(o.get("receiver"));
            Receiver {
                name: opt_string(r, "name").map_err(at)?,
                phone: opt_string(r, "phone").map_err(at)?,
                country: opt_string(r, "country").map_err(at)?,
                state: opt_string(r, "state").map_err(at)?,
                city: opt_string(r, "city").map_err(at)?,
                district: opt_string(r, "district").map_err(at)?,
                town: opt_string(r, "town").map_err(at)?,
                address: opt_string(r, "address").map_err(at)?,
                zip: opt_string(r, "zip").map_err(at)?,
            }
        },
        buyer_message: opt_string(o, "buyer_message").map_err(at)?,
        seller_memo: opt_string(o, "seller_memo").map_err(at)?,
        lines: match o.get("lines") {
            Some(Value::Array(ls)) => ls.iter().map(line).collect::<Result<_>>().map_err(at)?,
            _ => Vec::new(),
        },
        order_id,
    })
}

fn line(v: &Value) -> Result<OrderLine> {
    let l = object(Some(v));
    Ok(OrderLine {
        line_id: string(l, "line_id")?,
        product_id: opt_string(l, "product_id")?,
        sku_id: opt_string(l, "sku_id")?,
        title: string(l, "title")?,
        sku_properties: match l.get("sku_properties") {
            Some(Value::Array(ps)) => ps
                .iter()
                .map(|p| {
                    let p = object(Some(p));
                    Ok(SkuProperty {
                        name: string(p, "name")?,
                        value: string(p, "value")?,
                    })
                })
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        },
        quantity: l
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("line quantity is not a number"))?,
        unit_price: amount(l, "unit_price")?,
        total: amount(l, "total")?,
        status: opt_string(l, "status")?
            .map(|s| status(&s).ok_or_else(|| anyhow!("line status {s:?}")))
            .transpose()?,
        platform_status: opt_string(l, "platform_status")?,
        refund_status: opt_string(l, "refund_status")?,
        carrier: opt_string(l, "carrier")?,
        tracking_number: opt_string(l, "tracking_number")?,
        image_url: opt_string(l, "image_url")?,
    })
}

/// A status as serialized, `unknown` included (which `--status` does not take).
fn status(name: &str) -> Option<Status> {
    match name {
        "unknown" => Some(Status::Unknown),
        _ => Status::from_name(name),
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn object(v: Option<&Value>) -> &Map<String, Value> {
    v.and_then(Value::as_object).unwrap_or(&EMPTY)
}

fn party(v: Option<&Value>) -> Result<Party> {
    let p = object(v);
    Ok(Party {
        id: opt_string(p, "id")?,
        name: opt_string(p, "name")?,
    })
}

fn opt_string(o: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(anyhow!("{key} is not a string: {other}")),
    }
}

fn string(o: &Map<String, Value>, key: &str) -> Result<String> {
    opt_string(o, key)?.ok_or_else(|| anyhow!("{key} is missing"))
}

fn amount(o: &Map<String, Value>, key: &str) -> Result<Option<Amount>> {
    opt_string(o, key)?
        .map(|s| Amount::parse(&s).map_err(|e| anyhow!("{key}: {e}")))
        .transpose()
}

/// A time with the precision it was printed with (a fraction means milliseconds).
fn time(o: &Map<String, Value>, key: &str) -> Result<Option<Timestamp>> {
    opt_string(o, key)?
        .map(|s| {
            let at = chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|e| anyhow!("{key} {s:?}: {e}"))?;
            Ok(if s.contains('.') {
                Timestamp::millis(at)
            } else {
                Timestamp::seconds(at)
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_order_reads_back_as_it_was() {
        let mut seen = 0;
        for dir in std::fs::read_dir("fixtures").unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(dir).unwrap() {
                let p = f.unwrap().path();
                if !p.to_string_lossy().ends_with(".expected.json") {
                    continue;
                }
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let orders = match v {
                    Value::Array(a) => a,
                    one => vec![one],
                };
                for o in orders {
                    if o.get("order_id").is_none() {
                        continue;
                    }
                    let doc = o.to_string();
                    let back = order_from_doc(&doc).unwrap_or_else(|e| panic!("{p:?}: {e:#}"));
                    assert_eq!(serde_json::to_value(&back).unwrap(), o, "{p:?}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 5, "fixtures read: {seen}");
    }
}
