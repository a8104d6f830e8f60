//! Orders that are safe to retry: the same `Idempotency-Key` and body is
//! one order, however often and wherever it is sent — decided by a unique
//! index in the order's own transaction, not by any instance's memory.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, Order};

use crate::helpers::{TestApp, error_code, spawn_app, unique_sku};

async fn order_with_key(app: &TestApp, key: &str, sku: &str, quantity: i64) -> reqwest::Response {
    app.client
        .post(app.url("/orders"))
        .header("idempotency-key", key)
        .json(&json!({ "sku": sku, "quantity": quantity }))
        .send()
        .await
        .expect("an answer")
}

/// An order whose client gives up before the answer (its section is
/// longer), while the order runs on.
async fn give_up_after_300_ms(app: &TestApp, key: &str, sku: &str, quantity: i64) {
    let gave_up = app
        .client
        .post(app.url("/orders"))
        .header("idempotency-key", key)
        .json(&json!({ "sku": sku, "quantity": quantity }))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client was meant to give up first");
}

/// The order, and whether the service says it replayed an earlier one.
async fn created(response: reqwest::Response) -> (Order, bool) {
    assert_eq!(response.status(), StatusCode::CREATED);
    let replayed = response.headers()["idempotent-replayed"] == "true";
    (response.json().await.unwrap(), replayed)
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_order_and_deducts_nothing() {
    let app = spawn_app().await;
    let (sku, key) = (unique_sku(), unique_sku());
    app.reset(&sku, 10).await;
    let (first, replayed) = created(order_with_key(&app, &key, &sku, 4).await).await;
    assert!(!replayed);
    let (retry, replayed) = created(order_with_key(&app, &key, &sku, 4).await).await;
    assert!(replayed, "the retry was not marked as a replay");
    assert_eq!(retry, first);
    let audit = app.audit(&sku).await;
    assert_eq!((audit.orders, audit.stock), (1, 6), "{audit:?}");
}

#[tokio::test]
async fn a_retry_after_a_client_timeout_while_the_first_runs_is_one_order() {
    let app = spawn_app().await;
    app.use_backend(Backend::Redis, 1_500).await;
    let (sku, key) = (unique_sku(), unique_sku());
    app.reset(&sku, 10).await;
    give_up_after_300_ms(&app, &key, &sku, 4).await;
    let (retry, _) = created(order_with_key(&app, &key, &sku, 4).await).await;
    let audit = app.audit(&sku).await;
    assert_eq!((audit.orders, audit.stock), (1, 6), "charged twice: {audit:?}");
    assert_eq!(retry.remaining, 6);
}

/// The first attempt takes the last units while its retry waits for the
/// lock: the retry finds the stock gone — and must answer with the order,
/// not with `out_of_stock` (the client would think nothing was placed).
#[tokio::test]
async fn a_retry_behind_its_first_attempt_for_the_last_units_gets_that_order() {
    let app = spawn_app().await;
    app.use_backend(Backend::Redis, 1_500).await;
    let (sku, key) = (unique_sku(), unique_sku());
    app.reset(&sku, 4).await;
    give_up_after_300_ms(&app, &key, &sku, 4).await;
    let (retry, replayed) = created(order_with_key(&app, &key, &sku, 4).await).await;
    assert!(replayed, "the retry was not answered with the first order");
    let audit = app.audit(&sku).await;
    assert_eq!((audit.orders, audit.stock), (1, 0), "{audit:?}");
    assert_eq!(retry.remaining, 0);
}

#[tokio::test]
async fn concurrent_duplicates_on_two_instances_are_one_order() {
    concurrent_duplicates_are_one_order(Backend::None, 300).await;
}

/// Under `batch` the duplicates can meet in one batch, or in two: the
/// batch that finds the key taken applies its orders one at a time.
#[tokio::test]
async fn concurrent_duplicates_under_batch_are_one_order() {
    concurrent_duplicates_are_one_order(Backend::Batch, 0).await;
}

async fn concurrent_duplicates_are_one_order(backend: Backend, critical_ms: u64) {
    let (one, two) = (spawn_app().await, spawn_app().await);
    // No lock at all: only the key keeps the two attempts from both selling.
    for app in [&one, &two] {
        app.use_backend(backend, critical_ms).await;
    }
    let (sku, key) = (unique_sku(), unique_sku());
    one.reset(&sku, 10).await;
    let (a, b) = tokio::join!(
        order_with_key(&one, &key, &sku, 3),
        order_with_key(&two, &key, &sku, 3)
    );
    let ((a, a_replayed), (b, b_replayed)) = (created(a).await, created(b).await);
    assert_eq!(a.order_id, b.order_id, "two orders for one key");
    assert!(a_replayed ^ b_replayed, "exactly one attempt placed the order");
    let audit = one.audit(&sku).await;
    assert_eq!(
        (audit.orders, audit.stock, audit.consistent),
        (1, 7, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_key_reused_for_another_order_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (sku, key) = (unique_sku(), unique_sku());
    app.reset(&sku, 10).await;
    created(order_with_key(&app, &key, &sku, 1).await).await;
    let reused = order_with_key(&app, &key, &sku, 2).await;
    assert_eq!(
        error_code(reused, StatusCode::UNPROCESSABLE_ENTITY).await,
        "idempotency_key_reused"
    );
    let bad = order_with_key(&app, &"k".repeat(256), &sku, 1).await;
    assert_eq!(
        error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_idempotency_key"
    );
    let audit = app.audit(&sku).await;
    assert_eq!((audit.orders, audit.stock), (1, 9));
}

#[tokio::test]
async fn a_reset_forgets_the_keys_of_the_products_orders() {
    let app = spawn_app().await;
    let (sku, key) = (unique_sku(), unique_sku());
    app.reset(&sku, 10).await;
    let (first, _) = created(order_with_key(&app, &key, &sku, 1).await).await;
    app.reset(&sku, 10).await;
    let (after, replayed) = created(order_with_key(&app, &key, &sku, 1).await).await;
    assert!(!replayed && after.order_id != first.order_id);
}
