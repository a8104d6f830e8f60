//! The stocklock load tester: hammers one or more service instances, one
//! lock backend at a time, and proves from the database's ledger which
//! backends oversold.
//!
//! This file only declares the modules and re-exports the entry points.
//! Every dependency points one way: a module uses only modules in its own
//! row or the rows above, never below, and never one that uses it back
//! (`docs/architecture.md` draws the layers).
//!
//! | layer | concern | files |
//! |---|---|---|
//! | targets and buyers | talking to an instance; counts, latency, the live tick window | [`http`], [`client`], [`stats`] |
//! | | the closed and open load models; why a run could not run | [`load`], [`error`] |
//! | | a phase's faults, on the targets and the lock servers | [`faults`] |
//! | the judge | the three-way cross-check and its words; PostgreSQL read directly; why | [`verdict`], [`ledger`], [`explain`] |
//! | scenarios | what each phase sets up, as data | [`scenario`] |
//! | plain data | the report's figures; the run's events and their log; `--pace`'s go | [`report::model`], [`events`], [`pace`] |
//! | the runner | runs the phases, emits events; knows no view, no scenario by name | [`runner`] |
//! | views | the table; the live dashboard and the HTML report, which only subscribe | [`report::table`], [`dashboard`] |
//! | front ends | options; options to a report; raw capacity (vs wrk) | [`cli`], [`app`], [`raw`] |
//!
//! The judge sits below the runner, not above it: it is pure functions of
//! a phase's figures, which the runner calls to finish each phase's report
//! (and the scenarios already name its `Expectation`). Only its *display*
//! — the table — is a view.

pub mod app;
pub mod cli;
pub mod client;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod explain;
pub mod faults;
pub mod http;
pub mod ledger;
pub mod load;
pub mod pace;
pub mod raw;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod stats;
pub mod verdict;

pub use app::{run, run_with_events};
pub use error::RunError;
