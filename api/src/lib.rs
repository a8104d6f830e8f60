//! The request and response shapes of the stocklock HTTP API.
//!
//! They live in a crate of their own because two programs speak this API: the
//! service (`stocklock`) that answers it and the load tester (`loadtest`) that
//! hammers it. With one definition, a renamed field is a compile error in both
//! rather than a silent `null` in a report. The crate depends on nothing but
//! serde and uuid, so the load tester does not have to build a database driver
//! to know what an order looks like.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The lock backends a stocklock instance can switch between at runtime.
///
/// Each one is a lesson; the service's `src/lock/` has one file per variant
/// that explains how it works and how it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// No lock at all: the read-check-write races and oversells.
    None,
    /// An in-process mutex per SKU: correct in one instance, not across two.
    Local,
    /// `SET NX PX` in Redis, released by a compare-and-delete script.
    Redis,
    /// A lease plus etcd's lock API (waiters queue by revision).
    Etcd,
    /// `pg_advisory_xact_lock` inside the deduction's own transaction.
    Postgres,
    /// No lock: one conditional `UPDATE … WHERE stock >= quantity`.
    Atomic,
    /// No lock: `atomic` with group commit — the orders that arrive while
    /// one batch is written go, up to `batch_size`, into the next, applied
    /// in arrival order in one statement and one commit.
    Batch,
    /// Redlock: `SET NX PX` on a majority of independent Redis masters.
    /// Available only when the service is given the masters (`REDLOCK_URLS`).
    Redlock,
}

impl Backend {
    /// Every backend, in the order the workshop teaches them.
    pub const ALL: [Backend; 8] = [
        Backend::None,
        Backend::Local,
        Backend::Redis,
        Backend::Etcd,
        Backend::Postgres,
        Backend::Atomic,
        Backend::Batch,
        Backend::Redlock,
    ];

    /// The backends every instance has, on the single servers of
    /// `scripts/services`: the basic workshop's. (`redlock` needs the
    /// masters of `scripts/cluster`.)
    pub const CLASSIC: [Backend; 7] = [
        Backend::None,
        Backend::Local,
        Backend::Redis,
        Backend::Etcd,
        Backend::Postgres,
        Backend::Atomic,
        Backend::Batch,
    ];

    /// The name used in URLs, JSON, flags and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::None => "none",
            Backend::Local => "local",
            Backend::Redis => "redis",
            Backend::Etcd => "etcd",
            Backend::Postgres => "postgres",
            Backend::Atomic => "atomic",
            Backend::Batch => "batch",
            Backend::Redlock => "redlock",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a backend name that is not one of [`Backend::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBackend(pub String);

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.as_str()).collect();
        write!(
            f,
            "unknown lock backend `{}`, expected one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownBackend {}

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownBackend(s.to_owned()))
    }
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    /// This instance's name (`INSTANCE_NAME`), as the ledger records it on
    /// each order it commits: how the load tester knows which lane of the
    /// timeline is which target.
    #[serde(default)]
    pub instance: String,
}

/// `PUT /admin/products/{sku}`: create the product or reset it to `stock`.
///
/// Signed on purpose: a negative number must reach the service's validation
/// and get a message about stock, not a serde message about `u64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetProduct {
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub stock: i64,
}

/// `GET /products/{sku}` and the answer to a reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub sku: String,
    pub stock: i64,
}

/// `POST /orders`. Signed for the same reason as [`ResetProduct::stock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = r"^[A-Za-z0-9._-]{1,64}$",
            example = "apple"
        )
    )]
    pub sku: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000, example = 2))]
    pub quantity: i64,
}

/// The answer to an accepted order (`201 Created`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
    /// The stock this request wrote. Under a broken lock two buyers can both
    /// be told the same `remaining`: that is the lost update made visible.
    pub remaining: i64,
    /// The backend the request ran under, pinned when it started.
    pub lock_backend: Backend,
}

/// The request header that names one order across all its attempts (the
/// IETF httpapi draft's `Idempotency-Key`), in lower case as HTTP headers
/// compare.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The answer header of a 201: `true` when it is an earlier attempt's order.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";

/// `GET /admin/lock` and the answer to `PUT /admin/lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockSettings {
    pub backend: Backend,
    /// How long a distributed lock lives if its holder never releases it.
    pub ttl_ms: u64,
    /// How long a request waits for the lock before it gets a 503.
    pub acquire_timeout_ms: u64,
    /// Simulated business work between reading and writing the stock.
    pub critical_section_ms: u64,
    /// The safety ladder's first rung: right before writing, check that the
    /// lock is still ours (off: the article's naive lock).
    pub check_before_commit: bool,
    /// The middle rung: redis and etcd keep the lock alive while its holder
    /// works (off: a lock lives exactly its TTL).
    pub renewal: bool,
    /// The top rung: every acquisition yields a fencing token, and
    /// PostgreSQL refuses a write under a stale one (`docs/fencing.md`).
    pub fencing: bool,
    /// `batch`: the most orders one batch applies and commits together.
    /// (Absent from reports written before `batch` existed: 0.)
    #[serde(default)]
    pub batch_size: u64,
    /// Every backend this instance can switch to.
    pub available: Vec<Backend>,
}

/// `PUT /admin/lock`: every field is optional; absent ones keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LockSettingsUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 10, maximum = 600000))]
    pub ttl_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60000))]
    pub acquire_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 60000))]
    pub critical_section_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_before_commit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub batch_size: Option<u64>,
    /// Read-only: accepted and ignored, so that the answer of a GET can be
    /// edited and PUT back as it is.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub available: Option<Vec<Backend>>,
}

/// `GET /admin/faults` and `PUT /admin/faults` (which replaces them all):
/// faults the service injects into itself, for teaching. Off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// A lock holder that stalls, as in a GC pause.
    #[serde(default)]
    pub pause_holder: Option<PauseHolder>,
    /// Read-only: how many faults were injected since start-up. Accepted
    /// and ignored in a PUT, so a GET can be edited and PUT back.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub injected: u64,
    /// Read-only: the most recent injections (up to 500), oldest first.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub recent: Vec<FaultEvent>,
}

/// Whether a request's `Host` header may be served, by the service and by
/// the load tester's dashboard alike: an IP address (DNS rebinding needs a
/// name), `localhost`, or one of `allowed` (lower case, without port).
/// Anything else may be another site's domain re-resolved to us.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = strip_port(host).to_ascii_lowercase();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || allowed.iter().any(|a| *a == name)
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    }
}

/// Now, in milliseconds since the Unix epoch: the clock of
/// [`FaultEvent::at_unix_ms`], read the same way by the service that stamps
/// an injection and the load tester (on the same machine) that places it in
/// its phase.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// One injected fault, as the load tester reports it with its phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaultEvent {
    /// `pause_holder`.
    pub kind: String,
    /// When, in milliseconds since the Unix epoch (the service's clock).
    pub at_unix_ms: u64,
    pub sku: String,
    pub at: PausePoint,
    pub pause_ms: u64,
}

/// With `probability`, a holder stalls for `pause_ms` at the point `at`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PauseHolder {
    /// 0 to 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub probability: f64,
    /// 1 to 60 000.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60000))]
    pub pause_ms: u64,
    pub at: PausePoint,
}

/// Where in the deduction a paused holder stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PausePoint {
    /// Right after the lock is taken, before the stock is read: a check
    /// before the write notices a lock that expired meanwhile.
    AfterAcquire,
    /// After the last check, right before the write: the worst moment, only
    /// fencing notices.
    BeforeWrite,
}

/// `GET /admin/audit/{sku}`: the ledger's verdict, computed by PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Audit {
    pub sku: String,
    pub initial_stock: i64,
    pub stock: i64,
    /// Sum of the quantities of every recorded order.
    pub sold: i64,
    /// Number of recorded orders.
    pub orders: i64,
    /// Units sold beyond the initial stock (never negative).
    pub oversold: i64,
    /// `stock == initial_stock - sold`: false means an update was lost.
    pub consistent: bool,
    /// Pairs of recorded orders whose critical sections (read to write, by
    /// PostgreSQL's clock) overlapped: the lock failed to exclude them, even
    /// if no unit was oversold.
    pub overlapping_holds: i64,
    /// Of those pairs, the ones whose two orders ran under different
    /// backends (`atomic` on one instance, `postgres` on another): a lock
    /// excludes only those who take it.
    #[serde(default)]
    pub overlapping_across_backends: i64,
    /// The most critical sections open at one instant: 1 when the lock
    /// excluded every holder, more when it did not (0: no order had a
    /// section — `atomic` and `batch` read and write in one statement).
    /// Beside, not instead of, the pairs: 3,000 orders all open together
    /// make 4.5 million pairs but 3,000 holders at once.
    #[serde(default)]
    pub most_holders_at_once: i64,
}

/// The longest `POST /admin/drain` waits before a 503 `drain_timed_out`:
/// longer than an order can take with the largest settings `PUT /admin/lock`
/// accepts (60 s waiting for a switch, 60 s for the lock, 5 s for a pooled
/// connection, 60 s of work, a few bounded server calls). Shared, so the load
/// tester's own timeout for the call is never the shorter one.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(200);

/// `GET /admin/orders/{sku}`: every order the ledger holds for the SKU,
/// and every order refused for a lost lock. The load tester compares these
/// ids one by one with the 201s its buyers were given (counts alone would
/// let a lost order and a phantom one cancel out), and draws from the rest
/// who held the lock when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderList {
    pub sku: String,
    /// In the order their critical sections began.
    pub orders: Vec<RecordedOrder>,
    /// In the order they were refused.
    #[serde(default)]
    pub refusals: Vec<Refusal>,
}

/// `GET /admin/ledger/{sku}?after=N`: the ledger page by page, for a view
/// that follows it as it grows (the dashboard, five times a second) without
/// reading every row again. `orders` are those written by transactions in
/// `[after, next)`, every one of which has ended: asking again from `next`
/// misses no row and repeats none, however the writers' commits interleave.
/// `after=0` (or none) starts from the first row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerPage {
    pub sku: String,
    pub initial_stock: i64,
    /// The stock now.
    pub stock: i64,
    /// The new rows, in the order their critical sections began.
    pub orders: Vec<RecordedOrder>,
    /// Where to ask from next (`?after=` it).
    pub next: i64,
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordedOrder {
    pub order_id: Uuid,
    pub quantity: i64,
    /// The instance that committed it ([`Health::instance`]); absent for
    /// orders recorded before the ledger named instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The backend it was placed under.
    pub backend: Backend,
    /// The fencing token it wrote under, if fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_token: Option<i64>,
    /// Its critical section, read to write, in microseconds since the epoch
    /// by PostgreSQL's clock (one instant for `atomic` and `batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cs_started_us: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cs_ended_us: Option<i64>,
}

/// An order answered 409 `lock_lost`: it changed nothing and left no order,
/// so this is all that remains of it — who was refused, holding which
/// token, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub backend: Backend,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_token: Option<i64>,
    /// By PostgreSQL's clock, as [`RecordedOrder::cs_started_us`].
    pub refused_us: i64,
}

/// Every error response: a stable machine-readable `error` code and a
/// `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// The `error` codes of the API, one definition for the service that sends
/// them and the load tester that counts them: a code renamed on one side
/// only is a compile error, not a 503 that silently lands in the wrong
/// column of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 422: a SKU that is empty, too long, `.` or `..`, or has characters
    /// outside `A-Z a-z 0-9 - _ .`.
    InvalidSku,
    /// 422: a quantity outside 1 to 10 000.
    InvalidQuantity,
    /// 422: a stock outside 0 to 1 000 000 000.
    InvalidStock,
    /// 422: malformed JSON, a missing or unknown field, a wrong type.
    InvalidBody,
    /// 422: lock settings out of range; nothing was changed.
    InvalidSettings,
    /// 422: fault settings out of range; nothing was changed.
    InvalidFaults,
    /// 422: a query parameter that is unknown, repeated, or not of its type.
    InvalidQuery,
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 413: the body is larger than the service reads (2 MiB).
    PayloadTooLarge,
    /// 422: an `Idempotency-Key` header that is empty, longer than 255
    /// characters, or not printable ASCII.
    InvalidIdempotencyKey,
    /// 422: the `Idempotency-Key` of an earlier order, sent with another
    /// body; nothing was changed.
    IdempotencyKeyReused,
    /// 401: an admin route without the instance's bearer token
    /// (`ADMIN_TOKEN`); nothing was changed.
    Unauthorized,
    /// 403: the `Host` is neither an IP address, `localhost`, nor a name in
    /// `ALLOWED_HOSTS` (DNS rebinding); nothing was changed.
    HostNotAllowed,
    /// 404: no product has this SKU.
    ProductNotFound,
    /// 404: no route matches the path.
    RouteNotFound,
    /// 405: the path exists, not with this method.
    MethodNotAllowed,
    /// 409: the stock does not cover the order; nothing was changed.
    OutOfStock,
    /// 409: the order's lock was lost before it wrote (it expired, or a
    /// newer holder's fencing token won); nothing was changed.
    LockLost,
    /// 503: the lock could not be had in time, or its server is down or
    /// hangs; nothing was changed.
    LockUnavailable,
    /// 503: a backend switch held new orders back for longer than the
    /// acquire timeout; nothing was changed.
    SwitchInProgress,
    /// 503: the instance admits no more orders at once
    /// (`MAX_ORDERS_IN_FLIGHT`); nothing was changed. Retry shortly.
    Overloaded,
    /// 503: the orders in flight did not finish within [`DRAIN_LIMIT`].
    DrainTimedOut,
    /// 503: PostgreSQL is unreachable or the pool is exhausted.
    DatabaseUnavailable,
    /// 503: the database failed *during* `COMMIT`: the order may or may not
    /// have been recorded. A client must treat it as no answer at all.
    CommitOutcomeUnknown,
    /// 500: a bug; the details are in the service's log.
    Internal,
    /// A code this build does not know (a newer service): never a reason
    /// for a client to fail reading the body.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code the service sends.
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::InvalidSku,
        ErrorCode::InvalidQuantity,
        ErrorCode::InvalidStock,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidSettings,
        ErrorCode::InvalidFaults,
        ErrorCode::InvalidQuery,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InvalidIdempotencyKey,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::Unauthorized,
        ErrorCode::HostNotAllowed,
        ErrorCode::ProductNotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::OutOfStock,
        ErrorCode::LockLost,
        ErrorCode::LockUnavailable,
        ErrorCode::SwitchInProgress,
        ErrorCode::Overloaded,
        ErrorCode::DrainTimedOut,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::CommitOutcomeUnknown,
        ErrorCode::Internal,
    ];

    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidSku => "invalid_sku",
            ErrorCode::InvalidQuantity => "invalid_quantity",
            ErrorCode::InvalidStock => "invalid_stock",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::InvalidFaults => "invalid_faults",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidIdempotencyKey => "invalid_idempotency_key",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::HostNotAllowed => "host_not_allowed",
            ErrorCode::ProductNotFound => "product_not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::OutOfStock => "out_of_stock",
            ErrorCode::LockLost => "lock_lost",
            ErrorCode::LockUnavailable => "lock_unavailable",
            ErrorCode::SwitchInProgress => "switch_in_progress",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::DrainTimedOut => "drain_timed_out",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::CommitOutcomeUnknown => "commit_outcome_unknown",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to `POST /admin/drain`: every order that was in flight on the
/// instance when it was asked has finished (committed or rolled back), and so
/// has the background work of its lock (a release, a revoke).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drained {
    /// Tasks (order requests, their lock's background work) still running
    /// when the drain was asked for.
    pub waited_for: usize,
    /// How long the drain took.
    pub took_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip_through_from_str() {
        for backend in Backend::ALL {
            assert_eq!(backend.as_str().parse::<Backend>(), Ok(backend));
        }
    }

    #[test]
    fn error_codes_serialise_as_their_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        let body: ErrorBody = serde_json::from_str(r#"{"error":"from_the_future","message":"m"}"#).unwrap();
        assert_eq!(body.error, ErrorCode::Unknown);
    }

    #[test]
    fn unknown_backend_lists_the_known_ones() {
        let err = "zookeeper".parse::<Backend>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown lock backend `zookeeper`, expected one of: none, local, redis, etcd, postgres, atomic, batch, redlock"
        );
    }
}
