//! The workshop's lesson as tests: many more concurrent buyers than stock.
//! Safe backends never oversell and the ledger stays consistent; `none`
//! (with a critical-section delay) and `local` across two instances do
//! oversell — and must, reproducibly, or the workshop has nothing to show.

use reqwest::StatusCode;
use stocklock_api::{Backend, LockSettingsUpdate};

use crate::helpers::{
    TestApp, buy_concurrently, database, spawn_app, spawn_app_with, unique_sku,
    wait_until_an_order_holds_the_lock,
};

const STOCK: i64 = 10;
const BUYERS: usize = 40;

/// Runs the scenario on `apps` (all switched to `backend`); returns the audit
/// after checking that clients and ledger agree.
async fn hammer(apps: &[&TestApp], backend: Backend, critical_ms: u64) -> stocklock_api::Audit {
    for app in apps {
        app.use_backend(backend, critical_ms).await;
    }
    let sku = unique_sku();
    apps[0].reset(&sku, STOCK).await;
    let tally = buy_concurrently(apps, &sku, BUYERS).await;
    let audit = apps[0].audit(&sku).await;
    assert_eq!(tally.other, 0, "{backend}: unexpected statuses: {tally:?}");
    assert_eq!(tally.unavailable, 0, "{backend}: lock timeouts: {tally:?}");
    assert_eq!(
        audit.orders, tally.created,
        "{backend}: ledger and clients disagree: {tally:?} {audit:?}"
    );
    audit
}

async fn assert_never_oversells(backend: Backend) {
    let app = spawn_app().await;
    let audit = hammer(&[&app], backend, 10).await;
    assert_eq!(audit.sold, STOCK, "{backend}: {audit:?}");
    assert_eq!(
        (audit.oversold, audit.stock, audit.consistent),
        (0, 0, true),
        "{backend}: {audit:?}"
    );
}

#[tokio::test]
async fn local_never_oversells_in_one_instance() {
    assert_never_oversells(Backend::Local).await;
}

#[tokio::test]
async fn redis_never_oversells() {
    assert_never_oversells(Backend::Redis).await;
}

#[tokio::test]
async fn etcd_never_oversells() {
    assert_never_oversells(Backend::Etcd).await;
}

#[tokio::test]
async fn postgres_never_oversells() {
    assert_never_oversells(Backend::Postgres).await;
}

#[tokio::test]
async fn atomic_never_oversells() {
    assert_never_oversells(Backend::Atomic).await;
}

#[tokio::test]
async fn batch_never_oversells() {
    assert_never_oversells(Backend::Batch).await;
}

/// `batch` is correct across instances for `atomic`'s reason: each batch's
/// write is conditional on the stock it walked from.
#[tokio::test]
async fn batch_never_oversells_across_two_instances() {
    let (first, second) = (spawn_app().await, spawn_app().await);
    let audit = hammer(&[&first, &second], Backend::Batch, 0).await;
    assert_eq!(
        (
            audit.sold,
            audit.oversold,
            audit.overlapping_holds,
            audit.consistent
        ),
        (STOCK, 0, 0, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn redis_never_oversells_across_two_instances() {
    let (first, second) = (spawn_app().await, spawn_app().await);
    let audit = hammer(&[&first, &second], Backend::Redis, 10).await;
    assert_eq!(
        (audit.sold, audit.oversold, audit.consistent),
        (STOCK, 0, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn none_oversells_with_a_critical_section_delay() {
    let app = spawn_app().await;
    let audit = hammer(&[&app], Backend::None, 50).await;
    assert!(audit.oversold > 0, "no lock, yet no oversell: {audit:?}");
    assert!(
        !audit.consistent,
        "lost updates should leave the stock inconsistent: {audit:?}"
    );
}

#[tokio::test]
async fn local_oversells_across_two_instances() {
    let (first, second) = (spawn_app().await, spawn_app().await);
    let audit = hammer(&[&first, &second], Backend::Local, 50).await;
    assert!(
        audit.oversold > 0,
        "two instances' local locks excluded each other?! {audit:?}"
    );
}

/// `atomic` does its business work *before* it takes a connection: it has no
/// lock to work under, so it must hold nothing while it works. With a pool of
/// two and 600 ms of work, ten orders then finish together (about 0.6 s),
/// not two by two (at least 3 s), which is what holding a transaction
/// through the work costs.
#[tokio::test]
async fn atomic_holds_no_connection_while_it_works() {
    let app = spawn_app_with(|config| config.db_max_connections = 2).await;
    app.use_backend(Backend::Atomic, 600).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;

    let started = std::time::Instant::now();
    let tally = buy_concurrently(&[&app], &sku, 10).await;
    let took = started.elapsed();
    assert_eq!(tally.created, 10, "{tally:?}");
    assert!(
        took < std::time::Duration::from_secs(2),
        "ten orders with a pool of two took {took:?}: connections are held through the work"
    );
}

/// A lock protects only against those who take it: with `postgres` on one
/// instance (fencing off) and `atomic` on the other, an atomic order that
/// lands inside a postgres holder's section is overwritten by its write.
/// The audit sees the pair — atomic's one statement is recorded as an
/// instant — and says that its two orders ran under different backends.
#[tokio::test]
async fn two_instances_on_different_backends_overlap_and_the_audit_says_so() {
    let (locked, atomic) = (spawn_app().await, spawn_app().await);
    locked.use_backend(Backend::Postgres, 600).await;
    locked
        .set_lock(LockSettingsUpdate {
            fencing: Some(false),
            ..Default::default()
        })
        .await;
    atomic.use_backend(Backend::Atomic, 0).await;
    let sku = unique_sku();
    locked.reset(&sku, 10).await;

    let holder = locked.order_in_background(&sku, 1);
    wait_until_an_order_holds_the_lock(&database().await, &sku).await;
    assert_eq!(atomic.order(&sku, 1).await.status(), StatusCode::CREATED);
    assert_eq!(holder.await.unwrap().unwrap().status(), StatusCode::CREATED);

    let audit = locked.audit(&sku).await;
    assert_eq!(
        (
            audit.orders,
            audit.overlapping_holds,
            audit.overlapping_across_backends,
            audit.consistent
        ),
        (2, 1, 1, false),
        "the atomic order's update was lost under the postgres holder's write: {audit:?}"
    );
}
