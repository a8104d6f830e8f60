//! `none`: no lock at all.
//!
//! Two requests for the same SKU run the read-check-write side by side. Both
//! read "5 left", both subtract their order, the second write overwrites the
//! first (a *lost update*), and both buyers are told they got their units.
//! With a critical-section delay the window is wide enough that a load test
//! oversells every time: this backend exists to make the race visible.

use async_trait::async_trait;
use sqlx::PgPool;
use stocklock_api::Backend;

use super::{Acquired, LockBackend, LockError, LockTimings};

#[derive(Debug, Default)]
pub struct NoLock;

#[async_trait]
impl LockBackend for NoLock {
    fn backend(&self) -> Backend {
        Backend::None
    }

    async fn acquire(&self, _key: &str, _timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        Ok(Acquired::Nothing)
    }
}
