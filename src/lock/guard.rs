//! [`LockGuard`]: proof that a lock is held, and the promise to release it.
//!
//! Releasing a *distributed* lock is a network call, so it is `async` — and
//! Rust has no async `Drop`. The guard therefore offers two paths:
//!
//! * **Explicit:** [`LockGuard::release`] is awaited on every normal path,
//!   success or error (see `orders.rs`), so the next buyer gets the lock at
//!   once and a failed release is logged where it happened.
//! * **Safety net:** if a guard is dropped without `release` — a panic, or a
//!   future cancelled mid-flight — `Drop` spawns the release on the Tokio
//!   runtime. Without it the lock would stay held until its TTL expired and
//!   every buyer of that SKU would wait (or get 503s) for nothing.
//!
//! `release` takes `self` by value, so a released guard cannot be used again.

use async_trait::async_trait;

use super::LockError;

/// A lock a backend holds on behalf of one request.
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Checks, right before the commit, that the lock is still ours. A
    /// lock with a TTL can expire under a holder that stalled; committing
    /// anyway would be the silent oversell this project is about.
    async fn verify(&self) -> Result<(), LockError> {
        Ok(())
    }

    /// Gives the lock back.
    async fn release(self: Box<Self>) -> Result<(), LockError>;
}

/// See the module documentation.
#[must_use = "a lock guard releases its lock when dropped; bind it to a variable"]
pub struct LockGuard {
    held: Option<Box<dyn HeldLock>>,
}

impl LockGuard {
    /// A guard for a backend that took no lock (`none`, `atomic`, and
    /// `postgres`, whose lock belongs to the transaction).
    pub fn unlocked() -> Self {
        LockGuard { held: None }
    }

    pub fn new(held: impl HeldLock + 'static) -> Self {
        LockGuard {
            held: Some(Box::new(held)),
        }
    }

    /// Whether a lock is held (false for [`LockGuard::unlocked`]).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
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
            runtime.spawn(async move {
                if let Err(err) = held.release().await {
                    tracing::warn!(error = %err, "releasing a dropped lock guard failed");
                }
            });
        }
    }
}
