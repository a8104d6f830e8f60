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
use stocklock_api::{ErrorBody, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, Order, PlaceOrder};

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
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = PlaceOrder,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = r"^[ -~]{1,255}$",
        description = "Makes the order safe to retry: a retry with the same key and body gets the first order back")),
    responses(
        (status = 201, description = "The order was recorded (or, for a retry, had been)", body = Order,
            headers(("Idempotent-Replayed" = String, description = "`true` when a retry is answered with its first order"))),
        (status = 404, description = "`product_not_found`, before any lock is taken", body = ErrorBody),
        (status = 409, description = "`out_of_stock`, `lock_lost`: nothing was changed", body = ErrorBody),
        (status = 422, description = "`invalid_sku`, `invalid_quantity`, `invalid_idempotency_key`, `idempotency_key_reused`", body = ErrorBody),
        (status = 503, description = "`overloaded`, `lock_unavailable`, `switch_in_progress`, `database_unavailable`, `commit_outcome_unknown`", body = ErrorBody),
    ))]
pub(super) async fn place_order(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, [(&'static str, &'static str); 1], Json<Order>), Error> {
    let sku = Sku::parse(&body.sku)?;
    let quantity = Quantity::parse(body.quantity)?;
    let key = match headers.get(IDEMPOTENCY_KEY_HEADER) {
        Some(value) => Some(IdempotencyKey::parse(value.to_str().unwrap_or_default())?),
        None => None,
    };
    let placed = order::place_order(state, sku, quantity, key).await?;
    let replayed = if placed.replayed { "true" } else { "false" };
    Ok((
        StatusCode::CREATED,
        [(IDEMPOTENT_REPLAYED_HEADER, replayed)],
        Json(placed.order),
    ))
}
