//! The one mapping from [`Error`] to an HTTP response.
//!
//! Every error body is `{"error": "<code>", "message": "<text>"}`. Client
//! errors (4xx) explain themselves; server errors (5xx) are logged here with
//! their details and sent with a generic message, because database errors
//! can carry SQL, host names and other things clients must not see.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stocklock_api::{ErrorBody, ErrorCode};

use crate::error::Error;
use crate::lock::LockError;

impl Error {
    /// The machine-readable code this error is answered with.
    pub fn code(&self) -> ErrorCode {
        self.status_and_code().1
    }

    /// The status and machine-readable code of each variant.
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Error::InvalidInput { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
            Error::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Error::ProductNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::ProductNotFound),
            Error::RouteNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::RouteNotFound),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Error::OutOfStock { .. } => (StatusCode::CONFLICT, ErrorCode::OutOfStock),
            Error::Lock(LockError::Lost { .. }) => (StatusCode::CONFLICT, ErrorCode::LockLost),
            Error::Lock(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::LockUnavailable),
            Error::SwitchInProgress(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::SwitchInProgress),
            Error::DrainTimedOut { .. } => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::DrainTimedOut),
            Error::CommitOutcomeUnknown(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::CommitOutcomeUnknown)
            }
            Error::Database(err) if is_unavailable(err) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::DatabaseUnavailable)
            }
            Error::Database(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }
}

/// Pool exhaustion and lost connections are outages (retry later), not bugs.
fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            // Lock errors name the backend and what went wrong, which is
            // the lesson; they carry no secrets. Nor do the switch's and the
            // drain's, which only say how long was waited.
            Error::Lock(err) => {
                log_lock_error(err);
                err.to_string()
            }
            Error::SwitchInProgress(_) | Error::DrainTimedOut { .. } => {
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
        (status, Json(body)).into_response()
    }
}

/// Timeouts are expected under contention; an unreachable server is not.
fn log_lock_error(err: &LockError) {
    match err {
        LockError::Timeout { .. } => tracing::debug!(error = %err, "lock not acquired in time"),
        LockError::Lost { .. } => tracing::info!(error = %err, "lock lost"),
        LockError::Unavailable { .. } => tracing::warn!(error = %err, "lock failure"),
    }
}
