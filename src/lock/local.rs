//! `local`: an in-process async mutex per SKU.
//!
//! Correct in one instance, wrong across two: each process has its own map
//! of mutexes, so two instances behind a load balancer both "hold the lock"
//! for the same SKU at once and oversell exactly like `none` — which is why
//! the load tester spreads its buyers over two instances. Nothing of the
//! network kind can fail: no server to lose, no TTL. Why two kinds of mutex,
//! and why entries stay: [`KeyedMutexes`].
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

/// One fair async mutex per lock key, created on first use. Also used by
/// `etcd`, whose session lock is per process and needs this one in front of
/// it (`docs/locks.md#etcds-session-and-why-the-lock-needs-a-local-one-too`).
///
/// Two kinds of mutex, on purpose: the *map* is a `std::sync::Mutex`, held
/// for a hash lookup and never across an `.await`, where std's is cheaper
/// than Tokio's; each *key's* lock is a `tokio::sync::Mutex`, because its
/// guard is held across the whole transaction (many `.await`s), and Tokio's
/// mutex is fair (FIFO): waiters are served in arrival order.
///
/// Entries are never removed: one small mutex per SKU ever ordered. Removing
/// idle entries safely needs care (a waiter may be about to lock it), and the
/// workshop's SKU count is small.
#[derive(Debug, Default)]
pub struct KeyedMutexes(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyedMutexes {
    /// Locks `key`'s mutex, or gives up at `deadline` (`None`).
    pub async fn lock(&self, key: &str, deadline: Instant) -> Option<OwnedMutexGuard<()>> {
        let mutex = {
            let mut mutexes = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            mutexes.entry(key.to_owned()).or_default().clone()
        };
        tokio::time::timeout_at(deadline, mutex.lock_owned()).await.ok()
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

/// Dropping the Tokio guard unlocks; the next waiter runs.
struct LocalHeld(#[allow(dead_code)] OwnedMutexGuard<()>);

#[async_trait]
impl HeldLock for LocalHeld {
    async fn release(self: Box<Self>) -> Result<(), LockError> {
        drop(self);
        Ok(())
    }
}
