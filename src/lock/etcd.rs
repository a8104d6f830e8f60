//! `etcd`: a lease plus etcd's built-in lock service.
//!
//! * **Acquire:** grant a *lease* with the TTL, then call `Lock(name, lease)`.
//!   etcd creates a key `name/<lease-id>` under that lease and answers once
//!   every key under `name` with a smaller creation revision is gone: waiters
//!   form a queue ordered by revision, served first come, first served, with
//!   no polling (compare Redis, which has to retry).
//! * **Release:** `Unlock(key)`, then revoke the lease.
//!
//! etcd replicates every write through Raft, so in a cluster a lock survives
//! the loss of a minority of nodes — the "strongly consistent" lock. (Our
//! workshop runs a single node, which shows the API and the cost, not the
//! fault tolerance.)
//!
//! Failure modes, in plain words:
//! * **The holder stalls past the TTL:** the lease expires, etcd deletes the
//!   key, and the next waiter gets the lock while the first still works. As
//!   with Redis we check the lease right before committing and roll back if
//!   it is gone; a lock with a TTL cannot promise more without fencing.
//!   Leases count whole seconds, so `ttl_ms` is rounded up.
//! * **We give up waiting:** our key is still queued. We revoke the lease,
//!   which deletes it; otherwise it would block everyone behind it until the
//!   TTL ran out.
//! * **etcd is down:** lease grants fail or time out; requests get 503 within
//!   the acquire timeout. The gRPC channel reconnects by itself.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, ConnectOptions, LockOptions};
use stocklock_api::Backend;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{HeldLock, LockBackend, LockError, LockGuard, LockTimings, within};

/// etcd's message for a lease that has expired or was revoked.
const LEASE_NOT_FOUND: &str = "requested lease not found";

pub struct EtcdLock {
    endpoints: Vec<String>,
    /// Connected on first use, so the service starts while etcd is down.
    client: OnceCell<Client>,
    /// Upper bound for one round trip (connect, grant, unlock, revoke).
    server_timeout: Duration,
}

impl EtcdLock {
    pub fn new(endpoints: Vec<String>, server_timeout: Duration) -> Self {
        EtcdLock {
            endpoints,
            client: OnceCell::new(),
            server_timeout,
        }
    }

    /// A cheap clone of the shared client (one gRPC channel underneath).
    async fn client(&self) -> Result<Client, LockError> {
        let connect = || {
            let options = ConnectOptions::new()
                .with_connect_timeout(self.server_timeout)
                .with_keep_alive(Duration::from_secs(10), self.server_timeout);
            within(
                Backend::Etcd,
                self.server_timeout,
                Client::connect(&self.endpoints, Some(options)),
            )
        };
        Ok(self.client.get_or_try_init(connect).await?.clone())
    }

    /// Revokes a lease in the background: used when we stop waiting.
    fn revoke_later(&self, mut client: Client, lease_id: i64) {
        let limit = self.server_timeout;
        tokio::spawn(async move {
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
        let mut client = self.client().await?;
        let grant = client.lease_grant(lease_seconds(timings.ttl), None);
        let lease_id = within(Backend::Etcd, self.server_timeout, grant).await?.id();

        let options = LockOptions::new().with_lease(lease_id);
        match tokio::time::timeout_at(deadline, client.lock(key, Some(options))).await {
            Ok(Ok(response)) => Ok(LockGuard::new(EtcdHeld {
                client,
                key: response.key().to_vec(),
                lease_id,
                server_timeout: self.server_timeout,
            })),
            Ok(Err(err)) => {
                self.revoke_later(client, lease_id);
                Err(LockError::unavailable(Backend::Etcd, err))
            }
            Err(_elapsed) => {
                self.revoke_later(client, lease_id);
                Err(LockError::timeout(Backend::Etcd, key, timings.acquire_timeout))
            }
        }
    }
}

struct EtcdHeld {
    client: Client,
    /// The ownership key etcd created for us (`name/<lease-id>`).
    key: Vec<u8>,
    lease_id: i64,
    server_timeout: Duration,
}

#[async_trait]
impl HeldLock for EtcdHeld {
    async fn verify(&self) -> Result<(), LockError> {
        let mut client = self.client.clone();
        let lease = within(
            Backend::Etcd,
            self.server_timeout,
            client.lease_time_to_live(self.lease_id, None),
        )
        .await?;
        // An expired or revoked lease reports a TTL of -1.
        if lease.ttl() > 0 {
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
        within(
            Backend::Etcd,
            self.server_timeout,
            client.unlock(self.key.clone()),
        )
        .await?;
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
