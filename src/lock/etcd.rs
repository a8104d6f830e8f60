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
//! * **Renewal** (`renewal`, on by default): once the lock is held, a
//!   watchdog keeps its lease alive every third of the TTL until release; a
//!   keep-alive that fails or reports a TTL ≤ 0 marks the lock lost, and the
//!   holder refuses to write. (etcd's own `concurrency` package keeps one
//!   session lease per process alive instead of one lease per lock: fewer
//!   grants, and one expiry takes every lock of the process at once. One
//!   lease per lock is simpler to follow; the session is a later step.)
//!   Off, the lease lives exactly its TTL from the moment the lock is held.
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
//! * **etcd 3.4's `Lock` answers after our lease expired** (Jepsen, 2020; the
//!   Debian 12 package is 3.4.23; fixed in 3.5): we read our key back before
//!   using the lock — it is gone, so we report the lock lost. Had it expired
//!   a moment later, `check_before_commit` would see it gone, and `fencing`
//!   would refuse the write whenever it came: the key's create revision is
//!   the token etcd's own documentation says the resource must check.
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
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, KeyValue, LockOptions, Txn, TxnOp, TxnOpResponse,
};
use stocklock_api::Backend;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::fence::Fence;
use super::renew::{LeaseRenewer, Watchdog, keep_alive_every, refresh};
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
            Ok((lock_key, fence, renewer)) => Ok(LockGuard::new(EtcdHeld {
                client,
                key: lock_key,
                fence,
                lease_id,
                watchdog: timings
                    .renewal
                    .then(|| Watchdog::start(&self.tasks, granted / 3, renewer)),
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
    /// starts with the whole TTL. Returns the key etcd created for us, its
    /// create revision (the fencing token), and the keep-alive stream, for
    /// the watchdog if `renewal` is on.
    async fn queue(
        &self,
        client: &mut Client,
        key: &str,
        lease_id: i64,
        ttl: Duration,
        (deadline, server_timeout): (Instant, Duration),
    ) -> Result<(Vec<u8>, Fence, LeaseRenewer), QueueError> {
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
        // Then read our key back: its create revision is the fencing token,
        // and its absence means the lease expired while we queued (etcd
        // 3.4's `Lock` can still answer then: the bug Jepsen reported).
        drop((keeper, replies));
        let lock_key = response.key().to_vec();
        let restart = async {
            let unavailable = |err| LockError::unavailable(Backend::Etcd, err);
            let (mut keeper, mut replies) = client.lease_keep_alive(lease_id).await.map_err(unavailable)?;
            refresh(&mut keeper, &mut replies).await?;
            let (ours, epoch) = read_back(client, &lock_key).await.map_err(unavailable)?;
            let token = ours
                .filter(|kv| kv.lease() == lease_id)
                .map(|kv| kv.create_revision())
                .ok_or_else(|| LockError::lost(Backend::Etcd, key))?;
            let fence = Fence {
                epoch: format!("etcd/{epoch}"),
                token,
                holder: format!("{lease_id:x}"),
            };
            Ok::<_, LockError>((fence, keeper, replies))
        };
        let (fence, keeper, replies) = within(Backend::Etcd, server_timeout, restart)
            .await
            .map_err(failed)?;
        let renewer = LeaseRenewer {
            keeper,
            replies,
            limit: server_timeout,
        };
        Ok((lock_key, fence, renewer))
    }
}

/// Where the epoch of this cluster's revisions is kept (see `fence.rs`).
const EPOCH_KEY: &str = "stocklock/fence-epoch";

/// Our lock key as etcd holds it now, and the epoch of the revisions, in one
/// transaction: the epoch key is created with a random id if it is missing
/// — as on a cluster started on a new data directory, whose revisions start
/// again from 1.
async fn read_back(
    client: &mut Client,
    lock_key: &[u8],
) -> Result<(Option<KeyValue>, String), etcd_client::Error> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let reads = || [TxnOp::get(lock_key, None), TxnOp::get(EPOCH_KEY, None)];
    let mut create = vec![TxnOp::put(EPOCH_KEY, fresh, None)];
    create.extend(reads());
    let txn = Txn::new()
        .when([Compare::create_revision(EPOCH_KEY, CompareOp::Equal, 0)])
        .and_then(create)
        .or_else(reads());
    let mut gets = client
        .txn(txn)
        .await?
        .op_responses()
        .into_iter()
        .filter_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        });
    let ours = gets.next().and_then(|get| get.kvs().first().cloned());
    let epoch = gets
        .next()
        .and_then(|get| {
            get.kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
        })
        .unwrap_or_default();
    Ok((ours, epoch))
}

struct EtcdHeld {
    client: Client,
    /// The ownership key etcd created for us (`name/<lease-id>`).
    key: Vec<u8>,
    /// The revision that created it — the fencing token: revisions increase
    /// with every write to the cluster, so a later holder's is larger — in
    /// the epoch of this cluster's data (a cluster started on a new data
    /// directory starts its revisions again, and gets a new epoch).
    fence: Fence,
    lease_id: i64,
    /// Keeps the lease alive while we work (`renewal`); stops when dropped.
    watchdog: Option<Watchdog>,
    /// The bound of each call made while held, from the request's settings.
    server_timeout: Duration,
}

impl EtcdHeld {
    fn lost(&self) -> LockError {
        LockError::lost(Backend::Etcd, &String::from_utf8_lossy(&self.key))
    }
}

#[async_trait]
impl HeldLock for EtcdHeld {
    /// Our key still exists, under our lease: the lock is still ours. Exact,
    /// unlike the lease's TTL, which etcd reports in whole seconds.
    async fn verify(&self) -> Result<(), LockError> {
        if self.watchdog.as_ref().is_some_and(Watchdog::is_lost) {
            return Err(self.lost());
        }
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
            Err(self.lost())
        }
    }

    fn token(&self) -> Option<Fence> {
        Some(self.fence.clone())
    }

    fn watchdog(&self) -> Option<&Watchdog> {
        self.watchdog.as_ref()
    }

    async fn release(mut self: Box<Self>) -> Result<(), LockError> {
        // Stop the keep-alives first: the revoke must be the last word.
        self.watchdog = None;
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
