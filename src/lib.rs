//! stocklock: a stock service that deducts inventory under a lock whose
//! backend can be switched while it runs, so that a workshop can *measure*
//! which locks keep stock from being oversold.
//!
//! How a request flows, and where to read about each step:
//!
//! 1. [`http`] turns JSON into validated [`domain`] values, or into a 4xx.
//! 2. [`orders`] pins the active lock backend for the whole request
//!    ([`lock::switch`]), takes the lock, and runs the deduction.
//! 3. [`store`] holds every SQL statement: the deliberately naive
//!    read-check-write, the atomic conditional `UPDATE`, and the audit that
//!    reads the verdict straight out of the ledger.
//! 4. [`lock`] defines the one trait every backend implements, one file per
//!    backend, each explaining how that lock fails.
//! 5. [`error`] is the one error type; [`http::error`] maps it to responses.

pub mod config;
pub mod deduct;
pub mod domain;
pub mod error;
pub mod faults;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod orders;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
