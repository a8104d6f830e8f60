//! The lock servers' own rate: acquire and release in a loop, no database,
//! as many clients as the service has buyers, each working as long as an
//! order works under the lock — what Redis and etcd can hand a lock over at,
//! with nothing of ours in between.
//!
//! Redis: `SET key token NX PX` and the compare-and-delete release the
//! service uses, a client whose `SET` finds the key taken trying again at
//! once (the fastest a client can learn of a release, at the price of the
//! server's CPU). etcd: a transaction that creates the key if it is
//! absent, a delete, and a watch for the delete while the key is taken.
//! Each loop stops at its deadline.

use std::time::Duration;

use anyhow::Context;
use etcd_client::{Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, WatchStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::work;

/// The service's release: delete the key only if it still holds our token.
const RELEASE: &str =
    r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

/// Locks per second that `clients` got from Redis at `url` in `seconds`.
pub async fn redis(url: &str, clients: usize, work_ms: u64, seconds: f64) -> anyhow::Result<f64> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let key = format!("bench:lock:{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut loops = JoinSet::new();
    for _ in 0..clients {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let key = key.clone();
        loops.spawn(async move {
            let token = uuid::Uuid::new_v4().to_string();
            let release = redis::Script::new(RELEASE);
            let mut granted = 0_u64;
            while Instant::now() < deadline {
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(30_000)
                    .query_async(&mut conn)
                    .await?;
                if set.is_none() {
                    continue;
                }
                work(work_ms).await;
                let _: i64 = release.key(&key).arg(&token).invoke_async(&mut conn).await?;
                granted += 1;
            }
            Ok::<_, redis::RedisError>(granted)
        });
    }
    let granted = total(loops).await?;
    Ok(granted as f64 / started.elapsed().as_secs_f64())
}

/// Locks per second that `clients` got from etcd with the plainest
/// recipe: a transaction that creates the key only if it is absent (on the
/// client's lease), and a delete. Each client watches the key from the
/// start, so a client that finds it taken waits for the next deletion
/// after the revision its transaction saw, and then tries again.
///
/// Not etcd's own lock service (`Lock`/`Unlock`), nor a watch per wait:
/// waits cut short by the deadline reset their streams, and etcd 3.4.23's
/// HTTP/2 server answers many resets with `GOAWAY` (`ENHANCE_YOUR_CALM`,
/// "too many internal resets") — after which its lock service granted
/// about a lock a second. Nor trying again at once: each failed transaction
/// is a Raft entry, 300,000 a minute from 64 clients.
pub async fn etcd(endpoints: &[String], clients: usize, work_ms: u64, seconds: f64) -> anyhow::Result<f64> {
    let client = etcd_client::Client::connect(endpoints, None)
        .await
        .context("connecting to etcd")?;
    let key = format!("bench/lock/{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut loops = JoinSet::new();
    for _ in 0..clients {
        let (mut client, key) = (client.clone(), key.clone());
        loops.spawn(async move {
            let lease = client.lease_grant(60, None).await?.id();
            let create = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(
                    key.as_str(),
                    "held",
                    Some(PutOptions::new().with_lease(lease)),
                )]);
            let mut watch = client.watch(key.as_str(), None).await?;
            // The first answer says the watch exists: no deletion slips past.
            watch.message().await?;
            let mut granted = 0_u64;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                let reply = client.txn(create.clone()).await?;
                if reply.succeeded() {
                    work(work_ms).await;
                    client.delete(key.as_str(), None).await?;
                    granted += 1;
                } else {
                    let seen = reply.header().map_or(0, |h| h.revision());
                    // Past the deadline, a waiter stops waiting.
                    let _ = tokio::time::timeout(left, deleted_after(&mut watch, seen)).await;
                }
            }
            client.lease_revoke(lease).await?;
            Ok::<_, etcd_client::Error>(granted)
        });
    }
    let granted = total(loops).await?;
    Ok(granted as f64 / seconds)
}

/// Returns at the first deletion of the watched key after `revision`.
async fn deleted_after(watch: &mut WatchStream, revision: i64) -> Result<(), etcd_client::Error> {
    while let Some(response) = watch.message().await? {
        let deleted = response.events().iter().any(|event| {
            event.event_type() == EventType::Delete
                && event.kv().is_some_and(|kv| kv.mod_revision() > revision)
        });
        if deleted || response.canceled() {
            break;
        }
    }
    Ok(())
}

async fn total<E>(mut loops: JoinSet<Result<u64, E>>) -> anyhow::Result<u64>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut granted = 0;
    while let Some(done) = loops.join_next().await {
        granted += done.context("a lock loop panicked")??;
    }
    Ok(granted)
}
