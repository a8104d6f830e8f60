//! One phase: one backend, load-tested from a clean start.
//!
//! 1. with `--pace`, wait for the instructor;
//! 2. drain every target, switch **every** target to the backend and read it
//!    back, so no buyer runs under a stale backend; drain again, reset the
//!    SKUs, set the phase's faults;
//! 3. send the load, with the fault schedule and the ticks alongside;
//! 4. drain every target again (`admin.rs` says why), then audit the ledger
//!    and judge; draw who held the lock when from the same order lists.
//!
//! Everything that happens is emitted into the run's event log through a
//! [`PhaseWatch`]; this file calls no view.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stocklock_api::{Backend, Faults, LockSettings};

use super::admin;
use super::context::Runner;
use super::ticker::PhaseWatch;
use crate::error::RunError;
use crate::events::Event;
use crate::explain;
use crate::faults::{self, PhaseFault};
use crate::i18n::Msg;
use crate::load::{self, LoadPlan};
use crate::report::model::PhaseReport;
use crate::scenario::PhaseSpec;
use crate::stats::{Outcome, Recorder, per_second, summarize};
use crate::timeline;
use crate::verdict::{self, Ledger};

/// Runs `spec`, the run's phase number `index`.
pub async fn run(runner: &Runner<'_>, index: usize, spec: &PhaseSpec) -> Result<PhaseReport, RunError> {
    if let Some(pace) = runner.pace {
        let announce = || runner.events.emit(Event::Waiting { phase: index });
        let (label, question) = (spec.label.text(runner.lang), spec.question.text(runner.lang));
        pace.wait_for_go(runner.lang, &label, &question, announce).await;
    }
    let stock = spec.stock.unwrap_or(runner.stock);
    let settings = prepare(runner, spec, stock).await?;

    let started_unix_ms = stocklock_api::now_unix_ms();
    let progress = progress_bar(runner, &spec.label.text(runner.lang), stock);
    let on = (&runner.targets[..], &runner.plan.skus[..]);
    let watch = PhaseWatch::start(runner.events, index, on, started_unix_ms, runner.ticks);
    let loaded = load(runner, spec, &watch, progress.clone(), started_unix_ms).await?;
    faults::set_all(&runner.targets, &Faults::default()).await?;

    let (recorder, elapsed) = (&loaded.recorder, loaded.elapsed);
    let (verdict, audits, lists) =
        admin::judge(&runner.targets, &runner.plan.skus, runner.database, recorder).await?;
    let instances = admin::instances(&runner.targets).await;
    watch.timeline(timeline::build(&lists, &instances, started_unix_ms));
    let expectation = runner.expectation(spec);
    let assessment = verdict::assess(&verdict, expectation);
    // The live bar gives way to one plain line with the outcome (oversold
    // units run past the total, which is rather the point).
    progress.finish_and_clear();
    if runner.show_progress {
        eprintln!(
            "{:>24}: {}/{} units sold in {:.1}s  {}",
            spec.label.text(runner.lang),
            recorder.acked_units(),
            runner.units(spec),
            elapsed.as_secs_f64(),
            verdict::label(&verdict, &assessment).text(runner.lang)
        );
    }
    let why = explain::why(&verdict, &recorder.counts, &loaded.faults, ttl_of(&settings))
        .map(|why| explain::with_recovery(why, loaded.recovery_s));
    let report = PhaseReport {
        scenario: runner.scenario.clone(),
        label: spec.label.to_string(),
        label_i18n: spec.label.every(),
        backend: spec.backend,
        expectation,
        assessment,
        why: why.as_ref().map(|why| why.text(runner.lang)),
        why_i18n: why.as_ref().map(Msg::every),
        recovery_s: loaded.recovery_s,
        verdict,
        ledger: Ledger::sum(&audits),
        settings,
        elapsed_s: elapsed.as_secs_f64(),
        counts: recorder.counts,
        retries: recorder.retries,
        acked_units: recorder.acked_units(),
        orders_per_s: per_second(recorder.counts.created, elapsed),
        requests_per_s: per_second(recorder.counts.total() + recorder.retries.sent, elapsed),
        latency: summarize(recorder.latency_of(Outcome::Created)),
        latency_by_outcome: (recorder.latency_by_outcome().into_iter())
            .map(|(outcome, summary)| (outcome.to_owned(), summary))
            .collect(),
        faults: loaded.faults,
    };
    watch.verdict(&report, runner.lang);
    Ok(report)
}

/// Step 2: every target on the phase's backend and settings, the SKUs
/// reset, the phase's faults set. Returns the settings the targets report.
async fn prepare(runner: &Runner<'_>, spec: &PhaseSpec, stock: i64) -> Result<LockSettings, RunError> {
    // Drained first, so the switch does not wait (past the request timeout)
    // for orders of the previous phase; drained again after it, for orders
    // that a target switched earlier took meanwhile.
    admin::drain_all(&runner.targets).await?;
    let update = admin::overlay(&runner.settings, &spec.settings);
    let settings = admin::switch_all(&runner.targets, spec.backend, &update).await?;
    admin::drain_all(&runner.targets).await?;
    admin::reset_skus(&runner.targets, &runner.plan.skus, stock).await?;
    for step in &spec.prepare {
        faults::run_step(runner.scripts, step).await?;
    }
    faults::set_all(&runner.targets, &spec.faults).await?;
    Ok(settings)
}

/// What the load left: the clients' records, how long it took, every fault
/// (the schedule's and the targets', in time order), the time to recover.
struct Loaded {
    recorder: Recorder,
    elapsed: Duration,
    faults: Vec<PhaseFault>,
    recovery_s: Option<f64>,
}

/// Step 3: the load, the fault schedule and the ticks side by side; then
/// every target drained and its injections collected.
async fn load(
    runner: &Runner<'_>,
    spec: &PhaseSpec,
    watch: &PhaseWatch<'_>,
    progress: ProgressBar,
    started_unix_ms: u64,
) -> Result<Loaded, RunError> {
    let plan = LoadPlan {
        budget: spec.requests.unwrap_or(runner.plan.budget),
        ..runner.plan.clone()
    };
    let load_over = AtomicBool::new(false);
    let load = async {
        let result = load::run(runner.targets.clone(), &plan, progress, watch.window()).await;
        load_over.store(true, Ordering::Relaxed);
        result
    };
    // One clock for the ticks and the faults' times: the watch's.
    let schedule = faults::run_schedule(runner.scripts, &spec.schedule, watch.started, |fault| {
        watch.fault(fault)
    });
    let ticks = watch.tick_until(&load_over, spec.faults != Faults::default());
    let ((recorder, elapsed), done, ()) = tokio::join!(load, schedule, ticks);
    let done = done?;
    let recovery_s = recovery(&recorder, &done, elapsed);

    admin::drain_all(&runner.targets).await?;
    let mut injected = faults::collect(&runner.targets, started_unix_ms).await?;
    // The service's injections not told yet (collected just above), and
    // the ledger's last word, once every order is in.
    injected.iter().for_each(|fault| watch.fault(fault));
    watch.tick().await;
    injected.extend(done);
    injected.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    Ok(Loaded {
        recorder,
        elapsed,
        faults: injected,
        recovery_s,
    })
}

/// See [`PhaseReport::recovery_s`]; `server_faults` are in time order.
/// `None` without faults, or when the load was over (sold out) before the
/// first: nobody was waiting for a sale then.
fn recovery(recorder: &Recorder, server_faults: &[PhaseFault], elapsed: Duration) -> Option<f64> {
    let (first, last) = (server_faults.first()?, server_faults.last()?);
    let end_s = elapsed.as_secs_f64();
    (end_s > first.at_s).then(|| recorder.longest_without_sale(first.at_s, last.at_s, end_s))
}

/// The TTL of the phase's lock, if it has one.
fn ttl_of(settings: &LockSettings) -> Option<u64> {
    matches!(
        settings.backend,
        Backend::Redis | Backend::Etcd | Backend::Redlock
    )
    .then_some(settings.ttl_ms)
}

/// A bar of units sold out of the total stock. Oversold units run past the
/// end, which is rather the point.
fn progress_bar(runner: &Runner<'_>, label: &str, stock: i64) -> ProgressBar {
    if !runner.show_progress {
        return ProgressBar::hidden();
    }
    let total = stock as u64 * runner.plan.skus.len() as u64;
    let style =
        ProgressStyle::with_template("{prefix:>24} [{bar:32}] {pos:>6}/{len} units sold {elapsed:>4}  {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    // Styled while hidden, then shown: drawing before the style is set
    // leaves a stray unstyled line on the terminal.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
        .with_style(style)
        .with_prefix(label.to_owned());
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
