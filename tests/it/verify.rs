//! `ordersync verify` through the binary (issue 18): the window ledger of `pull --db`, orders
//! deleted from the mirror behind its back found and repaired, a window the platform changed
//! since the pull told apart from one the mirror lost orders of, vv-tool's id scan, PostgreSQL,
//! and shops the mirror never pulled.

use crate::pg;
use crate::support::{Env, Run};
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use std::collections::BTreeSet;
use std::path::Path;

const TW: &str = "sandbox-taobao-tw";
const VV: &str = "sandbox-vvtool";

fn pull(env: &Env, shop: &str, db: &str, since: &str) -> Run {
    env.run(&[
        "pull", "--shop", shop, "--db", db, "--since", since, "--settle", "0s", "-q",
    ])
    .ok()
}

fn verify(env: &Env, shop: &str, db: &str, since: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--shop", shop, "--db", db, "--since", since, "-q"];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn block<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Delete orders from the mirror file directly, as someone with `sqlite3` might.
fn delete_behind_its_back(db: &Path, ids: &[String]) {
    block(async {
        let mut c = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        for id in ids {
            for table in ["order_lines", "orders"] {
                let n = sqlx::query(&format!("DELETE FROM {table} WHERE order_id = ?1"))
                    .bind(id)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected();
                assert!(table == "order_lines" || n == 1, "{id} not in the mirror");
            }
        }
        c.close().await.unwrap();
    })
}

fn sqlite_scalar(db: &Path, q: &str) -> i64 {
    block(async {
        let mut c = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        let v = sqlx::query_scalar(q).fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        v
    })
}

/// Every `n`th order id the mirror holds, `k` of them.
fn some_ids(env: &Env, db: &str, n: usize, k: usize) -> Vec<String> {
    let all: Vec<String> = env
        .run(&["export", "--db", db, "--by", "modified"])
        .ok()
        .ndjson()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    let picked: Vec<String> = all.iter().step_by(n).take(k).cloned().collect();
    assert_eq!(picked.len(), k, "the mirror holds {} orders", all.len());
    picked
}

/// The report's window lines (all but the summary and notes), by their first word.
fn lines_of<'a>(r: &'a Run, verdict: &str) -> Vec<&'a str> {
    r.stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(verdict) && l.contains(" platform "))
        .collect()
}

fn summary(r: &Run) -> &str {
    r.stdout
        .lines()
        .rfind(|l| l.starts_with("verify "))
        .unwrap_or_else(|| panic!("no summary in {:?}", r.stdout))
}

#[test]
fn deleted_orders_are_found_by_window_and_id_and_repair_restores_them() {
    let env = Env::with_orders(300);
    let path = env.path("m.db");
    let db = path.to_str().unwrap();
    pull(&env, TW, db, "20d");
    // Every window the pull completed is in the ledger, its total what it received.
    let windows = sqlite_scalar(&path, "SELECT count(*) FROM window_ledger");
    assert!(windows >= 20, "{windows} ledger rows");
    assert_eq!(
        sqlite_scalar(
            &path,
            "SELECT count(*) FROM window_ledger WHERE platform_total <> received"
        ),
        0
    );
    assert_eq!(
        sqlite_scalar(&path, "SELECT sum(received) FROM window_ledger"),
        sqlite_scalar(&path, "SELECT count(*) FROM orders")
    );

    let clean = verify(&env, TW, db, "20d", &[]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    assert!(summary(&clean).contains(" 0 disagree"), "{}", clean.stdout);

    let gone = some_ids(&env, db, 37, 3);
    delete_behind_its_back(&path, &gone);
    let found = verify(&env, TW, db, "20d", &[]);
    assert_eq!(found.code, 5, "{}\n{}", found.stdout, found.stderr);
    let missing = lines_of(&found, "missing");
    assert!(!missing.is_empty(), "{}", found.stdout);
    assert!(lines_of(&found, "changed").is_empty(), "{}", found.stdout);
    for id in &gone {
        assert!(
            missing.iter().any(|l| l.contains(id.as_str())),
            "{id} not named: {}",
            found.stdout
        );
    }
    for l in &missing {
        assert!(l.contains('[') && l.contains(')'), "names its window: {l}");
    }
    assert!(found.stderr.contains("disagree"), "{}", found.stderr);

    let seq_before = sqlite_scalar(&path, "SELECT max(seq) FROM order_changes");
    let repaired = verify(&env, TW, db, "20d", &["--repair"]);
    assert_eq!(repaired.code, 0, "{}\n{}", repaired.stdout, repaired.stderr);
    assert!(
        summary(&repaired).contains(" 0 disagree"),
        "{}",
        repaired.stdout
    );
    // The orders came back through the feed, as any pull brings them.
    let feed: Vec<Value> = env
        .run(&["changes", "--db", db, "--after", &seq_before.to_string()])
        .ok()
        .ndjson();
    let back: BTreeSet<&str> = feed
        .iter()
        .filter(|c| c["change"] == "new")
        .map(|c| c["order_id"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = gone.iter().map(String::as_str).collect();
    assert_eq!(back, want);
    assert_eq!(verify(&env, TW, db, "20d", &[]).code, 0);
}

#[test]
fn a_window_the_platform_changed_since_the_pull_is_changed_not_missing() {
    let env = Env::with_orders(300);
    let path = env.path("m.db");
    let db = path.to_str().unwrap();
    pull(&env, TW, db, "20d");
    assert_eq!(verify(&env, TW, db, "20d", &[]).code, 0);
    // Buyers and sellers act after the pull: orders move past the mark.
    for _ in 0..10 {
        env.sandbox.state.taobao_tw.drift();
    }
    let r = verify(&env, TW, db, "20d", &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let changed = lines_of(&r, "changed");
    assert!(!changed.is_empty(), "{}", r.stdout);
    assert!(lines_of(&r, "missing").is_empty(), "{}", r.stdout);
    for l in &changed {
        assert!(l.contains("(at pull: platform "), "{l}");
    }
    // A pull from the mark takes what moved; then the windows agree again.
    env.run(&["pull", "--shop", TW, "--db", db, "--settle", "0s", "-q"])
        .ok();
    let after = verify(&env, TW, db, "20d", &[]);
    assert_eq!(after.code, 0, "{}\n{}", after.stdout, after.stderr);
}

#[test]
fn vvtool_is_verified_by_an_id_scan_that_names_what_is_missing() {
    let env = Env::with_orders(200);
    let path = env.path("vv.db");
    let db = path.to_str().unwrap();
    pull(&env, VV, db, "2d");
    let clean = verify(&env, VV, db, "2d", &[]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    assert!(
        summary(&clean).contains("vvtool gives no totals") && clean.stdout.contains("id scan"),
        "{}",
        clean.stdout
    );
    let gone = some_ids(&env, db, 5, 2);
    delete_behind_its_back(&path, &gone);
    let found = verify(&env, VV, db, "2d", &[]);
    assert_eq!(found.code, 5, "{}\n{}", found.stdout, found.stderr);
    let missing = lines_of(&found, "missing");
    for id in &gone {
        assert!(
            missing.iter().any(|l| l.contains(id.as_str())),
            "{id} not named: {}",
            found.stdout
        );
    }
    let repaired = verify(&env, VV, db, "2d", &["--repair"]);
    assert_eq!(repaired.code, 0, "{}\n{}", repaired.stdout, repaired.stderr);
}

#[test]
fn verify_on_postgres_finds_and_repairs_a_deleted_order() {
    let _turn = crate::postgres::one_at_a_time();
    let env = Env::with_orders(150);
    let pgdb = pg::fresh_db("verify");
    let db = pgdb.url.as_str();
    pull(&env, TW, db, "20d");
    assert_eq!(verify(&env, TW, db, "20d", &[]).code, 0);
    let gone = some_ids(&env, db, 11, 1).remove(0);
    let (url, id) = (pgdb.url.clone(), gone.clone());
    pg::block_on(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        for table in ["order_lines", "orders"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE order_id = $1"))
                .bind(&id)
                .execute(&mut c)
                .await
                .unwrap();
        }
    });
    let found = verify(&env, TW, db, "20d", &[]);
    assert_eq!(found.code, 5, "{}\n{}", found.stdout, found.stderr);
    assert!(
        lines_of(&found, "missing")
            .iter()
            .any(|l| l.contains(gone.as_str())),
        "{}",
        found.stdout
    );
    let repaired = verify(&env, TW, db, "20d", &["--repair"]);
    assert_eq!(repaired.code, 0, "{}\n{}", repaired.stdout, repaired.stderr);

    // A version 2 mirror (no ledger) is brought forward, and verified over planned windows.
    let url = pgdb.url.clone();
    pg::block_on(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DROP TABLE window_ledger; DROP INDEX orders_by_updated; \
             UPDATE schema_version SET version = 2;",
        )
        .execute(&mut c)
        .await
        .unwrap();
    });
    let v2 = verify(&env, TW, db, "20d", &[]);
    assert_eq!(v2.code, 0, "{}\n{}", v2.stdout, v2.stderr);
    let url = pgdb.url.clone();
    let version: i64 = pg::block_on(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT max(version) FROM schema_version")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(version, 3);
}

#[test]
fn a_shop_the_mirror_never_pulled_is_a_clear_error() {
    let env = Env::with_orders(40);
    let path = env.path("m.db");
    let db = path.to_str().unwrap();
    pull(&env, TW, db, "5d");
    let r = verify(&env, VV, db, "5d", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("never pulled") && r.stderr.contains(VV) && r.stderr.contains(TW),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    // A range after the mark has nothing to verify: said, not a pass.
    let r = verify(&env, TW, db, "2099-01-01", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nothing to verify"), "{}", r.stderr);
}

#[test]
fn help_documents_exit_code_5() {
    let env = Env::with_orders(1);
    let r = env.run(&["verify", "--help"]).ok();
    assert!(r.stdout.contains("5  a window disagrees"), "{}", r.stdout);
    let r = env.run(&["--help"]).ok();
    assert!(r.stdout.contains("5  verify"), "{}", r.stdout);
}
