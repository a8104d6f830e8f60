//! The HTTP API. Each route module exports its own `router()`; this file
//! merges them, adds the request span, and answers unknown routes in the
//! same JSON error shape as everything else.
//!
//! Handlers are thin: parse and validate ([`crate::domain`]), call one
//! function, wrap the result. Errors go through [`error`], the one place
//! where an [`crate::error::Error`] becomes a status code.

mod access;
mod drain;
pub mod error;
mod extract;
mod faults;
mod health;
mod lock_settings;
mod metrics;
pub mod openapi;
mod orders;
mod products;
pub mod serve;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::Uri;
use axum::middleware;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::state::AppState;

/// The whole application, ready to serve or to drive from a test. A body
/// that has not arrived within `body_timeout` fails its request.
pub fn app(state: Arc<AppState>, body_timeout: Duration) -> Router {
    Router::new()
        .merge(health::router())
        .merge(products::router())
        .merge(orders::router(state.clone()))
        .merge(drain::router())
        .merge(faults::router())
        .merge(lock_settings::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .fallback(|uri: Uri| async move { Error::RouteNotFound(uri.path().to_owned()) })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), access::check))
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// One span per request, named by the *matched* route (`/products/{sku}`),
/// not the raw path, so logs group by endpoint rather than by SKU.
fn request_span(request: &Request) -> tracing::Span {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), path)
}
