//! `redis`: the classic single-instance Redis lock.
//!
//! `SET stock:{sku} <owner> NX PX <ttl>` takes the lock, retried with backoff
//! and jitter ([`super::retry`]) while it is taken. The random owner id says
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

pub(in crate::lock) use scripts::{ACQUIRE_SCRIPT, EXTEND_SCRIPT, FENCE_KEYS_LIVE_MS, RELEASE_SCRIPT};
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

use super::renew::{Renew, Watchdog};
use super::retry::Backoff;
use super::{Acquired, HeldLock, LockBackend, LockError, LockTimings, within, within_deadline};
use crate::domain::Fence;
use crate::metrics::RenewalCounters;
use target::RedisTarget;

pub struct RedisLock {
    /// The server: fixed, or the master the Sentinels name ([`target`]).
    target: RedisTarget,
    /// The set-and-count script, hashed once (Redis runs it by SHA).
    acquire_script: redis::Script,
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
            target,
            acquire_script: redis::Script::new(ACQUIRE_SCRIPT),
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

    /// One attempt, answered before `deadline`: the fencing token if we now
    /// hold the lock, `None` if it is taken.
    async fn try_set(
        &self,
        held: &RedisHeld,
        ttl: Duration,
        deadline: Instant,
    ) -> Result<Option<Fence>, LockError> {
        let mut connection = held.connection.clone();
        let mut invocation = self.acquire_script.key(&held.key);
        invocation
            .key(format!("fence:{}", held.key))
            .key(format!("fence-epoch:{}", held.key))
            .arg(&held.owner)
            .arg(ttl.as_millis() as u64)
            .arg(Uuid::new_v4().simple().to_string())
            .arg(FENCE_KEYS_LIVE_MS);
        let reply = invocation.invoke_async::<Option<(i64, String)>>(&mut connection);
        let reply = within_deadline(Backend::Redis, deadline, reply).await?;
        Ok(reply.map(|(token, epoch)| Fence {
            epoch: format!("redis/{epoch}"),
            token,
            holder: held.owner.clone(),
        }))
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
        };
        let mut backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
        loop {
            match self.try_set(&held, timings.ttl, deadline).await {
                Ok(Some(fence)) => {
                    held.fence = Some(fence);
                    if timings.renewal {
                        held.watchdog = Some(self.watchdog(&held, timings));
                    }
                    return Ok(Acquired::Held(Box::new(held)));
                }
                Ok(None) => {}
                Err(err) => {
                    // A master that fails may be failing over: ask again.
                    self.target.forget();
                    // The SET may have landed without its answer reaching us.
                    self.release_later(held);
                    return Err(err);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::timeout(Backend::Redis, key, timings.acquire_timeout));
            }
            tokio::time::sleep(backoff.next_pause().min(deadline - now)).await;
            if Instant::now() >= deadline {
                // No time left for another attempt: the lock stayed busy.
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

    /// Releases, in the background, a lock we may hold without knowing it.
    fn release_later(&self, held: RedisHeld) {
        self.tasks.spawn(async move {
            if let Err(err) = Box::new(held).release().await {
                tracing::warn!(error = %err, "releasing a SET whose answer was lost failed");
            }
        });
    }
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
        invocation.arg(&self.owner);
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
