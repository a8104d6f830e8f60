//! The verdict of a phase: did the backend oversell, lose updates, or lose
//! orders? Cross-checked three ways:
//!
//! 1. **The ledger** — the service's audit endpoint, and (with
//!    `--database-url`) PostgreSQL read directly, which must agree with it;
//! 2. **the clients' own tally** — every 201 they were given, by order id;
//! 3. **stock arithmetic** — `stock == initial − sold` for every SKU.
//!
//! A request that failed in transport (no HTTP answer) may or may not have
//! been recorded, so up to that many recorded-but-unacknowledged orders are
//! explained; beyond that, and any acknowledged-but-missing order, is a bug
//! whatever the backend.
//!
//! Pure functions only: the tests below construct the outcomes by hand.

use std::collections::HashSet;

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

/// The ledger as PostgreSQL itself reports it (`--database-url`).
#[derive(Debug, Default, Clone)]
pub struct DbLedger {
    pub ledger: Ledger,
    pub order_ids: HashSet<Uuid>,
}

/// What the clients were told.
#[derive(Debug, Default, Clone)]
pub struct ClientTally {
    pub acked_ids: HashSet<Uuid>,
    pub acked_units: i64,
    /// Requests with no HTTP answer: their fate is unknown to the client.
    pub in_flight_failures: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Units sold beyond the initial stock, summed per SKU.
    pub oversold_units: i64,
    /// `stock − (initial − sold)`: positive when updates were lost.
    pub stock_drift: i64,
    /// 201s the ledger does not hold.
    pub acked_not_recorded: i64,
    /// Recorded orders no client was told about.
    pub recorded_not_acked: i64,
    /// Of those, the ones that requests failing in flight cannot explain.
    pub unexplained_records: i64,
    /// Units the clients were sold minus units the ledger sold.
    pub unit_mismatch: i64,
    /// Whether PostgreSQL, read directly, agrees with the audit endpoint
    /// (`None` without `--database-url`).
    pub api_matches_database: Option<bool>,
}

impl Verdict {
    /// No oversell and no lost update.
    pub fn stock_is_safe(&self) -> bool {
        self.oversold_units == 0 && self.stock_drift == 0
    }

    /// Clients and ledger agree: a failure here is a bug for any backend.
    pub fn books_balance(&self) -> bool {
        self.acked_not_recorded == 0
            && self.unexplained_records == 0
            && self.api_matches_database != Some(false)
    }
}

/// Cross-checks one phase. `audits` has one entry per SKU.
pub fn judge(audits: &[Audit], client: &ClientTally, db: Option<&DbLedger>) -> Verdict {
    let ledger = Ledger::sum(audits);
    let oversold_units = audits.iter().map(|a| (a.sold - a.initial_stock).max(0)).sum();
    let stock_drift = audits.iter().map(|a| a.stock - (a.initial_stock - a.sold)).sum();

    let acked = client.acked_ids.len() as i64;
    let (acked_not_recorded, recorded_not_acked) = match db {
        // With the order ids, compare exactly.
        Some(db) => (
            client.acked_ids.difference(&db.order_ids).count() as i64,
            db.order_ids.difference(&client.acked_ids).count() as i64,
        ),
        // With counts only, a difference in either direction shows.
        None => ((acked - ledger.orders).max(0), (ledger.orders - acked).max(0)),
    };
    Verdict {
        oversold_units,
        stock_drift,
        acked_not_recorded,
        recorded_not_acked,
        unexplained_records: (recorded_not_acked - client.in_flight_failures as i64).max(0),
        unit_mismatch: client.acked_units - ledger.sold,
        api_matches_database: db.map(|db| db.ledger == ledger),
    }
}

/// How a phase's verdict compares with what was expected of the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assessment {
    /// A safe backend stayed safe.
    Safe,
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
    let mut reasons = Vec::new();
    if expectation == Expectation::MustBeSafe {
        if verdict.oversold_units > 0 {
            reasons.push(format!("oversold {} units", verdict.oversold_units));
        }
        if verdict.stock_drift != 0 {
            reasons.push(format!("stock is off by {} (lost updates)", verdict.stock_drift));
        }
    }
    if verdict.acked_not_recorded > 0 {
        reasons.push(format!(
            "{} acknowledged orders are missing from the ledger",
            verdict.acked_not_recorded
        ));
    }
    if verdict.unexplained_records > 0 {
        reasons.push(format!(
            "{} recorded orders were never acknowledged",
            verdict.unexplained_records
        ));
    }
    if verdict.api_matches_database == Some(false) {
        reasons.push("the audit endpoint and PostgreSQL disagree".to_owned());
    }
    match (reasons.is_empty(), expectation, verdict.stock_is_safe()) {
        (false, _, _) => Assessment::Failed { reasons },
        (true, Expectation::MustBeSafe, _) => Assessment::Safe,
        (true, Expectation::MayOversell, false) => Assessment::ExpectedFailure,
        (true, Expectation::MayOversell, true) => Assessment::UnexpectedlySafe {
            hint: "no oversell this time: raise --buyers or --critical-section-ms to widen the race"
                .to_owned(),
        },
    }
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

    fn tally(ids: &[Uuid], in_flight_failures: u64) -> ClientTally {
        ClientTally {
            acked_ids: ids.iter().copied().collect(),
            acked_units: ids.len() as i64,
            in_flight_failures,
        }
    }

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn a_clean_phase_is_safe() {
        let acked = ids(10);
        let verdict = judge(&[audit(10, 0, 10, 10)], &tally(&acked, 0), None);
        assert_eq!(verdict, Verdict::default());
        assert_eq!(assess(&verdict, Expectation::MustBeSafe), Assessment::Safe);
    }

    #[test]
    fn an_oversell_fails_a_safe_backend_and_is_the_lesson_for_an_unsafe_one() {
        let acked = ids(14);
        // 14 units sold of 10; lost updates left the stock at 2, not -4.
        let verdict = judge(&[audit(10, 2, 14, 14)], &tally(&acked, 0), None);
        assert_eq!((verdict.oversold_units, verdict.stock_drift), (4, 6));
        assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
        assert_eq!(
            assess(&verdict, Expectation::MayOversell),
            Assessment::ExpectedFailure
        );
    }

    #[test]
    fn oversold_units_are_counted_per_sku() {
        let acked = ids(13);
        // SKU a oversold by 3, SKU b undersold by 3: the sums would hide it.
        let audits = [audit(5, -3, 8, 8), audit(8, 3, 5, 5)];
        let verdict = judge(&audits, &tally(&acked, 0), None);
        assert_eq!(verdict.oversold_units, 3);
    }

    #[test]
    fn a_lost_update_without_oversell_fails_a_safe_backend() {
        let acked = ids(5);
        let verdict = judge(&[audit(10, 6, 5, 5)], &tally(&acked, 0), None);
        assert_eq!((verdict.oversold_units, verdict.stock_drift), (0, 1));
        assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
    }

    #[test]
    fn an_acknowledged_order_missing_from_the_ledger_fails_any_backend() {
        let acked = ids(6);
        let verdict = judge(&[audit(10, 5, 5, 5)], &tally(&acked, 0), None);
        assert_eq!(verdict.acked_not_recorded, 1);
        assert!(assess(&verdict, Expectation::MayOversell).fails_run());
    }

    #[test]
    fn recorded_orders_are_explained_by_requests_that_failed_in_flight() {
        let acked = ids(4);
        let ledger = [audit(10, 5, 5, 5)];
        let explained = judge(&ledger, &tally(&acked, 1), None);
        assert_eq!(
            (explained.recorded_not_acked, explained.unexplained_records),
            (1, 0)
        );
        assert_eq!(assess(&explained, Expectation::MustBeSafe), Assessment::Safe);

        let unexplained = judge(&ledger, &tally(&acked, 0), None);
        assert_eq!(unexplained.unexplained_records, 1);
        assert!(assess(&unexplained, Expectation::MustBeSafe).fails_run());
    }

    #[test]
    fn the_database_compares_order_ids_exactly() {
        let acked = ids(3);
        let mut recorded: HashSet<Uuid> = acked[..2].iter().copied().collect();
        recorded.insert(Uuid::new_v4());
        let db = DbLedger {
            ledger: Ledger {
                initial_stock: 10,
                stock: 7,
                sold: 3,
                orders: 3,
            },
            order_ids: recorded,
        };
        // Counts agree (3 and 3), but one acked order is not the recorded one.
        let verdict = judge(&[audit(10, 7, 3, 3)], &tally(&acked, 0), Some(&db));
        assert_eq!((verdict.acked_not_recorded, verdict.recorded_not_acked), (1, 1));
        assert_eq!(verdict.api_matches_database, Some(true));
        assert!(assess(&verdict, Expectation::MustBeSafe).fails_run());
    }

    #[test]
    fn an_audit_endpoint_that_disagrees_with_postgres_fails() {
        let acked = ids(3);
        let db = DbLedger {
            ledger: Ledger {
                initial_stock: 10,
                stock: 6,
                sold: 4,
                orders: 4,
            },
            order_ids: acked.iter().copied().collect(),
        };
        let verdict = judge(&[audit(10, 7, 3, 3)], &tally(&acked, 0), Some(&db));
        assert_eq!(verdict.api_matches_database, Some(false));
        assert!(assess(&verdict, Expectation::MayOversell).fails_run());
    }

    #[test]
    fn an_unsafe_backend_that_did_not_oversell_gets_a_hint_not_a_failure() {
        let acked = ids(10);
        let verdict = judge(&[audit(10, 0, 10, 10)], &tally(&acked, 0), None);
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
