//! The statistics' unit tests: recorders merged, latencies kept per outcome,
//! percentiles and rates computed — built by hand, no server needed.

use super::*;

#[test]
fn merging_recorders_adds_counts_latencies_and_acks() {
    let mut a = Recorder::default();
    a.record(Outcome::Created, Duration::from_millis(10), 2, Some(ack(2)));
    a.record(Outcome::SoldOut, Duration::from_millis(20), 1, None);
    let mut b = Recorder::default();
    b.record(Outcome::NoAnswer, Duration::from_millis(30), 4, None);
    b.record(Outcome::Created, Duration::from_millis(40), 3, Some(ack(3)));

    let all = Recorder::merged([a, b]);
    assert_eq!(all.counts.created, 2);
    assert_eq!(
        (all.counts.sold_out, all.counts.no_answer, all.counts.total()),
        (1, 1, 4)
    );
    assert_eq!(all.latency_of(Outcome::Created).len(), 2);
    assert_eq!(all.acked_units(), 5);
    assert_eq!(all.no_answer_quantities, [4]);
}

#[test]
fn the_longest_stretch_without_a_sale_runs_from_the_fault_to_the_first_sale_after_the_last() {
    let recorder = Recorder {
        sale_times_ms: vec![1_000, 1_500, 2_100, 5_000, 5_200],
        ..Recorder::default()
    };
    // Killed at 2 s, back at 4 s: a straggler at 2.1 s, then nothing until 5 s.
    assert!((recorder.longest_without_sale(2.0, 4.0, 9.0) - 2.9).abs() < 1e-9);
    // Nothing after the last fault: the wait lasts to the end of the load.
    assert!((recorder.longest_without_sale(2.0, 6.0, 9.0) - 3.8).abs() < 1e-9);
}

#[test]
fn each_outcome_has_its_own_latency() {
    let mut recorder = Recorder::default();
    for _ in 0..99 {
        recorder.record(Outcome::LockUnavailable, Duration::from_millis(1), 1, None);
    }
    recorder.record(Outcome::Created, Duration::from_millis(900), 1, Some(ack(1)));
    // Fast refusals must not make the one sale look fast.
    let sales = summarize(recorder.latency_of(Outcome::Created));
    assert!((sales.p50_ms - 900.0).abs() < 1.0, "{sales:?}");
    let by_outcome = recorder.latency_by_outcome();
    assert_eq!(
        by_outcome.keys().copied().collect::<Vec<_>>(),
        ["created", "lock_unavailable"]
    );
}

#[test]
fn percentiles_come_from_the_histogram() {
    let mut recorder = Recorder::default();
    for ms in 1..=100 {
        recorder.record(Outcome::Created, Duration::from_millis(ms), 1, None);
    }
    let summary = summarize(recorder.latency_of(Outcome::Created));
    assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
    assert!((summary.p99_ms - 99.0).abs() < 0.1, "{summary:?}");
    assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
}

#[test]
fn an_empty_histogram_summarizes_to_zero() {
    let recorder = Recorder::default();
    assert_eq!(
        summarize(recorder.latency_of(Outcome::Created)),
        LatencySummary::default()
    );
}

#[test]
fn absurd_latencies_are_clamped_not_lost() {
    let mut recorder = Recorder::default();
    recorder.record(Outcome::NoAnswer, Duration::from_secs(3600), 1, None);
    assert_eq!(recorder.latency_of(Outcome::NoAnswer).len(), 1);
}

#[test]
fn rate_of_an_empty_interval_is_zero() {
    assert_eq!(per_second(10, Duration::ZERO), 0.0);
    assert_eq!(per_second(10, Duration::from_secs(2)), 5.0);
}

fn ack(quantity: i64) -> Ack {
    Ack {
        order_id: Uuid::new_v4(),
        sku: "s".into(),
        quantity,
        echo_matches: true,
    }
}
