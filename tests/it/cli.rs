//! The command line itself: flags, dates, exit codes, help.

use crate::support::{Run, run_binary};

#[test]
fn a_bad_flag_exits_2_and_says_which() {
    let r = run_binary(&["pull", "--platfrom", "taobao-tw"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--platfrom"), "{}", r.stderr);
}

#[test]
fn a_bad_date_exits_2_and_shows_the_accepted_forms() {
    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "taobao-tw",
        "--since",
        "last tuesday",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("last tuesday") && r.stderr.contains("RFC 3339"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_platform_lists_the_right_ones() {
    let r = run_binary(&["pull", "--sandbox", "--platform", "shopee", "--since", "1d"]);
    assert_eq!(r.code, 2);
    for id in [
        "taobao-tw",
        "taobao-enhanced",
        "vvtool",
        "pandapon-taobao",
        "pandapon-1688",
    ] {
        assert!(r.stderr.contains(id), "{id} missing from: {}", r.stderr);
    }
}

#[test]
fn since_is_required_without_state() {
    let r = run_binary(&["pull", "--sandbox", "--platform", "taobao-tw"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
}

#[test]
fn a_missing_config_file_exits_2_and_suggests_the_sandbox() {
    let r = run_binary(&[
        "pull",
        "--platform",
        "taobao-tw",
        "--since",
        "1d",
        "--config",
        "/nonexistent/ordersync.toml",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("/nonexistent/ordersync.toml") && r.stderr.contains("--sandbox"),
        "{}",
        r.stderr
    );
}

#[test]
fn help_documents_exit_codes_and_examples() {
    let r = run_binary(&["pull", "--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Examples:") && r.stdout.contains("--sandbox"));
    let r = run_binary(&["--help"]);
    assert!(r.stdout.contains("Exit codes:") && r.stdout.contains("3  the platform refused"));
}

#[test]
fn completions_man_and_platforms_are_generated() {
    let r = run_binary(&["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("ordersync") && r.stdout.contains("--since"));
    let r = run_binary(&["man"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH ordersync 1"));
    let r = run_binary(&["platforms"]);
    assert_eq!(r.code, 0);
    for id in [
        "taobao-tw",
        "taobao-enhanced",
        "vvtool",
        "pandapon-taobao",
        "pandapon-1688",
    ] {
        assert!(r.stdout.contains(id), "{id} missing");
    }
    assert!(r.stdout.contains("page size") && r.stdout.contains("--by created"));
}

#[test]
fn config_check_reports_each_shop_and_missing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[shops.good]\nplatform = \"taobao-tw\"\napp_key = \"1\"\napp_secret = \"s\"\naccess_token = \"t\"\n\
         [shops.bad]\nplatform = \"taobao-tw\"\napp_key = \"1\"\napp_secret = { env = \"ORDERSYNC_TEST_NOPE\" }\naccess_token = \"t\"\n",
    )
    .unwrap();
    let r = run_binary(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("good (taobao-tw): ok"), "{}", r.stdout);
    assert!(
        r.stdout.contains("bad (taobao-tw)") && r.stdout.contains("ORDERSYNC_TEST_NOPE"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_broken_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[shops.tw]\nplatform = \"taobao-tw\"\napp_kye = \"1\"\n",
    )
    .unwrap();
    let r = run_binary(&[
        "pull",
        "--shop",
        "tw",
        "--since",
        "1d",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("c.toml") && r.stderr.contains("line 3") && r.stderr.contains("app_kye"),
        "{}",
        r.stderr
    );
}

#[test]
fn literal_secrets_in_a_world_readable_config_get_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[shops.tw]\nplatform = \"taobao-tw\"\napp_key = \"1\"\napp_secret = \"literal-secret-value\"\naccess_token = { env = \"X_UNUSED\" }\n",
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run_binary(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("literal-secret-value") && !r.stdout.contains("literal-secret-value")
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = run_binary(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert!(!r.stderr.contains("chmod 600"), "{}", r.stderr);
}

/// tokio reads TOKIO_WORKER_THREADS when left to choose its worker count, and panics on a
/// value that is not a number; ordersync chooses it itself.
#[test]
fn a_stray_tokio_worker_threads_variable_is_ignored() {
    let out = crate::support::command()
        .arg("platforms")
        .env("TOKIO_WORKER_THREADS", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("taobao-tw"));
}

/// A pull of the sandbox's taobao-enhanced shop (small and fast) run in `dir`.
fn pull_in(env: &crate::support::Env, dir: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "pull",
        "--shop",
        "sandbox-taobao-enhanced",
        "--since",
        "3d",
        "-q",
        "--config",
    ];
    let config = env.config.to_str().unwrap().to_string();
    args.push(&config);
    args.extend_from_slice(extra);
    let out = crate::support::command()
        .args(&args)
        .current_dir(dir)
        .env_remove("ORDERSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    out.into()
}

#[test]
fn the_output_file_name_chooses_the_format() {
    let env = crate::support::Env::with_orders(30);
    let dir = tempfile::tempdir().unwrap();
    pull_in(&env, dir.path(), &["-o", "tw.csv"]).ok();
    let csv = std::fs::read_to_string(dir.path().join("tw.csv")).unwrap();
    assert!(csv.starts_with("platform,"), "not CSV: {csv:.200}");
    pull_in(&env, dir.path(), &["-o", "tw.json"]).ok();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("tw.json")).unwrap()).unwrap();
    assert!(
        json.as_array().is_some_and(|a| !a.is_empty()),
        "{json:.200}"
    );
    // --format wins over the name.
    pull_in(&env, dir.path(), &["-o", "x.csv", "--format", "ndjson"]).ok();
    let text = std::fs::read_to_string(dir.path().join("x.csv")).unwrap();
    assert!(text.starts_with('{'), "{text:.200}");
}

#[test]
fn csv_options_with_another_format_are_refused() {
    let env = crate::support::Env::with_orders(10);
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        &["--csv", "orders"][..],
        &["--csv-bom"],
        &["--csv-bom", "--format", "json"],
        &["--csv", "lines", "-o", "out.ndjson"],
    ] {
        let r = pull_in(&env, dir.path(), extra);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("applies to CSV output") && r.stderr.contains("--format csv"),
            "{extra:?}: {}",
            r.stderr
        );
    }
    assert!(crate::support::files_in(dir.path()).is_empty());
    let r = run_binary(&["normalize", "--platform", "vvtool", "--csv", "orders", "-"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_dash_means_stdout() {
    let env = crate::support::Env::with_orders(30);
    let dir = tempfile::tempdir().unwrap();
    let r = pull_in(&env, dir.path(), &["-o", "-"]).ok();
    assert!(!r.ndjson().is_empty());
    let r = pull_in(
        &env,
        dir.path(),
        &["-o", "orders.ndjson", "--summary-json", "-"],
    )
    .ok();
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(summary["orders_emitted"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(
        crate::support::files_in(dir.path()),
        vec!["orders.ndjson".to_string()],
        "no file named -"
    );
}

/// Issue 14: a duration past what times can hold panicked. Now a usage error (exit 2) naming
/// the value, for every flag that takes one.
#[test]
fn durations_past_the_representable_range_exit_2() {
    for flag in [
        "--since",
        "--window",
        "--settle",
        "--lookback",
        "--timeout",
        "--give-up-after",
    ] {
        for value in ["100000000d", "9223372036854775807s"] {
            let mut args = vec!["pull", "--sandbox", "--platform", "taobao-tw"];
            if flag != "--since" {
                args.extend(["--since", "1d"]);
            }
            args.extend([flag, value]);
            let r = run_binary(&args);
            assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
            assert!(
                r.stderr.contains("too long") && r.stderr.contains(value),
                "{flag} {value}: {}",
                r.stderr
            );
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        }
    }
}

/// Issue 14: a state mark in the future made the run fail as "nothing to pull". Now it says
/// the mark is ahead and how to reset it, and exits 0.
#[test]
fn a_mark_in_the_future_is_explained_and_nothing_to_pull_is_success() {
    let env = crate::support::Env::with_orders(5);
    let state = env.path("state.json");
    let mark = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    std::fs::write(
        &state,
        format!(
            r#"{{"version":1,"shops":{{"sandbox-taobao-tw":{{"platform":"taobao-tw","by":"modified","mark":"{mark}","written_at":"{mark}"}}}}}}"#
        ),
    )
    .unwrap();
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-tw",
            "--state",
            state.to_str().unwrap(),
        ])
        .ok();
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("is ahead of now") && r.stderr.contains("ordersync state reset --state"),
        "{}",
        r.stderr
    );
    assert!(std::fs::read_to_string(&state).unwrap().contains(&mark));
}

/// Issue 19: `ordersync … | head -1` closed the pipe and the binary panicked (exit 101). A
/// closed stdout ends the run quietly with 0, as ripgrep does, on every subcommand that prints.
#[test]
fn a_closed_stdout_ends_quietly() {
    let env = crate::support::Env::with_orders(5);
    let state = env.path("state.json");
    std::fs::write(
        &state,
        r#"{"version":1,"shops":{"tw":{"platform":"taobao-tw","by":"modified","mark":"2026-11-25T10:00:00Z","written_at":"2026-11-25T10:00:00Z"}}}"#,
    )
    .unwrap();
    let config = env.config.to_str().unwrap();
    let state = state.to_str().unwrap();
    for args in [
        &["config", "check", "--config", config][..],
        &["state", "show", "--state", state],
        &["completions", "bash"],
        &["man"],
        &["platforms"],
    ] {
        let mut child = crate::support::command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the binary writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Issue 19: `config check --online` stopped at the first shop whose request failed (after
/// printing it as ok). Every shop is checked and reported; the exit code says one failed.
#[test]
fn config_check_online_reports_every_shop() {
    let env = crate::support::Env::with_orders(5);
    let text = std::fs::read_to_string(&env.config).unwrap();
    let at = text.find("app_secret = \"").unwrap() + "app_secret = \"".len();
    // taobao-tw's signature is refused; vv-tool's token exchange (before any list call) too.
    let broken = format!("{}not-the-secret-{}", &text[..at], &text[at..])
        .replace("client_secret = \"", "client_secret = \"not-the-secret-");
    let cfg = env.write_config("broken.toml", &broken);
    let r = run_binary(&[
        "config",
        "check",
        "--online",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let online: Vec<&&str> = lines.iter().filter(|l| l.contains("online:")).collect();
    assert_eq!(online.len(), 5, "one online line per shop:\n{}", r.stdout);
    assert_eq!(
        online
            .iter()
            .filter(|l| l.contains("a signed request succeeded"))
            .count(),
        3,
        "{}",
        r.stdout
    );
    let tw = lines
        .iter()
        .position(|l| l.contains("sandbox-taobao-tw"))
        .unwrap();
    let vv = lines
        .iter()
        .position(|l| l.contains("sandbox-vvtool"))
        .unwrap();
    for at in [tw, vv] {
        assert!(
            lines[at + 1].contains("online:") && !lines[at + 1].contains("succeeded"),
            "{}",
            r.stdout
        );
    }
    assert!(
        !r.stdout.contains("not-the-secret"),
        "secret printed: {}",
        r.stdout
    );
}

/// Issue 19: `--summary-json` was written only when a run succeeded; a cron job's monitoring
/// then saw the previous run's figures. A failed run writes the error (secrets removed).
#[test]
fn a_failed_run_writes_its_summary_too() {
    let env = crate::support::Env::with_orders(5);
    let text = std::fs::read_to_string(&env.config).unwrap();
    let broken = text.replacen("app_secret = \"", "app_secret = \"not-the-secret-", 1);
    let cfg = env.write_config("broken.toml", &broken);
    let summary = env.path("summary.json");
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "1d",
        "--summary-json",
        summary.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["ok"], false, "{s}");
    assert_eq!(s["shop"], "sandbox-taobao-tw", "{s}");
    assert!(s["error"].as_str().unwrap().contains("taobao-tw"), "{s}");
    assert!(
        !text.contains("not-the-secret"),
        "secret in the summary: {text}"
    );
}

/// Issue 19: `normalize` of a file that is not JSON exited 4, the code that tells a script
/// to try again later; a bad file is a plain failure, exit 1, on every platform.
#[test]
fn normalize_of_a_file_that_is_not_json_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.json");
    for body in [
        "<html>502 Bad Gateway</html>",
        "{\"code\": 0, \"data\": {\"items\": [",
    ] {
        std::fs::write(&file, body).unwrap();
        for platform in [
            "taobao-tw",
            "taobao-enhanced",
            "vvtool",
            "pandapon-taobao",
            "pandapon-1688",
        ] {
            let r = run_binary(&["normalize", "--platform", platform, file.to_str().unwrap()]);
            assert_eq!(r.code, 1, "{platform} {body:?}: {}", r.stderr);
            assert!(r.stderr.contains(platform), "{platform}: {}", r.stderr);
        }
    }
}

/// Issue 19: options from the environment (as clap's `env`), listed in `--help`.
#[test]
fn shop_and_format_can_come_from_the_environment() {
    let env = crate::support::Env::with_orders(20);
    let out = crate::support::command()
        .args(["pull", "--since", "3d", "-q", "--config"])
        .arg(&env.config)
        .env("ORDERSYNC_SHOP", "sandbox-taobao-enhanced")
        .env("ORDERSYNC_FORMAT", "csv")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("platform,"), "{stdout:.200}");
    assert!(stdout.contains("taobao-enhanced"), "{stdout:.200}");
    let help = run_binary(&["pull", "--help"]).ok().stdout;
    for var in ["ORDERSYNC_SHOP", "ORDERSYNC_PLATFORM", "ORDERSYNC_FORMAT"] {
        assert!(help.contains(var), "{var} not in --help");
    }
}

/// Issue 19: the cron examples must work pasted into a crontab: one line per job, every `%`
/// escaped (an unescaped one ends the command and feeds the rest to stdin), no `\` line
/// continuation (cron has none).
#[test]
fn cron_examples_are_crontab_lines() {
    let help = run_binary(&["pull", "--help"]).ok().stdout;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```cron\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a cron block");
    for (whence, text) in [("pull --help", help.as_str()), ("README", block)] {
        let jobs: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("*/"))
            .collect();
        assert!(!jobs.is_empty(), "{whence}: no crontab line");
        for job in jobs {
            assert!(job.contains("ordersync pull"), "{whence}: {job}");
            assert!(!job.ends_with('\\'), "{whence}: continued line: {job}");
            let unescaped = job
                .char_indices()
                .any(|(i, c)| c == '%' && !job[..i].ends_with('\\'));
            assert!(!unescaped, "{whence}: unescaped %: {job}");
        }
    }
}

/// Issue 19: times echoed back were UTC with nanoseconds; they are shown in +08:00 to the
/// second, and "nothing to pull" says it is because of --settle and how to change that.
#[test]
fn times_are_echoed_in_the_platform_offset_and_settle_is_explained() {
    let r = run_binary(&[
        "pull",
        "--sandbox",
        "--platform",
        "taobao-tw",
        "--since",
        "1m",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--settle") && r.stderr.contains("+08:00"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("+00:00") && !r.stderr.contains('Z'),
        "{}",
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(
        &state,
        r#"{"version":1,"shops":{"tw":{"platform":"taobao-tw","by":"modified","mark":"2026-11-25T10:00:00Z","written_at":"2026-11-25T10:00:00Z"}}}"#,
    )
    .unwrap();
    let r = run_binary(&[
        "state",
        "reset",
        "--state",
        state.to_str().unwrap(),
        "--to",
        "2026-11-20",
    ])
    .ok();
    assert!(
        r.stderr.contains("mark set to 2026-11-20T00:00:00+08:00"),
        "{}",
        r.stderr
    );
}

/// Issue 19: `--color auto|always|never` and `NO_COLOR`, as ripgrep and fd have them.
#[test]
fn color_follows_the_flag_and_no_color() {
    let env = crate::support::Env::with_orders(5);
    let run = |color: &str, no_color: bool| {
        let mut cmd = crate::support::command();
        cmd.args([
            "pull",
            "--shop",
            "sandbox-taobao-enhanced",
            "--since",
            "40d",
            "--rate-limit",
            "1000",
            "--color",
            color,
            "--config",
        ])
        .arg(&env.config);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stderr).unwrap()
    };
    // The month warning is a log line: coloured only when asked for.
    let plain = run("auto", false);
    assert!(
        plain.contains("WARN") && !plain.contains('\u{1b}'),
        "{plain}"
    );
    assert!(run("always", false).contains("\u{1b}["));
    assert!(
        run("always", true).contains("\u{1b}["),
        "always wins over NO_COLOR"
    );
    assert!(!run("never", false).contains('\u{1b}'));
    let r = run_binary(&["platforms", "--color", "sometimes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(run_binary(&["platforms", "--progress", "never"]).code == 0);
}

/// Issue 19: `--rate-limit 0` quietly became 1/s. It is refused, and fractions are accepted
/// (0.5: one request every 2 s), on the command line and in the config.
#[test]
fn rate_limits_are_above_zero_and_may_be_fractions() {
    let env = crate::support::Env::with_orders(5);
    for bad in ["0", "0.0", "nan", "inf", "fast"] {
        let r = env.run(&[
            "pull",
            "--shop",
            "sandbox-taobao-enhanced",
            "--since",
            "1d",
            "--rate-limit",
            bad,
        ]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("per second"), "{bad}: {}", r.stderr);
    }
    let started = std::time::Instant::now();
    let r = env
        .run(&[
            "pull",
            "--shop",
            "sandbox-taobao-enhanced",
            "--since",
            "1d",
            "--rate-limit",
            "0.5",
            "-q",
        ])
        .ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    // One window of one day: one request, so no wait, but the fraction was taken.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let text = std::fs::read_to_string(&env.config).unwrap();
    for (value, ok) in [("0", false), ("2.5", true)] {
        let cfg = env.write_config(
            "rate.toml",
            &text.replacen(
                "[shops.sandbox-taobao-enhanced]\n",
                &format!("[shops.sandbox-taobao-enhanced]\nrate_limit = {value}\n"),
                1,
            ),
        );
        let r = run_binary(&["config", "check", "--config", cfg.to_str().unwrap()]);
        assert_eq!(
            r.code == 0,
            ok,
            "rate_limit = {value}: {}{}",
            r.stdout,
            r.stderr
        );
    }
}

/// Issue 19: the HTTP client ignored HTTPS_PROXY / HTTP_PROXY. They are honoured, except for
/// this machine (the sandbox, a local gateway).
#[test]
fn proxies_from_the_environment_are_used_but_not_for_loopback() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut first = String::new();
            let _ = BufReader::new(&conn).read_line(&mut first);
            s.lock().unwrap().push(first.trim_end().to_string());
            let _ = (&conn).write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let env = crate::support::Env::with_orders(5);
    let run = |config: &std::path::Path| {
        let out = crate::support::command()
            .args(["pull", "--shop", "sandbox-taobao-enhanced", "--since", "1d"])
            .args(["--retries", "0", "-q", "--config"])
            .arg(config)
            .env("HTTP_PROXY", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        out.status.code()
    };
    // The sandbox is on loopback: reached directly, the proxy sees nothing.
    assert_eq!(run(&env.config), Some(0));
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    // Another host goes through the proxy (which answers 502 here).
    let text = std::fs::read_to_string(&env.config).unwrap();
    let at = text.find("[shops.sandbox-taobao-enhanced]").unwrap();
    let rest = &text[at..];
    let line_start = at + rest.find("base_url = ").unwrap();
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let remote = format!(
        "{}base_url = \"http://orders.example.test/fw199\"\nallow_http = true{}",
        &text[..line_start],
        &text[line_end..]
    );
    let cfg = env.write_config("remote.toml", &remote);
    assert_ne!(run(&cfg), Some(0));
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("POST http://orders.example.test/fw199/")),
        "{seen:?}"
    );
}

/// Issue 19: an unreachable host was retried for minutes and the error never named it. The
/// error names host:port and the base_url; a name that does not resolve is not retried.
#[test]
fn an_unreachable_host_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    // Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    std::fs::write(
        &cfg,
        "[shops.gone]\nplatform = \"taobao-enhanced\"\nbase_url = \"https://nowhere.invalid/fw199\"\n\
         appid = \"a\"\napp_secret = \"s3cr3t-value\"\nseller_nick = \"n\"\n\
         [shops.refused]\nplatform = \"taobao-enhanced\"\nbase_url = \"http://127.0.0.1:9/fw199\"\n\
         appid = \"a\"\napp_secret = \"s3cr3t-value\"\nseller_nick = \"n\"\n",
    )
    .unwrap();
    let pull = |shop: &str| {
        run_binary(&[
            "pull",
            "--shop",
            shop,
            "--since",
            "1d",
            "--retries",
            "1",
            "-q",
            "--config",
            cfg.to_str().unwrap(),
        ])
    };
    let started = std::time::Instant::now();
    let r = pull("gone");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot resolve the host nowhere.invalid:443")
            && r.stderr.contains("base_url"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let r = pull("refused");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1:9"), "{}", r.stderr);
}

/// Issue 19: `get` of an unknown id printed nothing for the ids it found and exited 2.
#[test]
fn get_prints_what_it_found_and_names_what_it_did_not() {
    let env = crate::support::Env::with_orders(5);
    let r = env.run(&["get", "--shop", "sandbox-taobao-tw", "1", "558757367941"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = r.ndjson();
    assert_eq!(got.len(), 1, "{}", r.stdout);
    assert_eq!(got[0]["order_id"], "558757367941");
    assert!(r.stderr.contains("1 of 2 orders not found"), "{}", r.stderr);
    assert!(r.stderr.contains("1: "), "{}", r.stderr);
}

/// Issue 19: `normalize --platform vvtool <an enhanced answer>` printed nothing, exit 0. An
/// answer in which the named platform finds nothing but another finds orders is an error that
/// names the other platform.
#[test]
fn normalize_names_the_platform_an_answer_belongs_to() {
    let list = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/taobao-enhanced/list.json"
    );
    let r = run_binary(&["normalize", "--platform", "vvtool", list]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("--platform taobao-enhanced"),
        "{}",
        r.stderr
    );
    // The right platform still reads it.
    let r = run_binary(&["normalize", "--platform", "taobao-enhanced", list]).ok();
    assert!(!r.ndjson().is_empty());
}

/// Issue 14: an answer with the success code but without the list's envelope (another API's
/// answer, a proxy's page) was read as "no orders", exit 0. It is an error naming the path;
/// a list that says it is empty is still read as empty.
#[test]
fn an_answer_without_the_list_is_not_no_orders() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.json");
    for (platform, body, ok) in [
        ("taobao-tw", r#"{"code":"0","result":{}}"#, false),
        (
            "taobao-tw",
            r#"{"code":"0","result":{"model_list":[],"total_count":0}}"#,
            true,
        ),
        ("taobao-enhanced", r#"{"code":0,"data":{}}"#, false),
        ("taobao-enhanced", r#"{"code":0,"message":"ok"}"#, false),
        (
            "taobao-enhanced",
            r#"{"code":0,"data":{"total":0,"items":[]}}"#,
            true,
        ),
    ] {
        std::fs::write(&file, body).unwrap();
        let r = run_binary(&["normalize", "--platform", platform, file.to_str().unwrap()]);
        if ok {
            assert_eq!(r.code, 0, "{platform} {body}: {}", r.stderr);
            assert!(r.stdout.is_empty(), "{platform} {body}: {}", r.stdout);
        } else {
            assert_eq!(r.code, 1, "{platform} {body}: {}", r.stderr);
            assert!(r.stderr.contains("$."), "{platform} {body}: {}", r.stderr);
        }
    }
}

/// Issue 19: `--status awaiting_shipment` (the normalized value the output shows) gave 0
/// orders on every platform but PandaPon, and `--status bogus` did too, exit 0. Normalized
/// statuses work everywhere, the platform's own codes too, and anything else is refused.
#[test]
fn status_takes_normalized_values_and_the_platforms_own() {
    let env = crate::support::Env::with_orders(150);
    for (platform, own) in [
        ("taobao-tw", "ready_to_ship"),
        ("taobao-enhanced", "WAIT_SELLER_SEND_GOODS"),
        ("vvtool", "WAIT_SELLER_SEND_GOODS"),
        ("pandapon-taobao", "10"),
        ("pandapon-1688", "10"),
    ] {
        let shop = format!("sandbox-{platform}");
        let pull = |status: &str| {
            env.run(&[
                "pull",
                "--shop",
                &shop,
                "--by",
                "created",
                "--since",
                "29d",
                "--rate-limit",
                "1000",
                "-q",
                "--status",
                status,
            ])
        };
        for status in ["awaiting_shipment", own] {
            let r = pull(status).ok();
            let orders = r.ndjson();
            assert!(
                !orders.is_empty(),
                "{platform} --status {status}: no orders"
            );
            for o in &orders {
                assert_eq!(o["status"], "awaiting_shipment", "{platform} {status}: {o}");
            }
        }
        let r = pull("bogus");
        assert_eq!(r.code, 2, "{platform}: {}", r.stderr);
        assert!(
            r.stderr.contains("awaiting_shipment") && r.stderr.contains(own),
            "{platform}: {}",
            r.stderr
        );
    }
}

/// Issue 19: `config init` writes a commented config for the platforms asked for, which
/// `config check` accepts once its secrets are there, and never replaces a file by surprise.
#[test]
fn config_init_writes_a_config_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("shops.toml");
    let path = cfg.to_str().unwrap();
    let args = [
        "config",
        "init",
        "--platform",
        "vvtool",
        "--platform",
        "taobao-tw",
        "-o",
        path,
    ];
    let r = run_binary(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("config check --config"), "{}", r.stderr);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.starts_with('#') && text.contains("[shops.vv]") && text.contains("[shops.tw]"));
    assert!(!text.contains("pandapon"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cfg).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let check = crate::support::command()
        .args(["config", "check", "--config", path])
        .env("VVTOOL_ACCESS_TOKEN", "token")
        .env("TW_APP_SECRET", "secret")
        .env("TW_ACCESS_TOKEN", "token")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{out}");
    assert!(
        out.contains("vv (vvtool): ok") && out.contains("tw (taobao-tw): ok"),
        "{out}"
    );

    // Not replaced without --force; replaced with it.
    let again = run_binary(&args);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(run_binary(&forced).code, 0);

    // Without --output, stdout; without --platform, every platform.
    let all = run_binary(&["config", "init"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    for id in [
        "taobao-tw",
        "taobao-enhanced",
        "vvtool",
        "pandapon-taobao",
        "pandapon-1688",
    ] {
        assert!(all.stdout.contains(&format!("platform = \"{id}\"")), "{id}");
    }
}
