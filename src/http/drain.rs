//! `POST /admin/drain`: wait until no order is in flight on this instance.
//! See [`crate::order::drain`] for why anyone would.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use stocklock_api::{DRAIN_LIMIT, Drained, ErrorBody};

use crate::error::Error;
use crate::order;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/admin/drain", post(drain))
}

/// Waits until no order is in flight on this instance.
#[utoipa::path(post, path = "/admin/drain", tag = "admin",
    responses(
        (status = 200, description = "Every order in flight has finished", body = Drained),
        (status = 503, description = "`drain_timed_out`", body = ErrorBody),
    ))]
pub(super) async fn drain(State(state): State<Arc<AppState>>) -> Result<Json<Drained>, Error> {
    Ok(Json(order::drain(&state, DRAIN_LIMIT).await?))
}
