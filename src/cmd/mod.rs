//! Carrying out the subcommands, one file each (as xsv): resolve the shop, build the adapter,
//! run, report. This is the only layer that reads the command line's structs; everything below
//! takes plain values.
//!
//! Adapters come from the platform registry (`platforms::PLATFORMS`) and are driven by
//! `sync::sender`; no platform is named here: what only some platforms offer
//! (`normalize --amount-unit`, `config check --probe-signature`) is asked of the registry.

mod changes;
mod config;
mod export;
mod get;
mod normalize;
mod platforms;
mod pull;
mod pull_many;
mod sandbox;
mod shops;
mod state;
mod verify;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Config, Shop};
use crate::net::{RetryPolicy, Transport, TransportOptions};
use crate::platforms::{Adapter, shop_kinds};
use crate::sandbox::{Sandbox, SandboxOptions};
use anyhow::{Context, Result};
use std::time::Duration as StdDuration;

/// The adapter for `shop`, built by its platform's entry in the registry.
fn adapter(shop: &Shop) -> Result<Box<dyn Adapter>> {
    (shop.platform.platform().adapter)(shop)
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // The worker count is set here rather than left to tokio, which reads TOKIO_WORKER_THREADS
    // from the environment and panics when it is set to anything but a number.
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<()> {
    let Cli {
        config,
        quiet,
        command,
        ..
    } = cli;
    match command {
        Command::Pull(args) => pull::pull(args, config, quiet).await,
        Command::Sandbox(args) => sandbox::serve_sandbox(args).await,
        Command::Get(args) => get::get(args, config).await,
        Command::Normalize(args) => normalize::normalize(args),
        Command::Platforms => platforms::platforms(),
        Command::Config(ConfigCommand::Init {
            platform,
            output,
            force,
        }) => config::config_init(&platform, output.as_deref(), force),
        Command::Config(ConfigCommand::Check {
            online,
            shop,
            probe_signature,
        }) => {
            if probe_signature {
                config::probe_signature_scheme(config, online, shop.as_deref()).await
            } else {
                config::config_check(config, online, shop.as_deref()).await
            }
        }
        Command::State(cmd) => state::command(cmd),
        Command::Changes(args) => changes::changes(args).await,
        Command::Export(args) => export::export(args).await,
        Command::Shops(args) => shops::shops(args, config).await,
        Command::Verify(args) => verify::verify(args, config, quiet).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Written whole, so that a closed pipe is an error to report (clap_complete
            // panics on one) rather than a crash.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ordersync", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)?;
            Ok(())
        }
        Command::Man { out_dir: None } => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Man { out_dir: Some(dir) } => {
            use clap::CommandFactory;
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            eprintln!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}

/// A config either loaded from disk or made for an in-process sandbox, which is kept
/// running as long as this value lives.
struct Source {
    config: Config,
    _sandbox: Option<crate::sandbox::Running>,
}

async fn load_source(
    sandbox: bool,
    config: Option<&std::path::Path>,
    orders: usize,
) -> Result<Source> {
    if sandbox {
        let opts = SandboxOptions {
            orders,
            ..SandboxOptions::default()
        };
        let running = crate::sandbox::spawn("127.0.0.1:0".parse().expect("valid address"), opts)
            .await
            .context("cannot start the in-process sandbox")?;
        let text = Sandbox::config_toml(running.addr);
        let config = Config::parse(&text, std::path::Path::new("<sandbox>"), &shop_kinds())?;
        return Ok(Source {
            config,
            _sandbox: Some(running),
        });
    }
    Ok(Source {
        config: remember_secrets(Config::load(config, &shop_kinds())?),
        _sandbox: None,
    })
}

/// Every secret of every shop is redacted from all output from now on.
fn remember_secrets(config: Config) -> Config {
    use secrecy::ExposeSecret;
    for shop in &config.shops {
        for s in shop.secrets() {
            crate::logging::add_secret(s.expose_secret());
        }
    }
    config
}

fn transport(
    shop: &Shop,
    rate_limit: Option<f64>,
    timeout: StdDuration,
    retries: usize,
    dump: Option<&std::path::Path>,
) -> Result<Transport> {
    let dumps = match dump {
        Some(dir) => Some(crate::dump::Dumps::explicit(dir)?),
        None => crate::dump::Dumps::default_dir(),
    };
    Ok(Transport::new(TransportOptions {
        platform: shop.platform.as_str(),
        base_url: shop.base_url.clone(),
        rate_limit: rate_limit.unwrap_or(shop.rate_limit),
        timeout,
        retry: RetryPolicy {
            max_retries: retries,
            ..RetryPolicy::default()
        },
        secrets: shop.secrets(),
        dump_dir: None,
    })?
    .with_dumps(dumps))
}

fn human(d: StdDuration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A time echoed back to the user: in the platforms' offset (+08:00, the one dates without an
/// offset are read in), to the second; not UTC with nanoseconds.
fn shown(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&crate::model::platform_offset())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
