//! PandaPon's per-shop settings and saved-page rules through the binary: the signature probe,
//! `amount_unit`, and answers without the envelope.

use super::{pull, range};
use crate::support::{Env, run_binary};
use chrono::{Duration, Utc};
use ordersync::sandbox::pandapon::SECRET_KEY;
use serde_json::Value;

/// The sandbox set to a non-default scheme: a pull with the default is refused naming the
/// schemes and the probe; the probe finds the scheme and prints the line to keep, which then
/// works.
#[test]
fn probe_signature_finds_the_sandbox_scheme() {
    let env = Env::with_orders(5);
    assert!(
        env.sandbox
            .state
            .pandapon
            .set_signature_scheme("md5-wrapped")
    );
    let r = pull(
        &env,
        "sandbox-pandapon-1688",
        Utc::now() - Duration::days(1),
        Utc::now() - Duration::minutes(3),
        &[],
    );
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("`md5-query-key` (the default)")
            && r.stderr.contains("md5-wrapped")
            && r.stderr.contains("--probe-signature"),
        "{}",
        r.stderr
    );

    let r = env
        .run(&[
            "config",
            "check",
            "--online",
            "--shop",
            "sandbox-pandapon-1688",
            "--probe-signature",
        ])
        .ok();
    assert!(
        r.stdout.contains("signature_scheme = \"md5-wrapped\""),
        "{}",
        r.stdout
    );
    let verdict = |scheme: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(scheme))
            .unwrap_or_else(|| panic!("no line for {scheme}: {}", r.stdout))
            .to_string()
    };
    assert!(verdict("md5-wrapped").contains("accepted"));
    for refused in [
        "md5-query-key",
        "md5-query-secret",
        "md5-concat",
        "hmac-md5-query",
    ] {
        assert!(verdict(refused).contains("refused"), "{}", verdict(refused));
    }
    assert!(verdict("md5-query-key").contains("(configured)"));
    assert!(!r.stdout.contains(SECRET_KEY) && !r.stderr.contains(SECRET_KEY));

    // The printed line, put in the shop's table, makes the pull work.
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("signature_scheme = "))
        .unwrap();
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "[shops.sandbox-pandapon-1688]\n",
        &format!("[shops.sandbox-pandapon-1688]\n{line}\n"),
    );
    let cfg = env.write_config("probed.toml", &text);
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-pandapon-1688",
        "--by",
        "created",
        "--since",
        "31d",
        "--config",
        cfg.to_str().unwrap(),
    ])
    .ok();
    assert!(!r.ndjson().is_empty());

    // Every scheme refused: exit 3.
    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(SECRET_KEY, "not-the-secret");
    let cfg = env.write_config("wrong-secret.toml", &text);
    let r = run_binary(&[
        "config",
        "check",
        "--online",
        "--shop",
        "sandbox-pandapon-taobao",
        "--probe-signature",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("accepted none"), "{}", r.stderr);
    assert!(!r.stdout.contains("not-the-secret") && !r.stderr.contains("not-the-secret"));
}

#[test]
fn probe_signature_outside_online_pandapon_checks_is_a_usage_error() {
    let env = Env::with_orders(1);
    for (args, says) in [
        (
            &["--shop", "sandbox-pandapon-taobao", "--probe-signature"][..],
            "--online",
        ),
        (&["--online", "--probe-signature"][..], "--shop"),
        // A platform without the registry's probe hook: the error lists those with it.
        (
            &[
                "--online",
                "--shop",
                "sandbox-taobao-tw",
                "--probe-signature",
            ][..],
            "applies to shops of pandapon-taobao, pandapon-1688 only: shop \"sandbox-taobao-tw\" \
             is taobao-tw",
        ),
        (
            &["--online", "--shop", "sandbox-vvtool", "--probe-signature"][..],
            "applies to shops of pandapon-taobao, pandapon-1688 only: shop \"sandbox-vvtool\" \
             is vvtool",
        ),
        (
            &["--online", "--shop", "nope", "--probe-signature"][..],
            "no shop named",
        ),
    ] {
        let mut all = vec!["config", "check"];
        all.extend_from_slice(args);
        let r = env.run(&all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn amount_unit_is_checked_per_shop() {
    let env = Env::with_orders(3);
    let with = |shop: &str, line: &str| {
        let text = std::fs::read_to_string(&env.config).unwrap().replace(
            &format!("[shops.{shop}]\n"),
            &format!("[shops.{shop}]\n{line}\n"),
        );
        env.write_config(&format!("{shop}-unit.toml"), &text)
    };
    let cfg = with("sandbox-pandapon-taobao", "amount_unit = \"cents\"");
    let r = run_binary(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("sandbox-pandapon-taobao")
            && r.stdout.contains("`amount_unit` \"cents\"")
            && r.stdout.contains("\"yuan\""),
        "{}",
        r.stdout
    );
    let cfg = with("sandbox-pandapon-1688", "amount_unit = \"yuan\"");
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-pandapon-1688",
        "--by",
        "created",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("amount_unit"), "{}", r.stderr);
    // Yuan on the Taobao page: the sandbox's fen integers come out a hundred times larger
    // (the unit is the shop's to say; nothing in an integer tells them apart).
    let cfg = with("sandbox-pandapon-taobao", "amount_unit = \"yuan\"");
    let (since, until) = range(31, Duration::minutes(3));
    let (s, u) = (since.to_rfc3339(), until.to_rfc3339());
    let args = [
        "pull",
        "--shop",
        "sandbox-pandapon-taobao",
        "--by",
        "created",
        "--since",
        &s,
        "--until",
        &u,
    ];
    let fen_run = env.run(&args).ok();
    let yuan_run = run_binary(&[&args[..], &["--config", cfg.to_str().unwrap()]].concat()).ok();
    let (a, b) = (fen_run.ndjson(), yuan_run.ndjson());
    assert_eq!(a.len(), b.len());
    let paid = a
        .iter()
        .zip(&b)
        .find(|(x, _)| x["total"] != "0.00")
        .expect("a paid order");
    let cents = |v: &Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    assert_eq!(cents(&paid.0["total"]) * 100, cents(&paid.1["total"]));
}

/// A saved Taobao page whose amounts have fractions cannot be fen: the error names the JSON
/// path and the config line that fixes it.
#[test]
fn a_fraction_read_as_fen_names_the_path_and_amount_unit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("yuan.json");
    let page = serde_json::json!({"code": 200, "data": {"total": 1, "data": [
        {"orderNo": "Y1", "status": 10, "createTime": "2024-07-18 18:01:30",
         "purchaseAmount": 12.5,
         "subOrderVOS": [{"subOrderId": "L1", "quantity": 1, "purchaseAmount": 12.5,
                          "domesticPostFee": 0}]}]}});
    std::fs::write(&path, page.to_string()).unwrap();
    let r = run_binary(&[
        "normalize",
        "--platform",
        "pandapon-taobao",
        path.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("$.data.data[0].")
            && r.stderr.contains("purchaseAmount")
            && r.stderr.contains("amount_unit = \"yuan\""),
        "{}",
        r.stderr
    );
    // The same page read as yuan: exact amounts.
    let r = run_binary(&[
        "normalize",
        "--platform",
        "pandapon-taobao",
        "--amount-unit",
        "yuan",
        path.to_str().unwrap(),
    ])
    .ok();
    let o = &r.ndjson()[0];
    assert_eq!(
        (&o["total"], &o["lines"][0]["total"], &o["shipping_fee"]),
        (
            &Value::from("12.50"),
            &Value::from("12.50"),
            &Value::from("0.00")
        )
    );
    let r = run_binary(&[
        "normalize",
        "--platform",
        "pandapon-1688",
        "--amount-unit",
        "yuan",
        path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("pandapon-taobao only"), "{}", r.stderr);
}

/// An answer without PandaPon's envelope is an error, never "no orders".
#[test]
fn answers_without_the_envelope_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (i, body) in [
        r#"{"code":200,"data":{}}"#,
        "{}",
        r#"{"code":200}"#,
        r#"{"code":401,"msg":"签名错误","data":null}"#,
        r#"{"code":200,"data":{"total":2}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("{i}.json"));
        std::fs::write(&path, body).unwrap();
        for platform in ["pandapon-taobao", "pandapon-1688"] {
            let r = run_binary(&["normalize", "--platform", platform, path.to_str().unwrap()]);
            assert_ne!(r.code, 0, "{platform} {body}: {}", r.stderr);
            assert!(r.stdout.is_empty());
            assert!(
                r.stderr.contains("$.data") || r.stderr.contains("code"),
                "{platform} {body}: {}",
                r.stderr
            );
        }
    }
    // An explicit empty page is fine.
    let path = dir.path().join("empty.json");
    std::fs::write(&path, r#"{"code":200,"data":{"total":0,"data":[]}}"#).unwrap();
    let r = run_binary(&[
        "normalize",
        "--platform",
        "pandapon-1688",
        path.to_str().unwrap(),
    ])
    .ok();
    assert!(r.stdout.is_empty());
}

#[test]
fn platforms_says_what_is_assumed() {
    let r = run_binary(&["platforms"]).ok();
    let section = |id: &str| {
        let start = r.stdout.find(&format!("{id}  ")).unwrap();
        let rest = &r.stdout[start..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
    };
    let ali = section("pandapon-1688");
    assert!(
        ali.contains("orderStatus codes are not documented for 1688")
            && ali.contains("Taobao page's table")
            && ali.contains("is assumed"),
        "{ali}"
    );
    let tb = section("pandapon-taobao");
    assert!(
        tb.contains("amount_unit") && tb.contains("not documented"),
        "{tb}"
    );
}
