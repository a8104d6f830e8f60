//! `GET /admin/lock` and `PUT /admin/lock`: read and switch the active lock
//! backend and its settings at runtime. How a switch stays safe while orders
//! are in flight is explained in [`crate::switch`].

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::{LockSettings, LockSettingsUpdate};

use super::extract::ApiJson;
use crate::error::Error;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/admin/lock", get(settings).put(update))
}

async fn settings(State(state): State<Arc<AppState>>) -> Json<LockSettings> {
    Json(state.locks.describe())
}

async fn update(
    State(state): State<Arc<AppState>>,
    ApiJson(update): ApiJson<LockSettingsUpdate>,
) -> Result<Json<LockSettings>, Error> {
    Ok(Json(state.locks.update(&update).await?))
}
