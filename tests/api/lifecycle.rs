//! Orders that outlive their circumstances: a client that hangs up, a
//! server that is asked to stop. Neither may lose an order or leave a lock
//! held until its TTL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, LockSettingsUpdate};

use crate::helpers::{database, spawn_app, unique_sku, wait_until_an_order_holds_the_lock};

#[tokio::test]
async fn an_order_whose_client_hangs_up_completes_and_releases_its_lock() {
    let app = spawn_app().await;
    // Redis: a lock left behind would block the next buyer for its TTL.
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::Redis),
        critical_section_ms: Some(600),
        ttl_ms: Some(20_000),
        acquire_timeout_ms: Some(30_000),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let hung_up = app
        .client
        .post(app.url("/orders"))
        .json(&json!({ "sku": sku, "quantity": 1 }))
        .timeout(Duration::from_millis(250))
        .send()
        .await;
    assert!(hung_up.is_err(), "the client was meant to give up first");

    let started = Instant::now();
    let next = app.order(&sku, 1).await;
    assert_eq!(next.status(), StatusCode::CREATED);
    // 600 ms for the abandoned order, 600 ms for this one; a lock leaked
    // until its TTL (20 s here) would show.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    let audit = app.audit(&sku).await;
    assert_eq!(
        (audit.orders, audit.stock, audit.consistent),
        (2, 3, true),
        "{audit:?}"
    );
}

/// A drain (and a shutdown, which waits the same way) waits for orders to
/// end, not for what outlives them by design: etcd's session keeps its
/// lease alive for as long as the instance runs.
#[tokio::test]
async fn a_drain_after_etcd_orders_does_not_wait_for_the_session() {
    let app = spawn_app().await;
    app.use_backend(Backend::Etcd, 0).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    assert_eq!(app.order(&sku, 1).await.status(), StatusCode::CREATED);
    let drained = app.drain().await;
    assert_eq!(
        drained.status(),
        StatusCode::OK,
        "{}",
        drained.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn a_shutdown_lets_orders_in_flight_finish() {
    let mut app = spawn_app().await;
    app.use_backend(Backend::Postgres, 1_000).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    let (client, url, db) = (app.client.clone(), app.url("/orders"), database().await);
    let locked_sku = sku.clone();

    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({ "sku": sku, "quantity": 1 }))
            .send()
            .await
    });
    wait_until_an_order_holds_the_lock(&db, &locked_sku).await;
    app.shut_down();

    let response = in_flight.await.unwrap().expect("the order in flight was cut off");
    assert_eq!(response.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.client.get(app.url("/health")).send().await.is_err(),
        "the server still accepts requests after shutting down"
    );
}
