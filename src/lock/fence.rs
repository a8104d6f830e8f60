//! Fencing tokens: how the *resource* — PostgreSQL — refuses a holder whose
//! lock has expired, instead of trusting the holder to know.
//!
//! A lock with a TTL cannot promise mutual exclusion on its own: a holder
//! that stalls (a GC pause, a slow disk) past the TTL keeps working while a
//! second holder takes the lock, and whatever it checks before writing can
//! go stale the instant after the check (Kleppmann, "How to do distributed
//! locking", 2016). The fix is on the other side: every acquisition yields a
//! token that strictly increases per key, and the storage refuses writes
//! under any token but the newest.
//!
//! # Two steps
//!
//! 1. **Claim**, right after acquiring, before reading the stock:
//!    `UPDATE products SET fence = $token WHERE fence < $token`, committed on
//!    its own (bounded by `lock_timeout`) so every holder sees it at once —
//!    except for `postgres`, whose lock lives in the transaction: it claims
//!    inside it, right after the lock. Zero rows: a newer holder has claimed
//!    already, so ours is stale: stop (409 `lock_lost`). A claim is a
//!    lasting side effect — it stays even if its order is later refused
//!    (sold out, fenced out) — and that is fine: it only ever refuses
//!    holders that claimed before it.
//! 2. **Write conditionally**: the stock update carries
//!    `AND fence = $token AND fence_holder = $holder`. Zero rows: a newer
//!    holder claimed after us, while we worked: we are fenced out, roll back
//!    (409 `lock_lost`). A write *without* a fence (`none`, `local`,
//!    `atomic`, or `fencing` off on another instance) clears the product's
//!    fence, so a fenced holder that read before it cannot write after it.
//!
//! Why the claim step? With only a conditional write (`WHERE fence <=
//! $token`, setting it), a stale holder A (token 5) that read the stock
//! before stalling could still write *first*, ahead of the newer holder B
//! (token 6) that read the same stock meanwhile: both writes pass, and one
//! sale is lost. The claim announces B's token *before B reads*, so A's
//! write — whenever it comes — is refused. Every successful write then read
//! its stock after its own claim, and no other write can have happened
//! between that claim and its write: that is the mutual exclusion the lock
//! alone could not give. (The holder id rides along so that a token handed
//! out twice — a Redis reloaded from an old snapshot, an etcd restored from
//! a backup — still names one holder.)
//!
//! # Epochs
//!
//! Tokens of one sequence are comparable; tokens of two are not. etcd's
//! revisions dwarf a Redis counter, so after a switch back to Redis every
//! order would be refused forever; and a Redis restarted without persistence
//! (or an etcd started on a new data directory) begins its sequence again at
//! 1, below the last token PostgreSQL saw. So every token carries its
//! *epoch* — the backend and the incarnation of its sequence (Redis: a random
//! id the lock script stores beside the counter when the counter is new;
//! etcd: a random id kept in the cluster, made anew with its data;
//! PostgreSQL: one epoch, transaction ids never restart) — and a claim in
//! another epoch than the last one wins whatever its number.
//!
//! That keeps the write safe, because safety never rested on comparing
//! numbers: a write needs the very token that was claimed *last*, and every
//! successful write read its stock after its own claim. What ordering buys
//! within an epoch is that a stale holder cannot even claim. Across an epoch
//! change it can, once — it then reads the current stock after its claim,
//! and any holder that claimed before it is refused at its write. Within an
//! instance a backend switch drains the orders in flight first
//! (`switch.rs`); across two instances switched one after the other, holders
//! of the two backends fence *each other* out for a moment — 409s, never two
//! writers.

use sqlx::PgConnection;
use stocklock_api::Backend;

use crate::domain::Sku;
use crate::error::Error;
use crate::lock::LockError;
use crate::store;

/// A fencing token, and the epoch of the sequence that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// `redis/<id>`, `etcd/<id>`, `postgres`.
    pub epoch: String,
    pub token: i64,
    /// Which acquisition this is (a Redis owner id, an etcd lease id, a
    /// transaction id): the write checks it too, so a token that a sequence
    /// handed out twice still names one holder.
    pub holder: String,
}

/// A claim that waited longer than `lock_timeout` for the product row (held
/// by a transaction that claimed or wrote it and has not committed yet) is a
/// lock failure (503), not a database failure.
fn lock_timeout_or(err: sqlx::Error, sku: &Sku, backend: Backend) -> Error {
    if store::is_lock_timeout(&err) {
        LockError::unavailable(backend, format!("claiming `{sku}` for the fence timed out")).into()
    } else {
        Error::Database(err)
    }
}

/// Step 1: claims the product for `fence`. `Ok(false)` if a newer token of
/// the same epoch was claimed already: ours is stale.
#[tracing::instrument(level = "debug", skip(conn))]
pub async fn claim(
    conn: &mut PgConnection,
    sku: &Sku,
    fence: &Fence,
    backend: Backend,
) -> Result<bool, Error> {
    let claimed = sqlx::query(
        "UPDATE products SET fence_epoch = $2, fence = $3, fence_holder = $4
         WHERE sku = $1
           AND (fence_epoch IS DISTINCT FROM $2 OR fence IS NULL OR fence < $3)",
    )
    .bind(sku.as_str())
    .bind(&fence.epoch)
    .bind(fence.token)
    .bind(&fence.holder)
    .execute(&mut *conn)
    .await
    .map_err(|err| lock_timeout_or(err, sku, backend))?;
    if claimed.rows_affected() == 1 {
        return Ok(true);
    }
    // Nothing claimed: a stale token, or no such product at all.
    let exists = sqlx::query("SELECT 1 FROM products WHERE sku = $1")
        .bind(sku.as_str())
        .fetch_optional(conn)
        .await?;
    match exists {
        Some(_) => Ok(false),
        None => Err(Error::ProductNotFound(sku.to_string())),
    }
}
