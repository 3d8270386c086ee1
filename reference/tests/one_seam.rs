//! Faults and variants act at one seam: outside the modules that declare
//! them (`src/faults.rs`, `src/variants/`) and the one that applies them
//! (`src/seam/`), no code names a fault or a variant, nor asks whether one
//! is on. The correct server reads as the contract; what a fault or a
//! variant changes is an entry of its table. Before the seam there were 93
//! such sites; this test fails when one appears again.

use std::fs;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Where faults and variants may be named, relative to `src/`.
const SEAM: &[&str] = &["faults.rs", "variants/", "seam/"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The sites in `text` that ask whether a fault or a variant is on, or name
/// one (`Fault::NoLocation`; `Fault::ALL` names the type, not a member),
/// as (line, site). Whitespace is ignored, so a call split over lines
/// (`faults\n.has(`) counts too.
fn sites(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for kind in ["Fault::", "Variant::"] {
            for (at, _) in code.match_indices(kind) {
                let member: String = code[at + kind.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                let preceded = code[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                if !preceded
                    && member.starts_with(|c: char| c.is_ascii_uppercase())
                    && member != "ALL"
                {
                    found.push((number + 1, format!("{kind}{member}")));
                }
            }
        }
    }
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for asked in ["faults.has(", "variants.has("] {
        for _ in squeezed.matches(asked) {
            found.push((0, asked.to_owned()));
        }
    }
    found
}

#[test]
fn no_code_outside_the_seam_names_a_fault_or_a_variant() {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.sort();
    let mut outside = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(SRC)
            .expect("under src")
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('\\', "/");
        if SEAM.iter().any(|seam| relative.starts_with(seam)) {
            continue;
        }
        let text = fs::read_to_string(file).expect("read a source file");
        for (line, site) in sites(&text) {
            outside.push(format!("src/{relative}:{line}: {site}"));
        }
    }
    assert!(
        outside.is_empty(),
        "{} sites outside the seam name a fault or a variant; make each an \
         effect in its table (see CONTRIBUTING.md, 'Adding a fault'):\n{}",
        outside.len(),
        outside.join("\n")
    );
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    let text = "if faults.has(Fault::NoLocation) {}\n\
                let x = delivery\n    .variants\n    .has(Variant::ExtraMembers);\n\
                for f in Fault::ALL {} // Fault::NoLocation in a comment\n\
                MyFault::Other;";
    let found: Vec<String> = sites(text).into_iter().map(|(_, site)| site).collect();
    assert_eq!(
        found,
        [
            "Fault::NoLocation",
            "Variant::ExtraMembers",
            "faults.has(",
            "variants.has("
        ]
    );
}
