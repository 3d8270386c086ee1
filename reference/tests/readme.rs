//! The README's fault and variant tables are rendered from `Fault::ALL` and
//! `Variant::ALL`: this test fails when they drift apart, and rewrites them
//! when run with `UPDATE_README=1`.

use std::path::Path;

use invite_reference::{Fault, Variant};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// A table cell: one line, no bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn fault_table() -> String {
    let mut table = String::from("| fault | what breaks | shows on |\n|---|---|---|\n");
    for fault in Fault::ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            fault.name(),
            cell(fault.description()),
            cell(fault.trigger().unwrap_or("every exchange it concerns")),
        ));
    }
    table
}

fn variant_table() -> String {
    let mut table =
        String::from("| variant | what changes | why the spec allows it |\n|---|---|---|\n");
    for variant in Variant::ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            variant.name(),
            cell(variant.description()),
            cell(variant.source()),
        ));
    }
    let mut pairs = Vec::new();
    for (i, a) in Variant::ALL.iter().enumerate() {
        for b in &Variant::ALL[i + 1..] {
            if a.conflicts_with(*b) {
                pairs.push(format!("`{a}` and `{b}`"));
            }
        }
    }
    let compatible = Variant::compatible_set();
    let left_out: Vec<String> = Variant::ALL
        .iter()
        .filter(|v| !compatible.contains(v))
        .map(|v| format!("`{v}`"))
        .collect();
    table.push_str(&format!(
        "\nNever on together: {}.\n\n`Variant::compatible_set()`, the variants turned on all at once, holds every variant but {}.\n",
        pairs.join("; "),
        left_out.join(", "),
    ));
    table
}

/// `text` with what lies between `<!-- {name}:start -->` and
/// `<!-- {name}:end -->` replaced by `content`.
fn with_block(text: &str, name: &str, content: &str) -> String {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let from = text
        .find(&start)
        .unwrap_or_else(|| panic!("README.md has no {start} marker"))
        + start.len();
    let to = text[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("README.md has no {end} marker after {start}"))
        + from;
    format!("{}\n{content}{}", &text[..from], &text[to..])
}

#[test]
fn readme_tables_are_rendered_from_the_code() {
    let readme = std::fs::read_to_string(README).expect("read README.md");
    let rendered = with_block(&readme, "faults", &fault_table());
    let rendered = with_block(&rendered, "variants", &variant_table());
    if rendered == readme {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(Path::new(README), rendered).expect("write README.md");
        return;
    }
    panic!(
        "reference/README.md's fault or variant table differs from Fault::ALL / Variant::ALL; \
         rewrite it with: UPDATE_README=1 cargo test -p invite-reference --test readme"
    );
}

#[test]
fn blocks_are_replaced_between_their_markers_only() {
    let text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n";
    assert_eq!(
        with_block(text, "x", "new\n"),
        "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n"
    );
    assert_eq!(cell("a|b\nc"), "a\\|b c");
}
