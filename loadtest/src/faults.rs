//! A phase's faults: set on every target before the load, cleared after,
//! and the injections the targets report collected into the phase's report
//! with their time from the phase's start — so a student can line up "a
//! holder paused here" with "two orders held the lock at once here".

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use stocklock_api::{Faults, PausePoint};

use crate::RunError;
use crate::client::Target;

/// One injected fault, as the phase report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFault {
    /// `pause_holder`.
    pub kind: String,
    /// Seconds from the start of the phase's load.
    pub at_s: f64,
    /// Which target injected it.
    pub target: String,
    pub sku: String,
    pub at: PausePoint,
    pub pause_ms: u64,
}

/// Milliseconds since the Unix epoch: the clock the service stamps its
/// injections with (the same machine's).
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Sets `faults` on every target (the default clears them).
pub async fn set_all(targets: &[Target], faults: &Faults) -> Result<(), RunError> {
    for target in targets {
        target.set_faults(faults).await?;
    }
    Ok(())
}

/// The injections every target reports since `started_unix_ms`, in time
/// order.
pub async fn collect(targets: &[Target], started_unix_ms: u64) -> Result<Vec<PhaseFault>, RunError> {
    let mut faults = Vec::new();
    for target in targets {
        let reported = target.faults().await?;
        faults.extend(since(&target.base, &reported, started_unix_ms));
    }
    faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    Ok(faults)
}

fn since(target: &str, reported: &Faults, started_unix_ms: u64) -> Vec<PhaseFault> {
    reported
        .recent
        .iter()
        .filter(|event| event.at_unix_ms >= started_unix_ms)
        .map(|event| PhaseFault {
            kind: event.kind.clone(),
            at_s: (event.at_unix_ms - started_unix_ms) as f64 / 1000.0,
            target: target.to_owned(),
            sku: event.sku.clone(),
            at: event.at,
            pause_ms: event.pause_ms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use stocklock_api::FaultEvent;

    use super::*;

    #[test]
    fn only_the_phases_own_injections_are_kept_timed_from_its_start() {
        let event = |at_unix_ms| FaultEvent {
            kind: "pause_holder".into(),
            at_unix_ms,
            sku: "s".into(),
            at: PausePoint::BeforeWrite,
            pause_ms: 800,
        };
        let reported = Faults {
            recent: vec![event(9_000), event(10_500)],
            ..Faults::default()
        };
        let kept = since("http://a", &reported, 10_000);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].at_s, kept[0].target.as_str()), (0.5, "http://a"));
    }
}
