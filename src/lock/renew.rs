//! Keeping a lock alive while its holder is still at work: one round trip
//! at a time, every third of the TTL, so that two refreshes can be late
//! before the lock expires.
//!
//! Today this keeps an etcd lease alive while its request waits in the
//! lock's queue (and refreshes it once more when the lock is granted; see
//! `etcd.rs`). A refresh that fails, or that etcd answers with a TTL of 0 or
//! less, means the lease — and every key under it — is gone: the caller must
//! treat its lock as lost.

use std::time::Duration;

use etcd_client::{LeaseKeepAliveStream, LeaseKeeper};
use stocklock_api::Backend;

use super::LockError;

/// Keeps a lease alive every `period` until a refresh fails; returns why.
pub async fn keep_alive_every(
    period: Duration,
    keeper: &mut LeaseKeeper,
    replies: &mut LeaseKeepAliveStream,
) -> LockError {
    loop {
        tokio::time::sleep(period).await;
        if let Err(err) = refresh(keeper, replies).await {
            return err;
        }
    }
}

/// One keep-alive round trip; an expired lease (TTL ≤ 0) is an error.
pub async fn refresh(keeper: &mut LeaseKeeper, replies: &mut LeaseKeepAliveStream) -> Result<(), LockError> {
    let unavailable = |reason: &dyn std::fmt::Display| LockError::unavailable(Backend::Etcd, reason);
    keeper.keep_alive().await.map_err(|err| unavailable(&err))?;
    match replies.message().await {
        Ok(Some(reply)) if reply.ttl() > 0 => Ok(()),
        Ok(Some(_)) => Err(unavailable(&"the lease expired while queued")),
        Ok(None) => Err(unavailable(&"the keep-alive stream closed")),
        Err(err) => Err(unavailable(&err)),
    }
}
