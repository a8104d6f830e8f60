//! Prompt refusals under overload: past `MAX_ORDERS_IN_FLIGHT` an order is
//! 503 `overloaded` at once; an order that cannot get a pooled connection
//! is refused within its own acquire timeout, not the pool's 5 s; and
//! `/health`, on a pool of its own, answers meanwhile. Every refusal
//! changes nothing: the ledger holds exactly the 201s.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, LockSettingsUpdate};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, database, spawn_app_with, unique_sku};

/// Sends `count` orders at once; each answer's status, code and time.
async fn burst(app: &TestApp, sku: &str, count: usize) -> Vec<(StatusCode, String, Duration)> {
    let mut requests = JoinSet::new();
    for _ in 0..count {
        let (client, url) = (app.client.clone(), app.url("/orders"));
        let body = json!({ "sku": sku, "quantity": 1 });
        requests.spawn(async move {
            let started = Instant::now();
            let response = client.post(url).json(&body).send().await.expect("an answer");
            let status = response.status();
            (status, response.text().await.unwrap(), started.elapsed())
        });
    }
    requests.join_all().await
}

#[tokio::test]
async fn past_the_admission_bound_orders_are_refused_at_once() {
    let app = spawn_app_with(|config| config.max_orders_in_flight = 2).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;
    app.use_backend(Backend::None, 1_000).await;
    let answers = burst(&app, &sku, 8).await;
    let overloaded: Vec<_> = answers
        .iter()
        .filter(|(_, body, _)| body.contains("\"overloaded\""))
        .collect();
    let created = answers
        .iter()
        .filter(|(status, ..)| *status == StatusCode::CREATED)
        .count();
    assert!(!overloaded.is_empty(), "nothing was refused: {answers:?}");
    assert!(
        created >= 1 && created <= 2,
        "{created} admitted past a bound of 2"
    );
    for (status, _, took) in &overloaded {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            *took < Duration::from_millis(900),
            "a refusal waited {took:?} for a 1 s section"
        );
    }
    assert_eq!(app.audit(&sku).await.orders, created as i64);
}

#[tokio::test]
async fn an_order_without_a_connection_is_refused_within_its_acquire_timeout() {
    let app = spawn_app_with(|config| config.db_max_connections = 2).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;
    // Each order holds a connection for its 3 s section: with two, the
    // rest queue for the pool (and so would /health, on the same pool).
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::None),
        critical_section_ms: Some(3_000),
        acquire_timeout_ms: Some(300),
        ..Default::default()
    })
    .await;
    let load = burst(&app, &sku, 8);
    let health = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let status = app.get("/health").await.status();
        (status, started.elapsed())
    };
    let (answers, (health, health_took)) = tokio::join!(load, health);
    assert_eq!(health, StatusCode::OK, "health under load");
    assert!(
        health_took < Duration::from_secs(2),
        "health waited {health_took:?}"
    );
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, ..)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        refused.len() >= 5,
        "only {} of 8 refused: {answers:?}",
        refused.len()
    );
    for (_, body, took) in &refused {
        // The pool's own bound is 5 s; the order's acquire timeout is 0.3 s.
        assert!(*took < Duration::from_secs(2), "a refusal took {took:?}: {body}");
    }
    let created = answers
        .iter()
        .filter(|(status, ..)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(app.audit(&sku).await.orders, created as i64);
}

/// A waiter that gives up because its holder is stuck on the database says
/// so: the holder's UPDATE waits for a row lock another transaction keeps,
/// and the waiter's 503 names that stage, as does the timeout metric.
#[tokio::test]
async fn a_waiter_behind_a_holder_stuck_on_the_database_says_so() {
    let app = spawn_app_with(|_| {}).await;
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::Local),
        acquire_timeout_ms: Some(300),
        critical_section_ms: Some(0),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, 10).await;
    let db = database().await;
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM products WHERE sku = $1 FOR UPDATE")
        .bind(&sku)
        .execute(&mut *blocker)
        .await
        .unwrap();

    let holder = app.order_in_background(&sku, 1);
    // The holder's UPDATE is waiting for the row lock: observed, not slept on.
    let deadline = Instant::now() + Duration::from_secs(10);
    let blocker_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *blocker)
        .await
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))";
    while sqlx::query_scalar::<_, i64>(waiting)
        .bind(blocker_pid)
        .fetch_one(&db)
        .await
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the holder's write never waited for the row"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiter = app.order(&sku, 1).await;
    assert_eq!(waiter.status(), StatusCode::SERVICE_UNAVAILABLE);
    let message = waiter.text().await.unwrap();
    assert!(
        message.contains("its holder on this instance has been waiting for the database"),
        "{message}"
    );
    blocker.rollback().await.unwrap();
    assert_eq!(holder.await.unwrap().unwrap().status(), StatusCode::CREATED);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"stocklock_lock_timeouts_total{backend="local",holder="database"} 1"#),
        "{metrics}"
    );
}
