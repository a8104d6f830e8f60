use stocklock_api::{Backend, OrderList, RecordedOrder, Refusal};
use uuid::Uuid;

use super::*;

/// Phase start: 1,000 ms after the epoch, so that `us(5)` is 5 ms in.
const START_MS: u64 = 1_000;

fn us(ms: i64) -> i64 {
    (START_MS as i64 + ms) * 1000
}

fn order(instance: &str, start_ms: i64, end_ms: i64) -> RecordedOrder {
    RecordedOrder {
        order_id: Uuid::new_v4(),
        quantity: 1,
        instance: Some(instance.to_owned()),
        backend: Backend::None,
        fence_token: None,
        cs_started_us: Some(us(start_ms)),
        cs_ended_us: Some(us(end_ms)),
    }
}

fn list(orders: Vec<RecordedOrder>) -> OrderList {
    OrderList {
        sku: "s".into(),
        orders,
        refusals: vec![],
    }
}

fn targets() -> Vec<(String, String)> {
    vec![
        ("a:1".into(), "http://127.0.0.1:1".into()),
        ("b:2".into(), "http://127.0.0.1:2".into()),
    ]
}

fn overlaps(timeline: &Timeline) -> Vec<bool> {
    timeline.sections.iter().map(|s| s.overlaps).collect()
}

#[test]
fn sections_of_two_instances_open_together_both_overlap_each_in_its_lane() {
    let timeline = build(
        &[list(vec![
            order("b:2", 5, 30),
            order("a:1", 10, 20),
            order("a:1", 40, 50),
        ])],
        &targets(),
        START_MS,
    );
    let lanes: Vec<_> = timeline
        .lanes
        .iter()
        .map(|l| (l.instance.as_str(), l.sections, l.overlapping))
        .collect();
    assert_eq!(
        lanes,
        [("a:1", 2, 1), ("b:2", 1, 1)],
        "lanes in the targets' order"
    );
    assert_eq!(timeline.lanes[1].target.as_deref(), Some("http://127.0.0.1:2"));
    assert_eq!(overlaps(&timeline), [true, true, false]);
    let first = &timeline.sections[0];
    assert_eq!((first.lane, first.start_ms, first.end_ms), (1, 5.0, 30.0));
}

#[test]
fn sections_that_only_touch_do_not_overlap_and_instants_are_not_sections() {
    let mut atomic = order("a:1", 60, 60);
    atomic.backend = Backend::Atomic;
    let timeline = build(
        &[list(vec![
            order("a:1", 0, 10),
            order("b:2", 10, 20),
            order("a:1", 20, 30),
            atomic,
        ])],
        &targets(),
        START_MS,
    );
    assert_eq!(overlaps(&timeline), [false, false, false]);
    assert_eq!(timeline.total_sections, 3);
}

#[test]
fn sections_of_different_skus_never_overlap_each_other() {
    let mut other = list(vec![order("b:2", 5, 15)]);
    other.sku = "t".into();
    let timeline = build(&[list(vec![order("a:1", 0, 10)]), other], &targets(), START_MS);
    assert_eq!(overlaps(&timeline), [false, false]);
}

#[test]
fn refusals_and_unnamed_instances_get_lanes_of_their_own() {
    let mut old = order("x", 0, 10);
    old.instance = None;
    let mut with_refusal = list(vec![old, order("c:3", 20, 30)]);
    with_refusal.refusals.push(Refusal {
        instance: Some("b:2".into()),
        backend: Backend::Redis,
        fence_token: Some(7),
        refused_us: us(25),
    });
    let timeline = build(&[with_refusal], &targets(), START_MS);
    let names: Vec<_> = timeline.lanes.iter().map(|l| l.instance.as_str()).collect();
    assert_eq!(names, ["a:1", "b:2", "unknown", "c:3"]);
    assert_eq!(timeline.lanes[3].target, None, "not a target");
    assert_eq!(
        timeline.refusals,
        [Refused {
            lane: 1,
            at_ms: 25.0,
            token: Some(7)
        }]
    );
    assert_eq!(timeline.lanes[1].refusals, 1);
}

#[test]
fn a_phase_with_more_sections_than_are_drawn_counts_them_all() {
    let orders = (0..MOST_SECTIONS as i64 + 5)
        .map(|i| order("a:1", 2 * i, 2 * i + 1))
        .collect();
    let timeline = build(&[list(orders)], &targets(), START_MS);
    assert_eq!(timeline.sections.len(), MOST_SECTIONS);
    assert_eq!(timeline.total_sections, MOST_SECTIONS + 5);
    assert_eq!(timeline.lanes[0].sections, MOST_SECTIONS + 5);
}

/// The sweep agrees with comparing every pair, on a few thousand
/// pseudo-random sections (a fixed linear congruential sequence: the same
/// every run).
#[test]
fn the_sweep_marks_exactly_the_sections_that_overlap_another() {
    let mut seed: u64 = 42;
    let mut next = |below: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % below) as i64
    };
    let orders: Vec<_> = (0..3000)
        .map(|_| {
            let start = next(200_000);
            let longest = if next(4) == 0 { 500 } else { 40 };
            order("a:1", start, start + 1 + next(longest))
        })
        .collect();
    let timeline = build(&[list(orders)], &targets(), START_MS);
    let s = &timeline.sections;
    let brute: Vec<bool> = (0..s.len())
        .map(|i| (0..s.len()).any(|j| i != j && s[i].start_ms < s[j].end_ms && s[j].start_ms < s[i].end_ms))
        .collect();
    assert_eq!(overlaps(&timeline), brute);
    assert!(
        brute.iter().any(|o| *o) && brute.iter().any(|o| !*o),
        "both kinds present"
    );
}
