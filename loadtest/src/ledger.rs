//! Reading the ledger straight from PostgreSQL (`--database-url`).
//!
//! The audit endpoint is the service's own account of what happened; a
//! verdict that only trusted it would trust the thing under test. This reads
//! the same tables independently, including every order id, so acknowledged
//! and recorded orders can be compared one by one.

use sqlx::PgPool;
use uuid::Uuid;

use crate::verdict::{DbLedger, Ledger, OrderBook};

pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
}

/// The ledger of `skus`, summed, with every order's id and quantity.
pub async fn read(pool: &PgPool, skus: &[String]) -> Result<DbLedger, sqlx::Error> {
    let (initial_stock, stock): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(initial_stock), 0)::BIGINT, COALESCE(SUM(stock), 0)::BIGINT
         FROM products WHERE sku = ANY($1)",
    )
    .bind(skus)
    .fetch_one(pool)
    .await?;
    let orders: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT order_id, quantity FROM orders WHERE sku = ANY($1)")
            .bind(skus)
            .fetch_all(pool)
            .await?;
    let orders: OrderBook = orders.into_iter().collect();
    Ok(DbLedger {
        ledger: Ledger {
            initial_stock,
            stock,
            sold: orders.values().sum(),
            orders: orders.len() as i64,
        },
        orders,
    })
}
