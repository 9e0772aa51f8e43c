//! The shape of `api/src`, checked: no import circles between files, no file over 600
//! lines, and GraphQL never sees the storage layer. These are the rules a newcomer relies
//! on to walk the code (README, "Layout"); a change that breaks one fails here with the
//! files named, not in review months later.
//!
//! An import is any path in a file that names another file's module: a `use` tree, or an
//! inline path such as `crate::domain::paths::incident_path(…)` or `super::Deps`, resolved
//! to the longest module prefix that is a file. `mod x;` declarations are not imports, so
//! a `mod.rs` may declare and re-export its children; a child that imports its parent back
//! (`use super::Shared`) closes a circle.

mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use scan::{ModuleFiles, imports};

const MAX_LINES: usize = 600;
/// Modules anyone may import: they import none of the folders below.
const LEAVES: &[&str] = &[
    "config",
    "secret",
    "markdown",
    "ratelimit",
    "client_ip",
    "telemetry",
    "lib",
];

fn source_tree() -> ModuleFiles {
    ModuleFiles::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn no_file_imports_a_file_that_imports_it_back_directly_or_around_a_loop() {
    let tree = source_tree();
    let graph: BTreeMap<&str, BTreeMap<&str, String>> = tree
        .files()
        .map(|file| (file, imports(&tree, file)))
        .collect();
    let circles = strongly_connected(&graph);
    let report: Vec<String> = circles
        .iter()
        .map(|circle| {
            let edges: Vec<String> = circle
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|(to, _)| circle.contains(*to))
                        .map(move |(to, path)| format!("    {from} → {to} ({path})"))
                })
                .collect();
            format!(
                "  a circle of {} files:\n{}",
                circle.len(),
                edges.join("\n")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "files that import each other (move what both need into a file of its own):\n{}",
        report.join("\n")
    );
}

/// The README's "Layout" block: `  folder/  what lives there; imports a, b, c`.
fn allowed_imports() -> BTreeMap<String, BTreeSet<String>> {
    let readme = include_str!("../../../README.md");
    let block = readme
        .split("## Layout")
        .nth(1)
        .and_then(|layout| layout.split("```").nth(1))
        .expect("README has a Layout section with a code block");
    block
        .lines()
        .filter_map(|line| {
            let line = line.strip_prefix("  ")?;
            let (folder, rest) = line.split_once("/ ")?;
            let (_, imports) = rest.rsplit_once("; imports ")?;
            let allowed = imports
                .split(", ")
                .map(str::trim)
                .filter(|name| *name != "nothing")
                .map(str::to_owned)
                .collect();
            Some((folder.to_owned(), allowed))
        })
        .collect()
}

fn top_module(file: &str) -> &str {
    file.split('/')
        .next()
        .map_or(file, |first| first.trim_end_matches(".rs"))
}

#[test]
fn each_folder_imports_only_what_the_readme_says() {
    let tree = source_tree();
    let allowed = allowed_imports();
    assert!(
        [
            "domain", "store", "jobs", "services", "public", "graphql", "http", "adapters"
        ]
        .iter()
        .all(|folder| allowed.contains_key(*folder)),
        "the README's Layout block names every folder: {allowed:?}"
    );
    let stray: Vec<String> = tree
        .files()
        .filter_map(|file| Some((file, allowed.get(top_module(file))?)))
        .flat_map(|(file, allowed)| {
            imports(&tree, file)
                .into_iter()
                .filter(move |(to, _)| {
                    let to = top_module(to);
                    to != top_module(file) && !LEAVES.contains(&to) && !allowed.contains(to)
                })
                .map(move |(to, path)| format!("{file} → {to} ({path})"))
        })
        .collect();
    assert!(
        stray.is_empty(),
        "imports the README's Layout does not allow (change the code, or the README if the \
         design changed): {stray:#?}"
    );
}

#[test]
fn no_file_is_longer_than_the_limit() {
    let tree = source_tree();
    let long: Vec<String> = tree
        .files()
        .filter_map(|file| {
            let lines = tree.source(file).lines().count();
            (lines > MAX_LINES).then(|| format!("{file}: {lines} lines"))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn graphql_sees_services_and_views_never_the_storage_layer() {
    let tree = source_tree();
    let leaks: Vec<String> = tree
        .files()
        .filter(|file| file.starts_with("graphql/"))
        .flat_map(|file| {
            imports(&tree, file)
                .into_iter()
                .filter(|(to, _)| to.starts_with("store/"))
                .map(move |(to, path)| format!("{file} → {to} ({path})"))
        })
        .collect();
    assert!(leaks.is_empty(), "GraphQL imports storage: {leaks:?}");
}

#[test]
fn the_scanner_sees_through_comments_strings_and_inline_test_modules() {
    let tree = ModuleFiles::from_sources([
        ("lib.rs", "mod a; mod b;"),
        (
            "a/mod.rs",
            "mod c;\n// use super::b::X;\nconst URL: &str = \"crate::b::X\";\npub use c::Y;",
        ),
        (
            "a/c.rs",
            "pub struct Y;\npub(in crate::a) fn g() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::b::{Z, self};\n}",
        ),
        ("b.rs", "pub struct Z; fn f() { let _ = crate::a::c::Y; }"),
    ]);
    let named = |file| imports(&tree, file).into_keys().collect::<BTreeSet<_>>();
    assert_eq!(named("a/mod.rs"), BTreeSet::from(["a/c.rs"]));
    assert_eq!(named("a/c.rs"), BTreeSet::from(["b.rs"]));
    assert_eq!(named("b.rs"), BTreeSet::from(["a/c.rs"]));
    let graph: BTreeMap<&str, BTreeMap<&str, String>> = tree
        .files()
        .map(|file| (file, imports(&tree, file)))
        .collect();
    assert_eq!(
        strongly_connected(&graph),
        vec![BTreeSet::from(["a/c.rs", "b.rs"])]
    );
}

/// Tarjan's algorithm; only components of more than one file.
fn strongly_connected<'a>(
    graph: &BTreeMap<&'a str, BTreeMap<&'a str, String>>,
) -> Vec<BTreeSet<&'a str>> {
    struct State<'a> {
        next: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<&'a str>>,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeMap<&'a str, String>>,
        state: &mut State<'a>,
    ) {
        state.index.insert(node, state.next);
        state.low.insert(node, state.next);
        state.next += 1;
        state.stack.push(node);
        state.on_stack.insert(node);
        for &next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            if !state.index.contains_key(next) {
                visit(next, graph, state);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = BTreeSet::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.insert(member);
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for &node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(node, graph, &mut state);
        }
    }
    state.found
}
