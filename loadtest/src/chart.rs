//! `--chart`: an HTML page with two bar charts (successful orders per second
//! and the p99 latency of successful orders, one bar per backend), for people who would rather look
//! than read. Plain inline SVG, no scripts, no dependencies: it opens from a
//! file in any browser and survives being mailed around.

use std::fmt::Write;

use crate::phase::PhaseReport;
use crate::report::{Report, verdict_label};

const BAR_HEIGHT: usize = 26;
const LABEL_WIDTH: usize = 230;
const PLOT_WIDTH: usize = 420;

pub fn render_html(report: &Report) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>stocklock load test</title>\n\
         <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}svg text{font-size:13px}</style>\n\
         </head><body>\n<h1>stocklock load test</h1>\n",
    );
    let _ = writeln!(
        html,
        "<p>{} over {} target(s); {} SKU(s) × {} units; critical section {} ms.</p>",
        escape(&report.model),
        report.targets.len(),
        report.skus,
        report.stock_per_sku,
        report.critical_section_ms
    );
    html.push_str(&bar_chart(
        "Successful orders per second",
        "orders/s",
        &report.phases,
        |p| p.orders_per_s,
    ));
    html.push_str(&bar_chart(
        "p99 latency of successful orders (201)",
        "ms",
        &report.phases,
        |p| p.latency.p99_ms,
    ));
    html.push_str("</body></html>\n");
    html
}

fn bar_chart(title: &str, unit: &str, phases: &[PhaseReport], value: impl Fn(&PhaseReport) -> f64) -> String {
    let max = phases
        .iter()
        .map(&value)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = BAR_HEIGHT * phases.len() + 10;
    let width = LABEL_WIDTH + PLOT_WIDTH + 120;
    let mut svg = format!(
        "<h2>{}</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">\n",
        escape(title),
        escape(title)
    );
    for (i, phase) in phases.iter().enumerate() {
        let y = i * BAR_HEIGHT + 5;
        let figure = value(phase);
        let length = (figure / max * PLOT_WIDTH as f64).round() as usize;
        let safe = !phase.assessment.fails_run() && phase.verdict.stock_is_safe();
        let colour = if safe { "#2e7d32" } else { "#c62828" };
        let label = format!(
            "{} {}",
            phase.backend,
            verdict_label(&phase.verdict, &phase.assessment)
        );
        let _ = writeln!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{length}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{figure:.1} {unit}</text>",
            y + 17,
            escape(&label),
            BAR_HEIGHT - 6,
            LABEL_WIDTH + length + 6,
            y + 17,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
