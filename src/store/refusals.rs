//! The record of refusals: orders answered 409 `lock_lost`. Such an order
//! rolled back and left no row in `orders`, yet it is the very moment the
//! timeline must show — a holder whose lock had expired, stopped by the
//! fence or by the check before commit. So it is written here, on its own,
//! after its transaction rolled back and its lock was released: outside
//! the critical section, and never part of a verdict (`orders` alone
//! decides those). Which instance it was comes from the connection's
//! `application_name` (the migration's column default), when from
//! PostgreSQL's clock.

use sqlx::PgPool;
use stocklock_api::{Backend, Refusal};

use crate::domain::Sku;

/// Records that an order for `sku` under `backend`, holding `fence_token`,
/// was refused now.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn record_refusal(
    pool: &PgPool,
    sku: &Sku,
    backend: Backend,
    fence_token: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO lock_refusals (sku, lock_backend, fence_token) VALUES ($1, $2, $3)")
        .bind(sku.as_str())
        .bind(backend.as_str())
        .bind(fence_token)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Every refusal for `sku`, oldest first.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn refusals(pool: &PgPool, sku: &Sku) -> Result<Vec<Refusal>, sqlx::Error> {
    let rows = sqlx::query_as::<_, (Option<String>, String, Option<i64>, i64)>(
        "SELECT instance, lock_backend, fence_token, refused_us
         FROM lock_refusals WHERE sku = $1 ORDER BY refused_us, id",
    )
    .bind(sku.as_str())
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(instance, backend, fence_token, refused_us)| {
            Ok(Refusal {
                instance,
                backend: super::backend_named(&backend)?,
                fence_token,
                refused_us,
            })
        })
        .collect()
}
