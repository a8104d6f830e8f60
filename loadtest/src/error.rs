//! Why a run could not be completed, as opposed to a backend failing it.
//!
//! A backend that oversold is not an error: it is a verdict in the report,
//! and the process exits 1. A `RunError` means the run itself could not be
//! carried out (a target unreachable, a switch that did not take, a script
//! that failed) and the process exits 2.
//!
//! It lives in a file of its own, low in the crate, because the runner, the
//! fault schedule and the command-line front end all return it: kept in
//! `lib.rs`, every one of them would import the crate root that declares
//! them, and the root would import them back.

use stocklock_api::Backend;

use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("target {target} did not switch to {wanted}: it reports {got}")]
    SwitchDidNotTake {
        target: String,
        wanted: Backend,
        got: Backend,
    },
    #[error("reading the ledger from PostgreSQL failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("invalid options: {0}")]
    Options(String),
    #[error("the dashboard cannot listen on {addr}: {source}")]
    Dashboard {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}
