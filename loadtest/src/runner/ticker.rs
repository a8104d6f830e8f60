//! A phase as it runs, told as events: its start, a tick five times a
//! second (what the clients saw since the last, what the ledger says so
//! far), each fault once, and its verdict.
//!
//! The runner emits these whether or not anyone listens; only the ticks
//! cost something (a page of the ledger's new rows per SKU every [`TICK`],
//! `follow.rs`, and a `GET /admin/faults` per target), so they run only
//! when the run is watched. The buyers' side of a tick is a neutral
//! [`TickWindow`] they count into; this file turns it into a [`Tick`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::follow::Followed;
use crate::client::Target;
use crate::events::{Event, EventLog, Tick};
use crate::faults::{self, PhaseFault};
use crate::i18n::Lang;
use crate::report::model::PhaseReport;
use crate::stats::window::{Taken, TickWindow};
use crate::stats::{Outcome, per_second};
use crate::timeline::Timeline;
use crate::verdict;

/// How often a watched phase is ticked: often enough that the moment the
/// units sold cross the stock is drawn, not jumped over.
pub const TICK: Duration = Duration::from_millis(200);

/// One phase, told as events.
pub struct PhaseWatch<'a> {
    events: &'a EventLog,
    /// Where the buyers count every answer; `None` when nobody watches the
    /// run live, and then there are no ticks.
    window: Option<Arc<TickWindow>>,
    phase: usize,
    /// Asked for their injected faults; the first also for the ledger
    /// (they share one database).
    targets: &'a [Target],
    skus: &'a [String],
    /// When the phase's load started: the clock of the ticks and of the
    /// lock server faults.
    pub started: Instant,
    /// The same start for the targets' own fault times.
    started_unix_ms: u64,
    /// The faults told already: a holder's pause is asked for every tick.
    told: Mutex<HashSet<(String, String, u64)>>,
    /// Each SKU's ledger so far, read page by page.
    followed: Mutex<Vec<Followed>>,
}

impl<'a> PhaseWatch<'a> {
    /// Phase `phase` starts its load now, on `targets`: tells the log.
    /// `ticks`: whether to tick it (someone watches live).
    pub fn start(
        events: &'a EventLog,
        phase: usize,
        (targets, skus): (&'a [Target], &'a [String]),
        started_unix_ms: u64,
        ticks: bool,
    ) -> Self {
        events.emit(Event::Phase { phase });
        PhaseWatch {
            events,
            window: ticks.then(Arc::default),
            phase,
            targets,
            skus,
            started: Instant::now(),
            started_unix_ms,
            told: Mutex::default(),
            followed: Mutex::new(skus.iter().map(|_| Followed::default()).collect()),
        }
    }

    /// What the buyers count into, if the phase is ticked.
    pub fn window(&self) -> Option<Arc<TickWindow>> {
        self.window.clone()
    }

    /// A tick at once (the line starts at zero sold), then one every
    /// [`TICK`] until `done`. With `service_faults` (the phase set faults
    /// on the targets), each tick also asks the targets what they injected.
    /// Returns at once if the phase is not ticked.
    pub async fn tick_until(&self, done: &AtomicBool, service_faults: bool) {
        if self.window.is_none() {
            return;
        }
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

    /// Tells the faults the targets injected that were not told yet (a
    /// target that does not answer is asked again next tick).
    async fn tell_injected(&self) {
        if let Ok(injected) = faults::collect(self.targets, self.started_unix_ms).await {
            injected.iter().for_each(|fault| self.fault(fault));
        }
    }

    /// Emits one tick: the answers since the last, the ledger now. A ledger
    /// that does not answer skips the tick: a tick is a view, the verdict is
    /// elsewhere. Nothing if the phase is not ticked.
    pub async fn tick(&self) {
        let Some(window) = &self.window else {
            return;
        };
        let taken = window.take();
        let Some(ledger) = self.ledger().await else {
            return;
        };
        let t = self.started.elapsed().as_secs_f64();
        self.events.emit(Event::Tick(tick(self.phase, t, ledger, &taken)));
    }

    /// Tells of `fault`, once.
    pub fn fault(&self, fault: &PhaseFault) {
        let key = (fault.target.clone(), fault.kind.clone(), fault.at_s.to_bits());
        if !self.told.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
            return;
        }
        self.events.emit(Event::Fault {
            phase: self.phase,
            t: fault.at_s,
            kind: fault.kind.clone(),
            duration_s: fault.pause_ms.map(|ms| ms as f64 / 1000.0),
        });
    }

    /// Who held the lock when, read from the ledger once the load ended.
    pub fn timeline(&self, timeline: Timeline) {
        self.events.emit(Event::Timeline {
            phase: self.phase,
            timeline: Box::new(timeline),
        });
    }

    /// The phase's row of the table, and its part of the JSON.
    pub fn verdict(&self, report: &PhaseReport, lang: Lang) {
        let label = verdict::label(&report.verdict, &report.assessment);
        self.events.emit(Event::Verdict {
            phase: self.phase,
            label: label.text(lang),
            label_i18n: label.every(),
            report: Box::new(report.clone()),
        });
    }

    /// Sold, stock, oversold, overlaps, over every SKU: the new rows of
    /// each added to what was read before.
    async fn ledger(&self) -> Option<[i64; 4]> {
        let mut sum = [0; 4];
        for (i, sku) in self.skus.iter().enumerate() {
            let after = self.followed()[i].after;
            let page = self.targets[0].ledger_page(sku, after).await.ok()?;
            let mut followed = self.followed();
            followed[i].absorb(&page);
            for (total, value) in sum.iter_mut().zip(followed[i].figures()) {
                *total += value;
            }
        }
        Some(sum)
    }

    fn followed(&self) -> std::sync::MutexGuard<'_, Vec<Followed>> {
        self.followed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tick from the ledger's `[sold, stock, oversold, overlaps]` and a
/// window's answers, `t` seconds into phase `phase`.
fn tick(phase: usize, t: f64, ledger: [i64; 4], window: &Taken) -> Tick {
    let Taken {
        counts,
        created,
        span,
    } = window;
    let rate = |outcomes: &[Outcome]| per_second(outcomes.iter().map(|&o| counts.get(o)).sum(), *span);
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
        unavailable_per_s: per_second(counts.unavailable(), *span),
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `window`'s answers, as if taken after exactly half a second.
    fn half_second_of(window: &TickWindow) -> Taken {
        Taken {
            span: Duration::from_millis(500),
            ..window.take()
        }
    }

    #[test]
    fn a_tick_turns_the_windows_answers_into_rates_and_the_ledger_into_totals() {
        let window = TickWindow::default();
        for ms in [10, 20, 30, 40] {
            window.record(Outcome::Created, Duration::from_millis(ms));
        }
        window.record(Outcome::LockUnavailable, Duration::from_millis(1));
        window.record(Outcome::OtherUnavailable, Duration::from_millis(1));
        window.record(Outcome::Overloaded, Duration::from_millis(1));
        window.record(Outcome::LockLost, Duration::from_millis(900));
        let tick = tick(1, 2.5, [104, 0, 4, 7], &half_second_of(&window));
        assert_eq!(
            (tick.sold, tick.stock, tick.oversold, tick.overlaps),
            (104, 0, 4, 7)
        );
        assert_eq!(
            (tick.orders_per_s, tick.unavailable_per_s, tick.lock_lost_per_s),
            (8.0, 6.0, 2.0)
        );
        // Only the sales' latency: the lost lock's 900 ms is not in it.
        let (p50, p99) = (tick.p50_ms.unwrap(), tick.p99_ms.unwrap());
        assert!(
            (19.9..20.1).contains(&p50) && (39.9..40.1).contains(&p99),
            "{p50} {p99}"
        );
    }

    #[test]
    fn a_window_without_sales_has_no_latency() {
        let window = TickWindow::default();
        window.record(Outcome::SoldOut, Duration::from_millis(3));
        let tick = tick(0, 0.5, [0; 4], &half_second_of(&window));
        assert_eq!((tick.p50_ms, tick.sold_out_per_s), (None, 2.0));
    }

    #[test]
    fn a_fault_seen_at_every_tick_is_told_once() {
        let events = EventLog::default();
        let watch = PhaseWatch::start(&events, 3, (&[], &[]), 0, false);
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
        let told: Vec<f64> = events
            .history()
            .into_iter()
            .filter_map(|event| match event {
                Event::Fault { phase: 3, t, .. } => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(told, [1.5, 2.0]);
    }

    #[test]
    fn an_unwatched_phase_is_told_but_never_ticked() {
        let events = EventLog::default();
        let watch = PhaseWatch::start(&events, 0, (&[], &[]), 0, false);
        assert!(watch.window().is_none());
        let history = events.history();
        assert!(matches!(history[..], [Event::Phase { phase: 0 }]));
    }
}
