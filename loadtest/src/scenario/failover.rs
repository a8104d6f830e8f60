//! `failover`: the article's cluster claims, tested. A single Redis is a
//! single point of failure, so it gets a replica and Sentinels; etcd gets
//! three members. Which of them still excludes through a failover?
//!
//! * **Redis behind Sentinels**, checked and renewed, unfenced then fenced.
//!   Replication is cut (`scripts/cluster cut redis-link`), so the locks the
//!   primary grants from then on never reach the replica; a second later the
//!   Sentinels promote the replica. The instances follow the new master, find
//!   no lock there, and a second buyer gets one while the holder on the old
//!   primary still works. Its check before commit asks the old primary —
//!   which still says yes. Unfenced: overlapping holds, oversold units.
//!   Fenced: the promoted replica's counter went back in time with it, its
//!   tokens are refused until it catches up, and nothing is oversold.
//!   Critical sections outlast the TTL (renewal keeps them) so that a holder
//!   is always at work when the failover lands, and the TTL is short so that
//!   the lock replicated just before the cut has expired by then.
//! * **etcd, three members**, unfenced: the leader is killed mid-load. Raft
//!   elects another; the locks live in the replicated log, so no second
//!   holder ever appears — a burst of 503s during the election, and
//!   `lock_lost` for holders whose session could not be renewed meanwhile.
//! * **Redlock, five masters**, unfenced: one master killed — a majority
//!   still forms, nothing changes; then three — no majority, a clear 503 at
//!   once, and sales again when they are back (empty: without persistence
//!   they forgot every lock, which is safe here only because no holder works
//!   that long — `redlock.rs` says when it is not).

use stocklock_api::{Backend, Faults, LockSettingsUpdate};

use super::spec::PhaseSpec;
use crate::faults::{ServerAction, ServerFault, Via};
use crate::verdict::Expectation;

pub fn phases() -> Vec<PhaseSpec> {
    vec![
        redis_failover(false),
        redis_failover(true),
        etcd_leader_killed(),
        redlock_masters_killed(
            "redlock one master killed",
            "redlock-1",
            "One master of five dies. Is it still a lock?",
        ),
        redlock_masters_killed(
            "redlock three masters killed",
            "redlock-1..3",
            "Three masters of five die. Still a lock? Do orders stop?",
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
        label: format!("redis failover {}", if fencing { "fenced" } else { "unfenced" }),
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
        question: if fencing {
            "The same failover, now with fencing tokens. Can the second holder still do harm?"
        } else {
            "Replication is cut and the replica promoted while a holder works. What does the next buyer see?"
        },
    }
}

fn etcd_leader_killed() -> PhaseSpec {
    PhaseSpec {
        label: "etcd leader killed".to_owned(),
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
        question: "etcd's leader dies mid-load. Two holders, or a pause?",
    }
}

fn redlock_masters_killed(label: &str, masters: &'static str, question: &'static str) -> PhaseSpec {
    PhaseSpec {
        label: label.to_owned(),
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
            assert_eq!(may, phase.label == "redis failover unfenced", "{}", phase.label);
            let (kills, starts) = (phase.steps(ServerAction::Kill), phase.steps(ServerAction::Start));
            assert_eq!(kills, starts, "{}", phase.label);
        }
    }
}
