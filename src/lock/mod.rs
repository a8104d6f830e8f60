//! The lock abstraction: one trait, one file per backend.
//!
//! A deduction is a read-check-write of one SKU's stock. Any two requests
//! that interleave inside it can both read "1 left" and both sell it. A lock
//! per SKU (key `stock:{sku}`) serialises them; this module is the seam where
//! *which* lock is decided, so the rest of the service is the same code for
//! every backend and the load tester compares like with like.
//!
//! # Contract
//!
//! A [`LockBackend`] guarantees, for a given key and while its servers are up
//! and the holder finishes within the TTL:
//!
//! * **Mutual exclusion.** Between a successful [`LockBackend::acquire`] (plus
//!   [`LockBackend::lock_in_transaction`]) and the release of the returned
//!   [`LockGuard`], no other holder of the same key exists — within its
//!   *scope*: one process for `local`, every process sharing the server(s) for
//!   `redis`, `etcd`, `postgres` and `redlock`. `none` and `atomic` take no
//!   lock at all and say so through [`LockBackend::deduction`]. (The
//!   contract suite runs `redlock` over five Redis masters of its own.)
//! * **Bounded waiting.** Acquisition gives up after the acquire timeout
//!   with [`LockError::Timeout`]; a server that is down or hangs gives
//!   [`LockError::Unavailable`] within that time too (a server that hangs
//!   *after* saying the lock is busy — Redis between retries, etcd while we
//!   queue — is indistinguishable from a busy lock, and gives `Timeout`).
//!   Every call is bounded by the request's own deadline, so a
//!   `PUT /admin/lock` applies at once. Calls made once the lock is held
//!   (etcd's refresh on grant, verify, release) are bounded by
//!   [`LockTimings::server_timeout`]. All become a 503 and the request
//!   changes nothing: a lock we cannot get is never skipped. (`postgres`
//!   waits inside PostgreSQL; a database that is down is a database error.)
//! * **Release on every path.** See [`LockGuard`].
//! * **Independence of keys.** Holding `stock:a` never delays `stock:b`.
//!
//! The contract test suite in `tests/api/lock_contract.rs` runs these
//! promises against every backend on real servers.
//!
//! # Two places to take a lock
//!
//! Locks that live *outside* the database (local, redis, etcd) are taken in
//! [`LockBackend::acquire`], **before** the transaction begins: a request
//! that waits for one does not sit on a pooled database connection meanwhile.
//! A lock that lives *inside* the database can only be taken on the
//! transaction's own connection, so `postgres` implements
//! [`LockBackend::lock_in_transaction`] instead, and its waiters do hold
//! connections — one of the costs the load tester makes visible.

mod atomic;
mod etcd;
pub mod fence;
mod guard;
mod local;
mod none;
mod postgres;
mod redis;
mod redlock;
pub mod renew;
pub mod retry;
pub mod switch;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgConnection;
use stocklock_api::Backend;
use tokio::time::Instant;

use crate::error::Error;

pub use atomic::AtomicUpdate;
pub use etcd::EtcdLock;
pub use guard::{HeldLock, LockGuard};
pub use local::LocalLock;
pub use none::NoLock;
pub use postgres::PostgresAdvisoryLock;
pub use redis::RedisLock;
pub use redlock::Redlock;

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
/// further bounded by the request's own deadline ([`within_deadline`]).
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
}

/// Why a lock could not be had (a 503), or was lost (a 409).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another holder kept the lock for longer than we were willing to wait.
    #[error("timed out after {waited:?} waiting for the {backend} lock on `{key}`")]
    Timeout {
        backend: Backend,
        key: String,
        waited: Duration,
    },
    /// The lock server could not be reached or did not answer in time.
    #[error("the {backend} lock server is unavailable: {reason}")]
    Unavailable { backend: Backend, reason: String },
    /// The lock was lost before the work was written — its TTL ran out (the
    /// check before commit saw it), or a newer holder's fencing token won
    /// (PostgreSQL refused the write) — so the work was rolled back rather
    /// than committed unprotected. A 409, not a 503: the lock server is fine,
    /// this holder was too slow.
    #[error("the {backend} lock on `{key}` was lost before the order was written")]
    Lost { backend: Backend, key: String },
}

impl LockError {
    pub fn lost(backend: Backend, key: &str) -> Self {
        LockError::Lost {
            backend,
            key: key.to_owned(),
        }
    }

    pub fn timeout(backend: Backend, key: &str, waited: Duration) -> Self {
        LockError::Timeout {
            backend,
            key: key.to_owned(),
            waited,
        }
    }

    pub fn unavailable(backend: Backend, reason: impl fmt::Display) -> Self {
        LockError::Unavailable {
            backend,
            reason: reason.to_string(),
        }
    }
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

/// A lock backend. Object-safe (`Arc<dyn LockBackend>`) so that the active
/// backend can be swapped at runtime; see [`switch`].
#[async_trait]
pub trait LockBackend: Send + Sync + fmt::Debug {
    /// Which backend this is, as reported in orders and settings.
    fn backend(&self) -> Backend;

    /// How the deduction must be written under this backend.
    fn deduction(&self) -> Deduction {
        Deduction::ReadCheckWrite
    }

    /// Takes the lock on `key` before the transaction begins. Backends
    /// without an external lock return [`LockGuard::unlocked`].
    async fn acquire(&self, key: &str, timings: LockTimings) -> Result<LockGuard, LockError>;

    /// Takes a lock on the transaction's connection, released by its commit
    /// or rollback. Only the database-backed lock needs this; it returns its
    /// fencing token, if it has one. Its errors are the service's own: a lock
    /// timeout is a [`LockError`], any other failure a database error
    /// (logged, never sent to the client).
    async fn lock_in_transaction(
        &self,
        _key: &str,
        _tx: &mut PgConnection,
        _timings: LockTimings,
    ) -> Result<Option<fence::Fence>, Error> {
        Ok(None)
    }
}
