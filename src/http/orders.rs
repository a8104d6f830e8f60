//! `POST /orders`: validate, then hand over to [`crate::order`].
//!
//! Each order request counts as in flight (a token of the service's task
//! tracker) from the moment its headers are parsed — before its body is
//! read, before its task is spawned — so `POST /admin/drain` cannot miss an
//! order that arrived just before it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use stocklock_api::{Order, PlaceOrder};

use super::extract::ApiJson;
use crate::domain::{IdempotencyKey, Quantity, Sku};
use crate::error::Error;
use crate::order;
use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/orders", post(place_order))
        .route_layer(middleware::from_fn_with_state(state, in_flight))
}

/// Holds a task-tracker token for the whole request.
async fn in_flight(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let _token = state.tasks.token();
    next.run(request).await
}

/// 201 with the order; a retry with the `Idempotency-Key` of a placed
/// order gets that order back, 201 too, marked `Idempotent-Replayed: true`.
async fn place_order(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, [(&'static str, &'static str); 1], Json<Order>), Error> {
    let sku = Sku::parse(&body.sku)?;
    let quantity = Quantity::parse(body.quantity)?;
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(IdempotencyKey::parse(value.to_str().unwrap_or_default())?),
        None => None,
    };
    let placed = order::place_order(state, sku, quantity, key).await?;
    let replayed = if placed.replayed { "true" } else { "false" };
    Ok((
        StatusCode::CREATED,
        [("idempotent-replayed", replayed)],
        Json(placed.order),
    ))
}
