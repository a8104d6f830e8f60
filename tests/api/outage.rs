//! Losing a lock server: orders get a clear 503 and change nothing, and the
//! service recovers by itself when the server comes back.
//!
//! Each test runs a Redis or etcd of its own on a free port, so stopping it
//! does not disturb the shared servers other tests are using.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use stocklock_api::Backend;

use crate::helpers::{TestApp, error_code, port_for_child, spawn_app_with, unique_sku};
use crate::servers::{OwnServer, start_etcd, start_etcd_in, start_redis};

/// Orders until one gets `status` (within 20 s); returns how many were 201.
async fn order_until(app: &TestApp, sku: &str, status: StatusCode) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut created = 0;
    loop {
        let response = app.order(sku, 1).await;
        let got = response.status();
        created += i64::from(got == StatusCode::CREATED);
        if got == status {
            return created;
        }
        assert!(
            got == StatusCode::CREATED || got == StatusCode::SERVICE_UNAVAILABLE,
            "unexpected {got}"
        );
        assert!(Instant::now() < deadline, "never got {status}; last was {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Down at start → 503 and nothing changed; up → 201; down again → 503;
/// up again → 201.
async fn outage_and_recovery(app: TestApp, backend: Backend, start_server: impl Fn() -> OwnServer) {
    app.use_backend(backend, 0).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;

    let code = error_code(app.order(&sku, 1).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(code, "lock_unavailable");
    let audit = app.audit(&sku).await;
    assert_eq!((audit.stock, audit.orders), (100, 0), "a 503 changed the ledger");

    let server = start_server();
    let mut created = order_until(&app, &sku, StatusCode::CREATED).await;
    drop(server);
    created += order_until(&app, &sku, StatusCode::SERVICE_UNAVAILABLE).await;
    // Lost while connected, then back: the client must reconnect by itself.
    let server = start_server();
    created += order_until(&app, &sku, StatusCode::CREATED).await;
    drop(server);

    let audit = app.audit(&sku).await;
    assert_eq!(audit.orders, created, "clients and ledger disagree: {audit:?}");
    assert_eq!(
        (audit.stock, audit.consistent),
        (100 - created, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_lost_redis_gives_503s_and_the_service_recovers() {
    let port = port_for_child();
    let app = spawn_app_with(|config| config.redis_url = format!("redis://127.0.0.1:{port}")).await;
    outage_and_recovery(app, Backend::Redis, || start_redis(port)).await;
}

#[tokio::test]
async fn a_lost_etcd_gives_503s_and_the_service_recovers() {
    let port = port_for_child();
    let peer_port = std::iter::repeat_with(port_for_child)
        .find(|&p| p != port)
        .expect("a second port");
    let app = spawn_app_with(|config| config.etcd_endpoints = vec![format!("http://127.0.0.1:{port}")]).await;
    outage_and_recovery(app, Backend::Etcd, || start_etcd(port, peer_port)).await;
}

/// How a burst of buyers fared while their lock server was killed and
/// restarted under them.
#[derive(Debug, Default)]
struct Fared {
    created: i64,
    unavailable: i64,
    lock_lost: i64,
    created_after_restart: i64,
}

/// Buyers order one unit at a time until `stop`; `restarted` tells them
/// when the server is back, so recovery can be counted.
async fn buy_through_an_outage(
    app: &TestApp,
    sku: &str,
    stop: Arc<AtomicBool>,
    restarted: Arc<AtomicBool>,
) -> Fared {
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, sku) = (app.client.clone(), app.url("/orders"), sku.to_owned());
        let (stop, restarted) = (stop.clone(), restarted.clone());
        buyers.spawn(async move {
            let mut fared = Fared::default();
            while !stop.load(Ordering::SeqCst) {
                let after_restart = restarted.load(Ordering::SeqCst);
                let body = serde_json::json!({ "sku": sku, "quantity": 1 });
                let response = client.post(&url).json(&body).send().await.expect("an answer");
                let (status, text) = (response.status(), response.text().await.unwrap_or_default());
                match status {
                    StatusCode::CREATED => {
                        fared.created += 1;
                        fared.created_after_restart += i64::from(after_restart);
                    }
                    StatusCode::SERVICE_UNAVAILABLE => fared.unavailable += 1,
                    StatusCode::CONFLICT if text.contains("lock_lost") => fared.lock_lost += 1,
                    other => panic!("unexpected {other}: {text}"),
                }
            }
            fared
        });
    }
    let mut all = Fared::default();
    for fared in buyers.join_all().await {
        all.created += fared.created;
        all.unavailable += fared.unavailable;
        all.lock_lost += fared.lock_lost;
        all.created_after_restart += fared.created_after_restart;
    }
    all
}

/// How long to keep buying after the server is back.
struct Outage {
    down_for: Duration,
    then_buy_for: Duration,
}

/// Buys through a crash of `server` (SIGKILL) and its `restart` (given its
/// data directory, if it keeps one), fenced; returns how the buyers fared
/// and checks that no order was lost or doubled, nothing was oversold and
/// nobody held the lock at once.
async fn buy_through_a_crash(
    app: &TestApp,
    server: OwnServer,
    restart: impl FnOnce(Option<PathBuf>) -> OwnServer,
    outage: Outage,
) -> Fared {
    let sku = unique_sku();
    app.reset(&sku, 1_000).await;
    order_until(app, &sku, StatusCode::CREATED).await;

    let (stop, restarted) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let load = buy_through_an_outage(app, &sku, stop.clone(), restarted.clone());
    let faults = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let data = server.crash();
        tokio::time::sleep(outage.down_for).await;
        let server = restart(data);
        restarted.store(true, Ordering::SeqCst);
        tokio::time::sleep(outage.then_buy_for).await;
        stop.store(true, Ordering::SeqCst);
        server
    };
    let (fared, _server) = tokio::join!(load, faults);

    let audit = app.audit(&sku).await;
    assert!(
        fared.unavailable > 0,
        "no 503 while the server was down: {fared:?}"
    );
    assert!(
        fared.created_after_restart > 0,
        "no sale after the server came back: {fared:?}"
    );
    // One order before the load started (the warm-up).
    assert_eq!(audit.orders, fared.created + 1, "{fared:?} {audit:?}");
    assert_eq!(
        (audit.oversold, audit.overlapping_holds, audit.consistent),
        (0, 0, true),
        "{fared:?} {audit:?}"
    );
    fared
}

async fn fenced(app: &TestApp, backend: Backend, ttl_ms: u64) {
    app.set_lock(stocklock_api::LockSettingsUpdate {
        backend: Some(backend),
        ttl_ms: Some(ttl_ms),
        critical_section_ms: Some(30),
        acquire_timeout_ms: Some(500),
        fencing: Some(true),
        ..Default::default()
    })
    .await;
}

/// Redis killed (SIGKILL) mid-load and restarted empty — every lock it held
/// forgotten, its fencing counter back at 1 — with fencing on: 503s while it
/// is down, no oversell and no lost order through it, sales again after.
#[tokio::test]
async fn a_redis_killed_mid_load_loses_no_order_oversells_nothing_and_recovers_when_fenced() {
    let port = port_for_child();
    let app = spawn_app_with(|config| config.redis_url = format!("redis://127.0.0.1:{port}")).await;
    fenced(&app, Backend::Redis, 5_000).await;
    let outage = Outage {
        down_for: Duration::from_millis(800),
        then_buy_for: Duration::from_secs(2),
    };
    let fared = buy_through_a_crash(&app, start_redis(port), |_| start_redis(port), outage).await;
    // The restarted Redis counts tokens from 1 again, below the last one
    // PostgreSQL saw: only a new epoch keeps fresh holders from being refused.
    assert_eq!(
        fared.lock_lost, 0,
        "fresh holders were fenced out after the restart: {fared:?}"
    );
}

/// etcd killed mid-load and restarted *with* its data: it restores the
/// instance's old session lease with a full TTL, so the locks held at the
/// crash stay held for about one TTL (2 s, etcd's minimum) while the instance
/// starts a new session; then sales resume. Nothing oversold, nothing lost.
#[tokio::test]
async fn an_etcd_killed_mid_load_and_restarted_with_its_data_recovers_within_a_ttl() {
    let port = port_for_child();
    let peer_port = std::iter::repeat_with(port_for_child)
        .find(|&p| p != port)
        .expect("a second port");
    let app = spawn_app_with(|config| config.etcd_endpoints = vec![format!("http://127.0.0.1:{port}")]).await;
    fenced(&app, Backend::Etcd, 2_000).await;
    let outage = Outage {
        down_for: Duration::from_millis(800),
        then_buy_for: Duration::from_secs(6),
    };
    let restart = |data: Option<PathBuf>| start_etcd_in(data.expect("etcd's data"), port, peer_port);
    buy_through_a_crash(&app, start_etcd(port, peer_port), restart, outage).await;
}
