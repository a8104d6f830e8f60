//! Keeping an etcd lease alive: one keep-alive round trip ([`refresh`]),
//! a loop of them for a lock on its own lease ([`keep_alive_every`]), and
//! the [`Renew`] that the session's watchdog runs ([`LeaseRenewer`]). Why
//! the lock keeps one lease per instance: `docs/locks.md`.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper};
use stocklock_api::Backend;

use crate::lock::renew::Renew;
use crate::lock::{LockError, bounded, within};

/// etcd's message for a lease that has expired or was revoked.
pub(super) const LEASE_NOT_FOUND: &str = "requested lease not found";

/// etcd leases are whole seconds; round up so the lock never lives shorter
/// than asked.
pub(super) fn lease_seconds(ttl: Duration) -> i64 {
    ttl.as_millis().div_ceil(1000).max(1) as i64
}

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
        Ok(Some(_)) => Err(unavailable(&"the lease expired")),
        Ok(None) => Err(unavailable(&"the keep-alive stream closed")),
        Err(err) => Err(unavailable(&err)),
    }
}

/// Renews an etcd lease through its keep-alive stream.
pub struct LeaseRenewer {
    pub client: Client,
    pub lease_id: i64,
    pub keeper: LeaseKeeper,
    pub replies: LeaseKeepAliveStream,
    /// The bound of one round trip.
    pub limit: Duration,
}

impl LeaseRenewer {
    async fn round_trip(&mut self) -> Result<(), LockError> {
        let round_trip = refresh(&mut self.keeper, &mut self.replies);
        bounded(Backend::Etcd, self.limit, round_trip).await
    }
}

#[async_trait]
impl Renew for LeaseRenewer {
    async fn renew(&mut self) -> Result<(), LockError> {
        if self.round_trip().await.is_ok() {
            return Ok(());
        }
        // The stream's member may be gone — a leader killed — while the
        // lease lives on in the replicated log: ask again on a new stream,
        // which the client sends to a member that answers. (Go's session
        // keeps retrying the same way.) A lease that expired says so again.
        let reopened = self.client.lease_keep_alive(self.lease_id);
        (self.keeper, self.replies) = within(Backend::Etcd, self.limit, reopened).await?;
        self.round_trip().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_seconds_round_up_and_never_reach_zero() {
        assert_eq!(lease_seconds(Duration::from_millis(1)), 1);
        assert_eq!(lease_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(lease_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(lease_seconds(Duration::from_millis(5000)), 5);
    }
}
