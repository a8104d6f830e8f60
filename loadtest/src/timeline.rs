//! Who held the lock when: a phase's critical sections, laid out for the
//! dashboard's timeline, Jepsen-style — one lane per instance, one bar per
//! committed order from the ledger's own timestamps (read to write, by
//! PostgreSQL's clock), the bars that overlap another marked, and every
//! order refused for a lost lock where it was refused.
//!
//! The figures that decide a verdict stay the audit's (`overlapping_holds`,
//! `most_holders_at_once`); this only draws what they count. It is built
//! once per phase from the order list the judge reads anyway, so the live
//! ticks never pay for it. Times are milliseconds since the phase's load
//! started by the load tester's clock; the sections are PostgreSQL's, so
//! they line up only when both run on one machine, as in the workshop.
//! What the page draws from it: `docs/dashboard.md#who-held-the-lock-when`.

use std::collections::HashMap;

use serde::Serialize;
use stocklock_api::OrderList;

/// The most sections one phase's timeline carries: enough to see every
/// hand-off of a workshop's phase, small enough for the report (about
/// 60 bytes each). The rest are counted, not drawn.
pub const MOST_SECTIONS: usize = 20_000;

/// One phase's timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    pub lanes: Vec<Lane>,
    /// The first [`MOST_SECTIONS`] sections by start, over every SKU.
    pub sections: Vec<Section>,
    pub refusals: Vec<Refused>,
    /// Every section of the phase, drawn or not.
    pub total_sections: usize,
}

/// One instance's lane.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lane {
    /// The instance's name as the ledger records it (`INSTANCE_NAME`).
    pub instance: String,
    /// The target it answers on, when one of them said so at the phase's
    /// end (a killed one cannot).
    pub target: Option<String>,
    /// Its sections, how many of them overlapped another, its refusals.
    pub sections: usize,
    pub overlapping: usize,
    pub refusals: usize,
}

/// One committed order's critical section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub lane: usize,
    pub start_ms: f64,
    pub end_ms: f64,
    /// The fencing token it wrote under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
    /// Another section of the same SKU was open during it.
    pub overlaps: bool,
}

/// One order refused with 409 `lock_lost`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    pub lane: usize,
    pub at_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
}

/// The timeline of `lists` (one per SKU), for a phase whose load started at
/// `started_unix_ms`; `instances` pairs each instance's name with the
/// target it answered on, in the targets' order: lanes come in that order,
/// then any other instance the ledger names.
pub fn build(lists: &[OrderList], instances: &[(String, String)], started_unix_ms: u64) -> Timeline {
    let mut lanes = Lanes::new(instances);
    let ms = |us: i64| (us as f64 / 1000.0 - started_unix_ms as f64).max(0.0);
    let mut sections = Vec::new();
    for list in lists {
        let mut of_sku: Vec<Section> = (list.orders.iter())
            .filter_map(|order| {
                let (start, end) = (order.cs_started_us?, order.cs_ended_us?);
                // `atomic` and `batch`: an instant, not a hold.
                (start < end).then(|| Section {
                    lane: lanes.of(order.instance.as_deref()),
                    start_ms: ms(start),
                    end_ms: ms(end),
                    token: order.fence_token,
                    overlaps: false,
                })
            })
            .collect();
        mark_overlaps(&mut of_sku);
        sections.append(&mut of_sku);
    }
    let mut refusals: Vec<Refused> = (lists.iter().flat_map(|list| &list.refusals))
        .map(|refusal| Refused {
            lane: lanes.of(refusal.instance.as_deref()),
            at_ms: ms(refusal.refused_us),
            token: refusal.fence_token,
        })
        .collect();
    refusals.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    sections.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    lanes.count(&sections, &refusals);
    let total_sections = sections.len();
    sections.truncate(MOST_SECTIONS);
    Timeline {
        lanes: lanes.lanes,
        sections,
        refusals,
        total_sections,
    }
}

/// Marks every section of one SKU that overlaps another, in one sweep by
/// start: a section overlaps an earlier one exactly when it starts before
/// the latest end so far — and then the section that ends latest overlaps
/// it too. (Touching is not overlapping: the audit's rule.)
fn mark_overlaps(sections: &mut [Section]) {
    sections.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let mut latest: Option<usize> = None;
    for i in 0..sections.len() {
        match latest {
            Some(l) if sections[i].start_ms < sections[l].end_ms => {
                sections[i].overlaps = true;
                sections[l].overlaps = true;
                if sections[i].end_ms > sections[l].end_ms {
                    latest = Some(i);
                }
            }
            _ => latest = Some(i),
        }
    }
}

/// The lanes, by instance name.
struct Lanes {
    lanes: Vec<Lane>,
    by_name: HashMap<String, usize>,
}

impl Lanes {
    fn new(instances: &[(String, String)]) -> Self {
        let mut lanes = Lanes {
            lanes: Vec::new(),
            by_name: HashMap::new(),
        };
        for (instance, target) in instances {
            let lane = lanes.of(Some(instance));
            lanes.lanes[lane].target.get_or_insert_with(|| target.clone());
        }
        lanes
    }

    /// The lane of `instance` (rows from before the ledger named instances
    /// share one, "unknown"), added if new.
    fn of(&mut self, instance: Option<&str>) -> usize {
        let name = instance.unwrap_or("unknown");
        if let Some(&lane) = self.by_name.get(name) {
            return lane;
        }
        self.lanes.push(Lane {
            instance: name.to_owned(),
            target: None,
            sections: 0,
            overlapping: 0,
            refusals: 0,
        });
        self.by_name.insert(name.to_owned(), self.lanes.len() - 1);
        self.lanes.len() - 1
    }

    fn count(&mut self, sections: &[Section], refusals: &[Refused]) {
        for section in sections {
            let lane = &mut self.lanes[section.lane];
            lane.sections += 1;
            lane.overlapping += usize::from(section.overlaps);
        }
        for refusal in refusals {
            self.lanes[refusal.lane].refusals += 1;
        }
    }
}

#[cfg(test)]
mod tests;
