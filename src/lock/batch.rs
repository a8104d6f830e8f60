//! `batch`: no lock — `atomic`'s conditional update, with group commit.
//!
//! One hot row serialises every writer on its row lock, and each waits for
//! its own commit. Group commit, as AliSQL's inventory hint and PolarDB's
//! hot-row update do inside the database, turns the queue into batches:
//! the orders an instance receives for a SKU while one batch is written
//! form the next, applied in arrival order by one statement and made
//! durable by one commit. It trades latency (an order waits for its
//! batch) for throughput (one row lock and one commit per batch, not per
//! order) — what a shop wants for a flash sale on one product, not for a
//! long tail of quiet ones. Correct across instances for `atomic`'s
//! reason: the update is conditional, and no lock is taken.
//!
//! The batching is the store's (`src/store/batch.rs`); this backend only
//! says which deduction runs. `docs/locks.md#batch`.

use async_trait::async_trait;
use sqlx::PgPool;
use stocklock_api::Backend;

use super::{Acquired, Deduction, LockBackend, LockError, LockTimings};

#[derive(Debug, Default)]
pub struct GroupCommit;

#[async_trait]
impl LockBackend for GroupCommit {
    fn backend(&self) -> Backend {
        Backend::Batch
    }

    fn deduction(&self) -> Deduction {
        Deduction::Batched
    }

    async fn acquire(&self, _key: &str, _timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        Ok(Acquired::Nothing)
    }
}
