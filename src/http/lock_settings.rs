//! `GET /admin/lock` and `PUT /admin/lock`: read and switch the active lock
//! backend and its settings at runtime. How a switch stays safe while orders
//! are in flight is explained in [`crate::switch`].

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::{ErrorBody, LockSettings, LockSettingsUpdate};

use super::extract::ApiJson;
use crate::error::Error;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/admin/lock", get(settings).put(update))
}

/// The active lock backend and its settings.
#[utoipa::path(get, path = "/admin/lock", tag = "admin",
    responses((status = 200, description = "The settings new orders run under", body = LockSettings)))]
pub(super) async fn settings(State(state): State<Arc<AppState>>) -> Json<LockSettings> {
    Json(state.locks.describe())
}

/// Switches the backend and changes settings; absent fields keep their value.
#[utoipa::path(put, path = "/admin/lock", tag = "admin", request_body = LockSettingsUpdate,
    responses(
        (status = 200, description = "The settings now in force", body = LockSettings),
        (status = 422, description = "`invalid_settings`, `invalid_body`: nothing was changed", body = ErrorBody),
    ))]
pub(super) async fn update(
    State(state): State<Arc<AppState>>,
    ApiJson(update): ApiJson<LockSettingsUpdate>,
) -> Result<Json<LockSettings>, Error> {
    Ok(Json(state.locks.update(&update).await?))
}
