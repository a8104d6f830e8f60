//! Faults the service injects into itself, for teaching — as data, the way
//! Jepsen's nemeses are: a named fault, where it strikes, how often.
//!
//! `pause_holder` makes a lock holder stall, as a garbage-collection pause,
//! a swapped-out process or an overloaded VM would: with probability `p`, a
//! holder sleeps `pause_ms` at a named point of the deduction —
//! `after_acquire` (before the read: a check before the write notices a lock
//! that expired meanwhile) or `before_write` (after the last check: the worst
//! moment, where only fencing helps). Off by default; every injection is
//! logged with its time and counted (`GET /admin/faults`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use stocklock_api::{ErrorCode, FaultEvent, Faults, PausePoint};
use tokio::time::Instant;

use crate::domain::Sku;
use crate::error::Error;
use crate::lock::{LockGuard, Stage};

/// The longest pause a fault may inject.
const MAX_PAUSE_MS: u64 = 60_000;

/// How many recent injections `GET /admin/faults` lists.
const RECENT: usize = 500;

/// The active faults, and how many were injected.
#[derive(Debug, Default)]
pub struct FaultInjector {
    /// A std mutex: held for a copy, never across an `.await`.
    active: Mutex<Faults>,
    injected: AtomicU64,
    /// The last [`RECENT`] injections, oldest first.
    recent: Mutex<VecDeque<FaultEvent>>,
}

impl FaultInjector {
    /// The faults as the API reports them.
    pub fn describe(&self) -> Faults {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        Faults {
            injected: self.injected.load(Ordering::Relaxed),
            recent: recent.iter().cloned().collect(),
            ..self.active()
        }
    }

    /// Replaces every fault, or changes nothing and names the bad value.
    pub fn replace(&self, faults: Faults) -> Result<Faults, Error> {
        validate(&faults)?;
        // Only the settings are kept; the read-only fields are ours.
        let faults = Faults {
            injected: 0,
            recent: Vec::new(),
            ..faults
        };
        *self
            .active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = faults;
        Ok(self.describe())
    }

    fn active(&self) -> Faults {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stalls the holder of `sku`'s lock (`guard`) here, if a `pause_holder`
    /// fault at `point` strikes this time. Its renewal stalls too, as a
    /// paused process's would.
    pub async fn at(&self, point: PausePoint, sku: &Sku, guard: &LockGuard) {
        let Some(pause) = self.active().pause_holder.filter(|p| p.at == point) else {
            return;
        };
        if !rand::rng().random_bool(pause.probability) {
            return;
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        self.remember(FaultEvent {
            kind: "pause_holder".to_owned(),
            at_unix_ms: stocklock_api::now_unix_ms(),
            sku: sku.to_string(),
            at: point,
            pause_ms: pause.pause_ms,
        });
        tracing::warn!(
            fault = "pause_holder",
            at = ?point,
            %sku,
            pause_ms = pause.pause_ms,
            "injecting a fault"
        );
        let pause = Duration::from_millis(pause.pause_ms);
        guard.suspend_renewal(Instant::now() + pause);
        guard.enter(Stage::Paused);
        tokio::time::sleep(pause).await;
        guard.enter(Stage::Working);
    }

    fn remember(&self, event: FaultEvent) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(event);
    }
}

fn validate(faults: &Faults) -> Result<(), Error> {
    let Some(pause) = faults.pause_holder else {
        return Ok(());
    };
    let problem = if !(0.0..=1.0).contains(&pause.probability) {
        format!(
            "pause_holder.probability must be between 0 and 1, got {}",
            pause.probability
        )
    } else if !(1..=MAX_PAUSE_MS).contains(&pause.pause_ms) {
        format!(
            "pause_holder.pause_ms must be between 1 and {MAX_PAUSE_MS}, got {}",
            pause.pause_ms
        )
    } else {
        return Ok(());
    };
    Err(Error::invalid(ErrorCode::InvalidFaults, problem))
}

#[cfg(test)]
mod tests {
    use stocklock_api::PauseHolder;

    use super::*;

    fn pause(probability: f64, pause_ms: u64) -> Faults {
        Faults {
            pause_holder: Some(PauseHolder {
                probability,
                pause_ms,
                at: PausePoint::BeforeWrite,
            }),
            ..Faults::default()
        }
    }

    #[test]
    fn bad_values_are_refused_by_name_and_change_nothing() {
        let injector = FaultInjector::default();
        for (faults, named) in [
            (pause(1.5, 10), "probability"),
            (pause(f64::NAN, 10), "probability"),
            (pause(0.5, 0), "pause_ms"),
        ] {
            let err = injector.replace(faults).unwrap_err();
            assert!(err.to_string().contains(named), "{err}");
        }
        assert_eq!(injector.describe(), Faults::default());
    }

    #[tokio::test]
    async fn a_certain_pause_strikes_only_at_its_point() {
        let injector = FaultInjector::default();
        injector.replace(pause(1.0, 1)).unwrap();
        let (sku, guard) = (Sku::parse("s").unwrap(), LockGuard::unlocked());
        injector.at(PausePoint::AfterAcquire, &sku, &guard).await;
        assert_eq!(injector.describe().injected, 0);
        injector.at(PausePoint::BeforeWrite, &sku, &guard).await;
        let described = injector.describe();
        assert_eq!(described.injected, 1);
        assert_eq!(
            (described.recent.len(), described.recent[0].sku.as_str()),
            (1, "s")
        );
    }
}
