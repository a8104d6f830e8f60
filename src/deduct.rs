//! The deduction's transaction: read, check, work, (verify,) write, record.
//!
//! Any early return drops the transaction, which rolls it back: an order
//! that fails at any step changes nothing. See [`crate::orders`] for the
//! whole flow around it (pinning, the lock, the fence's claim).

use sqlx::PgConnection;
use stocklock_api::{Order, PausePoint};
use tokio::time::Instant;
use uuid::Uuid;

use crate::domain::{Quantity, Sku};
use crate::error::Error;
use crate::lock::fence::{self, Fence};
use crate::lock::switch::ActiveLock;
use crate::lock::{Deduction, LockError, LockGuard};
use crate::state::AppState;
use crate::store::{self, NewOrder};

/// Where the order stands with its fencing token.
#[derive(Debug, Clone)]
pub enum Claim {
    /// `fencing` is off.
    Off,
    /// Claimed before the transaction (locks outside the database).
    Claimed(Fence),
    /// No token yet: a lock taken inside the transaction may give one.
    InTransaction,
}

/// Runs the transaction under the held lock (`guard`).
pub async fn deduct(
    state: &AppState,
    active: &ActiveLock,
    sku: &Sku,
    quantity: Quantity,
    guard: &LockGuard,
    claim: Claim,
) -> Result<Order, Error> {
    let settings = active.settings;
    let deduction = active.lock.deduction();
    if deduction == Deduction::ConditionalUpdate {
        // The business work happens before a connection is taken: the
        // atomic baseline holds nothing while it works, so its throughput is
        // not capped at pool size ÷ critical section.
        tokio::time::sleep(settings.critical_section).await;
    }
    let mut tx = state.pool.begin().await?;
    let key = sku.lock_key();
    let waiting = Instant::now();
    let locked = active
        .lock
        .lock_in_transaction(&key, &mut tx, settings.timings())
        .await;
    let (metrics, backend) = (&state.metrics, settings.backend);
    match &locked {
        Ok(Some(_)) => metrics.acquired(backend, Ok(()), waiting.elapsed()),
        Err(Error::Lock(err)) => metrics.acquired(backend, Err(err), waiting.elapsed()),
        Ok(None) | Err(_) => {}
    }
    // A lock in the transaction is held until its end: when we return.
    let _holding = matches!(locked, Ok(Some(_))).then(|| metrics.holding(backend));
    let token = locked?;
    let fence = match (claim, token) {
        (Claim::Claimed(fence), _) => Some(fence),
        (Claim::InTransaction, Some(fence)) => {
            // Inside the transaction, after its lock: the row stays locked by
            // this claim until we commit, so other instances' claims queue
            // behind it (bounded by their `lock_timeout`).
            if !fence::claim(&mut tx, sku, &fence, settings.backend).await? {
                return Err(LockError::lost(settings.backend, &key).into());
            }
            Some(fence)
        }
        _ => None,
    };
    let under = Under {
        guard,
        fence: fence.as_ref(),
        state,
        active,
    };
    let (remaining, critical_section_us) = match deduction {
        Deduction::ReadCheckWrite => read_check_write(&mut tx, &under, sku, quantity).await?,
        Deduction::ConditionalUpdate => (conditional_update(&mut tx, sku, quantity).await?, None),
    };
    let order = NewOrder {
        order_id: Uuid::new_v4(),
        sku,
        quantity,
        backend: settings.backend,
        fence_token: fence.as_ref().map(|f| f.token),
        critical_section_us,
    };
    store::insert_order(&mut tx, order).await?;
    // Past this point a failure no longer means "nothing changed".
    tx.commit().await.map_err(Error::CommitOutcomeUnknown)?;
    Ok(Order {
        order_id: order.order_id,
        sku: sku.to_string(),
        quantity: quantity.get(),
        remaining,
        lock_backend: settings.backend,
    })
}

/// What a read-check-write runs under.
struct Under<'a> {
    guard: &'a LockGuard,
    fence: Option<&'a Fence>,
    state: &'a AppState,
    active: &'a ActiveLock,
}

/// Read, check, simulate work, (verify,) write. Returns the stock written
/// and the critical section, read to write, by PostgreSQL's clock.
async fn read_check_write(
    tx: &mut PgConnection,
    under: &Under<'_>,
    sku: &Sku,
    quantity: Quantity,
) -> Result<(i64, Option<(i64, i64)>), Error> {
    let settings = under.active.settings;
    let (stock, started_us) = store::read_stock(tx, sku)
        .await?
        .ok_or_else(|| Error::ProductNotFound(sku.to_string()))?;
    ensure_covers(sku, stock, quantity)?;
    // The race window: without a lock, other buyers read the same `stock`.
    tokio::time::sleep(settings.critical_section).await;
    if settings.check_before_commit {
        // A lock with a TTL may have expired while we worked: then roll back.
        under.guard.verify().await?;
    }
    // After the last check: a pause here is the window only fencing closes.
    under
        .state
        .faults
        .at(PausePoint::BeforeWrite, sku, under.guard)
        .await;
    let remaining = stock - quantity.get();
    let Some(ended_us) = store::write_stock(tx, sku, remaining, under.fence).await? else {
        // PostgreSQL refused our token: a newer holder claimed the product.
        return Err(LockError::lost(settings.backend, &sku.lock_key()).into());
    };
    Ok((remaining, Some((started_us, ended_us))))
}

/// One conditional UPDATE; on a miss, tell "unknown SKU" from "sold out".
async fn conditional_update(tx: &mut PgConnection, sku: &Sku, quantity: Quantity) -> Result<i64, Error> {
    if let Some(remaining) = store::take_stock(tx, sku, quantity).await? {
        return Ok(remaining);
    }
    match store::read_stock(tx, sku).await? {
        None => Err(Error::ProductNotFound(sku.to_string())),
        Some((stock, _)) => Err(out_of_stock(sku, stock, quantity)),
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
