//! Carrying out the subcommands: resolve the shop, build the adapter, run, report.
//!
//! Adapters come from the platform registry (`platforms::PLATFORMS`) and are driven by
//! `sync::sender`; the only platform named here is PandaPon, for options of its own
//! (`normalize --amount-unit`, `config check --probe-signature`).

use crate::cli::{Cli, Command, ConfigCommand, GetArgs, NormalizeArgs, PullArgs, SandboxArgs};
use crate::config::{Config, Shop};
use crate::error::usage;
use crate::net::{RetryPolicy, Transport, TransportOptions};
use crate::platforms::{Adapter, By, ByMode, Deferred, PlatformId};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::sink::{self, Output};
use crate::sync::{self, Plan, Summary};
use anyhow::{Context, Result};
use chrono::{Duration, Utc};
use std::io::{Read, Write};
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
        Command::Pull(args) => pull(args, config, quiet).await,
        Command::Sandbox(args) => serve_sandbox(args).await,
        Command::Get(args) => get(args, config).await,
        Command::Normalize(args) => normalize(args),
        Command::Platforms => platforms(),
        Command::Config(ConfigCommand::Check {
            online,
            shop,
            probe_signature,
        }) => {
            if probe_signature {
                probe_signature_scheme(config, online, shop.as_deref()).await
            } else {
                config_check(config, online, shop.as_deref()).await
            }
        }
        Command::State(cmd) => crate::sync::state::command(cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "ordersync", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
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
        let config = Config::parse(&text, std::path::Path::new("<sandbox>"))?;
        return Ok(Source {
            config,
            _sandbox: Some(running),
        });
    }
    Ok(Source {
        config: remember_secrets(Config::load(config)?),
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
    rate_limit: Option<u32>,
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

async fn pull(args: PullArgs, config: Option<std::path::PathBuf>, quiet: bool) -> Result<()> {
    if args.sandbox && config.is_some() {
        return Err(usage(
            "--sandbox and --config exclude each other: the sandbox brings its own config",
        ));
    }
    if args.sandbox && args.shop.is_none() && args.platform.is_none() {
        return Err(usage(format!(
            "with --sandbox, say which platform: --platform {}",
            crate::platforms::PLATFORMS
                .iter()
                .map(|p| p.spec.id)
                .collect::<Vec<_>>()
                .join("|")
        )));
    }
    if let Some(p) = args.summary_json.as_deref() {
        refuse_link("--summary-json", p)?;
    }
    let source = load_source(args.sandbox, config.as_deref(), args.sandbox_orders).await?;
    let mut shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    if let Some(url) = &args.base_url {
        shop.set_base_url(url)?;
    }
    let now = Utc::now();
    let settle = Duration::from_std(args.settle).unwrap_or(Duration::minutes(2));
    let lookback = Duration::from_std(args.lookback).unwrap_or(Duration::minutes(10));
    let latest = now - settle;
    let by = args.by.unwrap_or(match shop.platform.spec().by_modified {
        ByMode::Unsupported(_) => By::Created,
        _ => By::Modified,
    });
    let state = crate::sync::state::open(&args, by, &shop)?;
    let since = match (args.since, state.as_ref().and_then(|s| s.mark())) {
        (since, Some(mark)) => {
            if since.is_some() {
                tracing::info!(
                    "the state file has a mark for shop {:?}; --since applies only to the first run \
                     (use --no-state to backfill, or `ordersync state reset`)",
                    shop.name
                );
            }
            mark - lookback
        }
        (Some(s), None) => s,
        (None, None) if state.is_some() => {
            return Err(usage(format!(
                "the state file has no mark for shop {:?} yet: pass --since for the first run",
                shop.name
            )));
        }
        (None, None) => {
            return Err(usage(
                "--since is required (e.g. --since 7d or --since 2026-11-01)",
            ));
        }
    };
    let until = match args.until {
        Some(u) if u > latest => {
            tracing::info!("--until is later than now minus --settle; pulling up to {latest}");
            latest
        }
        Some(u) => u,
        None => latest,
    };
    let mark = state.as_ref().and_then(|s| s.mark());
    if let Some(mark) = mark.filter(|&m| m > now) {
        // A clock turned back, or a state copied from elsewhere: orders up to the mark would
        // never be pulled again.
        tracing::warn!(
            "the state's mark for shop {:?} ({}) is ahead of now ({}): everything before it \
             counts as pulled. If the clock was wrong, reset it: ordersync state reset --state {} \
             --shop {} --to TIME",
            shop.name,
            mark.to_rfc3339(),
            now.to_rfc3339(),
            args.state
                .as_deref()
                .unwrap_or(std::path::Path::new("FILE"))
                .display(),
            shop.name
        );
    }
    if since >= until
        && let Some(mark) = mark
    {
        // Resuming from the state, nothing is due yet: success, not a mistake. A mark ahead
        // of now is worth a warning (a clock turned back, a state copied from elsewhere):
        // orders up to it would never be pulled again.
        if mark <= now {
            tracing::info!(
                "nothing to pull yet: the state's mark ({}) is within --settle and --lookback of now",
                mark.to_rfc3339()
            );
        }
        let summary = Summary {
            platform: shop.platform.to_string(),
            shop: shop.name.clone(),
            since: since.to_rfc3339(),
            until: until.to_rfc3339(),
            ..Summary::default()
        };
        return report(&summary, quiet, args.summary_json.as_deref());
    }
    if since >= until {
        return Err(usage(format!(
            "nothing to pull: --since {} is not before the end of the range {}",
            since.to_rfc3339(),
            until.to_rfc3339()
        )));
    }
    let plan = Plan {
        since,
        until,
        by,
        status: args.status.clone(),
        limit: args.limit,
        window: args.window,
        page_size: args.page_size,
        // `--by created` served through modified-time windows scans up to now: an order
        // created in range and modified a moment ago must not be left out.
        scan_until: now,
        concurrency: usize::from(args.concurrency),
    };
    let output = sink::file_or_stdout(args.output.as_deref());
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, args.csv_bom, output)?;
    if let Some(dir) = output.and_then(|p| p.parent()) {
        crate::sync::state::remove_leftovers(dir);
    }
    let out = Output::open(output)?;
    let mut sink = sink::make(format, csv_mode, args.csv_bom, out);
    let t = transport(
        &shop,
        args.rate_limit,
        args.timeout,
        args.retries,
        args.dump_dir.as_deref(),
    )?
    .with_max_body(args.max_body);
    // With --output, the file appears only at the end, so the state may only advance then;
    // on stdout, each window is delivered when flushed, so the state follows each window.
    let per_window = output.is_none();
    let mut last_end = None;
    let deadline = args.give_up_after;
    let result: Result<Summary> = async {
        let a = adapter(&shop)?;
        let pulling = sync::pull(a.as_ref(), &t, &plan, sink.as_mut(), |end| {
            last_end = Some(end);
            match &state {
                Some(s) if per_window => s.advance(end),
                _ => Ok(()),
            }
        });
        // The whole run is bounded: a server answering just slowly enough never to time
        // out, or a ban waited out over and over, ends here.
        match tokio::time::timeout(deadline, pulling).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::Error::new(crate::error::GaveUp(human(deadline)))),
        }
    }
    .await;
    let mut summary = match result {
        Ok(s) => s,
        // With --output, nothing was delivered: the state must not move.
        Err(e) => return Err(e),
    };
    sink.commit()?;
    if let (Some(s), Some(end), false) = (&state, last_end, per_window) {
        s.advance(end)?;
    }
    summary.shop = shop.name.clone();
    report(&summary, quiet, args.summary_json.as_deref())
}

fn report(s: &Summary, quiet: bool, json: Option<&std::path::Path>) -> Result<()> {
    if let Some(path) = json {
        let text = crate::logging::redact(&serde_json::to_string_pretty(s)?) + "\n";
        if sink::file_or_stdout(Some(path)).is_none() {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write the summary to stdout")?;
        } else {
            write_no_follow(path, text.as_bytes())
                .with_context(|| format!("cannot write the summary to {}", path.display()))?;
        }
    }
    if !quiet {
        let line = format!(
            "ordersync: {} orders from {} (shop {}) in {:.1}s: {} windows, {} pages, {} requests ({} retried), {} duplicates dropped, {} re-scans{}{}",
            s.orders_emitted,
            s.platform,
            s.shop,
            s.elapsed_ms as f64 / 1000.0,
            s.windows,
            s.pages,
            s.requests,
            s.retries,
            s.duplicates_dropped,
            s.rescans,
            if s.windows_reasked > 0 {
                format!(
                    ", {} windows asked again for answers that contradicted themselves",
                    s.windows_reasked
                )
            } else {
                String::new()
            },
            if s.stopped_at_limit {
                " (stopped at --limit)"
            } else {
                ""
            }
        );
        eprintln!("{}", crate::logging::redact(&line));
    }
    Ok(())
}

/// A file named by `flag` must not be a symbolic link: writing through one would let whoever
/// planted it choose which file a run overwrites.
fn refuse_link(flag: &str, path: &std::path::Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(usage(format!(
            "{flag} {} is a symbolic link; it is not followed: give the file's own path",
            path.display()
        )));
    }
    Ok(())
}

/// Create or replace `path`'s content, never through a symbolic link.
fn write_no_follow(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
    opts.open(path)?.write_all(bytes)
}

async fn serve_sandbox(args: SandboxArgs) -> Result<()> {
    let opts = SandboxOptions {
        orders: args.orders,
        seed: args.seed,
        latency_ms: args.latency_ms,
        fail_rate: args.fail_rate,
        throttle_rps: args.throttle_rps,
        drift_rate: args.drift_rate,
        now: Utc::now(),
    };
    let running = crate::sandbox::spawn(args.addr, opts)
        .await
        .map_err(|e| usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", Sandbox::config_toml(running.addr))?;
    out.flush()?;
    drop(out);
    tracing::info!(
        "sandbox serving all platforms on http://{}; Ctrl-C stops it",
        running.addr
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn get(args: GetArgs, config: Option<std::path::PathBuf>) -> Result<()> {
    let source = load_source(args.sandbox, config.as_deref(), 500).await?;
    let shop = source
        .config
        .pick(args.shop.as_deref(), args.platform)?
        .clone();
    let t = transport(&shop, None, StdDuration::from_secs(30), 8, None)?;
    let orders = sync::sender::lookup(adapter(&shop)?.as_ref(), &t, &args.ids).await?;
    let mut sink = sink::make(
        args.format,
        sink::CsvMode::Lines,
        false,
        Output::open(None)?,
    );
    for o in &orders {
        sink.write(o)?;
    }
    sink.commit()
}

/// Read a whole file. A big one is read by two threads, a half each, into one buffer: copying
/// 100 MB from the page cache and touching each new page of the buffer took a tenth of a
/// `normalize` run, on one core while the other waited.
fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    const SPLIT_FROM: u64 = 16 << 20;
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut body = Vec::new();
    #[cfg(unix)]
    if meta.is_file()
        && meta.len() >= SPLIT_FROM
        && let Ok(size) = usize::try_from(meta.len())
    {
        use std::os::unix::fs::FileExt;
        body = vec![0u8; size];
        let (first, second) = body.split_at_mut(size / 2);
        std::thread::scope(|s| {
            let other = s.spawn(|| file.read_exact_at(second, (size / 2) as u64));
            let mine = file.read_exact_at(first, 0);
            mine.and(
                other
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a reading thread failed"))),
            )
        })?;
        // Then whatever was appended since the size was taken.
        file.seek(SeekFrom::Start(meta.len()))?;
    }
    file.read_to_end(&mut body)?;
    Ok(body)
}

fn normalize(args: NormalizeArgs) -> Result<()> {
    use crate::platforms::pandapon::{self, AmountUnit};
    let unit = match args.amount_unit.as_deref() {
        None => None,
        Some(_) if args.platform != PlatformId::PandaponTaobao => {
            return Err(usage(
                "--amount-unit applies to --platform pandapon-taobao only (the other platforms \
                 document their amounts)",
            ));
        }
        Some(u) => Some(AmountUnit::parse(u).ok_or_else(|| usage(format!("--amount-unit {u:?}")))?),
    };
    let mut body = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read stdin")?;
    } else {
        body = read_file(&args.file)
            .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?;
    }
    let out = Output::open(None)?;
    let (format, csv_mode) = sink::choose_format(args.format, args.csv_mode, false, None)?;
    // Reading orders and writing them take about the same time: the writing (and, where the
    // platform's reader allows, the normalizing) runs on a second thread, fed in batches, so a
    // large file is written while the rest of it is read. Batches of 1,024 wake the writer
    // seldom; two of them queued keep it busy without holding much of the file's orders.
    const BATCH: usize = 1024;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            let mut sink = sink::make(format, csv_mode, false, out);
            for batch in rx {
                match batch {
                    Batch::Orders(orders) => {
                        for o in orders {
                            match o() {
                                Ok(o) => sink.write(&o)?,
                                Err(e) => {
                                    // As when the reader fails: what came before stays.
                                    sink.flush()?;
                                    return Err(e.into());
                                }
                            }
                        }
                    }
                    Batch::End => return sink.commit(),
                }
            }
            // The reader failed: keep what was written, without closing a JSON array, so a
            // partial output never looks whole.
            Ok(sink.flush()?)
        });
        let mut batch = Vec::with_capacity(BATCH);
        let mut emit = |o| {
            batch.push(o);
            if batch.len() < BATCH {
                return true;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            // A send fails only once the writer has stopped; its error is reported below.
            tx.send(Batch::Orders(full)).is_ok()
        };
        let read = match unit {
            Some(unit) => {
                pandapon::normalize_saved_each_in(args.platform, &body, &args.shop, unit, &mut emit)
            }
            None => {
                crate::platforms::normalize_saved_each(args.platform, &body, &args.shop, &mut emit)
            }
        };
        if read.is_ok() {
            let _ = tx.send(Batch::Orders(batch));
            let _ = tx.send(Batch::End);
        }
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the output thread stopped unexpectedly")));
        // The writer's error comes first: it is about an earlier order than the reader's.
        written?;
        Ok(read?)
    })
}

/// What `normalize`'s reader hands its writer.
enum Batch<'a> {
    Orders(Vec<Deferred<'a>>),
    /// Everything was read: finish the output.
    End,
}

fn platforms() -> Result<()> {
    let mut out = std::io::stdout().lock();
    for p in crate::platforms::PLATFORMS {
        let s = p.spec;
        let by = |b: By| match s.by_mode(b) {
            ByMode::Native {
                max_window: Some(w),
            } => format!("yes (windows of at most {})", human(w)),
            ByMode::Native { max_window: None } => "yes".to_string(),
            ByMode::ViaModified => "via modified-time windows, filtered on creation time".into(),
            ByMode::Unsupported(why) => format!("no: {why}"),
        };
        writeln!(out, "{}  {}", s.id, s.title)?;
        writeln!(out, "  base url      {}", s.default_base_url)?;
        writeln!(out, "  --by created  {}", by(By::Created))?;
        writeln!(out, "  --by modified {}", by(By::Modified))?;
        writeln!(
            out,
            "  page size     {} (the most ordersync asks for)",
            s.max_page_size
        )?;
        writeln!(
            out,
            "  rate limit    {} requests/s (override with rate_limit)",
            s.default_rate_limit
        )?;
        writeln!(
            out,
            "  window        {} for --by modified, 1d for --by created (change with --window)",
            human(s.default_window)
        )?;
        writeln!(out, "  config keys   {}", s.config_keys)?;
        if !s.notes.is_empty() {
            writeln!(out, "  notes         {}", s.notes)?;
        }
        writeln!(out)?;
    }
    Ok(())
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

/// `config check --online --shop NAME --probe-signature` (PandaPon only).
async fn probe_signature_scheme(
    config: Option<std::path::PathBuf>,
    online: bool,
    shop: Option<&str>,
) -> Result<()> {
    let (true, Some(name)) = (online, shop) else {
        return Err(usage(
            "--probe-signature sends requests, so it needs --online, and --shop NAME naming a \
             PandaPon shop (pandapon-taobao or pandapon-1688)",
        ));
    };
    let config = remember_secrets(Config::load(config.as_deref())?);
    let shop = config.pick(Some(name), None)?;
    if !matches!(
        shop.platform,
        PlatformId::PandaponTaobao | PlatformId::Pandapon1688
    ) {
        return Err(usage(format!(
            "--probe-signature applies to PandaPon shops (pandapon-taobao, pandapon-1688) only: \
             shop {name:?} is {}, whose signature is documented",
            shop.platform
        )));
    }
    let t = transport(shop, None, StdDuration::from_secs(15), 2, None)?;
    let probe = crate::platforms::pandapon::probe::probe(shop, async |a, q| {
        sync::sender::bare_page(a, &t, q).await
    })
    .await?;
    print!("{}", crate::logging::redact(&probe.to_string()));
    probe.into_result()
}

async fn config_check(
    config: Option<std::path::PathBuf>,
    online: bool,
    only: Option<&str>,
) -> Result<()> {
    let config = remember_secrets(Config::load(config.as_deref())?);
    let redact = |e: &anyhow::Error| crate::logging::redact(&format!("{e:#}"));
    if let Some(name) = only {
        config.pick(Some(name), None)?;
    }
    println!(
        "config file {}: {} shop(s)",
        config.path.display(),
        config.shops.len()
    );
    let mut bad = 0;
    for shop in config
        .shops
        .iter()
        .filter(|s| only.is_none_or(|n| s.name == n))
    {
        let built: Result<()> = adapter(shop).map(drop);
        match built {
            Ok(()) => println!(
                "  {} ({}): ok, base url {}",
                shop.name, shop.platform, shop.base_url
            ),
            Err(e) => {
                bad += 1;
                println!("  {} ({}): {}", shop.name, shop.platform, redact(&e));
                continue;
            }
        }
        if online {
            let t = transport(shop, None, StdDuration::from_secs(15), 1, None)?;
            let now = Utc::now();
            let plan_window = crate::platforms::Window {
                start: now - Duration::minutes(30),
                end: now - Duration::minutes(2),
            };
            let res: Result<()> = async {
                let a = adapter(shop)?;
                let by = match a.spec().by_modified {
                    ByMode::Native { .. } => By::Modified,
                    _ => By::Created,
                };
                let q = crate::platforms::PageQuery {
                    window: plan_window,
                    by,
                    status: None,
                    page: 1,
                    page_size: 1,
                };
                sync::sender::credentials_due(a.as_ref(), &t).await?;
                sync::sender::bare_page(a.as_ref(), &t, &q)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
            .await;
            match res {
                Ok(()) => println!("    online: a signed request succeeded"),
                Err(e) => {
                    bad += 1;
                    println!("    online: {}", redact(&e));
                }
            }
        }
    }
    if bad > 0 {
        return Err(usage(format!(
            "{bad} problem(s) in {}",
            config.path.display()
        )));
    }
    Ok(())
}
