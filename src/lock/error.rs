//! [`LockError`]: the lock layer's own error — why a lock could not be had
//! (a 503), or was lost (a 409). `error.rs` folds it into the service's
//! error; the lock layer itself knows nothing of HTTP.

use std::fmt;
use std::time::Duration;

use stocklock_api::Backend;

use super::stage::HolderSeen;

/// Why a lock could not be had (a 503), or was lost (a 409).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another holder kept the lock for longer than we were willing to wait;
    /// `holder` is what that holder was doing, if it is on this instance.
    #[error("timed out after {waited:?} waiting for the {backend} lock on `{key}`: {}", holder_note(.holder))]
    Timeout {
        backend: Backend,
        key: String,
        waited: Duration,
        holder: Option<HolderSeen>,
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
    /// The database failed while it was the lock server (`postgres`): a
    /// database error, whose details are logged and never sent.
    #[error("database error while taking the lock")]
    Database(#[from] sqlx::Error),
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
            holder: None,
        }
    }

    pub fn unavailable(backend: Backend, reason: impl fmt::Display) -> Self {
        LockError::Unavailable {
            backend,
            reason: reason.to_string(),
        }
    }
}

fn holder_note(holder: &Option<HolderSeen>) -> String {
    match holder {
        Some(seen) => seen.to_string(),
        None => "no order on this instance held it (its holder is elsewhere)".to_owned(),
    }
}
