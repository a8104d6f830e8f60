//! The report as plain data: the whole run ([`Report`]) and each phase's
//! figures and verdict ([`PhaseReport`]), exactly as `--json` writes them.
//!
//! Plain data, low in the crate, because three layers share it: the runner
//! fills it in, the table renders it, and the dashboard's verdict event
//! carries a phase of it. None of them is imported here. It derives
//! `Deserialize` too, so that tests (and outside tools written in Rust) read
//! a report back as this type instead of indexing loose JSON.
//!
//! The field names are a contract: the service's tests, the workshop
//! scripts and `loadtest/tests/` read them. Rename one only on purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stocklock_api::{Backend, LockSettings};

use crate::faults::PhaseFault;
use crate::i18n::{Localized, Msg};
use crate::stats::{Counts, LatencySummary, Retries};
use crate::verdict::{Assessment, Expectation, Ledger, Verdict};

/// The version of the report's format, in the JSON (`format_version`) and
/// in the replayed page's `run` event: 2 added the texts in every language
/// (`…_i18n`); reports without it are version 1.
pub const FORMAT_VERSION: u32 = 2;

/// The whole run, as written by `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`FORMAT_VERSION`] when it was written.
    #[serde(default = "version_1")]
    pub format_version: u32,
    /// `basic`, `ladder`, … (`--scenario`).
    pub scenario: String,
    pub targets: Vec<String>,
    /// `closed model, 64 buyers` or `open model, 500 orders/s`; and in
    /// every language.
    pub model: String,
    #[serde(default)]
    pub model_i18n: Localized,
    pub skus: usize,
    pub stock_per_sku: i64,
    pub quantity: String,
    pub critical_section_ms: u64,
    pub phases: Vec<PhaseReport>,
    /// False when a backend that must be safe was not.
    pub passed: bool,
}

impl Report {
    /// The run's report; whether it passed follows from its phases.
    pub fn new(
        scenario: String,
        targets: Vec<String>,
        model: Msg,
        (skus, stock_per_sku): (usize, i64),
        quantity: String,
        critical_section_ms: u64,
        phases: Vec<PhaseReport>,
    ) -> Self {
        let passed = phases.iter().all(|p| !p.assessment.fails_run());
        Report {
            format_version: FORMAT_VERSION,
            scenario,
            targets,
            model: model.to_string(),
            model_i18n: model.every(),
            skus,
            stock_per_sku,
            quantity,
            critical_section_ms,
            phases,
            passed,
        }
    }
}

fn version_1() -> u32 {
    1
}

/// Everything measured and concluded about one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseReport {
    /// The scenario it belongs to (`basic`, `ladder`).
    pub scenario: String,
    /// What the table calls it (`redis`, `redis fenced`): in English, which
    /// names it, and in every language.
    pub label: String,
    #[serde(default)]
    pub label_i18n: Localized,
    pub backend: Backend,
    pub expectation: Expectation,
    pub assessment: Assessment,
    pub verdict: Verdict,
    pub ledger: Ledger,
    pub settings: LockSettings,
    pub elapsed_s: f64,
    /// How each order ended, one count per order however many attempts it
    /// took.
    pub counts: Counts,
    /// Orders sent again after an attempt got no answer at all, and how
    /// many of those retries were answered with the first order (replays).
    pub retries: Retries,
    pub acked_units: i64,
    pub orders_per_s: f64,
    /// Attempts per second, retries included.
    pub requests_per_s: f64,
    /// Latency of the successful orders (201) only: a fast refusal must not
    /// make the sales look fast.
    pub latency: LatencySummary,
    /// Latency of every outcome that occurred, keyed by the outcome's name
    /// (`created`, `lock_unavailable`, …). Owned strings rather than the
    /// recorder's `&'static str`, so that a report can be read back.
    pub latency_by_outcome: BTreeMap<String, LatencySummary>,
    /// Every fault the targets injected during the load.
    pub faults: Vec<PhaseFault>,
    /// Why the phase came out as it did, in one sentence: in the run's
    /// language (`--lang`), and in every language.
    pub why: Option<String>,
    #[serde(default)]
    pub why_i18n: Option<Localized>,
    /// With lock server faults: the longest stretch without a sale from the
    /// first fault until sales resumed after the last, in seconds — the
    /// time to recover, as clients saw it.
    pub recovery_s: Option<f64>,
}
