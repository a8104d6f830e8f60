//! The instance's etcd *session*: one lease, kept alive for as long as the
//! instance runs, that every lock it takes lives on — what etcd's own
//! `concurrency.NewSession` does, and what the `renewal` rung means for etcd.
//!
//! One lease per instance rather than one per lock: a lease per order costs
//! two extra round trips through Raft each time, and when the instance dies
//! or stalls, all of its locks *should* go at once. Its one watchdog marks
//! the session lost when a keep-alive fails or reports the lease gone; every
//! holder on it then refuses to write ([`super::EtcdHeld`]'s verify), and
//! the next order gets a new session. A `pause_holder` fault suspends that
//! shared watchdog, as a real process pause would stop it.
//!
//! The reasoning in full:
//! `docs/locks.md#etcds-session-and-why-the-lock-needs-a-local-one-too`.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;
use stocklock_api::Backend;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::lease::LeaseRenewer;
use super::lease::lease_seconds;
use crate::lock::renew::Watchdog;
use crate::lock::{LockError, within_deadline};
use crate::metrics::RenewalCounters;

/// One granted lease and the watchdog keeping it alive. Its renewals are
/// bounded by the server timeout of the order that granted it; a later
/// `PUT /admin/lock` changes that only for the next session (a new TTL
/// starts one).
#[derive(Debug)]
pub struct Session {
    pub lease_id: i64,
    /// The TTL asked for, in etcd's whole seconds: a `PUT /admin/lock` with
    /// another TTL starts a new session.
    seconds: i64,
    pub watchdog: Watchdog,
}

impl Session {
    /// Whether the lease is known to be gone: renewal failed, or a release
    /// failed and the session was abandoned.
    pub fn is_lost(&self) -> bool {
        self.watchdog.is_lost()
    }

    /// Stops renewing the lease and marks the session lost, so that the
    /// next order starts a new one: for a key we could not delete, which
    /// would otherwise live as long as the session — for ever.
    pub fn abandon(&self) {
        self.watchdog.abandon();
    }
}

/// The current session, granted on first use and replaced once lost. An
/// old session lives on while orders still hold locks on it (they share its
/// `Arc`); when the last one lets go its watchdog stops and the lease
/// expires on its own — by then it carries no key.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<Option<Arc<Session>>>);

impl Sessions {
    /// The live session for `ttl`, granting a new one if there is none,
    /// before `deadline`. One grant at a time: orders that arrive meanwhile
    /// wait for it and share it.
    pub async fn get(
        &self,
        client: &mut Client,
        ttl: Duration,
        deadline: Instant,
        (server_timeout, counters): (Duration, &RenewalCounters),
    ) -> Result<Arc<Session>, LockError> {
        let seconds = lease_seconds(ttl);
        let mut current = within_deadline(Backend::Etcd, deadline, async {
            Ok::<_, std::convert::Infallible>(self.0.lock().await)
        })
        .await?;
        if let Some(live) = current.as_ref().filter(|s| s.seconds == seconds && !s.is_lost()) {
            return Ok(live.clone());
        }
        let lease = within_deadline(Backend::Etcd, deadline, client.lease_grant(seconds, None)).await?;
        let keep_alive = client.lease_keep_alive(lease.id());
        let (keeper, replies) = within_deadline(Backend::Etcd, deadline, keep_alive).await?;
        let granted = Duration::from_secs(lease.ttl().max(1) as u64);
        let renewer = LeaseRenewer {
            client: client.clone(),
            lease_id: lease.id(),
            keeper,
            replies,
            limit: server_timeout,
        };
        tracing::info!(lease_id = lease.id(), ttl_s = lease.ttl(), "new etcd session");
        let session = Arc::new(Session {
            lease_id: lease.id(),
            seconds,
            watchdog: Watchdog::start(granted / 3, renewer, counters.clone()),
        });
        *current = Some(session.clone());
        Ok(session)
    }
}
