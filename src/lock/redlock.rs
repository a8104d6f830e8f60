//! `redlock`: Redis's distributed lock algorithm, over N independent masters.
//!
//! One Redis is a single point of failure, and a replicated one loses locks
//! at failover (`redis/target.rs`). Redlock (antirez, 2014) asks N masters
//! that know nothing of each other — no replication — and holds the lock
//! while a majority granted it and its *validity* lasts: the TTL less the
//! round's time and clock drift. What it cannot promise — a real fencing
//! token, safety without timing assumptions — is the lesson. It has no
//! renewal, so `renewal` is ignored (Redisson's RedLock extends on every
//! master; we leave that lesson to the single-Redis watchdog).
//!
//! The algorithm and what it does not give, in plain words:
//! `docs/locks.md#redlock`; its weak token:
//! `docs/fencing.md#where-each-backends-tokens-come-from`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use stocklock_api::Backend;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::local::{KeyedGuard, KeyedMutexes};
use super::redis::{ACQUIRE_SCRIPT, FENCE_KEYS_LIVE_MS, RELEASE_SCRIPT, SetReply, connection_config};
use super::retry::Backoff;
use super::{Acquired, HeldLock, LockBackend, LockError, LockTimings, SERVER_CALL_LIMIT};
use crate::domain::Fence;

/// The bound of one master's answer: small against the TTL, so that a dead
/// master cannot eat the validity of a lock the others grant — a tenth of
/// it, at least 50 ms (a busy 2-core laptop), at most the server call limit.
fn master_timeout(ttl: Duration) -> Duration {
    (ttl / 10).clamp(Duration::from_millis(50), SERVER_CALL_LIMIT)
}

/// The allowance for clock drift between us and the masters: 1% of the
/// TTL plus 2 ms, as the algorithm's description suggests.
fn drift(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

pub struct Redlock {
    masters: Arc<[ConnectionManager]>,
    /// Whose turn it is, per SKU, among this instance's orders: one of them
    /// polls the masters at a time (`docs/locks.md#waiting-in-line`).
    turns: KeyedMutexes,
    acquire_script: redis::Script,
    release_script: redis::Script,
}

impl std::fmt::Debug for Redlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redlock")
            .field("masters", &self.masters.len())
            .finish_non_exhaustive()
    }
}

impl Redlock {
    /// The masters at `urls`, connected on first use.
    pub fn new(urls: &[String]) -> Result<Self, redis::RedisError> {
        let masters = urls
            .iter()
            .map(|url| redis::Client::open(url.as_str())?.get_connection_manager_lazy(connection_config()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Redlock {
            masters: masters.into(),
            turns: KeyedMutexes::default(),
            acquire_script: redis::Script::new(ACQUIRE_SCRIPT),
            release_script: redis::Script::new(RELEASE_SCRIPT),
        })
    }

    fn quorum(&self) -> usize {
        self.masters.len() / 2 + 1
    }

    /// One round of `SET NX PX` on every master: how many answered, and the
    /// counts of those that granted.
    async fn ask_every_master(&self, key: &str, owner: &str, ttl: Duration) -> (usize, Vec<i64>) {
        let replies = on_every_master(&self.masters, master_timeout(ttl), |mut master| {
            let (script, key, owner) = (self.acquire_script.clone(), key.to_owned(), owner.to_owned());
            async move {
                let mut invocation = script.key(&key);
                invocation
                    .key(format!("fence:{key}"))
                    .key(format!("fence-epoch:{key}"))
                    .arg(&owner)
                    .arg(ttl.as_millis() as u64)
                    .arg(Uuid::new_v4().simple().to_string())
                    .arg(FENCE_KEYS_LIVE_MS);
                invocation.invoke_async::<SetReply>(&mut master).await
            }
        })
        .await;
        let granted = replies
            .iter()
            .filter_map(|reply| match reply {
                SetReply::Granted { token, .. } => Some(*token),
                SetReply::Taken { .. } => None,
            })
            .collect();
        (replies.len(), granted)
    }
}

/// Runs `call` on every master at once, each bounded by `limit`; returns the
/// answers of those that answered in time (errors and silence dropped).
async fn on_every_master<T, F, Fut>(masters: &[ConnectionManager], limit: Duration, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(ConnectionManager) -> Fut,
    Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
{
    let mut round = JoinSet::new();
    for master in masters {
        round.spawn(tokio::time::timeout(limit, call(master.clone())));
    }
    round
        .join_all()
        .await
        .into_iter()
        .filter_map(|answer| answer.ok()?.ok())
        .collect()
}

#[async_trait]
impl LockBackend for Redlock {
    fn backend(&self) -> Backend {
        Backend::Redlock
    }

    /// Redlock's rounds, until the acquire timeout: note the time, then
    /// `SET key owner NX PX ttl` on every master at once, each bounded by
    /// `master_timeout` so that a dead master costs little. The lock is ours
    /// if at least N/2+1 masters said yes *and* validity is left. Otherwise
    /// undo every `SET` — the compare-and-delete on every master, also where
    /// the answer was lost — and try again after a random pause, so that
    /// rivals do not collide in lockstep.
    #[tracing::instrument(level = "debug", skip(self, timings))]
    async fn acquire(&self, key: &str, timings: LockTimings, _db: &PgPool) -> Result<Acquired, LockError> {
        let deadline = Instant::now() + timings.acquire_timeout;
        let turn = self.turns.turn(Backend::Redlock, key, timings, deadline).await?;
        let owner = Uuid::new_v4().to_string();
        let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(100));
        loop {
            let started = Instant::now();
            let (answered, granted) = self.ask_every_master(key, &owner, timings.ttl).await;
            let validity = timings.ttl.saturating_sub(started.elapsed() + drift(timings.ttl));
            let held = RedlockHeld {
                masters: self.masters.clone(),
                release_script: self.release_script.clone(),
                key: key.to_owned(),
                owner: owner.clone(),
                // The keys expire `ttl` after `started` at the earliest.
                valid_until: Instant::now() + validity,
                limit: master_timeout(timings.ttl),
                quorum: self.quorum(),
                token: granted.iter().copied().max(),
                _turn: None,
            };
            if granted.len() >= self.quorum() && !validity.is_zero() {
                return Ok(Acquired::Held(Box::new(RedlockHeld {
                    _turn: Some(turn),
                    ..held
                })));
            }
            held.unlock_everywhere().await;
            if answered < self.quorum() {
                let reason = format!("{answered} of {} masters answered", self.masters.len());
                return Err(LockError::unavailable(Backend::Redlock, reason));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::timeout(Backend::Redlock, key, timings.acquire_timeout));
            }
            tokio::time::sleep(backoff.next_pause().min(deadline - now)).await;
        }
    }
}

struct RedlockHeld {
    masters: Arc<[ConnectionManager]>,
    release_script: redis::Script,
    key: String,
    owner: String,
    /// The end of the validity: past it, the lock may be someone else's.
    valid_until: Instant,
    /// The bound of one master's answer.
    limit: Duration,
    quorum: usize,
    /// The largest grant count of our majority: a weak token
    /// (`docs/fencing.md#where-each-backends-tokens-come-from`).
    token: Option<i64>,
    /// This instance's turn for the key, until released (`None` in a round
    /// that did not win).
    _turn: Option<KeyedGuard>,
}

impl RedlockHeld {
    /// The compare-and-delete on every master at once; how many did it.
    async fn unlock_everywhere(&self) -> usize {
        let unlocked = on_every_master(&self.masters, self.limit, |mut master| {
            let (script, key, owner) = (self.release_script.clone(), self.key.clone(), self.owner.clone());
            async move {
                script
                    .key(&key)
                    .arg(&owner)
                    .invoke_async::<i64>(&mut master)
                    .await
            }
        });
        unlocked.await.len()
    }

    /// How many masters still hold our owner id.
    async fn still_ours(&self) -> usize {
        let holders = on_every_master(&self.masters, self.limit, |mut master| {
            let mut get = redis::cmd("GET");
            get.arg(&self.key);
            async move { get.query_async::<Option<String>>(&mut master).await }
        });
        let owner = Some(self.owner.clone());
        holders
            .await
            .into_iter()
            .filter(|holder| *holder == owner)
            .count()
    }

    fn lost(&self) -> LockError {
        LockError::lost(Backend::Redlock, &self.key)
    }
}

#[async_trait]
impl HeldLock for RedlockHeld {
    /// Still within the validity, and still ours on a majority.
    async fn verify(&self) -> Result<(), LockError> {
        if Instant::now() >= self.valid_until || self.still_ours().await < self.quorum {
            return Err(self.lost());
        }
        Ok(())
    }

    fn token(&self) -> Option<Fence> {
        self.token.map(|token| Fence {
            epoch: "redlock".to_owned(),
            token,
            holder: self.owner.clone(),
        })
    }

    async fn release(self: Box<Self>) -> Result<(), LockError> {
        // Masters that did not answer keep the key until its TTL: harmless
        // once a majority has let go.
        let unlocked = self.unlock_everywhere().await;
        if unlocked < self.quorum {
            let reason = format!("only {unlocked} of {} masters released", self.masters.len());
            return Err(LockError::unavailable(Backend::Redlock, reason));
        }
        Ok(())
    }
}
