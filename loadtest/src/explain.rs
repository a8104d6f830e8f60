//! One plain sentence per phase saying *why* its verdict is what it is —
//! the line a student reads before any number ("the lock expired while
//! holders were paused; 9 stale writes were committed").

use crate::faults::PhaseFault;
use crate::i18n::Msg;
use crate::stats::Counts;
use crate::verdict::Verdict;

/// Why the phase came out as it did; `None` when there is nothing to
/// explain (a clean phase with no fault and no refusal). A [`Msg`]: the
/// report carries it in every language.
/// `ttl_ms` is the lock's TTL, if it has one (redis, etcd).
pub fn why(verdict: &Verdict, counts: &Counts, faults: &[PhaseFault], ttl_ms: Option<u64>) -> Option<Msg> {
    let pauses: Vec<u64> = faults.iter().filter_map(|f| f.pause_ms).collect();
    let outages: Vec<Msg> = faults
        .iter()
        .filter(|f| f.pause_ms.is_none())
        .map(|f| {
            Msg::new("cause-fault-at")
                .with("fault", fault(&f.kind))
                .arg("at", format!("{:.1}", f.at_s))
        })
        .collect();
    let paused = pauses.len();
    let cause = if let Some(&longest) = pauses.iter().max() {
        let cause = Msg::new(if ttl_ms.is_some() {
            "cause-paused-ttl"
        } else {
            "cause-paused"
        });
        let cause = cause.arg("paused", paused).arg("longest", longest);
        match ttl_ms {
            Some(ttl) => cause.arg("ttl", ttl),
            None => cause,
        }
    } else if !outages.is_empty() {
        Msg::new("cause-fault-list").list("faults", outages.clone())
    } else {
        Msg::new("cause-none")
    };
    let damage = |msg: Msg| {
        msg.arg("oversold", verdict.oversold_units)
            .arg("drift", verdict.stock_drift)
    };
    let sentence = if verdict.overlapping_across_backends > 0 {
        damage(Msg::new("why-mixed-backends").arg("pairs", verdict.overlapping_across_backends))
    } else if verdict.overlapping_holds > 0 {
        damage(Msg::new("why-overlaps").arg("pairs", verdict.overlapping_holds))
    } else if verdict.oversold_units > 0 || verdict.stock_drift > 0 {
        damage(Msg::new("why-no-exclusion"))
    } else if counts.lock_lost > 0 {
        Msg::new("why-lock-lost").arg("refused", counts.lock_lost)
    } else if paused > 0 {
        Msg::new("why-paused-alone")
    } else if !outages.is_empty() {
        Msg::new("why-outage").arg("refused", counts.unavailable())
    } else {
        return None;
    };
    Some(sentence.with("cause", cause))
}

/// A fault's kind (`kill_redis`, `partition_primary_i1`, `pause_holder`)
/// in words: `kill redis`.
pub fn fault(kind: &str) -> Msg {
    let (verb, server) = kind.split_once('_').unwrap_or((kind, ""));
    let id = match verb {
        "kill" => "fault-kill",
        "start" => "fault-start",
        "cut" => "fault-cut",
        "failover" => "fault-failover",
        "reset" => "fault-reset",
        "partition" => "fault-partition",
        "heal" => "fault-heal",
        "pause" => "fault-pause",
        _ => return Msg::new("fault-other").arg("kind", kind),
    };
    Msg::new(id).arg("server", server.replace('_', " "))
}

/// `why`, and how long clients went without a sale through the phase's
/// lock server faults, if it had any.
pub fn with_recovery(why: Msg, recovery_s: Option<f64>) -> Msg {
    match recovery_s {
        Some(wait) => Msg::new("why-recovery")
            .with("why", why)
            .arg("wait", format!("{wait:.1}")),
        None => why,
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
        let why = why(&verdict, &Counts::default(), &[pause(), pause()], Some(500))
            .unwrap()
            .to_string();
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
        let why = why(&verdict, &Counts::default(), &[], None).unwrap().to_string();
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
        let why = why(&Verdict::default(), &counts, &[pause()], None)
            .unwrap()
            .to_string();
        assert!(why.contains("3 orders found their lock lost"), "{why}");
    }

    #[test]
    fn an_outage_is_told_in_either_language() {
        let kill = PhaseFault {
            kind: "kill_redis".into(),
            at_s: 2.0,
            pause_ms: None,
            ..pause()
        };
        let start = PhaseFault {
            kind: "start_redis".into(),
            at_s: 4.04,
            ..kill.clone()
        };
        let counts = Counts {
            lock_unavailable: 7,
            ..Counts::default()
        };
        let why = with_recovery(
            why(&Verdict::default(), &counts, &[kill, start], None).unwrap(),
            Some(2.5),
        );
        assert_eq!(
            why.to_string(),
            "kill redis at 2.0 s, start redis at 4.0 s; 7 orders were refused with a 503 meanwhile, \
             nothing was oversold or lost; the longest wait for a sale was 2.5 s"
        );
        assert_eq!(
            why.text(crate::i18n::Lang::ZhCn),
            "第 2.0 秒杀掉 redis，第 4.0 秒启动 redis；其间有 7 个订单被 503 拒绝，没有超卖，也没有丢单；买家最长等了 2.5 秒才成交"
        );
    }

    #[test]
    fn a_clean_phase_needs_no_explanation() {
        assert_eq!(why(&Verdict::default(), &Counts::default(), &[], Some(500)), None);
    }
}
