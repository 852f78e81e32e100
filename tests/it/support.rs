//! Test harness: a sandbox served in-process on a free loopback port, a temp folder with its
//! config file, and a builder for runs of the real binary.

use ordersync::sandbox::{Running, SandboxOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A sandbox plus a scratch folder holding `config.toml` for it.
pub struct Env {
    /// Serves the sandbox while the test runs the binary.
    pub _rt: tokio::runtime::Runtime,
    pub sandbox: Running,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Env {
    pub fn new(opts: SandboxOptions) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt
            .block_on(ordersync::sandbox::spawn(
                "127.0.0.1:0".parse().unwrap(),
                opts,
            ))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            ordersync::sandbox::Sandbox::config_toml(sandbox.addr),
        )
        .unwrap();
        Env {
            _rt: rt,
            sandbox,
            dir,
            config,
        }
    }

    /// A sandbox with `n` orders per platform and no faults.
    pub fn with_orders(n: usize) -> Env {
        Env::new(SandboxOptions {
            orders: n,
            ..SandboxOptions::default()
        })
    }

    /// `ordersync ARGS --config CONFIG`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push("--config".into());
        all.push(self.config.display().to_string());
        run_binary(&all)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a config file variant and return its path.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// The outcome of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "exit {}; stderr:\n{}", self.code, self.stderr);
        self
    }

    pub fn ndjson(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}"))
            })
            .collect()
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ordersync")
}

/// The binary, ready to run as a test wants it: no stdin, none of the user's ordersync
/// variables, and a cache folder (where bodies of bad answers are saved) inside the build's
/// scratch folder, so that `cargo test` leaves nothing in the user's home.
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("ORDERSYNC_LOG")
        .env_remove("ORDERSYNC_CONFIG")
        .env_remove("ORDERSYNC_PLATFORM")
        .env_remove("ORDERSYNC_SHOP")
        .env_remove("ORDERSYNC_FORMAT")
        .env_remove("ORDERSYNC_DUMP_DIR")
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("ordersync-test-cache"),
        )
        .stdin(Stdio::null());
    cmd
}

pub fn run_binary<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    command().args(args).output().unwrap().into()
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// Files in a folder (to check that no temporary file is left behind).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
