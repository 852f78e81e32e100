//! The binary against a hostile server: one that sits between it and the sandbox and can
//! claim orders it does not list, redirect, echo what it was sent, cut an answer off, inflate
//! a small gzip body into a huge one, or stall.
//!
//! The server speaks just enough HTTP/1.1 by hand (one request per connection) that each test
//! decides, request by request, what goes back on the wire: a forwarded answer of the sandbox
//! (changed or not), or raw bytes.

use crate::support::{Env, Run, run_binary};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the hostile server read it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the hostile server does with a request.
pub enum Reply {
    /// Ask the sandbox, and answer with its body as changed by the function.
    Forward(Box<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>),
    /// Write these bytes (a whole HTTP answer, or a piece of one) and close.
    Raw(Vec<u8>),
    /// Never answer.
    Stall,
}

type Decide = dyn Fn(&Req) -> Reply + Send + Sync;

/// A hostile server in front of `upstream` (the sandbox), with its own runtime.
pub struct Hostile {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Req>>>,
    _rt: tokio::runtime::Runtime,
}

impl Hostile {
    pub fn start(
        upstream: SocketAddr,
        decide: impl Fn(&Req) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let decide: Arc<Decide> = Arc::new(decide);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let log = seen.clone();
        rt.spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (decide, client, log) = (decide.clone(), client.clone(), log.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, upstream, &*decide, &client, &log).await;
                });
            }
        });
        Hostile {
            addr,
            seen,
            _rt: rt,
        }
    }

    /// `env`'s config with every base URL pointing here instead of at the sandbox.
    pub fn config(&self, env: &Env) -> std::path::PathBuf {
        let text = std::fs::read_to_string(&env.config).unwrap().replace(
            &format!("http://{}", env.sandbox.addr),
            &format!("http://{}", self.addr),
        );
        env.write_config("hostile.toml", &text)
    }
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    upstream: SocketAddr,
    decide: &Decide,
    client: &reqwest::Client,
    log: &Mutex<Vec<Req>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let req = Req {
        method,
        target,
        headers,
        body,
    };
    log.lock().unwrap().push(req.clone());
    match decide(&req) {
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Reply::Raw(bytes) => {
            sock.write_all(&bytes).await?;
            sock.flush().await?;
        }
        Reply::Forward(change) => {
            let url = format!("http://{upstream}{}", req.target);
            let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
            let mut rb = client.request(method, url).body(req.body.clone());
            for (k, v) in &req.headers {
                if !["host", "content-length", "connection", "accept-encoding"]
                    .contains(&k.as_str())
                {
                    rb = rb.header(k, v);
                }
            }
            let resp = rb.send().await.map_err(std::io::Error::other)?;
            let status = resp.status().as_u16();
            let answer = resp.bytes().await.map_err(std::io::Error::other)?;
            let answer = change(answer.to_vec());
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&answer).await?;
            sock.flush().await?;
        }
    }
    Ok(())
}

/// A whole JSON answer with this status line and extra headers.
pub fn answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The answer with its orders taken out and everything else (totals, `has_next`) kept: every
/// array of objects emptied, every member named by a number (vv-tool's trades) removed.
pub fn without_orders(body: Vec<u8>) -> Vec<u8> {
    fn strip(v: &mut Value) -> bool {
        let mut changed = false;
        match v {
            Value::Array(items) if items.iter().any(Value::is_object) => {
                items.clear();
                changed = true;
            }
            Value::Array(items) => {
                for i in items {
                    changed |= strip(i);
                }
            }
            Value::Object(m) => {
                let before = m.len();
                m.retain(|k, _| !k.chars().all(|c| c.is_ascii_digit()));
                changed |= m.len() != before;
                for (_, x) in m.iter_mut() {
                    changed |= strip(x);
                }
            }
            _ => {}
        }
        changed
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    strip(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// Whether the answer holds orders `without_orders` would take out.
fn has_orders(body: &[u8]) -> bool {
    without_orders(body.to_vec())
        != serde_json::to_vec(&serde_json::from_slice::<Value>(body).unwrap_or(Value::Null))
            .unwrap()
}

const SHOPS: [&str; 5] = [
    "sandbox-taobao-tw",
    "sandbox-taobao-enhanced",
    "sandbox-vvtool",
    "sandbox-pandapon-taobao",
    "sandbox-pandapon-1688",
];

fn pull(config: &std::path::Path, shop: &str, extra: &[&str]) -> Run {
    pull_retrying(config, shop, "1", extra)
}

fn pull_retrying(config: &std::path::Path, shop: &str, retries: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "pull",
        "--shop",
        shop,
        "--since",
        "3d",
        "--by",
        "created",
        "--page-size",
        "5",
        "--retries",
        retries,
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_binary(&args)
}

/// Issue 14: a page claiming orders it does not list completed the window, moved the mark and
/// exited 0. Now the window is asked again, then fails with exit 4, the mark unmoved.
#[test]
fn a_total_without_its_orders_fails_the_window_and_keeps_the_mark() {
    let env = Env::with_orders(900);
    let hostile = Hostile::start(env.sandbox.addr, |_| {
        Reply::Forward(Box::new(without_orders))
    });
    let config = hostile.config(&env);
    for shop in SHOPS {
        let state = env.path(&format!("{shop}.state.json"));
        let r = pull(&config, shop, &["--state", state.to_str().unwrap()]);
        assert_eq!(r.code, 4, "{shop}: {}", r.stderr);
        assert!(
            r.stderr.contains("contradicts itself"),
            "{shop}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{shop}: {}", r.stdout);
        let mark = std::fs::read_to_string(&state).unwrap_or_default();
        assert!(!mark.contains(shop), "{shop}: the mark moved: {mark}");
    }
}

/// One contradicting answer is asked again; the run then completes with every order and says
/// so in its summary.
#[test]
fn one_contradicting_answer_is_asked_again_and_counted() {
    let env = Env::with_orders(900);
    for shop in SHOPS {
        let lied = Arc::new(AtomicUsize::new(0));
        let l = lied.clone();
        let hostile = Hostile::start(env.sandbox.addr, move |_| {
            let l = l.clone();
            Reply::Forward(Box::new(move |body| {
                if has_orders(&body) && l.fetch_add(1, Ordering::SeqCst) == 0 {
                    without_orders(body)
                } else {
                    body
                }
            }))
        });
        let config = hostile.config(&env);
        let summary = env.path("summary.json");
        let until = chrono::Utc::now() - chrono::Duration::minutes(5);
        let until = until.to_rfc3339();
        let direct = pull(&env.config, shop, &["--until", &until]).ok();
        // Retries to spare: the sandbox's vv-tool throttles past 10 requests a second (code
        // 614), and a throttled retry of the re-asked page must not fail the run.
        let r = pull_retrying(
            &config,
            shop,
            "4",
            &[
                "--until",
                &until,
                "--summary-json",
                summary.to_str().unwrap(),
            ],
        )
        .ok();
        assert!(
            lied.load(Ordering::SeqCst) > 1,
            "{shop}: nothing was forwarded"
        );
        assert_eq!(r.ndjson().len(), direct.ndjson().len(), "{shop}");
        assert!(!direct.ndjson().is_empty(), "{shop}");
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["windows_reasked"], 1, "{shop}: {s}");
        assert!(
            r.stderr.contains("1 windows asked again"),
            "{shop}: {}",
            r.stderr
        );
    }
}

/// Issue 14: a 307 to another host was followed, the request (signature, token, a POSTed
/// client secret) re-sent there. Now it is an error naming the status and the host.
#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let env = Env::with_orders(30);
    let thief = Hostile::start(env.sandbox.addr, |_| {
        Reply::Raw(answer("200 OK", &[], b"{}"))
    });
    let to = format!("http://{}/steal", thief.addr);
    let hostile = Hostile::start(env.sandbox.addr, move |_| {
        Reply::Raw(answer("307 Temporary Redirect", &[("Location", &to)], b""))
    });
    let config = hostile.config(&env);
    for shop in ["sandbox-vvtool", "sandbox-taobao-tw"] {
        let r = pull(&config, shop, &[]);
        assert_eq!(r.code, 1, "{shop}: {}", r.stderr);
        let host = thief.addr.to_string();
        assert!(
            r.stderr.contains("307") && r.stderr.contains(&host),
            "{shop}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("/steal"), "{}", r.stderr);
    }
    assert!(hostile.seen.lock().unwrap().len() >= 2);
    assert!(
        thief.seen.lock().unwrap().is_empty(),
        "requests were re-sent to the other host"
    );
}

/// The files in a folder, with their content (none when the folder was never made).
fn saved(dir: &std::path::Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let p = e.unwrap().path();
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            (p.display().to_string(), text)
        })
        .collect()
}

/// Issue 14: the token vv-tool issues during the run is a secret too: a server echoing it
/// back (in an error, in a garbled body that gets saved) must not get it printed or saved.
#[test]
fn an_issued_token_never_leaves_the_process() {
    let env = Env::with_orders(30);
    let hostile = Hostile::start(env.sandbox.addr, |req| {
        if req.target.contains("/oauth/token") {
            return Reply::Forward(Box::new(|b| b));
        }
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        // Cut off: garbled, so saved; the token in it raw and as the header was sent.
        let body = format!(r#"{{"code":0,"data":{{"echo":"{auth}","again":"{auth}"#);
        Reply::Raw(answer("200 OK", &[], body.as_bytes()))
    });
    let config = hostile.config(&env);
    let dump = env.path("bodies");
    let r = pull(
        &config,
        "sandbox-vvtool",
        &["-vvv", "--dump-dir", dump.to_str().unwrap()],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let token = hostile
        .seen
        .lock()
        .unwrap()
        .iter()
        .flat_map(|q| q.headers.clone())
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
        .expect("a list request was sent");
    assert!(token.len() > 8, "{token}");
    assert!(r.stderr.contains("raw body saved to"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(&token),
        "the token was printed: {}",
        r.stderr
    );
    let files = saved(&dump);
    assert!(!files.is_empty());
    for (path, text) in files {
        assert!(text.contains("[REDACTED]"), "{path}: {text}");
        assert!(!text.contains(&token), "{path} holds the token");
    }
}

/// A token answer that cannot be read is not saved: it may hold the token.
#[test]
fn a_token_answer_is_never_saved() {
    let env = Env::with_orders(30);
    let hostile = Hostile::start(env.sandbox.addr, |_| {
        let body =
            br#"{"code":0,"data":{"access_token":"issued-by-the-hostile-9z8y7x","expires_in":"#;
        Reply::Raw(answer("200 OK", &[], body))
    });
    let config = hostile.config(&env);
    let dump = env.path("bodies");
    let r = pull(
        &config,
        "sandbox-vvtool",
        &["-vvv", "--dump-dir", dump.to_str().unwrap()],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("/oauth/token"), "{}", r.stderr);
    assert!(!r.stderr.contains("9z8y7x"), "{}", r.stderr);
    assert!(saved(&dump).is_empty(), "{:?}", saved(&dump));
}

/// A configured secret is removed in the forms JSON and URLs give it too: as sent in the
/// query (percent-encoded), JSON-escaped, with non-ASCII as \u escapes. From the error line
/// (a platform's message quoting it) and from a saved body alike.
#[test]
fn a_secret_is_removed_in_its_escaped_forms_too() {
    let env = Env::with_orders(0);
    let secret = "tok\"en/é-4242";
    let escaped = [
        r#"tok\"en\/é-4242"#,
        r#"tok\"en/\u00e9-4242"#,
        r#"tok\"en\/\u00E9-4242"#,
    ];
    let garbled = Arc::new(AtomicUsize::new(0));
    let g = garbled.clone();
    let hostile = Hostile::start(env.sandbox.addr, move |req| {
        let target = req.target.clone();
        if g.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            // Garbled (cut off), so saved: the query as sent, and the escaped forms.
            let body = format!(
                r#"{{"code":"0","result":{{"echo":"{target}","a":"{}","b":"{}","c":"{}""#,
                escaped[0], escaped[1], escaped[2]
            );
            Reply::Raw(answer("200 OK", &[], body.as_bytes()))
        } else {
            // An error whose message quotes the token (JSON-escaped on the wire).
            let body = format!(
                r#"{{"type":"ISV","code":"InvalidParameter","message":"bad token {} in {target}","request_id":"1"}}"#,
                escaped[1]
            );
            Reply::Raw(answer("200 OK", &[], body.as_bytes()))
        }
    });
    let text = format!(
        "[shops.t]\nplatform = \"taobao-tw\"\nbase_url = \"http://{}/rest\"\napp_key = \"1\"\n\
         app_secret = \"app-secret-1234\"\naccess_token = {}\n",
        hostile.addr,
        toml_string(secret)
    );
    let config = env.write_config("escaped.toml", &text);
    let dump = env.path("bodies");
    for _ in 0..2 {
        let r = pull(
            &config,
            "t",
            &["-vvv", "--dump-dir", dump.to_str().unwrap()],
        );
        assert_ne!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("[REDACTED]"), "{}", r.stderr);
        for form in std::iter::once(secret)
            .chain(escaped)
            .chain(["tok%22en%2F%C3%A9-4242"])
        {
            assert!(!r.stderr.contains(form), "{form} printed: {}", r.stderr);
        }
    }
    let files = saved(&dump);
    assert!(!files.is_empty());
    for (path, text) in files {
        assert!(!text.contains("4242"), "{path}: {text}");
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `ordersync ARGS` with extra environment variables.
fn run_with_env(args: &[&str], vars: &[(&str, &std::path::Path)]) -> Run {
    let mut cmd = crate::support::command();
    cmd.args(args)
        .env_remove("ORDERSYNC_LOG")
        .env_remove("ORDERSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Issue 14: bodies were saved in a shared, predictable `$TMPDIR/ordersync`. Now in the
/// user's cache folder, private, as new 0600 files; a folder open to others, or a link, is
/// refused.
#[cfg(unix)]
#[test]
fn saved_bodies_go_to_a_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_orders(0);
    let hostile = Hostile::start(env.sandbox.addr, |_| {
        Reply::Raw(answer("200 OK", &[], br#"{"code":"0","result":{"#))
    });
    let config = hostile.config(&env);
    let cache = env.path("cache");
    let args = [
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--since",
        "1d",
        "--retries",
        "0",
        "--config",
        config.to_str().unwrap(),
    ];
    let r = run_with_env(&args, &[("XDG_CACHE_HOME", &cache)]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let bodies = cache.join("ordersync/bodies");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&bodies), 0o700);
    let files = saved(&bodies);
    assert!(!files.is_empty());
    assert!(
        files.iter().any(|(p, _)| r.stderr.contains(p)),
        "{}",
        r.stderr
    );
    for (p, _) in &files {
        assert_eq!(mode(std::path::Path::new(p)), 0o600, "{p}");
    }
    let before = files.len();

    // Opened to others: refused, nothing saved, the run still says what went wrong.
    std::fs::set_permissions(&bodies, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = run_with_env(&args, &[("XDG_CACHE_HOME", &cache)]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("chmod 700"), "{}", r.stderr);
    assert_eq!(saved(&bodies).len(), before);

    // --dump-dir gets the same checks, and a bad one is a usage error before anything runs.
    let link = env.path("link");
    std::os::unix::fs::symlink(&bodies, &link).unwrap();
    let r = run_binary(&[&args[..], &["--dump-dir", link.to_str().unwrap()]].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(saved(&bodies).len(), before);
}

/// Issue 14: an answer was read whole, however big, and a small gzip body inflated without
/// bound. Now `--max-body` caps what is read, inflated.
#[test]
fn a_body_past_the_cap_is_refused_inflated_or_not() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let env = Env::with_orders(0);
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![b' '; 3 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let big = vec![b' '; 2 << 20];
    static INFLATED: AtomicUsize = AtomicUsize::new(0);
    // The first answer a gzip bomb (3 MiB of spaces in a few KiB), the second plainly big.
    let hostile = Hostile::start(env.sandbox.addr, move |_| {
        let n = INFLATED.fetch_add(1, Ordering::SeqCst);
        if n.is_multiple_of(2) {
            Reply::Raw(answer("200 OK", &[("Content-Encoding", "gzip")], &bomb))
        } else {
            Reply::Raw(answer("200 OK", &[], &big))
        }
    });
    let config = hostile.config(&env);
    for _ in 0..2 {
        let r = pull(&config, "sandbox-taobao-tw", &["--max-body", "1MiB"]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("larger than 1048576 bytes (--max-body)"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(INFLATED.load(Ordering::SeqCst), 2, "one of each");
}

/// Issue 14: nothing bounded a whole run. `--give-up-after` does: exit 4, the state at the
/// last complete window.
#[test]
fn a_stalling_server_is_given_up_on_with_the_state_at_the_last_window() {
    let env = Env::with_orders(0);
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    // No orders: one request per window. Two windows are answered, the third never is.
    let hostile = Hostile::start(env.sandbox.addr, move |_| {
        if a.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::Forward(Box::new(|b| b))
        } else {
            Reply::Stall
        }
    });
    let config = hostile.config(&env);
    let since = chrono::Utc::now() - chrono::Duration::days(4);
    let state = env.path("state.json");
    let started = std::time::Instant::now();
    let r = run_binary(&[
        "pull",
        "--shop",
        "sandbox-taobao-tw",
        "--by",
        "modified",
        "--since",
        &since.to_rfc3339(),
        "--window",
        "1d",
        "--state",
        state.to_str().unwrap(),
        "--give-up-after",
        "3s",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("--give-up-after 3s"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let mark = chrono::DateTime::parse_from_rfc3339(
        s["shops"]["sandbox-taobao-tw"]["mark"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        mark.timestamp_millis(),
        (since + chrono::Duration::days(2)).timestamp_millis()
    );
}

/// A window whose pages each look plausible (page 2 without its orders, and without a total
/// that would give it away) but add up to less than page 1's total is asked again, then fails.
#[test]
fn pages_that_do_not_add_up_to_the_total_fail_the_window() {
    let env = Env::with_orders(900);
    let hostile = Hostile::start(env.sandbox.addr, |req| {
        let form = String::from_utf8_lossy(&req.body).into_owned();
        let second = form.split('&').any(|kv| kv == "page_no=2");
        Reply::Forward(Box::new(move |body| {
            if !second {
                return body;
            }
            let mut v: Value = serde_json::from_slice(&without_orders(body)).unwrap();
            v["data"].as_object_mut().unwrap().remove("total");
            serde_json::to_vec(&v).unwrap()
        }))
    });
    let config = hostile.config(&env);
    let r = pull(&config, "sandbox-taobao-enhanced", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("but its pages held") && r.stderr.contains("asking for the window again"),
        "{}",
        r.stderr
    );
}
