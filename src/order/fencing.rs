//! The fencing policy, decided once: where an order claims the product for
//! its lock's token, and in which transaction it then works.
//!
//! With `fencing` on and a lock that has tokens, the claim comes right after
//! acquiring and before anything is read — committed on its own, so every
//! holder sees it at once, for locks outside the database; inside the
//! transaction, right after its lock, for `postgres`. A claim that finds a
//! newer token already there means our lock is stale: 409 `lock_lost`.
//! Why the claim must come first, and what epochs are: `docs/fencing.md`.

use sqlx::{PgConnection, Postgres, Transaction};
use stocklock_api::Backend;

use crate::domain::{Fence, Sku};
use crate::error::Error;
use crate::lock::{LockError, LockGuard};
use crate::metrics::Place;
use crate::state::AppState;
use crate::store::{self, Claim};
use crate::switch::Settings;

/// The order's transaction, the fence its write must carry, and the stock
/// the fence's claim found (and when): the read, done.
type Begun = (Transaction<'static, Postgres>, Option<Fence>, Option<(i64, i64)>);

/// Begins the order's transaction and, with `fencing`, claims the product
/// for the lock's token, reading its stock in the same statement.
pub async fn begin(
    state: &AppState,
    settings: &Settings,
    sku: &Sku,
    guard: &mut LockGuard,
) -> Result<Begun, Error> {
    if let Some((mut tx, fence)) = guard.take_transaction() {
        // The lock lives in this transaction: the claim joins it, and the
        // product row stays locked by it until we commit, so other
        // instances' claims queue behind it (bounded by `lock_timeout`).
        if !settings.fencing {
            return Ok((tx, None, None));
        }
        let claimed = guard.at(Place::Database, 1, claim(&mut tx, sku, &fence, settings.backend));
        let read = claimed.await?;
        return Ok((tx, Some(fence), Some(read)));
    }
    let (fence, read) = match guard.token() {
        Some(fence) if settings.fencing => {
            let read = claim_on_its_own(state, settings, sku, &fence, guard).await?;
            (Some(fence), Some(read))
        }
        _ => (None, None),
    };
    let begun = store::begin_within(&state.pool, settings.acquire_timeout);
    let tx = guard.at(Place::Database, store::BEGIN_TRIPS, begun).await?;
    Ok((tx, fence, read))
}

/// A claim committed on its own, bounded by the acquire timeout like every
/// other wait for the lock.
async fn claim_on_its_own(
    state: &AppState,
    settings: &Settings,
    sku: &Sku,
    fence: &Fence,
    guard: &LockGuard,
) -> Result<(i64, i64), Error> {
    let begun = store::begin_limited(&state.pool, settings.acquire_timeout);
    let mut tx = guard.at(Place::Database, store::BEGIN_TRIPS, begun).await?;
    let read = guard
        .at(Place::Database, 1, claim(&mut tx, sku, fence, settings.backend))
        .await?;
    guard.at(Place::Database, 1, tx.commit()).await?;
    Ok(read)
}

/// Claims the product; answers with its stock, and when it was read.
async fn claim(
    conn: &mut PgConnection,
    sku: &Sku,
    fence: &Fence,
    backend: Backend,
) -> Result<(i64, i64), Error> {
    match store::claim_fence(conn, sku, fence).await {
        Ok(Claim::Claimed { stock, at_us }) => Ok((stock, at_us)),
        Ok(Claim::Stale) => Err(LockError::lost(backend, &sku.lock_key()).into()),
        Ok(Claim::NoProduct) => Err(Error::ProductNotFound(sku.to_string())),
        // The product row is held by a transaction that claimed or wrote it
        // and has not committed yet: a lock failure (503), not the database's.
        Err(err) if store::is_lock_timeout(&err) => {
            let reason = format!("claiming `{sku}` for the fence timed out");
            Err(LockError::unavailable(backend, reason).into())
        }
        Err(err) => Err(Error::Database(err)),
    }
}
