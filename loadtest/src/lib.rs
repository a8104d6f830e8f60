//! The stocklock load tester: hammers one or more service instances, one
//! lock backend at a time, and proves from the database's ledger which
//! backends oversold.
//!
//! This file only declares the modules and re-exports the entry points.
//! They form layers, and every dependency points one way — from the buyers
//! ([`load`]) up through the judge ([`verdict`]), the [`scenario`]s and the
//! [`runner`], which emits events, to the views ([`dashboard`]), which only
//! subscribe. The judge sits below the runner, not above it: it is pure
//! functions of a phase's figures, and only its display is a view.
//!
//! The layers, row by row: `docs/architecture.md#the-load-tester-loadtestsrc`.

pub mod app;
pub mod bench;
pub mod cli;
pub mod client;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod explain;
pub mod faults;
pub mod http;
pub mod i18n;
pub mod ledger;
pub mod load;
pub mod order;
pub mod pace;
pub mod raw;
pub mod report;
pub mod retry;
pub mod runner;
pub mod scenario;
pub mod stats;
pub mod timeline;
pub mod verdict;

pub use app::{run, run_with_events};
pub use error::RunError;
