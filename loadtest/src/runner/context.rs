//! What every phase of a run shares: the targets, the load plan, the run's
//! lock settings, where to read the ledger, and where to tell what happens.
//!
//! The runner is given this, already built: the command-line front end
//! (`app.rs`) parses the options, reaches the targets and picks the
//! scenario's phases. So the runner knows no option, no scenario by name
//! and no view — only phases to run, targets to run them on, and an event
//! log to emit into. That is what lets a test (or another front end) drive
//! it directly.

use std::sync::Arc;

use sqlx::PgPool;
use stocklock_api::{Backend, LockSettingsUpdate};

use crate::client::Target;
use crate::events::EventLog;
use crate::faults::Scripts;
use crate::i18n::Lang;
use crate::load::LoadPlan;
use crate::pace::Pace;
use crate::scenario::PhaseSpec;
use crate::verdict::{self, Expectation};

/// What every phase of a run shares.
pub struct Runner<'a> {
    /// The scenario's name, for the report: the phases themselves come as
    /// data, whatever scenario made them.
    pub scenario: String,
    /// `scripts/services` and `scripts/cluster`, for phases that break
    /// lock servers.
    pub scripts: &'a Scripts,
    pub targets: Arc<[Target]>,
    pub plan: &'a LoadPlan,
    /// Units per SKU, unless a phase says otherwise.
    pub stock: i64,
    /// The run's settings; a phase's own go on top.
    pub settings: LockSettingsUpdate,
    /// For the report's header (it is also in `settings`).
    pub critical_section_ms: u64,
    /// PostgreSQL read directly, to cross-check the service's ledger.
    pub database: Option<&'a PgPool>,
    pub must_be_safe: Option<&'a [Backend]>,
    pub show_progress: bool,
    /// Where everything that happens is told: the plan, each phase, its
    /// faults, its verdict, the end. Nobody may be listening.
    pub events: &'a EventLog,
    /// Whether someone watches the run as it runs (`--dashboard`, `--chart`,
    /// `--pace`): then the buyers' answers are also counted live and the
    /// ledger is read every tick. Off otherwise, so that an unwatched run
    /// puts no extra load on the admin API.
    pub ticks: bool,
    /// With `--pace`: each phase waits for the instructor's go.
    pub pace: Option<&'a Pace>,
    /// `--title`: what the page calls the run (the lesson).
    pub title: Option<String>,
    /// The language of the questions and the `why`s (`--lang`, or the
    /// locale's), and `--lang` itself if it was given (the page follows it).
    pub lang: Lang,
    pub chosen_lang: Option<Lang>,
}

impl Runner<'_> {
    /// What is expected of `spec`'s backend: its own expectation, or the
    /// default for its backend on this many targets.
    pub fn expectation(&self, spec: &PhaseSpec) -> Expectation {
        spec.expectation
            .unwrap_or_else(|| verdict::expectation(spec.backend, self.targets.len(), self.must_be_safe))
    }

    /// Units on sale in `spec`, over all SKUs.
    pub fn units(&self, spec: &PhaseSpec) -> i64 {
        spec.stock.unwrap_or(self.stock) * self.plan.skus.len() as i64
    }
}
