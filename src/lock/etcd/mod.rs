//! `etcd`: etcd's lock, on a lease.
//!
//! etcd queues waiters by revision ([`queue`]: the algorithm of etcd's own
//! `Lock`, with one watch made faster): first come, first served, with no
//! polling — Redis has to retry — and every write goes through Raft, so in
//! a cluster a lock survives the loss of a minority.
//! With `renewal` on, every lock lives on the instance's [`session`] lease,
//! as etcd's own `concurrency` package does, rather than on a lease per lock
//! (two extra Raft round trips per order); since etcd names the key after
//! the lease, the orders of one instance must first take a per-SKU
//! in-process mutex (`local`'s) — which every etcd order does anyway, so
//! that one per instance, not all, waits in etcd's queue. With `renewal`
//! off, each lock has a lease of its own ([`own_lease`]).
//!
//! How it fails, in plain words: `docs/locks.md#etcd`; why the session needs
//! the local mutex: `docs/locks.md#etcds-session-and-why-the-lock-needs-a-local-one-too`.

mod held;
mod lease;
mod own_lease;
mod queue;
mod session;

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, ConnectOptions};
use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use self::held::{EtcdHeld, Lease, fence_of};
use self::queue::{QueueError, queue};
use self::session::{Session, Sessions};
use super::local::{KeyedGuard, KeyedMutexes};
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
    /// Whose turn it is, per SKU, among this instance's orders: one of them
    /// waits in etcd's queue at a time (`docs/locks.md#waiting-in-line`),
    /// and with `renewal` on it must, since a session's orders would share
    /// one lock key.
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
        let turn = self.turns.turn(Backend::Etcd, key, timings, deadline).await?;
        let client = self.client(deadline).await?;
        let held = if timings.renewal {
            self.acquire_in_session(client, key, timings, deadline, turn)
                .await
        } else {
            self.acquire_on_own_lease(client, key, timings, deadline, turn)
                .await
        };
        held.map(|held| Acquired::Held(Box::new(held)))
    }
}

impl EtcdLock {
    /// `renewal` on: etcd's lock under the session lease, in this
    /// instance's `turn` for `key`. A session whose lease turns out to be gone
    /// before its watchdog noticed (a paused instance) is replaced once.
    async fn acquire_in_session(
        &self,
        mut client: Client,
        key: &str,
        timings: LockTimings,
        deadline: Instant,
        turn: KeyedGuard,
    ) -> Result<EtcdHeld, LockError> {
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
            Ok(lock_key) => {
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
    /// could not use it: a waiter that gives up leaves its key in the queue
    /// ([`queue`]). Our turn is kept until then, so this instance's next
    /// order cannot be handed the same key meanwhile. A delete that fails
    /// abandons the session.
    fn withdraw(
        &self,
        mut client: Client,
        key: &str,
        session: std::sync::Arc<Session>,
        turn: KeyedGuard,
        limit: Duration,
    ) {
        let lock_key = queue::key_of(key, session.lease_id);
        self.tasks.spawn(async move {
            if let Err(err) = within(Backend::Etcd, limit, client.delete(lock_key, None)).await {
                tracing::warn!(error = %err, "deleting an abandoned etcd lock key failed: abandoning the session");
                session.abandon();
            }
            drop(turn);
        });
    }
}
