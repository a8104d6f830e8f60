//! Waking a Redis waiter when the lock is released, instead of polling.
//!
//! `SET NX` cannot wait: a waiter that finds the lock taken must try again.
//! Polled with backoff, the waiter that has waited longest sleeps longest,
//! so newcomers win and the old starve into 503s. As Redisson does, the
//! release script publishes on a channel per lock key
//! (`stocklock:released:<key>`); each instance keeps one subscription to
//! them all on the master — following the Sentinels' master through a
//! failover — and wakes its waiter for that key at once. A message can be
//! lost (a reconnect, a failover, a foreign client that never publishes, a
//! key that simply expires), so a waiter never sleeps longer than the key's
//! remaining TTL or the fallback interval, whichever is shorter.
//!
//! Why, the line at the server that makes it fair between instances, and
//! why Redlock keeps polling: `docs/locks.md#waiting-in-line`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use stocklock_api::Backend;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::target::RedisTarget;
use crate::lock::{LockError, SERVER_CALL_LIMIT, within_deadline};
use crate::metrics::WakeupCounters;

/// The channels the release script publishes on: this, then the lock key.
pub(super) const CHANNEL_PREFIX: &str = "stocklock:released:";

/// How often the subscription checks that it is still on the master and
/// that the connection answers, and how long it waits before subscribing
/// again after a failure.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// This instance's waiters, by lock key, and the subscription that wakes
/// them. The subscription starts with the first waiter and stops when the
/// lock backend is dropped.
pub struct Wakeups {
    shared: Arc<Shared>,
    /// What woke each waiter (`GET /metrics`).
    counters: WakeupCounters,
    /// The longest a waiter sleeps without a message (`REDIS_WAKEUP_FALLBACK_MS`).
    fallback: Duration,
    listener: OnceLock<AbortOnDrop>,
}

#[derive(Default)]
struct Shared {
    /// One channel per key someone waits for; removed with its last waiter.
    keys: Mutex<HashMap<String, watch::Sender<()>>>,
    /// Whether a subscription is up: without one, a waiter cannot count on
    /// being woken and polls as it did before.
    subscribed: AtomicBool,
}

impl Shared {
    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<()>>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self, key: &str) {
        if let Some(sender) = self.keys().get(key) {
            sender.send_replace(());
        }
    }

    /// After a gap in the subscription: a release may have gone unheard.
    fn wake_all(&self) {
        for sender in self.keys().values() {
            sender.send_replace(());
        }
    }
}

impl Wakeups {
    pub fn new(fallback: Duration, counters: WakeupCounters) -> Self {
        Wakeups {
            shared: Arc::default(),
            counters,
            fallback,
            listener: OnceLock::new(),
        }
    }

    /// The longest a waiter sleeps without a message.
    pub fn fallback(&self) -> Duration {
        self.fallback
    }

    /// Registers a waiter for `key` — before its first attempt, so that a
    /// release published between a failed attempt and its sleep still
    /// wakes it — and starts the subscription if this is the first.
    pub fn waiter(&self, key: &str, target: &Arc<RedisTarget>) -> Waiter {
        self.listener.get_or_init(|| {
            let task = tokio::spawn(listen(target.clone(), self.shared.clone()));
            AbortOnDrop(task.abort_handle())
        });
        let receiver = self
            .shared
            .keys()
            .entry(key.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Waiter {
            key: key.to_owned(),
            shared: self.shared.clone(),
            receiver,
            fallback: self.fallback,
            counters: self.counters.clone(),
        }
    }
}

/// One waiter's registration; dropping it forgets the key when it was the
/// last one waiting for it.
pub struct Waiter {
    key: String,
    shared: Arc<Shared>,
    receiver: watch::Receiver<()>,
    fallback: Duration,
    counters: WakeupCounters,
}

impl Waiter {
    /// Whether a release of the key would wake us now.
    pub fn is_subscribed(&self) -> bool {
        self.shared.subscribed.load(Ordering::Relaxed)
    }

    /// Sleeps until the key's release is announced, it expires (`ttl`), or
    /// the fallback interval passes — whichever comes first.
    pub async fn sleep(&mut self, ttl: Option<Duration>) {
        let longest = ttl.map_or(self.fallback, |ttl| ttl.min(self.fallback));
        // An `Err` from `changed` means the sender is gone, which it cannot
        // be while we hold a receiver in the map: either way, time to try.
        match tokio::time::timeout(longest, self.receiver.changed()).await {
            Ok(_) => self.counters.by_release.inc(),
            Err(_elapsed) => self.counters.by_timer.inc(),
        };
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut keys = self.shared.keys();
        // Our receiver is still counted: 1 means nobody else waits.
        if keys
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            keys.remove(&self.key);
        }
    }
}

/// Subscribes to every release announced on the master, wakes the waiters
/// of each key, and subscribes again after a failure or a failover. Runs
/// until aborted.
async fn listen(target: Arc<RedisTarget>, shared: Arc<Shared>) {
    loop {
        match subscribe(&target).await {
            Ok((address, subscription)) => {
                shared.subscribed.store(true, Ordering::Relaxed);
                shared.wake_all();
                tracing::debug!(%address, "subscribed to Redis lock releases");
                relay(subscription, &address, &target, &shared).await;
                shared.subscribed.store(false, Ordering::Relaxed);
                shared.wake_all();
            }
            Err(err) => tracing::debug!(error = %err, "cannot subscribe to Redis lock releases yet"),
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

async fn subscribe(target: &RedisTarget) -> Result<(String, redis::aio::PubSub), LockError> {
    let deadline = Instant::now() + SERVER_CALL_LIMIT;
    let (address, client) = target.client(deadline).await?;
    let mut subscription = within_deadline(Backend::Redis, deadline, client.get_async_pubsub()).await?;
    let pattern = format!("{CHANNEL_PREFIX}*");
    within_deadline(Backend::Redis, deadline, subscription.psubscribe(pattern)).await?;
    Ok((address, subscription))
}

/// Wakes waiters until the connection ends, stops answering, or the master
/// is no longer the one we subscribed on.
async fn relay(subscription: redis::aio::PubSub, address: &str, target: &RedisTarget, shared: &Shared) {
    let (mut sink, mut messages) = subscription.split();
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    if let Some(key) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) {
                        shared.wake(key);
                    }
                }
                None => return,
            },
            _ = check.tick() => {
                if target.address().as_deref() != Some(address) {
                    tracing::info!(%address, "the Redis master changed: subscribing on the new one");
                    return;
                }
                // Subscribed, a server answers PING with an array, not PONG:
                // any answer will do.
                let ping = sink.ping::<redis::Value>();
                if tokio::time::timeout(SERVER_CALL_LIMIT, ping).await.map_or(true, |reply| reply.is_err()) {
                    return;
                }
            }
        }
    }
}

/// Stops the subscription when the lock backend goes.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
