//! Where the Redis lock's server is: one fixed address, or whichever server a
//! set of Sentinels names as the master right now.
//!
//! Sentinel mode is how a single Redis stops being a single point of
//! failure: a replica follows the primary, three Sentinels watch it, and
//! when it fails (or `SENTINEL FAILOVER` is asked for) they promote the
//! replica. Clients ask the Sentinels where the master is — we ask at most
//! once a second, as Redisson's sentinel mode scans, and at once after any
//! error — and follow it.
//!
//! What Sentinel does *not* give is a lock that survives the failover.
//! Replication is asynchronous: the primary acknowledges `SET NX` before the
//! replica has it, so a lock taken just before the failover can be missing on
//! the promoted replica, and a second buyer gets it while the first still
//! works (the `failover` scenario makes this happen on purpose; `scripts/
//! cluster` explains how). The fencing counter goes back in time with it —
//! fencing refuses the stale tokens, which is what keeps that failover safe.

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
    Fixed(ConnectionManager),
    Sentinel(SentinelTarget),
}

pub struct SentinelTarget {
    /// Asks the Sentinels, one after another; one question at a time.
    sentinels: tokio::sync::Mutex<Sentinel>,
    master_name: String,
    current: Mutex<Option<Master>>,
}

/// The master as last named, and our connection to it.
struct Master {
    address: String,
    connection: ConnectionManager,
    named_at: Instant,
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
        Ok(RedisTarget::Fixed(
            client.get_connection_manager_lazy(connection_config())?,
        ))
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
            RedisTarget::Fixed(connection) => Ok(connection.clone()),
            RedisTarget::Sentinel(target) => target.master(deadline).await,
        }
    }

    /// After an error: the next request asks the Sentinels again.
    pub fn forget(&self) {
        if let RedisTarget::Sentinel(target) = self {
            *target.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

impl SentinelTarget {
    fn recent(&self) -> Option<ConnectionManager> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|master| master.named_at.elapsed() < ASK_AGAIN_AFTER)
            .map(|master| master.connection.clone())
    }

    async fn master(&self, deadline: Instant) -> Result<ConnectionManager, LockError> {
        if let Some(connection) = self.recent() {
            return Ok(connection);
        }
        let question = async { Ok::<_, std::convert::Infallible>(self.sentinels.lock().await) };
        let mut sentinels = within_deadline(Backend::Redis, deadline, question).await?;
        // Someone else may have asked while we waited our turn.
        if let Some(connection) = self.recent() {
            return Ok(connection);
        }
        // Asks a Sentinel, then checks with `ROLE` that the server named
        // really is a master.
        let named = sentinels.async_master_for(&self.master_name, None);
        let client = within_deadline(Backend::Redis, deadline, named).await?;
        let address = client.get_connection_info().addr().to_string();
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let connection = match current.take() {
            Some(known) if known.address == address => known.connection,
            _ => {
                tracing::info!(%address, master = %self.master_name, "following the Redis master");
                client
                    .get_connection_manager_lazy(connection_config())
                    .map_err(|err| LockError::unavailable(Backend::Redis, err))?
            }
        };
        *current = Some(Master {
            address,
            connection: connection.clone(),
            named_at: Instant::now(),
        });
        Ok(connection)
    }
}
