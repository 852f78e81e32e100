//! PostgreSQL: the mirror on a server shared by workers, through the binary (issue 17).

use crate::pg;

fn query_one(url: &str, sql: &str) -> String {
    let (url, sql) = (url.to_string(), sql.to_string());
    pg::block_on(async move {
        use sqlx::{Connection, Row};
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let row = sqlx::query(&sql).fetch_one(&mut c).await.unwrap();
        row.try_get::<String, _>(0).unwrap()
    })
}

#[test]
fn harness_gives_each_test_its_own_database() {
    let a = pg::fresh_db("harness a");
    let b = pg::fresh_db("harness b");
    assert_ne!(a.name, b.name);
    assert_eq!(query_one(&a.url, "SELECT current_database()::text"), a.name);
    assert_eq!(query_one(&b.url, "SELECT current_database()::text"), b.name);
}

#[test]
fn harness_server_stops_and_serves_again_with_its_data() {
    let mut s = pg::PgServer::start().unwrap_or_else(|e| panic!("{e}"));
    let db = pg::create_db(&s.url("postgres"), "restart");
    let url = db.url.clone();
    pg::block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')")
            .execute(&mut c)
            .await
            .unwrap();
    });
    s.stop();
    let down = pg::block_on(async {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&url).await.is_err()
    });
    assert!(down, "the server still answers after stop()");
    s.serve().unwrap();
    assert_eq!(query_one(&db.url, "SELECT v FROM t"), "kept");
    let root = s.root().to_path_buf();
    drop(s);
    assert!(!root.exists(), "the cluster's folder is left behind");
}

// ---- The backend through the store API (the binary's tests follow) ----

use ordersync::model::{Amount, Order, OrderLine, Party, Receiver, Status, Timestamp};
use ordersync::store::postgres::{PgOptions, PgStore};
use ordersync::store::{ChangeKind, DbUrl, ExportQuery, ShopRun, Store};
use std::time::Duration;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn order(id: &str, status: Status, updated_s: i64, total: &str) -> Order {
    let t = |s: i64| Timestamp::from_epoch_millis(s * 1000);
    Order {
        platform: "taobao-tw".into(),
        shop: "s1".into(),
        order_id: id.into(),
        source_order_id: None,
        status,
        platform_status: status.as_str().to_uppercase(),
        created_at: t(1_790_000_000),
        updated_at: t(updated_s),
        paid_at: None,
        currency: "TWD".into(),
        total: Some(Amount::parse(total).unwrap()),
        shipping_fee: Some(Amount::parse("60.00").unwrap()),
        discount: None,
        buyer: Party::default(),
        seller: Party::default(),
        receiver: Receiver::default(),
        buyer_message: None,
        seller_memo: None,
        lines: vec![OrderLine {
            line_id: format!("{id}-1"),
            product_id: None,
            sku_id: None,
            title: "豆沙色 lipstick".into(),
            sku_properties: vec![],
            quantity: 2,
            unit_price: Some(Amount::parse("100.05").unwrap()),
            total: Some(Amount::parse("200.10").unwrap()),
            status: None,
            platform_status: None,
            refund_status: None,
            carrier: None,
            tracking_number: None,
            image_url: None,
        }],
    }
}

fn shop_run() -> ShopRun {
    ShopRun {
        shop: "s1".into(),
        platform: "taobao-tw".into(),
        by: ordersync::platforms::By::Modified,
    }
}

async fn open(url: &str, lease: Duration) -> PgStore {
    let shown = DbUrl::parse(url).unwrap().shown();
    PgStore::open(url, &shown, &PgOptions { lease })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn store_mirrors_windows_and_numbers_real_changes() {
    let db = pg::fresh_db("store basics");
    rt().block_on(async {
        let s = open(&db.url, Duration::from_secs(60)).await;
        assert_eq!(s.schema_version().await.unwrap(), 2);
        let run = shop_run();
        let origin = chrono::Utc::now() - chrono::Duration::days(7);
        s.register_shop(&run, origin).await.unwrap();
        let _guard = s.lock_shop("s1").await.unwrap();
        let mark = chrono::Utc::now();
        let w1 = vec![
            order("A", Status::Paid, 1_790_000_100, "260.10"),
            order("B", Status::Paid, 1_790_000_100, "1.50"),
        ];
        let staged = s.stage_window(&run, &w1, Some(mark)).await.unwrap();
        let kinds: Vec<_> = staged.changes().iter().map(|c| c.change).collect();
        assert_eq!(kinds, [ChangeKind::New, ChangeKind::New]);
        staged.commit().await.unwrap();
        let m = s.shop("s1").await.unwrap().unwrap();
        assert_eq!(m.orders, 2);
        assert_eq!(m.mark.unwrap().timestamp_micros(), mark.timestamp_micros());

        // The same content again, even with a newer updated_at: not a change.
        let w2 = vec![order("A", Status::Paid, 1_790_000_200, "260.10")];
        let staged = s.stage_window(&run, &w2, None).await.unwrap();
        assert!(staged.changes().is_empty());
        staged.commit().await.unwrap();

        // A status change is one, naming the keys.
        let w3 = vec![order("A", Status::Shipped, 1_790_000_300, "260.10")];
        let staged = s.stage_window(&run, &w3, None).await.unwrap();
        let c = staged.changes().to_vec();
        staged.commit().await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].change, ChangeKind::Updated);
        assert_eq!(c[0].changed, ["status", "platform_status"]);

        // An older version than the one held is not written back.
        let old = vec![order("A", Status::Paid, 1_790_000_050, "260.10")];
        let staged = s.stage_window(&run, &old, None).await.unwrap();
        assert!(staged.changes().is_empty());
        staged.commit().await.unwrap();

        let feed = s.changes_after(None, 0, 100).await.unwrap();
        assert_eq!(feed.len(), 3);
        assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(
            s.changes_after(Some("s1"), feed[1].seq, 100)
                .await
                .unwrap()
                .len(),
            1
        );

        let mut docs = Vec::new();
        let n = s
            .export(&ExportQuery::default(), &mut |d: &str| {
                docs.push(d.to_string());
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 2);
        assert!(docs[0].contains("\"status\":\"shipped\""), "{}", docs[0]);
        let mut shipped = Vec::new();
        let q = ExportQuery {
            status: Some("paid".into()),
            ..ExportQuery::default()
        };
        s.export(&q, &mut |d: &str| {
            shipped.push(d.to_string());
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(shipped.len(), 1, "only B is still paid");
        s.close().await.unwrap();
    });
    // Money is NUMERIC, exact and with its scale; lines are rows.
    assert_eq!(
        query_one(
            &db.url,
            "SELECT total::text FROM orders WHERE order_id = 'B'"
        ),
        "1.50"
    );
    assert_eq!(
        query_one(
            &db.url,
            "SELECT string_agg(line_no || ':' || title || ':' || quantity || ':' || unit_price, ',') \
             FROM order_lines WHERE order_id = 'A'"
        ),
        "0:豆沙色 lipstick:2:100.05"
    );
}

#[test]
fn leases_keep_a_shop_to_one_worker_and_expire() {
    let db = pg::fresh_db("store leases");
    rt().block_on(async {
        let a = open(&db.url, Duration::from_secs(60)).await;
        let b = open(&db.url, Duration::from_secs(60)).await;
        let la = a
            .try_take("s1")
            .await
            .unwrap()
            .expect("a free shop is taken");
        assert!(b.try_take("s1").await.unwrap().is_none(), "taken twice");
        let e = b.lock_shop("s1").await.expect_err("refused");
        assert_eq!(
            ordersync::error::exit_code(&e),
            ordersync::error::Exit::GaveUp,
            "{e:#}"
        );
        assert!(format!("{e:#}").contains(la.holder()), "{e:#}");
        // Another shop is free meanwhile.
        assert!(b.try_take("s2").await.unwrap().is_some());
        // Given back on drop: the other worker may take it at once.
        drop(la);
        let lb = b.try_take("s1").await.unwrap().expect("given back");
        // B stops renewing (as if paused) and its lease runs out: A takes over, and B may
        // no longer write a window of that shop.
        std::mem::forget(lb);
        let run = shop_run();
        a.register_shop(&run, chrono::Utc::now()).await.unwrap();
        sqlx::query("UPDATE shop_leases SET expires_at = now() - interval '1 second'")
            .execute(&sqlx::PgPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();
        let _la = a
            .try_take("s1")
            .await
            .unwrap()
            .expect("an expired lease is taken over");
        let w = vec![order("A", Status::Paid, 1_790_000_100, "1.00")];
        let Err(e) = b.stage_window(&run, &w, None).await else {
            panic!("a worker that lost its lease wrote a window");
        };
        assert!(format!("{e:#}").contains("lost the lease"), "{e:#}");
        let staged = a.stage_window(&run, &w, None).await.unwrap();
        staged.commit().await.unwrap();
        let leases = a.leases().await.unwrap();
        let s1 = leases.iter().find(|l| l.shop == "s1").unwrap();
        assert!(s1.live && s1.holder.as_deref() != Some(""));
    });
}

#[test]
fn lease_is_renewed_while_held() {
    let db = pg::fresh_db("store renew");
    rt().block_on(async {
        let a = open(&db.url, Duration::from_millis(900)).await;
        let b = open(&db.url, Duration::from_millis(900)).await;
        let _la = a.try_take("s1").await.unwrap().unwrap();
        // Three lease lengths later, the renewals have kept it.
        tokio::time::sleep(Duration::from_millis(2700)).await;
        assert!(
            b.try_take("s1").await.unwrap().is_none(),
            "a renewed lease expired"
        );
    });
}
