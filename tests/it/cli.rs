//! The command line itself: flags, dates, exit codes, help.

use crate::support::run_binary;

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
