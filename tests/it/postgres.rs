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
use ordersync::store::{ChangeKind, DbUrl, ExportQuery, HeldOrders, ShopRun, Store};
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
        assert_eq!(s.schema_version().await.unwrap(), 3);
        let run = shop_run();
        let origin = chrono::Utc::now() - chrono::Duration::days(7);
        s.register_shop(&run, origin).await.unwrap();
        let _guard = s.lock_shop("s1").await.unwrap();
        let mark = chrono::Utc::now();
        let w1 = vec![
            order("A", Status::Paid, 1_790_000_100, "260.10"),
            order("B", Status::Paid, 1_790_000_100, "1.50"),
        ];
        let staged = s
            .stage_window(&run, &HeldOrders::of(&w1), Some(mark), None)
            .await
            .unwrap();
        let kinds: Vec<_> = staged.changes().iter().map(|c| c.change).collect();
        assert_eq!(kinds, [ChangeKind::New, ChangeKind::New]);
        staged.commit().await.unwrap();
        let m = s.shop("s1").await.unwrap().unwrap();
        assert_eq!(m.orders, 2);
        assert_eq!(m.mark.unwrap().timestamp_micros(), mark.timestamp_micros());

        // The same content again, even with a newer updated_at: not a change.
        let w2 = vec![order("A", Status::Paid, 1_790_000_200, "260.10")];
        let staged = s
            .stage_window(&run, &HeldOrders::of(&w2), None, None)
            .await
            .unwrap();
        assert!(staged.changes().is_empty());
        staged.commit().await.unwrap();

        // A status change is one, naming the keys.
        let w3 = vec![order("A", Status::Shipped, 1_790_000_300, "260.10")];
        let staged = s
            .stage_window(&run, &HeldOrders::of(&w3), None, None)
            .await
            .unwrap();
        let c = staged.changes().to_vec();
        staged.commit().await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].change, ChangeKind::Updated);
        assert_eq!(c[0].changed, ["status", "platform_status"]);

        // An older version than the one held is not written back.
        let old = vec![order("A", Status::Paid, 1_790_000_050, "260.10")];
        let staged = s
            .stage_window(&run, &HeldOrders::of(&old), None, None)
            .await
            .unwrap();
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
        let busy = e
            .downcast_ref::<ordersync::store::postgres::ShopBusy>()
            .expect("a busy shop is told apart, for pulls of many shops to skip it");
        assert_eq!(busy.shop, "s1");
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
        let Err(e) = b.stage_window(&run, &HeldOrders::of(&w), None, None).await else {
            panic!("a worker that lost its lease wrote a window");
        };
        assert!(format!("{e:#}").contains("lost the lease"), "{e:#}");
        let staged = a
            .stage_window(&run, &HeldOrders::of(&w), None, None)
            .await
            .unwrap();
        staged.commit().await.unwrap();
        let leases = a.leases().await.unwrap();
        let s1 = leases.iter().find(|l| l.shop == "s1").unwrap();
        assert!(s1.live && s1.holder.as_deref() != Some(""));
    });
}

#[test]
fn feed_numbers_become_visible_in_order_across_workers() {
    let db = pg::fresh_db("feed order");
    rt().block_on(async {
        let a = open(&db.url, Duration::from_secs(60)).await;
        let b = std::sync::Arc::new(open(&db.url, Duration::from_secs(60)).await);
        let (ra, mut rb) = (shop_run(), shop_run());
        rb.shop = "s2".into();
        a.register_shop(&ra, chrono::Utc::now()).await.unwrap();
        b.register_shop(&rb, chrono::Utc::now()).await.unwrap();
        let _ga = a.lock_shop("s1").await.unwrap();
        let _gb = b.lock_shop("s2").await.unwrap();
        let wa = vec![order("A", Status::Paid, 1_790_000_100, "1.00")];
        let staged_a = a
            .stage_window(&ra, &HeldOrders::of(&wa), None, None)
            .await
            .unwrap();
        // B's window, with a change, waits for A's numbered window to commit: otherwise B
        // could commit a larger seq first and a consumer reading then would skip A's.
        let b2 = b.clone();
        let staged_b = tokio::spawn(async move {
            let wb = vec![order("B", Status::Paid, 1_790_000_100, "2.00")];
            let staged = b2
                .stage_window(&rb, &HeldOrders::of(&wb), None, None)
                .await
                .unwrap();
            let seqs: Vec<i64> = staged.changes().iter().map(|c| c.seq).collect();
            staged.commit().await.unwrap();
            seqs
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            !staged_b.is_finished(),
            "a later window committed before an earlier one"
        );
        let seq_a = staged_a.changes()[0].seq;
        staged_a.commit().await.unwrap();
        let seq_b = staged_b.await.unwrap();
        assert!(seq_b[0] > seq_a);
        // Windows without changes do not wait.
        let staged_a = a
            .stage_window(&ra, &HeldOrders::of(&wa), None, None)
            .await
            .unwrap();
        assert!(staged_a.changes().is_empty());
        let wb = vec![order("B", Status::Paid, 1_790_000_100, "2.00")];
        let mut rb = shop_run();
        rb.shop = "s2".into();
        let staged_b = tokio::time::timeout(
            Duration::from_secs(2),
            b.stage_window(&rb, &HeldOrders::of(&wb), None, None),
        )
        .await
        .expect("an unchanged window waited")
        .unwrap();
        staged_b.commit().await.unwrap();
        staged_a.commit().await.unwrap();
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

// ---- Through the binary ----

use crate::support::{Env, Run};
use ordersync::sandbox::SandboxOptions;
use std::collections::BTreeMap;
use std::process::{Child, Stdio};

const SHOP: &str = "sandbox-taobao-tw";

/// The tests that run the binary against PostgreSQL take turns: several at once (nine workers
/// in one of them) on a 2-core machine would skew the other tests' timing (rate limits).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A query's first column as text, `None` when it fails (the table is not there yet).
fn try_query(url: &str, sql: &str) -> Option<String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    pg::block_on(async move {
        use sqlx::{Connection, Row};
        let mut c = sqlx::PgConnection::connect(&url).await.ok()?;
        let row = sqlx::query(&sql).fetch_optional(&mut c).await.ok()??;
        row.try_get::<Option<String>, _>(0).ok()?
    })
}

/// A fixed range, so that every run of a test asks for the same orders.
struct Range {
    since: String,
    until: String,
}

impl Range {
    fn new() -> Range {
        let now = chrono::Utc::now();
        Range {
            since: (now - chrono::Duration::days(31)).to_rfc3339(),
            until: (now - chrono::Duration::minutes(3)).to_rfc3339(),
        }
    }
}

fn pull_args<'a>(range: &'a Range, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "pull",
        "--shop",
        SHOP,
        "--since",
        &range.since,
        "--until",
        &range.until,
        "--window",
        "1d",
        "--db",
        db,
    ];
    v.extend_from_slice(extra);
    v
}

fn spawn_pull(env: &Env, args: &[&str]) -> Child {
    crate::support::command()
        .args(args)
        .args(["--config", env.config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Wait until `sql` gives a value (e.g. the shop's mark is set), at most 20 s.
fn wait_for(url: &str, sql: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = try_query(url, sql) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {sql}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const MARK_SET: &str =
    "SELECT mark FROM shops WHERE shop = 'sandbox-taobao-tw' AND mark IS NOT NULL";

/// The mirror's orders as `ordersync export` writes them, by id.
fn export(env: &Env, db: &str) -> BTreeMap<String, serde_json::Value> {
    env.run(&["export", "--db", db])
        .ok()
        .ndjson()
        .into_iter()
        .map(|o| (o["order_id"].as_str().unwrap().to_string(), o))
        .collect()
}

/// The feed as `ordersync changes` writes it, without the times it was recorded at.
fn feed(env: &Env, db: &str) -> Vec<serde_json::Value> {
    let mut v = env.run(&["changes", "--db", db]).ok().ndjson();
    for c in &mut v {
        c.as_object_mut().unwrap().remove("at");
    }
    v
}

/// Every order of the feed is recorded as new exactly once.
fn assert_new_once(db_url: &str) {
    let twice = try_query(
        db_url,
        "SELECT string_agg(order_id, ',') FROM (SELECT order_id FROM order_changes \
         WHERE change = 'new' GROUP BY shop, order_id HAVING count(*) > 1) d",
    );
    assert_eq!(twice, None, "orders recorded as new twice");
}

#[test]
fn a_postgres_pull_equals_the_same_pull_into_sqlite() {
    let _turn = one_at_a_time();
    let env = Env::with_orders(200);
    let db = pg::fresh_db("equals sqlite");
    let sqlite = format!("sqlite:{}", env.path("m.db").display());
    let range = Range::new();
    let on_pg = env.run(&pull_args(&range, &db.url, &["-q"])).ok();
    let on_sqlite = env.run(&pull_args(&range, &sqlite, &["-q"])).ok();
    assert!(
        on_pg.ndjson().len() > 20,
        "too few orders to compare: {}",
        on_pg.stdout
    );
    // The same orders, the same change and seq on each line.
    assert_eq!(on_pg.stdout, on_sqlite.stdout);
    assert!(on_pg.ndjson().iter().all(|o| o["change"] == "new"));
    assert_eq!(feed(&env, &db.url), feed(&env, &sqlite));
    let (a, b) = (export(&env, &db.url), export(&env, &sqlite));
    assert_eq!(a.len(), on_pg.ndjson().len());
    assert_eq!(a, b);
    // `shops` reads either.
    for mirror in [&db.url, &sqlite] {
        let rows: serde_json::Value = serde_json::from_str(
            &env.run(&["shops", "--db", mirror, "--format", "json"])
                .ok()
                .stdout,
        )
        .unwrap();
        assert_eq!(rows[0]["shop"], SHOP);
        assert_eq!(rows[0]["orders"].as_u64().unwrap() as usize, a.len());
    }
    // An unchanged re-run prints nothing, on both.
    let again = env.run(&pull_args(&range, &db.url, &["-q"])).ok();
    assert_eq!(again.stdout, "");
    // The same rows for SQL users: totals exact, one line row per order line.
    let lines: usize = a
        .values()
        .map(|o| o["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        try_query(&db.url, "SELECT count(*)::text FROM order_lines").unwrap(),
        lines.to_string()
    );
    let (id, o) = a.iter().find(|(_, o)| o["total"].is_string()).unwrap();
    assert_eq!(
        try_query(
            &db.url,
            &format!("SELECT total::text FROM orders WHERE order_id = '{id}'")
        )
        .as_ref(),
        o["total"].as_str().map(str::to_string).as_ref()
    );
}

#[test]
fn a_second_pull_of_a_leased_shop_is_refused_and_shops_tells_who() {
    let _turn = one_at_a_time();
    let env = Env::new(SandboxOptions {
        orders: 80,
        latency_ms: 120,
        ..SandboxOptions::default()
    });
    let db = pg::fresh_db("second refused");
    let range = Range::new();
    let first = spawn_pull(&env, &pull_args(&range, &db.url, &["-q"]));
    let holder = wait_for(
        &db.url,
        "SELECT holder FROM shop_leases WHERE shop = 'sandbox-taobao-tw' AND holder IS NOT NULL",
    );
    let second = env.run(&pull_args(&range, &db.url, &["-q"]));
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stderr.contains("is being pulled by"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains(&holder), "{}", second.stderr);
    assert_eq!(second.stdout, "");
    let table = env.run(&["shops", "--db", &db.url]).ok();
    assert!(table.stdout.contains(&holder), "{}", table.stdout);
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Done: given back, and the run recorded.
    let shops = env
        .run(&["shops", "--db", &db.url, "--format", "json"])
        .ok();
    let rows: serde_json::Value = serde_json::from_str(&shops.stdout).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["shop"], SHOP);
    assert_eq!(row["holder"], serde_json::Value::Null);
    assert!(
        row["last_run"].is_string() && row["mark"].is_string(),
        "{row}"
    );
    assert_eq!(row["last_error"], serde_json::Value::Null);
    assert_eq!(
        row["orders"].as_u64().unwrap() as usize,
        first.ndjson().len()
    );
    // Free again: the next pull runs (and has nothing new).
    let next = env.run(&pull_args(&range, &db.url, &["-q"])).ok();
    assert_eq!(next.stdout, "");
}

#[test]
fn a_killed_workers_lease_expires_and_another_resumes_from_the_mark() {
    let _turn = one_at_a_time();
    let env = Env::new(SandboxOptions {
        orders: 200,
        latency_ms: 40,
        ..SandboxOptions::default()
    });
    let db = pg::fresh_db("takeover");
    let range = Range::new();
    let args = pull_args(&range, &db.url, &["-q", "--lease", "3s"]);
    let mut first = spawn_pull(&env, &args);
    let mark = wait_for(&db.url, MARK_SET);
    first.kill().unwrap(); // SIGKILL: no chance to give the lease back
    let killed = finish(first);
    // Its lease still runs: refused.
    let early = env.run(&args);
    assert_eq!(early.code, 4, "{}", early.stderr);
    std::thread::sleep(Duration::from_millis(3200));
    let second = env.run(&args).ok();
    let later_mark = try_query(&db.url, MARK_SET).unwrap();
    assert!(later_mark > mark, "{later_mark} after {mark}");
    // Lines of the killed worker plus the second's: each order once as new, never twice.
    let printed: Vec<serde_json::Value> = killed
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .chain(second.ndjson())
        .collect();
    assert_new_once(&db.url);
    // The mirror equals a clean pull of the same range.
    let clean = format!("sqlite:{}", env.path("clean.db").display());
    env.run(&pull_args(&range, &clean, &["-q"])).ok();
    let (mirrored, expected) = (export(&env, &db.url), export(&env, &clean));
    assert_eq!(mirrored, expected);
    for id in expected.keys() {
        assert!(
            printed.iter().any(|o| o["order_id"] == id.as_str()),
            "order {id} was never printed"
        );
    }
}

#[test]
fn a_database_that_goes_away_mid_run_loses_nothing_and_the_next_run_resumes() {
    let _turn = one_at_a_time();
    let env = Env::new(SandboxOptions {
        orders: 200,
        latency_ms: 40,
        ..SandboxOptions::default()
    });
    let mut server = pg::PgServer::start().unwrap_or_else(|e| panic!("{e}"));
    let db = pg::create_db(&server.url("postgres"), "goes away");
    let range = Range::new();
    let args = pull_args(&range, &db.url, &["--lease", "3s"]);
    let run = spawn_pull(&env, &args);
    wait_for(&db.url, MARK_SET);
    server.stop();
    let failed = finish(run);
    assert_eq!(failed.code, 4, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains(&format!("127.0.0.1:{}/{}", server.port, db.name)),
        "the error names the server and database: {}",
        failed.stderr
    );
    assert!(!failed.stderr.contains(pg::PASSWORD), "{}", failed.stderr);
    server.serve().unwrap();
    // Its lease could not be given back: free once it expires.
    std::thread::sleep(Duration::from_millis(3200));
    let next = env.run(&args).ok();
    assert_new_once(&db.url);
    let clean = format!("sqlite:{}", env.path("clean.db").display());
    env.run(&pull_args(&range, &clean, &["-q"])).ok();
    assert_eq!(export(&env, &db.url), export(&env, &clean));
    let printed: usize = failed
        .stdout
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count()
        + next.ndjson().len();
    assert!(printed >= export(&env, &clean).len());
}

#[test]
fn the_password_is_never_printed() {
    let _turn = one_at_a_time();
    let env = Env::with_orders(30);
    let db = pg::fresh_db("password");
    let range = Range::new();
    // A wrong password: refused, naming the server and database, not the password given.
    let wrong = db.url.replace(pg::PASSWORD, "Wrong-pw-5e1d2");
    let r = env.run(&pull_args(&range, &wrong, &[]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&db.name) && r.stderr.contains("127.0.0.1:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("password authentication failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Wrong-pw-5e1d2"), "{}", r.stderr);
    // An unreachable server: a transient failure (exit 4), named, without the password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("postgres://postgres:{}@127.0.0.1:{port}/nodb", pg::PASSWORD);
    let r = env.run(&pull_args(&range, &nowhere, &[]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}/nodb")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(pg::PASSWORD), "{}", r.stderr);
    // A run that works, with every log line on: no password either; nor from the config's
    // secret reference, nor in `shops`.
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    let config = env.write_config(
        "with-db.toml",
        &format!("db = {{ env = \"TEST_PG_URL\" }}\n{cfg}"),
    );
    let out = crate::support::command()
        .args([
            "pull",
            "--shop",
            SHOP,
            "--since",
            &range.since,
            "--until",
            &range.until,
        ])
        .args(["-vvv", "--config", config.to_str().unwrap()])
        .env("TEST_PG_URL", &db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(pg::PASSWORD), "password in the log");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(pg::PASSWORD));
    assert!(
        try_query(&db.url, MARK_SET).is_some(),
        "the config's db was not used"
    );
    let shops = crate::support::command()
        .args(["shops", "--config", config.to_str().unwrap()])
        .env("TEST_PG_URL", &db.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shops.stdout);
    assert!(shops.status.success() && text.contains(SHOP), "{text}");
    assert!(!text.contains(pg::PASSWORD));
}

#[test]
fn three_workers_racing_for_the_same_shops_pull_each_once() {
    let _turn = one_at_a_time();
    let env = Env::new(SandboxOptions {
        orders: 60,
        latency_ms: 100,
        ..SandboxOptions::default()
    });
    // Three shops on the one sandbox account: the same orders under three shop names.
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    let tw = cfg
        .split("\n[")
        .find(|t| t.starts_with("shops.sandbox-taobao-tw]"))
        .unwrap();
    let mut three = String::new();
    for n in 1..=3 {
        three.push_str(&format!(
            "[{}\n",
            tw.replacen("sandbox-taobao-tw", &format!("tw-{n}"), 1)
        ));
    }
    let config = env.write_config("three.toml", &three);
    let db = pg::fresh_db("three workers");
    let range = Range::new();
    let mut children = Vec::new();
    for n in 1..=3 {
        let shop = format!("tw-{n}");
        for worker in 0..3 {
            // Outputs to files: nine pipes read one after the other would fill and block.
            let err = env.path(&format!("{shop}-{worker}.err"));
            let child = crate::support::command()
                .args(["pull", "--shop", &shop, "--since", &range.since, "--until"])
                .args([&range.until, "--window", "2d", "--db", &db.url, "-q"])
                .args(["--config", config.to_str().unwrap()])
                .stdout(std::fs::File::create(env.path(&format!("{shop}-{worker}.out"))).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .unwrap();
            children.push((shop.clone(), child, err));
        }
    }
    let mut ok: BTreeMap<String, usize> = BTreeMap::new();
    for (shop, mut child, err) in children {
        let code = child.wait().unwrap().code();
        let stderr = std::fs::read_to_string(err).unwrap();
        match code {
            Some(0) => *ok.entry(shop).or_default() += 1,
            Some(4) => assert!(stderr.contains("is being pulled by"), "{stderr}"),
            c => panic!("exit {c:?}: {stderr}"),
        }
    }
    // Each shop was pulled by at least one worker (a worker that started after the winner
    // finished finds nothing new, and that is fine), each order recorded as new once.
    assert_eq!(ok.len(), 3, "{ok:?}");
    assert_new_once(&db.url);
    let per_shop = try_query(
        &db.url,
        "SELECT string_agg(n::text, ',') FROM (SELECT count(*) n FROM orders GROUP BY shop) c",
    )
    .unwrap();
    let counts: Vec<&str> = per_shop.split(',').collect();
    assert_eq!(counts.len(), 3);
    assert!(
        counts.iter().all(|c| *c == counts[0] && *c != "0"),
        "{per_shop}"
    );
}

#[test]
fn a_worker_whose_output_blocks_does_not_stall_the_fleet_for_long() {
    let _turn = one_at_a_time();
    let env = Env::with_orders(400);
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    let tw = cfg
        .split("\n[")
        .find(|t| t.starts_with("shops.sandbox-taobao-tw]"))
        .unwrap();
    let two: String = (1..=2)
        .map(|n| {
            format!(
                "[{}\n",
                tw.replacen("sandbox-taobao-tw", &format!("tw-{n}"), 1)
            )
        })
        .collect();
    let config = env.write_config("two.toml", &two);
    let db = pg::fresh_db("blocked output");
    let range = Range::new();
    let pull = |shop: &str| {
        let mut c = crate::support::command();
        c.args(["pull", "--shop", shop, "--since", &range.since, "--until"])
            .args([&range.until, "--window", "1d", "--db", &db.url, "-q"])
            .args(["--lease", "10s", "--config", config.to_str().unwrap()]);
        c
    };
    // Its stdout is a pipe nobody reads: once the pipe is full, it blocks between staging a
    // window (feed lock held) and committing it.
    let mut stuck = pull("tw-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let other = pull("tw-2")
        .stdout(std::fs::File::create(env.path("tw-2.out")).unwrap())
        .output()
        .unwrap();
    let took = started.elapsed();
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    // Within the stuck worker's lease (10 s) plus the run itself, not for ever.
    assert!(took < Duration::from_secs(40), "took {took:?}");
    assert_new_once(&db.url);
    let stuck_was_stuck = try_query(
        &db.url,
        "SELECT count(*)::text FROM orders WHERE shop = 'tw-1'",
    )
    .unwrap()
    .parse::<usize>()
    .unwrap()
        < try_query(
            &db.url,
            "SELECT count(*)::text FROM orders WHERE shop = 'tw-2'",
        )
        .unwrap()
        .parse::<usize>()
        .unwrap();
    assert!(
        stuck_was_stuck,
        "the blocked worker finished: the test proves nothing"
    );
}

/// Issue 17: three workers pull `--all` of 20 shops (four per platform) into one PostgreSQL
/// mirror at once, one of them SIGKILLed mid-run; a last run finishes what it held. Every
/// shop ends exact (the mirror equals a clean pull of it into SQLite), no order is recorded
/// as new twice, and while a worker holds a shop the others skip it rather than fail.
#[test]
fn three_workers_share_twenty_shops_and_one_is_killed() {
    let _turn = one_at_a_time();
    let env = Env::new(ordersync::sandbox::SandboxOptions {
        orders: 40,
        shops: 4,
        ..ordersync::sandbox::SandboxOptions::default()
    });
    let config = env.write_config(
        "fleet.toml",
        &ordersync::sandbox::Sandbox::config_toml_shops(env.sandbox.addr, 4),
    );
    let db = pg::fresh_db("fleet");
    let range = Range::new();
    let args = |db: &str| -> Vec<String> {
        [
            "pull",
            "--all",
            "--since",
            &range.since,
            "--until",
            &range.until,
            "--window",
            "1d",
            "--rate-limit",
            "50",
            "--shops-at-once",
            "4",
            "--lease",
            "3s",
            "--db",
            db,
            "--config",
            config.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // Each worker's output goes to a file: a pipe nobody reads would block a worker that
    // holds a window's transaction open (which the server then ends, by design).
    let spawned = std::sync::atomic::AtomicUsize::new(0);
    let spawn = || {
        let n = spawned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = std::fs::File::create(env.path(&format!("worker-{n}.ndjson"))).unwrap();
        crate::support::command()
            .args(args(&db.url))
            .stdout(Stdio::from(out))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let workers: Vec<Child> = (0..3).map(|_| spawn()).collect();
    // Kill one once the mirror holds a mark.
    wait_for(
        &db.url,
        "SELECT shop FROM shops WHERE mark IS NOT NULL LIMIT 1",
    );
    let mut workers = workers.into_iter();
    let mut victim = workers.next().unwrap();
    victim.kill().unwrap();
    let _ = victim.wait();
    for w in workers {
        let r = finish(w);
        assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // The killed worker's leases expire; a last run takes its shops over and finishes.
    std::thread::sleep(Duration::from_secs(4));
    let last = finish(spawn());
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_new_once(&db.url);

    // The mirror equals a clean pull of every shop into SQLite.
    let sqlite = format!("sqlite:{}", env.path("clean.db").display());
    let clean = crate::support::run_binary(&args(&sqlite));
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let key = |o: &serde_json::Value| {
        (
            o["shop"].as_str().unwrap().to_string(),
            o["order_id"].as_str().unwrap().to_string(),
        )
    };
    let all = |db: &str| -> BTreeMap<(String, String), serde_json::Value> {
        let r = crate::support::run_binary(&["export", "--db", db]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.ndjson().iter().map(|o| (key(o), o.clone())).collect()
    };
    let mirrored = all(&db.url);
    let expected = all(&sqlite);
    let shops: std::collections::BTreeSet<&String> = expected.keys().map(|k| &k.0).collect();
    assert_eq!(shops.len(), 20, "{shops:?}");
    assert_eq!(mirrored.len(), expected.len());
    assert_eq!(
        mirrored.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (k, o) in &expected {
        assert_eq!(mirrored[k]["status"], o["status"], "{k:?}");
        assert_eq!(mirrored[k]["total"], o["total"], "{k:?}");
    }
}
