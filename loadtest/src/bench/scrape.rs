//! What the targets' `/metrics` say a phase's holds were made of: scraped
//! before and after the phase, the difference divided by the holds.
//!
//! The service counts, per backend, every hold (`holds`) and, within the
//! holds, the round trips and time spent at the lock server, at the
//! database, working, and the rest, ours (`held_round_trips`,
//! `held_seconds`), apart for holds that sold and holds that did not: the
//! last buyers' holds that find the stock gone would otherwise dilute the
//! figures. `docs/bench.md#the-breakdown` reads them.

use std::collections::HashMap;

use serde::Serialize;
use stocklock_api::Backend;

/// The counters of one backend, summed over the targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters(HashMap<String, f64>);

/// Scrapes `/metrics` of every target (with `http`, which carries the
/// admin token) and adds up the series of `backend`.
pub async fn scrape(
    http: &reqwest::Client,
    targets: &[String],
    backend: Backend,
) -> anyhow::Result<Counters> {
    let mut counters = Counters::default();
    for target in targets {
        let url = format!("{}/metrics", target.trim_end_matches('/'));
        let text = http.get(url).send().await?.error_for_status()?.text().await?;
        counters.add(&text, backend);
    }
    Ok(counters)
}

impl Counters {
    /// Adds the samples of `backend`'s holds that sold, in the OpenMetrics
    /// `text`, keyed by name and `at` label (`held_seconds_total/database`),
    /// and the hold histogram's.
    fn add(&mut self, text: &str, backend: Backend) {
        let ours = format!("backend=\"{}\"", backend.as_str());
        for line in text.lines().filter(|line| line.starts_with("stocklock_")) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Some((name, labels)) = series.split_once('{') else {
                continue;
            };
            let labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
            let label = |key: &str| {
                labels
                    .iter()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix("=\"")?.strip_suffix('"'))
            };
            if !labels.contains(&ours.as_str()) || label("sold").is_some_and(|sold| sold != "true") {
                continue;
            }
            let key = match label("at") {
                Some(at) => format!("{name}/{at}"),
                None => name.to_owned(),
            };
            if let Ok(value) = value.parse::<f64>() {
                *self.0.entry(key).or_default() += value;
            }
        }
    }

    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    /// Per hold that sold, what happened between `self` (before) and
    /// `after`; `None` when nothing was sold under a lock (`none`,
    /// `atomic`, `batch`).
    pub fn breakdown(&self, after: &Counters) -> Option<Breakdown> {
        let delta = |key: &str| after.get(key) - self.get(key);
        let holds = delta("stocklock_holds_total");
        if holds < 1.0 {
            return None;
        }
        let per_hold = |key: &str| delta(key) / holds;
        let ms = |at: &str| per_hold(&format!("stocklock_held_seconds_total/{at}")) * 1000.0;
        let trips = |at: &str| per_hold(&format!("stocklock_held_round_trips_total/{at}"));
        let parts = [ms("lock_server"), ms("database"), ms("work"), ms("ours")];
        Some(Breakdown {
            holds: holds as u64,
            hold_ms: parts.iter().sum(),
            lock_server_trips: trips("lock_server"),
            lock_server_ms: parts[0],
            database_trips: trips("database"),
            database_ms: parts[1],
            work_ms: parts[2],
            ours_ms: parts[3],
            between_ms: 0.0,
        })
    }
}

/// One hold on average: where its time and round trips went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub holds: u64,
    pub hold_ms: f64,
    pub lock_server_trips: f64,
    pub lock_server_ms: f64,
    pub database_trips: f64,
    pub database_ms: f64,
    pub work_ms: f64,
    /// The rest: the service's own time inside the hold.
    pub ours_ms: f64,
    /// 1000 ÷ orders/s − the hold: the hand-off from one holder to the
    /// next, where one lock serializes every order (negative where it does
    /// not: `local` on two instances).
    pub between_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breakdown_divides_what_a_phase_added_by_the_holds_that_sold() {
        let scrape = |holds: u32, trips: u32, seconds: f64| {
            let mut counters = Counters::default();
            let text = format!(
                "stocklock_holds_total{{backend=\"redis\",sold=\"true\"}} {holds}\n\
                 stocklock_holds_total{{backend=\"redis\",sold=\"false\"}} 64\n\
                 stocklock_holds_total{{backend=\"etcd\",sold=\"true\"}} 99\n\
                 stocklock_held_round_trips_total{{backend=\"redis\",at=\"database\",sold=\"true\"}} {trips}\n\
                 stocklock_held_round_trips_total{{backend=\"redis\",at=\"database\",sold=\"false\"}} 640\n\
                 stocklock_held_seconds_total{{backend=\"redis\",at=\"work\",sold=\"true\"}} {}\n\
                 stocklock_held_seconds_total{{backend=\"redis\",at=\"ours\",sold=\"true\"}} {}\n",
                seconds * 0.9,
                seconds * 0.1
            );
            counters.add(&text, Backend::Redis);
            counters
        };
        let before = scrape(10, 70, 0.2);
        let after = scrape(110, 770, 2.2);
        let breakdown = before.breakdown(&after).expect("held");
        assert_eq!(breakdown.holds, 100);
        assert!((breakdown.hold_ms - 20.0).abs() < 1e-9);
        assert!((breakdown.database_trips - 7.0).abs() < 1e-9);
        assert!((breakdown.work_ms - 18.0).abs() < 1e-9);
        assert!((breakdown.ours_ms - 2.0).abs() < 1e-9);
        assert_eq!(before.breakdown(&before), None);
    }
}
