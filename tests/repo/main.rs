//! Checks on the repository itself, so that what a reader relies on cannot
//! drift silently:
//!
//! * **Dependencies point one way.** In `src/` and `loadtest/src/`, no
//!   module imports one that imports it back, directly or through a chain
//!   (`docs/architecture.md` draws the layers). A parent that only declares
//!   and re-exports its children (`mod x; pub use x::X;`) is their facade,
//!   not their user, so that alone is not counted.
//! * **Links resolve.** Every relative link in `README.md` and `docs/`
//!   names a file that exists and, with `#anchor`, a heading in it; every
//!   path the README names in backticks exists.
//! * **The API reference is complete.** `docs/api.md` names every setting
//!   (from the service's own `clap` definition), every error code (from
//!   `ErrorCode::ALL`) and every route (from `src/http/`).
//! * **The scripts hold.** shellcheck passes; the workshop hands over to a
//!   container engine before any apt or cargo step (`scripts.rs`).

mod links;
mod modules;
mod scripts;

use std::path::Path;

use clap::CommandFactory;
use links::{broken_links, routes_in};
use modules::ModuleGraph;
use stocklock::config::Config;
use stocklock_api::ErrorCode;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn assert_no_circle(crate_src: &str) {
    let graph = ModuleGraph::of_crate(&root().join(crate_src));
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "{crate_src}: modules that import each other (each line a circle):\n{}",
        circles
            .iter()
            .map(|circle| circle.join(" → "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_service_has_no_import_circle() {
    assert_no_circle("src");
}

#[test]
fn the_load_tester_has_no_import_circle() {
    assert_no_circle("loadtest/src");
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut pages = vec![root().join("README.md")];
    let docs = std::fs::read_dir(root().join("docs")).expect("docs/ exists");
    pages.extend(
        docs.map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "md")),
    );
    let broken: Vec<String> = pages.iter().flat_map(|page| broken_links(root(), page)).collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_file_the_readme_points_to_exists() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let missing: Vec<&str> = readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.contains('/') && !span.contains(['{', ' ', '<', '*', ':']))
        .filter(|path| !root().join(path).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "README.md names paths that do not exist: {missing:?}"
    );
}

fn api_reference() -> String {
    std::fs::read_to_string(root().join("docs/api.md")).expect("docs/api.md exists")
}

#[test]
fn the_api_reference_names_every_setting() {
    let reference = api_reference();
    let missing: Vec<String> = Config::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .filter(|env| !reference.contains(&format!("`{env}`")))
        .collect();
    assert!(missing.is_empty(), "docs/api.md does not name {missing:?}");
}

#[test]
fn the_api_reference_names_every_error_code() {
    let reference = api_reference();
    let missing: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|code| serde_json::to_value(code).unwrap().as_str().unwrap().to_owned())
        .filter(|code| !reference.contains(&format!("`{code}`")))
        .collect();
    assert!(missing.is_empty(), "docs/api.md does not name {missing:?}");
}

#[test]
fn the_api_reference_names_every_route() {
    let reference = api_reference();
    let routes = routes_in(&root().join("src/http"));
    assert!(routes.len() >= 10, "found only {routes:?} in src/http");
    let missing: Vec<&String> = routes
        .iter()
        .filter(|route| !reference.contains(&format!("`{route}`")))
        .collect();
    assert!(missing.is_empty(), "docs/api.md does not name {missing:?}");
}
