//! The phase as it runs, for the dashboard: what the clients saw in the last
//! half second, and what the ledger says so far.
//!
//! The buyers record into their own [`Recorder`](crate::stats::Recorder)s
//! without sharing anything (the report's figures come from those). The
//! dashboard needs a running view, so with a dashboard (or a report to
//! replay) each answer is also counted here, behind one mutex held for a few
//! additions; the ticker takes the window every half second and asks the
//! ledger (`GET /admin/audit/{sku}`) for units sold, stock left, oversold
//! units and overlapping holds — the same audit the verdict uses.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::events::{Event, Events, Tick};
use crate::client::Target;
use crate::faults::{self, PhaseFault};
use crate::phase::PhaseReport;
use crate::report::verdict_label;
use crate::stats::{Counts, Outcome, histogram, per_second};

/// How often the dashboard hears from a running phase.
pub const TICK: Duration = Duration::from_millis(500);

/// The answers of the current tick, and when it began.
pub struct LiveWindow {
    window: Mutex<Window>,
}

struct Window {
    counts: Counts,
    created: Histogram<u64>,
    since: Instant,
}

impl Window {
    fn new() -> Self {
        Window {
            counts: Counts::default(),
            created: histogram(),
            since: Instant::now(),
        }
    }
}

impl Default for LiveWindow {
    fn default() -> Self {
        LiveWindow {
            window: Mutex::new(Window::new()),
        }
    }
}

impl LiveWindow {
    pub fn record(&self, outcome: Outcome, latency: Duration) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        window.counts.record(outcome);
        if outcome == Outcome::Created {
            // Clamped like the recorders' (1 µs to 5 min).
            let _ = window.created.record((latency.as_micros() as u64).max(1));
        }
    }

    /// The window's answers and how long it was open; a fresh window.
    fn take(&self) -> (Counts, Histogram<u64>, Duration) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::replace(&mut *window, Window::new());
        (taken.counts, taken.created, taken.since.elapsed())
    }
}

/// One phase, watched for the dashboard: its answers as they come, a tick
/// every [`TICK`], its faults and its verdict.
pub struct PhaseWatch<'a> {
    pub events: &'a Events,
    /// Where the buyers record every answer.
    pub live: Arc<LiveWindow>,
    pub phase: usize,
    /// Asked for their injected faults; the first also for the ledger
    /// (they share one database).
    pub targets: &'a [Target],
    pub skus: &'a [String],
    /// When the phase's load started.
    pub started: Instant,
    pub started_unix_ms: u64,
    /// The faults told already: a holder's pause is asked for every tick.
    pub told: Mutex<HashSet<(String, String, u64)>>,
}

impl PhaseWatch<'_> {
    /// A tick at once (the line starts at zero sold), then one every
    /// [`TICK`] until `done`. With `service_faults` (the phase set faults
    /// on the targets), each tick also asks the targets what they injected.
    pub async fn tick_until(&self, done: &AtomicBool, service_faults: bool) {
        loop {
            if service_faults {
                self.tell_injected().await;
            }
            self.tick().await;
            tokio::time::sleep(TICK).await;
            if done.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// Tells the page of the faults the targets injected that it was not
    /// told of yet (a target that does not answer is asked again next tick).
    async fn tell_injected(&self) {
        if let Ok(injected) = faults::collect(self.targets, self.started_unix_ms).await {
            injected.iter().for_each(|fault| self.fault(fault));
        }
    }

    /// Emits one tick: the answers since the last, the ledger now. A ledger
    /// that does not answer skips the tick: the dashboard is a view, the
    /// verdict is elsewhere.
    pub async fn tick(&self) {
        let (counts, created, span) = self.live.take();
        let Some(ledger) = self.ledger().await else {
            return;
        };
        self.events.emit(&Event::Tick(tick(
            self.phase,
            self.started.elapsed().as_secs_f64(),
            ledger,
            &counts,
            &created,
            span,
        )));
    }

    /// Tells the page of `fault`, once.
    pub fn fault(&self, fault: &PhaseFault) {
        let key = (fault.target.clone(), fault.kind.clone(), fault.at_s.to_bits());
        if !self.told.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
            return;
        }
        self.events.emit(&Event::Fault {
            phase: self.phase,
            t: fault.at_s,
            kind: fault.kind.clone(),
        });
    }

    /// The phase's row of the table, and its part of the JSON.
    pub fn verdict(&self, report: &PhaseReport) {
        self.events.emit(&Event::Verdict {
            phase: self.phase,
            label: verdict_label(&report.verdict, &report.assessment),
            report: Box::new(report.clone()),
        });
    }

    /// Sold, stock, oversold, overlaps, over every SKU.
    async fn ledger(&self) -> Option<[i64; 4]> {
        let mut sum = [0; 4];
        for sku in self.skus {
            let audit = self.targets[0].audit(sku).await.ok()?;
            for (total, value) in
                sum.iter_mut()
                    .zip([audit.sold, audit.stock, audit.oversold, audit.overlapping_holds])
            {
                *total += value;
            }
        }
        Some(sum)
    }
}

/// The tick from the ledger's `[sold, stock, oversold, overlaps]` and the
/// window's answers over `span`.
fn tick(
    phase: usize,
    t: f64,
    ledger: [i64; 4],
    counts: &Counts,
    created: &Histogram<u64>,
    span: Duration,
) -> Tick {
    let rate = |outcomes: &[Outcome]| per_second(outcomes.iter().map(|&o| counts.get(o)).sum(), span);
    let quantile = |q: f64| (!created.is_empty()).then(|| created.value_at_quantile(q) as f64 / 1000.0);
    let [sold, stock, oversold, overlaps] = ledger;
    Tick {
        phase,
        t,
        sold,
        stock,
        oversold,
        overlaps,
        orders_per_s: rate(&[Outcome::Created]),
        sold_out_per_s: rate(&[Outcome::SoldOut]),
        lock_lost_per_s: rate(&[Outcome::LockLost]),
        unavailable_per_s: rate(&[Outcome::LockUnavailable, Outcome::OtherUnavailable]),
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_turns_the_windows_answers_into_rates_and_the_ledger_into_totals() {
        let live = LiveWindow::default();
        for ms in [10, 20, 30, 40] {
            live.record(Outcome::Created, Duration::from_millis(ms));
        }
        live.record(Outcome::LockUnavailable, Duration::from_millis(1));
        live.record(Outcome::OtherUnavailable, Duration::from_millis(1));
        live.record(Outcome::LockLost, Duration::from_millis(900));
        let (counts, created, _) = live.take();
        let tick = tick(
            1,
            2.5,
            [104, 0, 4, 7],
            &counts,
            &created,
            Duration::from_millis(500),
        );
        assert_eq!(
            (tick.sold, tick.stock, tick.oversold, tick.overlaps),
            (104, 0, 4, 7)
        );
        assert_eq!(
            (tick.orders_per_s, tick.unavailable_per_s, tick.lock_lost_per_s),
            (8.0, 4.0, 2.0)
        );
        // Only the sales' latency: the lost lock's 900 ms is not in it.
        let (p50, p99) = (tick.p50_ms.unwrap(), tick.p99_ms.unwrap());
        assert!(
            (19.9..20.1).contains(&p50) && (39.9..40.1).contains(&p99),
            "{p50} {p99}"
        );
    }

    #[test]
    fn a_fault_seen_at_every_tick_is_told_once() {
        let events = Events::default();
        let watch = PhaseWatch {
            events: &events,
            live: Arc::default(),
            phase: 3,
            targets: &[],
            skus: &[],
            started: Instant::now(),
            started_unix_ms: 0,
            told: Mutex::default(),
        };
        let pause = |at_s| PhaseFault {
            kind: "pause_holder".into(),
            at_s,
            target: "http://a".into(),
            sku: None,
            at: None,
            pause_ms: Some(800),
        };
        for fault in [pause(1.5), pause(1.5), pause(2.0), pause(1.5)] {
            watch.fault(&fault);
        }
        let told: Vec<serde_json::Value> = serde_json::from_str(&events.to_json_array()).unwrap();
        let times: Vec<f64> = told.iter().map(|e| e["t"].as_f64().unwrap()).collect();
        assert_eq!(times, [1.5, 2.0]);
        assert!(told.iter().all(|e| e["type"] == "fault" && e["phase"] == 3));
    }

    #[test]
    fn a_window_without_sales_has_no_latency_and_taking_it_starts_afresh() {
        let live = LiveWindow::default();
        live.record(Outcome::SoldOut, Duration::from_millis(3));
        let (counts, created, _) = live.take();
        let tick = tick(0, 0.5, [0; 4], &counts, &created, Duration::from_millis(500));
        assert_eq!((tick.p50_ms, tick.sold_out_per_s), (None, 2.0));
        let (counts, _, open) = live.take();
        assert_eq!(counts.total(), 0);
        assert!(open < Duration::from_secs(1));
    }
}
