//! `redis`: the classic single-instance Redis lock.
//!
//! `SET stock:{sku} <owner> NX PX <ttl>` takes the lock. While it is taken,
//! one order per instance and SKU waits at the server (the others queue in
//! the instance: `docs/locks.md#waiting-in-line`) and tries again when the
//! release is announced ([`wakeup`]). The random owner id says
//! *who* holds it, so that release and renewal are compare-and-act Lua
//! scripts ([`scripts`]) rather than a plain `DEL` or `PEXPIRE`, which could
//! touch a lock that expired and was taken by someone else meanwhile. The
//! acquire script also counts the fencing token, as Redisson's fenced lock
//! does: no holder gets the lock without a token, or a token without it.
//! The TTL is the lesson: a holder that stalls past it is no longer alone,
//! and only fencing, checked by PostgreSQL, closes that window.
//!
//! How it fails, in plain words: `docs/locks.md#redis`; its tokens and their
//! epochs: `docs/fencing.md#where-each-backends-tokens-come-from`.

mod scripts;
mod target;
mod wakeup;

pub(in crate::lock) use scripts::{
    ACQUIRE_SCRIPT, EXTEND_SCRIPT, FENCE_KEYS_LIVE_MS, RELEASE_SCRIPT, SetReply,
};
use scripts::{FAIR_ACQUIRE_SCRIPT, LEAVE_LINE_SCRIPT};
pub(in crate::lock) use target::connection_config;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::local::{KeyedGuard, KeyedMutexes};
use super::renew::{Renew, Watchdog};
use super::retry::Backoff;
use super::{Acquired, HeldLock, LockBackend, LockError, LockTimings, within, within_deadline};
use crate::domain::Fence;
use crate::metrics::{RenewalCounters, WakeupCounters};
use target::RedisTarget;
use wakeup::{CHANNEL_PREFIX, Wakeups};

/// The longest a waiter sleeps when no release is announced, unless told
/// otherwise (`REDIS_WAKEUP_FALLBACK_MS`).
const WAKEUP_FALLBACK: Duration = Duration::from_millis(100);

pub struct RedisLock {
    /// The server: fixed, or the master the Sentinels name ([`target`]).
    target: Arc<RedisTarget>,
    /// Whose turn it is, per SKU, among this instance's orders.
    turns: KeyedMutexes,
    /// Wakes this instance's waiters when a lock is released.
    wakeups: Wakeups,
    /// The set-and-count script, with its line, hashed once (Redis runs it
    /// by SHA).
    acquire_script: redis::Script,
    /// The script a waiter that gives up leaves the line with.
    leave_line_script: Arc<redis::Script>,
    /// The compare-and-extend script, likewise.
    extend_script: Arc<redis::Script>,
    /// The compare-and-delete script, likewise.
    release_script: Arc<redis::Script>,
    /// Where background releases run, so a graceful shutdown waits for them.
    tasks: TaskTracker,
    /// What the watchdogs count (`GET /metrics`).
    renewals: RenewalCounters,
}

impl std::fmt::Debug for RedisLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLock").finish_non_exhaustive()
    }
}

impl RedisLock {
    /// Prepares the connection without connecting: the service starts (and
    /// serves every other backend) even while Redis is down. Each call is
    /// bounded by the request's own deadline; [`super::SERVER_CALL_LIMIT`] only caps
    /// the connection's own timeouts.
    pub fn new(url: &str, tasks: TaskTracker) -> Result<Self, redis::RedisError> {
        Ok(RedisLock::on(RedisTarget::fixed(url)?, tasks))
    }

    /// The lock on the master that the Sentinels at `sentinels` name
    /// `master_name`, followed through failovers.
    pub fn with_sentinels(
        sentinels: &[String],
        master_name: &str,
        tasks: TaskTracker,
    ) -> Result<Self, redis::RedisError> {
        Ok(RedisLock::on(
            RedisTarget::sentinel(sentinels, master_name)?,
            tasks,
        ))
    }

    fn on(target: RedisTarget, tasks: TaskTracker) -> Self {
        RedisLock {
            target: Arc::new(target),
            turns: KeyedMutexes::default(),
            wakeups: Wakeups::new(WAKEUP_FALLBACK, WakeupCounters::default()),
            acquire_script: redis::Script::new(FAIR_ACQUIRE_SCRIPT),
            leave_line_script: Arc::new(redis::Script::new(LEAVE_LINE_SCRIPT)),
            extend_script: Arc::new(redis::Script::new(EXTEND_SCRIPT)),
            release_script: Arc::new(redis::Script::new(RELEASE_SCRIPT)),
            tasks,
            renewals: RenewalCounters::default(),
        }
    }

    /// Counts the watchdogs' renewals in `counters`.
    pub fn counting_renewals(self, renewals: RenewalCounters) -> Self {
        RedisLock { renewals, ..self }
    }

    /// Waiters sleep at most `fallback` when no release is announced, and
    /// count what woke them in `counters`.
    pub fn waking(self, fallback: Duration, counters: WakeupCounters) -> Self {
        RedisLock {
            wakeups: Wakeups::new(fallback, counters),
            ..self
        }
    }

    /// One attempt, answered before `deadline`: the fencing token if we now
    /// hold the lock, or how long its holder may keep it.
    async fn try_set(
        &self,
        held: &RedisHeld,
        ttl: Duration,
        deadline: Instant,
    ) -> Result<SetReply, LockError> {
        let mut connection = held.connection.clone();
        let (line, deadlines) = line_keys(&held.key);
        let mut invocation = self.acquire_script.key(&held.key);
        invocation
            .key(format!("fence:{}", held.key))
            .key(format!("fence-epoch:{}", held.key))
            .key(line)
            .key(deadlines)
            .arg(&held.owner)
            .arg(ttl.as_millis() as u64)
            .arg(Uuid::new_v4().simple().to_string())
            .arg(FENCE_KEYS_LIVE_MS)
            .arg(self.stay_in_line().as_millis() as u64);
        let reply = invocation.invoke_async::<SetReply>(&mut connection);
        within_deadline(Backend::Redis, deadline, reply).await
    }
}

#[async_trait]
impl LockBackend for RedisLock {
    fn backend(&self) -> Backend {
        Backend::Redis
    }

    #[tracing::instrument(level = "debug", skip(self, timings))]
    async fn acquire(&self, key: &str, timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        let deadline = Instant::now() + timings.acquire_timeout;
        let turn = self.turns.turn(Backend::Redis, key, timings, deadline).await?;
        let connection = self
            .target
            .connection(deadline)
            .await
            .inspect_err(|_| self.target.forget())?;
        let mut held = RedisHeld {
            connection,
            key: key.to_owned(),
            owner: Uuid::new_v4().to_string(),
            fence: None,
            watchdog: None,
            server_timeout: timings.server_timeout(),
            release_script: self.release_script.clone(),
            _turn: turn,
        };
        let mut waiter = self.wakeups.waiter(key, &self.target);
        // Without a subscription (Redis just restarted, say), poll as
        // before: with backoff and jitter (`retry.rs`).
        let mut backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
        loop {
            let expires_in = match self.try_set(&held, timings.ttl, deadline).await {
                Ok(SetReply::Granted { token, epoch }) => {
                    held.fence = Some(Fence {
                        epoch: format!("redis/{epoch}"),
                        token,
                        holder: held.owner.clone(),
                    });
                    if timings.renewal {
                        held.watchdog = Some(self.watchdog(&held, timings));
                    }
                    return Ok(Acquired::Held(Box::new(held)));
                }
                Ok(SetReply::Taken { expires_in }) => expires_in,
                Err(err) => {
                    // The script may have put us in line: leave it.
                    self.leave_line_later(&held);
                    // A master that fails may be failing over: ask again.
                    self.target.forget();
                    // The SET may have landed without its answer reaching us.
                    self.release_later(held);
                    return Err(err);
                }
            };
            let pause = async {
                match waiter.is_subscribed() {
                    true => waiter.sleep(expires_in).await,
                    false => tokio::time::sleep(backoff.next_pause()).await,
                }
            };
            if tokio::time::timeout_at(deadline, pause).await.is_err() || Instant::now() >= deadline {
                // No time left for another attempt: the lock stayed busy.
                self.leave_line_later(&held);
                return Err(LockError::timeout(Backend::Redis, key, timings.acquire_timeout));
            }
        }
    }
}

impl RedisLock {
    /// Extends `held` by its TTL every third of it, while it is ours.
    fn watchdog(&self, held: &RedisHeld, timings: LockTimings) -> Watchdog {
        let renewer = Extend {
            connection: held.connection.clone(),
            key: held.key.clone(),
            owner: held.owner.clone(),
            ttl_ms: timings.ttl.as_millis() as u64,
            limit: timings.server_timeout(),
            script: self.extend_script.clone(),
        };
        Watchdog::start(timings.ttl / 3, renewer, self.renewals.clone())
    }

    /// How long a waiter stays in Redis's line after its last attempt: three
    /// of its longest sleeps and a second for a busy machine, at most 10 s
    /// — what a waiter whose instance died costs the others at worst.
    fn stay_in_line(&self) -> Duration {
        (self.wakeups.fallback() * 3 + Duration::from_secs(1)).min(Duration::from_secs(10))
    }

    /// Takes a waiter that gave up out of Redis's line, in the background:
    /// its answer does not change ours. If it fails, the waiter goes stale.
    fn leave_line_later(&self, held: &RedisHeld) {
        let (mut connection, script) = (held.connection.clone(), self.leave_line_script.clone());
        let (key, owner, limit) = (held.key.clone(), held.owner.clone(), held.server_timeout);
        self.tasks.spawn(async move {
            let (line, deadlines) = line_keys(&key);
            let mut invocation = script.key(line);
            invocation.key(deadlines).arg(owner);
            let left = invocation.invoke_async::<i64>(&mut connection);
            if let Err(err) = within(Backend::Redis, limit, left).await {
                tracing::debug!(error = %err, "leaving the Redis line failed: the waiter will go stale");
            }
        });
    }

    /// Releases, in the background, a lock we may hold without knowing it.
    fn release_later(&self, held: RedisHeld) {
        self.tasks.spawn(async move {
            if let Err(err) = Box::new(held).release().await {
                tracing::warn!(error = %err, "releasing a SET whose answer was lost failed");
            }
        });
    }
}

/// Redis's line for `key` and its waiters' deadlines
/// ([`scripts::FAIR_ACQUIRE_SCRIPT`]).
fn line_keys(key: &str) -> (String, String) {
    (format!("line:{key}"), format!("line-deadlines:{key}"))
}

struct RedisHeld {
    connection: ConnectionManager,
    key: String,
    /// Who holds the lock: the value of the key while it is ours.
    owner: String,
    /// The fencing token this acquisition was given.
    fence: Option<Fence>,
    /// Extends the lock while we work (`renewal`); stops when dropped.
    watchdog: Option<Watchdog>,
    /// The bound of each call made while held, from the request's settings.
    server_timeout: Duration,
    release_script: Arc<redis::Script>,
    /// This instance's turn for the key: the next order in line starts
    /// once this one has released (or given up on) the lock.
    _turn: KeyedGuard,
}

#[async_trait]
impl HeldLock for RedisHeld {
    async fn verify(&self) -> Result<(), LockError> {
        if self.watchdog.as_ref().is_some_and(Watchdog::is_lost) {
            return Err(LockError::lost(Backend::Redis, &self.key));
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("GET");
        command.arg(&self.key);
        let holder = command.query_async::<Option<String>>(&mut connection);
        let holder = within(Backend::Redis, self.server_timeout, holder).await?;
        if holder.as_deref() == Some(self.owner.as_str()) {
            Ok(())
        } else {
            Err(LockError::lost(Backend::Redis, &self.key))
        }
    }

    fn token(&self) -> Option<Fence> {
        self.fence.clone()
    }

    fn watchdog(&self) -> Option<&Watchdog> {
        self.watchdog.as_ref()
    }

    async fn release(mut self: Box<Self>) -> Result<(), LockError> {
        // Stop extending first: the delete must be the last word.
        self.watchdog = None;
        let mut connection = self.connection.clone();
        let mut invocation = self.release_script.key(&self.key);
        invocation
            .arg(&self.owner)
            .arg(format!("{CHANNEL_PREFIX}{}", self.key));
        // 0 means the key had expired or belonged to someone else: nothing
        // of ours to delete, which is fine for a release.
        within(
            Backend::Redis,
            self.server_timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await?;
        Ok(())
    }
}

/// One compare-and-`PEXPIRE` of a held lock, for its [`Watchdog`].
struct Extend {
    connection: ConnectionManager,
    key: String,
    owner: String,
    ttl_ms: u64,
    limit: Duration,
    script: Arc<redis::Script>,
}

#[async_trait]
impl Renew for Extend {
    async fn renew(&mut self) -> Result<(), LockError> {
        let mut invocation = self.script.key(&self.key);
        invocation.arg(&self.owner).arg(self.ttl_ms);
        let extended = invocation.invoke_async::<i64>(&mut self.connection);
        match within(Backend::Redis, self.limit, extended).await? {
            1 => Ok(()),
            _ => Err(LockError::lost(Backend::Redis, &self.key)),
        }
    }
}
