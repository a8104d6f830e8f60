//! Scenarios: what each phase of a run sets up — a backend, the ladder's
//! settings, faults on a schedule — as data ([`PhaseSpec`]). The runner
//! (`runner/`) knows no scenario by name: it runs the list of phases it is
//! given, the way Jepsen's nemeses are a schedule of named operations, so a
//! new experiment is new data rather than a new branch in the runner.
//!
//! `basic` (one phase per `--backends` entry, no fault), `kill-redis` and
//! `kill-etcd` (a fenced lock whose server is killed, then started again)
//! are defined here; `ladder.rs`, `failover.rs` and `partition.rs` have files
//! of their own. What each sets up and shows: `docs/scenarios.md`.

mod failover;
mod ladder;
mod partition;
mod spec;

use std::fmt;
use std::str::FromStr;

use stocklock_api::{Backend, Faults, LockSettingsUpdate};

use crate::faults::{ServerAction, ServerFault, Via};
use crate::i18n::Msg;
use crate::verdict::Expectation;

// The type every scenario builds lives in a file of its own, so that the
// scenarios below (which build it) and this file (which picks them) never
// import each other.
pub use spec::PhaseSpec;

/// The scenarios `--scenario` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Basic,
    Ladder,
    KillRedis,
    KillEtcd,
    Failover,
    Partition,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Basic => "basic",
            Scenario::Ladder => "ladder",
            Scenario::KillRedis => "kill-redis",
            Scenario::KillEtcd => "kill-etcd",
            Scenario::Failover => "failover",
            Scenario::Partition => "partition",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(Scenario::Basic),
            "ladder" => Ok(Scenario::Ladder),
            "kill-redis" => Ok(Scenario::KillRedis),
            "kill-etcd" => Ok(Scenario::KillEtcd),
            "failover" => Ok(Scenario::Failover),
            "partition" => Ok(Scenario::Partition),
            other => Err(format!(
                "unknown scenario `{other}`, expected basic, ladder, kill-redis, kill-etcd, failover or partition"
            )),
        }
    }
}

/// The phases of `scenario`; `backends` is `--backends` (used by `basic`).
pub fn phases(scenario: Scenario, backends: &[Backend]) -> Vec<PhaseSpec> {
    match scenario {
        Scenario::Basic => backends.iter().map(|&b| basic(b)).collect(),
        Scenario::Ladder => ladder::phases(),
        Scenario::KillRedis => vec![killed(Backend::Redis, "redis")],
        Scenario::KillEtcd => vec![killed(Backend::Etcd, "etcd")],
        Scenario::Failover => failover::phases(),
        Scenario::Partition => partition::phases(),
    }
}

fn basic(backend: Backend) -> PhaseSpec {
    PhaseSpec {
        label: Msg::new("phase-basic").arg("backend", backend),
        backend,
        settings: LockSettingsUpdate::default(),
        faults: Faults::default(),
        expectation: None,
        stock: None,
        prepare: Vec::new(),
        schedule: Vec::new(),
        requests: None,
        question: Msg::new(match backend {
            Backend::None => "q-none",
            Backend::Local => "q-local",
            Backend::Redis => "q-redis",
            Backend::Etcd => "q-etcd",
            Backend::Postgres => "q-postgres",
            Backend::Redlock => "q-redlock",
            Backend::Atomic => "q-atomic",
            Backend::Batch => "q-batch",
        }),
    }
}

/// A fenced lock whose server is killed at 2 s and started again at 4 s.
fn killed(backend: Backend, server: &'static str) -> PhaseSpec {
    PhaseSpec {
        label: Msg::new("phase-killed").arg("backend", backend),
        backend,
        settings: LockSettingsUpdate {
            acquire_timeout_ms: Some(5_000),
            check_before_commit: Some(true),
            renewal: Some(true),
            fencing: Some(true),
            ..LockSettingsUpdate::default()
        },
        faults: Faults::default(),
        expectation: Some(Expectation::MustBeSafe),
        stock: Some(300),
        prepare: Vec::new(),
        schedule: vec![
            ServerFault {
                at_s: 2.0,
                action: ServerAction::Kill,
                server,
                via: Via::Services,
            },
            ServerFault {
                at_s: 4.0,
                action: ServerAction::Start,
                server,
                via: Via::Services,
            },
        ],
        requests: Some(1_000_000),
        question: Msg::new("q-killed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn basic_is_one_plain_phase_per_backend() {
        let phases = phases(Scenario::Basic, &[Backend::None, Backend::Redis]);
        let labels: Vec<String> = phases.iter().map(|p| p.label.to_string()).collect();
        assert_eq!(labels, ["none", "redis"]);
        assert!(
            phases
                .iter()
                .all(|p| p.faults == Faults::default() && p.expectation.is_none())
        );
    }

    #[test]
    fn on_the_ladder_only_the_fenced_rungs_must_be_safe_and_every_pause_outlasts_its_ttl() {
        for phase in phases(Scenario::Ladder, &[]) {
            let fenced = phase.settings.fencing == Some(true);
            assert_eq!(
                phase.expectation == Some(Expectation::MustBeSafe),
                fenced,
                "{}",
                phase.label
            );
            if let Some(pause) = phase.faults.pause_holder {
                assert!(pause.pause_ms > phase.settings.ttl_ms.unwrap(), "{}", phase.label);
            }
        }
    }

    #[test]
    fn a_killed_server_is_always_started_again() {
        for scenario in [Scenario::KillRedis, Scenario::KillEtcd] {
            for phase in phases(scenario, &[]) {
                let (kills, starts) = (phase.steps(ServerAction::Kill), phase.steps(ServerAction::Start));
                assert_eq!((kills, starts), (1, 1), "{}", phase.label);
                assert_eq!(phase.schedule.last().unwrap().action, ServerAction::Start);
            }
        }
    }

    #[test]
    fn every_phase_asks_the_room_a_question_of_its_own() {
        let scenarios = [
            Scenario::Ladder,
            Scenario::KillRedis,
            Scenario::Failover,
            Scenario::Partition,
        ];
        for scenario in scenarios {
            for phase in phases(scenario, &[]) {
                for lang in Lang::ALL {
                    let question = phase.question.text(lang);
                    assert!(question.ends_with(['?', '？']), "{}: {question}", phase.label);
                }
            }
        }
        // Each backend of `basic` asks its own; on the ladder each rung
        // asks one, whatever the backend.
        let basic = phases(Scenario::Basic, &Backend::ALL);
        let asked: std::collections::HashSet<&str> = basic.iter().map(|p| p.question.id()).collect();
        assert_eq!(asked.len(), basic.len());
        let ladder = phases(Scenario::Ladder, &[]);
        let rungs: std::collections::HashSet<&str> = ladder.iter().map(|p| p.question.id()).collect();
        assert!(rungs.len() >= 6, "{rungs:?}");
    }

    #[test]
    fn scenario_names_round_trip() {
        for scenario in [
            Scenario::Basic,
            Scenario::Ladder,
            Scenario::KillRedis,
            Scenario::KillEtcd,
            Scenario::Failover,
            Scenario::Partition,
        ] {
            assert_eq!(scenario.as_str().parse::<Scenario>(), Ok(scenario));
        }
        assert!("chaos".parse::<Scenario>().is_err());
    }
}
