//! Placing an order: the critical section under study.
//!
//! ```text
//! pin backend ─ known product? ─ acquire lock ─ [claim fence] ─ BEGIN ─ read ─ check ─ (work)
//!             ─ [verify lock] ─ write [if fence still ours] ─ insert order ─ COMMIT ─ release
//! ```
//!
//! Naive on purpose: the lock is all that keeps two buyers from both selling
//! the last unit. The bracketed steps are the ladder's rungs
//! (`docs/locks.md#the-safety-ladder`); the fencing policy is decided once,
//! in `fencing.rs`, the transaction is in `deduct.rs`. An order runs in a
//! task of its own ([`AppState::tasks`]), not in the handler's future, which
//! hyper drops when the client hangs up — maybe after `COMMIT`, before the
//! release. It may commit after its client gave up: [`drain`] before judging.

mod deduct;
mod fencing;

use std::sync::Arc;
use std::time::Duration;

use stocklock_api::{Drained, Order, PausePoint};
use tokio::time::Instant;

use crate::domain::{Quantity, Sku};
use crate::error::Error;
use crate::lock::{Deduction, LockGuard};
use crate::state::AppState;
use crate::switch::ActiveLock;

/// Places an order for `quantity` units of `sku` under the active lock.
/// Past [`AppState::admission`]'s bound it is refused at once (503
/// `overloaded`), changing nothing.
pub async fn place_order(state: Arc<AppState>, sku: Sku, quantity: Quantity) -> Result<Order, Error> {
    let Ok(admitted) = Arc::clone(&state.admission).try_acquire_owned() else {
        return Err(Error::Overloaded);
    };
    let task = state.tasks.clone().spawn(async move {
        let _admitted = admitted;
        place_under_lock(&state, sku, quantity).await
    });
    task.await
        .map_err(|err| Error::Internal(format!("order task failed: {err}")))?
}

/// Waits until every order request and task of this instance has finished
/// (or `limit` passes: a 503). Orders that arrive meanwhile are waited for
/// too.
///
/// Polled, because tokio-util's `TaskTracker::wait` only returns once the
/// tracker is *closed* to new tasks, and closing it is for shutdown.
pub async fn drain(state: &AppState, limit: Duration) -> Result<Drained, Error> {
    let started = Instant::now();
    let waited_for = state.tasks.len();
    while !state.tasks.is_empty() {
        if started.elapsed() >= limit {
            return Err(Error::DrainTimedOut {
                in_flight: state.tasks.len(),
                waited: limit,
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Drained {
        waited_for,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

/// Pins the backend, places the order, and counts its answer.
#[tracing::instrument(level = "debug", skip(state), fields(sku = %sku))]
async fn place_under_lock(state: &AppState, sku: Sku, quantity: Quantity) -> Result<Order, Error> {
    // Held until this function returns: the backend cannot change under us.
    let (backend, placed) = match state.locks.pin().await {
        Ok(active) => (
            active.settings.backend,
            place_pinned(state, &active, &sku, quantity).await,
        ),
        Err(err) => (state.locks.current().backend, Err(err)),
    };
    let answer = placed.as_ref().map(|_| ()).map_err(Error::code);
    state.metrics.answered(backend, answer);
    placed
}

/// Takes the lock, runs the order under it, and releases it on every path.
async fn place_pinned(
    state: &AppState,
    active: &ActiveLock,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Order, Error> {
    if !state.products.exists(&state.pool, sku).await? {
        return Err(Error::ProductNotFound(sku.to_string()));
    }
    let key = sku.lock_key();
    let mut guard = active.lock.acquire(&key, active.settings.timings()).await?;
    let placed = under_lock(state, active, sku, quantity, &mut guard).await;
    if let Err(err) = guard.release().await {
        tracing::warn!(error = %err, %key, "releasing the lock failed; it will expire by its TTL");
    }
    placed
}

/// Everything the lock protects: the fence's claim and the transaction.
async fn under_lock(
    state: &AppState,
    active: &ActiveLock,
    sku: &Sku,
    quantity: Quantity,
    guard: &mut LockGuard,
) -> Result<Order, Error> {
    let settings = &active.settings;
    state.faults.at(PausePoint::AfterAcquire, sku, guard).await;
    let atomic = active.lock.deduction() == Deduction::ConditionalUpdate;
    if atomic {
        // The business work happens before a connection is taken: the
        // atomic baseline holds nothing while it works, so its throughput
        // is not capped at pool size ÷ critical section.
        tokio::time::sleep(settings.critical_section).await;
    }
    let (mut tx, fence) = fencing::begin(state, settings, sku, guard).await?;
    let holder = deduct::Holder {
        sku,
        quantity,
        settings,
        guard,
        fence: fence.as_ref(),
        faults: &state.faults,
    };
    let written = if atomic {
        deduct::conditional_update(&mut tx, sku, quantity).await?
    } else {
        deduct::read_check_write(&mut tx, &holder).await?
    };
    deduct::record(tx, &holder, written).await
}
