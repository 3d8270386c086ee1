//! The harness's modules form no circle of `use`: each module names only
//! modules below it, so a change to one reaches only those above. The graph
//! is read from the sources: an edge from a module to every module its code
//! names through `crate::` (in `use` lines and in paths alike, braced
//! groups included) or, from a file under a folder, through `super::`; a
//! name that is no module (an item of `lib.rs`) is an edge to `lib.rs`.
//! Files of a folder (`runner/`) are one module; comment lines are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `runner/checks.rs` -> `runner`, `cli.rs` -> `cli`, `lib.rs` -> `lib`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifier at the start of `text`.
fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first names of a braced `use` group (`{a, b::c, d::{e}}` -> a, b, d).
fn group_heads(text: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start_of_item = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                depth += 1;
                start_of_item = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => start_of_item = true,
            c if start_of_item && depth == 1 && !c.is_whitespace() => {
                heads.push(ident(&text[i..]));
                start_of_item = false;
            }
            _ => {}
        }
    }
    heads
}

/// The modules a file's code names through `prefix` (`crate::`, `super::`).
fn named_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let after = &rest[at + prefix.len()..];
        if before_ok {
            if after.starts_with('{') {
                names.extend(group_heads(after));
            } else {
                names.push(ident(after));
            }
        }
        rest = after;
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Module -> the modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("a source file");
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        let in_folder = file.parent() != Some(src);
        let mut named: Vec<String> = named_after(&code, "crate::")
            .into_iter()
            .map(|n| {
                if modules.contains(n) {
                    n.to_owned()
                } else {
                    "lib".to_owned()
                }
            })
            .collect();
        if from == "lib" {
            // The root names its modules without `crate::`.
            for line in code.lines() {
                let line = line.trim_start();
                let path = line
                    .strip_prefix("pub use ")
                    .or_else(|| line.strip_prefix("use "));
                if let Some(head) = path.map(ident).filter(|h| modules.contains(*h)) {
                    named.push(head.to_owned());
                }
            }
        }
        if in_folder && !file.ends_with("mod.rs") {
            // `super::` from `runner/checks.rs` is `runner` itself.
            named.extend(
                named_after(&code, "super::")
                    .into_iter()
                    .filter(|&n| modules.contains(n))
                    .map(str::to_owned),
            );
        }
        let out = edges.entry(from.clone()).or_default();
        out.extend(named.into_iter().filter(|n| *n != from));
    }
    edges
}

/// A circle in `edges`, if there is one, as the modules along it.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut found = path[start..].to_vec();
                found.push(node.to_owned());
                return Some(found);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, marks, path) {
                return Some(found);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if let Some(found) = visit(node, edges, &mut marks, &mut Vec::new()) {
            return Some(found);
        }
    }
    None
}

#[test]
fn the_modules_of_the_harness_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges.len() > 20
            && edges["session"].contains("contract")
            && edges["lib"].contains("console"),
        "the graph was read: {edges:?}"
    );
    if let Some(found) = circle(&edges) {
        panic!(
            "the harness's modules form a circle of use: {}",
            found.join(" -> ")
        );
    }
}

#[test]
fn the_check_finds_a_circle_and_reads_braced_groups() {
    assert_eq!(
        named_after(
            "use crate::{a::X, b, c::{d, e}};\nlet y = crate::f::g();",
            "crate::"
        ),
        ["a", "b", "c", "f"]
    );
    assert_eq!(named_after("my_crate::x", "crate::"), Vec::<&str>::new());
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        circle(&edges).map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_owned())
    );
    let mut acyclic = edges;
    acyclic.insert("c".to_owned(), BTreeSet::new());
    assert_eq!(circle(&acyclic), None);
}
