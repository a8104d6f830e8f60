//! What the clients saw, and the statistics computed from it.
//!
//! Each buyer task records into its own [`Recorder`] — no lock, no shared
//! counter on the hot path — and the recorders are merged once the load is
//! over (as oha does). Everything that turns records into figures is a pure
//! function with unit tests (`stats/tests.rs`).
//!
//! A running view of the answers (for the ticks a live run emits) is the
//! separate, shared [`window::TickWindow`]: the recorders stay lock-free.

pub mod window;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How one order request ended, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 201: the service says the order is recorded.
    Created,
    /// 409: sold out.
    SoldOut,
    /// 409 `lock_lost`: the holder's lock was lost before it wrote (it
    /// expired, or PostgreSQL refused its fencing token); nothing changed.
    LockLost,
    /// 503 `lock_unavailable`: the lock could not be had (timeout, or its
    /// server is down).
    LockUnavailable,
    /// 503 `overloaded`: the instance's admission control refused the order
    /// at once (`MAX_ORDERS_IN_FLIGHT`), before it queued for anything.
    /// Its own outcome because it measures the instance, not the lock.
    Overloaded,
    /// Any other 503: the database is unreachable, a switch held the order
    /// back. Nothing was changed.
    OtherUnavailable,
    /// 401 `unauthorized`: the instance wanted its bearer token. Orders are
    /// open (`docs/api.md#access`), so one here is a surprise worth its
    /// own column rather than a line among other errors.
    Unauthorized,
    /// Any other HTTP status (a 4xx).
    OtherError,
    /// The connection could not be opened: the request provably never
    /// reached the server, so it cannot explain a recorded order.
    NotSent,
    /// Sent (or possibly sent), but no answer that says what happened: reset,
    /// timed out, an unreadable 201, a 500, or a 503
    /// `commit_outcome_unknown` — or an attempt like that whose retries got
    /// no 201 (`retry::settle`). The order may or may not have been
    /// recorded: an "in-flight failure".
    NoAnswer,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Created,
        Outcome::SoldOut,
        Outcome::LockLost,
        Outcome::LockUnavailable,
        Outcome::Overloaded,
        Outcome::OtherUnavailable,
        Outcome::Unauthorized,
        Outcome::OtherError,
        Outcome::NotSent,
        Outcome::NoAnswer,
    ];

    /// The name used in the JSON report and the column headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::SoldOut => "sold_out",
            Outcome::LockLost => "lock_lost",
            Outcome::LockUnavailable => "lock_unavailable",
            Outcome::Overloaded => "overloaded",
            Outcome::OtherUnavailable => "other_unavailable",
            Outcome::Unauthorized => "unauthorized",
            Outcome::OtherError => "other_error",
            Outcome::NotSent => "not_sent",
            Outcome::NoAnswer => "no_answer",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Outcome counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub sold_out: u64,
    pub lock_lost: u64,
    pub lock_unavailable: u64,
    pub overloaded: u64,
    pub other_unavailable: u64,
    pub unauthorized: u64,
    pub other_errors: u64,
    pub not_sent: u64,
    pub no_answer: u64,
}

impl Counts {
    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Created => &mut self.created,
            Outcome::SoldOut => &mut self.sold_out,
            Outcome::LockLost => &mut self.lock_lost,
            Outcome::LockUnavailable => &mut self.lock_unavailable,
            Outcome::Overloaded => &mut self.overloaded,
            Outcome::OtherUnavailable => &mut self.other_unavailable,
            Outcome::Unauthorized => &mut self.unauthorized,
            Outcome::OtherError => &mut self.other_errors,
            Outcome::NotSent => &mut self.not_sent,
            Outcome::NoAnswer => &mut self.no_answer,
        }
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        *self.clone().slot(outcome)
    }

    pub fn record(&mut self, outcome: Outcome) {
        *self.slot(outcome) += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        for outcome in Outcome::ALL {
            *self.slot(outcome) += other.get(outcome);
        }
    }

    /// Every order, whatever became of it (retries not counted again).
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.get(o)).sum()
    }

    /// Every 503 the service sent that promised nothing changed.
    pub fn unavailable(&self) -> u64 {
        self.lock_unavailable + self.overloaded + self.other_unavailable
    }
}

/// Attempts sent again after an attempt got no HTTP answer at all, with the
/// same `Idempotency-Key` and body (`retry.rs` says when).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    /// Retries sent.
    pub sent: u64,
    /// Of those, the ones answered 201 `Idempotent-Replayed: true`: the
    /// unanswered attempt had been recorded after all, and the retry got
    /// that order back instead of a second one.
    pub replayed: u64,
}

impl Retries {
    pub fn merge(&mut self, other: &Retries) {
        self.sent += other.sent;
        self.replayed += other.replayed;
    }
}

/// An order the service acknowledged with a 201, as the client *asked* for
/// it: the echo in the answer is the service's word, not evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub order_id: Uuid,
    pub sku: String,
    /// The quantity the client requested.
    pub quantity: i64,
    /// Whether the 201's body echoed the SKU and quantity requested.
    pub echo_matches: bool,
}

/// One buyer's (or one scheduler's) records, one per order however many
/// attempts it took.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub counts: Counts,
    pub retries: Retries,
    /// Latency per outcome, in microseconds: a fast 503 must not make the
    /// 201s look fast.
    pub latency: [Histogram<u64>; Outcome::ALL.len()],
    pub acks: Vec<Ack>,
    /// The quantity of each request that got no answer: each may explain
    /// one recorded order of that quantity that nobody was told about.
    pub no_answer_quantities: Vec<i64>,
    /// When each 201 arrived, in ms from the start of the load: how long
    /// clients went without a sale through a fault.
    pub sale_times_ms: Vec<u64>,
}

/// Latencies are recorded from 1 µs to 5 min at 3 significant digits;
/// slower answers are clamped to the maximum rather than lost.
const MAX_LATENCY_US: u64 = 300_000_000;

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counts: Counts::default(),
            retries: Retries::default(),
            latency: std::array::from_fn(|_| histogram()),
            acks: Vec::new(),
            no_answer_quantities: Vec::new(),
            sale_times_ms: Vec::new(),
        }
    }
}

impl Recorder {
    /// Records one order for `quantity` units, as it ended.
    pub fn record(&mut self, outcome: Outcome, latency: Duration, quantity: i64, ack: Option<Ack>) {
        self.counts.record(outcome);
        let micros = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.latency[outcome.index()]
            .record(micros)
            .expect("clamped into the histogram's range");
        if outcome == Outcome::NoAnswer {
            self.no_answer_quantities.push(quantity);
        }
        self.acks.extend(ack);
    }

    pub fn merge(&mut self, other: Recorder) {
        self.counts.merge(&other.counts);
        self.retries.merge(&other.retries);
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            mine.add(theirs).expect("histograms share their bounds");
        }
        self.acks.extend(other.acks);
        self.no_answer_quantities.extend(other.no_answer_quantities);
        self.sale_times_ms.extend(other.sale_times_ms);
    }

    /// The longest stretch without a sale from `from_s` (seconds into the
    /// load) to the first sale at or after `until_s` — or to `end_s` if none
    /// came: how long clients went without a sale through faults between
    /// `from_s` and `until_s`.
    pub fn longest_without_sale(&self, from_s: f64, until_s: f64, end_s: f64) -> f64 {
        let mut times: Vec<f64> = self.sale_times_ms.iter().map(|&ms| ms as f64 / 1000.0).collect();
        times.sort_by(f64::total_cmp);
        let resumed = times
            .iter()
            .copied()
            .find(|&t| t >= until_s)
            .unwrap_or(end_s.max(until_s));
        let within = times.into_iter().filter(|&t| t > from_s && t < resumed);
        let (mut previous, mut longest) = (from_s, 0.0_f64);
        for t in within.chain(std::iter::once(resumed)) {
            longest = longest.max(t - previous);
            previous = t;
        }
        longest
    }

    pub fn merged(recorders: impl IntoIterator<Item = Recorder>) -> Recorder {
        recorders.into_iter().fold(Recorder::default(), |mut all, one| {
            all.merge(one);
            all
        })
    }

    /// Units acknowledged, as requested.
    pub fn acked_units(&self) -> i64 {
        self.acks.iter().map(|a| a.quantity).sum()
    }

    /// The latency of one outcome.
    pub fn latency_of(&self, outcome: Outcome) -> &Histogram<u64> {
        &self.latency[outcome.index()]
    }

    /// A summary per outcome that occurred, keyed by [`Outcome::as_str`].
    pub fn latency_by_outcome(&self) -> BTreeMap<&'static str, LatencySummary> {
        Outcome::ALL
            .into_iter()
            .filter(|&o| !self.latency_of(o).is_empty())
            .map(|o| (o.as_str(), summarize(self.latency_of(o))))
            .collect()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
mod tests;
