//! The lock abstraction: one trait, one file (or folder) per backend, and
//! one way in.
//!
//! A deduction is a read-check-write of one SKU's stock; a lock per SKU
//! (key `stock:{sku}`) serialises it. This module is the seam where *which*
//! lock is decided, so the rest of the service is the same code for every
//! backend and the load tester compares like with like. Every caller goes
//! through [`Lock::acquire`] (`entry.rs`), whose guard releases the lock on
//! every path. Where the lock meets the transaction:
//! `docs/architecture.md#the-service-src`; how each backend fails, and the
//! safety ladder on top of them: `docs/locks.md`.
//!
//! # Contract
//!
//! A [`LockBackend`] guarantees, for a given key and while its servers are up
//! and the holder finishes within the TTL:
//!
//! * **Mutual exclusion.** Between a successful [`LockBackend::acquire`] and
//!   the release of what it returned, no other holder of the same key exists
//!   — within its *scope*: one process for `local`, every process sharing
//!   the server(s) for `redis`, `etcd`, `postgres` and `redlock`. `none` and
//!   `atomic` and `batch` take no lock at all and say so through
//!   [`LockBackend::deduction`].
//! * **Bounded waiting.** Acquisition gives up after the acquire timeout
//!   with [`LockError::Timeout`]; a server that is down or hangs gives
//!   [`LockError::Unavailable`] within that time too (one that hangs *after*
//!   saying the lock is busy is indistinguishable from a busy lock, and
//!   gives `Timeout`). Calls made once the lock is held (verify, release)
//!   are bounded by [`LockTimings::server_timeout`]. All become a 503 and the
//!   request changes nothing: a lock we cannot get is never skipped.
//! * **Release on every path.** See [`LockGuard`].
//! * **Independence of keys.** Holding `stock:a` never delays `stock:b`.
//! * **Waiting in line** (not a safety promise): `redis`, `redlock` and
//!   `etcd` serve an instance's waiters for a key in arrival order, one at a
//!   time at the server; `redis` and `etcd` are fair between instances too
//!   (`docs/locks.md#waiting-in-line`).
//!
//! `tests/api/lock_contract.rs` runs these promises against every backend
//! on real servers.

mod atomic;
mod batch;
mod entry;
mod error;
mod etcd;
mod guard;
mod local;
mod none;
mod postgres;
mod redis;
mod redlock;
pub mod renew;
pub mod retry;
mod stage;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, Postgres, Transaction};
use stocklock_api::Backend;
use tokio::time::Instant;

use crate::domain::Fence;

pub use atomic::AtomicUpdate;
pub use batch::GroupCommit;
pub use entry::Lock;
pub use error::LockError;
pub use etcd::EtcdLock;
pub use guard::{HeldLock, LockGuard};
pub use local::LocalLock;
pub use none::NoLock;
pub use postgres::PostgresAdvisoryLock;
pub use redis::RedisLock;
pub use redlock::Redlock;
pub use stage::{HolderSeen, Stage};

/// The timings a request runs with, pinned from the active settings — so a
/// `PUT /admin/lock` applies to every order that starts after it, server
/// calls included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTimings {
    /// How long a distributed lock outlives a holder that never releases it.
    pub ttl: Duration,
    /// How long to wait for the lock before giving up with a 503.
    pub acquire_timeout: Duration,
    /// Keep the lock alive while its holder works (see [`renew`]).
    pub renewal: bool,
}

/// The most any one call to a lock server may take, whatever the settings:
/// the connection-level timeout of the Redis and etcd clients. Each call is
/// further bounded by the request's own deadline (`within_deadline`).
pub const SERVER_CALL_LIMIT: Duration = Duration::from_secs(2);

impl LockTimings {
    /// The bound of one lock server call made while the lock is held
    /// (verify, release): the acquire timeout, clamped to 0.1 s –
    /// [`SERVER_CALL_LIMIT`]. A server that hangs then costs a request at
    /// most that long per call, as it does while acquiring.
    pub fn server_timeout(&self) -> Duration {
        self.acquire_timeout
            .clamp(Duration::from_millis(100), SERVER_CALL_LIMIT)
    }
}

/// How the stock is changed once the lock (if any) is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deduction {
    /// Read the stock, check it, (simulate work,) write the new value. Only
    /// correct if a lock makes the three steps exclusive.
    ReadCheckWrite,
    /// One `UPDATE … SET stock = stock - q WHERE stock >= q`: the database
    /// checks and writes in a single atomic step, no lock needed.
    ConditionalUpdate,
    /// The conditional update for a batch of orders at once
    /// (`store/batch.rs`).
    Batched,
}

/// Runs one call to a lock server with a time limit. Any failure — an error
/// or no answer in time — means the server is unavailable: a hung server
/// must give a 503, not a request that hangs.
pub(crate) async fn within<T, E: fmt::Display>(
    backend: Backend,
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, LockError> {
    within_deadline(backend, Instant::now() + limit, call).await
}

/// [`within`], with an instant rather than a duration: every call made
/// while acquiring (connect, grant, set) shares the request's one deadline,
/// so the acquire timeout bounds them all together, whatever it is set to.
pub(crate) async fn within_deadline<T, E: fmt::Display>(
    backend: Backend,
    deadline: Instant,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, LockError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .map_err(|_| LockError::unavailable(backend, "no answer in time"))?
        .map_err(|err| LockError::unavailable(backend, err))
}

/// [`within`] for calls that already answer in [`LockError`]s (a lost lock
/// stays a lost lock): only running out of time becomes `Unavailable`.
pub(crate) async fn bounded<T>(
    backend: Backend,
    limit: Duration,
    calls: impl Future<Output = Result<T, LockError>>,
) -> Result<T, LockError> {
    tokio::time::timeout(limit, calls)
        .await
        .map_err(|_| LockError::unavailable(backend, "no answer in time"))?
}

/// What a backend took, for [`Lock::acquire`] to wrap in a [`LockGuard`].
pub enum Acquired {
    /// No lock: `none` and `atomic`.
    Nothing,
    /// A lock outside the database, held until released.
    Held(Box<dyn HeldLock>),
    /// A lock inside a database transaction, held until it ends
    /// (`postgres`): the critical section must run in this transaction.
    /// The fence is the transaction's id.
    InTransaction(Transaction<'static, Postgres>, Fence),
}

/// A lock backend. Object-safe (`Arc<dyn LockBackend>`) so that the active
/// backend can be swapped at runtime (`switch.rs`). Callers do not call it
/// directly but through [`Lock`], which counts and guards.
#[async_trait]
pub trait LockBackend: Send + Sync + fmt::Debug {
    /// Which backend this is, as reported in orders and settings.
    fn backend(&self) -> Backend;

    /// How the deduction must be written under this backend.
    fn deduction(&self) -> Deduction {
        Deduction::ReadCheckWrite
    }

    /// Takes the lock on `key`. `db` is the ledger's pool: only a lock that
    /// lives in the database (`postgres`) begins a transaction on it.
    async fn acquire(&self, key: &str, timings: LockTimings, db: &PgPool) -> Result<Acquired, LockError>;
}
