//! `GET /health`: 200 once PostgreSQL answers, 503 while it does not.
//! Lock servers are not checked: the service is useful (with `atomic`,
//! `postgres`, `local`, `none`) while Redis or etcd is down. It pings on a
//! pool of its own, so an overloaded order pool does not make it wait.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::Health;

use crate::error::Error;
use crate::state::AppState;
use crate::store;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Health>, Error> {
    store::ping(&state.probe).await?;
    Ok(Json(Health {
        status: "ok".to_owned(),
    }))
}
