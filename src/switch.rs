//! Switching the lock backend at runtime, safely.
//!
//! While an instance switches from `redis` to `etcd`, one order could still
//! hold the Redis lock for a SKU while another takes the etcd lock for it:
//! each lock is fine on its own; together they exclude nothing. So the
//! active backend sits behind a `tokio::sync::RwLock`. Every order holds a
//! read guard ([`LockSwitch::pin`]) until it has finished, so it loads the
//! backend once; a switch takes the write guard, and so waits for every
//! pinned order. Rejected: an atomic pointer swap (`ArcSwap`) — cheaper to
//! load, but a switch would not wait for the orders under the old backend,
//! which is exactly the danger above.
//!
//! Fairness, what a drain costs, a switch that keeps an order waiting, and
//! two instances: `docs/locks.md#switching-backends-at-runtime`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use stocklock_api::{Backend, ErrorCode, LockSettings, LockSettingsUpdate};
use tokio::sync::{RwLock, RwLockReadGuard};

use crate::error::Error;
use crate::lock::{Lock, LockTimings};

/// Bounds for the settings, checked before anything is changed.
const TTL_MS: std::ops::RangeInclusive<u64> = 10..=600_000;
const ACQUIRE_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1..=60_000;
const CRITICAL_SECTION_MS: std::ops::RangeInclusive<u64> = 0..=60_000;
const BATCH_SIZE: std::ops::RangeInclusive<u64> = 1..=1_000;

/// The backend every new request runs under, and its settings.
#[derive(Debug, Clone)]
pub struct ActiveLock {
    pub lock: Lock,
    pub settings: Settings,
}

/// The tunable part of [`ActiveLock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub backend: Backend,
    pub ttl: Duration,
    pub acquire_timeout: Duration,
    pub critical_section: Duration,
    /// The ladder's rungs; see [`LockSettings`].
    pub check_before_commit: bool,
    pub renewal: bool,
    pub fencing: bool,
    /// `batch`: the most orders in one batch.
    pub batch_size: u64,
}

impl Settings {
    pub fn timings(&self) -> LockTimings {
        LockTimings {
            ttl: self.ttl,
            acquire_timeout: self.acquire_timeout,
            renewal: self.renewal,
        }
    }

    /// The settings with `update` applied, or a 422 naming the bad field.
    pub fn apply(mut self, update: &LockSettingsUpdate) -> Result<Settings, Error> {
        if let Some(backend) = update.backend {
            self.backend = backend;
        }
        if let Some(ms) = update.ttl_ms {
            self.ttl = checked_ms("ttl_ms", ms, TTL_MS)?;
        }
        if let Some(ms) = update.acquire_timeout_ms {
            self.acquire_timeout = checked_ms("acquire_timeout_ms", ms, ACQUIRE_TIMEOUT_MS)?;
        }
        if let Some(ms) = update.critical_section_ms {
            self.critical_section = checked_ms("critical_section_ms", ms, CRITICAL_SECTION_MS)?;
        }
        if let Some(on) = update.check_before_commit {
            self.check_before_commit = on;
        }
        if let Some(on) = update.renewal {
            self.renewal = on;
        }
        if let Some(on) = update.fencing {
            self.fencing = on;
        }
        if let Some(size) = update.batch_size {
            self.batch_size = checked("batch_size", size, BATCH_SIZE)?;
        }
        Ok(self)
    }
}

impl Settings {
    /// Checks settings made whole (from the configuration) by the same
    /// rules as an update.
    pub fn validated(self) -> Result<Settings, Error> {
        let ms = |d: Duration| d.as_millis().try_into().unwrap_or(u64::MAX);
        checked_ms("ttl_ms", ms(self.ttl), TTL_MS)?;
        checked_ms("acquire_timeout_ms", ms(self.acquire_timeout), ACQUIRE_TIMEOUT_MS)?;
        checked_ms(
            "critical_section_ms",
            ms(self.critical_section),
            CRITICAL_SECTION_MS,
        )?;
        checked("batch_size", self.batch_size, BATCH_SIZE)?;
        Ok(self)
    }
}

fn checked_ms(field: &str, ms: u64, range: std::ops::RangeInclusive<u64>) -> Result<Duration, Error> {
    checked(field, ms, range).map(Duration::from_millis)
}

fn checked(field: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, Error> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            ErrorCode::InvalidSettings,
            format!(
                "{field} must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// Every backend of this instance, and the one that is active.
#[derive(Debug)]
pub struct LockSwitch {
    backends: HashMap<Backend, Lock>,
    active: RwLock<ActiveLock>,
    /// The settings of `active`, written under its write guard, readable
    /// without it: for `GET /admin/lock` and for the bound of [`Self::pin`],
    /// neither of which may wait behind a switch. A std mutex: held for a
    /// copy, never across an `.await`.
    current: Mutex<Settings>,
}

impl LockSwitch {
    /// `backends` must contain `initial.backend`.
    pub fn new(backends: Vec<Lock>, initial: Settings) -> Result<Self, Error> {
        let backends: HashMap<_, _> = backends.into_iter().map(|b| (b.backend(), b)).collect();
        let lock = backends
            .get(&initial.backend)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("backend {} is not built", initial.backend)))?;
        Ok(LockSwitch {
            backends,
            active: RwLock::new(ActiveLock {
                lock,
                settings: initial,
            }),
            current: Mutex::new(initial),
        })
    }

    /// Pins the active backend for one request; see the module docs. Waits
    /// for a switch in progress at most the acquire timeout, then gives up
    /// with a 503 (nothing changed).
    pub async fn pin(&self) -> Result<RwLockReadGuard<'_, ActiveLock>, Error> {
        let limit = self.current().acquire_timeout;
        tokio::time::timeout(limit, self.active.read())
            .await
            .map_err(|_elapsed| Error::SwitchInProgress(limit))
    }

    /// The active settings, without waiting for a switch in progress.
    pub fn current(&self) -> Settings {
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The settings as the API reports them; never waits.
    pub fn describe(&self) -> LockSettings {
        self.to_api(self.current())
    }

    /// Validates `update`, waits for in-flight requests, and applies it.
    /// An invalid update changes nothing.
    pub async fn update(&self, update: &LockSettingsUpdate) -> Result<LockSettings, Error> {
        // Refuse a bad update at once, rather than after draining the
        // orders in flight; it is checked again under the write guard.
        self.current().apply(update)?;

        let mut active = self.active.write().await;
        let settings = active.settings.apply(update)?;
        let lock = self.backends.get(&settings.backend).cloned().ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidSettings,
                format!("backend {} is not available", settings.backend),
            )
        })?;
        if settings.backend != active.settings.backend {
            tracing::info!(from = %active.settings.backend, to = %settings.backend, "lock backend switched");
        }
        *active = ActiveLock { lock, settings };
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
        Ok(self.to_api(settings))
    }

    fn to_api(&self, settings: Settings) -> LockSettings {
        let available = Backend::ALL
            .into_iter()
            .filter(|b| self.backends.contains_key(b))
            .collect();
        LockSettings {
            backend: settings.backend,
            ttl_ms: settings.ttl.as_millis() as u64,
            acquire_timeout_ms: settings.acquire_timeout.as_millis() as u64,
            critical_section_ms: settings.critical_section.as_millis() as u64,
            check_before_commit: settings.check_before_commit,
            renewal: settings.renewal,
            fencing: settings.fencing,
            batch_size: settings.batch_size,
            available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            backend: Backend::None,
            ttl: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(3),
            critical_section: Duration::ZERO,
            check_before_commit: true,
            renewal: true,
            fencing: true,
            batch_size: 100,
        }
    }

    #[test]
    fn apply_changes_only_the_fields_given() {
        let update = LockSettingsUpdate {
            backend: Some(Backend::Redis),
            critical_section_ms: Some(20),
            ..Default::default()
        };
        let applied = settings().apply(&update).unwrap();
        assert_eq!(applied.backend, Backend::Redis);
        assert_eq!(applied.critical_section, Duration::from_millis(20));
        assert_eq!(applied.ttl, settings().ttl);
        assert_eq!(applied.acquire_timeout, settings().acquire_timeout);
    }

    #[test]
    fn apply_rejects_out_of_range_values_by_name() {
        let update = LockSettingsUpdate {
            acquire_timeout_ms: Some(0),
            ..Default::default()
        };
        let err = settings().apply(&update).unwrap_err();
        assert!(err.to_string().contains("acquire_timeout_ms"), "{err}");
    }
}
