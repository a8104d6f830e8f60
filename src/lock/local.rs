//! `local`: an in-process async mutex per SKU.
//!
//! Correct in one instance, wrong across two: each process has its own map
//! of mutexes, so two instances behind a load balancer both "hold the lock"
//! for the same SKU at once and oversell exactly like `none` — which is why
//! the load tester spreads its buyers over two instances. Nothing of the
//! network kind can fail: no server to lose, no TTL. Why two kinds of mutex,
//! and when an entry goes: [`KeyedMutexes`].
//!
//! How it fails, in plain words: `docs/locks.md#local`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::{Acquired, HeldLock, LockBackend, LockError, LockTimings};

#[derive(Debug, Default)]
pub struct LocalLock {
    mutexes: KeyedMutexes,
}

/// One fair async mutex per lock key, created on first use and removed
/// when nobody holds or waits for it. Also the line the orders of one
/// instance wait in before a distributed lock (`redis`, `redlock`, `etcd`),
/// so that one of them, not all, competes at the server
/// (`docs/locks.md#waiting-in-line`); etcd's session lock needs it for
/// correctness too
/// (`docs/locks.md#etcds-session-and-why-the-lock-needs-a-local-one-too`).
///
/// Two kinds of mutex, on purpose: the *map* is a `std::sync::Mutex`, held
/// for a hash lookup and never across an `.await`, where std's is cheaper
/// than Tokio's; each *key's* lock is a `tokio::sync::Mutex`, because its
/// guard is held across the whole transaction (many `.await`s), and Tokio's
/// mutex is fair (FIFO): waiters are served in arrival order.
///
/// Why removal is safe: a holder or waiter owns a clone of the key's `Arc`,
/// taken under the map's lock. Under that same lock, an entry whose `Arc`
/// the map alone owns has nobody who could be about to lock it; the next
/// caller makes a new one.
#[derive(Debug, Default, Clone)]
pub struct KeyedMutexes(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl KeyedMutexes {
    /// Locks `key`'s mutex, or gives up at `deadline` (`None`).
    pub async fn lock(&self, key: &str, deadline: Instant) -> Option<KeyedGuard> {
        let mutex = self.map().entry(key.to_owned()).or_default().clone();
        match tokio::time::timeout_at(deadline, mutex.lock_owned()).await {
            Ok(guard) => Some(KeyedGuard {
                key: key.to_owned(),
                guard: Some(guard),
                mutexes: self.clone(),
            }),
            Err(_elapsed) => {
                // The timed-out lock_owned() took our `Arc` with it.
                self.forget_if_idle(key);
                None
            }
        }
    }

    /// This instance's turn at `key`, for an order of a distributed lock
    /// `backend` (`docs/locks.md#waiting-in-line`), or a timeout at
    /// `deadline`.
    pub async fn turn(
        &self,
        backend: Backend,
        key: &str,
        timings: LockTimings,
        deadline: Instant,
    ) -> Result<KeyedGuard, LockError> {
        self.lock(key, deadline)
            .await
            .ok_or_else(|| LockError::timeout(backend, key, timings.acquire_timeout))
    }

    /// How many keys have a mutex now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }

    fn forget_if_idle(&self, key: &str) {
        let mut mutexes = self.map();
        if mutexes
            .get(key)
            .is_some_and(|mutex| Arc::strong_count(mutex) == 1)
        {
            mutexes.remove(key);
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A key's mutex, locked; dropping it unlocks, and forgets the mutex if
/// nobody else holds or waits for it.
#[derive(Debug)]
pub struct KeyedGuard {
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
    mutexes: KeyedMutexes,
}

impl Drop for KeyedGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.mutexes.forget_if_idle(&self.key);
    }
}

#[async_trait]
impl LockBackend for LocalLock {
    fn backend(&self) -> Backend {
        Backend::Local
    }

    #[tracing::instrument(level = "debug", skip(self, timings))]
    async fn acquire(&self, key: &str, timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        let deadline = Instant::now() + timings.acquire_timeout;
        match self.mutexes.lock(key, deadline).await {
            Some(guard) => Ok(Acquired::Held(Box::new(LocalHeld(guard)))),
            None => Err(LockError::timeout(Backend::Local, key, timings.acquire_timeout)),
        }
    }
}

/// Dropping the guard unlocks; the next waiter runs.
struct LocalHeld(#[allow(dead_code)] KeyedGuard);

#[async_trait]
impl HeldLock for LocalHeld {
    async fn release(self: Box<Self>) -> Result<(), LockError> {
        drop(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn a_released_key_leaves_no_mutex_behind() {
        let mutexes = KeyedMutexes::default();
        for sku in 0..100 {
            drop(mutexes.lock(&format!("stock:{sku}"), soon(100)).await.unwrap());
        }
        assert_eq!(mutexes.len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_no_mutex_behind() {
        let mutexes = KeyedMutexes::default();
        let held = mutexes.lock("k", soon(100)).await.unwrap();
        assert!(mutexes.lock("k", soon(20)).await.is_none());
        assert_eq!(mutexes.len(), 1, "the holder's mutex stays while held");
        drop(held);
        assert_eq!(mutexes.len(), 0);
    }

    #[tokio::test]
    async fn a_key_handed_to_a_waiter_keeps_its_mutex_and_excludes_newcomers() {
        let mutexes = KeyedMutexes::default();
        let held = mutexes.lock("k", soon(100)).await.unwrap();
        let (got_it, acquired) = tokio::sync::oneshot::channel();
        let waiter = {
            let mutexes = mutexes.clone();
            tokio::spawn(async move {
                let guard = mutexes.lock("k", soon(2_000)).await.unwrap();
                got_it.send(()).unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(guard);
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        acquired.await.unwrap();
        // The released mutex went to the waiter, not to the bin: a newcomer
        // must wait for the same one.
        assert!(
            mutexes.lock("k", soon(50)).await.is_none(),
            "a newcomer got a fresh mutex beside the waiter's: two holders at once"
        );
        waiter.await.unwrap();
        assert_eq!(mutexes.len(), 0);
    }
}
