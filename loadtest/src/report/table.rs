//! The side-by-side table printed at the end of a run: one row per
//! backend, verdict first, then a line per failure, hint and explanation.
//!
//! Rendering only: the figures are the plain data of [`super::model`],
//! filled in by the runner, and the verdict's words are
//! [`crate::verdict::label`], shared with the dashboard.
//! Nothing here is computed; a figure that is not in the JSON report is not
//! in the table either.

use std::fmt::Write;

use unicode_width::UnicodeWidthStr;

use super::model::{PhaseReport, Report};
use crate::i18n::{Lang, text};
use crate::tr;
use crate::verdict::{self, Assessment, Expectation};

/// Column names say what they count: "overlaps" are pairs of orders whose
/// critical sections overlapped (the ledger's timestamps), "at once" the
/// most sections open at one instant (1: the lock held), "409" sold out,
/// "lock lost" a holder refused for a lost lock; "503 lock" is the lock's
/// own refusal, "overloaded" admission control's, "503 other" a database
/// outage or a switch in progress; "401" a missing admin token; "unsent"
/// orders never reached a server, "no answer" ones may have;
/// "retry/replay" the retries sent after an attempt got no answer at all,
/// and how many of them came back as the first attempt's order. Latency
/// columns are of successful orders (201) only.
///
/// This is `--wide`'s table. The core columns are always printed, so that
/// runs line up when compared; a column of refusals that is zero in every
/// phase is left out and named under the table. Request rates and every
/// count are in the JSON report.
const WIDE: [Column; 21] = [
    VERDICT,
    PHASE,
    Column::words("col-expected", |p, lang| match p.expectation {
        Expectation::MustBeSafe => tr!(lang, "expect-must-be-safe"),
        Expectation::MayOversell => tr!(lang, "expect-may-oversell"),
    }),
    SOLD,
    OVERSOLD,
    Column::figures("col-overlaps", |p, _| p.verdict.overlapping_holds.to_string()),
    AT_ONCE,
    Column::figures("col-created", |p, _| p.counts.created.to_string()),
    Column::unless_zero("col-sold-out", |p, _| p.counts.sold_out.to_string()),
    LOCK_LOST,
    Column::unless_zero("col-lock-503", |p, _| p.counts.lock_unavailable.to_string()),
    Column::unless_zero("col-overloaded", |p, _| p.counts.overloaded.to_string()),
    Column::unless_zero("col-other-503", |p, _| p.counts.other_unavailable.to_string()),
    Column::unless_zero("col-401", |p, _| p.counts.unauthorized.to_string()),
    Column::unless_zero("col-other", |p, _| p.counts.other_errors.to_string()),
    Column::unless_zero("col-unsent", |p, _| p.counts.not_sent.to_string()),
    Column::unless_zero("col-no-answer", |p, _| p.counts.no_answer.to_string()),
    Column::unless_zero("col-retry", |p, _| {
        format!("{}/{}", p.retries.sent, p.retries.replayed)
    }),
    RATE,
    Column::figures("col-p50", |p, _| format!("{:.1}", p.latency.p50_ms)),
    P99,
];

/// The default table: what the room needs, in at most 100 columns — the
/// verdict, how much was sold and oversold, the most holders at once, the
/// refusals (a lost lock's, and every 503 together) when there were any,
/// and the cost. The rest is `--wide`'s.
const COMPACT: [Column; 9] = [
    VERDICT,
    PHASE,
    SOLD,
    OVERSOLD,
    AT_ONCE,
    LOCK_LOST,
    Column::unless_zero("col-503", |p, _| {
        let c = &p.counts;
        (c.lock_unavailable + c.overloaded + c.other_unavailable).to_string()
    }),
    RATE,
    P99,
];

const VERDICT: Column = Column::words("col-verdict", |p, lang| {
    verdict::label(&p.verdict, &p.assessment).text(lang)
});
const PHASE: Column = Column::words("col-phase", |p, lang| label(p, lang));
const SOLD: Column = Column::figures("col-sold", |p, _| {
    format!("{}/{}", p.ledger.sold, p.ledger.initial_stock)
});
const OVERSOLD: Column = Column::figures("col-oversold", |p, _| p.verdict.oversold_units.to_string());
const AT_ONCE: Column = Column::figures("col-at-once", |p, _| p.verdict.most_holders_at_once.to_string());
const LOCK_LOST: Column = Column::unless_zero("col-lock-lost", |p, _| p.counts.lock_lost.to_string());
const RATE: Column = Column::figures("col-rate", |p, _| format!("{:.0}", p.orders_per_s));
const P99: Column = Column::figures("col-p99", |p, _| format!("{:.1}", p.latency.p99_ms));

/// The phase's name in `lang` (the report's English `label` if it has no
/// other).
fn label(phase: &PhaseReport, lang: Lang) -> String {
    phase.label_i18n.get(lang).unwrap_or(&phase.label).to_owned()
}

/// One column of the table: words are left-aligned, figures right-aligned;
/// a column of refusals may be left out when it is zero throughout.
struct Column {
    /// Its heading: a message of `loadtest/i18n/`.
    name: &'static str,
    cell: fn(&PhaseReport, Lang) -> String,
    words: bool,
    always: bool,
}

impl Column {
    const fn words(name: &'static str, cell: fn(&PhaseReport, Lang) -> String) -> Self {
        Column {
            name,
            cell,
            words: true,
            always: true,
        }
    }

    const fn figures(name: &'static str, cell: fn(&PhaseReport, Lang) -> String) -> Self {
        Column {
            name,
            cell,
            words: false,
            always: true,
        }
    }

    const fn unless_zero(name: &'static str, cell: fn(&PhaseReport, Lang) -> String) -> Self {
        Column {
            name,
            cell,
            words: false,
            always: false,
        }
    }
}

/// The table (`wide`: every column), then a line per failure or hint, in
/// `lang`.
pub fn render_table(report: &Report, wide: bool, lang: Lang) -> String {
    let mut out = String::new();
    let stock = match report.scenario.as_str() {
        "basic" => tr!(lang, "table-stock-units", units = report.stock_per_sku),
        _ => tr!(lang, "table-stock-per-phase"),
    };
    let title = tr!(
        lang,
        "table-title",
        scenario = report.scenario,
        model = report.model_i18n.get(lang).unwrap_or(&report.model),
        targets = report.targets.len(),
        skus = report.skus,
        stock = stock,
        quantity = report.quantity,
        cs = report.critical_section_ms,
    );
    let _ = writeln!(out, "\n{title}\n");
    let columns: &[Column] = if wide { &WIDE } else { &COMPACT };
    let (grid, left_out) = grid(&report.phases, columns, lang);
    out.push_str(&grid);
    out.push('\n');
    for phase in &report.phases {
        let name = label(phase, lang);
        if phase.assessment.fails_run() {
            let reasons: Vec<String> = verdict::failures(&phase.verdict, phase.expectation)
                .iter()
                .map(|reason| reason.text(lang))
                .collect();
            let reasons = reasons.join(&tr!(lang, "reason-separator"));
            let _ = writeln!(
                out,
                "{}",
                tr!(lang, "table-fail", phase = name, reasons = reasons)
            );
        }
        if let Some(hint) = verdict::hint(&phase.assessment) {
            let hint = hint.text(lang);
            let _ = writeln!(out, "{}", tr!(lang, "table-note", phase = name, hint = hint));
        }
        let why = phase.why_i18n.as_ref().and_then(|w| w.get(lang));
        if let Some(why) = why.or(phase.why.as_deref()) {
            let _ = writeln!(out, "{}", tr!(lang, "table-why", phase = name, why = why));
        }
    }
    let inconclusive = report
        .phases
        .iter()
        .any(|p| matches!(p.assessment, Assessment::Inconclusive { .. }));
    let _ = writeln!(out, "{}", tr!(lang, "table-latency"));
    if !left_out.is_empty() {
        let columns = left_out.join(", ");
        let _ = writeln!(out, "{}", tr!(lang, "table-left-out", columns = columns));
    }
    if !wide {
        let _ = writeln!(out, "{}", tr!(lang, "table-at-once"));
    }
    let summary = match (report.passed, inconclusive) {
        (false, _) => tr!(lang, "summary-failed"),
        (true, true) => tr!(lang, "summary-inconclusive"),
        (true, false) => tr!(lang, "summary-passed"),
    };
    let _ = writeln!(out, "{summary}");
    out
}

/// The header and a row per phase, each column as wide as its widest cell
/// on screen (an emoji or a Chinese character takes two cells); and the
/// names of the columns left out.
fn grid(phases: &[PhaseReport], columns: &'static [Column], lang: Lang) -> (String, Vec<String>) {
    let mut shown = Vec::new();
    let mut left_out = Vec::new();
    for column in columns {
        let cells: Vec<String> = phases.iter().map(|p| (column.cell)(p, lang)).collect();
        let name = text(lang, column.name, &[]);
        if column.always || cells.iter().any(|cell| !is_zero(cell)) {
            shown.push((column, name, cells));
        } else {
            left_out.push(name);
        }
    }
    let mut out = String::new();
    for line in 0..=phases.len() {
        let mut text = String::new();
        for (column, name, cells) in &shown {
            let width = cells.iter().map(|c| c.width()).fold(name.width(), usize::max);
            let cell = if line == 0 { name } else { &cells[line - 1] };
            let pad = " ".repeat(width - cell.width());
            let _ = match column.words {
                true => write!(text, "{cell}{pad}  "),
                false => write!(text, "{pad}{cell}  "),
            };
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    (out, left_out)
}

/// `0`, or `0/0` for a pair.
fn is_zero(cell: &str) -> bool {
    cell.split('/').all(|part| part == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real basic run's JSON report (two debug-build instances, 64
    /// buyers, 100 units, 20 ms), as `loadtest run --json` wrote it.
    fn basic_run() -> Report {
        serde_json::from_str(include_str!("fixtures/basic-report.json")).expect("a report")
    }

    #[test]
    fn the_default_table_fits_a_100_column_terminal() {
        let (grid, _) = grid(&basic_run().phases, &COMPACT, Lang::En);
        for line in grid.lines() {
            assert!(line.width() <= 100, "{} columns: {line}", line.width());
        }
        let header = grid.lines().next().unwrap();
        assert!(
            header.contains("at once") && !header.contains("overlaps"),
            "{header}"
        );
    }

    #[test]
    fn the_chinese_table_fits_too_and_names_its_columns_in_chinese() {
        let table = render_table(&basic_run(), false, Lang::ZhCn);
        let header = table
            .lines()
            .find(|l| l.starts_with("判定"))
            .expect("a Chinese header");
        assert!(
            header.contains("已售/库存") && header.contains("单/秒"),
            "{header}"
        );
        for line in table.lines().skip(3).take(8) {
            assert!(line.width() <= 100, "{} columns: {line}", line.width());
        }
        assert!(table.contains("所有必须安全的后端都是安全的"), "{table}");
    }

    #[test]
    fn a_broken_promise_is_told_in_the_tables_language() {
        let mut run = basic_run();
        let none = &mut run.phases[0];
        none.expectation = Expectation::MustBeSafe;
        none.assessment = verdict::assess(&none.verdict, none.expectation);
        let oversold = none.verdict.oversold_units;
        let table = render_table(&run, false, Lang::ZhCn);
        assert!(
            table.contains(&format!("失败 none：超卖 {oversold} 件；")),
            "{table}"
        );
        let table = render_table(&run, false, Lang::En);
        assert!(
            table.contains(&format!("FAIL none: oversold {oversold} units; ")),
            "{table}"
        );
    }

    #[test]
    fn columns_line_up_on_screen_emoji_and_all() {
        for columns in [&COMPACT[..], &WIDE[..]] {
            assert_phase_column_lines_up(columns);
        }
    }

    fn assert_phase_column_lines_up(columns: &'static [Column]) {
        let (grid, _) = grid(&basic_run().phases, columns, Lang::En);
        let grid: Vec<&str> = grid.lines().collect();
        // Where the phase's name begins, in screen cells: after an emoji
        // (two cells, three or four bytes) as after plain text.
        let starts: Vec<usize> = grid
            .iter()
            .map(|line| {
                let names = ["phase", "none", "local", "redis", "etcd", "postgres", "atomic"];
                let at = names
                    .iter()
                    .find_map(|name| line.find(&format!("  {name} ")))
                    .expect("a phase");
                line[..at].width()
            })
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] == w[1]),
            "the phase column starts at {starts:?}"
        );
    }

    #[test]
    fn columns_of_refusals_that_are_zero_throughout_are_named_not_printed() {
        let table = render_table(&basic_run(), true, Lang::En);
        let header = table.lines().find(|l| l.starts_with("verdict")).unwrap();
        assert!(header.contains("409"), "409s happened: {header}");
        assert!(!header.contains("overloaded"), "{header}");
        assert!(
            table.contains("zero in every phase, not shown: lock lost, overloaded, 503 other, 401, other, unsent, no answer, retry/replay"),
            "{table}"
        );
    }
}
