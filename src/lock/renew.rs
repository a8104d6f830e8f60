//! Keeping a lock alive while its holder is still at work (the `renewal`
//! rung of the ladder): one round trip at a time, every third of the TTL, so
//! that two refreshes can be late before the lock expires.
//!
//! A [`Watchdog`] is Redisson's `RenewalTask` shape: a background task per
//! held lock that extends it until the guard lets go, and marks the lock lost
//! the moment an extension fails, so that [`super::HeldLock::verify`]
//! refuses the write. What an extension is belongs to each backend
//! ([`Renew`]). A stalled holder's watchdog stalls too, so `pause_holder`
//! suspends it ([`Watchdog::suspend_until`]): renewal is an availability
//! lesson — long work keeps its lock — not a safety one; fencing is that.
//!
//! In plain words: `docs/locks.md#renewal`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::LockError;
use crate::metrics::RenewalCounters;

/// One extension of one held lock.
#[async_trait]
pub trait Renew: Send + 'static {
    /// Extends the lock by its TTL; an error means it is no longer ours.
    async fn renew(&mut self) -> Result<(), LockError>;
}

/// A running renewal; stops when dropped (the guard's release).
#[derive(Debug)]
pub struct Watchdog {
    /// Dropping it wakes and ends the task at once.
    _stop: oneshot::Sender<()>,
    /// Set by the task when an extension failed.
    lost: Arc<AtomicBool>,
    /// No extension before this instant (a paused holder's stall).
    suspended_until: Arc<Mutex<Option<Instant>>>,
}

impl Watchdog {
    /// Starts extending every `period`, counting in `counters`.
    ///
    /// A plain task, not one of the service's tracked tasks: an etcd
    /// session's watchdog lives as long as the instance, and a drain or a
    /// shutdown waits for tracked tasks to *end*. It needs no waiting for:
    /// it stops when its lock is released, and nothing is lost if a
    /// shutdown cuts it short.
    pub fn start(period: Duration, mut renewer: impl Renew, counters: RenewalCounters) -> Watchdog {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let suspended_until = Arc::new(Mutex::new(None::<Instant>));
        let (task_lost, task_suspended) = (lost.clone(), suspended_until.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(period) => {}
                }
                if task_lost.load(Ordering::SeqCst) {
                    return; // abandoned
                }
                let suspended = *task_suspended.lock().unwrap_or_else(|p| p.into_inner());
                if suspended.is_some_and(|until| Instant::now() < until) {
                    continue;
                }
                if let Err(err) = renewer.renew().await {
                    counters.failed.inc();
                    tracing::info!(error = %err, "lock renewal failed: the lock is lost");
                    task_lost.store(true, Ordering::SeqCst);
                    return;
                }
                counters.renewed.inc();
            }
        });
        Watchdog {
            _stop: stop,
            lost,
            suspended_until,
        }
    }

    /// Whether an extension failed: the lock must be treated as lost.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops extending, for good, and reports the lock lost: its lease is
    /// left to expire (etcd's session, after a release failed).
    pub fn abandon(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// No extension until `until`: a stalled process renews nothing. (A
    /// shorter stall reported later does not shorten a longer one: etcd's
    /// session watchdog is shared by every holder of the instance.)
    pub fn suspend_until(&self, until: Instant) {
        let mut suspended = self.suspended_until.lock().unwrap_or_else(|p| p.into_inner());
        *suspended = (*suspended).max(Some(until));
    }
}
