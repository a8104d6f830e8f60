//! The API tests: one test binary (one link, one `cargo test` target) whose
//! modules each cover one concern. Every test starts the real application on
//! port 0 against real PostgreSQL, Redis and etcd (`scripts/services start`),
//! and works on SKUs of its own, so tests run in parallel without sharing
//! mutable fixtures. `TEST_LOG=1` shows the service's logs.

mod helpers;
mod locks;
mod servers;

mod access;
mod api_contract;
mod bad_input;
mod batch;
mod connections;
mod db_outage;
mod idempotency;
mod ladder;
mod ledger_pages;
mod lifecycle;
mod lock_contract;
mod lock_promises;
mod metrics;
mod openapi;
mod outage;
mod overload;
mod overselling;
mod switching;
mod timeline;
mod waiting;
