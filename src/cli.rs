//! The command line: subcommands, flags and their help (the contract in `docs/cli.md`).
//!
//! Only definitions live here; `app` carries them out. Values that can be checked without
//! context (times, durations, platform ids, formats) are parsed by clap, so a bad flag is
//! reported with exit code 2 before anything runs.

use crate::logging::When;
use crate::platforms::{By, PlatformId};
use crate::sink::{CsvMode, Format};
use crate::timearg::{duration_arg, duration_or_zero_arg, parse_time};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  anything else went wrong
  2  usage or config error (bad flag, date, config file, missing credential)
  3  the platform refused authentication or permission (secret, token, signature)
  4  gave up on a transient failure (network, throttling, answers that
     contradict themselves) after retries, or after --give-up-after, or a
     mirror database (--db) that stayed busy or failed mid-run; the state
     file (or the mirror's mark) is left at the last complete window
  5  verify: a window of the mirror disagrees with the platform
With several shops (pull --all, --shop PATTERN), the exit code is the worst
shop's: 2, then 3, then 1, then 4 (a failure that needs a person before one
that mends itself), 0 when every shop succeeded.

Logging: -v, -vv, -vvv or ORDERSYNC_LOG (e.g. ORDERSYNC_LOG=ordersync=debug). Logs,
warnings and progress go to stderr; data goes to stdout or --output.";

/// Pull e-commerce orders from Taobao TW, the enhanced Taobao list, vv-tool and PandaPon
/// (Taobao and 1688) into one normalized model, as NDJSON, JSON or CSV.
#[derive(Debug, Parser)]
#[command(name = "ordersync", version, after_help = EXIT_CODES, arg_required_else_help = true)]
pub struct Cli {
    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr: no progress, no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Colour the log lines on stderr: auto (a terminal, unless NO_COLOR is set), always,
    /// never.
    #[arg(long, global = true, value_enum, default_value_t = When::Auto, value_name = "WHEN")]
    pub color: When,

    /// Draw a progress line on stderr: auto (when stderr is a terminal that the data does not
    /// go to: with --output, or stdout redirected to a file; not with `| jq`), always, never.
    #[arg(long, global = true, value_enum, default_value_t = When::Auto, value_name = "WHEN")]
    pub progress: When,

    /// Config file [default: $ORDERSYNC_CONFIG, else ~/.config/ordersync/config.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Pull orders from one shop, or several at once, and write them normalized.
    #[command(after_help = PULL_EXAMPLES)]
    Pull(PullArgs),
    /// Serve the built-in emulator of all five platforms until stopped.
    #[command(after_help = SANDBOX_EXAMPLES)]
    Sandbox(SandboxArgs),
    /// Fetch named orders in full and print them normalized.
    #[command(after_help = "Example:\n  ordersync get --shop tw 558757367941")]
    Get(GetArgs),
    /// Normalize a saved raw platform response (a file, or - for stdin).
    ///
    /// Orders are written as they are read, and the response is never held whole: a file of
    /// a million orders takes a few MB of memory. An error response yields no order, even
    /// when its code comes after the orders (taobao-tw): such a file is read twice, and a pipe
    /// is copied to a temporary file while it is read. If an order is malformed, the orders
    /// before it have been written, the error names its JSON path and the exit code is not 0;
    /// a --format json array is then left unclosed, so that a partial output never parses as
    /// a whole one.
    #[command(
        after_help = "Example:\n  ordersync normalize --platform taobao-enhanced response.json | jq .order_id"
    )]
    Normalize(NormalizeArgs),
    /// List the platforms with their filters, page sizes, limits and config keys.
    #[command(after_help = "Example:\n  ordersync platforms")]
    Platforms,
    /// Check the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show or rewind the incremental-sync state.
    #[command(subcommand)]
    State(StateCommand),
    /// Replay the mirror's change feed (`pull --db`), oldest first; no platform is called.
    #[command(after_help = CHANGES_EXAMPLES)]
    Changes(ChangesArgs),
    /// Write the mirror's current orders (`pull --db`) in any format; no platform is called.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Check that the mirror holds what the platform lists, window by window (exit 5 when
    /// a window disagrees); --repair re-pulls the windows that disagree.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// List the mirror's shops: mark, orders, lease holder, last run and its error.
    #[command(after_help = SHOPS_EXAMPLES)]
    Shops(ShopsArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  ordersync completions bash > ~/.local/share/bash-completion/completions/ordersync"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or write a page per subcommand into a folder.
    #[command(
        after_help = "Examples:\n  ordersync man > ordersync.1 && man ./ordersync.1\n  ordersync man --out-dir ~/.local/share/man/man1   # ordersync.1, ordersync-pull.1, ..."
    )]
    Man {
        /// Write ordersync.1 and one page per subcommand (ordersync-pull.1, ...) into DIR.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

const PULL_EXAMPLES: &str = "\
Examples:
  # Try it without credentials, against the built-in sandbox:
  ordersync pull --sandbox --platform taobao-tw --since 7d
  # Everything modified since November 1st (+08:00), as CSV for Excel:
  ordersync pull --shop tw --since 2026-11-01 --format csv --csv-bom --output tw.csv
  # Cron: every change since the last run. Two crontab lines, as they are (cron's PATH is
  # short, and an unescaped % ends the command):
  PATH=/usr/local/bin:/usr/bin:/bin
  */15 * * * * ordersync pull --shop tw --since 1d -q --state ~/tw.json -o ~/tw-$(date +\\%F).ndjson
  # Only what jq needs:
  ordersync pull --shop vv --since 1d | jq -r '[.order_id, .status, .total] | @tsv'
  # Every shop in the config, 8 at a time, into one file, with metrics for node_exporter:
  ordersync pull --all --since 1d -q --state ~/state.json -o ~/all.ndjson \\
    --summary-json ~/summary.json --metrics-file /var/lib/node_exporter/ordersync.prom
  # The shops whose names start with tw-:
  ordersync pull --shop 'tw-*' --since 1d --state ~/state.json";

const SANDBOX_EXAMPLES: &str = "\
Examples:
  ordersync sandbox --addr 127.0.0.1:8787 > sb.toml &
  ordersync pull --config sb.toml --shop sandbox-taobao-tw --since 1d

On start it prints a complete config file (one shop per platform, named
sandbox-<platform id>) on stdout, then a blank line; logs go to stderr.";

/// `ordersync pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Platform id; picks the only shop of that platform in the config (with --all or a
    /// --shop pattern: keeps the shops of that platform).
    #[arg(long, value_enum, value_name = "ID", env = "ORDERSYNC_PLATFORM")]
    pub platform: Option<PlatformId>,

    /// Shop name (a [shops.NAME] table in the config). Repeat it for several shops, or give a
    /// pattern (* any characters, ? one character; quote it): --shop 'tw-*'. Several shops are
    /// pulled at once, into one output; see --all.
    #[arg(long, value_name = "NAME", env = "ORDERSYNC_SHOP")]
    pub shop: Vec<String>,

    /// Pull every shop in the config, --shops-at-once at a time, each with its own rate
    /// limit, state entry and windows. Orders go to one output, interleaved by whole orders
    /// (the shop key says whose); a shop that fails does not stop the others; the summary
    /// has a row per shop.
    #[arg(long, conflicts_with = "shop")]
    pub all: bool,

    /// With several shops: how many are pulled at once.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub shops_at_once: u16,

    /// Start of the range: RFC 3339, a date (2026-11-01, +08:00), "2026-11-01 08:00:00" or a
    /// duration ago (30m, 24h, 7d). Not needed when --state holds a mark.
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub since: Option<DateTime<Utc>>,

    /// End of the range (exclusive) [default: now minus --settle].
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,

    /// Which time the range applies to: when orders were created, or last modified
    /// [default: modified, or created on platforms that only filter on creation time].
    #[arg(long, value_enum)]
    pub by: Option<By>,

    /// Only orders in this status: a normalized one (pending_payment, paid, awaiting_shipment,
    /// partially_shipped, shipped, delivered, completed, cancelled, refunded), or the
    /// platform's own code (ready_to_ship, WAIT_SELLER_SEND_GOODS, 10; see `ordersync
    /// platforms`).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,

    /// Output format [default: from the --output file's extension (.csv, .json, .ndjson,
    /// .jsonl), else ndjson].
    #[arg(long, value_enum, env = "ORDERSYNC_FORMAT")]
    pub format: Option<Format>,

    /// CSV rows: one per order line (order columns repeated) or one per order [default:
    /// lines]. CSV output only.
    #[arg(long = "csv", value_enum, value_name = "MODE")]
    pub csv_mode: Option<CsvMode>,

    /// Start CSV output with a UTF-8 byte-order mark (for Excel). CSV output only.
    #[arg(long)]
    pub csv_bom: bool,

    /// Write to FILE (via a temporary file renamed into place when complete) instead of stdout;
    /// - is stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Incremental sync state file: start from its mark, advance it after each complete window.
    #[arg(long, value_name = "FILE", conflicts_with = "no_state")]
    pub state: Option<PathBuf>,

    /// Do not read or write any state (backfill a range).
    #[arg(long)]
    pub no_state: bool,

    /// Mirror the orders into a database (sqlite:FILE, or a FILE ending in .db or .sqlite, or
    /// postgres://USER:PASSWORD@HOST/DB for a fleet of workers) [default: the config file's
    /// `db`]: every order once, newest version, with a change feed. The mirror holds the
    /// shop's mark (no --state), and stdout gets only new and changed orders, with "change"
    /// and "seq".
    #[arg(long, value_name = "URL", env = "ORDERSYNC_DB")]
    pub db: Option<String>,

    /// With --db, each run also re-scans the orders created within this span, so that later
    /// status changes reach the mirror [default: 14d on platforms that cannot list by
    /// modification time (PandaPon; see `ordersync platforms`), else none]. 0s turns it off.
    #[arg(long, value_parser = duration_or_zero_arg, value_name = "DURATION")]
    pub revisit: Option<Duration>,

    /// With --db postgres://…: how long this worker's hold on the shop lasts without renewal.
    /// It is renewed every third of that while the run works; a worker that dies (or loses
    /// the server) keeps the shop at most this long, then another worker takes it over and
    /// resumes from the mark.
    #[arg(long, value_parser = duration_arg, default_value = "2m", value_name = "DURATION")]
    pub lease: Duration,

    /// Stop after N orders.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Pull from the built-in sandbox (started in-process); no config needed.
    #[arg(long)]
    pub sandbox: bool,

    /// Generated orders per platform in the --sandbox.
    #[arg(long, default_value_t = 500, value_name = "N", requires = "sandbox")]
    pub sandbox_orders: usize,

    /// Override the shop's base URL.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Scan window length [default: per platform; see `ordersync platforms`]. The longest a
    /// window gets: windows holding many orders (more than 40 pages) are cut shorter.
    #[arg(long, value_parser = duration_arg, value_name = "DURATION")]
    pub window: Option<Duration>,

    /// Results per page [default: the largest the platform allows]. Smaller pages mean more
    /// requests; useful to reproduce paging problems.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub page_size: Option<u32>,

    /// Never pull closer to now than this: the platforms take a moment to list changes.
    #[arg(long, value_parser = duration_or_zero_arg, default_value = "2m", value_name = "DURATION")]
    pub settle: Duration,

    /// With --state, start this much before the mark: the platforms lag at peaks.
    #[arg(long, value_parser = duration_or_zero_arg, default_value = "10m", value_name = "DURATION")]
    pub lookback: Duration,

    /// Requests per second, above 0; fractions allowed (0.5: one every 2 s) [default: the
    /// shop's rate_limit, else the platform's documented limit].
    #[arg(long, value_name = "N", value_parser = rate_arg)]
    pub rate_limit: Option<f64>,

    /// Pages of one window fetched at once; above 1, the next window's first page (on
    /// creation-time scans) and the next has_next page are also asked for ahead. 1: one request at a time. The
    /// rate limit paces every request either way.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Timeout of one request: for the answer to start, and again for its body to be read
    /// (answers are read one at a time; waiting for that turn is not counted).
    #[arg(long, value_parser = duration_arg, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,

    /// Retries of a failing request before giving up (exit 4).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub retries: usize,

    /// Give up on the whole run after this long (exit 4; the state stays at the last
    /// complete window, so the next run resumes there).
    #[arg(long, value_parser = duration_arg, default_value = "10m", value_name = "DURATION")]
    pub give_up_after: Duration,

    /// The largest answer read, once inflated when it came gzipped (e.g. 64MiB, 512KiB); a
    /// larger one is an error. Far above the largest real page.
    #[arg(long, value_parser = size_arg, default_value = "64MiB", value_name = "SIZE")]
    pub max_body: u64,

    /// Also write the end-of-run summary as JSON to FILE (- is stdout), for failed runs
    /// too. One shop: one object; several (--all, a --shop pattern, --shop twice): an object
    /// with a row per shop in "shops".
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Also write the run's figures per shop in the Prometheus text format to FILE (replaced
    /// atomically, for node_exporter's textfile collector: name it *.prom), for failed runs
    /// too.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Folder for raw bodies of malformed responses, private to the user (0700, own)
    /// [default: $XDG_CACHE_HOME/ordersync/bodies, else ~/.cache/ordersync/bodies].
    #[arg(long, value_name = "DIR", env = "ORDERSYNC_DUMP_DIR")]
    pub dump_dir: Option<PathBuf>,
}

const CHANGES_EXAMPLES: &str = "\
Each line is one change: {\"seq\", \"shop\", \"order_id\", \"change\" (new|updated),
\"changed\" (the top-level keys that differed), \"at\", \"order\" (as the mirror holds it
now)}. A consumer that keeps the last seq it took and passes it to --after never misses
or repeats a change.

Examples:
  ordersync changes --db sqlite:orders.db --after 1200
  ordersync changes --db orders.db --shop tw | jq -r 'select(.change == \"updated\") | .order_id'";

const EXPORT_EXAMPLES: &str = "\
Examples:
  ordersync export --db sqlite:orders.db --shop tw --since 2026-11-01 --format csv -o nov.csv
  ordersync export --db orders.db --status awaiting_shipment | jq -r .order_id";

const SHOPS_EXAMPLES: &str = "\
Examples:
  ordersync shops --db postgres://ordersync@db.internal/orders
  ordersync shops --db orders.db --format json | jq -r '.[] | select(.last_error) | .shop'";

const VERIFY_HELP: &str = "\
Each --db run keeps a ledger of its windows: what the platform said each
held and how many orders the mirror received. verify asks the platform again,
cheaply (page 1 at one order per page: the window's total only), over the
ledger's windows (the platform's default windows where there is no ledger),
and counts the mirror's orders of the shop whose scanned time (created or
modified, as the shop is pulled) falls in each window. vv-tool gives no
totals: its windows are verified by a full id scan, which names the orders
missing (so are windows of other platforms that disagree and hold few orders).

One line per window that disagrees, then a summary, on stdout:
  changed  the platform's count differs from the one recorded at pull time
           (orders modified or added since: a pull from the mark takes them)
  missing  the platform lists orders the mirror does not hold
  extra    the mirror holds orders the platform does not list there

--repair pulls the disagreeing windows into the mirror again (as pull
--no-state: the mark does not move; what changes is in the change feed,
`ordersync changes`), then verifies again.

Exit codes:
  0  every window agrees
  5  a window disagrees (after the repair, with --repair)
  1, 2, 3, 4  as for pull (2: a shop the mirror never pulled, a bad flag)

Examples:
  ordersync verify --shop tw --db orders.db --since 7d
  ordersync verify --shop vv --db orders.db --since 2026-11-01 --until 2026-11-08 --repair";

/// `ordersync verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The shop to verify (a [shops.NAME] table in the config, pulled into the mirror).
    #[arg(long, value_name = "NAME", env = "ORDERSYNC_SHOP")]
    pub shop: String,

    /// The mirror: sqlite:FILE (or a FILE ending in .db or .sqlite) or postgres://…
    /// [default: the config file's `db`].
    #[arg(long, value_name = "URL", env = "ORDERSYNC_DB")]
    pub db: Option<String>,

    /// Start of the range (same forms as pull: RFC 3339, a date, a duration ago).
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub since: DateTime<Utc>,

    /// End of the range (exclusive) [default: the shop's mark; never past it].
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,

    /// Re-pull the windows that disagree into the mirror, then verify again.
    #[arg(long)]
    pub repair: bool,

    /// Window length where the ledger has no windows [default: as pull's].
    #[arg(long, value_parser = duration_arg, value_name = "DURATION")]
    pub window: Option<Duration>,

    /// Override the shop's base URL.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Requests per second [default: the shop's rate_limit, else the platform's].
    #[arg(long, value_name = "N", value_parser = rate_arg)]
    pub rate_limit: Option<f64>,

    /// Timeout of one request.
    #[arg(long, value_parser = duration_arg, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,

    /// Retries of a failing request before giving up (exit 4).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub retries: usize,
}

/// `ordersync shops`.
#[derive(Debug, Args)]
pub struct ShopsArgs {
    /// The mirror: postgres://USER@HOST/DB or sqlite:FILE [default: $ORDERSYNC_DB, else the
    /// config file's `db`].
    #[arg(long, value_name = "URL", env = "ORDERSYNC_DB")]
    pub db: Option<String>,

    /// table (aligned columns) or json (an array of objects).
    #[arg(long, value_enum, default_value_t = ShopsFormat::Table)]
    pub format: ShopsFormat,
}

/// How `ordersync shops` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShopsFormat {
    Table,
    Json,
}

/// `ordersync changes`.
#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// The mirror: sqlite:FILE (or a FILE ending in .db or .sqlite).
    #[arg(long, value_name = "URL", env = "ORDERSYNC_DB")]
    pub db: String,
    /// Only this shop's changes.
    #[arg(long, value_name = "NAME")]
    pub shop: Option<String>,
    /// Only changes after this seq (the last one a consumer took).
    #[arg(long, default_value_t = 0, value_name = "SEQ")]
    pub after: i64,
    /// Stop after N changes.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// ndjson (default) or json.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `ordersync export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The mirror: sqlite:FILE (or a FILE ending in .db or .sqlite).
    #[arg(long, value_name = "URL", env = "ORDERSYNC_DB")]
    pub db: String,
    /// Only this shop's orders.
    #[arg(long, value_name = "NAME")]
    pub shop: Option<String>,
    /// Orders whose --by time is at or after TIME (same forms as pull).
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub since: Option<DateTime<Utc>>,
    /// Orders whose --by time is before TIME.
    #[arg(long, value_parser = time_arg, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,
    /// Which time --since and --until apply to [default: created].
    #[arg(long, value_enum)]
    pub by: Option<By>,
    /// Only orders in this normalized status (paid, awaiting_shipment, ...).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Output format [default: from the --output file's extension, else ndjson].
    #[arg(long, value_enum, env = "ORDERSYNC_FORMAT")]
    pub format: Option<Format>,
    /// CSV rows: one per order line, or one per order [default: lines].
    #[arg(long = "csv", value_enum, value_name = "MODE")]
    pub csv_mode: Option<CsvMode>,
    /// Start CSV output with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    pub csv_bom: bool,
    /// Write to FILE (via a temporary file renamed into place when complete); - is stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `ordersync sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    pub addr: std::net::SocketAddr,
    /// Generated orders per platform (and per shop), built on demand: ten million start at
    /// once.
    #[arg(long, default_value_t = 500, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100_000_000))]
    pub orders: usize,
    /// Shops per platform, each with its own credentials and orders, named
    /// sandbox-<platform>-1 ... -N in the printed config (one shop keeps sandbox-<platform>).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub shops: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,
    /// Delay added to every answer.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Share of requests that fail (5xx, reset, timeout, truncated body, throttle code).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_rate: f64,
    /// Requests per second per platform before answering with its throttle error
    /// [default: the platform's documented limit, where it has one].
    #[arg(long, value_name = "N")]
    pub throttle_rps: Option<u32>,
    /// Chance, per list request, that orders are modified or added mid-scan.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub drift_rate: f64,
}

/// `ordersync get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[arg(long, value_enum, value_name = "ID", env = "ORDERSYNC_PLATFORM")]
    pub platform: Option<PlatformId>,
    #[arg(long, value_name = "NAME", env = "ORDERSYNC_SHOP")]
    pub shop: Option<String>,
    /// Use the built-in sandbox.
    #[arg(long)]
    pub sandbox: bool,
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    pub format: Format,
    /// Order ids.
    #[arg(required = true, value_name = "ORDER_ID")]
    pub ids: Vec<String>,
}

/// `ordersync normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    #[arg(long, value_enum, value_name = "ID")]
    pub platform: PlatformId,
    /// Shop name to put in the output.
    #[arg(long, default_value = "local", value_name = "NAME")]
    pub shop: String,
    /// Output format [default: ndjson].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV rows: one per order line or one per order [default: lines]. CSV output only.
    #[arg(long = "csv", value_enum, value_name = "MODE")]
    pub csv_mode: Option<CsvMode>,
    /// A saved response body; - reads stdin.
    #[arg(default_value = "-", value_name = "FILE")]
    pub file: PathBuf,
    /// pandapon-taobao: the unit of the saved page's amounts (undocumented; a shop's
    /// `amount_unit`) [default: fen].
    #[arg(long, value_name = "UNIT", value_parser = ["fen", "yuan"])]
    pub amount_unit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented config with one shop per platform asked for, to fill in.
    #[command(
        after_help = "Examples:\n  ordersync config init --platform taobao-tw > ~/.config/ordersync/config.toml\n  ordersync config init --platform vvtool --platform pandapon-1688 --output shops.toml\n  ordersync config init   # every platform"
    )]
    Init {
        /// A platform to write a shop for (repeat it; all of them when not given).
        #[arg(long, value_enum, value_name = "ID")]
        platform: Vec<PlatformId>,
        /// Write to FILE (created private, 0600) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace FILE when it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// Load the config, resolve every secret, and report per shop.
    #[command(
        after_help = "Examples:\n  ordersync config check\n  ordersync config check --online --config shops.toml\n  ordersync config check --online --shop pp --probe-signature"
    )]
    Check {
        /// Also make one cheap signed request per shop.
        #[arg(long)]
        online: bool,
        /// Check only this shop.
        #[arg(long, value_name = "NAME")]
        shop: Option<String>,
        /// PandaPon: sign one cheap request with each signature scheme, report which the
        /// server accepts and print the `signature_scheme` line to keep (needs --online and
        /// --shop naming a PandaPon shop).
        #[arg(long)]
        probe_signature: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state file.
    #[command(
        after_help = "Example:\n  ordersync state show --state ~/.local/state/ordersync/tw.json"
    )]
    Show {
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        #[arg(long, value_name = "NAME")]
        shop: Option<String>,
    },
    /// Rewind (or clear) the mark of one shop.
    #[command(
        after_help = "Examples:\n  ordersync state reset --state tw.json --shop tw --to 2026-11-20\n  ordersync state reset --state tw.json --shop tw   # forget it: the next run needs --since"
    )]
    Reset {
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        #[arg(long, value_name = "NAME")]
        shop: Option<String>,
        /// New mark; without it the shop's entry is removed (the next run needs --since).
        #[arg(long, value_parser = time_arg, value_name = "TIME")]
        to: Option<DateTime<Utc>>,
    },
}

fn time_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time(s, Utc::now())
}

/// A size in bytes: a number, optionally with KiB/MiB/GiB (or K/M/G, KB/MB/GB: all binary).
fn size_arg(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "{s:?} is not a size; use e.g. 64MiB, 512KiB or 1000000"
            ));
        }
    };
    n.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("{s:?} is not a size; use e.g. 64MiB, 512KiB or 1000000"))
}

fn rate_arg(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of requests per second"))?;
    crate::config::check_rate(rate)
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(size_arg("64MiB"), Ok(64 << 20));
        assert_eq!(size_arg("512k"), Ok(512 << 10));
        assert_eq!(size_arg("1000"), Ok(1000));
        for bad in ["", "0", "MiB", "1TiB", "-1", "99999999999999999999G"] {
            assert!(size_arg(bad).is_err(), "{bad}");
        }
    }
}
