//! Switching the backend at runtime: safe within an instance.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use stocklock_api::{Backend, LockSettingsUpdate};

use crate::helpers::{buy_concurrently, spawn_app, unique_sku};

#[tokio::test]
async fn switching_backends_under_load_never_oversells() {
    let app = spawn_app().await;
    app.use_backend(Backend::Redis, 5).await;
    let sku = unique_sku();
    app.reset(&sku, 40).await;

    let apps = [&app];
    let load = buy_concurrently(&apps, &sku, 120);
    let switches = async {
        for backend in [
            Backend::Etcd,
            Backend::Postgres,
            Backend::Local,
            Backend::Atomic,
            Backend::Redis,
        ] {
            tokio::time::sleep(Duration::from_millis(40)).await;
            app.use_backend(backend, 5).await;
        }
    };
    let (tally, ()) = tokio::join!(load, switches);

    let audit = app.audit(&sku).await;
    assert_eq!((tally.other, tally.unavailable), (0, 0), "{tally:?}");
    assert_eq!(audit.orders, tally.created, "{tally:?} {audit:?}");
    assert_eq!(
        (audit.sold, audit.oversold, audit.consistent),
        (40, 0, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_switch_waits_for_orders_in_flight() {
    let app = spawn_app().await;
    app.use_backend(Backend::Local, 1_500).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let order = app.order(&sku, 1);
    let switch = async {
        // Long enough for the order to be pinned, even on a loaded machine.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let settings = app
            .set_lock(LockSettingsUpdate {
                backend: Some(Backend::None),
                ..Default::default()
            })
            .await;
        (settings, started.elapsed())
    };
    let (order, (settings, switch_took)) = tokio::join!(order, switch);

    assert_eq!(order.status(), StatusCode::CREATED);
    let order: stocklock_api::Order = order.json().await.unwrap();
    assert_eq!(
        order.lock_backend,
        Backend::Local,
        "the order must finish under the backend it started with"
    );
    assert_eq!(settings.backend, Backend::None);
    assert!(
        switch_took >= Duration::from_millis(800),
        "the switch did not wait for the order in flight: {switch_took:?}"
    );
}

#[tokio::test]
async fn a_bad_switch_is_refused_at_once_even_with_orders_in_flight() {
    let app = spawn_app().await;
    app.use_backend(Backend::Local, 1_500).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let order = app.order(&sku, 1);
    let bad_switch = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let response = app.put("/admin/lock", &serde_json::json!({ "ttl_ms": 0 })).await;
        (response.status(), started.elapsed())
    };
    let (order, (status, took)) = tokio::join!(order, bad_switch);

    assert_eq!(order.status(), StatusCode::CREATED);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        took < Duration::from_millis(700),
        "the refusal waited for the order: {took:?}"
    );
}
