//! The lock contract (see `src/lock/mod.rs`), run against every backend that
//! takes a lock, on real servers. One suite, generated per backend by a
//! macro, so no backend can quietly skip a promise the others keep.
//!
//! Each contract test builds **two** instances of the backend, as two service
//! processes would have, and contends between them: that exercises the
//! *scope* promise (redis, etcd, postgres and redlock exclude across
//! processes; redlock's five masters are started by the test itself).
//! `local` promises exclusion within one process only, so its two "holders"
//! share one instance — and a test of its own shows two instances do not
//! exclude each other.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use stocklock::config::Config;
use stocklock::lock::{
    Acquired, AtomicUpdate, Deduction, GroupCommit, LocalLock, Lock, LockBackend, LockError, LockGuard,
    LockTimings, NoLock, PostgresAdvisoryLock, Redlock,
};
use stocklock::metrics::RenewalCounters;

use crate::helpers::{port_for_child, unique_sku};
use crate::locks::{entry, etcd_lock, redis_lock, timings};
use crate::servers::{OwnServer, start_redis, wait_for_port};

fn is_timeout<T>(result: &Result<T, LockError>) -> bool {
    matches!(result, Err(LockError::Timeout { .. }))
}

/// Connects `lock` to its server (on a key of its own), so that a short
/// acquire timeout later measures waiting for the lock, not connecting.
async fn warm_up(lock: &Lock) {
    let warm = lock.acquire(&unique_sku(), timings(10_000, 5_000)).await;
    release(warm.expect("warm-up")).await;
}

async fn release(guard: LockGuard) {
    guard.release().await.expect("release");
}

async fn excludes_a_second_holder_until_released(lock: &Lock, other: &Lock) {
    let key = unique_sku();
    warm_up(other).await;
    let first = lock
        .acquire(&key, timings(10_000, 1_000))
        .await
        .expect("first holder");

    let started = Instant::now();
    let second = other.acquire(&key, timings(10_000, 300)).await;
    assert!(is_timeout(&second), "second holder got in: {:?}", second.err());
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "gave up before the acquire timeout"
    );

    release(first).await;
    let third = other.acquire(&key, timings(10_000, 1_000)).await;
    release(third.expect("the lock was not free after release")).await;
}

async fn a_waiter_gets_the_lock_when_it_is_released(lock: &Lock, other: &Lock) {
    let key = unique_sku();
    let first = lock
        .acquire(&key, timings(10_000, 1_000))
        .await
        .expect("first holder");
    let waiter = async {
        let started = Instant::now();
        let held = other.acquire(&key, timings(10_000, 5_000)).await.expect("waiter");
        (held, started.elapsed())
    };
    let releaser = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        release(first).await;
    };
    let ((held, waited), ()) = tokio::join!(waiter, releaser);
    assert!(
        waited >= Duration::from_millis(150),
        "the waiter did not wait: {waited:?}"
    );
    release(held).await;
}

async fn different_keys_do_not_contend(lock: &Lock, other: &Lock) {
    let first = lock
        .acquire(&unique_sku(), timings(10_000, 1_000))
        .await
        .expect("first key");
    let second = other
        .acquire(&unique_sku(), timings(10_000, 1_000))
        .await
        .expect("second key");
    release(first).await;
    release(second).await;
}

async fn a_dropped_guard_still_releases_its_lock(lock: &Lock, other: &Lock) {
    let key = unique_sku();
    let first = lock
        .acquire(&key, timings(30_000, 1_000))
        .await
        .expect("first holder");
    drop(first); // no release(): the Drop safety net (or the rollback) must do it
    let second = other.acquire(&key, timings(30_000, 3_000)).await;
    release(second.expect("a dropped guard kept its lock")).await;
}

/// `backend => (first, second, servers)`: the two instances the holders
/// use, and servers of the test's own that must outlive them.
macro_rules! lock_contract {
    ($($backend:ident => $pair:expr;)*) => {$(
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn excludes_a_second_holder_until_released() {
                let (first, second, _servers) = $pair;
                super::excludes_a_second_holder_until_released(&first, &second).await;
            }

            #[tokio::test]
            async fn a_waiter_gets_the_lock_when_it_is_released() {
                let (first, second, _servers) = $pair;
                super::a_waiter_gets_the_lock_when_it_is_released(&first, &second).await;
            }

            #[tokio::test]
            async fn different_keys_do_not_contend() {
                let (first, second, _servers) = $pair;
                super::different_keys_do_not_contend(&first, &second).await;
            }

            #[tokio::test]
            async fn a_dropped_guard_still_releases_its_lock() {
                let (first, second, _servers) = $pair;
                super::a_dropped_guard_still_releases_its_lock(&first, &second).await;
            }
        }
    )*};
}

type Pair = (Lock, Lock, Vec<OwnServer>);

/// Two holders of one instance: the scope of `local` is one process.
fn one_instance<T: LockBackend + 'static>(lock: T) -> Pair {
    let shared = entry(lock);
    (shared.clone(), shared, Vec::new())
}

/// Two instances, as two service processes have.
fn two_instances<T: LockBackend + 'static>(make: impl Fn() -> T) -> Pair {
    (entry(make()), entry(make()), Vec::new())
}

/// Two Redlock instances over five masters of the test's own.
fn redlock_over_own_masters() -> Pair {
    let ports: Vec<u16> = std::iter::repeat_with(port_for_child).take(5).collect();
    let masters: Vec<OwnServer> = ports.iter().map(|&port| start_redis(port)).collect();
    let urls: Vec<String> = ports
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect();
    for port in &ports {
        wait_for_port(*port);
    }
    let make = || entry(Redlock::new(&urls).expect("redlock URLs"));
    (make(), make(), masters)
}

/// `T` with `renewal` on for every acquisition: the service's default, under
/// which Redis runs a watchdog per lock and etcd locks on its session lease.
#[derive(Debug)]
struct Renewing<T>(T);

#[async_trait::async_trait]
impl<T: LockBackend> LockBackend for Renewing<T> {
    fn backend(&self) -> stocklock_api::Backend {
        self.0.backend()
    }

    async fn acquire(&self, key: &str, timings: LockTimings, db: &PgPool) -> Result<Acquired, LockError> {
        let renewing = LockTimings {
            renewal: true,
            ..timings
        };
        self.0.acquire(key, renewing, db).await
    }
}

lock_contract! {
    local => one_instance(LocalLock::default());
    redis => two_instances(redis_lock);
    redis_renewing => two_instances(|| Renewing(redis_lock()));
    etcd => two_instances(etcd_lock);
    etcd_session => two_instances(|| Renewing(etcd_lock()));
    // Two orders of one instance share its session, so etcd alone would give
    // both the same key: the instance's own per-SKU turn must exclude them.
    etcd_session_one_instance => one_instance(Renewing(etcd_lock()));
    postgres => two_instances(|| PostgresAdvisoryLock);
    redlock => redlock_over_own_masters();
}

/// The other side of `local`'s scope: two processes, two mutexes, no
/// exclusion — the lesson of the two-instance workshop run.
#[tokio::test]
async fn local_does_not_exclude_across_instances() {
    let key = unique_sku();
    let (first, second) = (entry(LocalLock::default()), entry(LocalLock::default()));
    let one = first.acquire(&key, timings(10_000, 100)).await.expect("first");
    let two = second.acquire(&key, timings(10_000, 100)).await;
    assert!(two.is_ok(), "two LocalLock instances excluded each other");
    release(one).await;
    release(two.unwrap()).await;
}

/// A lock with a TTL is lost by a holder that stalls past it; `verify`, run
/// right before commit, must notice, and the next buyer — on another
/// instance: on its own, a stalled holder's instance keeps its turn
/// (`docs/locks.md#waiting-in-line`) — must get in.
async fn a_holder_that_outlives_the_ttl_loses_the_lock(
    [lock, other]: [Lock; 2],
    ttl_ms: u64,
    stall: Duration,
) {
    let key = unique_sku();
    let first = lock
        .acquire(&key, timings(ttl_ms, 1_000))
        .await
        .expect("first holder");
    first.verify().await.expect("fresh lock should verify");
    tokio::time::sleep(stall).await;
    assert!(
        matches!(first.verify().await, Err(LockError::Lost { .. })),
        "an expired lock verified"
    );
    let second = other
        .acquire(&key, timings(ttl_ms, 1_000))
        .await
        .expect("the expired lock was not free");
    let (old, new) = (first.token().expect("a token"), second.token().expect("a token"));
    assert!(
        new.epoch == old.epoch && new.token > old.token,
        "fencing tokens must increase within an epoch: {old:?} then {new:?}"
    );
    // The stale holder lets go: that must not touch the new holder's lock.
    first
        .release()
        .await
        .expect("releasing an expired lock is not an error");
    second
        .verify()
        .await
        .expect("a stale release took the new holder's lock");
    second.release().await.expect("release");
}

#[tokio::test]
async fn redis_lock_expires_after_its_ttl() {
    let instances = [entry(redis_lock()), entry(redis_lock())];
    a_holder_that_outlives_the_ttl_loses_the_lock(instances, 100, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn etcd_lock_expires_after_its_lease() {
    // etcd leases are whole seconds, with a server-side minimum near 2 s.
    let instances = [entry(etcd_lock()), entry(etcd_lock())];
    a_holder_that_outlives_the_ttl_loses_the_lock(instances, 1_000, Duration::from_millis(3_500)).await;
}

/// `none` and `atomic` keep the contract by saying what they are: they take
/// no lock, so two holders of the same key are both admitted immediately.
async fn a_lockless_backend_admits_every_holder(lock: Lock) {
    let key = unique_sku();
    let first = lock
        .acquire(&key, timings(10_000, 100))
        .await
        .expect("first holder");
    let second = lock
        .acquire(&key, timings(10_000, 100))
        .await
        .expect("second holder");
    assert!(first.token().is_none() && second.token().is_none());
    release(first).await;
    release(second).await;
}

#[tokio::test]
async fn none_takes_no_lock_and_runs_the_naive_deduction() {
    a_lockless_backend_admits_every_holder(entry(NoLock)).await;
    assert_eq!(NoLock.deduction(), Deduction::ReadCheckWrite);
}

#[tokio::test]
async fn atomic_takes_no_lock_and_deducts_in_one_statement() {
    a_lockless_backend_admits_every_holder(entry(AtomicUpdate)).await;
    assert_eq!(AtomicUpdate.deduction(), Deduction::ConditionalUpdate);
}

#[tokio::test]
async fn batch_takes_no_lock_and_deducts_in_batches() {
    a_lockless_backend_admits_every_holder(entry(GroupCommit)).await;
    assert_eq!(GroupCommit.deduction(), Deduction::Batched);
}

#[tokio::test]
async fn every_locking_backend_runs_the_naive_deduction_under_its_lock() {
    let backends: [&dyn LockBackend; 4] = [
        &LocalLock::default(),
        &redis_lock(),
        &etcd_lock(),
        &PostgresAdvisoryLock,
    ];
    for lock in backends {
        assert_eq!(lock.deduction(), Deduction::ReadCheckWrite, "{lock:?}");
    }
}

/// A stale holder's watchdog wakes up after its lock expired and a newer
/// holder took it: its extension must not touch the newer holder's lock
/// (Redis compares the owner id before `PEXPIRE`), and it learns it lost.
#[tokio::test]
async fn redis_a_stale_extension_never_touches_a_newer_holders_lock() {
    let renewals = RenewalCounters::default();
    let lock = entry(redis_lock().counting_renewals(renewals.clone()));
    let key = unique_sku();
    let renewing = LockTimings {
        renewal: true,
        ..timings(300, 1_000)
    };
    let stale = lock.acquire(&key, renewing).await.expect("first holder");
    // Stalled: no extension for 1.5 s, so the 300 ms lock expires; the
    // newer holder waits for that (no sleep guessing how long it takes).
    stale.suspend_renewal(tokio::time::Instant::now() + Duration::from_millis(1_500));
    let newer = entry(redis_lock())
        .acquire(&key, timings(10_000, 5_000))
        .await
        .expect("the expired lock was free");
    // The stale watchdog wakes after its stall and tries to extend: wait
    // until it has tried and failed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while renewals.failed.get() == 0 {
        assert!(
            Instant::now() < deadline,
            "the stale watchdog never tried to extend"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = ::redis::Client::open(Config::defaults().redis_url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let left: i64 = ::redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(
        left > 5_000,
        "the stale extension shortened the newer lock to {left} ms"
    );
    assert!(
        matches!(stale.verify().await, Err(LockError::Lost { .. })),
        "the stale holder did not learn it lost its lock"
    );
    newer.verify().await.expect("the newer holder still holds");
    stale.release().await.expect("release");
    newer.release().await.expect("release");
}

/// Redlock's rule is a *majority*: with the key held by someone else on three
/// masters of five, the two free ones must not be enough.
#[tokio::test]
async fn redlock_needs_a_majority_of_its_masters() {
    let (lock, _other, masters) = redlock_over_own_masters();
    let key = unique_sku();
    let taken = [0, 1, 2].map(|i| masters[i].port());
    for port in taken {
        let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = ::redis::cmd("SET")
            .arg(&key)
            .arg("someone-else")
            .arg("PX")
            .arg(10_000)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    let minority = lock.acquire(&key, timings(10_000, 300)).await;
    assert!(
        matches!(minority, Err(LockError::Timeout { .. })),
        "two masters of five granted the lock: {:?}",
        minority.map(|guard| guard.token())
    );
}
