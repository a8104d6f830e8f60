//! The verdict of a phase: did the backend oversell, lose updates, or lose
//! orders? Cross-checked three ways — the ledger (the service's audit, and
//! PostgreSQL read directly, which must agree), the clients' own tally, and
//! stock arithmetic — and order by order, by id, because counts alone would
//! let a lost order and a phantom one cancel out. An oversell is a lesson; a
//! lost or phantom order is a bug, whatever the backend.
//!
//! Pure functions only: the tests (`verdict/tests.rs`) construct the
//! outcomes by hand. The words that show a verdict are in [`label`].
//!
//! The checks, what unanswered requests explain, and each verdict:
//! `docs/loadtest.md#the-verdict`.

mod label;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use stocklock_api::{Audit, Backend};
use uuid::Uuid;

use crate::i18n::Msg;

pub use label::label;

/// What a backend is expected to do in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The quantity of each request that was sent but got no answer: its
    /// fate is unknown, so each may explain one recorded order of that
    /// quantity nobody was told of. (Requests that provably never left — no
    /// connection — are not here.)
    pub no_answer_quantities: Vec<i64>,
}

impl ClientTally {
    pub fn acked_units(&self) -> i64 {
        self.acks.values().sum()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Units sold beyond the initial stock, summed per SKU.
    pub oversold_units: i64,
    /// Pairs of recorded orders whose critical sections overlapped, summed
    /// per SKU: the lock failed to exclude them — measured, not inferred,
    /// and visible even when no unit was oversold.
    pub overlapping_holds: i64,
    /// Of those pairs, the ones under two different backends (`atomic` on
    /// one instance, `postgres` on the other): a lock protects only against
    /// those who take it.
    #[serde(default)]
    pub overlapping_across_backends: i64,
    /// The most critical sections open at one instant, on any one SKU: 1
    /// when the lock excluded every holder (0 without sections: `atomic`,
    /// `batch`). A count of holders, where the pairs grow as their square.
    #[serde(default)]
    pub most_holders_at_once: i64,
    /// `|stock − (initial − sold)|`, summed per SKU: updates lost (or
    /// invented) anywhere. Per SKU, so one SKU's loss cannot cancel
    /// another's gain.
    pub stock_drift: i64,
    /// 201s the ledger does not hold.
    pub acked_not_recorded: i64,
    /// Recorded orders no client was told about.
    pub recorded_not_acked: i64,
    /// Of those, the ones that requests with no answer cannot explain, each
    /// request explaining at most one order of its own quantity.
    pub unexplained_records: i64,
    /// Acknowledged orders recorded with another quantity than requested,
    /// or answered with another SKU or quantity.
    pub quantity_mismatches: i64,
    /// Units the books cannot explain, order by order: those of unexplained
    /// records, of acknowledged orders the ledger lacks, and the difference
    /// wherever an acknowledged order was recorded with another quantity.
    /// 0 when the books balance.
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
    let missing: Vec<i64> = client
        .acks
        .iter()
        .filter(|(id, _)| !listed.contains_key(id))
        .map(|(_, quantity)| *quantity)
        .collect();
    let unacked: Vec<i64> = listed
        .iter()
        .filter(|(id, _)| !client.acks.contains_key(id))
        .map(|(_, quantity)| *quantity)
        .collect();
    let differences: Vec<i64> = client
        .acks
        .iter()
        .filter_map(|(id, asked)| listed.get(id).map(|recorded| (recorded - asked).abs()))
        .filter(|difference| *difference != 0)
        .collect();
    let unexplained = unmatched(&unacked, &client.no_answer_quantities);
    let unit_mismatch =
        unexplained.iter().sum::<i64>() + missing.iter().sum::<i64>() + differences.iter().sum::<i64>();
    Verdict {
        oversold_units,
        overlapping_holds: audits.iter().map(|a| a.overlapping_holds).sum(),
        overlapping_across_backends: audits.iter().map(|a| a.overlapping_across_backends).sum(),
        most_holders_at_once: audits.iter().map(|a| a.most_holders_at_once).max().unwrap_or(0),
        stock_drift,
        acked_not_recorded: missing.len() as i64,
        recorded_not_acked: unacked.len() as i64,
        unexplained_records: unexplained.len() as i64,
        quantity_mismatches: differences.len() as i64 + client.echo_mismatches,
        unit_mismatch,
        orders_match_audit: listed.len() as i64 == ledger.orders
            && listed.values().sum::<i64>() == ledger.sold,
        api_matches_database: db.map(|db| db.ledger == ledger && db.orders == *listed),
        sold_units: ledger.sold,
    }
}

/// The quantities of `records` left once each is matched with a distinct
/// `explanation` of the same quantity.
fn unmatched(records: &[i64], explanations: &[i64]) -> Vec<i64> {
    let mut available: HashMap<i64, usize> = HashMap::new();
    for quantity in explanations {
        *available.entry(*quantity).or_default() += 1;
    }
    records
        .iter()
        .copied()
        .filter(|quantity| match available.get_mut(quantity) {
            Some(left) if *left > 0 => {
                *left -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// How a phase's verdict compares with what was expected of the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The report keeps the reasons and hints in English; [`failures`] and
/// [`hint`] give them in any language.
pub fn assess(verdict: &Verdict, expectation: Expectation) -> Assessment {
    let reasons = failures(verdict, expectation);
    let english = |msg: Msg| msg.to_string();
    match (reasons.is_empty(), expectation, verdict.stock_is_safe()) {
        (false, _, _) => Assessment::Failed {
            reasons: reasons.into_iter().map(english).collect(),
        },
        (true, Expectation::MustBeSafe, _) if verdict.sold_units == 0 => Assessment::Inconclusive {
            hint: english(Msg::new("hint-nothing-sold")),
        },
        (true, Expectation::MustBeSafe, _) => Assessment::Safe,
        (true, Expectation::MayOversell, false) => Assessment::ExpectedFailure,
        (true, Expectation::MayOversell, true) => Assessment::UnexpectedlySafe {
            hint: english(Msg::new("hint-no-oversell")),
        },
    }
}

/// What to try when an assessment proved nothing, if it has a hint.
pub fn hint(assessment: &Assessment) -> Option<Msg> {
    match assessment {
        Assessment::Inconclusive { .. } => Some(Msg::new("hint-nothing-sold")),
        Assessment::UnexpectedlySafe { .. } => Some(Msg::new("hint-no-oversell")),
        _ => None,
    }
}

/// Every broken promise of the phase, in words.
pub fn failures(verdict: &Verdict, expectation: Expectation) -> Vec<Msg> {
    let mut reasons = Vec::new();
    if expectation == Expectation::MustBeSafe {
        let broken = [
            (verdict.oversold_units, "reason-oversold"),
            (verdict.stock_drift, "reason-drift"),
            (verdict.overlapping_holds, "reason-overlaps"),
        ];
        reasons.extend(
            broken
                .into_iter()
                .filter(|(n, _)| *n != 0)
                .map(|(n, id)| Msg::new(id).arg("count", n)),
        );
    }
    // The books must balance whatever the backend: an oversell is a lesson,
    // a lost or phantom order is a bug.
    let books = [
        (verdict.acked_not_recorded, "reason-acked-not-recorded"),
        (verdict.unexplained_records, "reason-unexplained"),
        (verdict.quantity_mismatches, "reason-quantity"),
        (verdict.unit_mismatch.abs(), "reason-units"),
    ];
    reasons.extend(
        books
            .into_iter()
            .filter(|(n, _)| *n != 0)
            .map(|(n, id)| Msg::new(id).arg("count", n)),
    );
    if !verdict.orders_match_audit {
        reasons.push(Msg::new("reason-audit"));
    }
    if verdict.api_matches_database == Some(false) {
        reasons.push(Msg::new("reason-database"));
    }
    reasons
}

#[cfg(test)]
mod tests;
