//! Group commit for `batch` (`src/lock/batch.rs` says why): per SKU, the
//! orders that arrive while a batch is written wait in a queue; the next
//! batch starts as soon as that one commits (no idle wait when the queue is
//! short) and takes at most `batch_size` of them.
//!
//! One statement applies a batch: it walks the orders in arrival order,
//! selling each while stock lasts, writes the stock that is left — only if
//! the row still holds the stock the walk started from, so a batch of
//! another instance in between makes it walk again — and inserts every sold
//! order in one multi-row `INSERT`; then one commit. A failure fails the
//! whole batch, each order with the answer it would have had alone, and
//! nothing partial. An idempotency key already used makes the statement
//! fail; the batch is then applied one order at a time, so only that order
//! is told.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{PgPool, Row};
use stocklock_api::Backend;
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::{begin_limited, is_key_taken};
use crate::domain::{IdempotencyKey, Quantity, Sku};

/// How often a batch walks again after another instance's batch changed the
/// stock under it, before its orders get a 503.
const WALKS: usize = 20;

/// One order, as a batch takes it.
#[derive(Debug)]
pub struct BatchOrder {
    pub order_id: Uuid,
    pub quantity: Quantity,
    pub key: Option<IdempotencyKey>,
}

/// What became of one order of a batch.
#[derive(Debug)]
pub enum Sale {
    /// Committed: the stock left after it, and the batch's instant.
    Sold {
        remaining: i64,
        at_us: i64,
    },
    /// Not enough stock when its turn came: what was left.
    SoldOut {
        available: i64,
    },
    NoProduct,
    /// Its idempotency key was used already.
    KeyTaken,
}

/// Why a whole batch failed: what each of its orders is told.
#[derive(Debug, Clone)]
pub struct BatchFailed {
    /// The database was unreachable or went away (503), not a bug.
    pub outage: bool,
    /// The commit's outcome is unknown.
    pub commit_unknown: bool,
    pub message: String,
}

impl BatchFailed {
    fn from(err: &sqlx::Error) -> Self {
        BatchFailed {
            // A row lock held too long by someone else is a 503 too.
            outage: super::is_outage(err) || super::is_lock_timeout(err),
            commit_unknown: false,
            message: err.to_string(),
        }
    }
}

type Answer = oneshot::Sender<Result<Sale, BatchFailed>>;

/// An order in a queue: with its answer, and the batch size in force when
/// it came (a `PUT /admin/lock` applies to the next batch).
type Queued = (BatchOrder, Answer, usize);

/// Every SKU's queue of this instance.
#[derive(Debug, Default, Clone)]
pub struct Batches(Arc<Mutex<HashMap<Sku, Queue>>>);

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Queued>,
    /// A writer is running for this SKU: it takes the next batch itself.
    writing: bool,
}

/// Where a batch is written, and how.
#[derive(Debug, Clone)]
pub struct Writer {
    pub pool: PgPool,
    /// The service's tasks: a drain or a shutdown waits for the writer.
    pub tasks: TaskTracker,
    /// The longest wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// The batch size in force for this order.
    pub batch_size: usize,
}

impl Batches {
    /// Queues `order` for `sku` and answers once its batch is written.
    pub async fn submit(&self, writer: &Writer, sku: &Sku, order: BatchOrder) -> Result<Sale, BatchFailed> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queues = self.queues();
            let queue = queues.entry(sku.clone()).or_default();
            queue.waiting.push_back((order, answer, writer.batch_size));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start {
            let (batches, writer_, sku) = (self.clone(), writer.clone(), sku.clone());
            writer
                .tasks
                .spawn(async move { batches.write(&writer_, &sku).await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(BatchFailed {
                outage: false,
                commit_unknown: false,
                message: "the batch writer stopped".to_owned(),
            })
        })
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Sku, Queue>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes batches for `sku` until its queue is empty.
    async fn write(&self, writer: &Writer, sku: &Sku) {
        let mut unwedge = Unwedge {
            batches: self,
            sku,
            done: false,
        };
        while let Some(batch) = self.next_batch(sku) {
            let (orders, answers): (Vec<_>, Vec<_>) = batch.into_iter().map(|(o, a, _)| (o, a)).unzip();
            let sales = apply(writer, sku, &orders).await;
            for (answer, sale) in answers.into_iter().zip(sales) {
                // A client that went away is no reason to stop.
                let _ = answer.send(sale);
            }
        }
        unwedge.done = true;
    }

    /// Up to the oldest order's batch size of orders, oldest first; `None`
    /// (and the writer stops) once none is left.
    fn next_batch(&self, sku: &Sku) -> Option<Vec<Queued>> {
        let mut queues = self.queues();
        let queue = queues.get_mut(sku)?;
        let Some((_, _, size)) = queue.waiting.front() else {
            queues.remove(sku);
            return None;
        };
        let take = queue.waiting.len().min((*size).max(1));
        Some(queue.waiting.drain(..take).collect())
    }
}

/// A writer that stops without emptying its queue (it panicked) must not
/// leave the SKU marked as being written, with orders nobody will take:
/// those are dropped, so each is answered with an error, and the next order
/// starts a new writer.
struct Unwedge<'a> {
    batches: &'a Batches,
    sku: &'a Sku,
    done: bool,
}

impl Drop for Unwedge<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.batches.queues().remove(self.sku);
        }
    }
}

/// Applies `orders` in one transaction; one answer per order, in order.
async fn apply(writer: &Writer, sku: &Sku, orders: &[BatchOrder]) -> Vec<Result<Sale, BatchFailed>> {
    match apply_together(writer, sku, orders).await {
        Err(err) if is_key_taken(&err) && orders.len() > 1 => {
            let mut sales = Vec::with_capacity(orders.len());
            for order in orders {
                sales.push(apply_alone(writer, sku, order).await);
            }
            sales
        }
        Err(err) if is_key_taken(&err) => vec![Ok(Sale::KeyTaken)],
        Err(err) => {
            tracing::warn!(error = %err, %sku, orders = orders.len(), "a batch failed");
            let failed = BatchFailed::from(&err);
            orders.iter().map(|_| Err(failed.clone())).collect()
        }
        Ok(Err(failed)) => orders.iter().map(|_| Err(failed.clone())).collect(),
        Ok(Ok(sales)) => sales.into_iter().map(Ok).collect(),
    }
}

async fn apply_alone(writer: &Writer, sku: &Sku, order: &BatchOrder) -> Result<Sale, BatchFailed> {
    match apply_together(writer, sku, std::slice::from_ref(order)).await {
        Ok(Ok(mut sales)) => Ok(sales.remove(0)),
        Ok(Err(failed)) => Err(failed),
        Err(err) if is_key_taken(&err) => Ok(Sale::KeyTaken),
        Err(err) => Err(BatchFailed::from(&err)),
    }
}

/// One transaction: walk, write, insert, commit — walking again while
/// another instance's batch changed the stock in between.
async fn apply_together(
    writer: &Writer,
    sku: &Sku,
    orders: &[BatchOrder],
) -> Result<Result<Vec<Sale>, BatchFailed>, sqlx::Error> {
    for _ in 0..WALKS {
        // A row held by someone else's transaction is waited for no longer
        // than an order waits for a lock.
        let mut tx = begin_limited(&writer.pool, writer.acquire_timeout).await?;
        let Some(sales) = walk_and_write(&mut tx, sku, orders).await? else {
            tx.rollback().await?;
            continue;
        };
        if let Err(err) = tx.commit().await {
            return Ok(Err(BatchFailed {
                commit_unknown: true,
                ..BatchFailed::from(&err)
            }));
        }
        return Ok(Ok(sales));
    }
    Ok(Err(BatchFailed {
        outage: true,
        commit_unknown: false,
        message: format!("the stock of `{sku}` changed under {WALKS} batches in a row"),
    }))
}

/// The batch's statement: `None` if the stock changed since the walk read
/// it (another instance's batch, or an order under another backend).
async fn walk_and_write(
    tx: &mut sqlx::PgConnection,
    sku: &Sku,
    orders: &[BatchOrder],
) -> Result<Option<Vec<Sale>>, sqlx::Error> {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.order_id).collect();
    let quantities: Vec<i64> = orders.iter().map(|o| o.quantity.get()).collect();
    let keys: Vec<Option<&str>> = orders
        .iter()
        .map(|o| o.key.as_ref().map(IdempotencyKey::as_str))
        .collect();
    let rows = sqlx::query(
        "WITH RECURSIVE
         asked AS (
             SELECT * FROM unnest($2::UUID[], $3::BIGINT[], $4::TEXT[])
                 WITH ORDINALITY AS a (order_id, quantity, idempotency_key, n)
         ),
         product AS (SELECT stock FROM products WHERE sku = $1),
         walk (n, left_after, sold) AS (
             SELECT 0::BIGINT, (SELECT stock FROM product), FALSE
             UNION ALL
             SELECT a.n,
                    CASE WHEN w.left_after >= a.quantity THEN w.left_after - a.quantity ELSE w.left_after END,
                    w.left_after >= a.quantity
             FROM walk w JOIN asked a ON a.n = w.n + 1
         ),
         taken AS (
             UPDATE products
             SET stock = (SELECT left_after FROM walk ORDER BY n DESC LIMIT 1),
                 fence_epoch = NULL, fence = NULL, fence_holder = NULL
             WHERE sku = $1 AND stock = (SELECT stock FROM product)
             RETURNING (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT AS at_us
         ),
         recorded AS (
             INSERT INTO orders (order_id, sku, quantity, lock_backend, fence_token, cs_started_us, cs_ended_us,
                                 remaining, idempotency_key)
             SELECT a.order_id, $1, a.quantity, $5, NULL, t.at_us, t.at_us, w.left_after, a.idempotency_key
             FROM asked a JOIN walk w ON w.n = a.n CROSS JOIN taken t
             WHERE w.sold
             RETURNING 1
         )
         SELECT w.sold, w.left_after, (SELECT at_us FROM taken), (SELECT stock FROM product) IS NOT NULL
         FROM walk w WHERE w.n > 0 ORDER BY w.n",
    )
    .bind(sku.as_str())
    .bind(ids)
    .bind(quantities)
    .bind(keys)
    .bind(Backend::Batch.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut sales = Vec::with_capacity(rows.len());
    for row in rows {
        let (sold, left, at_us, exists): (Option<bool>, Option<i64>, Option<i64>, bool) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        sales.push(match (exists, at_us, sold, left) {
            (false, _, _, _) => Sale::NoProduct,
            // The row no longer held what the walk read: walk again.
            (true, None, _, _) => return Ok(None),
            (true, Some(at_us), Some(true), Some(remaining)) => Sale::Sold { remaining, at_us },
            (true, Some(_), _, left) => Sale::SoldOut {
                available: left.unwrap_or(0).max(0),
            },
        });
    }
    Ok(Some(sales))
}
