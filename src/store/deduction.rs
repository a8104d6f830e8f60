//! The deduction's statements, in the order an order runs them: the
//! `postgres` lock, the fence's claim, read, write (or the atomic take),
//! and the ledger's row. Why the claim and the conditional write look as
//! they do: `docs/fencing.md`.

use std::time::Duration;

use sqlx::PgConnection;
use stocklock_api::Backend;
use uuid::Uuid;

use super::set_lock_timeout;
use crate::domain::{Fence, IdempotencyKey, Quantity, Sku};

/// `postgres`' lock: a transaction-scoped advisory lock on the key's
/// 64-bit hash, waited for at most `limit` (then [`super::is_lock_timeout`]).
/// Returns the transaction's id — assigned once the lock is held, so ids
/// follow the lock's order: its fencing token.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn advisory_xact_lock(
    tx: &mut PgConnection,
    key: &str,
    limit: Duration,
) -> Result<i64, sqlx::Error> {
    set_lock_timeout(&mut *tx, limit).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    sqlx::query_scalar::<_, i64>("SELECT txid_current()")
        .fetch_one(&mut *tx)
        .await
}

/// What a fence's claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The product is ours: no newer token of the epoch was claimed.
    Claimed,
    /// A newer token of the same epoch was claimed already: ours is stale.
    Stale,
    /// No product has this SKU.
    NoProduct,
}

/// Claims the product for `fence`: a token of another epoch, or a newer
/// one of the same, takes it over.
#[tracing::instrument(level = "debug", skip(conn))]
pub async fn claim_fence(conn: &mut PgConnection, sku: &Sku, fence: &Fence) -> Result<Claim, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE products SET fence_epoch = $2, fence = $3, fence_holder = $4
         WHERE sku = $1
           AND (fence_epoch IS DISTINCT FROM $2 OR fence IS NULL OR fence < $3)",
    )
    .bind(sku.as_str())
    .bind(&fence.epoch)
    .bind(fence.token)
    .bind(&fence.holder)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(Claim::Claimed);
    }
    // Nothing claimed: a stale token, or no such product at all.
    let exists = sqlx::query("SELECT 1 FROM products WHERE sku = $1")
        .bind(sku.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(if exists.is_some() {
        Claim::Stale
    } else {
        Claim::NoProduct
    })
}

/// Step 1 of the naive deduction: the stock, and when it was read (in
/// microseconds since the epoch by PostgreSQL's clock: the critical
/// section's start and end come from one clock, the database's). A plain
/// `SELECT`, deliberately *not* `FOR UPDATE`: a row lock would make the
/// database serialise buyers, which is a lock of its own and would hide what
/// the chosen backend does.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn read_stock(tx: &mut PgConnection, sku: &Sku) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT stock, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT
         FROM products WHERE sku = $1",
    )
    .bind(sku.as_str())
    .fetch_optional(tx)
    .await
}

/// Step 3 of the naive deduction: write what step 1 read, minus the order;
/// returns when. If another request wrote in between, its update is lost.
/// Under a fence the write only happens while `fence` is still the one
/// claimed last (see `docs/fencing.md`): `None` means fenced out. A write
/// without a fence clears the product's: a fenced holder that read before
/// it must not write after it.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn write_stock(
    tx: &mut PgConnection,
    sku: &Sku,
    stock: i64,
    fence: Option<&Fence>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE products
         SET stock = $2,
             fence_epoch = $3, fence = $4, fence_holder = $5
         WHERE sku = $1
           AND ($3::TEXT IS NULL OR (fence_epoch = $3 AND fence = $4 AND fence_holder = $5))
         RETURNING (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT",
    )
    .bind(sku.as_str())
    .bind(stock)
    .bind(fence.map(|f| f.epoch.as_str()))
    .bind(fence.map(|f| f.token))
    .bind(fence.map(|f| f.holder.as_str()))
    .fetch_optional(tx)
    .await
}

/// The atomic deduction: check and write in one statement (and, being a
/// write without a fence, clear the product's: see `write_stock`). `None` when the
/// product is missing or the stock does not cover the quantity.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn take_stock(
    tx: &mut PgConnection,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE products
         SET stock = stock - $2, fence_epoch = NULL, fence = NULL, fence_holder = NULL
         WHERE sku = $1 AND stock >= $2
         RETURNING stock, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT",
    )
    .bind(sku.as_str())
    .bind(quantity.get())
    .fetch_optional(tx)
    .await
}

/// An order as the ledger records it.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    pub order_id: Uuid,
    pub sku: &'a Sku,
    pub quantity: Quantity,
    pub backend: Backend,
    /// The token it wrote under, if fenced.
    pub fence_token: Option<i64>,
    /// Its critical section, read to write, in PostgreSQL's microseconds
    /// (for `atomic`, one instant: `docs/locks.md#a-lock-protects-only-those-who-take-it`).
    pub critical_section_us: Option<(i64, i64)>,
    /// The stock it wrote, for a retry's answer.
    pub remaining: i64,
    /// The client's key, if it sent one: unique among live orders.
    pub idempotency_key: Option<&'a IdempotencyKey>,
}

/// Records the order in the ledger, in the same transaction as the stock.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn insert_order(tx: &mut PgConnection, order: NewOrder<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO orders (order_id, sku, quantity, lock_backend, fence_token, cs_started_us, cs_ended_us,
                             remaining, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(order.order_id)
    .bind(order.sku.as_str())
    .bind(order.quantity.get())
    .bind(order.backend.as_str())
    .bind(order.fence_token)
    .bind(order.critical_section_us.map(|(started, _)| started))
    .bind(order.critical_section_us.map(|(_, ended)| ended))
    .bind(order.remaining)
    .bind(order.idempotency_key.map(IdempotencyKey::as_str))
    .execute(tx)
    .await
    .map(|_| ())
}
