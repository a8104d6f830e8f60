//! The load tester against two real stocklock instances (started in this
//! process on port 0, sharing the real PostgreSQL, Redis and etcd that
//! `scripts/services start` runs).

mod common;

use std::process::Output;

use common::{phase, run_args, spawn_instance};
use loadtest::verdict::Assessment;
use serde_json::json;
use stocklock::config::Config;
use stocklock::startup::Running;

/// Options for a short run against `instances`, plus `extra`.
fn options(instances: &[&Running], extra: &[&str]) -> Vec<String> {
    let targets: Vec<&str> = instances.iter().map(|i| i.address.as_str()).collect();
    let prefix = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let mut args: Vec<String> = ["loadtest", "run", "--no-progress", "--stock", "20"]
        .map(String::from)
        .to_vec();
    args.extend([
        "--targets".into(),
        targets.join(","),
        "--sku-prefix".into(),
        prefix,
    ]);
    args.extend(["--database-url".into(), Config::defaults().database_url]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test]
async fn the_report_shows_none_and_local_overselling_and_the_rest_safe() {
    let (first, second) = (spawn_instance().await, spawn_instance().await);
    let args = run_args(options(&[&first, &second], &["--critical-section-ms", "30"]));
    let report = loadtest::run(&args).await.expect("the run completes");

    assert!(report.passed, "{report:#?}");
    for unsafe_backend in ["none", "local"] {
        let phase = phase(&report, unsafe_backend);
        assert!(phase.verdict.oversold_units > 0, "{phase:#?}");
        assert_eq!(phase.assessment, Assessment::ExpectedFailure, "{phase:#?}");
    }
    for safe_backend in ["redis", "etcd", "postgres", "atomic", "batch"] {
        let phase = phase(&report, safe_backend);
        assert_eq!(phase.verdict.oversold_units, 0, "{phase:#?}");
        assert_eq!(phase.verdict.stock_drift, 0, "{phase:#?}");
        assert_eq!(phase.assessment, Assessment::Safe, "{phase:#?}");
        assert_eq!(phase.ledger.sold, 20, "{phase:#?}");
        assert_eq!(phase.counts.created, 20, "{phase:#?}");
        assert_eq!(phase.verdict.api_matches_database, Some(true), "{phase:#?}");
    }
}

async fn run_binary(argv: &[String]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(&argv[1..])
        .output()
        .await
        .expect("the loadtest binary runs")
}

#[tokio::test]
async fn a_must_be_safe_backend_that_oversells_fails_the_run() {
    let (first, second) = (spawn_instance().await, spawn_instance().await);
    // Deliberately unsafe: `local` across two instances, declared safe.
    let argv = options(
        &[&first, &second],
        &[
            "--backends",
            "local",
            "--must-be-safe",
            "local",
            "--critical-section-ms",
            "30",
        ],
    );
    let output = run_binary(&argv).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL local: oversold"), "{stdout}");
}

#[tokio::test]
async fn a_safe_run_exits_zero() {
    let instance = spawn_instance().await;
    let argv = options(&[&instance], &["--backends", "atomic,local"]);
    let output = run_binary(&argv).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("✅ safe"), "{stdout}");
}

#[tokio::test]
async fn an_unreachable_target_fails_the_run_with_a_clear_message() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{port}");
    let argv = ["loadtest", "run", "--no-progress", "--targets", &target].map(String::from);
    let output = run_binary(&argv).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}/health is unreachable")),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_open_model_sells_out_safely_at_a_constant_rate() {
    let instance = spawn_instance().await;
    let argv = options(
        &[&instance],
        &["--backends", "atomic", "--rate", "200", "--duration", "5"],
    );
    let report = loadtest::run(&run_args(argv)).await.expect("the run completes");
    assert!(report.model.starts_with("open model"), "{report:#?}");
    let phase = phase(&report, "atomic");
    assert_eq!(phase.ledger.sold, 20, "{phase:#?}");
    assert_eq!(phase.assessment, Assessment::Safe, "{phase:#?}");
    // 20 units at 200 orders/s: sold out in about 0.1 s, well before 5 s.
    assert!(phase.elapsed_s < 2.0, "{phase:#?}");
}

/// Orders outlive their clients: with a request timeout shorter than the
/// critical section, every order of a phase is still running (queued behind
/// the lock) when its clients give up. Unless the load tester drains the
/// instance before auditing and before the next reset, those orders commit
/// into the next phase's books, which is then blamed for orders it never
/// sent (or has its reset overwritten by a stale write). One attempt per
/// order, so that every order is left unanswered (retries are the next
/// test's).
#[tokio::test]
async fn late_orders_of_one_phase_are_never_blamed_on_the_next() {
    let instance = spawn_instance().await;
    let argv = options(
        &[&instance],
        &[
            "--backends",
            "postgres,local",
            "--buyers",
            "5",
            "--requests",
            "5",
            "--critical-section-ms",
            "1200",
            "--request-timeout",
            "1",
            "--acquire-timeout-ms",
            "30000",
            "--attempts",
            "1",
        ],
    );
    let report = loadtest::run(&run_args(argv)).await.expect("the run completes");
    for backend in ["postgres", "local"] {
        let phase = phase(&report, backend);
        // Every client gave up, yet every order was recorded, in its own phase.
        assert_eq!(phase.counts.no_answer, 5, "{phase:#?}");
        assert_eq!(phase.ledger.orders, 5, "{phase:#?}");
        assert_eq!(phase.assessment, Assessment::Safe, "{phase:#?}");
    }
    assert!(report.passed, "{report:#?}");
}

/// A retry must not deduct twice. The request timeout (1 s) is shorter
/// than the critical section (1.2 s): the one order's first attempt times
/// out while it holds the lock, then commits. Its retries carry the same
/// `Idempotency-Key`: the first waits behind it and times out too, the
/// second (about 2.2 s in, a second after the commit) is answered with the
/// first order, replayed. One order recorded, one 201 counted, the same id:
/// the books balance exactly. Sent with a new key per attempt, each retry
/// would deduct again, and the ledger would hold orders nobody was told of.
#[tokio::test]
async fn a_retried_order_is_recorded_once_and_counted_once() {
    let instance = spawn_instance().await;
    let argv = options(
        &[&instance],
        &[
            "--backends",
            "postgres",
            "--buyers",
            "1",
            "--requests",
            "1",
            "--critical-section-ms",
            "1200",
            "--request-timeout",
            "1",
            "--acquire-timeout-ms",
            "30000",
            // Room for the retry that finds the first attempt committed.
            "--attempts",
            "5",
        ],
    );
    let report = loadtest::run(&run_args(argv)).await.expect("the run completes");
    let phase = phase(&report, "postgres");
    assert!(phase.retries.sent >= 1, "{phase:#?}");
    assert!(phase.retries.replayed >= 1, "{phase:#?}");
    let books = (
        phase.counts.created,
        phase.acked_units,
        phase.ledger.orders,
        phase.ledger.sold,
    );
    assert_eq!(books, (1, 1, 1, 1), "{phase:#?}");
    assert_eq!(phase.verdict.recorded_not_acked, 0, "{phase:#?}");
    assert_eq!(phase.verdict.acked_not_recorded, 0, "{phase:#?}");
    assert_eq!(phase.verdict.unit_mismatch, 0, "{phase:#?}");
    assert_eq!(phase.verdict.api_matches_database, Some(true), "{phase:#?}");
    assert_eq!(phase.assessment, Assessment::Safe, "{phase:#?}");
}

/// The JSON that outside tools read — the workshop's scripts, the
/// service's tests — pinned field by field: the one test that reads the
/// report as JSON rather than as the typed `Report`, so that renaming a
/// field (which the typed tests would follow silently) fails here. Every
/// phase also names its scenario, its ladder settings, its faults and its
/// overlapping holds.
#[tokio::test]
async fn the_json_report_keeps_its_field_names() {
    let instance = spawn_instance().await;
    let argv = options(&[&instance], &["--backends", "redis"]);
    let report = loadtest::run(&run_args(argv)).await.expect("the run completes");
    let json = serde_json::to_value(&report).unwrap();
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    let top = [
        "critical_section_ms",
        "format_version",
        "model",
        "model_i18n",
        "passed",
        "phases",
        "quantity",
        "scenario",
        "skus",
        "stock_per_sku",
        "targets",
    ];
    assert_eq!(keys(&json), top, "{json:#}");
    let phase = &json["phases"][0];
    let fields = [
        "acked_units",
        "assessment",
        "backend",
        "counts",
        "elapsed_s",
        "expectation",
        "faults",
        "label",
        "label_i18n",
        "latency",
        "latency_by_outcome",
        "ledger",
        "orders_per_s",
        "recovery_s",
        "requests_per_s",
        "retries",
        "scenario",
        "settings",
        "verdict",
        "why",
        "why_i18n",
    ];
    assert_eq!(keys(phase), fields, "{phase:#}");
    let counts = [
        "created",
        "lock_lost",
        "lock_unavailable",
        "no_answer",
        "not_sent",
        "other_errors",
        "other_unavailable",
        "overloaded",
        "sold_out",
        "unauthorized",
    ];
    assert_eq!(keys(&phase["counts"]), counts, "{phase:#}");
    assert_eq!(keys(&phase["retries"]), ["replayed", "sent"], "{phase:#}");
    let ledger = ["initial_stock", "orders", "sold", "stock"];
    assert_eq!(keys(&phase["ledger"]), ledger, "{phase:#}");
    let verdict = [
        "acked_not_recorded",
        "api_matches_database",
        "most_holders_at_once",
        "orders_match_audit",
        "overlapping_across_backends",
        "overlapping_holds",
        "oversold_units",
        "quantity_mismatches",
        "recorded_not_acked",
        "sold_units",
        "stock_drift",
        "unexplained_records",
        "unit_mismatch",
    ];
    assert_eq!(keys(&phase["verdict"]), verdict, "{phase:#}");
    let latency = ["max_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms"];
    assert_eq!(keys(&phase["latency"]), latency, "{phase:#}");
    assert_eq!(
        keys(&phase["latency_by_outcome"]["created"]),
        latency,
        "{phase:#}"
    );

    assert_eq!(phase["scenario"], "basic", "{phase:#}");
    assert_eq!(phase["backend"], "redis", "{phase:#}");
    assert_eq!(phase["expectation"], "must_be_safe", "{phase:#}");
    assert_eq!(phase["assessment"], json!({"kind": "safe"}), "{phase:#}");
    for rung in ["check_before_commit", "renewal", "fencing"] {
        assert_eq!(phase["settings"][rung], true, "{rung}: {phase:#}");
    }
    assert_eq!(phase["faults"], json!([]), "{phase:#}");
    assert_eq!(phase["verdict"]["overlapping_holds"], 0, "{phase:#}");
    assert_eq!(phase["counts"]["lock_lost"], 0, "{phase:#}");
}
