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

/// `✅ safe`, `❌ oversold 212`, …: the verdict first, the damage if any.
pub fn label(verdict: &Verdict, assessment: &Assessment) -> String {
    let damage = if verdict.oversold_units > 0 {
        format!("oversold {}", verdict.oversold_units)
    } else if verdict.stock_drift != 0 {
        format!("stock off by {}", verdict.stock_drift)
    } else {
        String::new()
    };
    match assessment {
        Assessment::Safe => "✅ safe".to_owned(),
        Assessment::Inconclusive { .. } => "❔ inconclusive".to_owned(),
        Assessment::UnexpectedlySafe { .. } => "✅ no oversell".to_owned(),
        Assessment::ExpectedFailure => format!("❌ {damage}"),
        Assessment::Failed { .. } if !damage.is_empty() => format!("❌ {damage} FAIL"),
        Assessment::Failed { .. } => "❌ books off FAIL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(oversold: i64, drift: i64) -> Verdict {
        Verdict {
            oversold_units: oversold,
            stock_drift: drift,
            ..Verdict::default()
        }
    }

    #[test]
    fn labels_put_the_verdict_first() {
        assert_eq!(label(&verdict(0, 0), &Assessment::Safe), "✅ safe");
        assert_eq!(
            label(&verdict(12, 3), &Assessment::ExpectedFailure),
            "❌ oversold 12"
        );
        assert_eq!(
            label(&verdict(0, 3), &Assessment::ExpectedFailure),
            "❌ stock off by 3"
        );
        let failed = Assessment::Failed { reasons: vec![] };
        assert_eq!(label(&verdict(5, 0), &failed), "❌ oversold 5 FAIL");
    }
}
