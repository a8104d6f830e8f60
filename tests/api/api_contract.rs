//! The HTTP contract: paths, fields and status codes, and that every bad
//! input is refused with a JSON error that names the problem *and changes
//! nothing*.

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, Health, LockSettings, Order, Product};

use crate::helpers::{error_code, spawn_app, unique_sku};

#[tokio::test]
async fn health_reports_ok_once_postgres_answers() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
}

#[tokio::test]
async fn a_reset_product_can_be_read_back() {
    let app = spawn_app().await;
    let sku = unique_sku();
    let response = app
        .put(&format!("/admin/products/{sku}"), &json!({ "stock": 7 }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let product: Product = app.get(&format!("/products/{sku}")).await.json().await.unwrap();
    assert_eq!(product, Product { sku, stock: 7 });
}

#[tokio::test]
async fn an_order_is_created_recorded_and_audited() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;

    let response = app.order(&sku, 2).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Order = response.json().await.unwrap();
    assert_eq!(
        (order.sku.as_str(), order.quantity, order.remaining),
        (sku.as_str(), 2, 3)
    );
    assert_eq!(order.lock_backend, app.lock_settings().await.backend);

    let audit = app.audit(&sku).await;
    assert_eq!(
        (audit.initial_stock, audit.stock, audit.sold, audit.orders),
        (5, 3, 2, 1)
    );
    assert_eq!((audit.oversold, audit.consistent), (0, true));
}

#[tokio::test]
async fn a_reset_deletes_the_products_orders() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    assert_eq!(app.order(&sku, 1).await.status(), StatusCode::CREATED);
    app.reset(&sku, 9).await;
    let audit = app.audit(&sku).await;
    assert_eq!(
        (audit.initial_stock, audit.stock, audit.sold, audit.orders),
        (9, 9, 0, 0)
    );
}

#[tokio::test]
async fn an_order_beyond_the_stock_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 2).await;
    for backend in Backend::CLASSIC {
        app.use_backend(backend, 0).await;
        let code = error_code(app.order(&sku, 3).await, StatusCode::CONFLICT).await;
        assert_eq!(code, "out_of_stock", "{backend}");
    }
    let audit = app.audit(&sku).await;
    assert_eq!((audit.stock, audit.orders), (2, 0));
}

#[tokio::test]
async fn an_order_for_an_unknown_sku_is_404_under_every_backend() {
    let app = spawn_app().await;
    for backend in Backend::CLASSIC {
        app.use_backend(backend, 0).await;
        let code = error_code(app.order(&unique_sku(), 1).await, StatusCode::NOT_FOUND).await;
        assert_eq!(code, "product_not_found", "{backend}");
    }
}

/// Refused before any lock: a stream of made-up SKUs leaves no key in
/// Redis or etcd (nor a mutex in the instance) behind.
#[tokio::test]
async fn orders_for_unknown_skus_leave_no_lock_state_behind() {
    let app = spawn_app().await;
    let marker = unique_sku();
    for backend in [Backend::Redis, Backend::Etcd] {
        app.use_backend(backend, 0).await;
        for n in 0..20 {
            let response = app.order(&format!("{marker}-{n}"), 1).await;
            assert_eq!(
                error_code(response, StatusCode::NOT_FOUND).await,
                "product_not_found"
            );
        }
    }
    let config = stocklock::config::Config::defaults();
    let redis = ::redis::Client::open(config.redis_url).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("*{marker}*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(keys.is_empty(), "Redis keys left by unknown SKUs: {keys:?}");
    let mut etcd = etcd_client::Client::connect(config.etcd_endpoints, None)
        .await
        .unwrap();
    let all = etcd_client::GetOptions::new().with_all_keys().with_keys_only();
    let left: Vec<String> = etcd
        .get("", Some(all))
        .await
        .unwrap()
        .kvs()
        .iter()
        .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
        .filter(|key| key.contains(&marker))
        .collect();
    assert!(left.is_empty(), "etcd keys left by unknown SKUs: {left:?}");
}

#[tokio::test]
async fn unknown_products_and_routes_are_404_in_json() {
    let app = spawn_app().await;
    let sku = unique_sku();
    let code = error_code(app.get(&format!("/products/{sku}")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "product_not_found");
    let code = error_code(
        app.get(&format!("/admin/audit/{sku}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "product_not_found");
    let code = error_code(app.get("/no/such/route").await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "route_not_found");
    let response = app.client.delete(app.url("/orders")).send().await.unwrap();
    assert_eq!(
        error_code(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn bad_orders_are_422_naming_the_problem_and_change_nothing() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    let cases = [
        (
            json!({ "sku": sku, "quantity": 0 }),
            "invalid_quantity",
            "quantity",
        ),
        (
            json!({ "sku": sku, "quantity": -3 }),
            "invalid_quantity",
            "quantity",
        ),
        (
            json!({ "sku": sku, "quantity": 10_001 }),
            "invalid_quantity",
            "quantity",
        ),
        (
            json!({ "sku": sku, "quantity": 1e30 }),
            "invalid_body",
            "quantity",
        ),
        (json!({ "sku": sku }), "invalid_body", "quantity"),
        (json!({ "quantity": 1 }), "invalid_body", "sku"),
        (
            json!({ "sku": sku, "quantity": "two" }),
            "invalid_body",
            "quantity",
        ),
        (json!({ "sku": 42, "quantity": 1 }), "invalid_body", "sku"),
        (json!({ "sku": "", "quantity": 1 }), "invalid_sku", "sku"),
        (json!({ "sku": "a b", "quantity": 1 }), "invalid_sku", "sku"),
        (
            json!({ "sku": "x".repeat(65), "quantity": 1 }),
            "invalid_sku",
            "sku",
        ),
        (
            json!({ "sku": sku, "quantity": 1, "coupon": "FREE" }),
            "invalid_body",
            "coupon",
        ),
        (json!({ "sku": "..", "quantity": 1 }), "invalid_sku", "sku"),
        (json!({ "sku": ".", "quantity": 1 }), "invalid_sku", "sku"),
        (json!([1, 2]), "invalid_body", "object"),
        // serde would read a struct from an array: an order in disguise.
        (json!([sku, 1]), "invalid_body", "object"),
    ];
    for (body, expected_code, named) in cases {
        let response = app.post_order(&body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: stocklock_api::ErrorBody = response.json().await.unwrap();
        assert_eq!(error.error.as_str(), expected_code, "{body}");
        assert!(error.message.contains(named), "{body}: {}", error.message);
    }

    let malformed = app
        .client
        .post(app.url("/orders"))
        .header("content-type", "application/json")
        .body(r#"{"sku": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(malformed, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_body"
    );

    let not_json = app
        .client
        .post(app.url("/orders"))
        .body("sku=a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );

    let audit = app.audit(&sku).await;
    assert_eq!((audit.stock, audit.orders), (5, 0));
}

#[tokio::test]
async fn an_oversized_body_is_413_and_changes_nothing() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    let padding = "x".repeat(3 * 1024 * 1024);
    let body = json!({ "sku": sku, "quantity": 1, "padding": padding });
    let code = error_code(app.post_order(&body).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(code, "payload_too_large");
    assert_eq!(app.audit(&sku).await.stock, 5);
}

#[tokio::test]
async fn lock_settings_sent_as_an_array_are_refused() {
    let app = spawn_app().await;
    let before = app.lock_settings().await;
    let code = error_code(
        app.put("/admin/lock", &json!(["none"])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_body");
    assert_eq!(app.lock_settings().await, before);
}

#[tokio::test]
async fn bad_resets_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    let path = format!("/admin/products/{sku}");
    let cases = [
        (path.clone(), json!({ "stock": -1 }), "invalid_stock"),
        (path.clone(), json!({ "stock": "many" }), "invalid_body"),
        (path.clone(), json!({}), "invalid_body"),
        (
            "/admin/products/a%20b".to_owned(),
            json!({ "stock": 1 }),
            "invalid_sku",
        ),
        (
            format!("/admin/products/{}", "x".repeat(65)),
            json!({ "stock": 1 }),
            "invalid_sku",
        ),
        (
            "/admin/products/%C3%BC".to_owned(),
            json!({ "stock": 1 }),
            "invalid_sku",
        ),
    ];
    for (path, body, expected_code) in cases {
        let code = error_code(app.put(&path, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, expected_code, "{path} {body}");
    }
    assert_eq!(app.audit(&sku).await.stock, 5);
}

#[tokio::test]
async fn lock_settings_can_be_read_and_changed() {
    let app = spawn_app().await;
    let settings = app.lock_settings().await;
    assert_eq!(settings.available, Backend::CLASSIC.to_vec());

    let response = app
        .put(
            "/admin/lock",
            &json!({ "backend": "etcd", "ttl_ms": 4000, "critical_section_ms": 15 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: LockSettings = response.json().await.unwrap();
    assert_eq!(
        (changed.backend, changed.ttl_ms, changed.critical_section_ms),
        (Backend::Etcd, 4000, 15)
    );
    assert_eq!(changed.acquire_timeout_ms, settings.acquire_timeout_ms);
    assert_eq!(app.lock_settings().await, changed);
}

#[tokio::test]
async fn the_settings_a_get_returns_can_be_put_back() {
    let app = spawn_app().await;
    let mut settings = serde_json::to_value(app.lock_settings().await).unwrap();
    settings["backend"] = json!("postgres");
    let response = app.put("/admin/lock", &settings).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.lock_settings().await.backend, Backend::Postgres);
}

#[tokio::test]
async fn bad_lock_settings_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.lock_settings().await;
    let cases = [
        (json!({ "backend": "zookeeper" }), "backend"),
        (json!({ "backend": "redis", "ttl_ms": 0 }), "ttl_ms"),
        (json!({ "acquire_timeout_ms": 0 }), "acquire_timeout_ms"),
        (json!({ "critical_section_ms": -5 }), "critical_section_ms"),
        (json!({ "critical_section_ms": 3_600_000 }), "critical_section_ms"),
        (json!({ "colour": "blue" }), "colour"),
    ];
    for (body, named) in cases {
        let response = app.put("/admin/lock", &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: stocklock_api::ErrorBody = response.json().await.unwrap();
        assert!(error.message.contains(named), "{body}: {}", error.message);
    }
    assert_eq!(app.lock_settings().await, before);
}
