//! What this instance's holder of a lock is doing, so that a waiter that
//! gives up can say why it waited in vain.
//!
//! "Timed out waiting for the lock" blames the lock. Often the lock is fine
//! and its holder is stuck elsewhere: waiting for a pooled connection, a
//! row lock or a `COMMIT` — the database — or paused by an injected fault.
//! Each guard registers its key here and the order moves it from stage to
//! stage ([`super::LockGuard::enter`]); a waiter that times out reads the
//! stage of this instance's holder, if there is one, into its error message
//! and the `stocklock_lock_timeouts_total{holder=…}` metric. A holder on
//! another instance is not seen: the waiter then says `elsewhere`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Where a holder is in its critical section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The business work and the lock's own checks.
    Working,
    /// Waiting for a pooled connection, a statement (the fence's claim
    /// among them) or `COMMIT`.
    Database,
    /// Stalled by an injected `pause_holder` fault.
    Paused,
}

impl Stage {
    /// The metric's label.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Working => "working",
            Stage::Database => "database",
            Stage::Paused => "paused",
        }
    }
}

/// What a waiter saw of this instance's holder when it gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderSeen {
    pub stage: Stage,
    /// How long the holder had been in that stage.
    pub since: Duration,
}

impl fmt::Display for HolderSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let doing = match self.stage {
            Stage::Working => "working under it",
            Stage::Database => "waiting for the database",
            Stage::Paused => "paused by an injected fault",
        };
        write!(
            f,
            "its holder on this instance has been {doing} for {} ms",
            self.since.as_millis()
        )
    }
}

type Cell = Arc<Mutex<(Stage, Instant)>>;

/// Per key, the stage of this instance's holder. Cheap to clone.
#[derive(Debug, Default, Clone)]
pub struct Holders(Arc<Mutex<HashMap<String, Cell>>>);

impl Holders {
    /// Registers the holder of `key`; it leaves when the entry is dropped.
    pub fn enter(&self, key: &str) -> HolderEntry {
        let cell: Cell = Arc::new(Mutex::new((Stage::Working, Instant::now())));
        self.map().insert(key.to_owned(), cell.clone());
        HolderEntry {
            key: key.to_owned(),
            cell,
            holders: self.clone(),
        }
    }

    /// The stage of `key`'s holder on this instance, if it has one.
    pub fn seen(&self, key: &str) -> Option<HolderSeen> {
        let cell = self.map().get(key)?.clone();
        let (stage, since) = *lock(&cell);
        Some(HolderSeen {
            stage,
            since: since.elapsed(),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cell>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock(cell: &Cell) -> std::sync::MutexGuard<'_, (Stage, Instant)> {
    cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One holder's place in [`Holders`].
#[derive(Debug)]
pub struct HolderEntry {
    key: String,
    cell: Cell,
    holders: Holders,
}

impl HolderEntry {
    pub fn enter(&self, stage: Stage) {
        let mut current = lock(&self.cell);
        if current.0 != stage {
            *current = (stage, Instant::now());
        }
    }
}

impl Drop for HolderEntry {
    fn drop(&mut self) {
        let mut map = self.holders.map();
        // A holder that never excluded anyone (`none`, a lock that failed
        // us) may have been replaced meanwhile: remove only our own cell.
        if map
            .get(&self.key)
            .is_some_and(|cell| Arc::ptr_eq(cell, &self.cell))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_sees_the_stage_of_the_holder_until_it_leaves() {
        let holders = Holders::default();
        assert_eq!(holders.seen("k"), None);
        let entry = holders.enter("k");
        entry.enter(Stage::Database);
        assert_eq!(holders.seen("k").map(|seen| seen.stage), Some(Stage::Database));
        drop(entry);
        assert_eq!(holders.seen("k"), None);
    }

    #[test]
    fn an_earlier_holder_leaving_late_does_not_hide_the_current_one() {
        let holders = Holders::default();
        let earlier = holders.enter("k");
        let current = holders.enter("k");
        current.enter(Stage::Paused);
        drop(earlier);
        assert_eq!(holders.seen("k").map(|seen| seen.stage), Some(Stage::Paused));
    }
}
