//! The verdict of a phase: did the backend oversell, lose updates, or lose
//! orders? Cross-checked three ways:
//!
//! 1. **The ledger** — the service's audit endpoint, and (with
//!    `--database-url`) PostgreSQL read directly, which must agree with it;
//! 2. **the clients' own tally** — every 201 they were given, by order id;
//! 3. **stock arithmetic** — `stock == initial − sold` for every SKU.
//!
//! Orders are compared by id, one by one — the service's order list, and
//! PostgreSQL's when it is given — and each acknowledged order's quantity
//! with what its client asked for (not with the service's echo).
//!
//! A request sent but never answered may or may not have been recorded, so
//! up to that many recorded-but-unacknowledged orders (and units) are
//! explained; a request that never left (no connection) explains nothing.
//! Beyond that, and any acknowledged-but-missing order, is a bug whatever the
//! backend.
//!
//! Pure functions only: the tests below construct the outcomes by hand.

use std::collections::HashMap;

use serde::Serialize;
use stocklock_api::{Audit, Backend};
use uuid::Uuid;

/// What a backend is expected to do in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// Overselling or losing an update fails the run.
    MustBeSafe,
    /// The lesson: this backend is allowed (expected) to oversell.
    MayOversell,
}

/// `none` may oversell; `local` may when buyers are spread over more than
/// one instance; every other backend must be safe. `must_be_safe`, when
/// given (`--must-be-safe`), replaces these defaults.
pub fn expectation(backend: Backend, targets: usize, must_be_safe: Option<&[Backend]>) -> Expectation {
    if let Some(list) = must_be_safe {
        return match list.contains(&backend) {
            true => Expectation::MustBeSafe,
            false => Expectation::MayOversell,
        };
    }
    match backend {
        Backend::None => Expectation::MayOversell,
        Backend::Local if targets > 1 => Expectation::MayOversell,
        _ => Expectation::MustBeSafe,
    }
}

/// Ledger figures summed over a phase's SKUs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub initial_stock: i64,
    pub stock: i64,
    pub sold: i64,
    pub orders: i64,
}

impl Ledger {
    /// The figures of every SKU's audit, added up.
    pub fn sum(audits: &[Audit]) -> Ledger {
        audits.iter().fold(Ledger::default(), |total, audit| Ledger {
            initial_stock: total.initial_stock + audit.initial_stock,
            stock: total.stock + audit.stock,
            sold: total.sold + audit.sold,
            orders: total.orders + audit.orders,
        })
    }
}

/// The ledger's orders, id → quantity: as the service lists them
/// (`GET /admin/orders/{sku}`), or as PostgreSQL holds them.
pub type OrderBook = HashMap<Uuid, i64>;

/// The ledger as PostgreSQL itself reports it (`--database-url`).
#[derive(Debug, Default, Clone)]
pub struct DbLedger {
    pub ledger: Ledger,
    pub orders: OrderBook,
}

/// What the clients were told, and what they asked for.
#[derive(Debug, Default, Clone)]
pub struct ClientTally {
    /// Every 201: order id → the quantity the client *requested*.
    pub acks: OrderBook,
    /// 201s whose body did not echo the SKU and quantity requested.
    pub echo_mismatches: i64,
    /// Requests that were sent but got no HTTP answer: their fate is
    /// unknown, so each may explain one recorded order nobody was told of.
    /// (Requests that provably never left — no connection — are not here.)
    pub no_answer: u64,
    /// The units those requests asked for.
    pub no_answer_units: i64,
}

impl ClientTally {
    pub fn acked_units(&self) -> i64 {
        self.acks.values().sum()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Units sold beyond the initial stock, summed per SKU.
    pub oversold_units: i64,
    /// `|stock − (initial − sold)|`, summed per SKU: updates lost (or
    /// invented) anywhere. Per SKU, so one SKU's loss cannot cancel
    /// another's gain.
    pub stock_drift: i64,
    /// 201s the ledger does not hold.
    pub acked_not_recorded: i64,
    /// Recorded orders no client was told about.
    pub recorded_not_acked: i64,
    /// Of those, the ones that requests with no answer cannot explain.
    pub unexplained_records: i64,
    /// Acknowledged orders recorded with another quantity than requested,
    /// or answered with another SKU or quantity.
    pub quantity_mismatches: i64,
    /// Units sold by the ledger that neither the 201s nor the requests with
    /// no answer explain (positive), or acknowledged units it lacks
    /// (negative). 0 when the books balance.
    pub unit_mismatch: i64,
    /// Whether the order list agrees with the audit's counts and sums.
    pub orders_match_audit: bool,
    /// Whether PostgreSQL, read directly, agrees with the audit endpoint and
    /// the order list (`None` without `--database-url`).
    pub api_matches_database: Option<bool>,
    /// Units sold in the phase, from the ledger.
    pub sold_units: i64,
}

impl Verdict {
    /// No oversell and no lost update.
    pub fn stock_is_safe(&self) -> bool {
        self.oversold_units == 0 && self.stock_drift == 0
    }
}

/// Cross-checks one phase. `audits` has one entry per SKU; `listed` is every
/// order the service lists for those SKUs.
pub fn judge(audits: &[Audit], listed: &OrderBook, client: &ClientTally, db: Option<&DbLedger>) -> Verdict {
    let ledger = Ledger::sum(audits);
    let oversold_units = audits.iter().map(|a| (a.sold - a.initial_stock).max(0)).sum();
    let stock_drift = audits
        .iter()
        .map(|a| (a.stock - (a.initial_stock - a.sold)).abs())
        .sum();

    // Ids compared one by one: with counts alone, a lost order and an
    // unexplained one would cancel out.
    let acked_not_recorded = client.acks.keys().filter(|id| !listed.contains_key(id)).count() as i64;
    let recorded_not_acked = listed.keys().filter(|id| !client.acks.contains_key(id)).count() as i64;
    let recorded_quantity_differs = client
        .acks
        .iter()
        .filter(|(id, quantity)| listed.get(id).is_some_and(|recorded| recorded != *quantity))
        .count() as i64;

    let unacked_units = ledger.sold - client.acked_units();
    let unit_mismatch = match unacked_units {
        missing if missing < 0 => missing,
        extra => (extra - client.no_answer_units).max(0),
    };
    Verdict {
        oversold_units,
        stock_drift,
        acked_not_recorded,
        recorded_not_acked,
        unexplained_records: (recorded_not_acked - client.no_answer as i64).max(0),
        quantity_mismatches: recorded_quantity_differs + client.echo_mismatches,
        unit_mismatch,
        orders_match_audit: listed.len() as i64 == ledger.orders
            && listed.values().sum::<i64>() == ledger.sold,
        api_matches_database: db.map(|db| db.ledger == ledger && db.orders == *listed),
        sold_units: ledger.sold,
    }
}

/// How a phase's verdict compares with what was expected of the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assessment {
    /// A safe backend stayed safe.
    Safe,
    /// A backend that must be safe sold nothing: no evidence either way.
    Inconclusive { hint: String },
    /// The lesson, as expected: this backend oversold or lost updates.
    ExpectedFailure,
    /// An unsafe backend happened not to oversell this time.
    UnexpectedlySafe { hint: String },
    /// A broken promise: the run fails.
    Failed { reasons: Vec<String> },
}

impl Assessment {
    pub fn fails_run(&self) -> bool {
        matches!(self, Assessment::Failed { .. })
    }
}

pub fn assess(verdict: &Verdict, expectation: Expectation) -> Assessment {
    let reasons = failures(verdict, expectation);
    match (reasons.is_empty(), expectation, verdict.stock_is_safe()) {
        (false, _, _) => Assessment::Failed { reasons },
        (true, Expectation::MustBeSafe, _) if verdict.sold_units == 0 => Assessment::Inconclusive {
            hint: "nothing was sold, so nothing was tested: raise --acquire-timeout-ms or --ttl-ms, \
                   or check that the lock server answers"
                .to_owned(),
        },
        (true, Expectation::MustBeSafe, _) => Assessment::Safe,
        (true, Expectation::MayOversell, false) => Assessment::ExpectedFailure,
        (true, Expectation::MayOversell, true) => Assessment::UnexpectedlySafe {
            hint: "no oversell this time: raise --buyers or --critical-section-ms to widen the race"
                .to_owned(),
        },
    }
}

/// Every broken promise of the phase, in words.
fn failures(verdict: &Verdict, expectation: Expectation) -> Vec<String> {
    let mut reasons = Vec::new();
    if expectation == Expectation::MustBeSafe {
        if verdict.oversold_units > 0 {
            reasons.push(format!("oversold {} units", verdict.oversold_units));
        }
        if verdict.stock_drift != 0 {
            reasons.push(format!("stock is off by {} (lost updates)", verdict.stock_drift));
        }
    }
    // The books must balance whatever the backend: an oversell is a lesson,
    // a lost or phantom order is a bug.
    let books = [
        (
            verdict.acked_not_recorded,
            "acknowledged orders are missing from the ledger",
        ),
        (
            verdict.unexplained_records,
            "recorded orders were never acknowledged",
        ),
        (
            verdict.quantity_mismatches,
            "orders were recorded or answered with another quantity than requested",
        ),
        (
            verdict.unit_mismatch.abs(),
            "units differ between the ledger and the clients' tally",
        ),
    ];
    for (count, what) in books {
        if count != 0 {
            reasons.push(format!("{count} {what}"));
        }
    }
    if !verdict.orders_match_audit {
        reasons.push("the order list and the audit endpoint disagree".to_owned());
    }
    if verdict.api_matches_database == Some(false) {
        reasons.push("the service's ledger and PostgreSQL disagree".to_owned());
    }
    reasons
}

#[cfg(test)]
mod tests {
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
        }
    }

    /// `n` orders of one unit each.
    fn book(n: usize) -> OrderBook {
        (0..n).map(|_| (Uuid::new_v4(), 1)).collect()
    }

    fn tally(acks: &OrderBook, no_answer: u64) -> ClientTally {
        ClientTally {
            acks: acks.clone(),
            echo_mismatches: 0,
            no_answer,
            no_answer_units: no_answer as i64,
        }
    }

    #[test]
    fn a_clean_phase_is_safe() {
        let orders = book(10);
        let verdict = judge(&[audit(10, 0, 10, 10)], &orders, &tally(&orders, 0), None);
        assert!(verdict.stock_is_safe());
        assert_eq!(failures(&verdict, Expectation::MustBeSafe), Vec::<String>::new());
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
    fn extra_units_beyond_what_unanswered_requests_asked_for_fail() {
        let acked = book(4);
        let mut listed = acked.clone();
        listed.insert(Uuid::new_v4(), 3);
        // One request got no answer, but it asked for 1 unit, not 3.
        let verdict = judge(&[audit(10, 3, 7, 5)], &listed, &tally(&acked, 1), None);
        assert_eq!((verdict.unexplained_records, verdict.unit_mismatch), (0, 2));
        assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
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
}
