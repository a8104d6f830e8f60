//! `partition`: the article's claims about networks, tested. A Redis lock
//! "may be unsafe under a network partition"; etcd, built on Raft, "behaves
//! better". `scripts/cluster --net` puts every server and both service
//! instances (i1, i2) in network namespaces of their own, and a partition
//! drops every packet between two sides — PostgreSQL, the resource the
//! locks protect, stays reachable from both. Instance i1 is cut off with the
//! Redis primary (a split brain, unfenced then fenced), then with etcd's
//! leader (no quorum on its side, so never a second holder).
//!
//! What each phase sets up, and what it shows:
//! `docs/scenarios.md#partition-clusters-cut-apart`.

use stocklock_api::{Backend, Faults, LockSettingsUpdate};

use super::spec::PhaseSpec;
use crate::faults::{ServerAction, ServerFault, Via};
use crate::i18n::Msg;
use crate::verdict::Expectation;

/// When the partition starts, and when it is healed, from the start of the
/// load. The Sentinels need about three seconds to promote the replica; the
/// stock runs out during the split (or soon after the heal: the Sentinels
/// demote the old primary only some seconds later).
const CUT_AT_S: f64 = 2.0;
const HEAL_AT_S: f64 = 9.0;

pub fn phases() -> Vec<PhaseSpec> {
    vec![
        redis_split_brain(false),
        redis_split_brain(true),
        etcd_leader_cut_off(),
    ]
}

fn step(at_s: f64, action: ServerAction, server: &'static str) -> ServerFault {
    ServerFault {
        at_s,
        action,
        server,
        via: Via::Net,
    }
}

/// Cut `side` off at [`CUT_AT_S`], heal at [`HEAL_AT_S`].
fn cut_and_heal(side: &'static str) -> Vec<ServerFault> {
    vec![
        step(CUT_AT_S, ServerAction::Partition, side),
        step(HEAL_AT_S, ServerAction::Heal, "network"),
    ]
}

/// The ladder's third rung, with a short TTL: the lock held on the far side
/// when the network splits lingers (replicated, or in the old leader's
/// lease) until it expires, and the lesson is what happens after.
fn checked_and_renewed(fencing: bool) -> LockSettingsUpdate {
    LockSettingsUpdate {
        ttl_ms: Some(2_000),
        acquire_timeout_ms: Some(5_000),
        check_before_commit: Some(true),
        renewal: Some(true),
        fencing: Some(fencing),
        ..LockSettingsUpdate::default()
    }
}

fn redis_split_brain(fencing: bool) -> PhaseSpec {
    PhaseSpec {
        label: Msg::new(if fencing {
            "phase-split-fenced"
        } else {
            "phase-split-unfenced"
        }),
        backend: Backend::Redis,
        settings: checked_and_renewed(fencing),
        faults: Faults::default(),
        expectation: Some(if fencing {
            Expectation::MustBeSafe
        } else {
            Expectation::MayOversell
        }),
        stock: Some(500),
        // One primary again, in sync with its replica, nobody cut off.
        prepare: vec![step(0.0, ServerAction::Reset, "sentinel")],
        schedule: cut_and_heal("primary,i1"),
        requests: Some(1_000_000),
        question: Msg::new(if fencing {
            "q-split-fenced"
        } else {
            "q-split-unfenced"
        }),
    }
}

fn etcd_leader_cut_off() -> PhaseSpec {
    PhaseSpec {
        label: Msg::new("phase-etcd-leader-cut"),
        backend: Backend::Etcd,
        settings: checked_and_renewed(false),
        faults: Faults::default(),
        expectation: Some(Expectation::MustBeSafe),
        stock: Some(300),
        prepare: vec![step(0.0, ServerAction::Heal, "network")],
        schedule: cut_and_heal("etcd-leader,i1"),
        requests: Some(1_000_000),
        question: Msg::new("q-etcd-leader-cut"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_unfenced_split_brain_may_oversell_and_every_partition_is_healed() {
        for phase in phases() {
            let may = phase.expectation == Some(Expectation::MayOversell);
            assert_eq!(
                may,
                phase.label.to_string() == "redis split brain unfenced",
                "{}",
                phase.label
            );
            assert_eq!(phase.steps(ServerAction::Partition), 1, "{}", phase.label);
            assert_eq!(phase.schedule.last().unwrap().action, ServerAction::Heal);
            assert!(phase.schedule.iter().all(|s| s.via == Via::Net));
        }
    }

    #[test]
    fn instance_i1_is_always_on_the_cut_off_side() {
        for phase in phases() {
            let cut = phase
                .schedule
                .iter()
                .find(|s| s.action == ServerAction::Partition)
                .unwrap();
            assert!(cut.server.split(',').any(|node| node == "i1"), "{}", phase.label);
        }
    }
}
