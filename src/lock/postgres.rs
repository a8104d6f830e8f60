//! `postgres`: a transaction-scoped advisory lock.
//!
//! `pg_advisory_xact_lock(hashtextextended('stock:{sku}', 0))` locks a
//! 64-bit number inside the deduction's own transaction, which this backend
//! begins and hands over ([`Acquired::InTransaction`]). PostgreSQL releases
//! it at `COMMIT` or `ROLLBACK` — no release call to forget, no TTL, no
//! "expired while I was still working" window; waiters queue inside
//! PostgreSQL, bounded by `lock_timeout` (SQLSTATE `55P03`: a 503). The
//! price: a waiter holds a pooled connection while it waits. The token is
//! the transaction's id, so fencing here is a control that never fires.
//! How it fails, in plain words: `docs/locks.md#postgres`.

use async_trait::async_trait;
use sqlx::PgPool;
use stocklock_api::Backend;

use super::{Acquired, LockBackend, LockError, LockTimings};
use crate::domain::Fence;
use crate::store;

#[derive(Debug, Default)]
pub struct PostgresAdvisoryLock;

#[async_trait]
impl LockBackend for PostgresAdvisoryLock {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    #[tracing::instrument(level = "debug", skip(self, timings, db))]
    async fn acquire(&self, key: &str, timings: LockTimings, db: &PgPool) -> Result<Acquired, LockError> {
        // The wait for a connection is bounded by the acquire timeout too
        // (and the pool's 5 s); the wait for the lock then gets its own.
        let mut tx = store::begin_limited(db, timings.acquire_timeout).await?;
        match store::advisory_xact_lock(&mut tx, key).await {
            Ok(token) => {
                let fence = Fence {
                    epoch: "postgres".to_owned(),
                    token,
                    holder: token.to_string(),
                };
                Ok(Acquired::InTransaction(tx, fence))
            }
            Err(err) if store::is_lock_timeout(&err) => Err(LockError::timeout(
                Backend::Postgres,
                key,
                timings.acquire_timeout,
            )),
            Err(err) => Err(LockError::Database(err)),
        }
    }
}
