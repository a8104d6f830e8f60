//! A crate's module graph, read from its source: which file uses which.
//!
//! Deliberately small — a reader, not a compiler. It follows the paths the
//! code spells out (`crate::a::b`, `super::x`, `self::x`, and in `use`
//! statements a child module's name), resolves each to the deepest module
//! file it names, and ignores `#[cfg(test)]` code and comments. A name used
//! through a glob or a re-export is attributed to the module that
//! re-exports it: that is the dependency a reader sees.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path inside the crate: `["lock", "etcd"]` for `lock/etcd/mod.rs`.
type ModPath = Vec<String>;

pub struct ModuleGraph {
    /// Each module's file, relative to the crate's `src/`.
    files: BTreeMap<ModPath, String>,
    edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

impl ModuleGraph {
    pub fn of_crate(src: &Path) -> ModuleGraph {
        let mut files = BTreeMap::new();
        collect_files(src, src, &mut files);
        let mut edges = BTreeMap::new();
        for (module, file) in &files {
            let text = std::fs::read_to_string(src.join(file)).unwrap();
            let uses = uses_of(module, &text, &files);
            edges.insert(module.clone(), uses);
        }
        ModuleGraph { files, edges }
    }

    /// Every strongly connected set of two or more modules, by file name.
    pub fn circles(&self) -> Vec<Vec<String>> {
        let mut circles = Vec::new();
        let mut seen = BTreeSet::new();
        for start in self.files.keys() {
            if seen.contains(start) {
                continue;
            }
            let reach = self.reachable(start);
            let circle: Vec<&ModPath> = reach
                .iter()
                .filter(|other| *other != start && self.reachable(other).contains(start))
                .collect();
            if circle.is_empty() {
                continue;
            }
            let mut names = vec![self.files[start].clone()];
            for module in circle {
                seen.insert(module.clone());
                names.push(self.files[module].clone());
            }
            names.sort();
            circles.push(names);
        }
        circles
    }

    fn reachable(&self, from: &ModPath) -> BTreeSet<ModPath> {
        let mut reached = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(module) = stack.pop() {
            for next in self.edges.get(&module).into_iter().flatten() {
                if reached.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        reached
    }
}

fn collect_files(src: &Path, dir: &Path, files: &mut BTreeMap<ModPath, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(src, &path, files);
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
        if relative == "main.rs" {
            continue; // a binary of its own, using the library from outside
        }
        let mut module: ModPath = relative
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_owned)
            .collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
            module.pop();
        }
        files.insert(module, relative);
    }
}

/// The modules `module`'s own code refers to (itself and its descendants
/// excluded when only re-exported).
fn uses_of(module: &ModPath, text: &str, files: &BTreeMap<ModPath, String>) -> BTreeSet<ModPath> {
    let code = without_tests_and_comments(text);
    let tokens = tokenize(&code);
    let mut uses = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let reexport = i >= 2 && tokens[i - 1] == "use" && tokens[i - 2] == "pub"
            || i >= 5 && tokens[i - 1] == "use" && tokens[i - 2] == ")" && tokens[i - 5] == "pub";
        let in_use = i >= 1 && tokens[i - 1] == "use";
        let starts_path = matches!(tokens[i].as_str(), "crate" | "super" | "self")
            || in_use && files.contains_key(&child(module, &tokens[i]));
        if starts_path && tokens.get(i + 1).is_some_and(|t| t == "::") {
            let (paths, next) = parse_tree(&tokens, i);
            for path in paths {
                let Some(target) = resolve(module, &path, files) else {
                    continue;
                };
                let descendant = target.len() > module.len() && target.starts_with(module);
                if target != *module && !(reexport && descendant) {
                    uses.insert(target);
                }
            }
            i = next;
        } else {
            i += 1;
        }
    }
    uses
}

fn child(module: &ModPath, name: &str) -> ModPath {
    let mut path = module.clone();
    path.push(name.to_owned());
    path
}

/// Parses `a::b::{c, d::{e, self}}` from `start`: every leaf path, and the
/// index after the tree.
fn parse_tree(tokens: &[String], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = vec![tokens[start].clone()];
    let mut i = start + 1;
    while tokens.get(i).is_some_and(|t| t == "::") {
        match tokens.get(i + 1).map(String::as_str) {
            Some("{") => {
                let mut leaves = Vec::new();
                i += 2;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    if tokens[i] == "," {
                        i += 1;
                        continue;
                    }
                    let (inner, next) = parse_tree(tokens, i);
                    leaves.extend(inner.into_iter().map(|leaf| [prefix.clone(), leaf].concat()));
                    i = next;
                }
                return (leaves, i + 1);
            }
            Some(name) if is_ident(name) => {
                prefix.push(name.to_owned());
                i += 2;
            }
            _ => break, // `x::*`, `x::<T>`
        }
    }
    (vec![prefix], i)
}

/// The deepest module file that `path`, written in `module`, names.
fn resolve(module: &ModPath, path: &[String], files: &BTreeMap<ModPath, String>) -> Option<ModPath> {
    let mut absolute = match path.first()?.as_str() {
        "crate" => Vec::new(),
        _ => module.clone(),
    };
    for (n, segment) in path.iter().enumerate() {
        match segment.as_str() {
            "crate" if n == 0 => {}
            "self" => {}
            "super" => {
                absolute.pop()?;
            }
            name => absolute.push(name.to_owned()),
        }
    }
    while !absolute.is_empty() && !files.contains_key(&absolute) {
        absolute.pop();
    }
    files.contains_key(&absolute).then_some(absolute)
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The file up to its first `#[cfg(test)]`, without comments and strings.
fn without_tests_and_comments(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = String::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut in_string = false;
        for c in line.chars() {
            if c == '"' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}
