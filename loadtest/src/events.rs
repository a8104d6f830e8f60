//! What happened in a run, as a list of events — the plan, each phase's
//! start, a tick five times a second while it runs, each fault as it happens,
//! each phase's timeline and verdict, the end — and the [`EventLog`] the runner emits them into.
//!
//! The runner only emits; whoever wants to watch subscribes: the dashboard's
//! server streams them to the live page (server-sent events), and `--chart`
//! embeds the same list in the HTML report to replay. One list, two pages
//! that cannot disagree — and a runner that knows no view. This file imports
//! neither the runner nor the dashboard, only the plain data events carry.

use std::sync::Mutex;

use serde::Serialize;
use stocklock_api::Backend;
use tokio::sync::broadcast;

use crate::i18n::{Lang, Localized};
use crate::report::model::PhaseReport;
use crate::timeline::Timeline;
use crate::verdict::Expectation;

/// One thing that happened in the run. Serialized with a `type` tag:
/// `{"type":"tick","phase":0,…}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The plan, before anything runs.
    Run {
        /// The report's format ([`crate::report::model::FORMAT_VERSION`]).
        format_version: u32,
        scenario: String,
        model: String,
        model_i18n: Localized,
        targets: Vec<String>,
        phases: Vec<PlannedPhase>,
        /// The instructor starts each phase (`--pace`).
        paced: bool,
        /// What the run is called (`--title`: the lesson), if anything.
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// `--lang`, if given: the page speaks it instead of the browser's
        /// language.
        #[serde(skip_serializing_if = "Option::is_none")]
        lang: Option<Lang>,
    },
    /// `--pace`: waiting for the instructor before phase `phase`.
    Waiting {
        phase: usize,
    },
    /// Phase `phase` starts its load.
    Phase {
        phase: usize,
    },
    Tick(Tick),
    /// A fault, `t` seconds into phase `phase`'s load (`kill_redis`,
    /// `pause_holder`, `partition_primary_i1`, …). A pause knows how long it
    /// lasts (`duration_s`); a kill or a partition ends with a later fault
    /// (`start_redis`, `heal_network`), and the page draws the band between.
    Fault {
        phase: usize,
        t: f64,
        kind: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_s: Option<f64>,
    },
    /// Phase `phase`'s critical sections, once its load ended: who held the
    /// lock when (`timeline.rs`). Sent before its verdict.
    Timeline {
        phase: usize,
        timeline: Box<Timeline>,
    },
    /// Phase `phase` is judged: its row of the table, its part of the JSON.
    Verdict {
        phase: usize,
        /// `✅ safe`, `❌ oversold 212`: exactly the table's, in the run's
        /// language, and in every language.
        label: String,
        label_i18n: Localized,
        report: Box<PhaseReport>,
    },
    /// Every phase is done.
    Done {
        passed: bool,
    },
}

/// A phase as announced before the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedPhase {
    /// Its name in English, which identifies it (`redis fenced`), and in
    /// every language, for the page.
    pub label: String,
    pub label_i18n: Localized,
    pub backend: Backend,
    pub expectation: Expectation,
    /// Units on sale, over all SKUs.
    pub stock: i64,
    /// What to ask the room before it runs, in the run's language and in
    /// every language.
    pub question: String,
    pub question_i18n: Localized,
}

/// One tick (200 ms) of one phase, as the clients and the ledger saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub phase: usize,
    /// Seconds since the phase's load started.
    pub t: f64,
    /// Units the ledger says were sold so far (all SKUs), and what is left.
    pub sold: i64,
    pub stock: i64,
    pub oversold: i64,
    /// Pairs of recorded orders whose critical sections overlapped, so far.
    pub overlaps: i64,
    /// Rates over the tick, per second: orders created, sold-out refusals
    /// (409), lost locks (409 `lock_lost`), 503s of any kind.
    pub orders_per_s: f64,
    pub sold_out_per_s: f64,
    pub lock_lost_per_s: f64,
    pub unavailable_per_s: f64,
    /// Latency of the orders created during the tick (none: no sale).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The run's events so far, and everyone listening for the next.
///
/// A history (for whoever subscribes late, and for the report to replay)
/// plus a broadcast channel (for whoever listens now). Why both, rather
/// than a `Mutex<Vec<Event>>` and a `Notify` that listeners re-read: a
/// broadcast hands each listener every event exactly once without it
/// keeping an index into the history; a listener that falls more than
/// [`LIVE_BACKLOG`] events behind is told it lagged and can start over from
/// the history. The runner is never held back by a slow listener.
pub struct EventLog {
    history: Mutex<Vec<Event>>,
    live: broadcast::Sender<Event>,
}

/// Events a live listener may fall behind by before it is told it lagged.
pub const LIVE_BACKLOG: usize = 1024;

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            history: Mutex::new(Vec::new()),
            live: broadcast::channel(LIVE_BACKLOG).0,
        }
    }
}

impl EventLog {
    /// Records `event` and sends it to every listener.
    pub fn emit(&self, event: Event) {
        // The history is locked while sending, so that a subscriber (which
        // takes the same lock) sees each event either in its history or on
        // its receiver, never both and never neither.
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.push(event.clone());
        // Nobody listening is fine: the history keeps it.
        let _ = self.live.send(event);
    }

    /// Everything so far, and a receiver for what comes after — taken
    /// together, so that nothing falls between the two.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        (history.clone(), self.live.subscribe())
    }

    /// Every event so far (for the report to replay).
    pub fn history(&self) -> Vec<Event> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(phase: usize, t: f64) -> Event {
        Event::Tick(Tick {
            phase,
            t,
            sold: 3,
            stock: 97,
            oversold: 0,
            overlaps: 0,
            orders_per_s: 6.0,
            sold_out_per_s: 0.0,
            lock_lost_per_s: 0.0,
            unavailable_per_s: 0.0,
            p50_ms: Some(20.5),
            p99_ms: None,
        })
    }

    #[test]
    fn events_are_tagged_by_type_with_their_fields_flat() {
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&tick(2, 1.5)).unwrap()).unwrap();
        assert_eq!(json["type"], "tick");
        assert_eq!((json["phase"].as_u64(), json["t"].as_f64()), (Some(2), Some(1.5)));
        assert_eq!(json["p99_ms"], serde_json::Value::Null);
        let fault = Event::Fault {
            phase: 0,
            t: 2.0,
            kind: "kill_redis".into(),
            duration_s: None,
        };
        let json = serde_json::to_value(&fault).unwrap();
        assert_eq!(
            (json["type"].as_str(), json["kind"].as_str()),
            (Some("fault"), Some("kill_redis"))
        );
        let done = serde_json::to_value(Event::Done { passed: true }).unwrap();
        assert_eq!(done, serde_json::json!({"type": "done", "passed": true}));
    }

    #[test]
    fn a_late_listener_gets_the_history_then_the_rest_and_the_report_gets_it_all() {
        let log = EventLog::default();
        log.emit(tick(0, 0.5));
        let (history, mut live) = log.subscribe();
        log.emit(tick(0, 1.0));
        assert_eq!(history.len(), 1);
        let Event::Tick(next) = live.try_recv().unwrap() else {
            panic!("not a tick")
        };
        assert_eq!(next.t, 1.0);
        let all = serde_json::to_value(log.history()).unwrap();
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(all[1]["t"], 1.0);
    }
}
