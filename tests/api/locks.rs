//! Locks built outside the service, for the suites that test them directly
//! (`lock_contract.rs`, `lock_promises.rs`): each backend behind the same
//! entry point the service uses ([`Lock`]), so tests take a lock in the one
//! call orders do.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use stocklock::config::Config;
use stocklock::lock::{EtcdLock, Lock, LockBackend, LockTimings, RedisLock};
use stocklock::metrics::Metrics;
use tokio_util::task::TaskTracker;

/// Timings with renewal off (the contract's default).
pub fn timings(ttl_ms: u64, acquire_timeout_ms: u64) -> LockTimings {
    LockTimings {
        ttl: Duration::from_millis(ttl_ms),
        acquire_timeout: Duration::from_millis(acquire_timeout_ms),
        renewal: false,
    }
}

pub fn redis_lock() -> RedisLock {
    RedisLock::new(&Config::defaults().redis_url, TaskTracker::new()).expect("REDIS_URL")
}

pub fn etcd_lock() -> EtcdLock {
    EtcdLock::new(Config::defaults().etcd_endpoints, TaskTracker::new())
}

/// `backend` behind the service's entry point, on the tests' database
/// (connected on first use: only `postgres` uses it).
pub fn entry(backend: impl LockBackend + 'static) -> Lock {
    entry_on(backend, lazy_pool())
}

/// [`entry`] on a pool of the caller's.
pub fn entry_on(backend: impl LockBackend + 'static, db: PgPool) -> Lock {
    Lock::new(
        Arc::new(backend),
        db,
        TaskTracker::new(),
        Arc::new(Metrics::default()),
    )
}

fn lazy_pool() -> PgPool {
    PgPool::connect_lazy(&Config::defaults().database_url).expect("DATABASE_URL")
}
