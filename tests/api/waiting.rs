//! Waiting for a lock: in line within an instance, woken by the release,
//! fair between instances (`docs/locks.md#waiting-in-line`).
//!
//! Behaviour, not speed: the order in which waiters are served, what wakes
//! a Redis waiter (an announced release, not its poll), that a key which
//! expires or is deleted unannounced still reaches a waiter, and that two
//! instances contending for one SKU share it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use stocklock::config::Config;
use stocklock::lock::Lock;
use stocklock_api::{Backend, LockSettingsUpdate};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::helpers::{spawn_app, unique_sku};
use crate::locks::{entry, etcd_lock, redis_lock, timings};

/// Sets `key` as a client that knows nothing of our scripts would, for
/// `px_ms`; returns its connection.
async fn set_by_a_foreign_client(key: &str, px_ms: u64) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(Config::defaults().redis_url).unwrap();
    let mut foreign = client.get_multiplexed_async_connection().await.unwrap();
    let mut set = redis::cmd("SET");
    set.arg(key).arg("foreign").arg("PX").arg(px_ms);
    set.query_async::<()>(&mut foreign).await.unwrap();
    foreign
}

/// Waits for `waiter` to get its lock, `within` of `since` (and fails
/// with `what` if it has not four times that later).
async fn got_within(waiter: tokio::task::JoinHandle<Instant>, since: Instant, within: Duration, what: &str) {
    let got_it = tokio::time::timeout(within * 4, waiter)
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .unwrap();
    assert!(got_it - since < within, "{what}: it took {:?}", got_it - since);
}

/// A Redis lock whose waiters, unwoken, would sleep 10 s between attempts:
/// any prompt acquisition below was woken, not polled.
fn redis_waking_only_on_release() -> Lock {
    entry(redis_lock().waking(Duration::from_secs(10), Default::default()))
}

/// Takes and releases a lock of its own on `lock`, which starts its
/// subscription to releases, and gives that a moment to be up.
async fn subscribe(lock: &Lock) {
    let warm = lock.acquire(&unique_sku(), timings(10_000, 5_000)).await;
    warm.expect("warm-up").release().await.expect("release");
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Starts `lock.acquire(key)` in the background; the handle answers when
/// it got the lock (and then releases it).
fn acquire_in_background(lock: &Lock, key: &str) -> tokio::task::JoinHandle<Instant> {
    let (lock, key) = (lock.clone(), key.to_owned());
    tokio::spawn(async move {
        let guard = lock
            .acquire(&key, timings(10_000, 8_000))
            .await
            .expect("the waiter's lock");
        let got_it = Instant::now();
        guard.release().await.expect("release");
        got_it
    })
}

#[tokio::test]
async fn a_redis_waiter_is_woken_by_the_release_not_by_polling() {
    let waiter_lock = redis_waking_only_on_release();
    subscribe(&waiter_lock).await;
    let key = unique_sku();
    // Held by another instance for up to 30 s: unwoken, the waiter would
    // sleep 10 s before it asked again.
    let holder = entry(redis_lock())
        .acquire(&key, timings(30_000, 1_000))
        .await
        .expect("the holder");
    let waiter = acquire_in_background(&waiter_lock, &key);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.release().await.expect("release");
    let woken = "the release did not wake the waiter at once";
    got_within(waiter, Instant::now(), Duration::from_millis(500), woken).await;
}

#[tokio::test]
async fn a_redis_key_that_expires_unannounced_reaches_its_waiter_when_it_expires() {
    let waiter_lock = redis_waking_only_on_release();
    subscribe(&waiter_lock).await;
    let key = unique_sku();
    set_by_a_foreign_client(&key, 600).await;
    let waiter = acquire_in_background(&waiter_lock, &key);
    let expired = "the waiter slept past the key's expiry";
    got_within(waiter, Instant::now(), Duration::from_millis(1_500), expired).await;
}

#[tokio::test]
async fn a_redis_key_deleted_unannounced_reaches_its_waiter_within_the_fallback() {
    let waiter_lock = entry(redis_lock().waking(Duration::from_millis(300), Default::default()));
    subscribe(&waiter_lock).await;
    let key = unique_sku();
    let mut foreign = set_by_a_foreign_client(&key, 30_000).await;
    let waiter = acquire_in_background(&waiter_lock, &key);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut foreign)
        .await
        .unwrap();
    let deleted = "the waiter starved past its fallback";
    got_within(waiter, Instant::now(), Duration::from_millis(1_000), deleted).await;
}

/// Waiters of one instance are served in the order they came.
async fn waiters_are_served_in_arrival_order(lock: Lock) {
    let key = unique_sku();
    let first = lock
        .acquire(&key, timings(10_000, 5_000))
        .await
        .expect("first holder");
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = JoinSet::new();
    for arrival in 0..6 {
        let (lock, key, served) = (lock.clone(), key.clone(), served.clone());
        waiters.spawn(async move {
            let guard = lock
                .acquire(&key, timings(10_000, 8_000))
                .await
                .expect("a waiter's lock");
            served.lock().unwrap().push(arrival);
            tokio::time::sleep(Duration::from_millis(10)).await;
            guard.release().await.expect("release");
        });
        // Far apart enough that arrival order is unambiguous.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    first.release().await.expect("release");
    while let Some(done) = waiters.join_next().await {
        done.unwrap();
    }
    assert_eq!(*served.lock().unwrap(), (0..6).collect::<Vec<_>>());
}

#[tokio::test]
async fn redis_waiters_of_one_instance_are_served_in_arrival_order() {
    waiters_are_served_in_arrival_order(entry(redis_lock())).await;
}

#[tokio::test]
async fn etcd_waiters_of_one_instance_are_served_in_arrival_order() {
    waiters_are_served_in_arrival_order(entry(etcd_lock())).await;
}

/// What one instance's buyers got.
#[derive(Debug, Default)]
struct Share {
    created: usize,
    unavailable: usize,
    longest: Duration,
}

/// `per_instance` buyers on each of two instances buy one unit at a time
/// until the stock is gone, with 20 ms of work under the lock.
async fn contend(backend: Backend, per_instance: usize, stock: i64) -> ([Share; 2], Duration) {
    let apps = [spawn_app().await, spawn_app().await];
    for app in &apps {
        app.set_lock(LockSettingsUpdate {
            backend: Some(backend),
            critical_section_ms: Some(20),
            acquire_timeout_ms: Some(30_000),
            ..Default::default()
        })
        .await;
    }
    let sku = unique_sku();
    apps[0].reset(&sku, stock).await;
    let started = Instant::now();
    let mut buyers = JoinSet::new();
    for (instance, app) in apps.iter().enumerate() {
        for _ in 0..per_instance {
            buyers.spawn(buy_until_sold_out(
                (app.client.clone(), app.url("/orders")),
                sku.clone(),
                instance,
            ));
        }
    }
    let mut shares = [Share::default(), Share::default()];
    while let Some(bought) = buyers.join_next().await {
        let (instance, share) = bought.unwrap();
        let total = &mut shares[instance];
        total.created += share.created;
        total.unavailable += share.unavailable;
        total.longest = total.longest.max(share.longest);
    }
    (shares, started.elapsed())
}

async fn buy_until_sold_out(
    (client, url): (reqwest::Client, String),
    sku: String,
    instance: usize,
) -> (usize, Share) {
    let mut share = Share::default();
    for _ in 0..10_000 {
        let asked = Instant::now();
        let response = client
            .post(&url)
            .json(&json!({ "sku": sku, "quantity": 1 }))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("order request failed");
        share.longest = share.longest.max(asked.elapsed());
        match response.status() {
            StatusCode::CREATED => share.created += 1,
            StatusCode::SERVICE_UNAVAILABLE => share.unavailable += 1,
            StatusCode::CONFLICT => break,
            other => panic!("unexpected {other}"),
        }
    }
    (instance, share)
}

/// Neither instance gets under 40 % of the grants, nobody waits longer than
/// twice a full round of every waiter's hold, and nobody gives up.
async fn two_instances_share_a_hot_sku(backend: Backend) {
    let (per_instance, stock) = (8, 160);
    let (shares, elapsed) = contend(backend, per_instance, stock).await;
    let created = shares[0].created + shares[1].created;
    assert_eq!(created as i64, stock, "{shares:?}");
    let hold = elapsed / created as u32;
    let fair_wait = 2 * (2 * per_instance) as u32 * hold;
    for share in &shares {
        assert!(
            share.created * 10 >= created * 4,
            "{backend}: one instance starved: {shares:?}"
        );
        assert_eq!(share.unavailable, 0, "{backend}: {shares:?}");
        assert!(
            share.longest <= fair_wait,
            "{backend}: an order waited {:?}, more than 2 × {} waiters × {hold:?}: {shares:?}",
            share.longest,
            2 * per_instance
        );
    }
}

#[tokio::test]
async fn two_redis_instances_share_a_hot_sku_fairly() {
    two_instances_share_a_hot_sku(Backend::Redis).await;
}

#[tokio::test]
async fn two_etcd_instances_share_a_hot_sku_fairly() {
    two_instances_share_a_hot_sku(Backend::Etcd).await;
}
