//! The middleware that applies [`crate::access::Access`] to every request:
//! a `Host` outside the allow-list (or none, or two) is 403, an `/admin/`
//! request without the admin token 401 — before any handler runs, so
//! nothing changes.

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
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().unwrap_or_default(),
        // Which of two would a proxy have routed by? And a request with
        // none could be anyone's: HTTP/1.1 requires exactly one.
        _ => {
            return Err(Error::HostNotAllowed(
                "a request must have exactly one `Host` header".to_owned(),
            ));
        }
    };
    if !state.access.allows_host(host) {
        return Err(Error::HostNotAllowed(format!(
            "host `{host}` is not allowed: use an IP address, localhost, or a name in ALLOWED_HOSTS"
        )));
    }
    if request.uri().path().starts_with("/admin/") {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !state.access.admits_admin(authorization) {
            return Err(Error::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}
