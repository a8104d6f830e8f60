//! One phase: one backend, load-tested from a clean start.
//!
//! 1. drain every target, switch **every** target to the backend and read it
//!    back, so no buyer runs under a stale backend;
//! 2. drain every target again, then reset the SKUs (through the admin API
//!    of the first target — they share one database);
//! 3. send the load;
//! 4. drain every target again, then audit the ledger and judge.
//!
//! Why drain: the service finishes an order even after its client gave up
//! (`src/orders.rs`). With a short `--request-timeout`, an order of this
//! phase can still be running when the load ends. Audited too early, it would
//! commit after the audit and be blamed on the next phase ("recorded orders
//! never acknowledged"), or, with a stale read-check-write, overwrite the next
//! phase's reset.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sqlx::PgPool;
use stocklock_api::{Audit, Backend, DRAIN_LIMIT, Faults, LockSettings, LockSettingsUpdate};

use crate::RunError;
use crate::client::Target;
use crate::dashboard::Dashboard;
use crate::explain;
use crate::faults::{self, PhaseFault};
use crate::ledger;
use crate::load::{self, LoadPlan};
use crate::scenario::{PhaseSpec, Scenario};
use crate::stats::{Counts, LatencySummary, Outcome, Recorder, per_second, summarize};
use crate::verdict::{self, Assessment, ClientTally, Expectation, Ledger, OrderBook, Verdict};

/// The load tester's own timeout for admin calls that may wait for orders in
/// flight (a drain, a switch): a little longer than the service's limit, so
/// the service's 503 is what we see, not our own timeout.
const WAIT_FOR_ORDERS: Duration = DRAIN_LIMIT.saturating_add(Duration::from_secs(5));

/// Everything measured and concluded about one backend.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// The scenario it belongs to (`basic`, `ladder`).
    pub scenario: String,
    /// What the table calls it (`redis`, `redis fenced`).
    pub label: String,
    pub backend: Backend,
    pub expectation: Expectation,
    pub assessment: Assessment,
    pub verdict: Verdict,
    pub ledger: Ledger,
    pub settings: LockSettings,
    pub elapsed_s: f64,
    pub counts: Counts,
    pub acked_units: i64,
    pub orders_per_s: f64,
    pub requests_per_s: f64,
    /// Latency of the successful orders (201) only: a fast refusal must not
    /// make the sales look fast.
    pub latency: LatencySummary,
    /// Latency of every outcome that occurred, by outcome.
    pub latency_by_outcome: BTreeMap<&'static str, LatencySummary>,
    /// Every fault the targets injected during the load.
    pub faults: Vec<PhaseFault>,
    /// Why the phase came out as it did, in one sentence.
    pub why: Option<String>,
    /// With lock server faults: the longest stretch without a sale from the
    /// first fault until sales resumed after the last, in seconds — the
    /// time to recover, as clients saw it.
    pub recovery_s: Option<f64>,
}

/// What every phase of a run shares.
pub struct PhaseContext<'a> {
    pub scenario: Scenario,
    /// `scripts/services` and `scripts/cluster`, for phases that break
    /// lock servers.
    pub scripts: &'a faults::Scripts,
    pub targets: Arc<[Target]>,
    pub plan: &'a LoadPlan,
    pub stock: i64,
    pub settings: LockSettingsUpdate,
    pub database: Option<&'a PgPool>,
    pub must_be_safe: Option<&'a [Backend]>,
    pub show_progress: bool,
    /// The live dashboard, and the events the report replays (with
    /// `--dashboard`, `--chart` or `--pace`).
    pub dashboard: Option<&'a Dashboard>,
}

/// Runs `spec`, the run's phase number `index`.
pub async fn run(ctx: &PhaseContext<'_>, index: usize, spec: &PhaseSpec) -> Result<PhaseReport, RunError> {
    if let Some(dashboard) = ctx.dashboard {
        dashboard
            .wait_for_instructor(index, &spec.label, spec.question)
            .await;
    }
    let stock = spec.stock.unwrap_or(ctx.stock);
    // Drained first, so the switch does not wait (past the request timeout)
    // for orders of the previous phase; drained again after it, for orders
    // that a target switched earlier took meanwhile.
    drain_all(&ctx.targets).await?;
    let update = overlay(&ctx.settings, &spec.settings);
    let settings = switch_all(&ctx.targets, spec.backend, &update).await?;
    drain_all(&ctx.targets).await?;
    reset_skus(ctx, stock).await?;
    for step in &spec.prepare {
        faults::run_step(ctx.scripts, step).await?;
    }
    faults::set_all(&ctx.targets, &spec.faults).await?;

    let started_unix_ms = stocklock_api::now_unix_ms();
    let progress = progress_bar(ctx, &spec.label, stock);
    let plan = LoadPlan {
        budget: spec.requests.unwrap_or(ctx.plan.budget),
        ..ctx.plan.clone()
    };
    let watch = ctx
        .dashboard
        .map(|d| d.watch(index, &ctx.targets, &ctx.plan.skus, started_unix_ms));
    // One clock for the ticks and the faults' times.
    let started = watch
        .as_ref()
        .map_or_else(tokio::time::Instant::now, |w| w.started);
    let load_over = AtomicBool::new(false);
    let load = async {
        let live = watch.as_ref().map(|w| w.live.clone());
        let result = load::run(ctx.targets.clone(), &plan, progress.clone(), live).await;
        load_over.store(true, Ordering::Relaxed);
        result
    };
    let tell = |fault: &PhaseFault| watch.iter().for_each(|w| w.fault(fault));
    let schedule = faults::run_schedule(ctx.scripts, &spec.schedule, started, tell);
    let ticks = async {
        if let Some(watch) = &watch {
            let service_faults = spec.faults != Faults::default();
            watch.tick_until(&load_over, service_faults).await;
        }
    };
    let ((recorder, elapsed), done, ()) = tokio::join!(load, schedule, ticks);
    let done = done?;
    let recovery_s = recovery(&recorder, &done, elapsed);

    drain_all(&ctx.targets).await?;
    let mut injected = faults::collect(&ctx.targets, started_unix_ms).await?;
    if let Some(watch) = &watch {
        // The service's injections not told yet (collected just above),
        // and the ledger's last word, once every order is in.
        injected.iter().for_each(|fault| watch.fault(fault));
        watch.tick().await;
    }
    injected.extend(done);
    injected.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    faults::set_all(&ctx.targets, &Faults::default()).await?;
    let (verdict, audits) = judge(ctx, &recorder).await?;
    let expectation = spec
        .expectation
        .unwrap_or_else(|| verdict::expectation(spec.backend, ctx.targets.len(), ctx.must_be_safe));
    let assessment = verdict::assess(&verdict, expectation);
    // The live bar gives way to one plain line with the outcome (oversold
    // units run past the total, which is rather the point).
    progress.finish_and_clear();
    if ctx.show_progress {
        eprintln!(
            "{:>24}: {}/{} units sold in {:.1}s  {}",
            spec.label,
            recorder.acked_units(),
            stock * ctx.plan.skus.len() as i64,
            elapsed.as_secs_f64(),
            crate::report::verdict_label(&verdict, &assessment)
        );
    }

    let report = PhaseReport {
        scenario: ctx.scenario.to_string(),
        label: spec.label.clone(),
        backend: spec.backend,
        expectation,
        assessment,
        why: explain::with_recovery(
            explain::why(&verdict, &recorder.counts, &injected, ttl_of(&settings)),
            recovery_s,
        ),
        recovery_s,
        verdict,
        ledger: Ledger::sum(&audits),
        settings,
        elapsed_s: elapsed.as_secs_f64(),
        counts: recorder.counts,
        acked_units: recorder.acked_units(),
        orders_per_s: per_second(recorder.counts.created, elapsed),
        requests_per_s: per_second(recorder.counts.total(), elapsed),
        latency: summarize(recorder.latency_of(Outcome::Created)),
        latency_by_outcome: recorder.latency_by_outcome(),
        faults: injected,
    };
    if let Some(watch) = &watch {
        watch.verdict(&report);
    }
    Ok(report)
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

/// The run's settings with the phase's own on top (the phase's win).
fn overlay(base: &LockSettingsUpdate, phase: &LockSettingsUpdate) -> LockSettingsUpdate {
    LockSettingsUpdate {
        backend: phase.backend.or(base.backend),
        ttl_ms: phase.ttl_ms.or(base.ttl_ms),
        acquire_timeout_ms: phase.acquire_timeout_ms.or(base.acquire_timeout_ms),
        critical_section_ms: phase.critical_section_ms.or(base.critical_section_ms),
        check_before_commit: phase.check_before_commit.or(base.check_before_commit),
        renewal: phase.renewal.or(base.renewal),
        fencing: phase.fencing.or(base.fencing),
        available: None,
    }
}

/// Reads the ledger every way there is and cross-checks it with what the
/// clients saw. Returns the verdict and the audits it came from.
async fn judge(ctx: &PhaseContext<'_>, recorder: &Recorder) -> Result<(Verdict, Vec<Audit>), RunError> {
    let target = &ctx.targets[0];
    let mut audits = Vec::with_capacity(ctx.plan.skus.len());
    let mut listed = OrderBook::new();
    for sku in &ctx.plan.skus {
        audits.push(target.audit(sku).await?);
        let list = target.orders(sku).await?;
        listed.extend(list.orders.iter().map(|o| (o.order_id, o.quantity)));
    }
    let db = match ctx.database {
        Some(pool) => Some(ledger::read(pool, &ctx.plan.skus).await?),
        None => None,
    };
    let tally = ClientTally {
        acks: recorder.acks.iter().map(|a| (a.order_id, a.quantity)).collect(),
        echo_mismatches: recorder.acks.iter().filter(|a| !a.echo_matches).count() as i64,
        no_answer_quantities: recorder.no_answer_quantities.clone(),
    };
    let verdict = verdict::judge(&audits, &listed, &tally, db.as_ref());
    Ok((verdict, audits))
}

/// Waits on every target until no order is in flight there.
async fn drain_all(targets: &[Target]) -> Result<(), RunError> {
    for target in targets {
        target.drain(WAIT_FOR_ORDERS).await?;
    }
    Ok(())
}

async fn reset_skus(ctx: &PhaseContext<'_>, stock: i64) -> Result<(), RunError> {
    for sku in &ctx.plan.skus {
        ctx.targets[0].reset(sku, stock).await?;
    }
    Ok(())
}

/// Switches every target, then reads each back: a target that did not take
/// the switch would run the phase under the wrong backend.
async fn switch_all(
    targets: &[Target],
    backend: Backend,
    settings: &LockSettingsUpdate,
) -> Result<LockSettings, RunError> {
    let update = LockSettingsUpdate {
        backend: Some(backend),
        ..settings.clone()
    };
    let mut applied = None;
    for target in targets {
        target.set_lock(&update, WAIT_FOR_ORDERS).await?;
        let now = target.lock_settings().await?;
        if now.backend != backend {
            return Err(RunError::SwitchDidNotTake {
                target: target.base.clone(),
                wanted: backend,
                got: now.backend,
            });
        }
        applied = Some(now);
    }
    Ok(applied.expect("at least one target"))
}

/// A bar of units sold out of the total stock. Oversold units run past the
/// end, which is rather the point.
fn progress_bar(ctx: &PhaseContext<'_>, label: &str, stock: i64) -> ProgressBar {
    if !ctx.show_progress {
        return ProgressBar::hidden();
    }
    let total = stock as u64 * ctx.plan.skus.len() as u64;
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
