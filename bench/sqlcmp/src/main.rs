//! Run: cd bench/sqlcmp && cargo run --release -- MIRROR.db ORDERS EXPORT_ORDERS (MIRROR.db: any
//! ordersync mirror, whose documents are copied; not part of the workspace or of CI).
//! sqlx (ordersync's SqliteStore) vs rusqlite running the same statements: window upserts
//! (100 orders per transaction, every order new, then every order changed) and export.
use ordersync::model::Order;
use ordersync::store::{ExportQuery, ShopRun, Store, schema, sqlite::SqliteStore};
use std::time::Instant;

fn docs(src: &str, n: usize) -> Vec<Order> {
    let c = rusqlite::Connection::open(src).unwrap();
    let mut st = c.prepare("SELECT doc FROM orders").unwrap();
    let base: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    (0..n)
        .map(|i| {
            let mut v: serde_json::Value = serde_json::from_str(&base[i % base.len()]).unwrap();
            v["order_id"] = format!("{}-{i}", v["order_id"].as_str().unwrap()).into();
            ordersync::store::export::order_from_doc(&v.to_string()).unwrap()
        })
        .collect()
}

fn rusqlite_windows(c: &mut rusqlite::Connection, orders: &[Order], round: u32) {
    for w in orders.chunks(100) {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
        {
            let ids: Vec<&str> = w.iter().map(|o| o.order_id.as_str()).collect();
            let sql = format!(
                "SELECT order_id, updated_us, doc FROM orders WHERE shop = ?1 AND order_id IN ({})",
                (2..2 + ids.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",")
            );
            let mut st = tx.prepare_cached(&sql).unwrap();
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&"s"];
            for id in &ids {
                params.push(id);
            }
            let old: std::collections::HashMap<String, String> = st
                .query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(2)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let mut ch = tx.prepare_cached("INSERT INTO order_changes (shop, order_id, change, changed, at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq").unwrap();
            let mut up = tx.prepare_cached("INSERT INTO orders (shop, order_id, platform, status, platform_status, created_at, updated_at, paid_at, created_us, updated_us, currency, total, shipping_fee, discount, buyer_id, buyer_name, line_count, doc, first_seen, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) ON CONFLICT (shop, order_id) DO UPDATE SET status = excluded.status, doc = excluded.doc, last_seq = excluded.last_seq").unwrap();
            let mut del = tx.prepare_cached("DELETE FROM order_lines WHERE shop = ?1 AND order_id = ?2").unwrap();
            let mut lines = tx.prepare_cached(schema::SQLITE_INSERT_LINES).unwrap();
            for o in w {
                let mut doc = serde_json::to_string(o).unwrap();
                if round > 0 {
                    doc = doc.replacen("\"buyer_message\":null", &format!("\"buyer_message\":\"r{round}\""), 1);
                }
                let d = ordersync::store::diff(old.get(&o.order_id).map(String::as_str), &doc);
                if d == ordersync::store::Diff::Same {
                    continue;
                }
                let seq: i64 = ch.query_row(rusqlite::params!["s", o.order_id, "new", None::<String>, "t"], |r| r.get(0)).unwrap();
                let t = |x: Option<ordersync::model::Timestamp>| x.map(|t| t.to_rfc3339());
                let us = |x: Option<ordersync::model::Timestamp>| x.map(|t| t.at().timestamp_micros());
                let m = |x: Option<ordersync::model::Amount>| x.map(|a| a.to_string());
                up.execute(rusqlite::params!["s", o.order_id, o.platform, o.status.as_str(), o.platform_status, t(o.created_at), t(o.updated_at), t(o.paid_at), us(o.created_at), us(o.updated_at), o.currency, m(o.total), m(o.shipping_fee), m(o.discount), o.buyer.id, o.buyer.name, o.lines.len() as i64, doc, "t", seq]).unwrap();
                del.execute(rusqlite::params!["s", o.order_id]).unwrap();
                lines.execute(rusqlite::params!["s", o.order_id, doc]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (src, n, nexp) = (&args[1], args[2].parse().unwrap(), args[3].parse::<usize>().unwrap());
    let orders = docs(src, n);
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    // sqlx, through ordersync's store.
    let p = dir.path().join("sqlx.db");
    let s = SqliteStore::open(&p).await.unwrap();
    let run = ShopRun { shop: "s".into(), platform: "taobao-tw".into(), by: ordersync::platforms::By::Modified };
    s.register_shop(&run, chrono::Utc::now()).await.unwrap();
    let t = Instant::now();
    for w in orders.chunks(100) {
        let st = s.stage_window(&run, w, None).await.unwrap();
        st.commit().await.unwrap();
    }
    let sqlx_new = n as f64 / t.elapsed().as_secs_f64();
    let changed: Vec<Order> = orders.iter().cloned().map(|mut o| { o.buyer_message = Some("r1".into()); o }).collect();
    let t = Instant::now();
    for w in changed.chunks(100) {
        let st = s.stage_window(&run, w, None).await.unwrap();
        st.commit().await.unwrap();
    }
    let sqlx_upd = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for w in changed.chunks(100) {
        let st = s.stage_window(&run, w, None).await.unwrap();
        st.commit().await.unwrap();
    }
    let sqlx_same = n as f64 / t.elapsed().as_secs_f64();
    s.close().await.unwrap();
    // rusqlite, same schema and statements.
    let p2 = dir.path().join("rusqlite.db");
    let mut c = rusqlite::Connection::open(&p2).unwrap();
    c.pragma_update(None, "journal_mode", "wal").unwrap();
    c.pragma_update(None, "synchronous", "normal").unwrap();
    for (_, sql) in schema::SQLITE_STEPS { c.execute_batch(sql).unwrap(); }
    let t = Instant::now();
    rusqlite_windows(&mut c, &orders, 0);
    let ru_new = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    rusqlite_windows(&mut c, &orders, 1);
    let ru_upd = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    rusqlite_windows(&mut c, &orders, 1);
    let ru_same = n as f64 / t.elapsed().as_secs_f64();
    drop(c);
    println!("windows of 100, {n} orders: orders/s new / updated / unchanged");
    println!("  sqlx     {sqlx_new:>9.0} {sqlx_upd:>9.0} {sqlx_same:>9.0}");
    println!("  rusqlite {ru_new:>9.0} {ru_upd:>9.0} {ru_same:>9.0}");
    // Export: grow the sqlx mirror to nexp rows by copying, then read every doc both ways.
    if nexp > 0 {
        let g = std::process::Command::new("python3").args([concat!(env!("CARGO_MANIFEST_DIR"), "/../lib/grow_mirror.py"), p.to_str().unwrap(), &nexp.to_string()]).output().unwrap();
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        let s = SqliteStore::open_read_only(&p).await.unwrap();
        for _ in 0..2 {
            let mut bytes = 0usize;
            let t = Instant::now();
            let mut each = |d: &str| -> anyhow::Result<()> { bytes += d.len(); Ok(()) };
            let k = s.export(&ExportQuery::default(), &mut each).await.unwrap();
            let e = t.elapsed().as_secs_f64();
            println!("export sqlx:     {k} orders, {:.0} orders/s ({:.0} MB/s)", k as f64 / e, bytes as f64 / e / 1e6);
        }
        let c = rusqlite::Connection::open_with_flags(&p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        for _ in 0..2 {
            let t = Instant::now();
            let mut st = c.prepare("SELECT doc FROM orders ORDER BY rowid").unwrap();
            let mut rows = st.query([]).unwrap();
            let (mut k, mut bytes) = (0usize, 0usize);
            while let Some(r) = rows.next().unwrap() {
                let d = r.get_ref(0).unwrap().as_str().unwrap();
                bytes += d.len();
                k += 1;
            }
            let e = t.elapsed().as_secs_f64();
            println!("export rusqlite: {k} orders, {:.0} orders/s ({:.0} MB/s)", k as f64 / e, bytes as f64 / e / 1e6);
        }
    }
}
