//! Scenarios: what each phase of a run sets up — a backend, the ladder's
//! settings, faults — as data. The runner (`lib.rs`, `phase.rs`) knows no
//! scenario by name: it runs the list of [`PhaseSpec`]s it is given, the way
//! Jepsen's nemeses are a schedule of named operations.
//!
//! * `basic` (the default): one phase per `--backends` entry, no fault.
//! * `ladder`: the safety ladder under holders paused past their TTL, for
//!   redis and etcd — naive, checked, checked + renewal, fenced — with
//!   `postgres` as a control, then a `long-work` pair: work longer than the
//!   TTL with renewal off and on (renewal is an availability lesson; fencing
//!   a safety one).
//! * `kill-redis`: the Redis that `scripts/services` started is killed
//!   (SIGKILL) two seconds into the load and started again two seconds later
//!   — empty, every lock and fencing counter forgotten. Expected: 503s while
//!   it is down, sales after, no oversell and no lost order (fenced).
//! * `kill-etcd`: the same for etcd, which comes back with its data — and
//!   with the instances' old session leases, which it restores with a full
//!   TTL: locks held when it died stay held until those expire, a TTL after
//!   the restart; the instances start new sessions meanwhile. Expected: 503s
//!   while it is down, a wait of about one TTL, sales after, no oversell.
//! * `failover`: the clustered servers of `scripts/cluster` — a Redis behind
//!   Sentinels failed over with a lock in flight, unfenced and fenced, and a
//!   three-member etcd whose leader is killed (see [`failover`]).

mod failover;

use std::fmt;
use std::str::FromStr;

use stocklock_api::{Backend, Faults, LockSettingsUpdate, PauseHolder, PausePoint};

use crate::faults::{ServerAction, ServerFault, Via};
use crate::verdict::Expectation;

/// The scenarios `--scenario` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Basic,
    Ladder,
    KillRedis,
    KillEtcd,
    Failover,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Basic => "basic",
            Scenario::Ladder => "ladder",
            Scenario::KillRedis => "kill-redis",
            Scenario::KillEtcd => "kill-etcd",
            Scenario::Failover => "failover",
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
            other => Err(format!(
                "unknown scenario `{other}`, expected basic, ladder, kill-redis, kill-etcd or failover"
            )),
        }
    }
}

/// One phase to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    /// What the table calls it: `redis` in `basic`, `redis fenced` on the
    /// ladder.
    pub label: String,
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
}

/// The phases of `scenario`; `backends` is `--backends` (used by `basic`).
pub fn phases(scenario: Scenario, backends: &[Backend]) -> Vec<PhaseSpec> {
    match scenario {
        Scenario::Basic => backends.iter().map(|&b| basic(b)).collect(),
        Scenario::Ladder => ladder(),
        Scenario::KillRedis => vec![killed(Backend::Redis, "redis")],
        Scenario::KillEtcd => vec![killed(Backend::Etcd, "etcd")],
        Scenario::Failover => failover::phases(),
    }
}

fn basic(backend: Backend) -> PhaseSpec {
    PhaseSpec {
        label: backend.to_string(),
        backend,
        settings: LockSettingsUpdate::default(),
        faults: Faults::default(),
        expectation: None,
        stock: None,
        prepare: Vec::new(),
        schedule: Vec::new(),
        requests: None,
    }
}

/// A rung: which checks are on, and whether the rung must be safe.
struct Rung {
    name: &'static str,
    check_before_commit: bool,
    renewal: bool,
    fencing: bool,
}

const RUNGS: [Rung; 4] = [
    Rung {
        name: "naive",
        check_before_commit: false,
        renewal: false,
        fencing: false,
    },
    Rung {
        name: "checked",
        check_before_commit: true,
        renewal: false,
        fencing: false,
    },
    Rung {
        name: "renewed",
        check_before_commit: true,
        renewal: true,
        fencing: false,
    },
    Rung {
        name: "fenced",
        check_before_commit: true,
        renewal: true,
        fencing: true,
    },
];

/// Units per phase on the ladder: few, so that etcd's 2 s minimum lease
/// (every pause must outlast it) keeps each phase short.
const LADDER_STOCK: i64 = 20;

fn ladder() -> Vec<PhaseSpec> {
    // (backend, TTL, pause): every pause outlasts the TTL. etcd's minimum
    // lease is 2 s.
    let locks = [(Backend::Redis, 500, 800), (Backend::Etcd, 2_000, 2_600)];
    let mut phases = Vec::new();
    for (backend, ttl_ms, pause_ms) in locks {
        for rung in &RUNGS {
            phases.push(rung_phase(backend, rung, ttl_ms, pause_ms));
        }
    }
    let mut control = rung_phase(Backend::Postgres, &RUNGS[3], 500, 800);
    control.label = "postgres control".to_owned();
    phases.push(control);
    phases.extend([long_work(false), long_work(true)]);
    phases
}

fn rung_phase(backend: Backend, rung: &Rung, ttl_ms: u64, pause_ms: u64) -> PhaseSpec {
    PhaseSpec {
        label: format!("{backend} {}", rung.name),
        backend,
        settings: LockSettingsUpdate {
            ttl_ms: Some(ttl_ms),
            // Below the default request timeout (30 s): a buyer that waits
            // too long gets a 503, not a client-side timeout.
            acquire_timeout_ms: Some(15_000),
            check_before_commit: Some(rung.check_before_commit),
            renewal: Some(rung.renewal),
            fencing: Some(rung.fencing),
            ..LockSettingsUpdate::default()
        },
        faults: paused_holders(pause_ms),
        expectation: Some(if rung.fencing {
            Expectation::MustBeSafe
        } else {
            Expectation::MayOversell
        }),
        stock: Some(LADDER_STOCK),
        prepare: Vec::new(),
        schedule: Vec::new(),
        requests: None,
    }
}

/// One holder in four stalls after its last check, before its write.
fn paused_holders(pause_ms: u64) -> Faults {
    Faults {
        pause_holder: Some(PauseHolder {
            probability: 0.25,
            pause_ms,
            at: PausePoint::BeforeWrite,
        }),
        ..Faults::default()
    }
}

/// Redis, work three times its TTL, no fault.
fn long_work(renewal: bool) -> PhaseSpec {
    PhaseSpec {
        label: format!(
            "redis long-work {}",
            if renewal { "renewed" } else { "unrenewed" }
        ),
        backend: Backend::Redis,
        settings: LockSettingsUpdate {
            ttl_ms: Some(300),
            acquire_timeout_ms: Some(15_000),
            critical_section_ms: Some(900),
            check_before_commit: Some(true),
            renewal: Some(renewal),
            fencing: Some(true),
            ..LockSettingsUpdate::default()
        },
        faults: Faults::default(),
        expectation: Some(Expectation::MustBeSafe),
        stock: Some(5),
        prepare: Vec::new(),
        schedule: Vec::new(),
        requests: None,
    }
}

/// A fenced lock whose server is killed at 2 s and started again at 4 s.
fn killed(backend: Backend, server: &'static str) -> PhaseSpec {
    PhaseSpec {
        label: format!("{backend} killed, fenced"),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_one_plain_phase_per_backend() {
        let phases = phases(Scenario::Basic, &[Backend::None, Backend::Redis]);
        let labels: Vec<&str> = phases.iter().map(|p| p.label.as_str()).collect();
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
                let kills = phase
                    .schedule
                    .iter()
                    .filter(|s| s.action == ServerAction::Kill)
                    .count();
                let starts = phase
                    .schedule
                    .iter()
                    .filter(|s| s.action == ServerAction::Start)
                    .count();
                assert_eq!((kills, starts), (1, 1), "{}", phase.label);
                assert_eq!(phase.schedule.last().unwrap().action, ServerAction::Start);
            }
        }
    }

    #[test]
    fn scenario_names_round_trip() {
        for scenario in [
            Scenario::Basic,
            Scenario::Ladder,
            Scenario::KillRedis,
            Scenario::KillEtcd,
            Scenario::Failover,
        ] {
            assert_eq!(scenario.as_str().parse::<Scenario>(), Ok(scenario));
        }
        assert!("chaos".parse::<Scenario>().is_err());
    }
}
