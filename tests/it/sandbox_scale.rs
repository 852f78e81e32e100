//! `ordersync sandbox` at scale and with several shops, through the binary: N shops per
//! platform with their own credentials and orders, and ten million orders per platform
//! served from little memory.

use crate::support::{command, run_binary};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PLATFORMS: [&str; 5] = [
    "taobao-tw",
    "taobao-enhanced",
    "vvtool",
    "pandapon-taobao",
    "pandapon-1688",
];

/// `ordersync sandbox ARGS` on a free port, with the config it printed; killed when dropped.
struct Served {
    child: Child,
    config: String,
    /// How long it took from spawning to the config being printed.
    startup: Duration,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// The config's text ends with the last shop's section: read until `last` has come and
    /// its closing comment line.
    fn start(args: &[&str], last: &str) -> Served {
        let started = Instant::now();
        let mut child = command()
            .args(["sandbox", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut config = String::new();
        let mut in_last = false;
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "sandbox quit:\n{config}"
            );
            config.push_str(&line);
            in_last |= line.trim() == format!("[shops.{last}]");
            if in_last && line.starts_with("# signature_scheme") {
                break;
            }
        }
        // Keep its stdout open: a sandbox whose stdout is closed stops, as a pipe's writer
        // does.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Served {
            child,
            config,
            startup: started.elapsed(),
        }
    }

    /// Resident memory of the sandbox process, in kB (Linux).
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// The `key = "value"` lines of section `[shops.NAME]`.
fn section(config: &str, name: &str) -> Vec<(String, String)> {
    let head = format!("[shops.{name}]");
    config
        .lines()
        .skip_while(|l| l.trim() != head)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn render(name: &str, fields: &[(String, String)]) -> String {
    let mut s = format!("[shops.{name}]\n");
    for (k, v) in fields {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

/// `ordersync pull --shop SHOP` over the last 30 days with `config`; its order ids.
fn pull(dir: &std::path::Path, config: &str, shop: &str) -> (i32, BTreeSet<String>, String) {
    let path = dir.join(format!("{shop}.toml"));
    std::fs::write(&path, config).unwrap();
    let r = run_binary(&[
        "pull",
        "--config",
        path.to_str().unwrap(),
        "--shop",
        shop,
        "--since",
        "30d",
        "--window",
        "10d",
        "--rate-limit",
        "1000",
    ]);
    let ids = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["order_id"].to_string())
        .collect();
    (r.code, ids, r.stderr)
}

/// With `--shops 3` every platform has shops `sandbox-<platform>-1` ... `-3`, each serving
/// its own orders to its own credentials; shop 1's credentials never open shop 2's orders.
#[test]
fn every_shop_has_its_own_orders_and_credentials() {
    let sb = Served::start(
        &["--shops", "3", "--orders", "40"],
        "sandbox-pandapon-1688-3",
    );
    let dir = tempfile::tempdir().unwrap();
    for p in PLATFORMS {
        for i in 1..=3 {
            assert!(
                sb.config.contains(&format!("[shops.sandbox-{p}-{i}]")),
                "{p} {i}:\n{}",
                sb.config
            );
        }
        assert!(!sb.config.contains(&format!("[shops.sandbox-{p}]")));
        let one = format!("sandbox-{p}-1");
        let two = format!("sandbox-{p}-2");
        let (code, first, err) = pull(dir.path(), &sb.config, &one);
        assert_eq!(code, 0, "{p}: {err}");
        let (code, second, err) = pull(dir.path(), &sb.config, &two);
        assert_eq!(code, 0, "{p}: {err}");
        assert!(
            first.len() >= 35 && second.len() >= 35,
            "{p}: {} {}",
            first.len(),
            second.len()
        );
        assert!(first.is_disjoint(&second), "{p}: shops share orders");

        // Shop 2's section with some of shop 1's credentials: refused as a credential error.
        let (s1, s2) = (section(&sb.config, &one), section(&sb.config, &two));
        let mixes: &[&[&str]] = match p {
            "taobao-tw" => &[&["app_secret"], &["access_token"]],
            // The app of shop 1 asking for shop 2's seller, or shop 2's app signed with
            // shop 1's secret.
            "taobao-enhanced" => &[&["appid", "app_secret"], &["app_secret"]],
            // Shop 1's client asking for shop 2's shop_id.
            "vvtool" => &[&["client_id", "client_secret"]],
            // Shop 1's keys asking for shop 2's user, or shop 2's key with shop 1's secret.
            _ => &[&["access_key", "secret_key"], &["secret_key"]],
        };
        for mix in mixes {
            let fields: Vec<(String, String)> = s2
                .iter()
                .map(|(k, v)| {
                    match s1
                        .iter()
                        .find(|(k1, _)| k1 == k && mix.contains(&k.as_str()))
                    {
                        Some(theirs) => theirs.clone(),
                        None => (k.clone(), v.clone()),
                    }
                })
                .collect();
            assert_ne!(fields, s2, "{p}: {mix:?} changes nothing");
            let (code, ids, err) = pull(dir.path(), &render(&two, &fields), &two);
            assert_eq!(code, 3, "{p} with shop 1's {mix:?}: {err}");
            assert!(ids.is_empty(), "{p} with shop 1's {mix:?}");
        }
    }
}

/// One shop keeps today's names.
#[test]
fn one_shop_keeps_the_plain_names() {
    let sb = Served::start(&["--orders", "5"], "sandbox-pandapon-1688");
    for p in PLATFORMS {
        assert!(sb.config.contains(&format!("[shops.sandbox-{p}]")), "{p}");
        assert!(
            !sb.config.contains(&format!("[shops.sandbox-{p}-1]")),
            "{p}"
        );
    }
}

/// Ten million orders per platform: the sandbox starts in seconds, serves a recent window of
/// every platform, and stays far under 300 MB while it does.
#[test]
fn ten_million_orders_start_at_once_in_little_memory() {
    let sb = Served::start(&["--orders", "10000000"], "sandbox-pandapon-1688");
    assert!(sb.startup < Duration::from_secs(10), "{:?}", sb.startup);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.toml");
    std::fs::write(&path, &sb.config).unwrap();
    let start = chrono::Utc::now() - chrono::Duration::days(8);
    for p in PLATFORMS {
        let shop = format!("sandbox-{p}");
        // About 2,300 orders were created in any 10 minutes, and as many last modified in
        // any 10 minutes more than five days ago (later, modifications crowd towards now).
        // Taobao TW lists by modification time only.
        let by = if p == "taobao-tw" {
            "modified"
        } else {
            "created"
        };
        let r = run_binary(&[
            "pull",
            "--config",
            path.to_str().unwrap(),
            "--shop",
            &shop,
            "--by",
            by,
            "--since",
            &(start - chrono::Duration::minutes(10)).to_rfc3339(),
            "--until",
            &start.to_rfc3339(),
            "--rate-limit",
            "1000",
        ]);
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        let n = r.stdout.lines().count();
        assert!((1800..2800).contains(&n), "{p}: {n} orders in 10 minutes");
    }
    let rss = sb.rss_kb();
    assert!(rss < 300 * 1024, "sandbox RSS {rss} kB");
}
