//! Idempotency keys: finding the order an earlier attempt with the same key
//! recorded. The key itself is written with the order (`insert_order`), and
//! the unique index decides between concurrent attempts; see
//! `docs/api.md#retrying-an-order`.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::IdempotencyKey;

/// How long a key is remembered: a retry later than this is a new order.
pub const KEY_LIFETIME_HOURS: i64 = 24;

/// The unique index on the key (`migrations/`).
const KEY_INDEX: &str = "orders_idempotency_key_idx";

/// An order recorded under a key, as its first answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedOrder {
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
    pub remaining: i64,
    pub lock_backend: String,
}

/// The live order recorded under `key`, if any. A key older than
/// [`KEY_LIFETIME_HOURS`] is released in the same statement, so it may be
/// used again.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn order_by_key(pool: &PgPool, key: &IdempotencyKey) -> Result<Option<KeyedOrder>, sqlx::Error> {
    let row = sqlx::query_as::<_, (Uuid, String, i64, Option<i64>, String)>(
        "WITH expired AS (
             UPDATE orders SET idempotency_key = NULL
             WHERE idempotency_key = $1 AND created_at < now() - make_interval(hours => $2::INT)
         )
         SELECT order_id, sku, quantity, remaining, lock_backend FROM orders
         WHERE idempotency_key = $1 AND created_at >= now() - make_interval(hours => $2::INT)",
    )
    .bind(key.as_str())
    .bind(KEY_LIFETIME_HOURS as i32)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(order_id, sku, quantity, remaining, lock_backend)| KeyedOrder {
            order_id,
            sku,
            quantity,
            remaining: remaining.unwrap_or_default(),
            lock_backend,
        }),
    )
}

/// Whether `err` is an insert that lost to another attempt with its key.
pub fn is_key_taken(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(KEY_INDEX))
}
