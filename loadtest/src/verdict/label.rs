//! A phase's verdict in two or three words — `✅ safe`, `❌ oversold 212`,
//! `❌ books off FAIL` — the first thing a student reads.
//!
//! It sits next to [`Verdict`] and [`Assessment`] because everything that
//! shows a verdict uses the same words: the table's first column, the line
//! printed after each phase, and the dashboard's board (which the browser
//! test compares with the report). One function, so they cannot disagree;
//! kept here, low, so that neither the report nor the dashboard has to
//! import the other for it.

use super::{Assessment, Verdict};
use crate::i18n::Msg;

/// `✅ safe`, `❌ oversold 212`, …: the verdict first, the damage if any,
/// in whichever language it is read (`Display`: English).
pub fn label(verdict: &Verdict, assessment: &Assessment) -> Msg {
    let damage = if verdict.oversold_units > 0 {
        Some(Msg::new("damage-oversold").arg("units", verdict.oversold_units))
    } else if verdict.stock_drift != 0 {
        Some(Msg::new("damage-drift").arg("units", verdict.stock_drift))
    } else {
        None
    };
    match (assessment, damage) {
        (Assessment::Safe, _) => Msg::new("verdict-safe"),
        (Assessment::Inconclusive { .. }, _) => Msg::new("verdict-inconclusive"),
        (Assessment::UnexpectedlySafe { .. }, _) => Msg::new("verdict-no-oversell"),
        (Assessment::ExpectedFailure, Some(damage)) => Msg::new("verdict-damage").with("damage", damage),
        (Assessment::ExpectedFailure, None) => Msg::new("verdict-damage").arg("damage", ""),
        (Assessment::Failed { .. }, Some(damage)) => Msg::new("verdict-damage-fail").with("damage", damage),
        (Assessment::Failed { .. }, None) => Msg::new("verdict-books-off"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn verdict(oversold: i64, drift: i64) -> Verdict {
        Verdict {
            oversold_units: oversold,
            stock_drift: drift,
            ..Verdict::default()
        }
    }

    #[test]
    fn labels_put_the_verdict_first() {
        let label = |v, a: &Assessment| label(&v, a).to_string();
        assert_eq!(label(verdict(0, 0), &Assessment::Safe), "✅ safe");
        assert_eq!(
            label(verdict(12, 3), &Assessment::ExpectedFailure),
            "❌ oversold 12"
        );
        assert_eq!(
            label(verdict(0, 3), &Assessment::ExpectedFailure),
            "❌ stock off by 3"
        );
        let failed = Assessment::Failed { reasons: vec![] };
        assert_eq!(label(verdict(5, 0), &failed), "❌ oversold 5 FAIL");
    }

    #[test]
    fn labels_are_read_in_chinese_too() {
        let failed = Assessment::Failed { reasons: vec![] };
        assert_eq!(label(&verdict(5, 0), &failed).text(Lang::ZhCn), "❌ 超卖 5 失败");
        assert_eq!(
            label(&verdict(0, 0), &Assessment::Safe).text(Lang::ZhCn),
            "✅ 安全"
        );
    }
}
