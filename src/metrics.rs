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
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.hold.observe(self.since.elapsed().as_secs_f64());
    }
}

fn by(backend: Backend) -> ByBackend {
    ByBackend {
        backend: backend.as_str(),
    }
}
