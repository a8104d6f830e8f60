//! The deduction's statements, in the order an order runs them: the
//! `postgres` lock, the fence's claim (which reads the stock too), read,
//! and the write (or the atomic take) together with the ledger's row. Each
//! statement is a round trip made while the lock is held, so the claim
//! returns what the read would, and the write and its row are one
//! statement (`docs/locks.md#waiting-in-line`). Why the claim and the
//! conditional write look as they do: `docs/fencing.md`.

use sqlx::{PgConnection, Row};
use stocklock_api::Backend;
use uuid::Uuid;

use crate::domain::{Fence, IdempotencyKey, Quantity, Sku};

/// `postgres`' lock: a transaction-scoped advisory lock on the key's
/// 64-bit hash, waited for as long as the transaction's `lock_timeout`
/// ([`super::begin_limited`]; then [`super::is_lock_timeout`]).
/// Returns the transaction's id — assigned once the lock is held, so ids
/// follow the lock's order: its fencing token.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn advisory_xact_lock(tx: &mut PgConnection, key: &str) -> Result<i64, sqlx::Error> {
    // One round trip. The id is asked for only once the subquery has a
    // row, that is once the lock is held: PostgreSQL does not pull a
    // subquery with a volatile function up into its parent.
    sqlx::query_scalar::<_, i64>(
        "SELECT txid_current() FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await
}

/// What a fence's claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The product is ours: no newer token of the epoch was claimed. With
    /// the stock as the claim found it, and when, as [`read_stock`] would
    /// answer: a later fenced write succeeds only if nobody wrote since.
    Claimed { stock: i64, at_us: i64 },
    /// A newer token of the same epoch was claimed already: ours is stale.
    Stale,
    /// No product has this SKU.
    NoProduct,
}

/// Claims the product for `fence`: a token of another epoch, or a newer
/// one of the same, takes it over.
#[tracing::instrument(level = "debug", skip(conn))]
pub async fn claim_fence(conn: &mut PgConnection, sku: &Sku, fence: &Fence) -> Result<Claim, sqlx::Error> {
    let claimed: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE products SET fence_epoch = $2, fence = $3, fence_holder = $4
         WHERE sku = $1
           AND (fence_epoch IS DISTINCT FROM $2 OR fence IS NULL OR fence < $3)
         RETURNING stock, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT",
    )
    .bind(sku.as_str())
    .bind(&fence.epoch)
    .bind(fence.token)
    .bind(&fence.holder)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((stock, at_us)) = claimed {
        return Ok(Claim::Claimed { stock, at_us });
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

/// The ledger's row: the columns, in the order [`bind_order`] binds them as
/// $1–$9; the statement goes on with the `SELECT` of their values.
macro_rules! record {
    () => {
        "
         INSERT INTO orders (order_id, sku, quantity, lock_backend, fence_token, cs_started_us, cs_ended_us,
                             remaining, idempotency_key)
         "
    };
}

/// Step 3 of the naive deduction, and the ledger's row, in one statement:
/// write what step 1 read, minus the order, and record the order
/// (`order.remaining` is what is written); returns when the write
/// happened. If another request wrote in between, its update is lost.
/// Under a fence the write — and so the row — only happens while `fence` is
/// still the one claimed last (see `docs/fencing.md`): `None` means fenced
/// out. A write without a fence clears the product's: a fenced holder that
/// read before it must not write after it.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn write_stock(
    tx: &mut PgConnection,
    fence: Option<&Fence>,
    order: NewOrder<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let written = sqlx::query(concat!(
        "WITH written AS (
             UPDATE products
             SET stock = $8,
                 fence_epoch = $10, fence = $5, fence_holder = $11
             WHERE sku = $2
               AND ($10::TEXT IS NULL OR (fence_epoch = $10 AND fence = $5 AND fence_holder = $11))
             RETURNING (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT AS at_us
         )",
        record!(),
        // $7, the end, is the write's own: bound, unused.
        "SELECT $1, $2, $3, $4, $5, $6, at_us, $8, $9 FROM written RETURNING cs_ended_us"
    ));
    let written = bind_order(written, order)
        .bind(fence.map(|f| f.epoch.as_str()))
        .bind(fence.map(|f| f.holder.as_str()));
    written
        .fetch_optional(tx)
        .await?
        .map(|row| row.try_get(0))
        .transpose()
}

/// The atomic deduction, and the ledger's row, in one statement: check and
/// write at once (and, being a write without a fence, clear the product's:
/// see `write_stock`); returns the stock left and when. `None` when the
/// product is missing or the stock does not cover the quantity. The row's
/// remaining stock and instant are the statement's own, not `order`'s.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn take_stock(
    tx: &mut PgConnection,
    order: NewOrder<'_>,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let taken = sqlx::query(concat!(
        "WITH taken AS (
             UPDATE products
             SET stock = stock - $3, fence_epoch = NULL, fence = NULL, fence_holder = NULL
             WHERE sku = $2 AND stock >= $3
             RETURNING stock, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT AS at_us
         )",
        record!(),
        // $6–$8 are the statement's own: bound, unused.
        "SELECT $1, $2, $3, $4, $5, at_us, at_us, stock, $9 FROM taken RETURNING remaining, cs_ended_us"
    ));
    let taken = bind_order(taken, order).fetch_optional(tx).await?;
    taken
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

/// Binds `order` as $1–$9 of a statement that records it ([`record`]).
fn bind_order<'q>(query: PgQuery<'q>, order: NewOrder<'q>) -> PgQuery<'q> {
    query
        .bind(order.order_id)
        .bind(order.sku.as_str())
        .bind(order.quantity.get())
        .bind(order.backend.as_str())
        .bind(order.fence_token)
        .bind(order.critical_section_us.map(|(started, _)| started))
        .bind(order.critical_section_us.map(|(_, ended)| ended))
        .bind(order.remaining)
        .bind(order.idempotency_key.map(IdempotencyKey::as_str))
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

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
