//! `GET /health`: 200 once PostgreSQL answers, 503 while it does not.
//! Lock servers are not checked: the service is useful (with `atomic`,
//! `postgres`, `local`, `none`) while Redis or etcd is down. It pings on a
//! pool of its own, so an overloaded order pool does not make it wait.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use stocklock_api::{ErrorBody, Health};

use crate::error::Error;
use crate::state::AppState;
use crate::store;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/health", get(health))
}

/// Whether the service can reach PostgreSQL.
#[utoipa::path(get, path = "/health", tag = "service",
    responses(
        (status = 200, description = "PostgreSQL answers", body = Health),
        (status = 503, description = "`database_unavailable`: PostgreSQL does not answer", body = ErrorBody),
    ))]
pub(super) async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Health>, Error> {
    store::ping(&state.probe).await?;
    Ok(Json(Health {
        status: "ok".to_owned(),
        instance: state.instance.clone(),
    }))
}
