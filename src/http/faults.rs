//! `GET /admin/faults` and `PUT /admin/faults`: the faults the service
//! injects into itself ([`crate::faults`]). A PUT replaces them all; a bad
//! value is a 422 and changes nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::Faults;

use super::extract::ApiJson;
use crate::error::Error;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/admin/faults", get(faults).put(replace))
}

async fn faults(State(state): State<Arc<AppState>>) -> Json<Faults> {
    Json(state.faults.describe())
}

async fn replace(
    State(state): State<Arc<AppState>>,
    ApiJson(faults): ApiJson<Faults>,
) -> Result<Json<Faults>, Error> {
    Ok(Json(state.faults.replace(faults)?))
}
