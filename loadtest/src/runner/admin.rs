//! The admin calls a phase makes around its load: drain every target,
//! switch every target and read it back, reset the SKUs, and read the
//! ledger every way there is for the judge.
//!
//! Why drain: the service finishes an order even after its client gave up.
//! With a short `--request-timeout`, an order of this phase can still be
//! running when the load ends. Audited too early, it would commit after the
//! audit and be blamed on the next phase ("recorded orders never
//! acknowledged"), or, with a stale read-check-write, overwrite the next
//! phase's reset.

use std::time::Duration;

use sqlx::PgPool;
use stocklock_api::{Audit, Backend, DRAIN_LIMIT, LockSettings, LockSettingsUpdate, OrderList};

use crate::client::Target;
use crate::error::RunError;
use crate::ledger;
use crate::stats::Recorder;
use crate::verdict::{self, ClientTally, OrderBook, Verdict};

/// The load tester's own timeout for admin calls that may wait for orders in
/// flight (a drain, a switch): a little longer than the service's limit, so
/// the service's 503 is what we see, not our own timeout.
const WAIT_FOR_ORDERS: Duration = DRAIN_LIMIT.saturating_add(Duration::from_secs(5));

/// Waits on every target until no order is in flight there.
pub async fn drain_all(targets: &[Target]) -> Result<(), RunError> {
    for target in targets {
        target.drain(WAIT_FOR_ORDERS).await?;
    }
    Ok(())
}

/// Resets every SKU to `stock`, through the first target: they share one
/// database.
pub async fn reset_skus(targets: &[Target], skus: &[String], stock: i64) -> Result<(), RunError> {
    for sku in skus {
        targets[0].reset(sku, stock).await?;
    }
    Ok(())
}

/// Switches every target, then reads each back: a target that did not take
/// the switch would run the phase under the wrong backend.
pub async fn switch_all(
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

/// The run's settings with the phase's own on top (the phase's win).
pub fn overlay(base: &LockSettingsUpdate, phase: &LockSettingsUpdate) -> LockSettingsUpdate {
    LockSettingsUpdate {
        backend: phase.backend.or(base.backend),
        ttl_ms: phase.ttl_ms.or(base.ttl_ms),
        acquire_timeout_ms: phase.acquire_timeout_ms.or(base.acquire_timeout_ms),
        critical_section_ms: phase.critical_section_ms.or(base.critical_section_ms),
        check_before_commit: phase.check_before_commit.or(base.check_before_commit),
        renewal: phase.renewal.or(base.renewal),
        fencing: phase.fencing.or(base.fencing),
        batch_size: phase.batch_size.or(base.batch_size),
        available: None,
    }
}

/// Reads the ledger every way there is — the audit, the order list, and
/// PostgreSQL directly if given — and has the judge cross-check it with what
/// the clients saw. Returns the verdict, the audits it came from, and the
/// order lists (for the timeline).
pub async fn judge(
    targets: &[Target],
    skus: &[String],
    database: Option<&PgPool>,
    recorder: &Recorder,
) -> Result<(Verdict, Vec<Audit>, Vec<OrderList>), RunError> {
    let target = &targets[0];
    let mut audits = Vec::with_capacity(skus.len());
    let mut lists = Vec::with_capacity(skus.len());
    let mut listed = OrderBook::new();
    for sku in skus {
        audits.push(target.audit(sku).await?);
        let list = target.orders(sku).await?;
        listed.extend(list.orders.iter().map(|o| (o.order_id, o.quantity)));
        lists.push(list);
    }
    let db = match database {
        Some(pool) => Some(ledger::read(pool, skus).await?),
        None => None,
    };
    let tally = ClientTally {
        acks: recorder.acks.iter().map(|a| (a.order_id, a.quantity)).collect(),
        echo_mismatches: recorder.acks.iter().filter(|a| !a.echo_matches).count() as i64,
        no_answer_quantities: recorder.no_answer_quantities.clone(),
    };
    let verdict = verdict::judge(&audits, &listed, &tally, db.as_ref());
    Ok((verdict, audits, lists))
}

/// Each target's instance name, with the target: the timeline's lanes. A
/// target that does not answer (killed by the phase) is left out; its
/// orders still get a lane, named but not placed.
pub async fn instances(targets: &[Target]) -> Vec<(String, String)> {
    let mut named = Vec::with_capacity(targets.len());
    for target in targets {
        if let Ok(health) = target.health().await {
            named.push((health.instance, target.base.clone()));
        }
    }
    named
}
