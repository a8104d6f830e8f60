//! The deduction's transaction: read, check, work, (verify,) write and
//! record (one statement), commit.
//!
//! Any early return drops the transaction, which rolls it back: an order
//! that fails at any step changes nothing. Past `COMMIT`'s start that no
//! longer holds, and the error says so (`commit_outcome_unknown`).

use sqlx::{PgConnection, Postgres, Transaction};
use stocklock_api::{ErrorCode, Order, PausePoint};
use uuid::Uuid;

use crate::domain::{Fence, IdempotencyKey, Quantity, Sku};
use crate::error::Error;
use crate::faults::FaultInjector;
use crate::lock::{LockError, LockGuard, Stage};
use crate::metrics::Place;
use crate::state::AppState;
use crate::store::{self, BatchOrder, NewOrder, Sale, Writer};
use crate::switch::Settings;

/// One order under its lock: what the critical section works with.
pub struct Holder<'a> {
    pub sku: &'a Sku,
    pub quantity: Quantity,
    pub settings: &'a Settings,
    pub guard: &'a LockGuard,
    /// The token the write must carry, if fenced.
    pub fence: Option<&'a Fence>,
    /// The stock the fence's claim found, and when: the read, already done.
    pub claimed: Option<(i64, i64)>,
    pub faults: &'a FaultInjector,
    /// The client's idempotency key, recorded with the order.
    pub key: Option<&'a IdempotencyKey>,
    /// The order's id in the ledger.
    pub order_id: Uuid,
}

impl Holder<'_> {
    /// The order as the ledger records it, having left `remaining` after a
    /// critical section that started at `started_us`.
    fn new_order(&self, remaining: i64, started_us: i64) -> NewOrder<'_> {
        NewOrder {
            order_id: self.order_id,
            sku: self.sku,
            quantity: self.quantity,
            backend: self.settings.backend,
            fence_token: self.fence.map(|f| f.token),
            // The end is the write's own instant, which the statement takes.
            critical_section_us: Some((started_us, started_us)),
            remaining,
            idempotency_key: self.key,
        }
    }
}

/// The stock written, and the critical section, read to write, by
/// PostgreSQL's clock. `atomic`'s is one instant (start = end): its one
/// statement reads and writes at once, so it never contains another
/// order's section — but it can fall inside one of an order that runs under
/// another backend on another instance, and the audit counts that pair
/// (`docs/locks.md#a-lock-protects-only-those-who-take-it`).
pub type Written = (i64, Option<(i64, i64)>);

/// Read (unless the fence's claim did), check, simulate work, (verify,)
/// write and record.
pub async fn read_check_write(tx: &mut PgConnection, holder: &Holder<'_>) -> Result<Written, Error> {
    let (sku, settings) = (holder.sku, holder.settings);
    let guard = holder.guard;
    let (stock, started_us) = match holder.claimed {
        Some(claimed) => claimed,
        None => guard
            .at(Place::Database, 1, store::read_stock(tx, sku))
            .await?
            .ok_or_else(|| Error::ProductNotFound(sku.to_string()))?,
    };
    ensure_covers(sku, stock, holder.quantity)?;
    guard.enter(Stage::Working);
    // The race window: without a lock, other buyers read the same `stock`.
    guard.at(Place::Work, 0, work(settings.critical_section)).await;
    if settings.check_before_commit {
        // A lock with a TTL may have expired while we worked: then roll back.
        holder.guard.verify().await?;
    }
    // After the last check: a pause here is the window only fencing closes.
    holder.faults.at(PausePoint::BeforeWrite, sku, holder.guard).await;
    let remaining = stock - holder.quantity.get();
    guard.enter(Stage::Database);
    let order = holder.new_order(remaining, started_us);
    let written = guard
        .at(Place::Database, 1, store::write_stock(tx, holder.fence, order))
        .await
        .map_err(recording)?;
    let Some(ended_us) = written else {
        // PostgreSQL refused our token: a newer holder claimed the product.
        return Err(LockError::lost(settings.backend, &sku.lock_key()).into());
    };
    Ok((remaining, Some((started_us, ended_us))))
}

/// The simulated business work: `took` of the OS's own sleep, on a
/// blocking thread. Not tokio's timer: it ticks in whole milliseconds and
/// wakes late — a 20 ms sleep took 21.2 ms on average here (2-core machine,
/// 2026-12-04) — which at 20 ms of work costs every lock 5 % of its orders
/// per second, a cost that is ours, not the lock's. The OS wakes within tens
/// of microseconds.
pub async fn work(took: std::time::Duration) {
    if took.is_zero() {
        return;
    }
    // A runtime shutting down cancels it: the order is then abandoned anyway.
    let _slept = tokio::task::spawn_blocking(move || std::thread::sleep(took)).await;
}

/// `atomic`: one conditional UPDATE with its row, sent on its own — no
/// `BEGIN` and no `COMMIT`: PostgreSQL runs a lone statement as a
/// transaction of its own, as atomic as in one of ours and two round trips
/// shorter. An error reply means it rolled back; no reply at all (the
/// connection lost) means it may have committed. On a miss, tells "unknown
/// SKU" from "sold out".
pub async fn at_once(
    state: &AppState,
    settings: &Settings,
    (sku, quantity, key): (&Sku, Quantity, Option<&IdempotencyKey>),
) -> Result<Order, Error> {
    let mut conn = store::acquire_within(&state.pool, settings.acquire_timeout).await?;
    let order_id = Uuid::new_v4();
    let order = NewOrder {
        order_id,
        sku,
        quantity,
        backend: settings.backend,
        fence_token: None,
        critical_section_us: None,
        remaining: 0,
        idempotency_key: key,
    };
    let remaining = match store::take_stock(&mut conn, order).await {
        Ok(Some((remaining, _at_us))) => remaining,
        Ok(None) => {
            return match store::read_stock(&mut conn, sku).await? {
                None => Err(Error::ProductNotFound(sku.to_string())),
                Some((stock, _)) => Err(out_of_stock(sku, stock, quantity)),
            };
        }
        Err(err @ (sqlx::Error::Io(_) | sqlx::Error::Protocol(_))) => {
            return Err(Error::CommitOutcomeUnknown(err));
        }
        Err(err) => return Err(recording(err)),
    };
    Ok(Order {
        order_id,
        sku: sku.to_string(),
        quantity: quantity.get(),
        remaining,
        lock_backend: settings.backend,
    })
}

/// `batch`: the order joins its SKU's next batch (`store/batch.rs`) and
/// gets its own answer when that batch is written.
pub async fn batched(
    state: &AppState,
    settings: &Settings,
    (sku, quantity, key): (&Sku, Quantity, Option<&IdempotencyKey>),
) -> Result<Order, Error> {
    let writer = Writer {
        pool: state.pool.clone(),
        tasks: state.tasks.clone(),
        acquire_timeout: settings.acquire_timeout,
        batch_size: settings.batch_size as usize,
    };
    let order = BatchOrder {
        order_id: Uuid::new_v4(),
        quantity,
        key: key.cloned(),
    };
    let order_id = order.order_id;
    match state.batches.submit(&writer, sku, order).await {
        Ok(Sale::Sold { remaining, .. }) => Ok(Order {
            order_id,
            sku: sku.to_string(),
            quantity: quantity.get(),
            remaining,
            lock_backend: settings.backend,
        }),
        Ok(Sale::SoldOut { available }) => Err(out_of_stock(sku, available, quantity)),
        Ok(Sale::NoProduct) => Err(Error::ProductNotFound(sku.to_string())),
        Ok(Sale::KeyTaken) => Err(Error::IdempotencyKeyTaken),
        Err(failed) => Err(Error::BatchFailed {
            code: match (failed.commit_unknown, failed.outage) {
                (true, _) => ErrorCode::CommitOutcomeUnknown,
                (false, true) => ErrorCode::DatabaseUnavailable,
                (false, false) => ErrorCode::Internal,
            },
            message: failed.message,
        }),
    }
}

/// An error of the statement that records the order: the unique index
/// says another attempt with this key committed first.
fn recording(err: sqlx::Error) -> Error {
    if store::is_key_taken(&err) {
        Error::IdempotencyKeyTaken
    } else {
        Error::Database(err)
    }
}

/// Commits the order written and recorded.
pub async fn commit(
    tx: Transaction<'static, Postgres>,
    holder: &Holder<'_>,
    (remaining, _): Written,
) -> Result<Order, Error> {
    // Past this point a failure no longer means "nothing changed".
    let committed = holder.guard.at(Place::Database, 1, tx.commit());
    committed.await.map_err(Error::CommitOutcomeUnknown)?;
    holder.guard.sold();
    Ok(Order {
        order_id: holder.order_id,
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
