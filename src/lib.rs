//! stocklock: a stock service that deducts inventory under a lock whose
//! backend can be switched while it runs, so that a workshop can *measure*
//! which locks keep stock from being oversold.
//!
//! The layers, lowest first; each imports only those before it
//! (`tests/repo` checks that no module imports one that imports it back):
//!
//! 1. [`domain`] — SKU, quantity, stock, fencing token, validated once.
//! 2. [`store`] — every SQL statement, the fence's claim and the advisory
//!    lock included. [`metrics`] — what `GET /metrics` counts.
//! 3. [`lock`] — one trait, a file per backend, and one way in
//!    ([`lock::Lock::acquire`]), each backend explaining how it fails.
//! 4. [`error`] — the one error type the layers' errors meet in;
//!    [`switch`] — the active backend, pinned per request; [`faults`].
//! 5. [`order`] — the critical section, and its fencing policy.
//! 6. [`http`] — JSON in, validated values down, one error mapping out.
//!
//! `docs/architecture.md` draws the same picture for the load tester.

pub mod access;
pub mod config;
pub mod domain;
pub mod error;
pub mod faults;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod order;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod switch;
pub mod telemetry;
