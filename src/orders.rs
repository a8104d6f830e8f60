//! Placing an order: the critical section under study.
//!
//! ```text
//! pin backend ─ acquire lock ─ [claim fence] ─ BEGIN ─ [lock in tx] ─ read ─ check ─ (work)
//!             ─ [verify lock] ─ write [if fence still ours] ─ insert order ─ COMMIT ─ release
//! ```
//!
//! The bracketed steps are the safety ladder's rungs, each a setting of
//! `PUT /admin/lock`: `check_before_commit` (verify) and `fencing` (claim,
//! and the conditional write; see `lock/fence.rs`). With both off this is
//! the article's naive lock. `atomic` does its work first, then BEGIN ─
//! conditional UPDATE ─ insert ─ COMMIT: it has no lock to do the work under.
//! The transaction itself is in [`crate::deduct`].
//!
//! The read-check-write is written naively on purpose: the lock is the only
//! thing that keeps two buyers from both selling the last unit.
//!
//! Every order runs in a task of its own (tracked by [`AppState::tasks`]),
//! not in the HTTP handler's future. If a client hangs up, hyper drops the
//! handler's future; were the deduction inside it, it would stop at whatever
//! `.await` it had reached — possibly after `COMMIT` but before the lock's
//! release, leaving the lock held until its TTL. In its own task the
//! deduction always runs to the end, and shutdown waits for it.
//!
//! The flip side: an order whose client gave up is still running, and may
//! still commit. Anyone who reads the ledger to judge a batch of orders (the
//! load tester, between phases) must first [`drain`] the instance, or a late
//! order lands in the next batch's books, or overwrites its reset.

use std::sync::Arc;
use std::time::Duration;

use stocklock_api::{Drained, Order, PausePoint};
use tokio::time::Instant;

use crate::deduct::{self, Claim};
use crate::domain::{Quantity, Sku};
use crate::error::Error;
use crate::lock::fence::{self, Fence};
use crate::lock::switch::ActiveLock;
use crate::lock::{LockError, LockGuard};
use crate::state::AppState;
use crate::store;

/// Places an order for `quantity` units of `sku` under the active lock.
pub async fn place_order(state: Arc<AppState>, sku: Sku, quantity: Quantity) -> Result<Order, Error> {
    let task = state
        .tasks
        .clone()
        .spawn(async move { place_under_lock(&state, sku, quantity).await });
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

#[tracing::instrument(level = "debug", skip(state), fields(sku = %sku))]
async fn place_under_lock(state: &AppState, sku: Sku, quantity: Quantity) -> Result<Order, Error> {
    // Held until this function returns: the backend cannot change under us.
    let active = match state.locks.pin().await {
        Ok(active) => active,
        Err(err) => {
            let placed = Err(err);
            state.metrics.answered(state.locks.current().backend, &placed);
            return placed;
        }
    };
    let placed = place_pinned(state, &active, &sku, quantity).await;
    state.metrics.answered(active.settings.backend, &placed);
    placed
}

async fn place_pinned(
    state: &AppState,
    active: &ActiveLock,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Order, Error> {
    let (key, backend) = (sku.lock_key(), active.settings.backend);
    let waiting = Instant::now();
    let acquired = active.lock.acquire(&key, active.settings.timings()).await;
    if acquired.as_ref().map_or(true, LockGuard::is_held) {
        let result = acquired.as_ref().map(|_| ());
        state.metrics.acquired(backend, result, waiting.elapsed());
    }
    let guard = acquired?.tracked_by(&state.tasks);
    let holding = guard.is_held().then(|| state.metrics.holding(backend));
    let placed = async {
        state.faults.at(PausePoint::AfterAcquire, sku, &guard).await;
        let claim = claim_before_transaction(state, &active.settings, sku, &key, guard.token()).await?;
        deduct::deduct(state, active, sku, quantity, &guard, claim).await
    }
    .await;
    // Released on success and on every error alike.
    if let Err(err) = guard.release().await {
        tracing::warn!(error = %err, %key, "releasing the lock failed; it will expire by its TTL");
    }
    drop(holding);
    placed
}

/// With `fencing`, claims the product for the lock's token right after
/// acquiring, committed on its own, before the transaction reads anything
/// (`lock/fence.rs` explains why the claim must come first). A lock that
/// lives in the transaction (`postgres`) claims inside it instead.
async fn claim_before_transaction(
    state: &AppState,
    settings: &crate::lock::switch::Settings,
    sku: &Sku,
    key: &str,
    token: Option<Fence>,
) -> Result<Claim, Error> {
    if !settings.fencing {
        return Ok(Claim::Off);
    }
    let Some(fence) = token else {
        return Ok(Claim::InTransaction);
    };
    // Committed on its own, so that every holder sees it at once; bounded by
    // the acquire timeout, like every other wait for the lock.
    let mut tx = state.pool.begin().await?;
    store::set_lock_timeout(&mut tx, settings.acquire_timeout).await?;
    let claimed = fence::claim(&mut tx, sku, &fence, settings.backend).await?;
    tx.commit().await?;
    if !claimed {
        // A newer holder claimed already: our lock is stale.
        return Err(LockError::lost(settings.backend, key).into());
    }
    Ok(Claim::Claimed(fence))
}
