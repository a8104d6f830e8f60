//! Placing an order: the critical section under study.
//!
//! ```text
//! pin backend ─ acquire lock ─ BEGIN ─ [lock in tx] ─ read ─ check ─ (work) ─ write ─ insert order ─ verify lock ─ COMMIT ─ release
//! ```
//!
//! (`atomic` does its work first, then BEGIN ─ conditional UPDATE ─ insert ─
//! COMMIT: it has no lock to do the work under.)
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

use sqlx::PgConnection;
use stocklock_api::{Drained, Order};
use tokio::time::Instant;
use uuid::Uuid;

use crate::domain::{Quantity, Sku};
use crate::error::Error;
use crate::lock::switch::ActiveLock;
use crate::lock::{Deduction, LockGuard};
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
    let active = state.locks.pin().await?;
    let key = sku.lock_key();
    let guard = active.lock.acquire(&key, active.settings.timings()).await?;
    let guard = guard.tracked_by(&state.tasks);
    let placed = deduct(&state.pool, &active, &key, &sku, quantity, &guard).await;
    // Released on success and on every error alike.
    if let Err(err) = guard.release().await {
        tracing::warn!(error = %err, %key, "releasing the lock failed; it will expire by its TTL");
    }
    placed
}

/// The transaction. Any early return drops `tx`, which rolls it back.
async fn deduct(
    pool: &sqlx::PgPool,
    active: &ActiveLock,
    key: &str,
    sku: &Sku,
    quantity: Quantity,
    guard: &LockGuard,
) -> Result<Order, Error> {
    let settings = active.settings;
    let deduction = active.lock.deduction();
    if deduction == Deduction::ConditionalUpdate {
        // The business work happens before a connection is taken: the
        // atomic baseline holds nothing while it works, so its throughput is
        // not capped at pool size ÷ critical section.
        tokio::time::sleep(settings.critical_section).await;
    }
    let mut tx = pool.begin().await?;
    active
        .lock
        .lock_in_transaction(key, &mut tx, settings.timings())
        .await?;
    let remaining = match deduction {
        Deduction::ReadCheckWrite => {
            read_check_write(&mut tx, sku, quantity, settings.critical_section).await?
        }
        Deduction::ConditionalUpdate => conditional_update(&mut tx, sku, quantity).await?,
    };
    let order_id = Uuid::new_v4();
    store::insert_order(&mut tx, order_id, sku, quantity, settings.backend).await?;
    // A lock with a TTL may have expired while we worked: then roll back.
    guard.verify().await?;
    // Past this point a failure no longer means "nothing changed".
    tx.commit().await.map_err(Error::CommitOutcomeUnknown)?;
    Ok(Order {
        order_id,
        sku: sku.to_string(),
        quantity: quantity.get(),
        remaining,
        lock_backend: settings.backend,
    })
}

/// Read, check, simulate work, write. Returns the stock written.
async fn read_check_write(
    tx: &mut PgConnection,
    sku: &Sku,
    quantity: Quantity,
    work: std::time::Duration,
) -> Result<i64, Error> {
    let stock = store::read_stock(tx, sku)
        .await?
        .ok_or_else(|| Error::ProductNotFound(sku.to_string()))?;
    ensure_covers(sku, stock, quantity)?;
    // The race window: without a lock, other buyers read the same `stock`.
    tokio::time::sleep(work).await;
    let remaining = stock - quantity.get();
    store::write_stock(tx, sku, remaining).await?;
    Ok(remaining)
}

/// One conditional UPDATE; on a miss, tell "unknown SKU" from "sold out".
async fn conditional_update(tx: &mut PgConnection, sku: &Sku, quantity: Quantity) -> Result<i64, Error> {
    if let Some(remaining) = store::take_stock(tx, sku, quantity).await? {
        return Ok(remaining);
    }
    match store::read_stock(tx, sku).await? {
        None => Err(Error::ProductNotFound(sku.to_string())),
        Some(stock) => Err(out_of_stock(sku, stock, quantity)),
    }
}

fn ensure_covers(sku: &Sku, stock: i64, quantity: Quantity) -> Result<(), Error> {
    if stock < quantity.get() {
        return Err(out_of_stock(sku, stock, quantity));
    }
    Ok(())
}

fn out_of_stock(sku: &Sku, stock: i64, quantity: Quantity) -> Error {
    Error::OutOfStock {
        sku: sku.to_string(),
        requested: quantity.get(),
        available: stock.max(0),
    }
}
