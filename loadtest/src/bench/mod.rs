//! `loadtest bench`: every backend's orders/s beside what PostgreSQL and
//! the lock servers do on their own, so that a cost the workshop shows is
//! the server's and not our client's.
//!
//! One run measures, in alternating rounds (a noisy laptop then moves every
//! figure alike, and the report shows medians): pgbench with the same SQL
//! and locking ([`pgbench`]), the lock servers' own acquire/release rate
//! ([`servers`]), and `loadtest run` exactly as a user runs it — default
//! ladder settings, the service's defaults otherwise — for every backend in
//! two settings, scraping the targets' `/metrics` around each phase for
//! where a hold's time went ([`scrape`]). Then it checks the targets
//! ([`targets`]). A benchmark, not a test: it fails only when it cannot
//! run. How to read it: `docs/bench.md`.

mod pgbench;
mod scrape;
mod servers;
mod targets;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;
use stocklock_api::Backend;

use crate::cli::{BenchArgs, Cli, Command};
use crate::report::model::PhaseReport;
pub use pgbench::Script;
pub use scrape::Breakdown;
pub use targets::{TargetCheck, render};

/// Where a backend is measured: how long an order works under the lock,
/// on how many instances, with how many buyers, on how many SKUs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Setting {
    pub work_ms: u64,
    pub instances: usize,
    pub buyers: usize,
    pub skus: usize,
}

/// The settings of the targets: the lock's own cost (no work, one
/// instance), the workshop's (20 ms of work, two instances), and the same
/// on ten SKUs — locks are per SKU, so ten should sell about ten times as
/// fast (only the locks are measured there, and no reference).
pub const SETTINGS: [Setting; 3] = [
    Setting {
        work_ms: 0,
        instances: 1,
        buyers: 16,
        skus: 1,
    },
    Setting {
        work_ms: 20,
        instances: 2,
        buyers: 64,
        skus: 1,
    },
    Setting {
        work_ms: 20,
        instances: 2,
        buyers: 64,
        skus: 10,
    },
];

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} ms of work, {} instance{}, {} buyers",
            self.work_ms,
            self.instances,
            s(self.instances),
            self.buyers
        )?;
        if self.skus > 1 {
            write!(f, ", {} SKUs", self.skus)?;
        }
        Ok(())
    }
}

/// Everything one benchmark measured, as `--json` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// False when a backend that must be safe oversold, or a phase sold
    /// nothing: the figures are then not a benchmark of working locks.
    pub passed: bool,
    pub rounds: usize,
    pub seconds: f64,
    pub settings: Vec<SettingReport>,
    pub targets: Vec<TargetCheck>,
}

/// One setting: the references and every backend.
#[derive(Debug, Clone, Serialize)]
pub struct SettingReport {
    pub setting: Setting,
    /// pgbench's transactions per second, per script.
    pub pgbench: Vec<(Script, Rate)>,
    /// The lock servers' own locks per second.
    pub lock_servers: Vec<(Backend, Rate)>,
    pub backends: Vec<BackendReport>,
}

/// A rate per round, and its median.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rate {
    pub rounds: Vec<f64>,
    pub median: f64,
}

/// One backend in one setting.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: Backend,
    /// The command that measured it (the last round's), token left out.
    pub command: String,
    pub rounds: Vec<PhaseRound>,
    /// Each figure's median over the rounds.
    pub median: PhaseRound,
    /// What it is compared with, and its share of that (orders/s ÷ tps).
    pub reference: Option<Script>,
    pub share: Option<f64>,
}

/// What one phase measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseRound {
    pub orders_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// 503s of every kind: the lock's, the database's, overload.
    pub unavailable: u64,
    pub oversold: i64,
    pub elapsed_s: f64,
    /// A backend that must be safe oversold (`loadtest run`'s verdict).
    pub failed: bool,
    /// Per hold, where its time went; `None` for backends that hold no lock.
    pub breakdown: Option<Breakdown>,
}

/// Runs the benchmark; see the module documentation.
pub async fn run(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    if args.targets.len() < 2 || args.rounds == 0 || args.seconds <= 0.0 {
        bail!("the benchmark needs two --targets, --rounds ≥ 1 and --seconds > 0");
    }
    let http = crate::client::http_client(Duration::from_secs(10), args.admin_token.as_deref())?;
    let pool = crate::ledger::connect(&args.database_url)
        .await
        .context("connecting to PostgreSQL")?;
    pgbench::prepare(&pool).await?;
    let mut reports: Vec<SettingReport> = SETTINGS.iter().map(|&s| SettingReport::new(s, args)).collect();
    for round in 1..=args.rounds {
        for r in 0..reports.len() {
            let setting = reports[r].setting;
            eprintln!("round {round}/{}: {setting}", args.rounds);
            reports[r].measure_references(args).await?;
            for i in 0..reports[r].backends.len() {
                let backend = reports[r].backends[i].backend;
                let twin = one_sku_twin(&reports, setting).and_then(|twin| twin.last_rate(backend));
                let stock =
                    reports[r].stock_for(i, args.seconds, twin.map(|rate| rate * setting.skus as f64));
                let (command, measured) = phase(args, &http, setting, backend, stock).await?;
                eprintln!(
                    "  {:<9} {:>8.0} orders/s  ({} sold, {stock} per SKU)",
                    backend.as_str(),
                    measured.orders_per_s,
                    (measured.orders_per_s * measured.elapsed_s).round()
                );
                reports[r].backends[i].command = command;
                reports[r].backends[i].rounds.push(measured);
            }
        }
    }
    pgbench::clean_up(&pool).await?;
    for report in &mut reports {
        report.conclude();
    }
    let targets = targets::check(&reports);
    let phases = || reports.iter().flat_map(|r| &r.backends).flat_map(|b| &b.rounds);
    let passed = phases().all(|round| !round.failed && round.orders_per_s > 0.0);
    Ok(BenchReport {
        passed,
        rounds: args.rounds,
        seconds: args.seconds,
        settings: reports,
        targets,
    })
}

/// `none`'s stock per SKU at most: see [`SettingReport::stock_for`].
const NONE_STOCK: i64 = 500;

impl SettingReport {
    fn new(setting: Setting, args: &BenchArgs) -> Self {
        let backends = args.backends.iter().copied();
        let backends: Vec<Backend> = if setting.skus > 1 {
            backends.filter(|&b| targets::is_lock(b)).collect()
        } else {
            backends.collect()
        };
        // On several SKUs only the locks are measured, beside themselves on one.
        let references = setting.skus == 1;
        let uses = |script| references && backends.iter().any(|&b| Script::for_backend(b) == Some(script));
        let servers = [Backend::Redis, Backend::Etcd];
        SettingReport {
            setting,
            pgbench: Script::ALL
                .into_iter()
                .filter(|&s| uses(s))
                .map(|s| (s, Rate::default()))
                .collect(),
            lock_servers: servers
                .into_iter()
                .filter(|b| references && backends.contains(b))
                .map(|b| (b, Rate::default()))
                .collect(),
            backends: backends
                .iter()
                .map(|&backend| BackendReport {
                    backend,
                    command: String::new(),
                    rounds: Vec::new(),
                    median: PhaseRound::default(),
                    reference: Script::for_backend(backend),
                    share: None,
                })
                .collect(),
        }
    }

    /// One round of pgbench and of the lock servers' loops.
    async fn measure_references(&mut self, args: &BenchArgs) -> anyhow::Result<()> {
        let (work, clients, seconds) = (self.setting.work_ms, self.setting.buyers, args.seconds);
        for (script, rate) in &mut self.pgbench {
            let tps = pgbench::rate(
                &args.pgbench,
                &args.database_url,
                (*script, work),
                clients,
                seconds,
            )
            .await?;
            eprintln!("  pgbench, {}: {tps:.0} tps", script.as_str());
            rate.rounds.push(tps);
        }
        for (server, rate) in &mut self.lock_servers {
            let locks = match server {
                Backend::Redis => servers::redis(&args.redis_url, clients, work, seconds).await?,
                _ => servers::etcd(&args.etcd_endpoints, clients, work, seconds).await?,
            };
            eprintln!("  {} on its own: {locks:.0} locks/s", server.as_str());
            rate.rounds.push(locks);
        }
        Ok(())
    }

    /// A stock per SKU that lasts `seconds` at the rate the backend had
    /// last round, or else at `estimate`, or else at PostgreSQL's rate for
    /// its reference (for `none`, which has none, for the atomic update).
    fn stock_for(&self, i: usize, seconds: f64, estimate: Option<f64>) -> i64 {
        let backend = &self.backends[i];
        let script = backend.reference.unwrap_or(Script::Atomic);
        let reference = self
            .pgbench
            .iter()
            .find(|(s, _)| *s == script)
            .and_then(|(_, rate)| rate.rounds.last().copied());
        let rate = backend
            .rounds
            .last()
            .map(|round| round.orders_per_s)
            .or(estimate)
            .or(reference)
            .unwrap_or(50.0);
        let per_sku = rate * seconds / self.setting.skus as f64;
        let stock = (per_sku.ceil() as i64).max(2 * self.setting.buyers as i64);
        if backend.backend == Backend::None {
            // It sells many times its stock, and its audit (an overlap
            // self-join of the ledger) grows with the square of its orders:
            // at 35,000 it took longer than the client waits.
            return stock.min(NONE_STOCK);
        }
        stock
    }

    /// What `backend` sold per second in the last round measured.
    fn last_rate(&self, backend: Backend) -> Option<f64> {
        let measured = self.backends.iter().find(|b| b.backend == backend)?;
        measured.rounds.last().map(|round| round.orders_per_s)
    }

    fn conclude(&mut self) {
        let pgbench = self.pgbench.iter_mut().map(|(_, rate)| rate);
        for rate in pgbench.chain(self.lock_servers.iter_mut().map(|(_, rate)| rate)) {
            rate.median = median(&rate.rounds);
        }
        for backend in &mut self.backends {
            backend.median = PhaseRound::median(&backend.rounds);
            let reference = backend
                .reference
                .and_then(|script| self.pgbench.iter().find(|(s, _)| *s == script));
            backend.share = reference
                .filter(|(_, rate)| rate.median > 0.0)
                .map(|(_, rate)| backend.median.orders_per_s / rate.median);
        }
    }
}

/// For a setting on several SKUs, the same setting on one.
pub fn one_sku_twin(settings: &[SettingReport], setting: Setting) -> Option<&SettingReport> {
    let twin = |s: &Setting| s.skus == 1 && s.work_ms == setting.work_ms && s.instances == setting.instances;
    (setting.skus > 1)
        .then(|| settings.iter().find(|r| twin(&r.setting)))
        .flatten()
}

/// One `loadtest run` phase, as a user would type it, with the targets'
/// counters scraped around it.
async fn phase(
    args: &BenchArgs,
    http: &reqwest::Client,
    setting: Setting,
    backend: Backend,
    stock: i64,
) -> anyhow::Result<(String, PhaseRound)> {
    let targets = args.targets[..setting.instances].join(",");
    // A backend far slower than its estimate stops at the time limit.
    let duration = 2.0 * args.seconds + 5.0;
    let argv = [
        "loadtest".to_owned(),
        "run".to_owned(),
        format!("--targets={targets}"),
        format!("--backends={}", backend.as_str()),
        format!("--buyers={}", setting.buyers),
        format!("--critical-section-ms={}", setting.work_ms),
        format!("--skus={}", setting.skus),
        format!("--stock={stock}"),
        format!(
            "--requests={}",
            4 * stock * setting.skus as i64 + 100 * setting.buyers as i64
        ),
        format!("--duration={duration}"),
        "--check-before-commit=true".to_owned(),
        "--renewal=true".to_owned(),
        "--fencing=true".to_owned(),
        "--sku-prefix=bench".to_owned(),
        // The audit after a phase of 15,000+ orders has outlasted the
        // default 30 s on this machine (see docs/bench.md).
        "--request-timeout=180".to_owned(),
        "--no-progress".to_owned(),
    ];
    let Command::Run(mut run_args) = Cli::try_parse_from(&argv)?.command else {
        unreachable!("the arguments start with `run`")
    };
    run_args.admin_token = args.admin_token.clone();
    let targets = &args.targets[..setting.instances];
    let before = scrape::scrape(http, targets, backend).await?;
    let report = crate::run(&run_args).await?;
    let after = scrape::scrape(http, targets, backend).await?;
    let phase = report.phases.first().context("the run had no phase")?;
    Ok((
        argv[1..].join(" "),
        PhaseRound::of(phase, before.breakdown(&after)),
    ))
}

impl PhaseRound {
    fn of(phase: &PhaseReport, breakdown: Option<Breakdown>) -> Self {
        let counts = &phase.counts;
        let breakdown = breakdown.map(|b| Breakdown {
            between_ms: 1000.0 / phase.orders_per_s.max(f64::MIN_POSITIVE) - b.hold_ms,
            ..b
        });
        PhaseRound {
            orders_per_s: phase.orders_per_s,
            p50_ms: phase.latency.p50_ms,
            p99_ms: phase.latency.p99_ms,
            max_ms: phase.latency.max_ms,
            unavailable: counts.lock_unavailable + counts.other_unavailable + counts.overloaded,
            oversold: (phase.ledger.sold - phase.ledger.initial_stock).max(0),
            elapsed_s: phase.elapsed_s,
            failed: phase.assessment.fails_run(),
            breakdown,
        }
    }

    /// Each figure's median over `rounds`.
    fn median(rounds: &[PhaseRound]) -> PhaseRound {
        let of = |f: fn(&PhaseRound) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        let breakdowns: Option<Vec<Breakdown>> = rounds.iter().map(|r| r.breakdown).collect();
        PhaseRound {
            orders_per_s: of(|r| r.orders_per_s),
            p50_ms: of(|r| r.p50_ms),
            p99_ms: of(|r| r.p99_ms),
            max_ms: of(|r| r.max_ms),
            unavailable: of(|r| r.unavailable as f64).round() as u64,
            oversold: of(|r| r.oversold as f64).round() as i64,
            elapsed_s: of(|r| r.elapsed_s),
            failed: rounds.iter().any(|r| r.failed),
            breakdown: breakdowns
                .filter(|b| !b.is_empty())
                .map(|b| Breakdown::median(&b)),
        }
    }
}

impl Breakdown {
    fn median(all: &[Breakdown]) -> Breakdown {
        let of = |f: fn(&Breakdown) -> f64| median(&all.iter().map(f).collect::<Vec<_>>());
        Breakdown {
            holds: of(|b| b.holds as f64).round() as u64,
            hold_ms: of(|b| b.hold_ms),
            lock_server_trips: of(|b| b.lock_server_trips),
            lock_server_ms: of(|b| b.lock_server_ms),
            database_trips: of(|b| b.database_trips),
            database_ms: of(|b| b.database_ms),
            work_ms: of(|b| b.work_ms),
            ours_ms: of(|b| b.ours_ms),
            between_ms: of(|b| b.between_ms),
        }
    }
}

/// The middle value (the mean of the middle two for an even count); 0 for
/// none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The simulated work, as the service does it (`src/order/deduct.rs`): the
/// OS's sleep on a blocking thread, not tokio's millisecond timer.
async fn work(ms: u64) {
    if ms > 0 {
        let _slept = tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_millis(ms))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
