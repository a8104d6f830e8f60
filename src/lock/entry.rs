//! [`Lock`]: the one way into a lock.
//!
//! Every acquisition needs the same three things around the backend's own
//! call: the ledger's pool (a `postgres` lock lives in a transaction on it),
//! the service's task tracker (so a guard dropped without `release` still
//! releases, and a shutdown waits for that), and the metrics (how long it
//! waited, whether it timed out, how long it held). Doing them here, once,
//! is what lets a caller take a lock in one call and forget none of them —
//! a decorator around [`LockBackend`], as tower's layers are around a
//! service.

use std::sync::Arc;

use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::stage::Holders;
use super::{Acquired, Deduction, LockBackend, LockError, LockGuard, LockTimings};
use crate::metrics::Metrics;

/// A backend, with what every acquisition of it needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Lock {
    backend: Arc<dyn LockBackend>,
    db: PgPool,
    tasks: TaskTracker,
    metrics: Arc<Metrics>,
    /// What this instance's holder of each key is doing (`stage.rs`).
    holders: Holders,
}

impl Lock {
    pub fn new(backend: Arc<dyn LockBackend>, db: PgPool, tasks: TaskTracker, metrics: Arc<Metrics>) -> Lock {
        Lock {
            backend,
            db,
            tasks,
            metrics,
            holders: Holders::default(),
        }
    }

    /// See [`LockBackend::backend`].
    pub fn backend(&self) -> Backend {
        self.backend.backend()
    }

    /// See [`LockBackend::deduction`].
    pub fn deduction(&self) -> Deduction {
        self.backend.deduction()
    }

    /// Takes the lock on `key`, or says why not. The guard releases it on
    /// every path (see [`LockGuard`]); for `postgres` it also carries the
    /// transaction the lock lives in.
    ///
    /// Only real locks are counted: `none` and `atomic` take nothing, and a
    /// lost lock is counted with the order's answer. For `postgres` the
    /// wait includes getting a pooled connection, which its waiters hold.
    /// A timeout says what this instance's holder was doing, if it has one.
    #[tracing::instrument(level = "debug", skip(self, timings), fields(backend = %self.backend()))]
    pub async fn acquire(&self, key: &str, timings: LockTimings) -> Result<LockGuard, LockError> {
        let (backend, metrics) = (self.backend(), &self.metrics);
        let waiting = Instant::now();
        let acquired = match self.backend.acquire(key, timings, &self.db).await {
            Err(LockError::Timeout {
                backend, key, waited, ..
            }) => {
                let holder = self.holders.seen(&key);
                metrics.timed_out(backend, holder.map(|seen| seen.stage.as_str()));
                return Err(LockError::Timeout {
                    backend,
                    key,
                    waited,
                    holder,
                });
            }
            acquired => acquired,
        };
        match &acquired {
            Ok(Acquired::Nothing) => {}
            Ok(_) => metrics.acquired(backend, waiting.elapsed()),
            Err(LockError::Unavailable { .. }) => metrics.unavailable(backend),
            Err(LockError::Timeout { .. } | LockError::Lost { .. } | LockError::Database(_)) => {}
        }
        let held = matches!(acquired, Ok(Acquired::Held(_) | Acquired::InTransaction(..)));
        let holding = held.then(|| (metrics.holding(backend), self.holders.enter(key)));
        Ok(LockGuard::new(acquired?, self.tasks.clone(), holding))
    }
}
