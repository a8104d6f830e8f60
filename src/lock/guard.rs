//! [`LockGuard`]: proof that a lock is held, and the promise to release it.
//!
//! Releasing a *distributed* lock is a network call, so it is `async` — and
//! Rust has no async `Drop`. The guard therefore offers two paths:
//!
//! * **Explicit:** [`LockGuard::release`] is awaited on every normal path,
//!   success or error (see `orders.rs`), so the next buyer gets the lock at
//!   once and a failed release is logged where it happened.
//! * **Safety net:** if a guard is dropped without `release` — a panic, or a
//!   future cancelled mid-flight — `Drop` spawns the release as a task of the
//!   service's [`TaskTracker`] (see [`LockGuard::tracked_by`]), so a graceful
//!   shutdown waits for it too. Without it the lock would stay held until its
//!   TTL expired and every buyer of that SKU would wait (or get 503s) for
//!   nothing.
//!
//! `release` takes `self` by value, so a released guard cannot be used again.

use async_trait::async_trait;
use tokio_util::task::TaskTracker;

use super::LockError;
use super::fence::Fence;
use super::renew::Watchdog;

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
    /// that has no such sequence (see `fence.rs`).
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
    /// Where a release spawned by `Drop` runs (the runtime's bare `spawn`
    /// when unset, which a shutdown would not wait for).
    tasks: Option<TaskTracker>,
}

impl LockGuard {
    /// A guard for a backend that took no lock (`none`, `atomic`, and
    /// `postgres`, whose lock belongs to the transaction).
    pub fn unlocked() -> Self {
        LockGuard {
            held: None,
            tasks: None,
        }
    }

    pub fn new(held: impl HeldLock + 'static) -> Self {
        LockGuard {
            held: Some(Box::new(held)),
            tasks: None,
        }
    }

    /// Makes a release spawned by `Drop` a task of `tasks`.
    pub fn tracked_by(mut self, tasks: &TaskTracker) -> Self {
        self.tasks = Some(tasks.clone());
        self
    }

    /// Whether a lock is held (false for [`LockGuard::unlocked`]).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// See [`HeldLock::token`].
    pub fn token(&self) -> Option<Fence> {
        self.held.as_ref().and_then(|held| held.token())
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
            Some(held) => held.verify().await,
            None => Ok(()),
        }
    }

    /// Releases the lock now.
    pub async fn release(mut self) -> Result<(), LockError> {
        match self.held.take() {
            Some(held) => held.release().await,
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
            match &self.tasks {
                Some(tasks) => drop(tasks.spawn_on(release, &runtime)),
                None => drop(runtime.spawn(release)),
            }
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
        drop(LockGuard::new(SlowRelease(released.clone())).tracked_by(&tasks));
        // What `Application::run_until_stopped` does once the server stops.
        tasks.close();
        tasks.wait().await;
        assert!(
            released.load(Ordering::SeqCst),
            "shutdown did not wait for the release"
        );
    }
}
