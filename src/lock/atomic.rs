//! `atomic`: no lock — one conditional `UPDATE` instead.
//!
//! `UPDATE products SET stock = stock - $q WHERE sku = $sku AND stock >= $q`
//! reads, checks and writes in one statement, and PostgreSQL re-checks the
//! `WHERE` against a concurrently committed row, so the stock can never be
//! oversold. This is the baseline every lock is measured against: when the
//! check fits in one statement it is the simplest correct answer, and a lock
//! earns its keep only when the critical section cannot be one statement.
//!
//! Why nothing here can fail like a lock, and where the work runs:
//! `docs/locks.md#atomic`.

use async_trait::async_trait;
use sqlx::PgPool;
use stocklock_api::Backend;

use super::{Acquired, Deduction, LockBackend, LockError, LockTimings};

#[derive(Debug, Default)]
pub struct AtomicUpdate;

#[async_trait]
impl LockBackend for AtomicUpdate {
    fn backend(&self) -> Backend {
        Backend::Atomic
    }

    fn deduction(&self) -> Deduction {
        Deduction::ConditionalUpdate
    }

    async fn acquire(&self, _key: &str, _timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        Ok(Acquired::Nothing)
    }
}
