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
use crate::state::AppState;
use crate::store::{self, Claim};
use crate::switch::Settings;

/// Begins the order's transaction and, with `fencing`, claims the product
/// for the lock's token; returns the fence the write must carry.
pub async fn begin(
    state: &AppState,
    settings: &Settings,
    sku: &Sku,
    guard: &mut LockGuard,
) -> Result<(Transaction<'static, Postgres>, Option<Fence>), Error> {
    if let Some((mut tx, fence)) = guard.take_transaction() {
        // The lock lives in this transaction: the claim joins it, and the
        // product row stays locked by it until we commit, so other
        // instances' claims queue behind it (bounded by `lock_timeout`).
        if !settings.fencing {
            return Ok((tx, None));
        }
        claim(&mut tx, sku, &fence, settings.backend).await?;
        return Ok((tx, Some(fence)));
    }
    let fence = match guard.token() {
        Some(fence) if settings.fencing => {
            claim_on_its_own(state, settings, sku, &fence).await?;
            Some(fence)
        }
        _ => None,
    };
    Ok((
        store::begin_within(&state.pool, settings.acquire_timeout).await?,
        fence,
    ))
}

/// A claim committed on its own, bounded by the acquire timeout like every
/// other wait for the lock.
async fn claim_on_its_own(
    state: &AppState,
    settings: &Settings,
    sku: &Sku,
    fence: &Fence,
) -> Result<(), Error> {
    let mut tx = store::begin_within(&state.pool, settings.acquire_timeout).await?;
    store::set_lock_timeout(&mut tx, settings.acquire_timeout).await?;
    claim(&mut tx, sku, fence, settings.backend).await?;
    tx.commit().await?;
    Ok(())
}

async fn claim(conn: &mut PgConnection, sku: &Sku, fence: &Fence, backend: Backend) -> Result<(), Error> {
    match store::claim_fence(conn, sku, fence).await {
        Ok(Claim::Claimed) => Ok(()),
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
