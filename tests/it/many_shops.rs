//! Many shops in one run (`pull --all`, `--shop PATTERN`) through the binary, against the
//! sandbox serving all five platforms at once: the same orders as each shop pulled alone, one
//! output interleaved by whole orders, one shop's failure among good ones, the summary's
//! rows, the metrics file.

use crate::support::{Env, Run, run_binary};
use chrono::{Duration, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

const SHOPS: [&str; 5] = [
    "sandbox-pandapon-1688",
    "sandbox-pandapon-taobao",
    "sandbox-taobao-enhanced",
    "sandbox-taobao-tw",
    "sandbox-vvtool",
];

/// A fixed range, so that runs made one after the other ask for the same orders.
fn range() -> [String; 4] {
    let until = Utc::now() - Duration::minutes(5);
    let since = until - Duration::days(2);
    [
        "--since".into(),
        since.to_rfc3339(),
        "--until".into(),
        until.to_rfc3339(),
    ]
}

/// `ordersync pull ARGS RANGE --rate-limit 100 --config CONFIG`.
fn pull(env: &Env, config: &std::path::Path, range: &[String], args: &[&str]) -> Run {
    let mut all: Vec<String> = vec!["pull".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend(range.iter().cloned());
    all.extend(["--rate-limit", "100", "--config"].map(String::from));
    all.push(config.display().to_string());
    let _ = env;
    run_binary(&all)
}

/// Each shop's orders, in the order they were written.
fn by_shop(orders: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in orders {
        m.entry(o["shop"].as_str().unwrap().to_string())
            .or_default()
            .push(o.clone());
    }
    m
}

/// The sandbox's config with taobao-tw's secret wrong: that shop is refused (exit 3).
fn with_bad_tw(env: &Env) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&env.config).unwrap();
    let broken = text.replacen("app_secret = \"", "app_secret = \"not-the-secret-", 1);
    assert_ne!(text, broken);
    env.write_config("broken.toml", &broken)
}

/// Whether a summary's time is `rfc3339`.
fn same_time(v: &Value, rfc3339: &str) -> bool {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    v.as_str().is_some_and(|s| t(s) == t(rfc3339))
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn all_shops_at_once_give_what_each_gives_alone() {
    let env = Env::with_orders(60);
    let range = range();
    let all = pull(
        &env,
        &env.config,
        &range,
        &["--all", "--shops-at-once", "3"],
    )
    .ok();
    // Every line is one whole order (a torn line would not parse) and says whose it is.
    let together = by_shop(&all.ndjson());
    assert_eq!(
        together.keys().collect::<Vec<_>>(),
        SHOPS.iter().collect::<Vec<_>>()
    );
    for shop in SHOPS {
        let alone = pull(&env, &env.config, &range, &["--shop", shop])
            .ok()
            .ndjson();
        assert!(!alone.is_empty(), "{shop} has orders in the range");
        assert_eq!(
            together[shop], alone,
            "{shop}: the same orders, in the same order"
        );
    }
}

#[test]
fn one_shop_refused_among_good_ones() {
    let env = Env::with_orders(40);
    let config = with_bad_tw(&env);
    let range = range();
    let out = env.path("orders.ndjson");
    let summary = env.path("summary.json");
    let metrics = env.path("ordersync.prom");
    let state = env.path("state.json");
    let r = pull(
        &env,
        &config,
        &range,
        &[
            "--all",
            "-o",
            out.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "the refused shop's code; stderr:\n{}", r.stderr);
    assert!(
        r.stderr
            .contains("shop sandbox-taobao-tw (taobao-tw) failed, exit 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("1 of 5 shops failed"), "{}", r.stderr);
    for secret in ["not-the-secret", "sandbox-tw-app-secret"] {
        assert!(!r.stderr.contains(secret), "{}", r.stderr);
    }

    // The others completed, and their orders are in the file, put in place.
    let text = std::fs::read_to_string(&out).unwrap();
    let orders: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let written = by_shop(&orders);
    assert!(!written.contains_key("sandbox-taobao-tw"));
    assert_eq!(written.len(), 4, "{:?}", written.keys());

    // A row per shop, in the config's order.
    let s = read_json(&summary);
    assert_eq!(s["ok"], false);
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["shops_failed"], 1);
    let rows = s["shops"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["shop"].as_str().unwrap()).collect();
    assert_eq!(names, SHOPS);
    let states = read_json(&state);
    for row in rows {
        let shop = row["shop"].as_str().unwrap();
        assert!(same_time(&row["since"], &range[1]), "{row}");
        assert!(same_time(&row["until"], &range[3]), "{row}");
        assert!(row["new"].is_null() && row["updated"].is_null(), "{row}");
        assert!(row["requests"].as_u64().unwrap() >= 1, "{row}");
        if shop == "sandbox-taobao-tw" {
            assert_eq!(row["ok"], false, "{row}");
            assert_eq!(row["exit_code"], 3, "{row}");
            assert!(
                row["error"].as_str().unwrap().contains("taobao-tw"),
                "{row}"
            );
            assert_eq!(row["orders"], 0, "{row}");
            assert!(row["mark"].is_null(), "its state did not move: {row}");
            assert!(states["shops"].get(shop).is_none(), "{states}");
        } else {
            assert_eq!(row["ok"], true, "{row}");
            assert!(row["error"].is_null(), "{row}");
            assert_eq!(row["orders"], written[shop].len(), "{row}");
            // The state moved to the end of the range pulled, and the row says so.
            let mark = states["shops"][shop]["mark"].as_str().unwrap();
            assert!(same_time(&row["mark"], mark), "{row} {states}");
            assert!(same_time(&row["mark"], &range[3]), "{row}");
        }
    }
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(!text.contains("not-the-secret"), "{text}");

    // The metrics say the same.
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(m.contains("\nordersync_last_run_success 0\n"), "{m}");
    assert!(
        m.contains(
            "\nordersync_shop_success{shop=\"sandbox-taobao-tw\",platform=\"taobao-tw\"} 0\n"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "\nordersync_shop_exit_code{shop=\"sandbox-taobao-tw\",platform=\"taobao-tw\"} 3\n"
        ),
        "{m}"
    );
    for (shop, orders) in &written {
        let platform = shop.strip_prefix("sandbox-").unwrap();
        let labels = format!("{{shop=\"{shop}\",platform=\"{platform}\"}}");
        assert!(
            m.contains(&format!("\nordersync_shop_success{labels} 1\n")),
            "{m}"
        );
        assert!(
            m.contains(&format!(
                "\nordersync_shop_orders{labels} {}\n",
                orders.len()
            )),
            "{m}"
        );
        assert!(
            m.contains(&format!("\nordersync_shop_mark_timestamp_seconds{labels} ")),
            "{m}"
        );
    }
    let stamp: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("ordersync_last_run_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (stamp - Utc::now().timestamp() as f64).abs() < 120.0,
        "{stamp}"
    );
    assert!(m.contains("# TYPE ordersync_shop_requests gauge\n"), "{m}");
    // Nothing but the run's files is left in the folder (no temporary file).
    assert_eq!(
        crate::support::files_in(env.dir.path()),
        [
            "broken.toml",
            "config.toml",
            "orders.ndjson",
            "ordersync.prom",
            "state.json",
            "state.json.lock",
            "summary.json"
        ]
    );

    // The next run with good credentials: the four resume from their marks, the refused
    // shop starts from --since, and nothing of it was lost.
    pull(
        &env,
        &env.config,
        &range,
        &[
            "--all",
            "--state",
            state.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
            "-q",
        ],
    )
    .ok();
    let next = read_json(&summary);
    for row in next["shops"].as_array().unwrap() {
        assert_eq!(row["ok"], true, "{row}");
        let first = row["shop"] == "sandbox-taobao-tw";
        assert_eq!(same_time(&row["since"], &range[1]), first, "{row}");
    }
}

#[test]
fn a_pattern_picks_shops_and_one_matching_nothing_lists_them() {
    let env = Env::with_orders(20);
    let range = range();
    let r = pull(
        &env,
        &env.config,
        &range,
        &[
            "--shop",
            "sandbox-pandapon-*",
            "--summary-json",
            "-",
            "--format",
            "json",
            "-o",
            "-",
        ],
    )
    .ok();
    // stdout holds the orders' array, then the summary.
    let mut docs = serde_json::Deserializer::from_str(&r.stdout).into_iter::<Value>();
    let orders = docs.next().unwrap().unwrap();
    let summary = docs.next().unwrap().unwrap();
    let shops: Vec<&str> = summary["shops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["shop"].as_str().unwrap())
        .collect();
    assert_eq!(shops, ["sandbox-pandapon-1688", "sandbox-pandapon-taobao"]);
    let orders = orders.as_array().unwrap();
    assert_eq!(
        by_shop(orders).keys().collect::<Vec<_>>(),
        ["sandbox-pandapon-1688", "sandbox-pandapon-taobao"]
    );
    assert_eq!(summary["orders_emitted"], orders.len());

    let r = pull(
        &env,
        &env.config,
        &range,
        &["--shop", "sandbox-vv*", "--shop", "tw-*"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--shop \"tw-*\" matches no shop"),
        "{}",
        r.stderr
    );
    for shop in SHOPS {
        assert!(r.stderr.contains(shop), "lists {shop}: {}", r.stderr);
    }
    assert!(r.stdout.is_empty());
}

#[test]
fn csv_from_several_shops_has_one_header_and_whole_orders() {
    let env = Env::with_orders(40);
    let range = range();
    let r = pull(&env, &env.config, &range, &["--all", "--format", "csv"]).ok();
    assert_eq!(r.stdout.matches("platform,shop,order_id").count(), 1);
    let mut reader = csv::Reader::from_reader(r.stdout.as_bytes());
    let h = reader.headers().unwrap().clone();
    let (shop, id) = (
        h.iter().position(|c| c == "shop").unwrap(),
        h.iter().position(|c| c == "order_id").unwrap(),
    );
    // An order's rows (one per line) are together: once another order's row comes, it never
    // comes back.
    let mut seen = std::collections::HashSet::new();
    let mut current: Option<(String, String)> = None;
    let mut shops = std::collections::BTreeSet::new();
    for row in reader.records() {
        let row = row.unwrap();
        let key = (row[shop].to_string(), row[id].to_string());
        shops.insert(key.0.clone());
        if current.as_ref() != Some(&key) {
            assert!(seen.insert(key.clone()), "the rows of {key:?} are split");
            current = Some(key);
        }
    }
    assert_eq!(shops.len(), 5);
}

#[test]
fn a_failed_run_over_several_shops_writes_its_summary_and_keeps_the_old_file() {
    let env = Env::with_orders(10);
    let config = with_bad_tw(&env);
    let range = range();
    let out = env.path("orders.json");
    std::fs::write(&out, "[]\n").unwrap();
    let summary = env.path("summary.json");
    let metrics = env.path("m.prom");
    // A pattern is the several-shops form, even when it matches one shop.
    let r = pull(
        &env,
        &config,
        &range,
        &[
            "--shop",
            "sandbox-taobao-t*",
            "-o",
            out.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let s = read_json(&summary);
    assert_eq!(s["ok"], false, "{s}");
    assert_eq!(s["shops_total"], 1, "{s}");
    assert_eq!(s["shops"][0]["shop"], "sandbox-taobao-tw", "{s}");
    assert_eq!(s["shops"][0]["exit_code"], 3, "{s}");
    // No shop completed: the file is not replaced.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "[]\n");
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(m.contains("\nordersync_last_run_success 0\n"), "{m}");

    // One shop named as before keeps today's summary: one object, no rows.
    let r = pull(
        &env,
        &config,
        &range,
        &[
            "--shop",
            "sandbox-taobao-tw",
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let s = read_json(&summary);
    assert_eq!(s["shop"], "sandbox-taobao-tw", "{s}");
    assert!(s.get("shops").is_none(), "{s}");
}

/// The exit code is the worst shop's, a failure that needs a person first: a flag that does
/// not fit one shop (2) outranks refused credentials (3) in another; alone, each keeps its own.
#[test]
fn the_exit_code_is_the_worst_shops() {
    let env = Env::with_orders(10);
    let config = with_bad_tw(&env);
    let range = range();
    let summary = env.path("summary.json");
    // `ready_to_ship` is a taobao-tw status: vvtool refuses it before asking anything.
    let both = [
        "--shop",
        "sandbox-taobao-tw",
        "--shop",
        "sandbox-vvtool",
        "--status",
        "ready_to_ship",
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    let r = pull(&env, &config, &range, &both);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("2 of 2 shops failed"), "{}", r.stderr);
    let s = read_json(&summary);
    let codes: Vec<&Value> = s["shops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["exit_code"])
        .collect();
    assert_eq!(codes, [3, 2], "{s}");
    assert!(
        s["shops"][1]["error"]
            .as_str()
            .unwrap()
            .contains("ready_to_ship"),
        "{s}"
    );
    assert!(s["shops"][1]["since"].is_string(), "{s}");
    let r = pull(&env, &config, &range, &both[..2]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

/// `--all --db`: every shop goes into one mirror, the shops at once (they all open the new
/// file together: that used to fail now and then with "database is locked", exit 4), each
/// row says how many orders were new and the shop's mark in the mirror, and an unchanged
/// re-run prints nothing and counts nothing new.
#[test]
fn all_shops_into_one_mirror() {
    let env = Env::with_orders(30);
    let range = range();
    let db = format!("sqlite:{}", env.path("all.db").display());
    let summary = env.path("summary.json");
    let metrics = env.path("ordersync.prom");
    let first = pull(
        &env,
        &env.config,
        &range,
        &[
            "--all",
            "--db",
            &db,
            "--summary-json",
            summary.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    // The mirror's mark is the end of the range (the last window committed), in the rows,
    // on stderr and in the metrics.
    let until = &range[3];
    let mark_s = chrono::DateTime::parse_from_rfc3339(until)
        .unwrap()
        .timestamp();
    let prom = std::fs::read_to_string(&metrics).unwrap();
    for shop in SHOPS {
        let line = format!(
            "ordersync_shop_mark_timestamp_seconds{{shop=\"{shop}\",platform=\"{}\"}} {mark_s}",
            shop.trim_start_matches("sandbox-")
        );
        assert!(prom.contains(&line), "{line} in:\n{prom}");
    }
    assert!(!first.stderr.contains("mark -"), "{}", first.stderr);
    let lines = first.ndjson();
    assert!(
        lines
            .iter()
            .all(|o| o["change"] == "new" && o["seq"].is_i64())
    );
    let rows = read_json(&summary)["shops"].as_array().unwrap().clone();
    assert_eq!(rows.len(), SHOPS.len());
    for row in &rows {
        let shop = row["shop"].as_str().unwrap();
        let printed = lines.iter().filter(|o| o["shop"] == shop).count() as u64;
        assert!(printed > 0, "{shop}");
        assert_eq!(row["new"].as_u64(), Some(printed), "{row}");
        assert_eq!(row["updated"].as_u64(), Some(0), "{row}");
        assert!(same_time(&row["mark"], until), "{row}");
    }
    let again = pull(
        &env,
        &env.config,
        &range,
        &[
            "--all",
            "--db",
            &db,
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "", "an unchanged re-run prints nothing");
    for row in read_json(&summary)["shops"].as_array().unwrap() {
        assert_eq!(row["new"].as_u64(), Some(0), "{row}");
        // Nothing new, and the mark stays where the mirror has it.
        assert!(same_time(&row["mark"], until), "{row}");
    }
}
