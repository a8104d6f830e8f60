//! The safety ladder under a paused holder: a lock with a TTL is not mutual
//! exclusion unless the resource checks a fencing token.
//!
//! Every holder stalls *after* its last check and before its write (the
//! `pause_holder` fault at `before_write`), for longer than the lock's TTL.
//! The lock expires under it, the next buyer gets in and reads the same
//! stock. Unfenced, both write: the ledger shows overlapping holds and
//! oversold units — the lesson must reproduce. Fenced, PostgreSQL refuses
//! every stale write: `lock_lost` answers, no overlap, no oversell.

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Audit, Backend, Faults, LockSettingsUpdate, OrderList, PauseHolder, PausePoint};

use crate::helpers::{Tally, TestApp, buy_concurrently, error_code, spawn_app, spawn_app_with, unique_sku};

/// One rung: `backend` with its TTL, every holder paused `pause_ms` before
/// writing; `buyers` single-unit orders at once against `stock` units.
struct Rung {
    backend: Backend,
    ttl_ms: u64,
    pause_ms: u64,
    fencing: bool,
    stock: i64,
    buyers: usize,
}

/// What a rung left: the answers, the audit, and the order list with its
/// refusals.
type Climbed = (Tally, Audit, OrderList);

async fn climb(rung: Rung) -> Climbed {
    climb_with(rung, PausePoint::BeforeWrite, true).await
}

/// Two instances, as in the workshop: a lock that excludes processes (an
/// etcd session's) must be shown failing *across* them.
async fn climb_with(rung: Rung, at: PausePoint, check: bool) -> Climbed {
    let apps = [named("first").await, named("second").await];
    for app in &apps {
        app.set_lock(LockSettingsUpdate {
            backend: Some(rung.backend),
            ttl_ms: Some(rung.ttl_ms),
            acquire_timeout_ms: Some(60_000),
            critical_section_ms: Some(5),
            check_before_commit: Some(check),
            fencing: Some(rung.fencing),
            ..Default::default()
        })
        .await;
        pause_every_holder(app, rung.pause_ms, at).await;
    }
    let sku = unique_sku();
    apps[0].reset(&sku, rung.stock).await;
    let tally = buy_concurrently(&[&apps[0], &apps[1]], &sku, rung.buyers).await;
    (tally, apps[0].audit(&sku).await, apps[0].orders(&sku).await)
}

async fn named(instance: &str) -> TestApp {
    spawn_app_with(|config| config.instance_name = Some(instance.to_owned())).await
}

async fn pause_every_holder(app: &TestApp, pause_ms: u64, at: PausePoint) {
    let faults = Faults {
        pause_holder: Some(PauseHolder {
            probability: 1.0,
            pause_ms,
            at,
        }),
        ..Faults::default()
    };
    let response = app
        .put("/admin/faults", &serde_json::to_value(faults).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn assert_unfenced_lock_failed((tally, audit, _): Climbed) {
    assert!(
        audit.overlapping_holds > 0 && audit.most_holders_at_once > 1,
        "no overlap measured: {tally:?} {audit:?}"
    );
    assert!(
        audit.oversold > 0,
        "the paused holders did not oversell: {tally:?} {audit:?}"
    );
}

fn assert_fencing_held((tally, audit, list): Climbed) {
    assert_eq!(
        (
            audit.oversold,
            audit.overlapping_holds,
            audit.consistent,
            audit.most_holders_at_once
        ),
        (0, 0, true, 1),
        "{tally:?} {audit:?}"
    );
    assert_refusals_recorded(&tally, &list);
    assert!(tally.lock_lost > 0, "no stale write was refused: {tally:?}");
    assert!(
        tally.created > 0,
        "fencing refused every holder, the newest too: {tally:?}"
    );
    assert_eq!(audit.orders, tally.created, "{tally:?} {audit:?}");
}

/// Every `lock_lost` answer left its refusal, by one of the two instances,
/// with the token it held: what the timeline marks.
fn assert_refusals_recorded(tally: &Tally, list: &OrderList) {
    assert_eq!(
        list.refusals.len() as i64,
        tally.lock_lost,
        "{tally:?} {:?}",
        list.refusals
    );
    for refusal in &list.refusals {
        let instance = refusal.instance.as_deref();
        assert!(matches!(instance, Some("first" | "second")), "{refusal:?}");
        assert!(refusal.fence_token.is_some(), "{refusal:?}");
    }
}

// Redis: a 300 ms TTL and 700 ms pauses, so each holder overlaps the next.
fn redis(fencing: bool) -> Rung {
    Rung {
        backend: Backend::Redis,
        ttl_ms: 300,
        pause_ms: 700,
        fencing,
        stock: 5,
        buyers: 20,
    }
}

// etcd: its minimum lease is 2 s, and it reaps expired leases every 0.5 s
// through Raft, so the pauses must be well longer still.
fn etcd(fencing: bool) -> Rung {
    Rung {
        backend: Backend::Etcd,
        ttl_ms: 2_000,
        pause_ms: 3_500,
        fencing,
        stock: 2,
        buyers: 6,
    }
}

#[tokio::test]
async fn redis_without_fencing_oversells_when_a_holder_pauses_past_its_ttl() {
    assert_unfenced_lock_failed(climb(redis(false)).await);
}

#[tokio::test]
async fn redis_with_fencing_refuses_the_stale_writes() {
    assert_fencing_held(climb(redis(true)).await);
}

#[tokio::test]
async fn etcd_without_fencing_oversells_when_a_holder_pauses_past_its_lease() {
    assert_unfenced_lock_failed(climb(etcd(false)).await);
}

#[tokio::test]
async fn etcd_with_fencing_refuses_the_stale_writes() {
    assert_fencing_held(climb(etcd(true)).await);
}

#[tokio::test]
async fn bad_faults_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let before: Faults = app.get("/admin/faults").await.json().await.unwrap();
    let cases = [
        json!({ "pause_holder": { "probability": 1.5, "pause_ms": 10, "at": "before_write" } }),
        json!({ "pause_holder": { "probability": 0.5, "pause_ms": 0, "at": "before_write" } }),
        json!({ "pause_holder": { "probability": 0.5, "pause_ms": 10, "at": "whenever" } }),
        json!({ "pause_everything": true }),
    ];
    for body in cases {
        let code = error_code(
            app.put("/admin/faults", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            code == "invalid_faults" || code == "invalid_body",
            "{body}: {code}"
        );
    }
    let after: Faults = app.get("/admin/faults").await.json().await.unwrap();
    assert_eq!(after, before);
    let code = error_code(
        app.put("/admin/lock", &json!({ "fencing": "yes" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_body");
}

/// Work longer than the TTL, no fault: with `renewal` the watchdog keeps
/// every lock alive and every order commits; without it every lock expires
/// mid-work and the check before the write refuses the order.
async fn long_work(
    backend: Backend,
    ttl_ms: u64,
    work_ms: u64,
    renewal: bool,
) -> (Tally, stocklock_api::Audit) {
    let app = spawn_app().await;
    app.set_lock(LockSettingsUpdate {
        backend: Some(backend),
        ttl_ms: Some(ttl_ms),
        acquire_timeout_ms: Some(60_000),
        critical_section_ms: Some(work_ms),
        renewal: Some(renewal),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, 10).await;
    let tally = buy_concurrently(&[&app], &sku, 2).await;
    (tally, app.audit(&sku).await)
}

fn assert_renewal_kept_every_lock((tally, audit): (Tally, stocklock_api::Audit)) {
    assert_eq!((tally.created, tally.lock_lost), (2, 0), "{tally:?}");
    assert_eq!((audit.orders, audit.overlapping_holds), (2, 0), "{audit:?}");
}

fn assert_locks_expired_mid_work((tally, audit): (Tally, stocklock_api::Audit)) {
    assert!(tally.lock_lost > 0, "no lock expired mid-work: {tally:?}");
    assert_eq!((audit.oversold, audit.overlapping_holds), (0, 0), "{audit:?}");
}

#[tokio::test]
async fn redis_renewal_keeps_a_lock_through_work_longer_than_its_ttl() {
    assert_renewal_kept_every_lock(long_work(Backend::Redis, 300, 900, true).await);
}

#[tokio::test]
async fn redis_without_renewal_a_lock_expires_under_long_work() {
    assert_locks_expired_mid_work(long_work(Backend::Redis, 300, 900, false).await);
}

#[tokio::test]
async fn etcd_renewal_keeps_a_lease_through_work_longer_than_its_ttl() {
    assert_renewal_kept_every_lock(long_work(Backend::Etcd, 2_000, 3_200, true).await);
}

#[tokio::test]
async fn etcd_without_renewal_a_lease_expires_under_long_work() {
    assert_locks_expired_mid_work(long_work(Backend::Etcd, 2_000, 3_200, false).await);
}

/// The checked rung: a holder paused *before* it reads (`after_acquire`)
/// past its TTL finds its lock gone at the check before the write, and is
/// refused; without the check it writes anyway.
#[tokio::test]
async fn the_check_before_commit_refuses_a_holder_whose_lock_expired_before_it() {
    let (checked, audit, list) = climb_with(redis(false), PausePoint::AfterAcquire, true).await;
    assert!(checked.lock_lost > 0, "no expired lock was caught: {checked:?}");
    assert_eq!((audit.oversold, audit.consistent), (0, true), "{audit:?}");
    assert_refusals_recorded(&checked, &list);
    let (unchecked, _, list) = climb_with(redis(false), PausePoint::AfterAcquire, false).await;
    assert_eq!(unchecked.lock_lost, 0, "{unchecked:?}");
    assert!(list.refusals.is_empty(), "{list:?}");
}

/// The fence's rules, straight against PostgreSQL (`docs/fencing.md`).
#[tokio::test]
async fn a_fence_admits_only_the_newest_claim_and_its_own_holder() {
    use stocklock::domain::{Fence, Quantity, Sku};
    use stocklock::store::{self, Claim, NewOrder};

    let pool = crate::helpers::database().await;
    let sku = Sku::parse(&unique_sku()).unwrap();
    store::reset_product(&pool, &sku, 10).await.unwrap();
    let fence = |epoch: &str, token, holder: &str| Fence {
        epoch: epoch.into(),
        token,
        holder: holder.into(),
    };
    let mut conn = pool.acquire().await.unwrap();
    let mut claim = async |f: &Fence| {
        let claimed = store::claim_fence(&mut conn, &sku, f).await.unwrap();
        matches!(claimed, Claim::Claimed { stock: 10, .. })
    };
    assert!(claim(&fence("redis/a", 5, "x")).await, "a first claim");
    assert!(!claim(&fence("redis/a", 5, "y")).await, "the same token twice");
    assert!(!claim(&fence("redis/a", 4, "y")).await, "an older token");
    assert!(
        claim(&fence("etcd/b", 1, "z")).await,
        "another epoch wins whatever its number"
    );

    let mut tx = pool.begin().await.unwrap();
    let mut write = async |stock, f: Option<&Fence>| {
        let order = NewOrder {
            order_id: uuid::Uuid::new_v4(),
            sku: &sku,
            quantity: Quantity::parse(1).unwrap(),
            backend: Backend::Redis,
            fence_token: f.map(|f| f.token),
            critical_section_us: Some((0, 0)),
            remaining: stock,
            idempotency_key: None,
        };
        store::write_stock(&mut tx, f, order).await.unwrap()
    };
    let stale = write(9, Some(&fence("redis/a", 5, "x"))).await;
    assert_eq!(stale, None, "a write under a superseded claim");
    let imposter = write(9, Some(&fence("etcd/b", 1, "w"))).await;
    assert_eq!(imposter, None, "the newest token, another holder");
    let newest = write(9, Some(&fence("etcd/b", 1, "z"))).await;
    assert!(newest.is_some(), "the newest claim's own write");
    // A write without a fence clears it: no fenced holder writes after it.
    write(8, None).await;
    let after = write(7, Some(&fence("etcd/b", 1, "z"))).await;
    assert_eq!(after, None, "a fenced write after an unfenced one");
}
