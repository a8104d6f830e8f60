//! One phase: one backend, load-tested from a clean start.
//!
//! 1. reset the SKUs (through the admin API of the first target — they
//!    share one database);
//! 2. switch **every** target to the backend and read it back, so no buyer
//!    runs under a stale backend;
//! 3. send the load;
//! 4. audit the ledger and judge.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sqlx::PgPool;
use stocklock_api::{Audit, Backend, LockSettings, LockSettingsUpdate};

use crate::RunError;
use crate::client::Target;
use crate::ledger;
use crate::load::{self, LoadPlan};
use crate::stats::{Counts, LatencySummary, per_second, summarize};
use crate::verdict::{self, Assessment, ClientTally, Expectation, Ledger, Verdict};

/// Everything measured and concluded about one backend.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
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
    pub latency: LatencySummary,
}

/// What every phase of a run shares.
pub struct PhaseContext<'a> {
    pub targets: Arc<[Target]>,
    pub plan: &'a LoadPlan,
    pub stock: i64,
    pub settings: LockSettingsUpdate,
    pub database: Option<&'a PgPool>,
    pub must_be_safe: Option<&'a [Backend]>,
    pub show_progress: bool,
}

pub async fn run(ctx: &PhaseContext<'_>, backend: Backend) -> Result<PhaseReport, RunError> {
    reset_skus(ctx).await?;
    let settings = switch_all(&ctx.targets, backend, &ctx.settings).await?;

    let progress = progress_bar(ctx, backend);
    let (recorder, elapsed) = load::run(ctx.targets.clone(), ctx.plan, progress.clone()).await;

    let audits = audit_all(&ctx.targets[0], &ctx.plan.skus).await?;
    let db = match ctx.database {
        Some(pool) => Some(ledger::read(pool, &ctx.plan.skus).await?),
        None => None,
    };
    let tally = ClientTally {
        acked_ids: recorder.acks.iter().map(|a| a.order_id).collect(),
        acked_units: recorder.acked_units(),
        in_flight_failures: recorder.counts.transport_errors,
    };
    let verdict = verdict::judge(&audits, &tally, db.as_ref());
    let expectation = verdict::expectation(backend, ctx.targets.len(), ctx.must_be_safe);
    let assessment = verdict::assess(&verdict, expectation);
    // The live bar gives way to one plain line with the outcome (oversold
    // units run past the total, which is rather the point).
    progress.finish_and_clear();
    if ctx.show_progress {
        eprintln!(
            "{:>9}: {}/{} units sold in {:.1}s  {}",
            backend.as_str(),
            recorder.acked_units(),
            ctx.stock * ctx.plan.skus.len() as i64,
            elapsed.as_secs_f64(),
            crate::report::verdict_label(&verdict, &assessment)
        );
    }

    Ok(PhaseReport {
        backend,
        expectation,
        assessment,
        verdict,
        ledger: Ledger::sum(&audits),
        settings,
        elapsed_s: elapsed.as_secs_f64(),
        counts: recorder.counts,
        acked_units: tally.acked_units,
        orders_per_s: per_second(recorder.counts.created, elapsed),
        requests_per_s: per_second(recorder.counts.total(), elapsed),
        latency: summarize(&recorder.latency),
    })
}

async fn reset_skus(ctx: &PhaseContext<'_>) -> Result<(), RunError> {
    for sku in &ctx.plan.skus {
        ctx.targets[0].reset(sku, ctx.stock).await?;
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
        target.set_lock(&update).await?;
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

async fn audit_all(target: &Target, skus: &[String]) -> Result<Vec<Audit>, RunError> {
    let mut audits = Vec::with_capacity(skus.len());
    for sku in skus {
        audits.push(target.audit(sku).await?);
    }
    Ok(audits)
}

/// A bar of units sold out of the total stock. Oversold units run past the
/// end, which is rather the point.
fn progress_bar(ctx: &PhaseContext<'_>, backend: Backend) -> ProgressBar {
    if !ctx.show_progress {
        return ProgressBar::hidden();
    }
    let total = ctx.stock as u64 * ctx.plan.skus.len() as u64;
    let style =
        ProgressStyle::with_template("{prefix:>9} [{bar:32}] {pos:>6}/{len} units sold {elapsed:>4}  {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    // Styled while hidden, then shown: drawing before the style is set
    // leaves a stray unstyled line on the terminal.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
        .with_style(style)
        .with_prefix(backend.to_string());
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
