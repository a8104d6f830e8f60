//! Placing an order: the critical section under study.
//!
//! ```text
//! pin backend ─ known product? ─ acquire lock ─ [claim fence, reading the stock] ─ BEGIN ─ [read] ─ check
//!             ─ (work) ─ [verify lock] ─ write [if fence still ours] + insert order ─ COMMIT ─ release
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

use stocklock_api::{Backend, Drained, Order, PausePoint};
use tokio::time::Instant;

use crate::domain::{IdempotencyKey, Quantity, Sku};
use crate::error::Error;
use crate::lock::{Deduction, LockError, LockGuard, Stage};
use crate::state::AppState;
use crate::store::{self, KeyedOrder};
use crate::switch::ActiveLock;

/// An order, and whether it was placed by an earlier attempt with the
/// same idempotency key.
#[derive(Debug)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// Places an order for `quantity` units of `sku` under the active lock —
/// or, for a key an earlier attempt already placed an order under, answers
/// with that order and changes nothing (`docs/api.md#retrying-an-order`).
/// Past [`AppState::admission`]'s bound it is refused at once (503
/// `overloaded`), changing nothing.
pub async fn place_order(
    state: Arc<AppState>,
    sku: Sku,
    quantity: Quantity,
    key: Option<IdempotencyKey>,
) -> Result<Placed, Error> {
    if let Some(key) = &key
        && let Some(replayed) = replay_if_placed(&state, key, &sku, quantity).await?
    {
        state.metrics.answered(state.locks.current().backend, "replayed");
        return Ok(replayed);
    }
    let Ok(admitted) = Arc::clone(&state.admission).try_acquire_owned() else {
        return Err(Error::Overloaded);
    };
    let task = state.tasks.clone().spawn({
        let (state, sku, key) = (Arc::clone(&state), sku.clone(), key.clone());
        async move {
            let _admitted = admitted;
            place_under_lock(&state, sku, quantity, key.as_ref()).await
        }
    });
    let placed = task
        .await
        .map_err(|err| Error::Internal(format!("order task failed: {err}")))?;
    match (placed, key) {
        // Another attempt with our key committed first, and ours rolled
        // back; or a retry that waited behind its own first attempt (a
        // client timeout) found the stock that attempt took gone, or its
        // lock lost. Either way, if an attempt placed the order, that is
        // the answer.
        (Err(err @ (Error::IdempotencyKeyTaken | Error::OutOfStock { .. } | Error::Lock(_))), Some(key)) => {
            match replay_if_placed(&state, &key, &sku, quantity).await? {
                Some(replayed) => Ok(replayed),
                None if matches!(err, Error::IdempotencyKeyTaken) => {
                    Err(Error::Internal("an order's key was taken, then gone".to_owned()))
                }
                None => Err(err),
            }
        }
        (placed, _) => placed.map(|order| Placed {
            order,
            replayed: false,
        }),
    }
}

/// The order an earlier attempt placed under `key`, as the answer to this
/// one; `None` if there is none (yet).
async fn replay_if_placed(
    state: &AppState,
    key: &IdempotencyKey,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Option<Placed>, Error> {
    match store::order_by_key(&state.pool, key).await? {
        Some(first) => replay(first, sku, quantity).map(Some),
        None => Ok(None),
    }
}

/// The answer to a retry: the first order, if the retry asked for the same.
fn replay(first: KeyedOrder, sku: &Sku, quantity: Quantity) -> Result<Placed, Error> {
    if first.sku != sku.as_str() || first.quantity != quantity.get() {
        return Err(Error::IdempotencyKeyReused(first.order_id.to_string()));
    }
    let lock_backend = first
        .lock_backend
        .parse()
        .map_err(|_| Error::Internal(format!("unknown backend `{}` in the ledger", first.lock_backend)))?;
    let order = Order {
        order_id: first.order_id,
        sku: first.sku,
        quantity: first.quantity,
        remaining: first.remaining,
        lock_backend,
    };
    Ok(Placed {
        order,
        replayed: true,
    })
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
async fn place_under_lock(
    state: &AppState,
    sku: Sku,
    quantity: Quantity,
    key: Option<&IdempotencyKey>,
) -> Result<Order, Error> {
    // Held until this function returns: the backend cannot change under us.
    let (backend, placed) = match state.locks.pin().await {
        Ok(active) => (
            active.settings.backend,
            place_pinned(state, &active, (&sku, quantity, key)).await,
        ),
        Err(err) => (state.locks.current().backend, Err(err)),
    };
    let outcome = match &placed {
        Ok(_) => "created",
        Err(Error::IdempotencyKeyTaken) => "replayed",
        Err(err) => err.code().as_str(),
    };
    state.metrics.answered(backend, outcome);
    placed
}

/// What a customer asked for: the SKU, how many, and the request's key.
type Asked<'a> = (&'a Sku, Quantity, Option<&'a IdempotencyKey>);

/// Takes the lock, runs the order under it, and releases it on every path.
async fn place_pinned(state: &AppState, active: &ActiveLock, asked: Asked<'_>) -> Result<Order, Error> {
    let sku = asked.0;
    if !state.products.exists(&state.pool, sku).await? {
        return Err(Error::ProductNotFound(sku.to_string()));
    }
    let key = sku.lock_key();
    let mut guard = active.lock.acquire(&key, active.settings.timings()).await?;
    let token = guard.token().map(|fence| fence.token);
    let placed = under_lock(state, active, asked, &mut guard).await;
    if let Err(err) = guard.release().await {
        tracing::warn!(error = %err, %key, "releasing the lock failed; it will expire by its TTL");
    }
    if let Err(Error::Lock(LockError::Lost { .. })) = &placed {
        record_refusal(state, sku, active.settings.backend, token).await;
    }
    placed
}

/// Writes down an order refused for a lost lock (`store/refusals.rs` says
/// why), once its lock is released. The answer stays 409 `lock_lost`
/// whether or not this succeeds: the record only feeds the timeline.
async fn record_refusal(state: &AppState, sku: &Sku, backend: Backend, token: Option<i64>) {
    if let Err(err) = store::record_refusal(&state.pool, sku, backend, token).await {
        tracing::warn!(error = %err, %sku, "could not record a refused order for the timeline");
    }
}

/// Everything the lock protects: the fence's claim and the transaction.
async fn under_lock(
    state: &AppState,
    active: &ActiveLock,
    (sku, quantity, key): Asked<'_>,
    guard: &mut LockGuard,
) -> Result<Order, Error> {
    let settings = &active.settings;
    state.faults.at(PausePoint::AfterAcquire, sku, guard).await;
    let deduction = active.lock.deduction();
    if deduction != Deduction::ReadCheckWrite {
        // The business work happens before a connection is taken: the
        // atomic baseline holds nothing while it works, so its throughput
        // is not capped at pool size ÷ critical section.
        deduct::work(settings.critical_section).await;
    }
    match deduction {
        Deduction::Batched => return deduct::batched(state, settings, (sku, quantity, key)).await,
        Deduction::ConditionalUpdate => return deduct::at_once(state, settings, (sku, quantity, key)).await,
        Deduction::ReadCheckWrite => {}
    }
    guard.enter(Stage::Database);
    let (mut tx, fence, claimed) = fencing::begin(state, settings, sku, guard).await?;
    let holder = deduct::Holder {
        sku,
        quantity,
        settings,
        guard,
        fence: fence.as_ref(),
        claimed,
        faults: &state.faults,
        key,
        order_id: uuid::Uuid::new_v4(),
    };
    let written = deduct::read_check_write(&mut tx, &holder).await?;
    deduct::commit(tx, &holder, written).await
}
