//! The page's colours, in one file (`assets/dashboard/palette.json`) that
//! the page draws with and this checks: every colour stands out against
//! the white page at 3:1 or more (a washed-out projector takes contrast
//! away), and every two colours of one chart are at least 20 apart (CIE76
//! ΔE in L*a*b*) as people see them normally and as people with the two
//! common colour-vision deficiencies do, simulated with Machado, Oliveira
//! and Fernandes' matrices (2009, severity 1). Colour is never the only
//! cue: lines differ by dash too, and states are said in words and icons.
//! The issue this closed: "409 lock lost" (orange) and "503" (vermillion)
//! became the same olive under deuteranopia (ΔE 18).

/// The palette, as the page embeds it.
pub const PALETTE_JSON: &str = include_str!("../../assets/dashboard/palette.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::PALETTE_JSON;

    #[derive(serde::Deserialize)]
    struct Palette {
        colors: BTreeMap<String, String>,
        charts: BTreeMap<String, Vec<String>>,
    }

    type Matrix = [[f64; 3]; 3];
    const DEUTERANOPIA: Matrix = [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ];
    const PROTANOPIA: Matrix = [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ];
    const SIGHT: [(&str, Option<Matrix>); 3] = [
        ("normal", None),
        ("deuteranopia", Some(DEUTERANOPIA)),
        ("protanopia", Some(PROTANOPIA)),
    ];

    fn palette() -> Palette {
        serde_json::from_str(PALETTE_JSON).expect("palette.json")
    }

    /// `#RRGGBB` in linear light.
    fn linear(hex: &str) -> [f64; 3] {
        let channel = |i: usize| {
            let c = u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).expect("#RRGGBB") as f64 / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        [channel(0), channel(1), channel(2)]
    }

    fn seen(rgb: [f64; 3], sight: Option<Matrix>) -> [f64; 3] {
        let Some(m) = sight else { return rgb };
        let row = |r: [f64; 3]| (r[0] * rgb[0] + r[1] * rgb[1] + r[2] * rgb[2]).clamp(0.0, 1.0);
        [row(m[0]), row(m[1]), row(m[2])]
    }

    fn luminance([r, g, b]: [f64; 3]) -> f64 {
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    /// Linear sRGB to CIE L*a*b* (D65).
    fn lab(rgb: [f64; 3]) -> [f64; 3] {
        let [r, g, b] = rgb;
        let (x, y, z) = (
            (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
            luminance(rgb),
            (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
        );
        let f = |t: f64| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn every_colour_stands_out_against_the_page() {
        for (name, hex) in palette().colors {
            let contrast = 1.05 / (luminance(linear(&hex)) + 0.05);
            assert!(contrast >= 3.0, "{name} {hex}: {contrast:.2}:1 against white");
        }
    }

    #[test]
    fn colours_drawn_together_are_told_apart_with_either_common_colour_blindness() {
        let palette = palette();
        for (chart, names) in &palette.charts {
            let hex = |name: &String| {
                palette
                    .colors
                    .get(name)
                    .unwrap_or_else(|| panic!("{chart}: no colour {name}"))
            };
            for (i, a) in names.iter().enumerate() {
                for b in &names[i + 1..] {
                    for (sight, matrix) in SIGHT {
                        let apart = delta_e(
                            lab(seen(linear(hex(a)), matrix)),
                            lab(seen(linear(hex(b)), matrix)),
                        );
                        assert!(
                            apart >= 20.0,
                            "{chart}: {a} and {b} are {apart:.1} apart ({sight})"
                        );
                    }
                }
            }
        }
    }

    /// The check can fail: the pair the issue found.
    #[test]
    fn orange_and_vermillion_would_not_pass() {
        let [orange, vermillion] = ["#E69F00", "#D55E00"].map(linear);
        let apart = delta_e(
            lab(seen(orange, Some(DEUTERANOPIA))),
            lab(seen(vermillion, Some(DEUTERANOPIA))),
        );
        assert!(apart < 20.0, "{apart}");
    }
}
