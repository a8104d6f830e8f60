//! `ladder`: the safety ladder under holders paused past their TTL, for
//! redis and etcd — naive, checked, checked + renewal, fenced — with
//! `postgres` as a control, then a `long-work` pair: work longer than the
//! TTL with renewal off and on (renewal is an availability lesson; fencing a
//! safety one).

use stocklock_api::{Backend, Faults, LockSettingsUpdate, PauseHolder, PausePoint};

use super::spec::PhaseSpec;
use crate::verdict::Expectation;

/// A rung: which checks are on, and whether the rung must be safe.
struct Rung {
    name: &'static str,
    /// For the room, before it runs.
    question: &'static str,
    check_before_commit: bool,
    renewal: bool,
    fencing: bool,
}

const RUNGS: [Rung; 4] = [
    Rung {
        name: "naive",
        question: "A holder is paused past its lock's TTL. Who else gets the lock, and does the holder notice?",
        check_before_commit: false,
        renewal: false,
        fencing: false,
    },
    Rung {
        name: "checked",
        question: "The holder checks that it still holds the lock just before writing. Is that enough?",
        check_before_commit: true,
        renewal: false,
        fencing: false,
    },
    Rung {
        name: "renewed",
        question: "A watchdog renews the lock while its holder works. Enough when the holder itself is paused?",
        check_before_commit: true,
        renewal: true,
        fencing: false,
    },
    Rung {
        name: "fenced",
        question: "PostgreSQL now refuses stale fencing tokens. Can a holder paused past its TTL still write?",
        check_before_commit: true,
        renewal: true,
        fencing: true,
    },
];

/// Units per phase on the ladder: few, so that etcd's 2 s minimum lease
/// (every pause must outlast it) keeps each phase short.
const LADDER_STOCK: i64 = 20;

pub fn phases() -> Vec<PhaseSpec> {
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
    control.question =
        "The same pauses under PostgreSQL's own advisory lock, which has no TTL. What changes?";
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
        question: rung.question,
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
        question: if renewal {
            "The same long work, now with a watchdog renewing the lock. Does every buyer get served?"
        } else {
            "The work takes three times the lock's TTL, and nothing renews it. What happens to each order?"
        },
    }
}
