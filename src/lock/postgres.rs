//! `postgres`: a transaction-scoped advisory lock.
//!
//! `SELECT pg_advisory_xact_lock(hashtextextended('stock:{sku}', 0))` takes
//! an application-defined lock on a 64-bit number inside the deduction's own
//! transaction. PostgreSQL releases it at `COMMIT` or `ROLLBACK` — there is
//! no release call to forget, and the lock can never outlive the transaction
//! that made the change, so there is no TTL and no "lock expired while I was
//! still working" window. Waiters queue inside PostgreSQL, no polling.
//!
//! The wait is bounded by `lock_timeout`, set with `set_config(…, true)` so
//! it applies to this transaction only (`SET LOCAL` cannot take a bind
//! parameter). A timeout raises SQLSTATE `55P03`, which becomes a 503
//! `lock_unavailable`. Any other failure is the database's, not the lock's:
//! it becomes a database error, whose details are logged and never sent.
//!
//! Failure modes, in plain words:
//! * **The holder stalls:** everyone behind it waits (then gets 503); nobody
//!   else gets in. Correctness is never traded for progress.
//! * **The holder's connection dies:** PostgreSQL ends its transaction,
//!   rolling back its change and releasing its lock together.
//! * **Cost:** a waiter holds a pooled connection while it waits, so with
//!   more buyers than connections, buyers also queue for the pool.
//! * **Hash collisions:** two SKUs whose keys hash alike share a lock. That
//!   costs some waiting, never correctness.
//!
//! Fencing, honestly: the token is the transaction's id (`txid_current()`,
//! assigned once the lock is held, so ids follow the lock's order). It
//! proves nothing the lock does not already guarantee — the lock cannot
//! outlive the transaction that writes — so here fencing is a control: it
//! shows what the extra claim costs, and that it never fires.

use async_trait::async_trait;
use sqlx::PgConnection;
use stocklock_api::Backend;

use super::fence::Fence;
use super::{LockBackend, LockError, LockGuard, LockTimings};
use crate::error::Error;
use crate::store;

#[derive(Debug, Default)]
pub struct PostgresAdvisoryLock;

#[async_trait]
impl LockBackend for PostgresAdvisoryLock {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    /// Nothing to take before the transaction: see `lock_in_transaction`.
    async fn acquire(&self, _key: &str, _timings: LockTimings) -> Result<LockGuard, LockError> {
        Ok(LockGuard::unlocked())
    }

    #[tracing::instrument(level = "debug", skip(self, tx, timings))]
    async fn lock_in_transaction(
        &self,
        key: &str,
        tx: &mut PgConnection,
        timings: LockTimings,
    ) -> Result<Option<Fence>, Error> {
        let locked = async {
            store::set_lock_timeout(&mut *tx, timings.acquire_timeout).await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            sqlx::query_scalar::<_, i64>("SELECT txid_current()")
                .fetch_one(&mut *tx)
                .await
        }
        .await;
        match locked {
            Ok(token) => Ok(Some(Fence {
                epoch: "postgres".to_owned(),
                token,
                holder: token.to_string(),
            })),
            Err(err) if store::is_lock_timeout(&err) => {
                Err(LockError::timeout(Backend::Postgres, key, timings.acquire_timeout).into())
            }
            Err(err) => Err(Error::Database(err)),
        }
    }
}
