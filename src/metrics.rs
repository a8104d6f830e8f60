//! `GET /metrics`: the inside view of the lock, in Prometheus' text format.
//!
//! The load tester judges from the outside (answers and the ledger); these
//! counters say what each instance went through to give those answers: how
//! often it got the lock, how long it waited and held it, how often it gave
//! up (timeouts, unavailable servers), how often renewal ran and failed, and
//! how often a holder found its lock lost. Everything is labelled by
//! backend, so one scrape compares them, and per instance — no globals,
//! since the tests run several instances in one process.
//!
//! The counting is `prometheus-client`'s (the Prometheus project's own
//! crate); this file only decides what is counted. Where: the lock's one
//! entry (`lock/entry.rs`) counts acquisitions and holds, the renewal
//! watchdog its extensions, `order/` the answers. It imports nothing of the
//! service, so every layer may count.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use stocklock_api::{Backend, ErrorCode};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByBackend {
    backend: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByHolder {
    backend: &'static str,
    /// What this instance's holder was doing when a waiter gave up
    /// (`working`, `database`, `paused`), or `elsewhere`: no holder here.
    holder: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByOutcome {
    backend: &'static str,
    /// `created`, or the error code the order was answered with.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByWaking {
    backend: &'static str,
    /// `release`: an announced release woke the waiter; `timer`: it woke
    /// because its sleep ran out (the key's TTL, the fallback, a poll).
    by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByPlace {
    backend: &'static str,
    /// [`Place::as_str`], or `ours`: the rest of the hold.
    at: &'static str,
    /// Whether the hold ended in a sale (`true`) or not (sold out, lost, …).
    sold: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByEnd {
    backend: &'static str,
    sold: &'static str,
}

/// Where a holder spends the time it holds a lock: what the per-order
/// breakdown of the serialized section is made of (`docs/bench.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Requests to the lock server: the check before the write, the release.
    LockServer,
    /// Statements, `BEGIN`, `COMMIT`, and waits for a pooled connection.
    Database,
    /// The simulated business work (`critical_section_ms`).
    Work,
}

impl Place {
    const ALL: [Place; 3] = [Place::LockServer, Place::Database, Place::Work];

    /// The metrics' `at` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::LockServer => "lock_server",
            Place::Database => "database",
            Place::Work => "work",
        }
    }
}

type FloatCounter = Counter<f64, AtomicU64>;

/// The breakdown of holds (`stocklock_holds`, `stocklock_held_*`): what
/// every [`Holding`] adds to when it ends. Cheap to clone.
#[derive(Debug, Clone, Default)]
struct Held {
    holds: Family<ByEnd, Counter>,
    trips: Family<ByPlace, Counter>,
    seconds: Family<ByPlace, FloatCounter>,
}

type Seconds = Family<ByBackend, Histogram, fn() -> Histogram>;

/// Waits and holds from 0.1 ms to about 26 s, doubling.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 19))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    acquisitions: Family<ByBackend, Counter>,
    timeouts: Family<ByHolder, Counter>,
    unavailable: Family<ByBackend, Counter>,
    lock_lost: Family<ByBackend, Counter>,
    wait: Seconds,
    hold: Seconds,
    renewals: Family<ByBackend, Counter>,
    renewal_failures: Family<ByBackend, Counter>,
    wakeups: Family<ByWaking, Counter>,
    held: Held,
    orders: Family<ByOutcome, Counter>,
}

/// What a renewal watchdog counts: handles into [`Metrics`] for one backend
/// (unregistered ones by default, for locks built outside the service).
#[derive(Debug, Clone, Default)]
pub struct RenewalCounters {
    pub renewed: Counter,
    pub failed: Counter,
}

/// What a lock's waiters count when they wake: handles into [`Metrics`]
/// for one backend (unregistered ones by default).
#[derive(Debug, Clone, Default)]
pub struct WakeupCounters {
    /// Woken by an announced release.
    pub by_release: Counter,
    /// Woken because the sleep ran out.
    pub by_timer: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::with_prefix("stocklock"),
            acquisitions: Family::default(),
            timeouts: Family::default(),
            unavailable: Family::default(),
            lock_lost: Family::default(),
            wait: Seconds::new_with_constructor(seconds),
            hold: Seconds::new_with_constructor(seconds),
            renewals: Family::default(),
            renewal_failures: Family::default(),
            wakeups: Family::default(),
            held: Held::default(),
            orders: Family::default(),
        };
        metrics.registered()
    }
}

impl Metrics {
    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register("lock_acquisitions", "Locks acquired", self.acquisitions.clone());
        r.register(
            "lock_timeouts",
            "Gave up waiting for a busy lock (503), by what this instance's holder was doing",
            self.timeouts.clone(),
        );
        r.register(
            "lock_unavailable",
            "Lock server down or not answering in time (503)",
            self.unavailable.clone(),
        );
        r.register(
            "lock_lost",
            "Holders whose lock was lost before the write: expired, or fenced out (409)",
            self.lock_lost.clone(),
        );
        r.register_with_unit(
            "lock_wait",
            "Time to acquire the lock",
            Unit::Seconds,
            self.wait.clone(),
        );
        r.register_with_unit(
            "lock_hold",
            "Time from acquiring the lock to releasing it",
            Unit::Seconds,
            self.hold.clone(),
        );
        r.register(
            "lock_renewals",
            "Lock extensions by a renewal watchdog",
            self.renewals.clone(),
        );
        r.register(
            "lock_renewal_failures",
            "Failed extensions: the lock was then treated as lost",
            self.renewal_failures.clone(),
        );
        r.register(
            "lock_wakeups",
            "Waiters that woke to try the lock again, by what woke them",
            self.wakeups.clone(),
        );
        r.register(
            "holds",
            "Holds of a lock, by whether they ended in a sale",
            self.held.holds.clone(),
        );
        r.register(
            "held_round_trips",
            "Round trips made while holding a lock, by where they went (at: lock_server, database)",
            self.held.trips.clone(),
        );
        r.register_with_unit(
            "held",
            "Time spent while holding a lock, by where (at: lock_server, database, work, and ours: the rest)",
            Unit::Seconds,
            self.held.seconds.clone(),
        );
        r.register("orders", "Orders answered, by outcome", self.orders.clone());
        self
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// The counters a renewal watchdog of `backend` updates.
    pub fn renewal_counters(&self, backend: Backend) -> RenewalCounters {
        let label = by(backend);
        RenewalCounters {
            renewed: self.renewals.get_or_create(&label).clone(),
            failed: self.renewal_failures.get_or_create(&label).clone(),
        }
    }

    /// The counters the waiters of `backend` update when they wake.
    pub fn wakeup_counters(&self, backend: Backend) -> WakeupCounters {
        let label = |by| ByWaking {
            backend: backend.as_str(),
            by,
        };
        // One at a time: `get_or_create` answers with a read guard on the
        // family, and a second call while it lives would wait for it.
        let by_release = self.wakeups.get_or_create(&label("release")).clone();
        let by_timer = self.wakeups.get_or_create(&label("timer")).clone();
        WakeupCounters { by_release, by_timer }
    }

    /// A lock taken, after waiting `waited`.
    pub fn acquired(&self, backend: Backend, waited: Duration) {
        let label = by(backend);
        self.acquisitions.get_or_create(&label).inc();
        self.wait.get_or_create(&label).observe(waited.as_secs_f64());
    }

    /// Gave up waiting for a busy lock, whose holder on this instance was
    /// at `holder_stage` (`None`: no holder here).
    pub fn timed_out(&self, backend: Backend, holder_stage: Option<&'static str>) {
        let label = ByHolder {
            backend: backend.as_str(),
            holder: holder_stage.unwrap_or("elsewhere"),
        };
        self.timeouts.get_or_create(&label).inc();
    }

    /// The lock server was down or did not answer in time.
    pub fn unavailable(&self, backend: Backend) {
        self.unavailable.get_or_create(&by(backend)).inc();
    }

    /// Times a hold of the lock, from now until the returned value is
    /// dropped (after the release, or the transaction's end).
    pub fn holding(&self, backend: Backend) -> Holding {
        Holding {
            hold: self.hold.get_or_create(&by(backend)).clone(),
            since: Instant::now(),
            backend: backend.as_str(),
            spent: Default::default(),
            sold: AtomicBool::new(false),
            held: self.held.clone(),
        }
    }

    /// An order's answer: `created`, `replayed` (a retry answered with
    /// its first order), or the code of its error. A lost lock is also
    /// counted as such.
    pub fn answered(&self, backend: Backend, outcome: &'static str) {
        if outcome == ErrorCode::LockLost.as_str() {
            self.lock_lost.get_or_create(&by(backend)).inc();
        }
        let label = ByOutcome {
            backend: backend.as_str(),
            outcome,
        };
        self.orders.get_or_create(&label).inc();
    }
}

/// See [`Metrics::holding`].
#[must_use = "the hold is measured until this is dropped"]
pub struct Holding {
    hold: Histogram,
    since: Instant,
    backend: &'static str,
    /// Per [`Place`] (as indexed by its discriminant): round trips, and
    /// nanoseconds, so far.
    spent: [(AtomicU64, AtomicU64); 3],
    sold: AtomicBool,
    held: Held,
}

impl Holding {
    /// Runs `call`, which makes `trips` round trips to `place` (0 for
    /// work), and adds them with the time it took.
    pub async fn at<F: Future>(&self, place: Place, trips: u64, call: F) -> F::Output {
        let started = Instant::now();
        let output = call.await;
        let (round_trips, nanos) = &self.spent[place as usize];
        round_trips.fetch_add(trips, Ordering::Relaxed);
        nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        output
    }

    /// The hold ends in a sale: its figures count under `sold="true"`.
    pub fn sold(&self) {
        self.sold.store(true, Ordering::Relaxed);
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let hold = self.since.elapsed();
        self.hold.observe(hold.as_secs_f64());
        let (backend, sold) = (self.backend, if *self.sold.get_mut() { "true" } else { "false" });
        self.held.holds.get_or_create(&ByEnd { backend, sold }).inc();
        let label = |at| ByPlace { backend, at, sold };
        let mut rest = hold;
        for place in Place::ALL {
            let (trips, nanos) = &mut self.spent[place as usize];
            let spent = Duration::from_nanos(*nanos.get_mut());
            rest = rest.saturating_sub(spent);
            // One family lookup at a time (see `wakeup_counters`).
            let label = label(place.as_str());
            self.held.trips.get_or_create(&label).inc_by(*trips.get_mut());
            self.held
                .seconds
                .get_or_create(&label)
                .inc_by(spent.as_secs_f64());
        }
        self.held
            .seconds
            .get_or_create(&label("ours"))
            .inc_by(rest.as_secs_f64());
    }
}

fn by(backend: Backend) -> ByBackend {
    ByBackend {
        backend: backend.as_str(),
    }
}
