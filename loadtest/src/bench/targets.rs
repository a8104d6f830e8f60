//! The targets, checked against a benchmark's medians, and the
//! benchmark as the terminal shows it.
//!
//! A target unmet is reported with what explains it: the per-hold
//! breakdown of the serialized section and the servers' own rates, printed
//! beside every backend (`docs/bench.md` reads them).

use std::fmt::Write;

use serde::Serialize;
use stocklock_api::Backend;

use super::{BenchReport, Rate, Script, SettingReport, one_sku_twin};

/// One target, what was measured, and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// Every target whose backend and setting the benchmark measured.
pub fn check(settings: &[SettingReport]) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    for report in settings {
        let at = |b: Backend| report.backends.iter().find(|r| r.backend == b);
        if let Some(twin) = one_sku_twin(settings, report.setting) {
            for backend in &report.backends {
                let Some(one) = twin.backends.iter().find(|b| b.backend == backend.backend) else {
                    continue;
                };
                let times = backend.median.orders_per_s / one.median.orders_per_s.max(f64::MIN_POSITIVE);
                checks.push(TargetCheck {
                    target: format!(
                        "{}, {}: ≥ 8 × its one-SKU rate",
                        backend.backend.as_str(),
                        report.setting
                    ),
                    measured: format!("{times:.1} × ({:.0} orders/s)", backend.median.orders_per_s),
                    met: times >= 8.0,
                });
            }
        } else if report.setting.work_ms == 0 {
            for backend in report.backends.iter().filter(|r| is_lock(r.backend)) {
                let Some(share) = backend.share else { continue };
                let goal = if backend.backend == Backend::Etcd {
                    0.5
                } else {
                    0.7
                };
                checks.push(TargetCheck {
                    target: format!(
                        "{}, {}: ≥ {:.0} % of pgbench's {} rate",
                        backend.backend.as_str(),
                        report.setting,
                        goal * 100.0,
                        backend.reference.map_or("", Script::as_str)
                    ),
                    measured: format!("{:.0} %", share * 100.0),
                    met: share >= goal,
                });
            }
            if let Some(atomic) = at(Backend::Atomic).and_then(|r| r.share) {
                checks.push(TargetCheck {
                    target: format!("atomic, {}: ≥ 90 % of pgbench's atomic rate", report.setting),
                    measured: format!("{:.0} %", atomic * 100.0),
                    met: atomic >= 0.9,
                });
            }
            if let Some(batch) = at(Backend::Batch)
                && let Some(share) = batch.share
            {
                checks.push(TargetCheck {
                    target: format!(
                        "batch, {}: ≥ 3 × pgbench's single-row atomic rate, nothing oversold",
                        report.setting
                    ),
                    measured: format!("{share:.1} ×, {} oversold", batch.median.oversold),
                    met: share >= 3.0 && batch.rounds.iter().all(|r| r.oversold == 0),
                });
            }
        } else {
            for backend in [Backend::Redis, Backend::Etcd, Backend::Postgres] {
                let Some(report_of) = at(backend) else { continue };
                let m = &report_of.median;
                checks.push(TargetCheck {
                    target: format!(
                        "{}, {}: ≥ 45 orders/s, p99 ≤ 3 × p50, no 503",
                        backend.as_str(),
                        report.setting
                    ),
                    measured: format!(
                        "{:.1} orders/s, p99 {:.1} × p50, {} × 503",
                        m.orders_per_s,
                        m.p99_ms / m.p50_ms.max(f64::MIN_POSITIVE),
                        m.unavailable
                    ),
                    met: m.orders_per_s >= 45.0 && m.p99_ms <= 3.0 * m.p50_ms && m.unavailable == 0,
                });
            }
        }
    }
    checks
}

/// A backend that takes a lock (not `none`, `atomic` or `batch`).
pub fn is_lock(backend: Backend) -> bool {
    !matches!(backend, Backend::None | Backend::Atomic | Backend::Batch)
}

/// The benchmark as a table per setting, then the targets.
pub fn render(bench: &BenchReport) -> String {
    let mut out = String::new();
    for report in &bench.settings {
        render_setting(&mut out, report, bench);
    }
    let _ = writeln!(out, "targets");
    for check in &bench.targets {
        let mark = if check.met { "met  " } else { "UNMET" };
        let _ = writeln!(out, "  {mark}  {}: {}", check.target, check.measured);
    }
    if !bench.passed {
        let _ = writeln!(
            out,
            "NOT A BENCHMARK: a backend that must be safe oversold, or a phase sold nothing"
        );
    }
    out
}

fn render_setting(out: &mut String, report: &SettingReport, bench: &BenchReport) {
    let _ = writeln!(
        out,
        "\n{} — medians of {} round(s), each measurement ≥ {} s",
        report.setting, bench.rounds, bench.seconds
    );
    let pgbench = report.pgbench.iter().map(|(s, rate)| (s.as_str(), rate, "tps"));
    rates_line(out, "PostgreSQL on its own (pgbench, same SQL)", pgbench);
    let servers = report
        .lock_servers
        .iter()
        .map(|(b, rate)| (b.as_str(), rate, "locks/s"));
    rates_line(out, "lock servers on their own (acquire, release)", servers);
    let _ = writeln!(
        out,
        "{:<9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>5} │ per hold: {:>6} {:>13} {:>13} {:>6} {:>6} {:>8}",
        "backend",
        "orders/s",
        "share",
        "p50 ms",
        "p99 ms",
        "max ms",
        "503",
        "ms",
        "lock server",
        "database",
        "work",
        "ours",
        "between"
    );
    for backend in &report.backends {
        let m = &backend.median;
        let share = backend
            .share
            .map_or("—".to_owned(), |s| format!("{:.0} %", s * 100.0));
        let _ = write!(
            out,
            "{:<9} {:>9} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>5} │ ",
            backend.backend.as_str(),
            thousands(m.orders_per_s),
            share,
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            m.unavailable
        );
        let _ = match &m.breakdown {
            Some(b) => writeln!(
                out,
                "          {:>6.2} {:>13} {:>13} {:>6.2} {:>6.2} {:>8}",
                b.hold_ms,
                trips(b.lock_server_trips, b.lock_server_ms),
                trips(b.database_trips, b.database_ms),
                b.work_ms,
                b.ours_ms,
                if b.between_ms >= 0.0 {
                    format!("{:.2}", b.between_ms)
                } else {
                    "—".to_owned()
                }
            ),
            None => writeln!(out, "          (holds no lock)"),
        };
    }
}

/// `title: a 1,234 tps · b 56 tps`, the median of each; nothing if none.
fn rates_line<'a>(out: &mut String, title: &str, rates: impl Iterator<Item = (&'a str, &'a Rate, &'a str)>) {
    let rates: Vec<String> = rates
        .map(|(name, rate, unit)| format!("{name} {} {unit}", thousands(rate.median)))
        .collect();
    if !rates.is_empty() {
        let _ = writeln!(out, "{title}: {}", rates.join(" · "));
    }
}

/// `2 × 0.21 ms`: round trips per hold, and their time.
fn trips(count: f64, ms: f64) -> String {
    if count == 0.0 {
        return "—".to_owned();
    }
    format!("{count:.1} × {:.2}", ms / count)
}

/// `1,234`: a rate rounded, with thousands separators.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_grouped_by_thousands() {
        assert_eq!(thousands(1234.6), "1,235");
        assert_eq!(thousands(45.0), "45");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
    }
}
