//! The runner: runs a list of phases on the targets, one after the other,
//! and returns the report — emitting everything that happens into the
//! run's [`EventLog`](crate::events::EventLog) as it goes.
//!
//! It sits above the targets, the buyers, the scenarios' data and the
//! judge, and below every view: it knows no option, no scenario by name,
//! and no dashboard. Whoever wants to watch subscribes to the event log.
//!
//! * [`context`]: what every phase shares ([`Runner`]);
//! * `phase.rs`: one phase, from a clean start to its verdict;
//! * `admin.rs`: the drains, switches, resets and ledger reads around it;
//! * `ticker.rs`: a phase told as events, ticked while it runs;
//! * `follow.rs`: the ledger read page by page for the ticks.

mod admin;
pub mod context;
mod follow;
mod phase;
mod ticker;

pub use context::Runner;

use crate::error::RunError;
use crate::events::{Event, PlannedPhase};
use crate::report::model::{FORMAT_VERSION, Report};
use crate::scenario::PhaseSpec;

/// Runs `specs` in order and returns the report. `Err` means the run itself
/// failed (a target unreachable, say); a backend that oversold is in the
/// report, with `passed == false` if it must not have.
pub async fn run(runner: &Runner<'_>, specs: &[PhaseSpec]) -> Result<Report, RunError> {
    runner.events.emit(plan(runner, specs));
    let mut phases = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        phases.push(phase::run(runner, index, spec).await?);
    }
    let plan = runner.plan;
    let report = Report::new(
        runner.scenario.clone(),
        runner.targets.iter().map(|t| t.base.clone()).collect(),
        plan.model.describe(),
        (plan.skus.len(), runner.stock),
        plan.quantity.to_string(),
        runner.critical_section_ms,
        phases,
    );
    runner.events.emit(Event::Done {
        passed: report.passed,
    });
    Ok(report)
}

/// What is announced before anything runs.
fn plan(runner: &Runner<'_>, specs: &[PhaseSpec]) -> Event {
    Event::Run {
        format_version: FORMAT_VERSION,
        scenario: runner.scenario.clone(),
        model: runner.plan.model.describe().text(runner.lang),
        model_i18n: runner.plan.model.describe().every(),
        targets: runner.targets.iter().map(|t| t.base.clone()).collect(),
        phases: specs
            .iter()
            .map(|spec| PlannedPhase {
                label: spec.label.to_string(),
                label_i18n: spec.label.every(),
                backend: spec.backend,
                expectation: runner.expectation(spec),
                stock: runner.units(spec),
                question: spec.question.text(runner.lang),
                question_i18n: spec.question.every(),
            })
            .collect(),
        paced: runner.pace.is_some(),
        title: runner.title.clone(),
        lang: runner.chosen_lang,
    }
}
