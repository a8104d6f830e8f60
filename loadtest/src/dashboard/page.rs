//! The dashboard's one page, in its two forms: served live (uPlot fetched
//! from the load tester itself, events from `/events`), or written as the
//! run's report with everything inside — uPlot, the script, and the run's
//! events to replay — so that it opens from a file with the network off.

use crate::events::Event;

const PAGE: &str = include_str!("../../assets/dashboard/page.html");
const CSS: &str = include_str!("../../assets/dashboard/dashboard.css");
const SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
/// The page's words (first: everything else speaks through it), the
/// overview's and the timeline's drawing and the report's playback, loaded
/// before [`SCRIPT`], whose start replays events at once.
const VIEW_SCRIPTS: [&str; 4] = [
    include_str!("../../assets/dashboard/i18n.js"),
    include_str!("../../assets/dashboard/overview.js"),
    include_str!("../../assets/dashboard/timeline.js"),
    include_str!("../../assets/dashboard/replay.js"),
];
/// uPlot 1.6.32 (MIT, `assets/uplot/LICENSE`), shipped inside the binary:
/// nothing is fetched from outside, and no Node.js is needed.
pub const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
pub const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");

/// The live page, as the load tester serves it.
pub fn live() -> String {
    assemble(
        "<link rel=\"stylesheet\" href=\"/uPlot.min.css\">",
        "<script src=\"/uPlot.iife.min.js\"></script>".to_owned(),
    )
}

/// The report: the same page replaying `events`, self-contained.
pub fn replay(events: &[Event]) -> String {
    replay_json(&serde_json::to_string(events).expect("events serialize"))
}

/// [`replay`], of events already written as a JSON array.
fn replay_json(events: &str) -> String {
    assemble(
        &format!("<style>{UPLOT_CSS}</style>"),
        format!(
            "<script>{}</script>\n<script>window.STOCKLOCK_EVENTS = {};</script>",
            inline_script(UPLOT_JS),
            // Inside JSON, `<` only occurs in strings, where `\u003c` means
            // the same: nothing in an event can look like markup.
            events.replace('<', "\\u003c")
        ),
    )
}

fn assemble(uplot_style: &str, uplot_and_data: String) -> String {
    PAGE.replacen("<!--STYLE-->", &format!("{uplot_style}\n<style>{CSS}</style>"), 1)
        .replacen(
            "<!--SCRIPTS-->",
            &format!(
                "{uplot_and_data}\n<script>const PALETTE = {};\nconst I18N = {};</script>\n{}<script>{}</script>",
                super::palette::PALETTE_JSON.replace('<', "\\u003c"),
                crate::i18n::page_catalogues().replace('<', "\\u003c"),
                VIEW_SCRIPTS
                    .map(|s| format!("<script>{}</script>\n", inline_script(s)))
                    .concat(),
                inline_script(SCRIPT)
            ),
            1,
        )
}

/// Text safe inside `<script>`: a `</` in it (`"</script>"` in a phase's
/// label, say) would end the element early.
fn inline_script(text: &str) -> String {
    text.replace("</", "<\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_needs_nothing_from_outside_and_carries_its_events() {
        let page = replay(&[Event::Done { passed: true }]);
        assert!(
            !page.contains("src=\"") && !page.contains("href=\""),
            "nothing fetched"
        );
        assert!(page.contains(r#"window.STOCKLOCK_EVENTS = [{"type":"done","passed":true}];"#));
        assert!(page.contains("uPlot"));
        assert!(!page.contains("<!--STYLE-->") && !page.contains("<!--SCRIPTS-->"));
    }

    #[test]
    fn an_event_cannot_close_the_script_it_is_embedded_in() {
        let page = replay_json(r#"[{"label":"</script><script>alert(1)</script>"}]"#);
        assert!(!page.contains("</script><script>alert(1)"));
        assert!(page.contains(r#"\u003c/script>\u003cscript>alert(1)\u003c/script>"#));
    }

    #[test]
    fn the_live_page_loads_uplot_from_the_load_tester_and_listens_for_events() {
        let page = live();
        assert!(page.contains("src=\"/uPlot.iife.min.js\""));
        assert!(page.contains("new EventSource(\"/events\")"));
        assert!(!page.contains("STOCKLOCK_EVENTS = "));
    }
}
