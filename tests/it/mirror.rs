//! The SQLite mirror through the binary (issue 16): exactly once under SIGKILL, the change
//! feed, --revisit on PandaPon, schema migrations, and databases that cannot be used.

use crate::support::{Env, Run, command};
use chrono::{DateTime, Duration, Utc};
use ordersync::sandbox::pandapon::Page;
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

const TW: &str = "sandbox-taobao-tw";
const PANDA: &str = "sandbox-pandapon-taobao";

/// `pull --db DB` of `shop` with `extra` flags.
fn pull(env: &Env, shop: &str, db: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["pull", "--shop", shop, "--db", db.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The mirror's orders (`export`), by order id.
fn exported(env: &Env, db: &Path, extra: &[&str]) -> BTreeMap<String, Value> {
    let mut args = vec!["export", "--db", db.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let r = env.run(&args).ok();
    let mut out = BTreeMap::new();
    for o in r.ndjson() {
        let id = o["order_id"].as_str().unwrap().to_string();
        assert!(
            out.insert(id.clone(), o).is_none(),
            "order {id} exported twice"
        );
    }
    out
}

/// The change feed after `after`.
fn feed(env: &Env, db: &Path, after: i64) -> Vec<Value> {
    env.run(&[
        "changes",
        "--db",
        db.to_str().unwrap(),
        "--after",
        &after.to_string(),
    ])
    .ok()
    .ndjson()
}

/// Run a future to its end on a runtime of its own (the tests' threads have none).
fn block<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A connection to the mirror file, as a user's `sqlite3` would open it.
async fn connect(db: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", db.display()))
        .await
        .unwrap()
}

/// Run statements against the mirror file directly.
fn exec(db: &Path, statements: &str) {
    block(async {
        let mut c = connect(db).await;
        sqlx::raw_sql(statements).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    })
}

fn scalar(db: &Path, q: &str) -> i64 {
    block(async {
        let mut c = connect(db).await;
        let v = sqlx::query_scalar(q).fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        v
    })
}

fn scalar_text(db: &Path, q: &str) -> String {
    block(async {
        let mut c = connect(db).await;
        let v = sqlx::query_scalar(q).fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        v
    })
}

/// An order without the key that is not content.
fn content(o: &Value) -> Value {
    let mut o = o.clone();
    o.as_object_mut().unwrap().remove("updated_at");
    o
}

fn created(o: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(o["created_at"].as_str().unwrap())
        .unwrap()
        .to_utc()
}

#[test]
fn a_kill_storm_leaves_the_mirror_equal_to_a_clean_pull() {
    let env = Env::with_orders(300);
    let db = env.path("orders.db");
    let out_path = env.path("stdout.ndjson");
    let since = (Utc::now() - Duration::days(31)).to_rfc3339();
    let run = |kill_after_ms: Option<u64>| {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap();
        let mut child = command()
            .args(["pull", "--shop", TW, "--since", &since, "--window", "2d"])
            .args(["--rate-limit", "25", "--settle", "0s", "-q", "--db"])
            .arg(&db)
            .args(["--config", env.config.to_str().unwrap()])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match kill_after_ms {
            Some(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let _ = child.kill();
                child.wait().unwrap();
            }
            None => assert!(child.wait().unwrap().success()),
        }
    };
    // Pseudo-random kill points, deterministic per run of the test.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..14 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        run(Some(40 + x % 700));
    }
    run(None);
    let until = Utc::now();
    let clean = env
        .run(&[
            "pull",
            "--shop",
            TW,
            "--since",
            &since,
            "--until",
            &until.to_rfc3339(),
            "--settle",
            "0s",
            "-q",
        ])
        .ok()
        .ndjson();
    let mirror = exported(&env, &db, &[]);
    let clean: BTreeMap<String, Value> = clean
        .into_iter()
        .map(|o| (o["order_id"].as_str().unwrap().to_string(), o))
        .collect();
    assert!(clean.len() > 250, "{}", clean.len());
    assert_eq!(
        mirror.keys().collect::<Vec<_>>(),
        clean.keys().collect::<Vec<_>>(),
        "the mirror holds exactly the orders of a clean pull"
    );
    for (id, o) in &clean {
        assert_eq!(&mirror[id], o, "order {id}: the newest version");
    }
    // The feed: each order recorded as new once, and nothing else (no drift here).
    let entries = feed(&env, &db, 0);
    let mut new: BTreeMap<String, u32> = BTreeMap::new();
    let mut last = 0;
    for e in &entries {
        assert!(e["seq"].as_i64().unwrap() > last, "seq increases");
        last = e["seq"].as_i64().unwrap();
        assert_eq!(e["change"], "new", "{e}");
        *new.entry(e["order_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        new.values().all(|&n| n == 1),
        "an order recorded as new twice"
    );
    assert_eq!(new.len(), mirror.len());
    // Stdout may repeat a line (killed before its window committed) but never lose one. A
    // kill can cut a write short at any byte (Linux stops a large write between pages on
    // SIGKILL), even inside a character, and the next run's first line then follows the cut
    // one on the same line: each line's order is the longest tail of it that parses.
    let bytes = std::fs::read(&out_path).unwrap();
    let printed: BTreeSet<String> = bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| {
            (0..l.len())
                .filter(|&i| l[i] == b'{')
                .find_map(|i| serde_json::from_slice::<Value>(&l[i..]).ok())
        })
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    for id in mirror.keys() {
        assert!(printed.contains(id), "order {id} never printed");
    }
    assert_eq!(scalar_text(&db, "PRAGMA integrity_check"), "ok");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM orders"),
        scalar(&db, "SELECT count(DISTINCT order_id) FROM orders")
    );
}

#[test]
fn the_feed_has_new_then_only_real_changes_and_replays_after_a_seq() {
    let env = Env::with_orders(120);
    let db = env.path("m.sqlite");
    let first = pull(
        &env,
        TW,
        &db,
        &["--since", "31d", "--window", "10d", "--settle", "0s"],
    )
    .ok()
    .ndjson();
    assert!(first.len() > 100);
    let mut seqs = Vec::new();
    for o in &first {
        assert_eq!(o["change"], "new", "{o}");
        seqs.push(o["seq"].as_i64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq increases");
    let last_of_first = *seqs.last().unwrap();

    let again = pull(&env, TW, &db, &["--settle", "0s"]).ok();
    assert_eq!(again.stdout, "", "an unchanged re-run prints nothing");

    // Buyers and sellers act: orders move along (and new ones arrive).
    let before = exported(&env, &db, &[]);
    for _ in 0..15 {
        env.sandbox.state.taobao_tw.drift();
    }
    let third = pull(&env, TW, &db, &["--settle", "0s", "--lookback", "40d"])
        .ok()
        .ndjson();
    let after = exported(&env, &db, &[]);
    let want_updated: BTreeSet<&String> = after
        .iter()
        .filter(|(id, o)| before.get(*id).is_some_and(|b| content(b) != content(o)))
        .map(|(id, _)| id)
        .collect();
    assert!(!want_updated.is_empty(), "drift changed orders");
    let mut got_updated = BTreeSet::new();
    for o in &third {
        let id = o["order_id"].as_str().unwrap();
        match o["change"].as_str().unwrap() {
            "updated" => {
                got_updated.insert(id.to_string());
                assert!(o["seq"].as_i64().unwrap() > last_of_first);
            }
            "new" => assert!(!before.contains_key(id), "{id} was new before"),
            other => panic!("change {other}"),
        }
    }
    let want: BTreeSet<String> = want_updated.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        got_updated, want,
        "exactly the orders whose content changed"
    );

    // The feed replays the third run, with the keys that changed.
    let replay = feed(&env, &db, last_of_first);
    assert_eq!(
        replay.iter().map(|e| e["seq"].clone()).collect::<Vec<_>>(),
        third.iter().map(|o| o["seq"].clone()).collect::<Vec<_>>()
    );
    for e in replay.iter().filter(|e| e["change"] == "updated") {
        let id = e["order_id"].as_str().unwrap();
        let keys: BTreeSet<&str> = e["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let (b, a) = (&before[id], &after[id]);
        let differ: BTreeSet<&str> = a
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "updated_at" && b[k.as_str()] != a[k.as_str()])
            .map(String::as_str)
            .collect();
        assert_eq!(keys, differ, "order {id}");
        assert!(
            keys.contains("status") || keys.contains("lines"),
            "{keys:?}"
        );
        assert_eq!(&e["order"], a);
    }
    assert_eq!(feed(&env, &db, 0).len(), first.len() + third.len());
    assert!(feed(&env, &db, i64::MAX / 2).is_empty());
    // Other formats carry the keys too.
    for _ in 0..5 {
        env.sandbox.state.taobao_tw.drift();
    }
    let csv = pull(
        &env,
        TW,
        &db,
        &["--settle", "0s", "--lookback", "40d", "--format", "csv"],
    )
    .ok();
    let header = csv.stdout.lines().next().unwrap_or_default();
    assert!(header.ends_with("change,seq"), "{header}");
}

#[test]
fn revisit_brings_a_pandapon_status_change_into_the_mirror() {
    let env = Env::with_orders(150);
    let db = env.path("panda.db");
    pull(&env, PANDA, &db, &["--since", "20d", "--settle", "0s"]).ok();
    let before = exported(&env, &db, &[]);
    assert!(before.len() > 50, "{}", before.len());
    for _ in 0..40 {
        env.sandbox.state.pandapon.drift(Page::Taobao);
    }
    let control = env.path("control.db");
    // A copy as SQLite makes one (a file copy could miss what a write-ahead log holds).
    exec(&db, &format!("VACUUM INTO '{}'", control.display()));
    // The truth after the drift, created in the mirrored range.
    let origin = DateTime::parse_from_rfc3339(&scalar_text(&db, "SELECT origin FROM shops"))
        .unwrap()
        .to_utc();
    let truth: BTreeMap<String, Value> = env
        .run(&[
            "pull",
            "--shop",
            PANDA,
            "--since",
            &origin.to_rfc3339(),
            "--settle",
            "0s",
            "-q",
        ])
        .ok()
        .ndjson()
        .into_iter()
        .map(|o| (o["order_id"].as_str().unwrap().to_string(), o))
        .collect();
    let day_ago = Utc::now() - Duration::days(1);
    let within = Utc::now() - Duration::days(14) + Duration::minutes(5);
    let moved: BTreeSet<String> = truth
        .iter()
        .filter(|(id, o)| {
            before.get(*id).is_some_and(|b| content(b) != content(o))
                && created(o) > within
                && created(o) < day_ago
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        !moved.is_empty(),
        "drift changed orders created 1 to 14 days ago"
    );

    // Without revisiting, a created-time platform never sees those changes.
    let blind = pull(
        &env,
        PANDA,
        &control,
        &["--settle", "0s", "--revisit", "0s"],
    )
    .ok()
    .ndjson();
    for o in &blind {
        assert!(!moved.contains(o["order_id"].as_str().unwrap()));
    }
    // With the default (14d on PandaPon), each of them arrives as an update.
    let run = pull(&env, PANDA, &db, &["--settle", "0s"]).ok().ndjson();
    let updated: BTreeSet<String> = run
        .iter()
        .filter(|o| o["change"] == "updated")
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect();
    assert!(moved.is_subset(&updated), "{moved:?} not in {updated:?}");
    let now = exported(&env, &db, &[]);
    for id in &moved {
        assert_eq!(now[id], truth[id], "order {id} is current in the mirror");
    }
    let feed = feed(&env, &db, 0);
    for e in feed
        .iter()
        .filter(|e| moved.contains(e["order_id"].as_str().unwrap()))
    {
        if e["change"] == "updated" {
            // A status step shows in the order's status, or (shipped to delivered, which
            // PandaPon codes alike at order level) only in its lines' statuses.
            let keys = e["changed"].as_array().unwrap();
            assert!(keys.iter().any(|k| k == "status" || k == "lines"), "{e}");
        }
    }
    // `ordersync platforms` says which platforms need it.
    let p = env.run(&["platforms"]).ok();
    assert!(p.stdout.contains("--revisit"), "{}", p.stdout);
}

#[test]
fn migrations_from_an_empty_file_and_from_version_1() {
    let env = Env::with_orders(60);
    // An empty file (touch orders.db) is an empty database.
    let empty = env.path("empty.db");
    std::fs::write(&empty, b"").unwrap();
    pull(&env, TW, &empty, &["--since", "31d", "--window", "10d"]).ok();
    assert_eq!(scalar(&empty, "SELECT version FROM schema_version"), 3);
    assert_eq!(
        scalar(&empty, "SELECT count(*) FROM order_lines"),
        scalar(&empty, "SELECT sum(line_count) FROM orders")
    );
    let journal: String = scalar_text(&empty, "PRAGMA journal_mode");
    assert_eq!(journal, "wal");

    // A version 1 mirror with its data: what version 1 wrote (no order_lines).
    let old = env.path("v1.db");
    pull(&env, TW, &old, &["--since", "31d", "--window", "10d"]).ok();
    let held = exported(&env, &old, &[]);
    let seq_before = scalar(&old, "SELECT max(seq) FROM order_changes");
    exec(
        &old,
        "DROP TABLE order_lines; DROP INDEX orders_by_status; DROP TABLE window_ledger; \
         DROP INDEX orders_by_updated; UPDATE schema_version SET version = 1;",
    );
    assert_eq!(scalar(&old, "SELECT version FROM schema_version"), 1);
    // Reading does not migrate.
    assert_eq!(exported(&env, &old, &[]), held);
    assert_eq!(scalar(&old, "SELECT version FROM schema_version"), 1);
    // A pull migrates, keeps the mark (no --since needed) and the feed's numbering.
    let r = pull(&env, TW, &old, &[]).ok();
    assert_eq!(scalar(&old, "SELECT version FROM schema_version"), 3);
    assert!(scalar(&old, "SELECT count(*) FROM window_ledger") > 0);
    assert_eq!(
        scalar(&old, "SELECT count(*) FROM order_lines"),
        scalar(&old, "SELECT sum(line_count) FROM orders")
    );
    assert!(scalar(&old, "SELECT count(*) FROM order_lines") > 60);
    for o in r.ndjson() {
        assert!(o["seq"].as_i64().unwrap() > seq_before);
    }
    let now = exported(&env, &old, &[]);
    for (id, o) in &held {
        assert_eq!(&now[id], o);
    }
    // A newer schema than this ordersync knows is left alone.
    exec(&old, "UPDATE schema_version SET version = 99");
    let r = pull(&env, TW, &old, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("version 99"), "{}", r.stderr);
}

#[test]
fn unusable_databases_are_refused_by_name_and_left_as_they_were() {
    let env = Env::with_orders(40);
    // Not a database at all.
    let junk = env.path("junk.db");
    let bytes = b"these are my notes, not a database; keep them".repeat(200);
    std::fs::write(&junk, &bytes).unwrap();
    let r = pull(&env, TW, &junk, &["--since", "31d"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("junk.db"), "{}", r.stderr);
    assert!(r.stderr.contains("not an SQLite database"), "{}", r.stderr);
    assert_eq!(std::fs::read(&junk).unwrap(), bytes);
    assert!(r.stdout.is_empty());

    // Someone else's SQLite database.
    let theirs = env.path("theirs.db");
    exec(&theirs, "CREATE TABLE notes (t TEXT)");
    let r = pull(&env, TW, &theirs, &["--since", "31d"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("not an ordersync mirror"), "{}", r.stderr);

    // A mirror another program holds a write lock on: exit 4 after the busy timeout, and
    // the mirror is whole once it is free again.
    let db = env.path("held.db");
    pull(&env, TW, &db, &["--since", "31d", "--window", "10d"]).ok();
    let held = exported(&env, &db, &[]);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let db = db.clone();
        std::thread::spawn(move || {
            block(async {
                let mut c = connect(&db).await;
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                locked_tx.send(()).unwrap();
                // Nothing else runs on this runtime: waiting here blocks no one.
                let _ = release_rx.recv();
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            })
        })
    };
    locked_rx.recv().unwrap();
    let r = pull(&env, TW, &db, &["--lookback", "40d"]);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("held.db"), "{}", r.stderr);
    assert_eq!(exported(&env, &db, &[]), held, "nothing lost");

    // A second run on the same shop is refused while the first runs.
    let slow = Env::new(ordersync::sandbox::SandboxOptions {
        orders: 30,
        latency_ms: 150,
        ..Default::default()
    });
    let busy = slow.path("busy.db");
    let mut first = command()
        .args([
            "pull", "--shop", TW, "--since", "31d", "--window", "1d", "-q", "--db",
        ])
        .arg(&busy)
        .args(["--config", slow.config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let second = pull(&slow, TW, &busy, &["--since", "31d"]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stderr.contains("another ordersync run"),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());

    // A read-only mirror: a pull is refused (even for root), reading still works.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let before = std::fs::read(&db).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
        let r = pull(&env, TW, &db, &[]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("held.db") && r.stderr.contains("read-only"),
            "{}",
            r.stderr
        );
        assert_eq!(std::fs::read(&db).unwrap(), before);
        assert_eq!(exported(&env, &db, &[]), held);
    }
    // Bad --db values are usage errors.
    let r = env.run(&["pull", "--shop", TW, "--db", "orders.txt", "--since", "1d"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = env.run(&["export", "--db", env.path("none.db").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no such database"), "{}", r.stderr);
}
