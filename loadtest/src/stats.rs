//! What the clients saw, and the statistics computed from it.
//!
//! Each buyer task records into its own [`Recorder`] — no lock, no shared
//! counter on the hot path — and the recorders are merged once the load is
//! over (as oha does). Everything that turns records into figures is a pure
//! function with unit tests.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use uuid::Uuid;

/// How one order request ended, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 201: the service says the order is recorded.
    Created,
    /// 409: sold out.
    SoldOut,
    /// 503 `lock_unavailable`: the lock could not be had (timeout, or its
    /// server is down).
    LockUnavailable,
    /// Any other HTTP status, including a 503 for an unreachable database.
    OtherError,
    /// No HTTP answer at all (connection refused or reset, timeout). The
    /// order may or may not have been recorded: an "in-flight failure".
    Transport,
}

/// Outcome counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: u64,
    pub sold_out: u64,
    pub lock_unavailable: u64,
    pub other_errors: u64,
    pub transport_errors: u64,
}

impl Counts {
    pub fn record(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Created => &mut self.created,
            Outcome::SoldOut => &mut self.sold_out,
            Outcome::LockUnavailable => &mut self.lock_unavailable,
            Outcome::OtherError => &mut self.other_errors,
            Outcome::Transport => &mut self.transport_errors,
        };
        *slot += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        self.created += other.created;
        self.sold_out += other.sold_out;
        self.lock_unavailable += other.lock_unavailable;
        self.other_errors += other.other_errors;
        self.transport_errors += other.transport_errors;
    }

    /// Requests that got any answer or failed in transport.
    pub fn total(&self) -> u64 {
        self.created + self.sold_out + self.lock_unavailable + self.other_errors + self.transport_errors
    }
}

/// An order the service acknowledged with a 201.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
}

/// One buyer's (or one scheduler's) records.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub counts: Counts,
    /// Latency of every request, in microseconds.
    pub latency: Histogram<u64>,
    pub acks: Vec<Ack>,
}

/// Latencies are recorded from 1 µs to 5 min at 3 significant digits;
/// slower answers are clamped to the maximum rather than lost.
const MAX_LATENCY_US: u64 = 300_000_000;

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counts: Counts::default(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds"),
            acks: Vec::new(),
        }
    }
}

impl Recorder {
    pub fn record(&mut self, outcome: Outcome, latency: Duration, ack: Option<Ack>) {
        self.counts.record(outcome);
        let micros = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.latency
            .record(micros)
            .expect("clamped into the histogram's range");
        self.acks.extend(ack);
    }

    pub fn merge(&mut self, other: Recorder) {
        self.counts.merge(&other.counts);
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        self.acks.extend(other.acks);
    }

    pub fn merged(recorders: impl IntoIterator<Item = Recorder>) -> Recorder {
        recorders.into_iter().fold(Recorder::default(), |mut all, one| {
            all.merge(one);
            all
        })
    }

    pub fn acked_units(&self) -> i64 {
        self.acks.iter().map(|a| a.quantity).sum()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

pub fn summarize(latency: &Histogram<u64>) -> LatencySummary {
    if latency.is_empty() {
        return LatencySummary::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencySummary {
        p50_ms: ms(latency.value_at_quantile(0.50)),
        p90_ms: ms(latency.value_at_quantile(0.90)),
        p99_ms: ms(latency.value_at_quantile(0.99)),
        max_ms: ms(latency.max()),
        mean_ms: latency.mean() / 1000.0,
    }
}

/// `count` events over `elapsed`, per second (0 for an empty interval).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_recorders_adds_counts_latencies_and_acks() {
        let mut a = Recorder::default();
        a.record(Outcome::Created, Duration::from_millis(10), Some(ack(2)));
        a.record(Outcome::SoldOut, Duration::from_millis(20), None);
        let mut b = Recorder::default();
        b.record(Outcome::Transport, Duration::from_millis(30), None);
        b.record(Outcome::Created, Duration::from_millis(40), Some(ack(3)));

        let all = Recorder::merged([a, b]);
        assert_eq!(all.counts.created, 2);
        assert_eq!(
            (
                all.counts.sold_out,
                all.counts.transport_errors,
                all.counts.total()
            ),
            (1, 1, 4)
        );
        assert_eq!(all.latency.len(), 4);
        assert_eq!(all.acked_units(), 5);
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut recorder = Recorder::default();
        for ms in 1..=100 {
            recorder.record(Outcome::Created, Duration::from_millis(ms), None);
        }
        let summary = summarize(&recorder.latency);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p99_ms - 99.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
    }

    #[test]
    fn an_empty_histogram_summarizes_to_zero() {
        assert_eq!(summarize(&Recorder::default().latency), LatencySummary::default());
    }

    #[test]
    fn absurd_latencies_are_clamped_not_lost() {
        let mut recorder = Recorder::default();
        recorder.record(Outcome::Transport, Duration::from_secs(3600), None);
        assert_eq!(recorder.latency.len(), 1);
    }

    #[test]
    fn rate_of_an_empty_interval_is_zero() {
        assert_eq!(per_second(10, Duration::ZERO), 0.0);
        assert_eq!(per_second(10, Duration::from_secs(2)), 5.0);
    }

    fn ack(quantity: i64) -> Ack {
        Ack {
            order_id: Uuid::new_v4(),
            sku: "s".into(),
            quantity,
        }
    }
}
