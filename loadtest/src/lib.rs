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
//! | table, JSON | [`report`] |
//! | the live dashboard, and the HTML report that replays it | [`dashboard`] |
//! | raw capacity (vs wrk) | [`raw`] |

pub mod cli;
pub mod client;
pub mod dashboard;
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
use crate::dashboard::{Dashboard, Event, Pace, PlannedPhase};
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
    #[error("the dashboard cannot listen on {addr}: {source}")]
    Dashboard {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Runs every phase and returns the report. `Err` means the run itself
/// failed (a target unreachable, say); a backend that oversold is in the
/// report, with `passed == false` if it must not have.
pub async fn run(args: &RunArgs) -> Result<Report, RunError> {
    Ok(run_with_dashboard(args).await?.0)
}

/// [`run`], and the dashboard's events (with `--dashboard`, `--chart` or
/// `--pace`), for the report to replay.
pub async fn run_with_dashboard(args: &RunArgs) -> Result<(Report, Option<Arc<Dashboard>>), RunError> {
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
    let dashboard = start_dashboard(args).await?;
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
        dashboard: dashboard.as_deref(),
    };
    let specs = scenario::phases(args.scenario, &args.backends);
    if let Some(dashboard) = &dashboard {
        dashboard
            .events
            .emit(&plan_event(args, &plan, &specs, targets.len()));
    }
    let mut phases = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        phases.push(phase::run(&ctx, index, spec).await?);
    }
    let report = Report::new(
        args.scenario,
        targets.iter().map(|t| t.base.clone()).collect(),
        model_name(plan.model),
        (args.skus, args.stock),
        args.quantity.to_string(),
        args.critical_section_ms,
        phases,
    );
    if let Some(dashboard) = &dashboard {
        dashboard.events.emit(&Event::Done {
            passed: report.passed,
        });
    }
    Ok((report, dashboard))
}

/// The dashboard, if the run has one: served at `--dashboard`'s address.
async fn start_dashboard(args: &RunArgs) -> Result<Option<Arc<Dashboard>>, RunError> {
    if args.dashboard.is_none() && args.chart.is_none() && !args.pace {
        return Ok(None);
    }
    let dashboard = Arc::new(Dashboard {
        pace: args.pace.then(|| Pace::new(std::io::stdin().is_terminal())),
        ..Dashboard::default()
    });
    if let Some(addr) = args.dashboard {
        let bound = dashboard::server::serve(dashboard.clone(), addr)
            .await
            .map_err(|source| RunError::Dashboard { addr, source })?;
        eprintln!("dashboard: http://{bound}/");
    }
    Ok(Some(dashboard))
}

/// What the dashboard is told before anything runs.
fn plan_event(args: &RunArgs, plan: &LoadPlan, specs: &[scenario::PhaseSpec], targets: usize) -> Event {
    Event::Run {
        scenario: args.scenario.to_string(),
        model: model_name(plan.model),
        targets: args.targets.clone(),
        phases: specs
            .iter()
            .map(|spec| PlannedPhase {
                label: spec.label.clone(),
                backend: spec.backend,
                expectation: spec.expectation.unwrap_or_else(|| {
                    verdict::expectation(spec.backend, targets, args.must_be_safe.as_deref())
                }),
                stock: spec.stock.unwrap_or(args.stock) * plan.skus.len() as i64,
                question: spec.question.to_owned(),
            })
            .collect(),
        paced: args.pace,
    }
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
    } else if args.pace && args.dashboard.is_none() && !std::io::stdin().is_terminal() {
        "--pace needs a terminal to press Enter in, or --dashboard for its button"
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
