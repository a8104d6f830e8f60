//! The answers since the last look: what the buyers saw in the current
//! tick, for a run that is watched while it runs.
//!
//! The buyers record into their own [`Recorder`](super::Recorder)s without
//! sharing anything (the report's figures come from those), merged only at
//! the end. A running view needs the answers *as they come*, so a watched
//! run also counts each answer here. It knows nothing of who looks: the
//! runner's ticker takes the window every tick (200 ms) and turns it into a
//! tick event; the buyers only see a counter.
//!
//! One std `Mutex` held for a few additions, rather than atomics: the
//! latency of the sales is a histogram, which atomics cannot hold, and an
//! uncontended lock per answer is far below a request's cost. Tokio's
//! `Mutex` would buy nothing: the guard never crosses an `.await`.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::{Counts, Outcome, histogram};

/// The answers of the current tick, and when it began.
pub struct TickWindow {
    window: Mutex<Window>,
}

struct Window {
    counts: Counts,
    /// Latency of the sales (201) only, as the report's figures.
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

impl Default for TickWindow {
    fn default() -> Self {
        TickWindow {
            window: Mutex::new(Window::new()),
        }
    }
}

/// What one window saw: its answers, its sales' latency, how long it was open.
pub struct Taken {
    pub counts: Counts,
    pub created: Histogram<u64>,
    pub span: Duration,
}

impl TickWindow {
    /// Counts one answer (the hot path: a few additions under the lock).
    pub fn record(&self, outcome: Outcome, latency: Duration) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        window.counts.record(outcome);
        if outcome == Outcome::Created {
            // Clamped like the recorders' (1 µs to 5 min).
            let _ = window.created.record((latency.as_micros() as u64).max(1));
        }
    }

    /// The window's answers and how long it was open; a fresh window.
    pub fn take(&self) -> Taken {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::replace(&mut *window, Window::new());
        Taken {
            counts: taken.counts,
            created: taken.created,
            span: taken.since.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_a_window_hands_over_its_answers_and_starts_afresh() {
        let window = TickWindow::default();
        window.record(Outcome::Created, Duration::from_millis(20));
        window.record(Outcome::SoldOut, Duration::from_millis(3));
        let taken = window.take();
        assert_eq!((taken.counts.created, taken.counts.sold_out), (1, 1));
        // Only the sale's latency is kept.
        assert_eq!(taken.created.len(), 1);
        let again = window.take();
        assert_eq!(again.counts.total(), 0);
        assert!(again.span < Duration::from_secs(1));
    }
}
