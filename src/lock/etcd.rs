//! `etcd`: a lease plus etcd's built-in lock service.
//!
//! * **Acquire:** grant a *lease* with the TTL, then call `Lock(name, lease)`.
//!   etcd creates a key `name/<lease-id>` under that lease and answers once
//!   every key under `name` with a smaller creation revision is gone: waiters
//!   form a queue ordered by revision, served first come, first served, with
//!   no polling (compare Redis, which has to retry).
//! * **While queued, the lease is kept alive** (every third of its TTL), and
//!   refreshed once more the moment the lock is ours. The lease exists before
//!   we queue (etcd needs it to create our key), but its TTL is meant for the
//!   *holder*: without the keep-alive, time spent waiting would be taken off
//!   it, and with a TTL no longer than the acquire timeout a holder that never
//!   stalls could get the lock with milliseconds to live.
//! * **Release:** revoke the lease. That deletes every key attached to it, our
//!   lock key included, in one call; `Unlock` would delete the key and still
//!   leave the lease to revoke (two calls, and a failed first one would skip
//!   the second).
//!
//! etcd replicates every write through Raft, so in a cluster a lock survives
//! the loss of a minority of nodes — the "strongly consistent" lock. (Our
//! workshop runs a single node, which shows the API and the cost, not the
//! fault tolerance.)
//!
//! Failure modes, in plain words:
//! * **The holder stalls past the TTL:** the lease expires, etcd deletes the
//!   key, and the next waiter gets the lock while the first still works. As
//!   with Redis we check right before committing that our key still exists
//!   (a read of the key, exact; the lease's remaining TTL is reported in
//!   whole seconds, so "0 s left" would read as lost while still held) and
//!   roll back if it is gone; a lock with a TTL cannot promise more without
//!   fencing. Leases count whole seconds, so `ttl_ms` is rounded up, and etcd
//!   raises any TTL below its minimum (2 s by default).
//! * **We give up waiting:** our key is still queued. We revoke the lease,
//!   which deletes it; otherwise it would block everyone behind it until the
//!   TTL ran out.
//! * **etcd is down or hangs:** connecting or granting fails or runs out of
//!   time (`Unavailable`); a hang while queued looks like a busy lock
//!   (`Timeout`). Either way the request gets a 503 within the acquire
//!   timeout — plus, once the lock is granted, one refresh bounded by the
//!   server timeout. The gRPC channel reconnects by itself.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, ConnectOptions, LeaseKeepAliveStream, LeaseKeeper, LockOptions};
use stocklock_api::Backend;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::{
    HeldLock, LockBackend, LockError, LockGuard, LockTimings, SERVER_CALL_LIMIT, within, within_deadline,
};

/// etcd's message for a lease that has expired or was revoked.
const LEASE_NOT_FOUND: &str = "requested lease not found";

pub struct EtcdLock {
    endpoints: Vec<String>,
    /// Connected on first use, so the service starts while etcd is down.
    client: OnceCell<Client>,
    /// Where background revokes run, so a graceful shutdown waits for them.
    tasks: TaskTracker,
}

impl EtcdLock {
    pub fn new(endpoints: Vec<String>, tasks: TaskTracker) -> Self {
        EtcdLock {
            endpoints,
            client: OnceCell::new(),
            tasks,
        }
    }

    /// A cheap clone of the shared client (one gRPC channel underneath),
    /// connecting first if need be, before `deadline`.
    async fn client(&self, deadline: Instant) -> Result<Client, LockError> {
        let connect = || {
            let options = ConnectOptions::new()
                .with_connect_timeout(SERVER_CALL_LIMIT)
                .with_keep_alive(Duration::from_secs(10), SERVER_CALL_LIMIT);
            within_deadline(
                Backend::Etcd,
                deadline,
                Client::connect(&self.endpoints, Some(options)),
            )
        };
        Ok(self.client.get_or_try_init(connect).await?.clone())
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

impl std::fmt::Debug for EtcdLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdLock")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// etcd leases are whole seconds; round up so the lock never lives shorter
/// than asked.
fn lease_seconds(ttl: Duration) -> i64 {
    ttl.as_millis().div_ceil(1000).max(1) as i64
}

#[async_trait]
impl LockBackend for EtcdLock {
    fn backend(&self) -> Backend {
        Backend::Etcd
    }

    #[tracing::instrument(level = "debug", skip(self, timings))]
    async fn acquire(&self, key: &str, timings: LockTimings) -> Result<LockGuard, LockError> {
        let deadline = Instant::now() + timings.acquire_timeout;
        let mut client = self.client(deadline).await?;
        let grant = client.lease_grant(lease_seconds(timings.ttl), None);
        let lease = within_deadline(Backend::Etcd, deadline, grant).await?;
        let (lease_id, granted) = (lease.id(), Duration::from_secs(lease.ttl().max(1) as u64));

        let limits = (deadline, timings.server_timeout());
        match self.queue(&mut client, key, lease_id, granted, limits).await {
            Ok(lock_key) => Ok(LockGuard::new(EtcdHeld {
                client,
                key: lock_key,
                lease_id,
                server_timeout: timings.server_timeout(),
            })),
            Err(err) => {
                self.revoke_later(client, lease_id, timings.server_timeout());
                Err(match err {
                    QueueError::TimedOut => LockError::timeout(Backend::Etcd, key, timings.acquire_timeout),
                    QueueError::Failed(err) => err,
                })
            }
        }
    }
}

enum QueueError {
    TimedOut,
    Failed(LockError),
}

impl EtcdLock {
    /// Queues for the lock under `lease_id`, keeping the lease alive while we
    /// wait, and refreshes it once more when the lock is ours: the holder
    /// starts with the whole TTL. Returns the key etcd created for us.
    async fn queue(
        &self,
        client: &mut Client,
        key: &str,
        lease_id: i64,
        ttl: Duration,
        (deadline, server_timeout): (Instant, Duration),
    ) -> Result<Vec<u8>, QueueError> {
        let failed = QueueError::Failed;
        let keep_alive = client.lease_keep_alive(lease_id);
        let (mut keeper, mut replies) = within_deadline(Backend::Etcd, deadline, keep_alive)
            .await
            .map_err(failed)?;
        let mut locker = client.clone();
        let lock = locker.lock(key, Some(LockOptions::new().with_lease(lease_id)));
        let waited = tokio::select! {
            locked = tokio::time::timeout_at(deadline, lock) => locked,
            lost = keep_alive_every(ttl / 3, &mut keeper, &mut replies) => return Err(failed(lost)),
        };
        let response = match waited {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => return Err(failed(LockError::unavailable(Backend::Etcd, err))),
            Err(_elapsed) => return Err(QueueError::TimedOut),
        };
        // The lock is ours: start the holder's TTL now, on a new keep-alive
        // stream — `select!` may have cut a refresh short after its request
        // was sent, and its late reply would then be read as this one's.
        drop((keeper, replies));
        let restart = async {
            let (mut keeper, mut replies) = client
                .lease_keep_alive(lease_id)
                .await
                .map_err(|err| LockError::unavailable(Backend::Etcd, err))?;
            refresh(&mut keeper, &mut replies).await
        };
        within(Backend::Etcd, server_timeout, restart)
            .await
            .map_err(failed)?;
        Ok(response.key().to_vec())
    }
}

/// Keeps a lease alive every `period` until a refresh fails; returns why.
async fn keep_alive_every(
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
async fn refresh(keeper: &mut LeaseKeeper, replies: &mut LeaseKeepAliveStream) -> Result<(), LockError> {
    let unavailable = |reason: &dyn std::fmt::Display| LockError::unavailable(Backend::Etcd, reason);
    keeper.keep_alive().await.map_err(|err| unavailable(&err))?;
    match replies.message().await {
        Ok(Some(reply)) if reply.ttl() > 0 => Ok(()),
        Ok(Some(_)) => Err(unavailable(&"the lease expired while queued")),
        Ok(None) => Err(unavailable(&"the keep-alive stream closed")),
        Err(err) => Err(unavailable(&err)),
    }
}

struct EtcdHeld {
    client: Client,
    /// The ownership key etcd created for us (`name/<lease-id>`).
    key: Vec<u8>,
    lease_id: i64,
    /// The bound of each call made while held, from the request's settings.
    server_timeout: Duration,
}

#[async_trait]
impl HeldLock for EtcdHeld {
    /// Our key still exists, under our lease: the lock is still ours. Exact,
    /// unlike the lease's TTL, which etcd reports in whole seconds.
    async fn verify(&self) -> Result<(), LockError> {
        let mut client = self.client.clone();
        let found = within(
            Backend::Etcd,
            self.server_timeout,
            client.get(self.key.clone(), None),
        )
        .await?;
        if found.kvs().iter().any(|kv| kv.lease() == self.lease_id) {
            Ok(())
        } else {
            Err(LockError::Lost {
                backend: Backend::Etcd,
                key: String::from_utf8_lossy(&self.key).into_owned(),
            })
        }
    }

    async fn release(self: Box<Self>) -> Result<(), LockError> {
        let mut client = self.client.clone();
        let revoked = client.lease_revoke(self.lease_id);
        match tokio::time::timeout(self.server_timeout, revoked).await {
            Ok(Ok(_)) => Ok(()),
            // The lease already expired (the holder outlived its TTL): the
            // key went with it, so there is nothing left to release.
            Ok(Err(etcd_client::Error::GRpcStatus(status))) if status.message().contains(LEASE_NOT_FOUND) => {
                Ok(())
            }
            Ok(Err(err)) => Err(LockError::unavailable(Backend::Etcd, err)),
            Err(_) => Err(LockError::unavailable(Backend::Etcd, "no answer in time")),
        }
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
