//! `renewal` off: each lock on a lease of its own, with exactly its TTL —
//! the article's lock, with "no automatic renewal".
//!
//! The lease must exist before we queue (etcd needs it to create our key),
//! but its TTL is meant for the *holder*: it is kept alive while we wait and
//! refreshed once when the lock is ours, so the TTL starts when the lock is
//! held, never while queued; then nothing renews it. Release revokes the
//! lease, which deletes our key with it in one call.

use std::time::Duration;

use etcd_client::Client;
use stocklock_api::Backend;
use tokio::time::Instant;

use super::EtcdLock;
use super::held::{EtcdHeld, Lease, fence_of};
use super::lease::lease_seconds;
use super::lease::{keep_alive_every, refresh};
use super::queue::{QueueError, queue};
use crate::domain::Fence;
use crate::lock::local::KeyedGuard;
use crate::lock::{LockError, LockTimings, bounded, within, within_deadline};

impl EtcdLock {
    /// `renewal` off: a lease of our own, kept alive only while we queue,
    /// refreshed once when the lock is ours — the holder starts with the
    /// whole TTL — and then left to run out.
    pub(super) async fn acquire_on_own_lease(
        &self,
        mut client: Client,
        key: &str,
        timings: LockTimings,
        deadline: Instant,
        turn: KeyedGuard,
    ) -> Result<EtcdHeld, LockError> {
        let grant = client.lease_grant(lease_seconds(timings.ttl), None);
        let lease = within_deadline(Backend::Etcd, deadline, grant).await?;
        let (lease_id, granted) = (lease.id(), Duration::from_secs(lease.ttl().max(1) as u64));
        let limits = (deadline, timings.server_timeout());
        match self
            .queue_on_own_lease(&mut client, key, lease_id, granted, limits)
            .await
        {
            Ok((lock_key, fence)) => Ok(EtcdHeld {
                client,
                key: lock_key,
                fence,
                lease: Lease::Own {
                    id: lease_id,
                    _turn: turn,
                },
                server_timeout: timings.server_timeout(),
            }),
            Err(err) => {
                self.revoke_later(client, lease_id, timings.server_timeout());
                Err(err.into_lock_error(key, timings))
            }
        }
    }

    /// Queues under our own lease, keeping it alive while we wait, and
    /// refreshes it once more when the lock is ours. Returns our key and its fencing token.
    async fn queue_on_own_lease(
        &self,
        client: &mut Client,
        key: &str,
        lease_id: i64,
        ttl: Duration,
        (deadline, server_timeout): (Instant, Duration),
    ) -> Result<(Vec<u8>, Fence), QueueError> {
        let failed = QueueError::Failed;
        let keep_alive = client.lease_keep_alive(lease_id);
        let (mut keeper, mut replies) = within_deadline(Backend::Etcd, deadline, keep_alive)
            .await
            .map_err(failed)?;
        let mut locker = client.clone();
        let lock_key = tokio::select! {
            queued = queue(&mut locker, key, lease_id, deadline) => queued?,
            lost = keep_alive_every(ttl / 3, &mut keeper, &mut replies) => return Err(failed(lost)),
        };
        // The lock is ours: start the holder's TTL now, on a new keep-alive
        // stream — `select!` may have cut a refresh short after its request
        // was sent, and its late reply would then be read as this one's.
        drop((keeper, replies));
        let restart = async {
            let unavailable = |err| LockError::unavailable(Backend::Etcd, err);
            let (mut keeper, mut replies) = client.lease_keep_alive(lease_id).await.map_err(unavailable)?;
            refresh(&mut keeper, &mut replies).await?;
            fence_of(client, &lock_key, lease_id, key).await
        };
        let fence = bounded(Backend::Etcd, server_timeout, restart)
            .await
            .map_err(failed)?;
        Ok((lock_key, fence))
    }

    /// Revokes a lease in the background: used when we stop waiting.
    fn revoke_later(&self, mut client: Client, lease_id: i64, limit: Duration) {
        self.tasks.spawn(async move {
            if let Err(err) = within(Backend::Etcd, limit, client.lease_revoke(lease_id)).await {
                tracing::warn!(error = %err, lease_id, "revoking an abandoned etcd lease failed");
            }
        });
    }
}
