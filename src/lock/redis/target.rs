//! Where the Redis lock's server is: one fixed address, or whichever server a
//! set of Sentinels names as the master right now.
//!
//! Sentinels are how a single Redis stops being a single point of failure:
//! they watch the primary and promote its replica when it fails. We ask them
//! where the master is at most once a second, as Redisson's sentinel mode
//! scans, and at once after any error. When no Sentinel answers we keep the
//! master we know, as Redisson and Jedis do, rather than let Sentinels that
//! are down take down a healthy master — the price is a split brain under a
//! partition. And Sentinel does not make a lock survive the failover:
//! replication is asynchronous, so only fencing keeps that safe.
//!
//! How it fails, in plain words: `docs/locks.md#redis`; the scenarios that
//! make it fail: `docs/scenarios.md#clusters`.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::Sentinel;
use stocklock_api::Backend;
use tokio::time::Instant;

use crate::lock::{LockError, SERVER_CALL_LIMIT, within_deadline};

/// How long a master the Sentinels named is trusted before we ask again.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);

pub enum RedisTarget {
    Fixed {
        client: redis::Client,
        connection: ConnectionManager,
    },
    Sentinel(SentinelTarget),
}

pub struct SentinelTarget {
    /// Asks the Sentinels, one after another; one question at a time.
    sentinels: tokio::sync::Mutex<Sentinel>,
    master_name: String,
    current: Mutex<Option<Master>>,
}

/// The master as last named, our connection to it, and until when we use it
/// without asking again.
struct Master {
    address: String,
    /// For connections of other kinds (the waiters' subscription).
    client: redis::Client,
    connection: ConnectionManager,
    trusted_until: Instant,
}

/// Fail fast and let the next request trigger a new attempt, rather than
/// retrying in the background while requests wait.
pub fn connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(SERVER_CALL_LIMIT))
        .set_response_timeout(Some(SERVER_CALL_LIMIT))
        .set_number_of_retries(1)
}

impl RedisTarget {
    /// A Redis at `url`, connected on first use.
    pub fn fixed(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = client.get_connection_manager_lazy(connection_config())?;
        Ok(RedisTarget::Fixed { client, connection })
    }

    /// The master the Sentinels at `sentinels` name `master_name`.
    pub fn sentinel(sentinels: &[String], master_name: &str) -> Result<Self, redis::RedisError> {
        Ok(RedisTarget::Sentinel(SentinelTarget {
            sentinels: tokio::sync::Mutex::new(Sentinel::build(sentinels.to_vec())?),
            master_name: master_name.to_owned(),
            current: Mutex::new(None),
        }))
    }

    /// A connection to the master, before `deadline`.
    pub async fn connection(&self, deadline: Instant) -> Result<ConnectionManager, LockError> {
        match self {
            RedisTarget::Fixed { connection, .. } => Ok(connection.clone()),
            RedisTarget::Sentinel(target) => target.master(deadline).await,
        }
    }

    /// The master's address and a client for it, asking the Sentinels first
    /// if what we know is stale, before `deadline`: for the subscription
    /// that wakes waiters (`wakeup.rs`), which must follow a failover.
    pub async fn client(&self, deadline: Instant) -> Result<(String, redis::Client), LockError> {
        match self {
            RedisTarget::Fixed { client, .. } => Ok((address_of(client), client.clone())),
            RedisTarget::Sentinel(target) => {
                target.master(deadline).await?;
                let current = target.current.lock().unwrap_or_else(|p| p.into_inner());
                let master = current
                    .as_ref()
                    .ok_or_else(|| LockError::unavailable(Backend::Redis, "no master named"))?;
                Ok((master.address.clone(), master.client.clone()))
            }
        }
    }

    /// The address of the master as last named, without asking anyone.
    pub fn address(&self) -> Option<String> {
        match self {
            RedisTarget::Fixed { client, .. } => Some(address_of(client)),
            RedisTarget::Sentinel(target) => {
                let current = target.current.lock().unwrap_or_else(|p| p.into_inner());
                current.as_ref().map(|master| master.address.clone())
            }
        }
    }

    /// After an error: the next request asks the Sentinels again (the
    /// master we know is kept, for when none of them answers).
    pub fn forget(&self) {
        if let RedisTarget::Sentinel(target) = self
            && let Some(master) = target.current.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
        {
            master.trusted_until = Instant::now();
        }
    }
}

fn address_of(client: &redis::Client) -> String {
    client.get_connection_info().addr().to_string()
}

/// Why asking the Sentinels named no master.
enum Unanswered {
    /// No Sentinel could be reached, or none answered in time. (An I/O
    /// error reaching the master one named looks the same from here.)
    Silent(LockError),
    /// A Sentinel answered, but no master it named says it is one.
    NoMaster(LockError),
}

impl SentinelTarget {
    fn recent(&self) -> Option<ConnectionManager> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|master| Instant::now() < master.trusted_until)
            .map(|master| master.connection.clone())
    }

    /// The master we know, however long ago it was named.
    fn known(&self) -> Option<ConnectionManager> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().map(|master| master.connection.clone())
    }

    async fn master(&self, deadline: Instant) -> Result<ConnectionManager, LockError> {
        if let Some(connection) = self.recent() {
            return Ok(connection);
        }
        let sentinels = match (self.sentinels.try_lock(), self.known()) {
            (Ok(sentinels), _) => sentinels,
            // Someone is asking already: meanwhile, the master we know —
            // even one an error just made us doubt. If it is gone, this
            // request fails with it; if it was replaced, the question under
            // way finds the new one within a second.
            (Err(_), Some(connection)) => return Ok(connection),
            (Err(_), None) => {
                let turn = async { Ok::<_, std::convert::Infallible>(self.sentinels.lock().await) };
                within_deadline(Backend::Redis, deadline, turn).await?
            }
        };
        // Someone else may have asked while we waited our turn.
        if let Some(connection) = self.recent() {
            return Ok(connection);
        }
        // One question is bounded by the server call limit, so that a
        // request that asks still has time to use the answer, or the master
        // we know.
        let limit = deadline.min(Instant::now() + SERVER_CALL_LIMIT);
        match self.ask(sentinels, limit).await {
            Ok(connection) => Ok(connection),
            // Only silence keeps the master we know, and only a full
            // question's silence: a request that ran out of its own time
            // learnt nothing about the Sentinels.
            Err(Unanswered::Silent(err)) if limit < deadline => self.keep_known(err),
            Err(Unanswered::Silent(err) | Unanswered::NoMaster(err)) => Err(err),
        }
    }

    /// Asks a Sentinel, then checks with `ROLE` that the server named really
    /// is a master; remembers it.
    async fn ask(
        &self,
        mut sentinels: tokio::sync::MutexGuard<'_, Sentinel>,
        deadline: Instant,
    ) -> Result<ConnectionManager, Unanswered> {
        let named = sentinels.async_master_for(&self.master_name, None);
        let client = match tokio::time::timeout_at(deadline, named).await {
            Ok(Ok(client)) => client,
            Err(_) => {
                return Err(Unanswered::Silent(LockError::unavailable(
                    Backend::Redis,
                    "no Sentinel answered in time",
                )));
            }
            Ok(Err(err))
                if err.is_io_error()
                    || err.is_timeout()
                    || err.is_connection_refusal()
                    || err.is_connection_dropped() =>
            {
                return Err(Unanswered::Silent(LockError::unavailable(Backend::Redis, err)));
            }
            // They answered, without a master that says it is one (a
            // failover under way): not a reason to trust the old one.
            Ok(Err(err)) => return Err(Unanswered::NoMaster(LockError::unavailable(Backend::Redis, err))),
        };
        let address = address_of(&client);
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let connection = match current.take() {
            Some(known) if known.address == address => known.connection,
            _ => {
                tracing::info!(%address, master = %self.master_name, "following the Redis master");
                client
                    .get_connection_manager_lazy(connection_config())
                    .map_err(|err| Unanswered::NoMaster(LockError::unavailable(Backend::Redis, err)))?
            }
        };
        *current = Some(Master {
            address,
            client,
            connection: connection.clone(),
            trusted_until: Instant::now() + ASK_AGAIN_AFTER,
        });
        Ok(connection)
    }

    /// No Sentinel answered: the master we know is trusted for another
    /// while, if we know one.
    fn keep_known(&self, err: LockError) -> Result<ConnectionManager, LockError> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let Some(master) = current.as_mut() else {
            return Err(err);
        };
        tracing::warn!(address = %master.address, error = %err, "no Sentinel answers; keeping the Redis master we know");
        master.trusted_until = Instant::now() + ASK_AGAIN_AFTER;
        Ok(master.connection.clone())
    }
}
