//! The middleware that applies [`crate::access::Access`] to every request:
//! a `Host` outside the allow-list is 403, an `/admin/` request without the
//! admin token 401 — before any handler runs, so nothing changes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Error;
use crate::state::AppState;

/// The middleware: see the module documentation.
pub async fn check(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, Error> {
    let headers = request.headers();
    if let Some(host) = headers.get(header::HOST) {
        let host = host.to_str().unwrap_or_default();
        if !state.access.allows_host(host) {
            return Err(Error::HostNotAllowed(host.to_owned()));
        }
    }
    if request.uri().path().starts_with("/admin/") {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !state.access.admits_admin(authorization) {
            return Err(Error::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}
