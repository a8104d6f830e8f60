//! The stocklock load tester: hammers one or more service instances, one
//! lock backend at a time, and proves from the database's ledger which
//! backends oversold.
//!
//! | concern | file |
//! |---|---|
//! | options | [`cli`] |
//! | talking to an instance | [`client`], [`http`] |
//! | closed and open load models | [`load`] |
//! | what each phase sets up (basic, ladder) | [`scenario`] |
//! | one phase | [`phase`] |
//! | a phase's faults, and why it came out as it did | [`faults`], [`explain`] |
//! | counts and latency statistics | [`stats`] |
//! | the three-way cross-check | [`verdict`] |
//! | reading PostgreSQL directly | [`ledger`] |
//! | table, JSON, chart | [`report`], [`chart`] |
//! | raw capacity (vs wrk) | [`raw`] |

pub mod chart;
pub mod cli;
pub mod client;
pub mod explain;
pub mod faults;
pub mod http;
pub mod ledger;
pub mod load;
pub mod phase;
pub mod raw;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod verdict;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use stocklock_api::{Backend, LockSettingsUpdate};

use crate::cli::RunArgs;
use crate::client::{ClientError, Target, http_client};
use crate::load::{LoadPlan, Model};
use crate::phase::PhaseContext;
use crate::report::Report;

/// Why a run could not be completed (as opposed to a backend failing it).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("target {target} did not switch to {wanted}: it reports {got}")]
    SwitchDidNotTake {
        target: String,
        wanted: Backend,
        got: Backend,
    },
    #[error("reading the ledger from PostgreSQL failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("invalid options: {0}")]
    Options(String),
}

/// Runs every phase and returns the report. `Err` means the run itself
/// failed (a target unreachable, say); a backend that oversold is in the
/// report, with `passed == false` if it must not have.
pub async fn run(args: &RunArgs) -> Result<Report, RunError> {
    validate(args)?;
    let request_timeout = Duration::from_secs_f64(args.request_timeout);
    let http = http_client(request_timeout);
    let targets: Arc<[Target]> = args
        .targets
        .iter()
        .map(|url| {
            Target::new(url, http.clone(), request_timeout).ok_or_else(|| {
                RunError::Options(format!("target `{url}` is not a plain http://host:port URL"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?
        .into();
    for target in targets.iter() {
        target.health().await?;
    }
    let database = match &args.database_url {
        Some(url) => Some(ledger::connect(url).await?),
        None => None,
    };
    let plan = load_plan(args);
    let scripts = faults::Scripts {
        services: args.services.clone(),
        cluster: args.cluster.clone(),
    };
    let ctx = PhaseContext {
        scenario: args.scenario,
        scripts: &scripts,
        targets: targets.clone(),
        plan: &plan,
        stock: args.stock,
        settings: LockSettingsUpdate {
            backend: None,
            ttl_ms: args.ttl_ms,
            acquire_timeout_ms: args.acquire_timeout_ms,
            critical_section_ms: Some(args.critical_section_ms),
            check_before_commit: args.check_before_commit,
            renewal: args.renewal,
            fencing: args.fencing,
            available: None,
        },
        database: database.as_ref(),
        must_be_safe: args.must_be_safe.as_deref(),
        show_progress: !args.no_progress && std::io::stderr().is_terminal(),
    };
    let specs = scenario::phases(args.scenario, &args.backends);
    let mut phases = Vec::with_capacity(specs.len());
    for spec in &specs {
        phases.push(phase::run(&ctx, spec).await?);
    }
    Ok(Report::new(
        args.scenario,
        targets.iter().map(|t| t.base.clone()).collect(),
        model_name(plan.model),
        (args.skus, args.stock),
        args.quantity.to_string(),
        args.critical_section_ms,
        phases,
    ))
}

fn validate(args: &RunArgs) -> Result<(), RunError> {
    let problem = if args.targets.is_empty() {
        "--targets needs at least one URL"
    } else if args.backends.is_empty() {
        "--backends needs at least one backend"
    } else if args.skus == 0 {
        "--skus must be at least 1"
    } else if args.stock < 0 {
        "--stock cannot be negative"
    } else if args.buyers == 0 {
        "--buyers must be at least 1"
    } else if args.rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        "--rate must be a positive number"
    } else if args.duration <= 0.0 || args.request_timeout <= 0.0 {
        "--duration and --request-timeout must be positive"
    } else {
        return Ok(());
    };
    Err(RunError::Options(problem.to_owned()))
}

fn load_plan(args: &RunArgs) -> LoadPlan {
    let model = match args.rate {
        Some(rate) => Model::Open { rate },
        None => Model::Closed { buyers: args.buyers },
    };
    LoadPlan {
        model,
        skus: (1..=args.skus)
            .map(|i| format!("{}-{i}", args.sku_prefix))
            .collect(),
        quantity: args.quantity,
        budget: args.requests,
        duration: Duration::from_secs_f64(args.duration),
    }
}

fn model_name(model: Model) -> String {
    match model {
        Model::Closed { buyers } => format!("closed model, {buyers} buyers"),
        Model::Open { rate } => format!("open model, {rate} orders/s"),
    }
}
