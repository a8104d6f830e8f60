//! Every SQL statement of the service, one small function each, grouped
//! by what they serve: the products and the ledger's audit
//! (`products.rs`), the deduction and the locks that live in PostgreSQL
//! (`deduction.rs`), the record of refused orders (`refusals.rs`), and the
//! pool itself (here).
//!
//! Statements are checked at runtime (`sqlx::query_as`), not with the
//! compile-time `query!` macros: those need a live database (or committed
//! offline data) at build time, and the workshop must build anywhere. The
//! functions that run inside a deduction take `&mut PgConnection` — the
//! caller's open transaction — so the order in which they run stays visible
//! in `order/`. This layer knows only `domain`: it returns `sqlx::Error`.

mod batch;
mod deduction;
mod keys;
mod known;
mod products;
mod refusals;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

pub use batch::{BatchFailed, BatchOrder, Batches, Sale, Writer};
pub use deduction::{Claim, NewOrder, advisory_xact_lock, claim_fence, read_stock, take_stock, write_stock};
pub use keys::{KEY_LIFETIME_HOURS, KeyedOrder, is_key_taken, order_by_key};
pub use known::KnownProducts;
pub use products::{audit, ledger_page, orders, product, reset_product};
pub use refusals::{record_refusal, refusals};

/// The longest anyone waits for a pooled connection: past it, a 503.
pub const POOL_WAIT_LIMIT: Duration = Duration::from_secs(5);

/// Opens the pool and applies the embedded migrations (`migrations/`).
/// Every connection introduces itself as `instance`: PostgreSQL records it
/// on each order and refusal ([`refusals`]) and shows it in
/// `pg_stat_activity`.
pub async fn connect(url: &str, max_connections: u32, instance: &str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.application_name(instance);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        // The outer bound for reads outside an order; an order's own waits
        // for a connection follow its acquire timeout ([`begin_within`]).
        .acquire_timeout(POOL_WAIT_LIMIT)
        // sqlx pings every connection it lends (and every one returned to
        // it): a round trip on every order's path, under its lock. A
        // connection returned moments ago was just pinged, so only one
        // idle for a while is pinged again: one that died with a restarted
        // server is then replaced, not lent.
        .test_before_acquire(false)
        .before_acquire(|conn, idle| {
            Box::pin(async move {
                if idle.idle_for >= PING_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await?;
    sqlx::migrate!().run(&pool).await?;
    Ok(pool)
}

/// A pool of its own for `/health`, so that a health check never queues
/// behind the orders for a connection; connected on first use.
pub fn connect_probe(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(url)?)
}

/// A pooled connection idle this long is pinged before it is lent.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The round trips of [`begin_within`] and [`begin_limited`]: `BEGIN`
/// (with `SET LOCAL`, one message), and no ping under load ([`connect`]).
pub const BEGIN_TRIPS: u64 = 1;

/// Begins a transaction, waiting for a pooled connection at most `limit`
/// (then `PoolTimedOut`: a 503), so an order that cannot get a connection
/// is refused within its own acquire timeout — and never later than the
/// pool's own [`POOL_WAIT_LIMIT`], which `DRAIN_LIMIT` counts on.
pub async fn begin_within(
    pool: &PgPool,
    limit: Duration,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    within_pool_wait(limit, pool.begin()).await
}

/// A pooled connection, waited for at most `limit` as in [`begin_within`]:
/// for a statement that is its own transaction.
pub async fn acquire_within(pool: &PgPool, limit: Duration) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    within_pool_wait(limit, pool.acquire()).await
}

/// [`begin_within`], and every lock wait of the transaction (a row lock,
/// an advisory lock) bounded by `limit` too; past it PostgreSQL raises
/// [`is_lock_timeout`]. `BEGIN` and `SET LOCAL` go as one simple query:
/// one round trip, not two. The value is a number we format, never input.
pub async fn begin_limited(
    pool: &PgPool,
    limit: Duration,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let statement = format!("BEGIN; SET LOCAL lock_timeout = '{}ms'", limit.as_millis());
    within_pool_wait(limit, pool.begin_with(sqlx::AssertSqlSafe(statement))).await
}

/// `taking`, a wait for a pooled connection, given up after `limit` (and
/// never later than [`POOL_WAIT_LIMIT`]) as `PoolTimedOut`.
async fn within_pool_wait<T>(
    limit: Duration,
    taking: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(limit.min(POOL_WAIT_LIMIT), taking)
        .await
        .map_err(|_elapsed| sqlx::Error::PoolTimedOut)?
}

/// SQLSTATE `lock_not_available`, raised when `lock_timeout` expires.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Whether `err` is a lock wait that ran out of `lock_timeout`.
pub fn is_lock_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(LOCK_NOT_AVAILABLE))
}

/// Whether `err` means PostgreSQL is (for now) out of reach rather than
/// that we asked something wrong: no pooled connection in time, a lost
/// connection, or the server going down under us — SQLSTATE class 08
/// (connection exception), 57P01–57P03 (shut down by an administrator,
/// crashed, not yet accepting connections) and 53300 (too many
/// connections). Those are 503s a client may retry, not 500s.
pub fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// A `lock_backend` column's value as a [`Backend`]: only the service
/// writes it, so another value means the table was edited by hand.
fn backend_named(name: &str) -> Result<stocklock_api::Backend, sqlx::Error> {
    name.parse().map_err(|err| sqlx::Error::Decode(Box::new(err)))
}

/// `SELECT 1`: is PostgreSQL reachable?
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
