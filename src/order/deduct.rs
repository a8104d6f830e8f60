//! The deduction's transaction: read, check, work, (verify,) write, record.
//!
//! Any early return drops the transaction, which rolls it back: an order
//! that fails at any step changes nothing. Past `COMMIT`'s start that no
//! longer holds, and the error says so (`commit_outcome_unknown`).

use sqlx::{PgConnection, Postgres, Transaction};
use stocklock_api::{Order, PausePoint};
use uuid::Uuid;

use crate::domain::{Fence, IdempotencyKey, Quantity, Sku};
use crate::error::Error;
use crate::faults::FaultInjector;
use crate::lock::{LockError, LockGuard, Stage};
use crate::store::{self, NewOrder};
use crate::switch::Settings;

/// One order under its lock: what the critical section works with.
pub struct Holder<'a> {
    pub sku: &'a Sku,
    pub quantity: Quantity,
    pub settings: &'a Settings,
    pub guard: &'a LockGuard,
    /// The token the write must carry, if fenced.
    pub fence: Option<&'a Fence>,
    pub faults: &'a FaultInjector,
    /// The client's idempotency key, recorded with the order.
    pub key: Option<&'a IdempotencyKey>,
}

/// The stock written, and the critical section, read to write, by
/// PostgreSQL's clock. `atomic`'s is one instant (start = end): its one
/// statement reads and writes at once, so it never contains another
/// order's section — but it can fall inside one of an order that runs under
/// another backend on another instance, and the audit counts that pair
/// (`docs/locks.md#a-lock-protects-only-those-who-take-it`).
pub type Written = (i64, Option<(i64, i64)>);

/// Read, check, simulate work, (verify,) write.
pub async fn read_check_write(tx: &mut PgConnection, holder: &Holder<'_>) -> Result<Written, Error> {
    let (sku, settings) = (holder.sku, holder.settings);
    let (stock, started_us) = store::read_stock(tx, sku)
        .await?
        .ok_or_else(|| Error::ProductNotFound(sku.to_string()))?;
    ensure_covers(sku, stock, holder.quantity)?;
    holder.guard.enter(Stage::Working);
    // The race window: without a lock, other buyers read the same `stock`.
    tokio::time::sleep(settings.critical_section).await;
    if settings.check_before_commit {
        // A lock with a TTL may have expired while we worked: then roll back.
        holder.guard.verify().await?;
    }
    // After the last check: a pause here is the window only fencing closes.
    holder.faults.at(PausePoint::BeforeWrite, sku, holder.guard).await;
    let remaining = stock - holder.quantity.get();
    holder.guard.enter(Stage::Database);
    let Some(ended_us) = store::write_stock(tx, sku, remaining, holder.fence).await? else {
        // PostgreSQL refused our token: a newer holder claimed the product.
        return Err(LockError::lost(settings.backend, &sku.lock_key()).into());
    };
    Ok((remaining, Some((started_us, ended_us))))
}

/// One conditional UPDATE; on a miss, tell "unknown SKU" from "sold out".
pub async fn conditional_update(
    tx: &mut PgConnection,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Written, Error> {
    if let Some((remaining, at_us)) = store::take_stock(tx, sku, quantity).await? {
        return Ok((remaining, Some((at_us, at_us))));
    }
    match store::read_stock(tx, sku).await? {
        None => Err(Error::ProductNotFound(sku.to_string())),
        Some((stock, _)) => Err(out_of_stock(sku, stock, quantity)),
    }
}

/// Records the order in the ledger and commits.
pub async fn record(
    mut tx: Transaction<'static, Postgres>,
    holder: &Holder<'_>,
    (remaining, critical_section_us): Written,
) -> Result<Order, Error> {
    let order = NewOrder {
        order_id: Uuid::new_v4(),
        sku: holder.sku,
        quantity: holder.quantity,
        backend: holder.settings.backend,
        fence_token: holder.fence.map(|f| f.token),
        critical_section_us,
        remaining,
        idempotency_key: holder.key,
    };
    store::insert_order(&mut tx, order).await.map_err(|err| {
        // The unique index: another attempt with this key committed first.
        if store::is_key_taken(&err) {
            Error::IdempotencyKeyTaken
        } else {
            Error::Database(err)
        }
    })?;
    // Past this point a failure no longer means "nothing changed".
    tx.commit().await.map_err(Error::CommitOutcomeUnknown)?;
    Ok(Order {
        order_id: order.order_id,
        sku: holder.sku.to_string(),
        quantity: holder.quantity.get(),
        remaining,
        lock_backend: holder.settings.backend,
    })
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
