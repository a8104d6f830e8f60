//! `GET /openapi.json`: the API's contract as an OpenAPI 3.1 document,
//! generated from the handlers' own annotations and the `api` crate's types,
//! so it cannot drift from the code the way a hand-written file would.
//!
//! Each handler lists the answers it gives itself. The answers of the layers
//! around every handler — the `Host` check, the admin token, the JSON body
//! extractor — are added here, once, by [`AroundHandlers`], just as those
//! layers are written once. `.ci/run` fuzzes a live instance against this
//! document with schemathesis (`scripts/fuzz-api`); `docs/api.md` is the
//! prose for people.

use std::sync::{Arc, LazyLock};

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{drain, faults, health, lock_settings, metrics, orders, products};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stocklock",
        description = "A stock service that deducts inventory under a runtime-switchable lock. \
            Every error is `{\"error\": \"<code>\", \"message\": \"<text>\"}`; docs/api.md explains the codes."
    ),
    paths(
        health::health,
        orders::place_order,
        products::product,
        products::reset_product,
        products::empty_sku,
        products::audit,
        products::orders,
        products::ledger,
        lock_settings::settings,
        lock_settings::update,
        faults::faults,
        faults::replace,
        drain::drain,
        metrics::metrics,
        openapi_json,
    ),
    modifiers(&AroundHandlers),
    tags(
        (name = "orders", description = "What buyers call"),
        (name = "admin", description = "What the workshop's operator calls; a bearer token when `ADMIN_TOKEN` is set"),
        (name = "service", description = "Health, metrics and this document"),
    )
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
    &DOCUMENT
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}

/// Adds the answers of the layers every handler sits behind.
struct AroundHandlers;

const ADMIN_TOKEN: &str = "admin_token";

impl Modify for AroundHandlers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let admin = path.starts_with("/admin/");
            let operations = [&mut item.get, &mut item.put, &mut item.post];
            for operation in operations.into_iter().flatten() {
                around_one(operation, admin);
            }
        }
    }
}

fn around_one(operation: &mut Operation, admin: bool) {
    add(
        operation,
        "403",
        "`host_not_allowed`: the `Host` is not this service's (DNS rebinding)",
    );
    if admin {
        add(
            operation,
            "401",
            "`unauthorized`: the bearer token is missing or wrong; nothing was changed",
        );
        operation.security = Some(vec![SecurityRequirement::new(ADMIN_TOKEN, Vec::<String>::new())]);
    }
    if operation.request_body.is_some() {
        add(
            operation,
            "413",
            "`payload_too_large`: the body is larger than 2 MiB",
        );
        add(
            operation,
            "415",
            "`unsupported_media_type`: the body is not declared as JSON",
        );
        add(
            operation,
            "422",
            "`invalid_body`: not a JSON object, or a missing, unknown or mistyped field",
        );
    }
}

/// Adds an error answer, or names one more cause of an answer already there.
fn add(operation: &mut Operation, status: &str, description: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => response.description = format!("{}; {description}", response.description),
        _ => {
            responses.insert(status.to_owned(), RefOr::T(error_response(description)));
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
