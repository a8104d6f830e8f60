//! `etcd`: etcd's built-in lock service, on a lease.
//!
//! * **Acquire:** call `Lock(name, lease)`. etcd creates a key
//!   `name/<lease-id>` under that lease and answers once every key under
//!   `name` with a smaller creation revision is gone: waiters form a queue
//!   ordered by revision, served first come, first served, with no polling
//!   (compare Redis, which has to retry).
//! * **Renewal on** (the default): the lease is the instance's *session*
//!   ([`session`]), granted once and kept alive every third of its TTL, as
//!   etcd's own `concurrency.NewSession` does. Release is one delete of our
//!   key — only if it is still the one we created (a compare on its create
//!   revision), so a stale release never touches a newer holder's key.
//!   Because the key is named after the lease, two orders of one instance
//!   would get the *same* key and both "hold" it (etcd's mutex reuses the
//!   key of its own session on purpose). So orders of one instance take a
//!   per-SKU in-process mutex first — exactly `local` — and only then queue
//!   in etcd: the session lock excludes *processes*, the local mutex the
//!   orders within one. (Go programs pair `concurrency.Mutex` with a
//!   `sync.Mutex` for the same reason.) A bonus: at most one waiter per
//!   instance and SKU sits in etcd's queue.
//! * **Renewal off:** each lock gets its own lease with exactly its TTL. The
//!   lease must exist before we queue (etcd needs it to create our key), so
//!   it is kept alive while we wait and refreshed once when the lock is ours:
//!   the TTL belongs to the *holder*, and starts when the lock is held, never
//!   while queued. Then nothing renews it. Release revokes the lease, which
//!   deletes our key with it in one call.
//!
//! etcd replicates every write through Raft, so in a cluster a lock survives
//! the loss of a minority of nodes — the "strongly consistent" lock. The
//! workshop runs a single node, which shows the API and the cost; the
//! `failover` scenario runs three (`scripts/cluster`, `ETCD_ENDPOINTS` with
//! all three) and kills the leader under load.
//!
//! Failure modes, in plain words:
//! * **The holder stalls past the TTL:** the lease expires, etcd deletes the
//!   key, and the next waiter — in another instance — gets the lock while
//!   the first still works. With a session, a stall of the process stops its
//!   keep-alives too (the `pause_holder` fault suspends the session's
//!   watchdog), and *every* lock of the instance goes at once. As with Redis
//!   we check right before committing that our key still exists (a read of
//!   the key, exact; the lease's remaining TTL is reported in whole seconds,
//!   so "0 s left" would read as lost while still held) and roll back if it
//!   is gone; a lock with a TTL cannot promise more without fencing. Leases
//!   count whole seconds, so `ttl_ms` is rounded up, and etcd raises any TTL
//!   below its minimum (2 s by default).
//! * **etcd 3.4's `Lock` answers after our lease expired** (Jepsen, 2020; the
//!   Debian 12 package is 3.4.23; fixed in 3.5): a `Lock` that had to wait
//!   can succeed for a key that is already gone. We read our key back before
//!   using the lock — it is gone, so we report the lock lost. Had it expired
//!   a moment later, `check_before_commit` would see it gone, and `fencing`
//!   would refuse the write whenever it came: the key's create revision is
//!   the token etcd's own documentation says the resource must check.
//! * **We give up waiting:** our key may still be queued. We delete it (or
//!   revoke its own lease), or it would block everyone behind it; with a
//!   session, the in-process turn is kept until that delete is done, so the
//!   instance's next order cannot be handed the same key meanwhile.
//! * **A delete fails** (etcd unreachable): the key would live as long as
//!   the session — for ever. So the session is abandoned: nothing renews its
//!   lease, which expires within the TTL and takes the key with it, and the
//!   next order starts a new session.
//! * **etcd is down or hangs:** connecting, granting or queueing fails or
//!   runs out of time (`Unavailable`); a hang while queued looks like a busy
//!   lock (`Timeout`). Either way the request gets a 503 within the acquire
//!   timeout — plus, once the lock is granted, one read-back bounded by the
//!   server timeout. The session's keep-alive fails meanwhile, so the first
//!   order after etcd is back starts a new session, and the locks of the old
//!   one expire a TTL after etcd restarted (etcd restores leases with a full
//!   TTL). The gRPC channel reconnects by itself.

mod held;
mod lease;
mod own_lease;
mod session;

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, ConnectOptions, LockOptions, LockResponse};
use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use self::held::{EtcdHeld, Lease, fence_of};
use self::lease::LEASE_NOT_FOUND;
use self::session::{Session, Sessions};
use super::local::KeyedMutexes;
use super::{
    Acquired, LockBackend, LockError, LockTimings, SERVER_CALL_LIMIT, bounded, within, within_deadline,
};
use crate::metrics::RenewalCounters;

pub struct EtcdLock {
    endpoints: Vec<String>,
    /// Connected on first use, so the service starts while etcd is down.
    client: OnceCell<Client>,
    /// Where background deletes and revokes run, so a graceful shutdown
    /// waits for them.
    tasks: TaskTracker,
    /// The instance's session lease (`renewal` on).
    sessions: Sessions,
    /// Whose turn it is, per SKU, among this instance's orders (`renewal`
    /// on): a session's orders would share one lock key.
    turns: KeyedMutexes,
    /// What the session's watchdog counts (`GET /metrics`).
    renewals: RenewalCounters,
}

impl EtcdLock {
    pub fn new(endpoints: Vec<String>, tasks: TaskTracker) -> Self {
        EtcdLock {
            endpoints,
            client: OnceCell::new(),
            tasks,
            sessions: Sessions::default(),
            turns: KeyedMutexes::default(),
            renewals: RenewalCounters::default(),
        }
    }

    /// Counts the session's renewals in `counters`.
    pub fn counting_renewals(self, renewals: RenewalCounters) -> Self {
        EtcdLock { renewals, ..self }
    }

    /// A cheap clone of the shared client (one gRPC channel underneath),
    /// connecting first if need be, before `deadline`.
    async fn client(&self, deadline: Instant) -> Result<Client, LockError> {
        let connect = || {
            // `require_leader`: a member cut off from the majority refuses
            // at once ("no leader") instead of letting a call or a
            // keep-alive stream hang until the deadline. The HTTP/2 pings
            // find a member we are cut off from (its packets vanish, the
            // connection just goes quiet) within a few seconds; the channel
            // then stops sending it calls until it answers again.
            let options = ConnectOptions::new()
                .with_connect_timeout(SERVER_CALL_LIMIT)
                .with_keep_alive(Duration::from_secs(1), SERVER_CALL_LIMIT)
                .with_require_leader(true);
            within_deadline(
                Backend::Etcd,
                deadline,
                Client::connect(&self.endpoints, Some(options)),
            )
        };
        Ok(self.client.get_or_try_init(connect).await?.clone())
    }
}

impl std::fmt::Debug for EtcdLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdLock")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LockBackend for EtcdLock {
    fn backend(&self) -> Backend {
        Backend::Etcd
    }

    #[tracing::instrument(level = "debug", skip(self, timings))]
    async fn acquire(&self, key: &str, timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        let deadline = Instant::now() + timings.acquire_timeout;
        let client = self.client(deadline).await?;
        let held = if timings.renewal {
            self.acquire_in_session(client, key, timings, deadline).await
        } else {
            self.acquire_on_own_lease(client, key, timings, deadline).await
        };
        held.map(|held| Acquired::Held(Box::new(held)))
    }
}

/// Why queueing in etcd ended without the lock.
enum QueueError {
    TimedOut,
    /// The lease we queued under no longer exists.
    LeaseGone,
    Failed(LockError),
}

impl QueueError {
    fn into_lock_error(self, key: &str, timings: LockTimings) -> LockError {
        match self {
            QueueError::TimedOut => LockError::timeout(Backend::Etcd, key, timings.acquire_timeout),
            QueueError::LeaseGone => LockError::unavailable(Backend::Etcd, LEASE_NOT_FOUND),
            QueueError::Failed(err) => err,
        }
    }
}

/// Waits in etcd's queue for `key` under `lease_id`, until `deadline`.
async fn queue(
    client: &mut Client,
    key: &str,
    lease_id: i64,
    deadline: Instant,
) -> Result<LockResponse, QueueError> {
    let lock = client.lock(key, Some(LockOptions::new().with_lease(lease_id)));
    match tokio::time::timeout_at(deadline, lock).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(etcd_client::Error::GRpcStatus(status))) if status.message().contains(LEASE_NOT_FOUND) => {
            Err(QueueError::LeaseGone)
        }
        Ok(Err(err)) => Err(QueueError::Failed(LockError::unavailable(Backend::Etcd, err))),
        Err(_elapsed) => Err(QueueError::TimedOut),
    }
}

impl EtcdLock {
    /// `renewal` on: this instance's turn for `key` first, then etcd's lock
    /// under the session lease. A session whose lease turns out to be gone
    /// before its watchdog noticed (a paused instance) is replaced once.
    async fn acquire_in_session(
        &self,
        mut client: Client,
        key: &str,
        timings: LockTimings,
        deadline: Instant,
    ) -> Result<EtcdHeld, LockError> {
        let turn = self
            .turns
            .lock(key, deadline)
            .await
            .ok_or_else(|| LockError::timeout(Backend::Etcd, key, timings.acquire_timeout))?;
        let server = (timings.server_timeout(), &self.renewals);
        let mut session = self
            .sessions
            .get(&mut client, timings.ttl, deadline, server)
            .await?;
        let mut queued = queue(&mut client, key, session.lease_id, deadline).await;
        if matches!(queued, Err(QueueError::LeaseGone)) {
            session.abandon();
            session = self
                .sessions
                .get(&mut client, timings.ttl, deadline, server)
                .await?;
            queued = queue(&mut client, key, session.lease_id, deadline).await;
        }
        let granted = match queued {
            Ok(response) => {
                let lock_key = response.key().to_vec();
                let fenced = fence_of(&mut client, &lock_key, session.lease_id, key);
                // A session given up while we queued no longer renews the
                // lease our key lives on: the lock would die under us.
                bounded(Backend::Etcd, timings.server_timeout(), fenced)
                    .await
                    .and_then(|fence| match session.is_lost() {
                        true => Err(LockError::lost(Backend::Etcd, key)),
                        false => Ok((lock_key, fence)),
                    })
            }
            Err(err) => Err(err.into_lock_error(key, timings)),
        };
        match granted {
            Ok((lock_key, fence)) => Ok(EtcdHeld {
                client,
                key: lock_key,
                fence,
                lease: Lease::Session { session, _turn: turn },
                server_timeout: timings.server_timeout(),
            }),
            Err(err) => {
                self.withdraw(client, key, session, turn, timings.server_timeout());
                Err(err)
            }
        }
    }

    /// Deletes our key in the background after we stopped waiting for it, or
    /// could not use it: etcd deletes a waiter's key when its `Lock` call is
    /// cancelled, but not one it granted just as we gave up. Our turn is
    /// kept until then, so this instance's next order cannot be handed the
    /// same key meanwhile. A delete that fails abandons the session.
    fn withdraw(
        &self,
        mut client: Client,
        key: &str,
        session: std::sync::Arc<Session>,
        turn: tokio::sync::OwnedMutexGuard<()>,
        limit: Duration,
    ) {
        // etcd names the key `<name>/<lease id in hex>`.
        let lock_key = format!("{key}/{:x}", session.lease_id);
        self.tasks.spawn(async move {
            if let Err(err) = within(Backend::Etcd, limit, client.delete(lock_key, None)).await {
                tracing::warn!(error = %err, "deleting an abandoned etcd lock key failed: abandoning the session");
                session.abandon();
            }
            drop(turn);
        });
    }
}
