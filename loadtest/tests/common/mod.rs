//! What the load tester's test binaries share: a real stocklock instance
//! started in this process on port 0, options parsed exactly as the binary
//! parses them, the typed report's phases by label, and (in [`cluster`]) a
//! lock-server cluster of the test's own.
//!
//! Tests assert on the typed [`Report`] — `phase.verdict.oversold_units`,
//! not `json["verdict"]["oversold_units"]` — so a renamed field breaks the
//! build, not a test at run time. One test pins the JSON field names
//! themselves (`end_to_end.rs`), since outside tools read those.
//!
//! Each binary uses a part of this module; the rest is dead code there.
#![allow(dead_code)]

pub mod cluster;

use std::ffi::OsString;

use clap::Parser;
use loadtest::cli::{Cli, Command, RunArgs};
use loadtest::report::{PhaseReport, Report};
use loadtest::verdict::Assessment;
use stocklock::config::Config;
use stocklock::startup::{Application, Running};

/// A stocklock instance on port 0, with the default settings, against the
/// real PostgreSQL, Redis and etcd that `scripts/services start` runs.
pub async fn spawn_instance() -> Running {
    spawn_instance_with(|_| {}).await
}

/// [`spawn_instance`], its settings changed by `configure` first (a
/// cluster's lock servers, say).
pub async fn spawn_instance_with(configure: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::defaults();
    config.port = 0;
    config.db_max_connections = 10;
    configure(&mut config);
    let app = Application::build(&config)
        .await
        .expect("stocklock did not start: are PostgreSQL, Redis and etcd running? (scripts/services start)");
    app.spawn()
}

/// `loadtest run …`'s options, parsed from `argv` (which starts with the
/// program's name) as the binary parses them.
pub fn run_args<I, T>(argv: I) -> RunArgs
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::parse_from(argv).command {
        Command::Run(args) => args,
        Command::Raw(_) | Command::Bench(_) => unreachable!("a run"),
    }
}

/// The phase of `report` labelled `label` (in `basic`, a backend's name).
pub fn phase<'a>(report: &'a Report, label: &str) -> &'a PhaseReport {
    report
        .phases
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no phase `{label}` in {report:#?}"))
}

/// Phase `label` of `report` oversold nothing, had no overlapping holds,
/// and was judged safe.
pub fn assert_safe(report: &Report, label: &str) {
    let safe = phase(report, label);
    assert_eq!(safe.verdict.oversold_units, 0, "{safe:#?}");
    assert_eq!(safe.verdict.overlapping_holds, 0, "{safe:#?}");
    assert_eq!(safe.assessment, Assessment::Safe, "{safe:#?}");
}
