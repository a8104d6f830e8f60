//! Structured logging with `tracing`.
//!
//! The default filter logs start-up, lock-server trouble and 5xx errors at
//! `info`/`warn`/`error`, but not every request: under a load test a log
//! line per order would cost more than the deduction itself. Set `RUST_LOG`
//! (for example `RUST_LOG=stocklock=debug,tower_http=debug`) to see each one.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter used when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber, writing to `sink`.
///
/// Safe to call more than once (tests do): later calls are ignored.
pub fn init<W>(sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .try_init();
}
