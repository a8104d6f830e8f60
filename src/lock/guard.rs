//! [`LockGuard`]: proof that a lock is held, and the promise to release it.
//!
//! Releasing a *distributed* lock is a network call, so it is `async` — and
//! Rust has no async `Drop`. So the guard has two paths. [`LockGuard::release`]
//! is awaited on every normal path, success or error (`order/mod.rs`): the
//! next buyer gets the lock at once, and a failed release is logged where it
//! happened; it takes `self`, so a released guard cannot be used again. A
//! guard dropped without it — a panic, a future cancelled mid-flight — spawns
//! the release on the service's [`TaskTracker`], which [`super::Lock::acquire`]
//! gives every guard, so it cannot be forgotten and a graceful shutdown waits
//! for it; without that net the lock would stay held until its TTL. A
//! `postgres` lock is released by its transaction's end instead
//! ([`LockGuard::take_transaction`]). Where the guard sits among the layers:
//! `docs/architecture.md#the-service-src`.

use async_trait::async_trait;
use sqlx::{Postgres, Transaction};
use tokio_util::task::TaskTracker;

use super::Acquired;
use super::error::LockError;
use super::renew::Watchdog;
use super::stage::{HolderEntry, Stage};
use crate::domain::Fence;
use crate::metrics::{Holding, Place};

/// A lock a backend holds on behalf of one request.
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Checks, right before the commit, that the lock is still ours. A
    /// lock with a TTL can expire under a holder that stalled; committing
    /// anyway would be the silent oversell this project is about.
    async fn verify(&self) -> Result<(), LockError> {
        Ok(())
    }

    /// This acquisition's fencing token: strictly greater than every earlier
    /// acquisition's of the same key in the same epoch. `None` for a lock
    /// that has no such sequence (see `docs/fencing.md`).
    fn token(&self) -> Option<Fence> {
        None
    }

    /// The watchdog renewing this lock, if `renewal` is on for it.
    fn watchdog(&self) -> Option<&Watchdog> {
        None
    }

    /// Gives the lock back.
    async fn release(self: Box<Self>) -> Result<(), LockError>;
}

/// See the module documentation.
#[must_use = "a lock guard releases its lock when dropped; bind it to a variable"]
pub struct LockGuard {
    held: Option<Box<dyn HeldLock>>,
    /// The transaction a `postgres` lock lives in, and its fence, until the
    /// critical section takes them.
    transaction: Option<(Transaction<'static, Postgres>, Fence)>,
    /// Where a release spawned by `Drop` runs, so a shutdown waits for it.
    tasks: TaskTracker,
    /// Measures the hold until the guard is released or dropped, and tells
    /// this instance's waiters what the holder is doing meanwhile.
    holding: Option<(Holding, HolderEntry)>,
}

impl LockGuard {
    pub(super) fn new(
        acquired: Acquired,
        tasks: TaskTracker,
        holding: Option<(Holding, HolderEntry)>,
    ) -> Self {
        let (held, transaction) = match acquired {
            Acquired::Nothing => (None, None),
            Acquired::Held(held) => (Some(held), None),
            Acquired::InTransaction(tx, fence) => (None, Some((tx, fence))),
        };
        LockGuard {
            held,
            transaction,
            tasks,
            holding,
        }
    }

    /// A guard for no lock at all (tests of what runs under a guard).
    pub fn unlocked() -> Self {
        LockGuard::new(Acquired::Nothing, TaskTracker::new(), None)
    }

    /// The holder moves on to `stage` (what a waiter that gives up meanwhile
    /// will be told: `stage.rs`).
    pub fn enter(&self, stage: Stage) {
        if let Some((_, entry)) = &self.holding {
            entry.enter(stage);
        }
    }

    /// Runs `call`, the holder's request to `place` making `trips` round
    /// trips (0 for work), and counts both with its time: the per-order
    /// breakdown of the serialized section (`stocklock_held_*` metrics).
    /// Without a lock held it just runs `call`.
    pub async fn at<F: std::future::Future>(&self, place: Place, trips: u64, call: F) -> F::Output {
        match &self.holding {
            Some((holding, _)) => holding.at(place, trips, call).await,
            None => call.await,
        }
    }

    /// The hold ends in a sale (the breakdown's `sold="true"`).
    pub fn sold(&self) {
        if let Some((holding, _)) = &self.holding {
            holding.sold();
        }
    }

    /// Whether a lock outside the database is held.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// See [`HeldLock::token`]; for a lock in a transaction, its id.
    pub fn token(&self) -> Option<Fence> {
        match (&self.held, &self.transaction) {
            (Some(held), _) => held.token(),
            (None, Some((_, fence))) => Some(fence.clone()),
            (None, None) => None,
        }
    }

    /// The transaction the lock lives in (`postgres`), for the critical
    /// section to run and end in; `None` for every other lock. Its end —
    /// commit, rollback, or drop — releases the lock.
    pub fn take_transaction(&mut self) -> Option<(Transaction<'static, Postgres>, Fence)> {
        self.transaction.take()
    }

    /// Stops renewing the lock until `until`, as a stalled process would.
    pub fn suspend_renewal(&self, until: tokio::time::Instant) {
        if let Some(watchdog) = self.held.as_ref().and_then(|held| held.watchdog()) {
            watchdog.suspend_until(until);
        }
    }

    /// See [`HeldLock::verify`].
    pub async fn verify(&self) -> Result<(), LockError> {
        match &self.held {
            Some(held) => self.at(Place::LockServer, 1, held.verify()).await,
            None => Ok(()),
        }
    }

    /// Releases the lock now: a lock in a transaction the critical section
    /// did not take is released by rolling that transaction back.
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some((tx, _)) = self.transaction.take() {
            self.at(Place::Database, 1, tx.rollback()).await?;
        }
        match self.held.take() {
            Some(held) => self.at(Place::LockServer, 1, held.release()).await,
            None => Ok(()),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        // Outside a runtime (a test tearing down) there is nothing to spawn
        // on; the TTL is then the last line of defence.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let release = async move {
                if let Err(err) = held.release().await {
                    tracing::warn!(error = %err, "releasing a dropped lock guard failed");
                }
            };
            drop(self.tasks.spawn_on(release, &runtime));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    /// A lock whose release takes a while, and says when it is done.
    struct SlowRelease(Arc<AtomicBool>);

    #[async_trait]
    impl HeldLock for SlowRelease {
        async fn release(self: Box<Self>) -> Result<(), LockError> {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.0.store(true, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_shutdown_waits_for_the_release_of_a_dropped_guard() {
        let released = Arc::new(AtomicBool::new(false));
        let tasks = TaskTracker::new();
        let held = Acquired::Held(Box::new(SlowRelease(released.clone())));
        drop(LockGuard::new(held, tasks.clone(), None));
        // What `Application::run_until_stopped` does once the server stops.
        tasks.close();
        tasks.wait().await;
        assert!(
            released.load(Ordering::SeqCst),
            "shutdown did not wait for the release"
        );
    }
}
