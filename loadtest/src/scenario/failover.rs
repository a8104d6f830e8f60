//! `failover`: the article's cluster claims, tested. A single Redis is a
//! single point of failure, so it gets a replica and Sentinels; etcd gets
//! three members, Redlock five independent masters. Which of them still
//! excludes through a failover? Each phase stages the failure the cluster
//! is there to survive: Redis's replication cut and its replica promoted
//! while a holder works (checked and renewed, unfenced then fenced), etcd's
//! leader killed mid-load, Redlock's masters killed — one, then three.
//!
//! What each phase sets up, and what it shows:
//! `docs/scenarios.md#failover-clusters-that-fail-over`.

use stocklock_api::{Backend, Faults, LockSettingsUpdate};

use super::spec::PhaseSpec;
use crate::faults::{ServerAction, ServerFault, Via};
use crate::i18n::Msg;
use crate::verdict::Expectation;

pub fn phases() -> Vec<PhaseSpec> {
    vec![
        redis_failover(false),
        redis_failover(true),
        etcd_leader_killed(),
        redlock_masters_killed(
            Msg::new("phase-redlock-one-killed"),
            "redlock-1",
            Msg::new("q-redlock-one-killed"),
        ),
        redlock_masters_killed(
            Msg::new("phase-redlock-three-killed"),
            "redlock-1..3",
            Msg::new("q-redlock-three-killed"),
        ),
    ]
}

fn step(at_s: f64, action: ServerAction, server: &'static str) -> ServerFault {
    ServerFault {
        at_s,
        action,
        server,
        via: Via::Cluster,
    }
}

fn redis_failover(fencing: bool) -> PhaseSpec {
    PhaseSpec {
        label: Msg::new(if fencing {
            "phase-failover-fenced"
        } else {
            "phase-failover-unfenced"
        }),
        backend: Backend::Redis,
        settings: LockSettingsUpdate {
            ttl_ms: Some(2_000),
            acquire_timeout_ms: Some(15_000),
            critical_section_ms: Some(2_500),
            check_before_commit: Some(true),
            renewal: Some(true),
            fencing: Some(fencing),
            ..LockSettingsUpdate::default()
        },
        faults: Faults::default(),
        expectation: Some(if fencing {
            Expectation::MustBeSafe
        } else {
            Expectation::MayOversell
        }),
        stock: Some(6),
        // A primary that is the primary again, and a replica in sync.
        prepare: vec![step(0.0, ServerAction::Reset, "sentinel")],
        schedule: vec![
            step(3.0, ServerAction::Cut, "redis-link"),
            step(4.0, ServerAction::Failover, "redis"),
        ],
        requests: None,
        question: Msg::new(if fencing {
            "q-failover-fenced"
        } else {
            "q-failover-unfenced"
        }),
    }
}

fn etcd_leader_killed() -> PhaseSpec {
    PhaseSpec {
        label: Msg::new("phase-etcd-leader-killed"),
        backend: Backend::Etcd,
        settings: LockSettingsUpdate {
            acquire_timeout_ms: Some(5_000),
            check_before_commit: Some(true),
            renewal: Some(true),
            fencing: Some(false),
            ..LockSettingsUpdate::default()
        },
        faults: Faults::default(),
        expectation: Some(Expectation::MustBeSafe),
        stock: Some(200),
        // Every member up, whatever an earlier run left.
        prepare: vec![step(0.0, ServerAction::Start, "etcd3")],
        schedule: vec![
            step(2.0, ServerAction::Kill, "etcd-leader"),
            step(5.0, ServerAction::Start, "etcd3"),
        ],
        requests: Some(1_000_000),
        question: Msg::new("q-etcd-leader-killed"),
    }
}

fn redlock_masters_killed(label: Msg, masters: &'static str, question: Msg) -> PhaseSpec {
    PhaseSpec {
        label,
        backend: Backend::Redlock,
        settings: LockSettingsUpdate {
            acquire_timeout_ms: Some(5_000),
            check_before_commit: Some(true),
            fencing: Some(false),
            ..LockSettingsUpdate::default()
        },
        faults: Faults::default(),
        expectation: Some(Expectation::MustBeSafe),
        stock: Some(200),
        prepare: vec![step(0.0, ServerAction::Start, "redlock")],
        schedule: vec![
            step(2.0, ServerAction::Kill, masters),
            step(4.0, ServerAction::Start, "redlock"),
        ],
        requests: Some(1_000_000),
        question,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_unfenced_redis_failover_may_oversell_and_every_kill_is_undone() {
        for phase in phases() {
            let may = phase.expectation == Some(Expectation::MayOversell);
            assert_eq!(
                may,
                phase.label.to_string() == "redis failover unfenced",
                "{}",
                phase.label
            );
            let (kills, starts) = (phase.steps(ServerAction::Kill), phase.steps(ServerAction::Start));
            assert_eq!(kills, starts, "{}", phase.label);
        }
    }
}
