//! The load test as the command line asks for it: from the options to a
//! report. It checks the options, reaches the targets, picks the scenario's
//! phases by name, builds the event log (and, with `--dashboard`, serves
//! the page that subscribes to it), and hands everything to the runner.
//!
//! The top of the crate, below only `main.rs`: the one place that knows the
//! options, the scenarios by name, the runner and the dashboard together,
//! so that none of them needs to know another. A test drives a run through
//! here exactly as the binary does.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use stocklock_api::LockSettingsUpdate;

use crate::cli::RunArgs;
use crate::client::{Target, http_client};
use crate::dashboard::server;
use crate::error::RunError;
use crate::events::EventLog;
use crate::faults::Scripts;
use crate::i18n::Lang;
use crate::ledger;
use crate::load::{LoadPlan, Model};
use crate::pace::Pace;
use crate::report::model::Report;
use crate::retry::RetryPolicy;
use crate::runner::{self, Runner};
use crate::scenario;

/// Runs every phase and returns the report. `Err` means the run itself
/// failed (a target unreachable, say); a backend that oversold is in the
/// report, with `passed == false` if it must not have.
pub async fn run(args: &RunArgs) -> Result<Report, RunError> {
    Ok(run_with_events(args).await?.0)
}

/// [`run`], and the run's events, for `--chart` to replay.
pub async fn run_with_events(args: &RunArgs) -> Result<(Report, Arc<EventLog>), RunError> {
    validate(args)?;
    let targets = reach_targets(args).await?;
    let database = match &args.database_url {
        Some(url) => Some(ledger::connect(url).await?),
        None => None,
    };
    let plan = load_plan(args);
    let events = Arc::new(EventLog::default());
    // Watched live: a page to serve, a report to replay, an instructor to
    // wait for. The ticks (and their ledger reads) are only for them.
    let watched = args.dashboard.is_some() || args.chart.is_some() || args.pace;
    let pace = args.pace.then(|| Pace::new(std::io::stdin().is_terminal()));
    if let Some(addr) = args.dashboard {
        let allowed_hosts = args
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let bound = server::serve(events.clone(), pace.clone(), addr, allowed_hosts)
            .await
            .map_err(|source| RunError::Dashboard { addr, source })?;
        eprintln!("dashboard: http://{}/", browsable(bound));
    }
    let scripts = Scripts {
        services: args.services.clone(),
        cluster: args.cluster.clone(),
    };
    let runner = Runner {
        scenario: args.scenario.to_string(),
        scripts: &scripts,
        targets,
        plan: &plan,
        stock: args.stock,
        settings: settings(args),
        critical_section_ms: args.critical_section_ms,
        database: database.as_ref(),
        must_be_safe: args.must_be_safe.as_deref(),
        show_progress: !args.no_progress && std::io::stderr().is_terminal(),
        events: &events,
        ticks: watched,
        pace: pace.as_deref(),
        title: args.title.clone(),
        lang: args.lang.unwrap_or_else(Lang::from_env),
        chosen_lang: args.lang,
    };
    let specs = scenario::phases(args.scenario, &args.backends);
    let report = runner::run(&runner, &specs).await?;
    Ok((report, events))
}

/// Every target, each answering its health check.
async fn reach_targets(args: &RunArgs) -> Result<Arc<[Target]>, RunError> {
    let request_timeout = Duration::from_secs_f64(args.request_timeout);
    let http = http_client(request_timeout, args.admin_token.as_deref())
        .map_err(|err| RunError::Options(err.to_string()))?;
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
    Ok(targets)
}

/// The run's lock settings, as the options give them (unset: the
/// service's own).
fn settings(args: &RunArgs) -> LockSettingsUpdate {
    LockSettingsUpdate {
        backend: None,
        ttl_ms: args.ttl_ms,
        acquire_timeout_ms: args.acquire_timeout_ms,
        critical_section_ms: Some(args.critical_section_ms),
        check_before_commit: args.check_before_commit,
        renewal: args.renewal,
        fencing: args.fencing,
        batch_size: args.batch_size,
        available: None,
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
    } else if args.attempts == 0 {
        "--attempts must be at least 1"
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
        retry: RetryPolicy::new(args.attempts),
    }
}

/// The address to open in a browser: every address (`0.0.0.0`, as in the
/// workshop's container, which Compose publishes on the host's loopback)
/// is reached at the loopback address.
fn browsable(bound: std::net::SocketAddr) -> std::net::SocketAddr {
    if bound.ip().is_unspecified() {
        std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, bound.port()))
    } else {
        bound
    }
}

#[cfg(test)]
mod tests {
    use super::browsable;

    #[test]
    fn a_dashboard_on_every_address_is_opened_on_loopback() {
        let open = |addr: &str| browsable(addr.parse().expect("an address")).to_string();
        assert_eq!(open("0.0.0.0:58080"), "127.0.0.1:58080");
        assert_eq!(open("[::]:58080"), "127.0.0.1:58080");
        assert_eq!(open("127.0.0.1:58080"), "127.0.0.1:58080");
    }
}
