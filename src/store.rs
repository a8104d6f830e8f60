//! Every SQL statement of the service, one small function each — but the
//! fence's claim, which lives with its explanation in `lock/fence.rs`.
//!
//! Statements are checked at runtime (`sqlx::query_as`), not with the
//! compile-time `query!` macros: those need a live database (or committed
//! offline data) at build time, and the workshop must build anywhere.
//!
//! The functions that run inside the deduction take `&mut PgConnection` — the
//! caller's open transaction — so that the order in which they run (and
//! which lock is held meanwhile) stays visible in `orders.rs`.

use std::time::Duration;

use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};
use stocklock_api::{Audit, Backend, Product, RecordedOrder};
use uuid::Uuid;

use crate::domain::{Quantity, Sku};
use crate::lock::fence::Fence;

/// Opens the pool and applies the embedded migrations (`migrations/`).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        // A request that cannot get a connection in this time gets a 503,
        // rather than queueing for sqlx's default 30 s.
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await?;
    sqlx::migrate!().run(&pool).await?;
    Ok(pool)
}

/// SQLSTATE `lock_not_available`, raised when `lock_timeout` expires.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Bounds every lock wait of the transaction on `tx` (a row lock, an
/// advisory lock) by `limit`; past it PostgreSQL raises
/// [`is_lock_timeout`]. `set_config(…, true)` applies to this transaction
/// only, and unlike `SET LOCAL` takes a bind parameter.
pub async fn set_lock_timeout(tx: &mut PgConnection, limit: Duration) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{}ms", limit.as_millis()))
        .execute(tx)
        .await
        .map(|_| ())
}

/// Whether `err` is a lock wait that ran out of `lock_timeout`.
pub fn is_lock_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(LOCK_NOT_AVAILABLE))
}

/// `SELECT 1`: is PostgreSQL reachable?
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// Creates the product or resets it: stock = initial stock = `stock`, its
/// orders deleted and its fence cleared (a holder that claimed before the
/// reset must not write after it), in one transaction.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn reset_product(pool: &PgPool, sku: &Sku, stock: i64) -> Result<Product, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO products (sku, initial_stock, stock) VALUES ($1, $2, $2)
         ON CONFLICT (sku) DO UPDATE
             SET initial_stock = $2, stock = $2, fence_epoch = NULL, fence = NULL, fence_holder = NULL",
    )
    .bind(sku.as_str())
    .bind(stock)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM orders WHERE sku = $1")
        .bind(sku.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Product {
        sku: sku.to_string(),
        stock,
    })
}

#[tracing::instrument(level = "debug", skip(pool))]
pub async fn product(pool: &PgPool, sku: &Sku) -> Result<Option<Product>, sqlx::Error> {
    let stock = sqlx::query_scalar::<_, i64>("SELECT stock FROM products WHERE sku = $1")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(stock.map(|stock| Product {
        sku: sku.to_string(),
        stock,
    }))
}

/// The ledger's verdict, computed by PostgreSQL from the rows themselves.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn audit(pool: &PgPool, sku: &Sku) -> Result<Option<Audit>, sqlx::Error> {
    let row = sqlx::query_as::<_, (i64, i64, i64, i64, i64, bool, i64)>(
        "WITH ledger AS (
             SELECT p.initial_stock, p.stock,
                    COALESCE(SUM(o.quantity), 0)::BIGINT AS sold,
                    COUNT(o.order_id) AS orders
             FROM products p LEFT JOIN orders o ON o.sku = p.sku
             WHERE p.sku = $1
             GROUP BY p.sku
         ),
         -- Pairs of orders whose critical sections overlapped (each pair
         -- once: b started while a was still inside). A section ends at the
         -- write, not the commit a moment later: a read in that moment sees
         -- the old stock without being counted, so this can undercount,
         -- never overcount.
         overlapping AS (
             SELECT COUNT(*) AS pairs
             FROM orders a JOIN orders b
               ON b.sku = a.sku AND b.order_id <> a.order_id
              AND b.cs_started_us >= a.cs_started_us AND b.cs_started_us < a.cs_ended_us
              AND (b.cs_started_us > a.cs_started_us OR b.order_id > a.order_id)
             WHERE a.sku = $1
         )
         SELECT initial_stock, stock, sold, orders,
                GREATEST(sold - initial_stock, 0) AS oversold,
                stock = initial_stock - sold AS consistent,
                (SELECT pairs FROM overlapping) AS overlapping_holds
         FROM ledger",
    )
    .bind(sku.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(initial_stock, stock, sold, orders, oversold, consistent, overlapping_holds)| Audit {
            sku: sku.to_string(),
            initial_stock,
            stock,
            sold,
            orders,
            oversold,
            consistent,
            overlapping_holds,
        },
    ))
}

/// Every order of the SKU, for comparing one by one with what clients were
/// told; `None` if there is no such product.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn orders(pool: &PgPool, sku: &Sku) -> Result<Option<Vec<RecordedOrder>>, sqlx::Error> {
    if product(pool, sku).await?.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query_as::<_, (Uuid, i64)>(
        "SELECT order_id, quantity FROM orders WHERE sku = $1 ORDER BY created_at, order_id",
    )
    .bind(sku.as_str())
    .fetch_all(pool)
    .await?;
    let orders = rows
        .into_iter()
        .map(|(order_id, quantity)| RecordedOrder { order_id, quantity })
        .collect();
    Ok(Some(orders))
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
/// claimed last (see `lock/fence.rs`): `None` means fenced out. A write
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
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE products
         SET stock = stock - $2, fence_epoch = NULL, fence = NULL, fence_holder = NULL
         WHERE sku = $1 AND stock >= $2
         RETURNING stock",
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
    /// (`None` for `atomic`, which has none).
    pub critical_section_us: Option<(i64, i64)>,
}

/// Records the order in the ledger, in the same transaction as the stock.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn insert_order(tx: &mut PgConnection, order: NewOrder<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO orders (order_id, sku, quantity, lock_backend, fence_token, cs_started_us, cs_ended_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(order.order_id)
    .bind(order.sku.as_str())
    .bind(order.quantity.get())
    .bind(order.backend.as_str())
    .bind(order.fence_token)
    .bind(order.critical_section_us.map(|(started, _)| started))
    .bind(order.critical_section_us.map(|(_, ended)| ended))
    .execute(tx)
    .await
    .map(|_| ())
}
