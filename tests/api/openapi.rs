//! The published contract, `GET /openapi.json`: it names every route the
//! router serves, every route it names is served, and its bounds are the
//! service's own. (That every answer matches it is checked by fuzzing a live
//! instance: `scripts/fuzz-api`.)

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use stocklock::domain::{MAX_QUANTITY, MAX_SKU_LEN, MAX_STOCK};

use crate::helpers::spawn_app;

/// `(METHOD, path)` of every `.route("path", get(..).put(..))` in
/// `src/http/`, read from the source: what the router serves.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in source.split(".route(\"").skip(1) {
            let (path, rest) = call.split_once('"').unwrap();
            let handlers = &rest[..rest.find(")\n").unwrap_or(rest.len())];
            for method in ["get", "put", "post", "delete", "patch"] {
                let called =
                    handlers.contains(&format!(" {method}(")) || handlers.contains(&format!(".{method}("));
                if called {
                    routes.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

fn routes_in_document(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            methods.map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_names_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let served = routes_in_source();
    assert!(
        served.len() >= 13,
        "the source scan found too few routes: {served:?}"
    );
    assert_eq!(routes_in_document(&document), served);
}

#[tokio::test]
async fn every_route_in_the_document_is_answered_by_its_handler() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (method, path) in routes_in_document(&document) {
        let url = app.url(&path.replace("{sku}", "no-such-sku"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.client.request(method.clone(), &url).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        let error = serde_json::from_str::<Value>(&body)
            .ok()
            .map(|json| json["error"].clone());
        assert!(
            error != Some(Value::from("route_not_found")) && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status} {error:?}"
        );
    }
}

#[tokio::test]
async fn the_documented_bounds_are_the_services_own() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schemas = &document["components"]["schemas"];
    let order = &schemas["PlaceOrder"]["properties"];
    assert_eq!(order["quantity"]["maximum"], MAX_QUANTITY);
    assert_eq!(order["sku"]["maxLength"], MAX_SKU_LEN);
    assert_eq!(
        schemas["ResetProduct"]["properties"]["stock"]["maximum"],
        MAX_STOCK
    );
}
