//! The verdict's unit tests: every outcome is built by hand.

use super::*;

fn audit(initial: i64, stock: i64, sold: i64, orders: i64) -> Audit {
    Audit {
        sku: "s".into(),
        initial_stock: initial,
        stock,
        sold,
        orders,
        oversold: (sold - initial).max(0),
        consistent: stock == initial - sold,
        overlapping_holds: 0,
        overlapping_across_backends: 0,
        most_holders_at_once: 1,
    }
}

/// `n` orders of one unit each.
fn book(n: usize) -> OrderBook {
    (0..n).map(|_| (Uuid::new_v4(), 1)).collect()
}

/// What the clients saw: `acks`, and `no_answer` unanswered requests of
/// one unit each.
fn tally(acks: &OrderBook, no_answer: usize) -> ClientTally {
    ClientTally {
        acks: acks.clone(),
        echo_mismatches: 0,
        no_answer_quantities: vec![1; no_answer],
    }
}

#[test]
fn a_clean_phase_is_safe() {
    let orders = book(10);
    let verdict = judge(&[audit(10, 0, 10, 10)], &orders, &tally(&orders, 0), None);
    assert!(verdict.stock_is_safe());
    assert!(failures(&verdict, Expectation::MustBeSafe).is_empty());
    assert_eq!(assess(&verdict, Expectation::MustBeSafe), Assessment::Safe);
}

#[test]
fn an_oversell_fails_a_safe_backend_and_is_the_lesson_for_an_unsafe_one() {
    let orders = book(14);
    // 14 units sold of 10; lost updates left the stock at 2, not -4.
    let verdict = judge(&[audit(10, 2, 14, 14)], &orders, &tally(&orders, 0), None);
    assert_eq!((verdict.oversold_units, verdict.stock_drift), (4, 6));
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
    assert_eq!(
        assess(&verdict, Expectation::MayOversell),
        Assessment::ExpectedFailure
    );
}

#[test]
fn oversold_units_are_counted_per_sku() {
    let orders = book(13);
    // SKU a oversold by 3, SKU b undersold by 3: the sums would hide it.
    let audits = [audit(5, -3, 8, 8), audit(8, 3, 5, 5)];
    let verdict = judge(&audits, &orders, &tally(&orders, 0), None);
    assert_eq!(verdict.oversold_units, 3);
}

#[test]
fn stock_drift_is_counted_per_sku_so_opposite_drifts_do_not_cancel() {
    let orders = book(10);
    // SKU a lost an update (+1), SKU b gained one (-1): summed, 0.
    let audits = [audit(5, 1, 5, 5), audit(5, -1, 5, 5)];
    let verdict = judge(&audits, &orders, &tally(&orders, 0), None);
    assert_eq!(verdict.stock_drift, 2);
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
}

#[test]
fn overlapping_holds_fail_a_safe_backend_even_without_an_oversell() {
    let orders = book(5);
    let mut overlapped = audit(10, 5, 5, 5);
    overlapped.overlapping_holds = 2;
    let verdict = judge(&[overlapped], &orders, &tally(&orders, 0), None);
    assert!(verdict.stock_is_safe());
    assert_eq!(verdict.overlapping_holds, 2);
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
    assert!(!assess(&verdict, Expectation::MayOversell).fails_run());
}

#[test]
fn a_lost_update_without_oversell_fails_a_safe_backend() {
    let orders = book(5);
    let verdict = judge(&[audit(10, 6, 5, 5)], &orders, &tally(&orders, 0), None);
    assert_eq!((verdict.oversold_units, verdict.stock_drift), (0, 1));
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
}

#[test]
fn an_acknowledged_order_missing_from_the_ledger_fails_any_backend() {
    let acked = book(6);
    let mut listed = acked.clone();
    listed.remove(&acked.keys().next().copied().unwrap());
    let verdict = judge(&[audit(10, 5, 5, 5)], &listed, &tally(&acked, 0), None);
    assert_eq!(verdict.acked_not_recorded, 1);
    assert!(assess(&verdict, Expectation::MayOversell).fails_run());
}

#[test]
fn a_lost_order_and_a_phantom_one_do_not_cancel_out() {
    let acked = book(5);
    // Same count and units as acknowledged, but one id swapped.
    let mut listed = acked.clone();
    listed.remove(&acked.keys().next().copied().unwrap());
    listed.insert(Uuid::new_v4(), 1);
    let verdict = judge(&[audit(10, 5, 5, 5)], &listed, &tally(&acked, 0), None);
    assert_eq!((verdict.acked_not_recorded, verdict.unexplained_records), (1, 1));
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
}

#[test]
fn recorded_orders_are_explained_by_requests_that_got_no_answer() {
    let acked = book(4);
    let mut listed = acked.clone();
    listed.insert(Uuid::new_v4(), 1);
    let ledger = [audit(10, 5, 5, 5)];
    let explained = judge(&ledger, &listed, &tally(&acked, 1), None);
    assert_eq!(
        (explained.recorded_not_acked, explained.unexplained_records),
        (1, 0)
    );
    assert_eq!(assess(&explained, Expectation::MustBeSafe), Assessment::Safe);

    let unexplained = judge(&ledger, &listed, &tally(&acked, 0), None);
    assert_eq!(unexplained.unexplained_records, 1);
    assert!(assess(&unexplained, Expectation::MustBeSafe).fails_run());
}

#[test]
fn a_recorded_quantity_other_than_requested_fails() {
    let acked = book(3);
    let mut listed = acked.clone();
    *listed.values_mut().next().unwrap() = 2;
    let verdict = judge(&[audit(10, 6, 4, 3)], &listed, &tally(&acked, 0), None);
    assert_eq!((verdict.quantity_mismatches, verdict.unit_mismatch), (1, 1));
    assert!(assess(&verdict, Expectation::MayOversell).fails_run());
}

#[test]
fn a_201_that_echoes_another_quantity_fails() {
    let acked = book(3);
    let mut client = tally(&acked, 0);
    client.echo_mismatches = 1;
    let verdict = judge(&[audit(10, 7, 3, 3)], &acked, &client, None);
    assert_eq!(verdict.quantity_mismatches, 1);
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
}

#[test]
fn each_unanswered_request_explains_one_order_of_its_own_quantity() {
    let acked = book(4);
    let mut listed = acked.clone();
    listed.insert(Uuid::new_v4(), 3);
    // Two requests got no answer, of 1 and 2 units: together 3, but neither
    // can have been recorded as one order of 3.
    let mut client = tally(&acked, 0);
    client.no_answer_quantities = vec![1, 2];
    let verdict = judge(&[audit(10, 3, 7, 5)], &listed, &client, None);
    assert_eq!((verdict.unexplained_records, verdict.unit_mismatch), (1, 3));
    assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());

    client.no_answer_quantities = vec![1, 3];
    let explained = judge(&[audit(10, 3, 7, 5)], &listed, &client, None);
    assert_eq!((explained.unexplained_records, explained.unit_mismatch), (0, 0));
}

#[test]
fn missing_units_do_not_hide_extra_ones() {
    let acked = book(4);
    let mut listed = acked.clone();
    // One acknowledged unit missing, one unexplained unit extra: the net
    // is 0, the books are off by 2.
    listed.remove(&acked.keys().next().copied().unwrap());
    listed.insert(Uuid::new_v4(), 1);
    let verdict = judge(&[audit(10, 6, 4, 4)], &listed, &tally(&acked, 0), None);
    assert_eq!(verdict.unit_mismatch, 2);
}

#[test]
fn the_database_compares_order_ids_exactly() {
    let acked = book(3);
    let mut in_db = acked.clone();
    in_db.remove(&acked.keys().next().copied().unwrap());
    in_db.insert(Uuid::new_v4(), 1);
    let db = DbLedger {
        ledger: Ledger {
            initial_stock: 10,
            stock: 7,
            sold: 3,
            orders: 3,
        },
        orders: in_db,
    };
    // The service's figures and list agree with the clients; PostgreSQL
    // holds another order than the one the service lists.
    let verdict = judge(&[audit(10, 7, 3, 3)], &acked, &tally(&acked, 0), Some(&db));
    assert_eq!(verdict.api_matches_database, Some(false));
    assert!(assess(&verdict, Expectation::MayOversell).fails_run());
}

#[test]
fn an_order_list_that_disagrees_with_the_audit_fails() {
    let acked = book(3);
    let verdict = judge(&[audit(10, 6, 4, 4)], &acked, &tally(&acked, 0), None);
    assert!(!verdict.orders_match_audit);
    assert!(assess(&verdict, Expectation::MayOversell).fails_run());
}

#[test]
fn a_safe_backend_that_sold_nothing_is_inconclusive_not_safe() {
    let verdict = judge(
        &[audit(10, 10, 0, 0)],
        &OrderBook::new(),
        &ClientTally::default(),
        None,
    );
    let assessment = assess(&verdict, Expectation::MustBeSafe);
    assert!(
        matches!(assessment, Assessment::Inconclusive { .. }),
        "{assessment:?}"
    );
    assert!(!assessment.fails_run());
}

#[test]
fn an_unsafe_backend_that_did_not_oversell_gets_a_hint_not_a_failure() {
    let orders = book(10);
    let verdict = judge(&[audit(10, 0, 10, 10)], &orders, &tally(&orders, 0), None);
    let assessment = assess(&verdict, Expectation::MayOversell);
    assert!(matches!(assessment, Assessment::UnexpectedlySafe { .. }));
    assert!(!assessment.fails_run());
}

#[test]
fn local_may_oversell_only_across_instances() {
    assert_eq!(expectation(Backend::Local, 1, None), Expectation::MustBeSafe);
    assert_eq!(expectation(Backend::Local, 2, None), Expectation::MayOversell);
    assert_eq!(expectation(Backend::None, 1, None), Expectation::MayOversell);
    assert_eq!(expectation(Backend::Redis, 2, None), Expectation::MustBeSafe);
}

#[test]
fn must_be_safe_replaces_the_default_thresholds() {
    let list = [Backend::None];
    assert_eq!(
        expectation(Backend::None, 1, Some(&list)),
        Expectation::MustBeSafe
    );
    assert_eq!(
        expectation(Backend::Redis, 1, Some(&list)),
        Expectation::MayOversell
    );
}
