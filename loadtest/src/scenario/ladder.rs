//! `ladder`: the safety ladder under holders paused past their TTL, for
//! redis and etcd — naive, checked, checked + renewal, fenced — with
//! `postgres` as a control, then a `long-work` pair: work longer than the
//! TTL with renewal off and on (renewal is an availability lesson; fencing a
//! safety one).

use stocklock_api::{Backend, Faults, LockSettingsUpdate, PauseHolder, PausePoint};

use super::spec::PhaseSpec;
use crate::i18n::Msg;
use crate::verdict::Expectation;

/// A rung: which checks are on, and whether the rung must be safe.
struct Rung {
    /// The phase's name and its question for the room: messages of
    /// `loadtest/i18n/`.
    label: &'static str,
    question: &'static str,
    check_before_commit: bool,
    renewal: bool,
    fencing: bool,
}

const RUNGS: [Rung; 4] = [
    Rung {
        label: "phase-rung-naive",
        question: "q-rung-naive",
        check_before_commit: false,
        renewal: false,
        fencing: false,
    },
    Rung {
        label: "phase-rung-checked",
        question: "q-rung-checked",
        check_before_commit: true,
        renewal: false,
        fencing: false,
    },
    Rung {
        label: "phase-rung-renewed",
        question: "q-rung-renewed",
        check_before_commit: true,
        renewal: true,
        fencing: false,
    },
    Rung {
        label: "phase-rung-fenced",
        question: "q-rung-fenced",
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
    control.label = Msg::new("phase-postgres-control");
    control.question = Msg::new("q-postgres-control");
    phases.push(control);
    phases.extend([long_work(false), long_work(true)]);
    phases
}

fn rung_phase(backend: Backend, rung: &Rung, ttl_ms: u64, pause_ms: u64) -> PhaseSpec {
    PhaseSpec {
        label: Msg::new(rung.label).arg("backend", backend),
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
        question: Msg::new(rung.question),
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
        label: Msg::new(if renewal {
            "phase-long-renewed"
        } else {
            "phase-long-unrenewed"
        }),
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
        question: Msg::new(if renewal {
            "q-long-renewed"
        } else {
            "q-long-unrenewed"
        }),
    }
}
