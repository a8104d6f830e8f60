//! Promises of the lock backends that the contract suite's happy paths do
//! not reach: a server that hangs, a lease that runs while its holder is
//! queued, a lease with under a second left, a database error that is not a
//! lock timeout. Each test here failed before its fix.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use stocklock::config::Config;
use stocklock::error::Error;
use stocklock::lock::{EtcdLock, Lock, LockError, LockTimings, PostgresAdvisoryLock, RedisLock};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::helpers::{database, unique_sku};
use crate::locks::{entry, entry_on, etcd_lock, timings};

/// A server that accepts connections and never says a word: the worst
/// kind of outage, since nothing fails, it just never answers. Keeps its
/// listener (and the connections) for as long as it lives.
async fn hung_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let task = tokio::spawn(async move {
        let mut silent = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            silent.push(connection);
        }
    });
    (address, task)
}

/// Acquiring against a hung server gives `Unavailable` within the acquire
/// timeout of *this* request — not within a server timeout fixed at
/// start-up (which was up to 2 s whatever `PUT /admin/lock` said).
async fn a_hung_server_is_unavailable_within_the_acquire_timeout(lock: Lock) {
    let started = Instant::now();
    let result = lock.acquire(&unique_sku(), timings(5_000, 200)).await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(LockError::Unavailable { .. })),
        "expected Unavailable, got {:?}",
        result.err()
    );
    assert!(
        took < Duration::from_millis(900),
        "a 200 ms acquire timeout took {took:?}"
    );
}

#[tokio::test]
async fn redis_hung_is_unavailable_within_the_acquire_timeout() {
    let (address, server) = hung_server().await;
    let lock = RedisLock::new(&format!("redis://{address}"), TaskTracker::new()).expect("URL");
    a_hung_server_is_unavailable_within_the_acquire_timeout(entry(lock)).await;
    server.abort();
}

#[tokio::test]
async fn etcd_hung_is_unavailable_within_the_acquire_timeout() {
    let (address, server) = hung_server().await;
    let lock = EtcdLock::new(vec![format!("http://{address}")], TaskTracker::new());
    a_hung_server_is_unavailable_within_the_acquire_timeout(entry(lock)).await;
    server.abort();
}

/// The lease exists before the request queues (etcd needs it to create the
/// waiter's key), but its TTL belongs to the holder: a waiter that queued
/// for longer than the TTL must still hold its lock for the TTL once it
/// gets it.
#[tokio::test]
async fn etcd_time_spent_queueing_is_not_taken_off_the_holders_ttl() {
    let (first_lock, second_lock) = (entry(etcd_lock()), entry(etcd_lock()));
    let key = unique_sku();
    // The first holder's lease outlives the wait; the waiter's, 2 s (etcd's
    // minimum), is shorter than it.
    let first = first_lock
        .acquire(&key, timings(10_000, 1_000))
        .await
        .expect("first");
    let waiter = second_lock.acquire(&key, timings(2_000, 10_000));
    let release = async {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        first.release().await.expect("release");
    };
    let (second, ()) = tokio::join!(waiter, release);
    let second = second.expect("the waiter got the lock");
    // Queued 2.5 s: a lease that ran while queueing would be gone by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.verify().await.expect("the holder lost a lock it just got");
    second.release().await.expect("release");
}

/// etcd reports a lease's remaining TTL in whole seconds: 0.6 s left reads
/// as 0. `verify` must not call that lost.
#[tokio::test]
async fn etcd_a_lock_with_under_a_second_left_still_verifies() {
    let lock = entry(etcd_lock());
    let held = lock
        .acquire(&unique_sku(), timings(2_000, 1_000))
        .await
        .expect("held");
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    held.verify()
        .await
        .expect("a lock with ~0.6 s left was called lost");
    held.release().await.expect("release");
}

/// With `renewal`, an instance's etcd locks all live on one session lease
/// (the fencing holder names it); without, each lock has a lease of its own.
#[tokio::test]
async fn etcd_renewal_locks_on_one_session_lease_per_instance() {
    let lock = entry(etcd_lock());
    let session = LockTimings {
        renewal: true,
        ..timings(2_000, 1_000)
    };
    let mut holders = Vec::new();
    for renewal_timings in [session, session, timings(2_000, 1_000), timings(2_000, 1_000)] {
        let held = lock.acquire(&unique_sku(), renewal_timings).await.expect("held");
        holders.push(held.token().expect("a token").holder);
        held.release().await.expect("release");
    }
    assert_eq!(holders[0], holders[1], "two leases in one session: {holders:?}");
    assert!(
        holders[2] != holders[0] && holders[3] != holders[2],
        "a lock without renewal shared a lease: {holders:?}"
    );
}

/// A stalled instance stops renewing its session (the `pause_holder` fault
/// suspends the shared watchdog): the lease expires, every holder on it
/// learns its lock is lost, and the next order gets a new session.
#[tokio::test]
async fn etcd_an_expired_session_loses_its_locks_and_a_new_one_serves_later_orders() {
    let lock = entry(etcd_lock());
    let session = LockTimings {
        renewal: true,
        ..timings(2_000, 5_000)
    };
    let (first, second) = (
        lock.acquire(&unique_sku(), session).await.expect("first"),
        lock.acquire(&unique_sku(), session).await.expect("second"),
    );
    first.suspend_renewal(tokio::time::Instant::now() + Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    for held in [&first, &second] {
        assert!(
            matches!(held.verify().await, Err(LockError::Lost { .. })),
            "a lock outlived its expired session"
        );
    }
    let later = lock.acquire(&unique_sku(), session).await.expect("a later order");
    later.verify().await.expect("the new session's lock");
    let old = first.token().expect("a token").holder;
    assert_ne!(
        later.token().expect("a token").holder,
        old,
        "the expired session was reused"
    );
    for held in [first, second, later] {
        held.release().await.expect("release");
    }
}

/// Only a lock timeout (SQLSTATE 55P03) is the lock's failure; any other
/// database error is the database's — a 5xx whose details are logged, not
/// a `lock_unavailable` 503 carrying sqlx's text to the client. Here the
/// waiter's own `statement_timeout` (57014) cuts its wait short.
#[tokio::test]
async fn postgres_lock_errors_other_than_a_timeout_are_database_errors() {
    let key = unique_sku();
    let holder = entry_on(PostgresAdvisoryLock, database().await);
    let held = holder.acquire(&key, timings(5_000, 1_000)).await.expect("held");
    let impatient = PgConnectOptions::from_str(&Config::defaults().database_url)
        .expect("DATABASE_URL")
        .options([("statement_timeout", "100")]);
    let impatient: PgPool = PgPoolOptions::new().connect_lazy_with(impatient);
    let result = entry_on(PostgresAdvisoryLock, impatient)
        .acquire(&key, timings(5_000, 3_000))
        .await;
    let err = Error::from(result.err().expect("the waiter got a held lock"));
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    held.release().await.expect("release");
}
