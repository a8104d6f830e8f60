//! `POST /orders`: validate, then hand over to [`crate::orders`].
//! `POST /admin/drain`: wait until the orders in flight have finished.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use stocklock_api::{Drained, Order, PlaceOrder};

use super::extract::ApiJson;
use crate::domain::{Quantity, Sku};
use crate::error::Error;
use crate::orders;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orders", post(place_order))
        .route("/admin/drain", post(drain))
}

async fn place_order(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, Json<Order>), Error> {
    let sku = Sku::parse(&body.sku)?;
    let quantity = Quantity::parse(body.quantity)?;
    let order = orders::place_order(state, sku, quantity).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

async fn drain(State(state): State<Arc<AppState>>) -> Result<Json<Drained>, Error> {
    Ok(Json(orders::drain(&state, orders::DRAIN_LIMIT).await?))
}
