//! One plain sentence per phase saying *why* its verdict is what it is —
//! the line a student reads before any number ("the lock expired while
//! holders were paused; 9 stale writes were committed").

use crate::faults::PhaseFault;
use crate::stats::Counts;
use crate::verdict::Verdict;

/// Why the phase came out as it did; `None` when there is nothing to
/// explain (a clean phase with no fault and no refusal).
/// `ttl_ms` is the lock's TTL, if it has one (redis, etcd).
pub fn why(verdict: &Verdict, counts: &Counts, faults: &[PhaseFault], ttl_ms: Option<u64>) -> Option<String> {
    let pauses: Vec<u64> = faults.iter().filter_map(|f| f.pause_ms).collect();
    let outages: Vec<String> = faults
        .iter()
        .filter(|f| f.pause_ms.is_none())
        .map(|f| format!("{} at {:.1} s", f.kind.replace('_', " "), f.at_s))
        .collect();
    let paused = pauses.len();
    let cause = if let Some(&longest) = pauses.iter().max() {
        match ttl_ms {
            Some(ttl) => {
                format!("{paused} holders were paused (up to {longest} ms, the lock's TTL is {ttl} ms)")
            }
            None => format!("{paused} holders were paused (up to {longest} ms)"),
        }
    } else if !outages.is_empty() {
        outages.join(", ")
    } else {
        "no fault was injected".to_owned()
    };
    let sentence = if verdict.overlapping_across_backends > 0 {
        format!(
            "the instances ran different backends: {} pairs of orders under two of them were inside the \
             critical section at once ({} units oversold, stock off by {}); a lock protects only against \
             those who take it",
            verdict.overlapping_across_backends, verdict.oversold_units, verdict.stock_drift
        )
    } else if verdict.overlapping_holds > 0 {
        format!(
            "{cause}; {} pairs of orders were inside the critical section at once and both committed \
             ({} units oversold, stock off by {})",
            verdict.overlapping_holds, verdict.oversold_units, verdict.stock_drift
        )
    } else if verdict.oversold_units > 0 || verdict.stock_drift > 0 {
        format!(
            "{cause}; nothing excluded concurrent read-check-writes: {} units oversold, stock off by {}",
            verdict.oversold_units, verdict.stock_drift
        )
    } else if counts.lock_lost > 0 {
        format!(
            "{cause}; {} orders found their lock lost before writing and were refused (409 lock_lost): \
             nothing stale was committed",
            counts.lock_lost
        )
    } else if paused > 0 {
        format!("{cause}; no second holder got in while they were")
    } else if !outages.is_empty() {
        format!(
            "{cause}; {} orders were refused with a 503 meanwhile, nothing was oversold or lost",
            counts.unavailable()
        )
    } else {
        return None;
    };
    Some(sentence)
}

/// `why`, and how long clients went without a sale through the phase's
/// lock server faults, if it had any.
pub fn with_recovery(why: Option<String>, recovery_s: Option<f64>) -> Option<String> {
    match (why, recovery_s) {
        (Some(why), Some(wait)) => Some(format!("{why}; the longest wait for a sale was {wait:.1} s")),
        (why, _) => why,
    }
}

#[cfg(test)]
mod tests {
    use stocklock_api::PausePoint;

    use super::*;

    fn pause() -> PhaseFault {
        PhaseFault {
            kind: "pause_holder".into(),
            at_s: 0.1,
            target: "t".into(),
            sku: Some("s".into()),
            at: Some(PausePoint::BeforeWrite),
            pause_ms: Some(800),
        }
    }

    #[test]
    fn overlapping_holds_are_named_with_their_cause() {
        let verdict = Verdict {
            overlapping_holds: 9,
            oversold_units: 4,
            ..Verdict::default()
        };
        let why = why(&verdict, &Counts::default(), &[pause(), pause()], Some(500)).unwrap();
        assert!(
            why.starts_with("2 holders were paused (up to 800 ms, the lock's TTL is 500 ms); 9 pairs"),
            "{why}"
        );
    }

    #[test]
    fn overlaps_under_two_backends_say_that_a_lock_binds_only_its_takers() {
        let verdict = Verdict {
            overlapping_holds: 5,
            overlapping_across_backends: 5,
            oversold_units: 3,
            ..Verdict::default()
        };
        let why = why(&verdict, &Counts::default(), &[], None).unwrap();
        assert!(
            why.starts_with("the instances ran different backends: 5 pairs"),
            "{why}"
        );
        assert!(
            why.ends_with("a lock protects only against those who take it"),
            "{why}"
        );
    }

    #[test]
    fn refused_stale_writes_are_the_fences_doing() {
        let counts = Counts {
            lock_lost: 3,
            ..Counts::default()
        };
        let why = why(&Verdict::default(), &counts, &[pause()], None).unwrap();
        assert!(why.contains("3 orders found their lock lost"), "{why}");
    }

    #[test]
    fn a_clean_phase_needs_no_explanation() {
        assert_eq!(why(&Verdict::default(), &Counts::default(), &[], Some(500)), None);
    }
}
