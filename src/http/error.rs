//! The one mapping from [`Error`] to an HTTP response.
//!
//! Every error body is `{"error": "<code>", "message": "<text>"}`. Client
//! errors (4xx) explain themselves; server errors (5xx) are logged here with
//! their details and sent with a generic message, because database errors
//! can carry SQL, host names and other things clients must not see.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stocklock_api::{ErrorBody, ErrorCode};

use crate::error::Error;
use crate::lock::LockError;

/// The status of each code: the API contract's one table.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidSku
        | ErrorCode::InvalidQuantity
        | ErrorCode::InvalidStock
        | ErrorCode::InvalidBody
        | ErrorCode::InvalidSettings
        | ErrorCode::InvalidFaults
        | ErrorCode::InvalidQuery
        | ErrorCode::InvalidIdempotencyKey
        | ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::HostNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::ProductNotFound | ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::OutOfStock | ErrorCode::LockLost => StatusCode::CONFLICT,
        ErrorCode::LockUnavailable
        | ErrorCode::SwitchInProgress
        | ErrorCode::Overloaded
        | ErrorCode::DrainTimedOut
        | ErrorCode::DatabaseUnavailable
        | ErrorCode::CommitOutcomeUnknown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = status_of(code);
        let message = match &self {
            // Lock errors name the backend and what went wrong, which is
            // the lesson; they carry no secrets. Nor do the switch's and the
            // drain's, which only say how long was waited.
            Error::Lock(err) => {
                log_lock_error(err);
                err.to_string()
            }
            Error::SwitchInProgress(_) | Error::DrainTimedOut { .. } | Error::Overloaded => {
                tracing::warn!(error = %self, "request refused");
                self.to_string()
            }
            _ if status.is_server_error() => {
                tracing::error!(error = ?self, "request failed");
                "the service could not complete the request; see its logs".to_owned()
            }
            _ => self.to_string(),
        };
        let body = ErrorBody { error: code, message };
        let mut response = (status, Json(body)).into_response();
        if code == ErrorCode::Unauthorized {
            // RFC 9110: a 401 names the scheme it wants.
            let challenge = HeaderValue::from_static(r#"Bearer realm="stocklock admin""#);
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// Timeouts are expected under contention; an unreachable server is not.
fn log_lock_error(err: &LockError) {
    match err {
        LockError::Timeout { .. } => tracing::debug!(error = %err, "lock not acquired in time"),
        LockError::Lost { .. } => tracing::info!(error = %err, "lock lost"),
        LockError::Unavailable { .. } | LockError::Database(_) => {
            tracing::warn!(error = %err, "lock failure")
        }
    }
}
