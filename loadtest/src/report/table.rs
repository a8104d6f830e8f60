//! The side-by-side table printed at the end of a run: one row per
//! backend, verdict first, then a line per failure, hint and explanation.
//!
//! Rendering only: the figures are the plain data of [`super::model`],
//! filled in by the runner, and the verdict's words are
//! [`crate::verdict::label`], shared with the dashboard.
//! Nothing here is computed; a figure that is not in the JSON report is not
//! in the table either.

use std::fmt::Write;

use super::model::{PhaseReport, Report};
use crate::verdict::{self, Assessment, Expectation};

/// Column names say what they count: "overlaps" are pairs of orders whose
/// critical sections overlapped (the ledger's timestamps), "409" sold out,
/// "lock lost" a holder refused for a lost lock; "503 lock" is the lock's
/// own refusal, "overloaded" admission control's, "503 other" a database
/// outage or a switch in progress; "401" a missing admin token; "unsent"
/// orders never reached a server, "no answer" ones may have;
/// "retry/replay" the retries sent after an attempt got no answer at all,
/// and how many of them came back as the first attempt's order. Every column is
/// printed, zero or not, so that runs line up when compared.
/// Latency columns are of successful orders (201) only.
const COLUMNS: [(&str, usize); 22] = [
    ("verdict", 22),
    ("phase", 24),
    ("expected", 13),
    ("sold/stock", 11),
    ("oversold", 9),
    ("overlaps", 9),
    ("201", 6),
    ("409", 6),
    ("lock lost", 10),
    ("503 lock", 9),
    ("overloaded", 11),
    ("503 other", 10),
    ("401", 5),
    ("other", 6),
    ("unsent", 7),
    ("no answer", 10),
    ("retry/replay", 13),
    ("orders/s", 9),
    ("req/s", 8),
    ("201 p50 ms", 11),
    ("201 p99 ms", 11),
    ("201 max ms", 11),
];

/// The table, then a line per failure or hint.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let stock = match report.scenario.as_str() {
        "basic" => format!("{} units", report.stock_per_sku),
        _ => "stock per phase (see sold/stock)".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nstocklock load test — scenario {}, {} over {} target(s), {} SKU(s) × {}, quantity {}, critical section {} ms\n",
        report.scenario,
        report.model,
        report.targets.len(),
        report.skus,
        stock,
        report.quantity,
        report.critical_section_ms
    );
    let header: Vec<String> = COLUMNS.iter().map(|(name, _)| name.to_string()).collect();
    out.push_str(&row(&header));
    for phase in &report.phases {
        out.push_str(&row(&cells(phase)));
    }
    out.push('\n');
    for phase in &report.phases {
        match &phase.assessment {
            Assessment::Failed { reasons } => {
                let _ = writeln!(out, "FAIL {}: {}", phase.label, reasons.join("; "));
            }
            Assessment::UnexpectedlySafe { hint } | Assessment::Inconclusive { hint } => {
                let _ = writeln!(out, "note {}: {hint}", phase.label);
            }
            _ => {}
        }
        if let Some(why) = &phase.why {
            let _ = writeln!(out, "why  {}: {why}", phase.label);
        }
    }
    let inconclusive = report
        .phases
        .iter()
        .any(|p| matches!(p.assessment, Assessment::Inconclusive { .. }));
    let _ = writeln!(
        out,
        "latency: of successful orders (201) only; every outcome's is in the JSON report"
    );
    let summary = match (report.passed, inconclusive) {
        (false, _) => "a backend that must be safe was not: see FAIL above",
        (true, true) => "no backend failed, but some sold nothing and proved nothing: see note above",
        (true, false) => "every backend that must be safe was safe",
    };
    let _ = writeln!(out, "{summary}");
    out
}

fn cells(phase: &PhaseReport) -> Vec<String> {
    let expected = match phase.expectation {
        Expectation::MustBeSafe => "must be safe",
        Expectation::MayOversell => "may oversell",
    };
    let counts = &phase.counts;
    vec![
        verdict::label(&phase.verdict, &phase.assessment),
        phase.label.clone(),
        expected.to_owned(),
        format!("{}/{}", phase.ledger.sold, phase.ledger.initial_stock),
        phase.verdict.oversold_units.to_string(),
        phase.verdict.overlapping_holds.to_string(),
        counts.created.to_string(),
        counts.sold_out.to_string(),
        counts.lock_lost.to_string(),
        counts.lock_unavailable.to_string(),
        counts.overloaded.to_string(),
        counts.other_unavailable.to_string(),
        counts.unauthorized.to_string(),
        counts.other_errors.to_string(),
        counts.not_sent.to_string(),
        counts.no_answer.to_string(),
        format!("{}/{}", phase.retries.sent, phase.retries.replayed),
        format!("{:.0}", phase.orders_per_s),
        format!("{:.0}", phase.requests_per_s),
        format!("{:.1}", phase.latency.p50_ms),
        format!("{:.1}", phase.latency.p99_ms),
        format!("{:.1}", phase.latency.max_ms),
    ]
}

fn row(cells: &[String]) -> String {
    let mut line = String::new();
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        let _ = write!(line, "{cell:<width$} ");
    }
    line.trim_end().to_owned() + "\n"
}
