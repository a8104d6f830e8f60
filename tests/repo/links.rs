//! Markdown links and the routes the API reference must name.
//!
//! Anchors are computed as GitHub computes them (lower case; letters,
//! digits, `-` and `_` kept — Chinese included; spaces become `-`; other
//! punctuation dropped; a repeated heading gets `-1`, `-2`), from headings
//! outside fenced code blocks.

use std::collections::BTreeSet;
use std::path::Path;

/// Every relative link of `page` that names a missing file or heading, as
/// `page:line: target`.
pub fn broken_links(root: &Path, page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.strip_prefix(root).unwrap_or(page).display().to_string();
    let mut broken = Vec::new();
    for (number, line) in prose_lines(&text) {
        for target in link_targets(line) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if file.is_empty() {
                page.to_path_buf()
            } else {
                page.parent().unwrap().join(file)
            };
            let ok = resolved.exists()
                && (anchor.is_empty()
                    || resolved.extension().is_none_or(|ext| ext != "md")
                    || anchors_of(&resolved).contains(anchor));
            if !ok {
                broken.push(format!("{name}:{number}: {target}"));
            }
        }
    }
    broken
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((n + 1, line));
        }
    }
    lines
}

/// The `(target)` of every `[text](target)` on the line, outside inline code.
fn link_targets(line: &str) -> Vec<String> {
    let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or_default();
        targets.push(target.to_owned());
        rest = &after[end..];
    }
    targets
}

/// The anchors of every heading of a Markdown file.
pub fn anchors_of(page: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(&text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let slug = slug(heading.trim());
        let mut unique = slug.clone();
        let mut n = 0;
        while anchors.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        anchors.insert(unique);
    }
    anchors
}

fn slug(heading: &str) -> String {
    // A link in a heading contributes its text only.
    let text: String = heading
        .split("](")
        .enumerate()
        .map(|(n, part)| {
            if n == 0 {
                part
            } else {
                part.split_once(')').map_or("", |(_, after)| after)
            }
        })
        .collect();
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every path given to `.route("…")` in the files of `dir`.
pub fn routes_in(dir: &Path) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for piece in text.split(".route(\"").skip(1) {
            if let Some((route, _)) = piece.split_once('"') {
                routes.insert(route.to_owned());
            }
        }
    }
    routes
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("The API"), "the-api");
    assert_eq!(slug("etcd's session, and why"), "etcds-session-and-why");
    assert_eq!(slug("`GET /metrics`: counts"), "get-metrics-counts");
    assert_eq!(slug("锁的对比"), "锁的对比");
}
