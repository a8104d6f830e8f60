//! stocklock: a stock service that deducts inventory under a lock whose
//! backend can be switched while it runs, so that a workshop can *measure*
//! which locks keep stock from being oversold.
//!
//! The modules form layers, lowest first — [`domain`], [`store`], [`lock`],
//! [`switch`], [`order`], [`http`] — and each imports only those below it, so
//! each file reads on its own: to understand the lock you never read the
//! HTTP layer. `tests/repo` checks that no module imports one that imports
//! it back.
//!
//! The layers, row by row: `docs/architecture.md#the-service-src`.

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
