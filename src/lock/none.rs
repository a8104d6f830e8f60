//! `none`: no lock at all.
//!
//! Two requests for the same SKU run the read-check-write side by side. Both
//! read "5 left", both subtract their order, the second write overwrites the
//! first (a *lost update*), and both buyers are told they got their units.
//! With a critical-section delay the window is wide enough that a load test
//! oversells every time: this backend exists to make the race visible.

use async_trait::async_trait;
use stocklock_api::Backend;

use super::{LockBackend, LockError, LockGuard, LockTimings};

#[derive(Debug, Default)]
pub struct NoLock;

#[async_trait]
impl LockBackend for NoLock {
    fn backend(&self) -> Backend {
        Backend::None
    }

    async fn acquire(&self, _key: &str, _timings: LockTimings) -> Result<LockGuard, LockError> {
        Ok(LockGuard::unlocked())
    }
}
