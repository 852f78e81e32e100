//! A real PostgreSQL for the tests, started by the tests themselves.
//!
//! Once per test binary, [`shared`] finds PostgreSQL's `initdb` and `postgres`
//! (`/usr/lib/postgresql/15/bin`, else `pg_config --bindir`), makes a cluster in a temp dir under
//! `CARGO_TARGET_TMPDIR` (as the `postgres` user when we run as root: initdb refuses root) and
//! serves it on a free loopback port, password-protected over TCP, with its socket in the temp dir.
//! Each test then takes its own fresh database with [`fresh_db`]. `ORDERSYNC_TEST_PG=postgres://…`
//! uses an existing server instead (its user must be allowed to `CREATE DATABASE`).
//!
//! The server must stop when the test process ends, even on a panic or a SIGKILL, and the crate
//! forbids `unsafe` (no `prctl`, no signal handlers). So the server runs under a small shell whose
//! stdin is a pipe held by the test process: the shell waits on `read`, and when the test process
//! goes away, however it goes, the pipe closes, `read` returns, and the shell stops the server
//! and removes the cluster's folder.
//!
//! If PostgreSQL is missing, the tests that need it FAIL with a message saying how to install it:
//! a PG test that passes without a server would prove nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The password of the test clusters' `postgres` role. Fixed on purpose: the tests check that it
/// never appears in ordersync's output, so it is a string that could not occur there by chance.
pub const PASSWORD: &str = "pg-test-Secret-7f3a9c";

const INSTALL_HINT: &str = "PostgreSQL 15 is needed by the PostgreSQL tests: install it with \
     `apt-get install postgresql-15` (Debian/Ubuntu; `.ci/run` does this), or point \
     ORDERSYNC_TEST_PG at a server: ORDERSYNC_TEST_PG=postgres://USER:PASSWORD@HOST:PORT/postgres";

/// A PostgreSQL server this test process started, and stops when it is dropped or when the
/// process ends.
pub struct PgServer {
    pub port: u16,
    bindir: PathBuf,
    /// The cluster's folder: `data/` and the socket folder `run/`.
    root: PathBuf,
    as_postgres: bool,
    /// The guard shell and the write end of its stdin; `None` while stopped.
    guard: Option<(Child, ChildStdin)>,
}

/// Where a test's database lives.
pub struct Db {
    /// `postgres://user:password@host:port/name`
    pub url: String,
    pub name: String,
}

enum Shared {
    Own(PgServer),
    External(String),
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn shared() -> &'static Shared {
    let s = SHARED.get_or_init(|| match std::env::var("ORDERSYNC_TEST_PG") {
        Ok(url) if !url.is_empty() => Ok(Shared::External(url)),
        _ => PgServer::start().map(Shared::Own),
    });
    match s {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// A fresh, empty database for one test, on the shared server. `tag` goes into its name to make
/// a failing test's database easy to find.
pub fn fresh_db(tag: &str) -> Db {
    let admin = match shared() {
        Shared::Own(s) => s.url("postgres"),
        Shared::External(url) => url.clone(),
    };
    create_db(&admin, tag)
}

/// A database on a given server (e.g. a dedicated one from [`PgServer::start`]).
pub fn create_db(admin_url: &str, tag: &str) -> Db {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let name = format!("t_{}_{}_{n}", clean, std::process::id());
    let admin = admin_url.to_string();
    let sql = format!("CREATE DATABASE \"{name}\"");
    block_on(async move {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
        sqlx::raw_sql(&sql)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
    Db {
        url: with_db(admin_url, &name),
        name,
    }
}

/// The same server's URL with another database.
pub fn with_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("a postgres:// URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// Run a future to completion on a small runtime of its own (tests are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn bindir() -> Result<PathBuf, String> {
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("postgres").is_file() && debian.join("initdb").is_file() {
        return Ok(debian);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("postgres").is_file() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    Err(format!(
        "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/15/bin nor in \
         `pg_config --bindir`. {INSTALL_HINT}"
    ))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// A new cluster, initialised and serving. Used once for the shared server, and by tests that
    /// need a server of their own (one they stop and start).
    pub fn start() -> Result<PgServer, String> {
        let bindir = bindir()?;
        let as_postgres = running_as_root();
        let root = tempfile::Builder::new()
            .prefix("pg-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .map_err(|e| format!("temp dir for PostgreSQL: {e}"))?
            .keep();
        std::fs::create_dir(root.join("run")).map_err(|e| e.to_string())?;
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).map_err(|e| e.to_string())?;
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err(format!(
                    "chown -R postgres {} failed: is there a `postgres` user? {INSTALL_HINT}",
                    root.display()
                ));
            }
        }
        let mut initdb = user_command(as_postgres, &bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(root.join("data"))
            .args([
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdin(Stdio::null());
        let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut server = PgServer {
            port: 0,
            bindir,
            root,
            as_postgres,
            guard: None,
        };
        // The port is free when we look, but another process may take it before the server
        // binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.serve() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Start serving (again) on `self.port`, and wait until it accepts connections.
    pub fn serve(&mut self) -> Result<(), String> {
        let data = self.root.join("data");
        let run = self.root.join("run");
        let postgres = self.bindir.join("postgres");
        let server = format!(
            "{} {q}{}{q} -D {q}{}{q} -p {} -k {q}{}{q} -c listen_addresses=127.0.0.1 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200 -c log_min_messages=fatal",
            if self.as_postgres {
                "runuser -u postgres --"
            } else {
                ""
            },
            postgres.display(),
            data.display(),
            self.port,
            run.display(),
            q = '\''
        );
        // The guard: start the server, wait for a line or EOF on stdin, then stop the server
        // (fast shutdown, by the pid in postmaster.pid: runuser need not forward signals) and,
        // unless the line was "keep", remove the cluster.
        let script = format!(
            "{server} >{q}{log}{q} 2>&1 & p=$!\n\
             read line\n\
             pid=$(head -n 1 {q}{data}/postmaster.pid{q} 2>/dev/null)\n\
             [ -n \"$pid\" ] && kill -INT \"$pid\" 2>/dev/null\n\
             wait $p\n\
             [ \"$line\" = keep ] || rm -rf {q}{root}{q}\n",
            log = self.root.join("server.log").display(),
            data = data.display(),
            root = self.root.display(),
            q = '\''
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("sh: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        self.guard = Some((child, stdin));
        let ready = self.bindir.join("pg_isready");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(&ready)
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            let exited = self
                .guard
                .as_mut()
                .map(|(c, _)| c.try_wait().ok().flatten().is_some())
                .unwrap_or(true);
            if exited || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
                self.stop();
                return Err(format!(
                    "PostgreSQL did not start on 127.0.0.1:{}: {log}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the server (fast shutdown), keeping its data for [`PgServer::serve`].
    pub fn stop(&mut self) {
        if let Some((mut child, mut stdin)) = self.guard.take() {
            let _ = stdin.write_all(b"keep\n");
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// The URL of database `db` on this server, with the password.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Closing the pipe (without "keep") stops the server and removes the cluster.
        if let Some((mut child, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = child.wait();
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn user_command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}
