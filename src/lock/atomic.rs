//! `atomic`: no lock — one conditional `UPDATE` instead.
//!
//! `UPDATE products SET stock = stock - $q WHERE sku = $sku AND stock >= $q`
//! reads, checks and writes in one statement. PostgreSQL takes the row lock
//! for the few microseconds the statement runs, and a concurrent update
//! re-checks the `WHERE` against the freshly committed row, so the stock can
//! never be oversold. There is no lock server to lose and no TTL to expire.
//!
//! This is the baseline every lock is measured against: when the check is
//! expressible in one statement, it is the simplest correct answer. Locks earn
//! their keep only when the critical section cannot be one statement (calls
//! to other services, checks across tables or systems).
//!
//! The critical-section delay still runs under this backend — the business
//! work still happens — but *before* the statement, while nothing is held.

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
