//! Generating the load: a closed model (`--buyers N`, each buyer sends its
//! next order once the last is answered, until its SKU is sold out or the
//! budget is spent) and an open model (`--rate R`, orders *start* on
//! schedule whatever the answers, and latency is measured from the intended
//! start, so a stalled service cannot hide its queue). Buyers are spread
//! round-robin over the targets, so with two instances `local`'s
//! per-process lock is exposed.
//!
//! Every order carries an `Idempotency-Key` of its own, and one that got no
//! answer at all is sent again with it (`retry.rs`): it is still one order,
//! counted once, and claims one request of the budget however many
//! attempts it takes.
//!
//! The hot path knows nothing of who watches the run: each answer goes into
//! the buyer's own [`Recorder`], and, when the run is watched, into a shared
//! [`TickWindow`] (a counter of `stats`) that the runner reads.
//!
//! Why the open model measures that way: `docs/loadtest.md#closed-and-open-models`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;
use rand::Rng;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::Target;
use crate::i18n::Msg;
use crate::order::OrderRequest;
use crate::retry::{self, RetryPolicy};
use crate::stats::window::TickWindow;
use crate::stats::{Outcome, Recorder};

/// How the load is shaped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    Closed { buyers: usize },
    Open { rate: f64 },
}

impl Model {
    /// How the report and the dashboard name it.
    pub fn describe(self) -> Msg {
        match self {
            Model::Closed { buyers } => Msg::new("model-closed").arg("buyers", buyers),
            Model::Open { rate } => Msg::new("model-open").arg("rate", rate),
        }
    }
}

/// What one phase sends.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub model: Model,
    pub skus: Vec<String>,
    pub quantity: QuantityRange,
    /// The most requests to send in the phase.
    pub budget: u64,
    /// The longest the phase may run.
    pub duration: Duration,
    /// When an order that got no answer is sent again.
    pub retry: RetryPolicy,
}

/// An inclusive range of order quantities (`--quantity`), each order's
/// drawn from it. Defined here, with the buyers that draw from it, rather
/// than with the options: the hot path imports nothing of the front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityRange {
    pub min: i64,
    pub max: i64,
}

impl FromStr for QuantityRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |part: &str| {
            part.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{s}` is not a quantity like 1 or 1-3"))
        };
        let (min, max) = match s.split_once('-') {
            Some((min, max)) => (parse(min)?, parse(max)?),
            None => (parse(s)?, parse(s)?),
        };
        if min < 1 || max < min {
            return Err(format!("`{s}`: quantities start at 1 and a range goes upwards"));
        }
        Ok(QuantityRange { min, max })
    }
}

impl fmt::Display for QuantityRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// State the buyers share: a few atomics, nothing locked.
struct Shared {
    plan: LoadPlan,
    targets: Arc<[Target]>,
    /// Per SKU: has a buyer seen it sold out (409)?
    sold_out: Vec<AtomicBool>,
    issued: AtomicU64,
    started: Instant,
    deadline: Instant,
    progress: ProgressBar,
    /// When the run is watched: every answer, as it comes (`None` costs
    /// the unwatched run nothing, not even an uncontended lock).
    window: Option<Arc<TickWindow>>,
}

impl Shared {
    /// Claims one request from the budget, or says the phase is over.
    fn claim(&self) -> bool {
        Instant::now() < self.deadline
            && !self.all_sold_out()
            && self.issued.fetch_add(1, Ordering::Relaxed) < self.plan.budget
    }

    fn all_sold_out(&self) -> bool {
        self.sold_out.iter().all(|s| s.load(Ordering::Relaxed))
    }

    /// A random SKU that is not sold out yet (any SKU if all are), chosen
    /// uniformly without allocating a list per order on the hot path.
    fn pick_sku(&self) -> usize {
        let is_open = |i: &usize| !self.sold_out[*i].load(Ordering::Relaxed);
        let all = 0..self.sold_out.len();
        let mut rng = rand::rng();
        match all.clone().filter(is_open).count() {
            0 => rng.random_range(all),
            open => {
                let nth = rng.random_range(0..open);
                // A SKU may sell out between the count and this pass.
                all.clone().filter(is_open).nth(nth).unwrap_or(nth)
            }
        }
    }

    /// Sends one order to `target` (again, if it got no answer) and records
    /// how it ended, latency measured from `intended` (the start time the
    /// schedule asked for) to its last answer.
    async fn order(&self, target: usize, intended: Instant, recorder: &mut Recorder) {
        let sku = self.pick_sku();
        let quantity = rand::rng().random_range(self.plan.quantity.min..=self.plan.quantity.max);
        let request = OrderRequest::new(&self.plan.skus[sku], quantity);
        let target = &self.targets[target];
        let placed = retry::place(target, &request, self.plan.retry, self.deadline).await;
        let (outcome, latency) = (placed.outcome, intended.elapsed());
        recorder.record(outcome, latency, quantity, placed.ack);
        recorder.retries.merge(&placed.retries);
        if let Some(window) = &self.window {
            window.record(outcome, latency);
        }
        if outcome == Outcome::Created {
            recorder
                .sale_times_ms
                .push(self.started.elapsed().as_millis() as u64);
        }
        match outcome {
            Outcome::Created => self.progress.inc(quantity as u64),
            // With quantities above 1 a few units may be left that a smaller
            // order could take; the phase ends anyway, as a shop would.
            Outcome::SoldOut => self.sold_out[sku].store(true, Ordering::Relaxed),
            _ => {}
        }
    }
}

/// Runs the load; returns everything recorded and how long it took.
/// `window`, if given, also counts every answer as it comes.
pub async fn run(
    targets: Arc<[Target]>,
    plan: &LoadPlan,
    progress: ProgressBar,
    window: Option<Arc<TickWindow>>,
) -> (Recorder, Duration) {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        sold_out: plan.skus.iter().map(|_| AtomicBool::new(false)).collect(),
        plan: plan.clone(),
        targets,
        issued: AtomicU64::new(0),
        started,
        deadline: started + plan.duration,
        progress,
        window,
    });
    let recorder = match plan.model {
        Model::Closed { buyers } => closed(shared, buyers).await,
        Model::Open { rate } => open(shared, rate).await,
    };
    (recorder, started.elapsed())
}

/// `buyers` tasks, each with its own recorder, merged at the end.
async fn closed(shared: Arc<Shared>, buyers: usize) -> Recorder {
    let mut tasks = JoinSet::new();
    for buyer in 0..buyers {
        let shared = shared.clone();
        tasks.spawn(async move {
            let mut recorder = Recorder::default();
            let target = buyer % shared.targets.len();
            while shared.claim() {
                shared.order(target, Instant::now(), &mut recorder).await;
            }
            recorder
        });
    }
    Recorder::merged(tasks.join_all().await)
}

/// One task per arrival, started on schedule; no cap but the budget.
async fn open(shared: Arc<Shared>, rate: f64) -> Recorder {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut merged = Recorder::default();
    for arrival in 0u32.. {
        let intended = start + interval * arrival;
        tokio::time::sleep_until(intended).await;
        if !shared.claim() {
            break;
        }
        let shared = shared.clone();
        let target = arrival as usize % shared.targets.len();
        tasks.spawn(async move {
            let mut recorder = Recorder::default();
            shared.order(target, intended, &mut recorder).await;
            recorder
        });
        // Fold finished arrivals in as we go, so memory stays flat.
        while let Some(done) = tasks.try_join_next() {
            merged.merge(done.expect("an order task panicked"));
        }
    }
    for done in tasks.join_all().await {
        merged.merge(done);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_a_number_or_a_range() {
        assert_eq!("2".parse(), Ok(QuantityRange { min: 2, max: 2 }));
        assert_eq!("1-3".parse(), Ok(QuantityRange { min: 1, max: 3 }));
        for bad in ["0", "3-1", "x", "1-", "-1"] {
            assert!(bad.parse::<QuantityRange>().is_err(), "{bad}");
        }
    }
}
