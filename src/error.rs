//! The service's one error type, and the API's error code for each case.
//!
//! The layers below (`domain`, `store`, `lock`) have errors of their own;
//! they meet here, and every fallible function above them — the switch,
//! orders, faults, the handlers — returns [`Error`]. Each variant documents
//! the status it becomes; the status itself is decided in exactly one
//! place, [`crate::http::error`], so the API contract can be read (and
//! changed) in one file. See `docs/api.md` for every code.

use std::borrow::Cow;
use std::time::Duration;

use stocklock_api::ErrorCode;

use crate::domain::ParseError;
use crate::lock::LockError;
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 422: the request is well-formed JSON but a value is out of range, or
    /// the body does not match the expected shape. `code` is the machine
    /// readable `error` field (`invalid_sku`, `invalid_quantity`, …).
    #[error("{message}")]
    InvalidInput {
        code: ErrorCode,
        message: Cow<'static, str>,
    },

    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),

    /// 413: the body is larger than the service reads.
    #[error("{0}")]
    PayloadTooLarge(String),

    /// 401: an admin route without the configured bearer token.
    #[error("admin routes need `Authorization: Bearer <ADMIN_TOKEN>`")]
    Unauthorized,

    /// 403: a `Host` that is neither an address nor an allowed name, or a
    /// request without exactly one `Host`; the message says which.
    #[error("{0}")]
    HostNotAllowed(String),

    /// 422: the `Idempotency-Key` of an earlier order, with another body.
    #[error("this Idempotency-Key was used for another order ({0}); use a new key for a new order")]
    IdempotencyKeyReused(String),

    /// Internal: another attempt with this order's key committed first;
    /// ours rolled back, and the first is answered instead. Never sent.
    #[error("another attempt with this Idempotency-Key committed first")]
    IdempotencyKeyTaken,

    /// 404: no product has this SKU.
    #[error("no product with sku `{0}`")]
    ProductNotFound(String),

    /// 404: no route matches the path.
    #[error("no route for {0}")]
    RouteNotFound(String),

    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,

    /// 409: the stock does not cover the order. Nothing was changed.
    #[error("only {available} left of `{sku}`, {requested} requested")]
    OutOfStock {
        sku: String,
        requested: i64,
        available: i64,
    },

    /// 503: the lock could not be had in time or its server is down; 409
    /// when it was lost before the write. Nothing was changed: a lock we
    /// cannot get (or keep) is never skipped.
    /// (A database failure while taking the `postgres` lock is a
    /// [`Error::Database`]: see the `From` below.)
    #[error(transparent)]
    Lock(LockError),

    /// 503: the instance has as many orders in flight as it admits
    /// (`MAX_ORDERS_IN_FLIGHT`). Nothing was changed.
    #[error("too many orders in flight; try again shortly")]
    Overloaded,

    /// 503: a backend switch kept this order waiting to start for longer
    /// than the acquire timeout. Nothing was changed.
    #[error("a lock backend switch is in progress; no order started for {0:?}")]
    SwitchInProgress(Duration),

    /// 503: `POST /admin/drain` gave up before the orders in flight finished.
    #[error("{in_flight} orders were still in flight after {waited:?}")]
    DrainTimedOut { in_flight: usize, waited: Duration },

    /// 503: the database failed while committing, so whether the order was
    /// recorded is unknown — unlike every other error, this one does not
    /// promise that nothing changed. Logged, never sent.
    #[error("the commit's outcome is unknown")]
    CommitOutcomeUnknown(#[source] sqlx::Error),

    /// The batch an order was in (`batch`) failed as a whole: the order is
    /// told what it would have been told alone (`code`). Logged once, by the
    /// batch; the message is never sent.
    #[error("its batch failed: {message}")]
    BatchFailed { code: ErrorCode, message: String },

    /// 503 when the pool or the server is unreachable, 500 otherwise. The
    /// details are logged, never sent to clients.
    #[error("database error")]
    Database(#[from] sqlx::Error),

    /// 500: a bug, such as a task that panicked. Logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Error::InvalidInput {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code this error is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidInput { code, .. } => *code,
            Error::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Error::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Error::Unauthorized => ErrorCode::Unauthorized,
            Error::HostNotAllowed(_) => ErrorCode::HostNotAllowed,
            Error::ProductNotFound(_) => ErrorCode::ProductNotFound,
            Error::RouteNotFound(_) => ErrorCode::RouteNotFound,
            Error::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Error::OutOfStock { .. } => ErrorCode::OutOfStock,
            Error::Lock(LockError::Lost { .. }) => ErrorCode::LockLost,
            Error::Database(err) => database_code(err),
            Error::Lock(_) => ErrorCode::LockUnavailable,
            Error::SwitchInProgress(_) => ErrorCode::SwitchInProgress,
            Error::Overloaded => ErrorCode::Overloaded,
            Error::DrainTimedOut { .. } => ErrorCode::DrainTimedOut,
            Error::CommitOutcomeUnknown(_) => ErrorCode::CommitOutcomeUnknown,
            Error::BatchFailed { code, .. } => *code,
            Error::IdempotencyKeyReused(_) => ErrorCode::IdempotencyKeyReused,
            Error::Internal(_) | Error::IdempotencyKeyTaken => ErrorCode::Internal,
        }
    }
}

/// Pool exhaustion, lost connections and a server going down are outages
/// (retry later), not bugs.
fn database_code(err: &sqlx::Error) -> ErrorCode {
    if store::is_outage(err) {
        ErrorCode::DatabaseUnavailable
    } else {
        ErrorCode::Internal
    }
}

impl From<LockError> for Error {
    /// A database that fails while it is the lock server (`postgres`) is a
    /// database error: its details are logged, never sent to a client.
    fn from(err: LockError) -> Self {
        match err {
            LockError::Database(err) => Error::Database(err),
            err => Error::Lock(err),
        }
    }
}

impl From<ParseError> for Error {
    fn from(err: ParseError) -> Self {
        let code = match err {
            ParseError::SkuLength | ParseError::SkuAlphabet | ParseError::SkuDots => ErrorCode::InvalidSku,
            ParseError::Quantity(_) => ErrorCode::InvalidQuantity,
            ParseError::Stock(_) => ErrorCode::InvalidStock,
            ParseError::IdempotencyKey => ErrorCode::InvalidIdempotencyKey,
        };
        Error::invalid(code, err.to_string())
    }
}
