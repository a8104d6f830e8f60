//! Who may call: the admin token on `/admin/` routes, and the `Host`
//! allow-list on every route (DNS rebinding). Each refusal changes nothing.

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::Backend;

use crate::helpers::{error_code, spawn_app, spawn_app_with, unique_sku};

#[tokio::test]
async fn with_a_token_configured_admin_routes_need_it_and_orders_do_not() {
    let app = spawn_app_with(|config| config.admin_token = Some("workshop-token".to_owned())).await;
    let before = app.lock_settings_as(Some("workshop-token")).await;
    let switch = json!({ "backend": "none" });
    for token in [None, Some("wrong"), Some("workshop-tokenX")] {
        let mut request = app.client.put(app.url("/admin/lock")).json(&switch);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let challenge = response.headers().get("www-authenticate").cloned();
        assert_eq!(
            challenge.unwrap(),
            r#"Bearer realm="stocklock admin""#,
            "RFC 9110's challenge"
        );
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "unauthorized",
            "{token:?}"
        );
    }
    assert_eq!(app.lock_settings_as(Some("workshop-token")).await, before);

    let sku = unique_sku();
    let reset = app
        .client
        .put(app.url(&format!("/admin/products/{sku}")))
        .bearer_auth("workshop-token")
        .json(&json!({ "stock": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        app.order(&sku, 1).await.status(),
        StatusCode::CREATED,
        "orders need no token"
    );
}

#[tokio::test]
async fn without_a_token_the_service_refuses_a_network_address() {
    let mut config = stocklock::config::Config::defaults();
    config.host = "0.0.0.0".parse().unwrap();
    config.port = 0;
    let refused = stocklock::startup::Application::build(&config).await.err();
    let message = format!("{:#}", refused.expect("it started open to the network"));
    assert!(message.contains("ADMIN_TOKEN"), "{message}");
    // A blank token would admit `Authorization: Bearer `: refused anywhere.
    config.host = "127.0.0.1".parse().unwrap();
    config.admin_token = Some(" ".to_owned());
    let blank = stocklock::startup::Application::build(&config).await.err();
    assert!(blank.is_some(), "a blank token was taken for a token");
}

#[tokio::test]
async fn without_a_token_admin_routes_are_open_on_loopback() {
    let app = spawn_app().await;
    app.use_backend(Backend::None, 0).await;
    assert_eq!(app.lock_settings().await.backend, Backend::None);
}

#[tokio::test]
async fn a_host_that_is_not_an_address_or_allowed_name_is_refused() {
    let app = spawn_app_with(|config| config.allowed_hosts = vec!["stocklock-1".to_owned()]).await;
    let before = app.lock_settings().await;
    let rebinding = app
        .client
        .put(app.url("/admin/lock"))
        .header("host", "attacker.example")
        .json(&json!({ "backend": "none" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(rebinding, StatusCode::FORBIDDEN).await,
        "host_not_allowed"
    );
    assert_eq!(app.lock_settings().await, before);
    for host in ["localhost", "stocklock-1:8080", "127.0.0.1"] {
        let response = app
            .client
            .get(app.url("/health"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}
