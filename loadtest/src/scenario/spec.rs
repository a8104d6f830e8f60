//! One phase to run, as data: a backend, the settings on top of the run's,
//! faults on the targets, a schedule of lock server faults, the question
//! for the room. Every scenario builds a list of these; the runner runs
//! whatever list it is given, so a new scenario needs no change to it.
//!
//! In a file of its own, below the scenarios: `scenario/mod.rs` picks a
//! scenario's phases from its child files, and those children build this
//! type. Were it defined in `mod.rs`, the children would import their
//! parent and the parent its children — a circle.

use stocklock_api::{Backend, Faults, LockSettingsUpdate};

use crate::faults::ServerFault;
use crate::i18n::Msg;
use crate::verdict::Expectation;

/// One phase to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    /// What the table calls it: `redis` in `basic`, `redis fenced` on the
    /// ladder (in English, the report's `label`, which names it).
    pub label: Msg,
    pub backend: Backend,
    /// Applied on top of the run's settings.
    pub settings: LockSettingsUpdate,
    /// Set on every target for the phase (none: all cleared).
    pub faults: Faults,
    /// Overrides the default expectation of the backend.
    pub expectation: Option<Expectation>,
    /// Overrides the run's stock per SKU.
    pub stock: Option<i64>,
    /// Done to the lock servers before the load (a topology reset).
    pub prepare: Vec<ServerFault>,
    /// Lock servers killed and started during the load.
    pub schedule: Vec<ServerFault>,
    /// Overrides the run's request budget: while a lock server is down,
    /// refusals come back in microseconds and would spend it in a blink.
    pub requests: Option<u64>,
    /// What the instructor asks the room before it runs (`--pace` shows
    /// it on the dashboard).
    pub question: Msg,
}

#[cfg(test)]
impl PhaseSpec {
    /// How many steps of the schedule do `action`.
    pub(super) fn steps(&self, action: crate::faults::ServerAction) -> usize {
        self.schedule.iter().filter(|s| s.action == action).count()
    }
}
