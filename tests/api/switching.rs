//! Switching the backend at runtime: safe within an instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use stocklock_api::{Backend, LockSettingsUpdate, Order};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, database, spawn_app, unique_sku, wait_until_an_order_holds_the_lock};

/// Buyers that keep ordering one unit at a time until `stop` is set or the
/// SKU is sold out; returns how many orders were created, by backend.
async fn buy_until_stopped(
    app: &TestApp,
    sku: &str,
    buyers: usize,
    stop: Arc<AtomicBool>,
) -> HashMap<Backend, i64> {
    let mut tasks = JoinSet::new();
    for _ in 0..buyers {
        let (client, url, sku, stop) = (
            app.client.clone(),
            app.url("/orders"),
            sku.to_owned(),
            stop.clone(),
        );
        tasks.spawn(async move {
            let mut sold = HashMap::<Backend, i64>::new();
            while !stop.load(Ordering::Relaxed) {
                let body = serde_json::json!({ "sku": sku, "quantity": 1 });
                let response = client.post(&url).json(&body).send().await.expect("order request");
                match response.status() {
                    StatusCode::CREATED => {
                        let order: Order = response.json().await.expect("order body");
                        *sold.entry(order.lock_backend).or_default() += 1;
                    }
                    StatusCode::CONFLICT => break,
                    other => panic!(
                        "unexpected {other}: {}",
                        response.text().await.unwrap_or_default()
                    ),
                }
            }
            sold
        });
    }
    let mut sold = HashMap::new();
    for per_buyer in tasks.join_all().await {
        for (backend, count) in per_buyer {
            *sold.entry(backend).or_default() += count;
        }
    }
    sold
}

#[tokio::test]
async fn switching_backends_under_load_never_oversells() {
    let app = spawn_app().await;
    app.use_backend(Backend::Redis, 10).await;
    let sku = unique_sku();
    app.reset(&sku, 1_000).await;

    // Buyers flow across every switch: each switch finds orders in flight.
    let stop = Arc::new(AtomicBool::new(false));
    let load = buy_until_stopped(&app, &sku, 8, stop.clone());
    let switches = async {
        for backend in [
            Backend::Etcd,
            Backend::Postgres,
            Backend::Local,
            Backend::Atomic,
            Backend::Redis,
        ] {
            tokio::time::sleep(Duration::from_millis(250)).await;
            app.use_backend(backend, 10).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (sold, ()) = tokio::join!(load, switches);

    let audit = app.audit(&sku).await;
    let created: i64 = sold.values().sum();
    assert_eq!(audit.orders, created, "{sold:?} {audit:?}");
    assert_eq!((audit.oversold, audit.consistent), (0, true), "{audit:?}");
    // The ledger says which backend guarded each order: the load really
    // crossed the switches.
    let by_backend: Vec<(String, i64)> =
        sqlx::query_as("SELECT lock_backend, count(*) FROM orders WHERE sku = $1 GROUP BY 1")
            .bind(&sku)
            .fetch_all(&database().await)
            .await
            .expect("orders by backend");
    assert!(
        by_backend.len() >= 4,
        "orders sold under too few backends: {by_backend:?}"
    );
}

#[tokio::test]
async fn a_switch_waits_for_orders_in_flight() {
    let app = spawn_app().await;
    app.use_backend(Backend::Postgres, 1_500).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let order = app.order(&sku, 1);
    let switch = async {
        wait_until_an_order_holds_the_lock(&database().await, &sku).await;
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
    let order: Order = order.json().await.unwrap();
    assert_eq!(
        order.lock_backend,
        Backend::Postgres,
        "the order must finish under the backend it started with"
    );
    assert_eq!(settings.backend, Backend::None);
    assert!(
        switch_took >= Duration::from_millis(500),
        "the switch did not wait for the order in flight: {switch_took:?}"
    );
}

#[tokio::test]
async fn a_bad_switch_is_refused_at_once_even_with_orders_in_flight() {
    let app = spawn_app().await;
    app.use_backend(Backend::Postgres, 1_500).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let order = app.order(&sku, 1);
    let bad_switch = async {
        wait_until_an_order_holds_the_lock(&database().await, &sku).await;
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

/// While a switch waits for a long order, the settings still answer at
/// once, and a new order waits for the switch at most its acquire timeout,
/// then gets a 503 `switch_in_progress` that changed nothing.
#[tokio::test]
async fn a_waiting_switch_blocks_neither_reads_nor_new_orders_for_long() {
    let app = spawn_app().await;
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::Postgres),
        critical_section_ms: Some(3_000),
        acquire_timeout_ms: Some(300),
        ..Default::default()
    })
    .await;
    let (sku, other_sku) = (unique_sku(), unique_sku());
    app.reset(&sku, 5).await;
    app.reset(&other_sku, 5).await;

    let long_order = app.order(&sku, 1);
    let meanwhile = async {
        wait_until_an_order_holds_the_lock(&database().await, &sku).await;
        let switch = app.set_lock(LockSettingsUpdate {
            backend: Some(Backend::Atomic),
            ..Default::default()
        });
        let probes = async {
            // Give the switch time to reach its wait for the write guard
            // (a loopback request: milliseconds; the long order holds 3 s).
            tokio::time::sleep(Duration::from_millis(500)).await;
            let started = Instant::now();
            let settings = app.lock_settings().await;
            let read_took = started.elapsed();
            let started = Instant::now();
            let refused = app.order(&other_sku, 1).await;
            (
                settings,
                read_took,
                refused.status(),
                started.elapsed(),
                refused.text().await.unwrap(),
            )
        };
        tokio::join!(switch, probes).1
    };
    let (long_order, (settings, read_took, status, order_took, body)) = tokio::join!(long_order, meanwhile);

    assert_eq!(long_order.status(), StatusCode::CREATED);
    assert_eq!(
        settings.backend,
        Backend::Postgres,
        "the switch has not happened yet"
    );
    assert!(
        read_took < Duration::from_millis(500),
        "GET /admin/lock waited: {read_took:?}"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("switch_in_progress"), "{body}");
    assert!(
        order_took < Duration::from_millis(1_500),
        "the new order waited {order_took:?}"
    );
    assert_eq!(app.audit(&other_sku).await.orders, 0);
}
