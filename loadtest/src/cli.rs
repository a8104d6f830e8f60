//! Command-line options. The doc comment of each field is its `--help`.
//!
//! Only the options: what they mean is elsewhere (a quantity range is the
//! load's, a scenario the scenarios'), and `app.rs` turns them into a run.
//! So nothing below the front end needs to import this file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stocklock_api::Backend;

use crate::i18n::Lang;
use crate::load::QuantityRange;
use crate::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Load-test every backend against the targets and report the verdicts.
    Run(RunArgs),
    /// Measure raw request capacity with GETs on one URL (compare with wrk).
    Raw(RawArgs),
    /// Benchmark every backend beside PostgreSQL's own rate for the same SQL
    /// (pgbench) and the lock servers' own (`docs/bench.md`).
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Service instances (comma-separated); buyers are spread over them.
    #[arg(
        long,
        env = "LOADTEST_TARGETS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:58081,http://127.0.0.1:58082"
    )]
    pub targets: Vec<String>,

    /// Backends to test, in order (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,local,redis,etcd,postgres,atomic,batch"
    )]
    pub backends: Vec<Backend>,

    /// What each phase sets up: `basic` (one phase per `--backends` entry),
    /// `ladder` (the safety ladder under paused holders, for redis and etcd,
    /// with postgres as a control), `kill-redis` or `kill-etcd` (the lock
    /// server killed and restarted mid-phase), `failover` (a Redis behind
    /// Sentinels failed over with a lock in flight, etcd's leader killed; the
    /// targets must use `scripts/cluster`'s servers), `partition` (the same
    /// servers cut apart by network partitions, root only; the targets must
    /// run in `scripts/cluster --net`'s namespaces). `--backends` is for
    /// `basic`.
    #[arg(long, default_value = "basic")]
    pub scenario: Scenario,

    /// The script that kills and starts lock servers for the kill scenarios.
    #[arg(long, default_value = "scripts/services")]
    pub services: PathBuf,

    /// The script that breaks the clustered lock servers (`failover`,
    /// `partition`).
    #[arg(long, default_value = "scripts/cluster")]
    pub cluster: PathBuf,

    /// Backends that must not oversell, replacing the default thresholds
    /// (`none` may oversell, `local` may with more than one target; every
    /// other backend must be safe). A listed backend that oversells fails
    /// the run.
    #[arg(long, value_delimiter = ',')]
    pub must_be_safe: Option<Vec<Backend>>,

    /// Initial stock of each SKU (40 with `--slow-motion`).
    #[arg(long, default_value_t = 100, default_value_if("slow_motion", "true", "40"))]
    pub stock: i64,

    /// Number of SKUs; 1 (the default) is a single hot product.
    #[arg(long, default_value_t = 1)]
    pub skus: usize,

    /// Closed model: concurrent buyers, each buying until sold out (8 with
    /// `--slow-motion`).
    #[arg(long, default_value_t = 64, default_value_if("slow_motion", "true", "8"))]
    pub buyers: usize,

    /// A preset for the projector: 8 buyers, 250 ms of work, 40 units, so
    /// that `none` oversells for about ten seconds and the room sees the
    /// crossing happen. Flags given beside it still win.
    #[arg(long)]
    pub slow_motion: bool,

    /// Open model instead: orders started per second, whatever the answers.
    #[arg(long, conflicts_with = "buyers")]
    pub rate: Option<f64>,

    /// Request budget per backend phase.
    #[arg(long, default_value_t = 20_000)]
    pub requests: u64,

    /// Time limit per backend phase, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,

    /// Units per order: a number (`1`) or an inclusive range (`1-3`).
    #[arg(long, default_value = "1")]
    pub quantity: QuantityRange,

    /// Simulated work inside the critical section (widens the race), ms
    /// (250 with `--slow-motion`).
    #[arg(long, default_value_t = 20, default_value_if("slow_motion", "true", "250"))]
    pub critical_section_ms: u64,

    /// Lock TTL for redis and etcd, ms (default: the service's setting).
    #[arg(long)]
    pub ttl_ms: Option<u64>,

    /// Lock acquire timeout, ms (default: the service's setting).
    #[arg(long)]
    pub acquire_timeout_ms: Option<u64>,

    /// Check the lock right before writing: true or false (default: the
    /// service's setting, true).
    #[arg(long)]
    pub check_before_commit: Option<bool>,

    /// Keep locks alive while their holder works: true or false (default:
    /// the service's setting, true).
    #[arg(long)]
    pub renewal: Option<bool>,

    /// Fencing tokens checked by PostgreSQL: true or false (default: the
    /// service's setting, true).
    #[arg(long)]
    pub fencing: Option<bool>,

    /// `batch`: the most orders one batch applies and commits together
    /// (default: the service's setting, 100).
    #[arg(long)]
    pub batch_size: Option<u64>,

    /// Also read the ledger straight from PostgreSQL, and compare order ids.
    #[arg(long, env = "LOADTEST_DATABASE_URL")]
    pub database_url: Option<String>,

    /// The targets' admin token (their `ADMIN_TOKEN`), sent as
    /// `Authorization: Bearer …` on every call but the orders.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Prefix of the SKUs the load test creates and resets.
    #[arg(long, default_value = "loadtest")]
    pub sku_prefix: String,

    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout: f64,

    /// Attempts per order, the first included: an order that got no answer
    /// at all (no connection, a timeout, a reset) is sent again with the
    /// same Idempotency-Key, so it cannot be deducted twice. 1 never retries.
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,

    /// Write every figure of the run as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Print every column of the table (about 150 columns wide), not the
    /// default's few that fit a 100-column terminal.
    #[arg(long)]
    pub wide: bool,

    /// Write the run's report as an HTML page to this file: the dashboard,
    /// self-contained, replaying the whole run (it opens offline).
    #[arg(long)]
    pub chart: Option<PathBuf>,

    /// Serve a live dashboard of the run on this address (default
    /// 127.0.0.1:58080): the page to put on a projector.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:58080")]
    pub dashboard: Option<std::net::SocketAddr>,

    /// Host names (comma-separated) the dashboard answers to besides IP
    /// addresses and `localhost`; any other name in a `Host` header is
    /// refused, so that no web page can reach it by DNS rebinding.
    #[arg(long, value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Wait before each phase until the instructor starts it: Enter in the
    /// terminal, or the button on the dashboard, which shows what comes next
    /// and the question to ask the room.
    #[arg(long)]
    pub pace: bool,

    /// What the dashboard and the report call this run, e.g. the lesson
    /// (`loadtest/workshop --lesson N` sets it).
    #[arg(long)]
    pub title: Option<String>,

    /// No progress bars (they are also off when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// The language of the table, the questions and the `why`s, and of the
    /// dashboard (which otherwise follows the browser's): `en` or `zh-CN`.
    /// Default: the locale's (`LANG`).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Two service instances; the one-instance settings use the first.
    #[arg(
        long,
        env = "LOADTEST_TARGETS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:58081,http://127.0.0.1:58082"
    )]
    pub targets: Vec<String>,

    /// Backends to measure, in order (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,local,redis,etcd,postgres,atomic,batch"
    )]
    pub backends: Vec<Backend>,

    /// The targets' PostgreSQL, for pgbench (`postgres://…`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// The targets' Redis, for its own lock rate.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:56379")]
    pub redis_url: String,

    /// The targets' etcd (comma-separated), for its own lock rate.
    #[arg(
        long,
        env = "ETCD_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:52379"
    )]
    pub etcd_endpoints: Vec<String>,

    /// The pgbench to run (Debian's postgresql-15 package ships it).
    #[arg(long, default_value = "pgbench")]
    pub pgbench: PathBuf,

    /// Rounds: every measurement once per round, in turn; the report shows
    /// each figure's median over the rounds.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,

    /// The least each measurement lasts, in seconds: a phase's stock is what
    /// the backend sold in that long in the round before (or, in the first,
    /// what PostgreSQL's own rate would sell).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,

    /// The targets' admin token (their `ADMIN_TOKEN`).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Write the whole benchmark as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RawArgs {
    /// The URL to GET, e.g. a service's /health.
    #[arg(long, default_value = "http://127.0.0.1:58081/health")]
    pub url: String,

    /// Concurrent connections, each sending one request after the other.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub connections: usize,

    /// How long to run, in seconds.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_run_tests_every_backend_in_teaching_order() {
        let cli = Cli::parse_from(["loadtest", "run"]);
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.backends, Backend::CLASSIC.to_vec());
        assert_eq!(args.targets.len(), 2);
    }

    fn run(argv: &[&str]) -> RunArgs {
        match Cli::parse_from(["loadtest", "run"].iter().chain(argv)).command {
            Command::Run(args) => args,
            _ => panic!("not run"),
        }
    }

    #[test]
    fn slow_motion_changes_the_defaults_and_flags_beside_it_still_win() {
        let figures = |a: RunArgs| (a.buyers, a.critical_section_ms, a.stock);
        assert_eq!(figures(run(&[])), (64, 20, 100));
        assert_eq!(figures(run(&["--slow-motion"])), (8, 250, 40));
        assert_eq!(figures(run(&["--slow-motion", "--buyers", "4"])), (4, 250, 40));
    }
}
