//! `GET /admin/faults` and `PUT /admin/faults`: the faults the service
//! injects into itself ([`crate::faults`]). A PUT replaces them all; a bad
//! value is a 422 and changes nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::{ErrorBody, Faults};

use super::extract::ApiJson;
use crate::error::Error;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/admin/faults", get(faults).put(replace))
}

/// The faults the service injects into itself.
#[utoipa::path(get, path = "/admin/faults", tag = "admin",
    responses((status = 200, description = "The faults in force and the recent injections", body = Faults)))]
pub(super) async fn faults(State(state): State<Arc<AppState>>) -> Json<Faults> {
    Json(state.faults.describe())
}

/// Replaces every fault; a bad value changes nothing.
#[utoipa::path(put, path = "/admin/faults", tag = "admin", request_body = Faults,
    responses(
        (status = 200, description = "The faults now in force", body = Faults),
        (status = 422, description = "`invalid_faults`, `invalid_body`: nothing was changed", body = ErrorBody),
    ))]
pub(super) async fn replace(
    State(state): State<Arc<AppState>>,
    ApiJson(faults): ApiJson<Faults>,
) -> Result<Json<Faults>, Error> {
    Ok(Json(state.faults.replace(faults)?))
}
