//! The spec, member by member: every requirement sentence of
//! `spec/participant-invite.md` (prose, notes, table rows, the lines of its
//! HTTP blocks, its C# tabs) and every member of every example JSON block
//! (request and response bodies, each notification, arrays as `[*]`) is
//! extracted from the page itself, and `spec/coverage.json` must name, for
//! each, the checks that enforce it or the reason none does. A new line or
//! member of the page without an entry fails, and so does an entry naming a
//! check `--list-checks` does not list, an entry the page no longer has, and
//! a listed check without a source or rule. `docs/spec-coverage.md` is
//! generated from it (`UPDATE_SPEC_COVERAGE=1` rewrites it, keeping the
//! mutation section that `tests/mutations.rs` writes).

use std::collections::{BTreeMap, BTreeSet};

use conformance_selftest::glob::glob;
use conformance_selftest::page_text::{collapse_ws, strip_links};
use conformance_selftest::{check_generated, listed_checks, workspace_root, Listed};
use serde_json::Value;

const START: &str = "<!-- mutations:start -->";
const END: &str = "<!-- mutations:end -->";

/// One thing the page says or shows.
#[derive(Debug, Clone)]
struct Item {
    /// How `spec/coverage.json` names it: `section: sentence`, or
    /// `kind $.path` for a member of an example block.
    key: String,
    /// What the page says or shows, without where.
    text: String,
    /// Where on the page it is (several places when it repeats).
    places: Vec<String>,
    /// Sentence, table row, HTTP line, code tab, or member.
    what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    Sentence,
    Row,
    HttpLine,
    Tab,
    Member,
}

impl What {
    fn label(self) -> &'static str {
        match self {
            What::Sentence => "sentence",
            What::Row => "table row",
            What::HttpLine => "HTTP line",
            What::Tab => "code tab",
            What::Member => "member",
        }
    }
}

/// `[words](target)` → `words`; `**Note:**` dropped; whitespace collapsed.
fn plain(text: &str) -> String {
    collapse_ws(&strip_links(text).replace("**Note:**", ""))
}

/// A paragraph's sentences: split after `.`, `!` or `?` followed by a space
/// and a capital letter.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = paragraph.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        let ends = matches!(c, '.' | '!' | '?')
            && chars.get(i + 1) == Some(&' ')
            && chars.get(i + 2).is_some_and(|n| n.is_uppercase());
        if ends {
            out.push(current.trim().to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Every member path of an example's JSON, array elements as `[*]`.
fn member_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let plain_name = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let path = if plain_name {
                    format!("{prefix}.{name}")
                } else {
                    format!("{prefix}['{name}']")
                };
                out.insert(path.clone());
                member_paths(member, &path, out);
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[*]");
            if !items.is_empty() {
                out.insert(path.clone());
            }
            for item in items {
                member_paths(item, &path, out);
            }
        }
        _ => {}
    }
}

/// The items of the page, in page order, each once.
fn extract(page: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut add = |key: String, place: String, what: What| {
        if let Some(item) = items.iter_mut().find(|i| i.key == key) {
            if !item.places.contains(&place) {
                item.places.push(place);
            }
        } else {
            // The key is `where: text` or `kind $.path`; the text is the rest.
            let text = match what {
                What::Member => key
                    .split_once(" $")
                    .map_or(key.clone(), |(_, p)| format!("${p}")),
                What::Tab => key.clone(),
                _ => key
                    .strip_prefix(&place)
                    .and_then(|rest| rest.strip_prefix(": "))
                    .or_else(|| key.split_once(": ").map(|(_, t)| t))
                    .unwrap_or(&key)
                    .to_owned(),
            };
            items.push(Item {
                key,
                text,
                places: vec![place],
                what,
            });
        }
    };
    let lines: Vec<&str> = page.lines().collect();
    let mut i = 0;
    // Front matter.
    if lines.first() == Some(&"---") {
        i = 1 + lines[1..].iter().position(|l| *l == "---").unwrap_or(0) + 1;
    }
    // Headings by level (1-6); the section is the nearest `##`/`###` and
    // the heading under it, if any.
    let mut headings: [Option<String>; 7] = Default::default();
    let mut tab = String::new();
    // The request block an example's later blocks belong to.
    let mut request_name = String::new();
    let mut requests = 0usize;
    let mut annotation = String::new();
    let mut paragraph: Vec<String> = Vec::new();
    let section = |headings: &[Option<String>; 7]| -> String {
        let main = (2..=3).rev().find_map(|l| headings[l].clone());
        let sub = (4..=6).rev().find_map(|l| headings[l].clone());
        match (main, sub) {
            (Some(m), Some(s)) => format!("{m} / {s}"),
            (Some(m), None) => m,
            (None, _) => headings[1].clone().unwrap_or_default(),
        }
    };
    let flush =
        |paragraph: &mut Vec<String>, at: &str, add: &mut dyn FnMut(String, String, What)| {
            if paragraph.is_empty() {
                return;
            }
            let text = plain(&paragraph.join(" "));
            paragraph.clear();
            for sentence in sentences(&text) {
                add(format!("{at}: {sentence}"), at.to_owned(), What::Sentence);
            }
        };
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        let at = section(&headings);
        if trimmed.starts_with("<!--") {
            flush(&mut paragraph, &at, &mut add);
            let mut comment = String::new();
            while i < lines.len() {
                comment.push_str(lines[i]);
                comment.push('\n');
                if lines[i].contains("-->") {
                    break;
                }
                i += 1;
            }
            annotation = comment;
            i += 1;
            continue;
        }
        if let Some(fence) = trimmed.strip_prefix("```") {
            flush(&mut paragraph, &at, &mut add);
            let language = fence.trim().to_ascii_lowercase();
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim().starts_with("```") {
                body.push(lines[i]);
                i += 1;
            }
            i += 1;
            let block_type = annotation_field(&annotation, "blockType");
            let name = annotation_field(&annotation, "name");
            annotation.clear();
            code_block(
                &language,
                &body,
                block_type.as_deref(),
                name.as_deref(),
                &at,
                &tab,
                &mut request_name,
                &mut requests,
                &mut add,
            );
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix('#') {
            flush(&mut paragraph, &at, &mut add);
            let level = 1 + heading.chars().take_while(|c| *c == '#').count();
            let title = plain(heading.trim_start_matches('#').trim());
            if trimmed.contains("](#tab/") {
                tab = title;
            } else {
                headings[level.min(6)] = Some(title);
                for deeper in headings.iter_mut().skip(level.min(6) + 1) {
                    *deeper = None;
                }
                tab.clear();
            }
            i += 1;
            continue;
        }
        if trimmed.starts_with('|') {
            flush(&mut paragraph, &at, &mut add);
            let is_separator = trimmed.chars().all(|c| matches!(c, '|' | ':' | '-' | ' '));
            let is_header = lines.get(i + 1).is_some_and(|next| {
                next.trim().starts_with("|:")
                    || next.trim().starts_with("|-")
                    || next.trim().starts_with("| :")
                    || next.trim().starts_with("| -")
            });
            if !is_separator && !is_header {
                let cells: Vec<String> = trimmed
                    .trim_matches('|')
                    .split('|')
                    .map(|c| plain(c.trim()))
                    .collect();
                add(
                    format!("{at}: {}", cells.join(" | ")),
                    at.clone(),
                    What::Row,
                );
            }
            i += 1;
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut paragraph, &at, &mut add);
        } else {
            let text = trimmed.trim_start_matches('>').trim();
            // A note starts a paragraph of its own.
            if trimmed.starts_with('>') && text.starts_with("**Note:**") {
                flush(&mut paragraph, &at, &mut add);
            }
            paragraph.push(text.to_owned());
        }
        i += 1;
    }
    let at = section(&headings);
    flush(&mut paragraph, &at, &mut add);
    items
}

/// A field of a `<!-- { "blockType": …, "name": … } -->` annotation.
fn annotation_field(annotation: &str, field: &str) -> Option<String> {
    let start = annotation.find('{')?;
    let end = annotation.rfind('}')?;
    let json: Value = serde_json::from_str(annotation.get(start..=end)?).ok()?;
    json.get(field)?.as_str().map(str::to_owned)
}

/// The items of one fenced block.
#[allow(clippy::too_many_arguments)]
fn code_block(
    language: &str,
    body: &[&str],
    block_type: Option<&str>,
    name: Option<&str>,
    at: &str,
    tab: &str,
    request_name: &mut String,
    requests: &mut usize,
    add: &mut dyn FnMut(String, String, What),
) {
    if language == "csharp" {
        add(
            format!("C# tab of {request_name}"),
            format!("Example {requests} ({request_name}) {tab} tab, under {at}"),
            What::Tab,
        );
        return;
    }
    if block_type == Some("request") {
        *requests += 1;
        *request_name = name.unwrap_or("an unnamed request").to_owned();
    }
    // Which example the block belongs to, and what it is.
    let heading = at.rsplit(" / ").next().unwrap_or(at);
    let kind = if block_type == Some("request") {
        "request"
    } else if block_type == Some("response") {
        "response"
    } else if heading.starts_with("Notification - operation") {
        "operation notification"
    } else if heading.starts_with("Notification - roster") {
        "roster notification"
    } else {
        "HTTP request"
    };
    let place = if kind == "HTTP request" {
        at.to_owned()
    } else {
        format!("Example {requests} ({request_name}) {kind}")
    };
    let text = body.join("\n");
    let (head, json) = if language == "json" {
        ("", text.as_str())
    } else {
        match text.find("\n\n") {
            Some(split) => (&text[..split], &text[split + 2..]),
            None => (text.as_str(), ""),
        }
    };
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        add(format!("{kind}: {line}"), place.clone(), What::HttpLine);
    }
    if json.trim().is_empty() {
        return;
    }
    let value: Value = serde_json::from_str(json.trim())
        .unwrap_or_else(|e| panic!("{place}: the example's JSON does not parse: {e}"));
    let mut paths = BTreeSet::new();
    member_paths(&value, "$", &mut paths);
    for path in paths {
        add(format!("{kind} {path}"), place.clone(), What::Member);
    }
}

/// An entry of `spec/coverage.json`.
#[derive(Debug, Clone)]
struct Entry {
    checks: Vec<String>,
    reason: Option<String>,
}

fn entries(doc: &Value, section: &str, problems: &mut Vec<String>) -> Vec<(String, Entry)> {
    let Some(map) = doc.get(section).and_then(Value::as_object) else {
        problems.push(format!("spec/coverage.json has no {section:?} object"));
        return Vec::new();
    };
    map.iter()
        .filter_map(|(key, value)| {
            let checks: Vec<String> = value
                .get("checks")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let reason = value
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (checks.is_empty(), &reason) {
                (true, None) => {
                    problems.push(format!(
                        "{section}[{key:?}] names neither checks nor a reason"
                    ));
                    None
                }
                (false, Some(_)) => {
                    problems.push(format!(
                        "{section}[{key:?}] names checks and a reason: one or the other"
                    ));
                    None
                }
                _ => Some((key.clone(), Entry { checks, reason })),
            }
        })
        .collect()
}

/// The checks `--list-checks` prints, each with a source, a rule and a level
/// (what is not is a problem).
fn checks_with_sources(problems: &mut Vec<String>) -> Vec<Listed> {
    let checks = listed_checks();
    for check in &checks {
        let id = &check.id;
        if check.source.trim().is_empty() || check.rule.trim().is_empty() {
            problems.push(format!(
                "--list-checks prints {id} without a source or a rule: say where it comes from and what it enforces"
            ));
        }
        if !matches!(check.level.as_str(), "MUST" | "SHOULD") {
            problems.push(format!(
                "--list-checks prints {id} with level {:?}",
                check.level
            ));
        }
    }
    checks
}

#[test]
fn every_sentence_and_member_of_the_page_is_enforced_or_has_a_reason() {
    let page = std::fs::read_to_string(workspace_root().join("spec/participant-invite.md"))
        .expect("spec/participant-invite.md is readable");
    let items = extract(&page);
    if std::env::var_os("SPEC_COVERAGE_LIST").is_some() {
        for item in &items {
            eprintln!(
                "{}\t{}\t{}",
                item.what.label(),
                item.key,
                item.places.join("; ")
            );
        }
    }
    let text = std::fs::read_to_string(workspace_root().join("spec/coverage.json"))
        .expect("spec/coverage.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("spec/coverage.json is JSON");
    let mut problems = Vec::new();
    let mut all_entries = entries(&doc, "sentences", &mut problems);
    all_entries.extend(entries(&doc, "members", &mut problems));
    let checks = checks_with_sources(&mut problems);
    let known: BTreeSet<&str> = checks.iter().map(|c| c.id.as_str()).collect();

    for (key, entry) in &all_entries {
        for check in &entry.checks {
            if !known.contains(check.as_str()) {
                problems.push(format!(
                    "spec/coverage.json: {key:?} names {check}, which --list-checks does not list"
                ));
            }
        }
    }
    // Each item: its exact entry, or the one pattern that names it.
    let mut resolved: Vec<(&Item, &str, &Entry)> = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for item in &items {
        let exact = all_entries.iter().find(|(k, _)| *k == item.key);
        let found = match exact {
            Some(found) => Some(found),
            None => {
                let matching: Vec<&(String, Entry)> = all_entries
                    .iter()
                    .filter(|(k, _)| k.contains(['*', '{']) && glob(k, &item.key))
                    .collect();
                if matching.len() > 1 {
                    problems.push(format!(
                        "{:?} is named by several patterns: {:?}",
                        item.key,
                        matching.iter().map(|(k, _)| k).collect::<Vec<_>>()
                    ));
                }
                matching.first().copied()
            }
        };
        match found {
            Some((key, entry)) => {
                used.insert(key);
                resolved.push((item, key, entry));
            }
            None => problems.push(format!(
                "the page's {} {:?} ({}) has no entry in spec/coverage.json: name the checks that enforce it, or the reason none does",
                item.what.label(),
                item.key,
                item.places.join("; ")
            )),
        }
    }
    for (key, _) in &all_entries {
        if !used.contains(key.as_str()) {
            problems.push(format!(
                "spec/coverage.json: {key:?} names nothing on the page (any more): remove it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    write_doc(&resolved, &checks);
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn enforced(entry: &Entry) -> String {
    match &entry.reason {
        Some(reason) => format!("none: {}", cell(reason)),
        None => entry
            .checks
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn write_doc(resolved: &[(&Item, &str, &Entry)], checks: &[Listed]) {
    let total = resolved.len();
    let with_checks = resolved
        .iter()
        .filter(|(_, _, e)| e.reason.is_none())
        .count();
    let mut md = String::from(
        "# Spec coverage\n\n\
         Generated by `selftest/tests/coverage.rs` (`UPDATE_SPEC_COVERAGE=1 cargo test -p conformance-selftest --test coverage`)\n\
         from `spec/participant-invite.md` and `spec/coverage.json`: every sentence, table row, HTTP line and code tab of\n\
         the page, and every member of every example JSON block (arrays as `[*]`), with the checks that enforce it\n\
         (`cargo test -- --list-checks`) or the reason none does. The data-mutation section at the end is written by\n\
         `selftest/tests/mutations.rs`.\n\n",
    );
    let mut kinds: BTreeMap<What, (usize, usize)> = BTreeMap::new();
    for (item, _, entry) in resolved {
        let counts = kinds.entry(item.what).or_default();
        counts.0 += 1;
        if entry.reason.is_none() {
            counts.1 += 1;
        }
    }
    md.push_str(&format!(
        "**{total} items: {with_checks} enforced by checks, {} with the reason none does.**\n\n| item | count | enforced | with a reason |\n|---|---|---|---|\n",
        total - with_checks
    ));
    for (what, (count, enforced)) in &kinds {
        md.push_str(&format!(
            "| {} | {count} | {enforced} | {} |\n",
            what.label(),
            count - enforced
        ));
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, entry) in resolved {
        if let Some(reason) = &entry.reason {
            *reasons.entry(reason).or_default() += 1;
        }
    }
    md.push_str("\n### Why some items have no check\n\n| reason | items |\n|---|---|\n");
    let mut by_count: Vec<(&&str, &usize)> = reasons.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, count) in by_count {
        md.push_str(&format!("| {} | {count} |\n", cell(reason)));
    }

    md.push_str("\n## Sentences, table rows, HTTP lines and code tabs\n\n| where | item | enforced by |\n|---|---|---|\n");
    for (item, _, entry) in resolved.iter().filter(|(i, _, _)| i.what != What::Member) {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(&item.places.join("; ")),
            cell(&item.text),
            enforced(entry)
        ));
    }
    md.push_str("\n## Members of the example JSON blocks\n\n");
    let kind_order = |key: &str| {
        [
            "request ",
            "response ",
            "operation notification ",
            "roster notification ",
        ]
        .iter()
        .position(|k| key.starts_with(k))
        .unwrap_or(usize::MAX)
    };
    let mut members: Vec<&(&Item, &str, &Entry)> = resolved
        .iter()
        .filter(|(i, _, _)| i.what == What::Member)
        .collect();
    members.sort_by(|a, b| (kind_order(&a.0.key), &a.0.key).cmp(&(kind_order(&b.0.key), &b.0.key)));
    let mut current_kind = String::new();
    for (item, _, entry) in members {
        let (kind, path) = item
            .key
            .split_once(" $")
            .map_or(("", item.key.as_str()), |(k, p)| (k, p));
        if kind != current_kind {
            md.push_str(&format!(
                "\n### {kind}\n\n| member | in | enforced by |\n|---|---|---|\n"
            ));
            current_kind = kind.to_owned();
        }
        let examples: Vec<String> = item
            .places
            .iter()
            .map(|p| p.split(" (").next().unwrap_or(p).to_owned())
            .collect();
        md.push_str(&format!(
            "| `${}` | {} | {} |\n",
            cell(path),
            examples.join(", "),
            enforced(entry)
        ));
    }
    md.push_str("\n## Checks and the items they enforce\n\n| check | level | source | items |\n|---|---|---|---|\n");
    for check in checks {
        let count = resolved
            .iter()
            .filter(|(_, _, e)| e.checks.contains(&check.id))
            .count();
        md.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            check.id,
            check.level,
            cell(&check.source),
            if count == 0 {
                format!("none on this page: {}", cell(&check.summary))
            } else {
                count.to_string()
            }
        ));
    }
    md.push('\n');

    let path = workspace_root().join("docs/spec-coverage.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let mutations = match (current.find(START), current.find(END)) {
        (Some(start), Some(end)) if start < end => &current[start..end + END.len()],
        _ => "<!-- mutations:start -->\n<!-- mutations:end -->",
    };
    md.push_str(mutations);
    md.push('\n');
    check_generated(&path, &md, "UPDATE_SPEC_COVERAGE", |_| {
        "docs/spec-coverage.md is out of date: run UPDATE_SPEC_COVERAGE=1 cargo test -p conformance-selftest --test coverage".to_owned()
    });
}

#[test]
fn sentences_split_where_they_end() {
    assert_eq!(
        sentences("Bearer {token}. Required. Max limit is 256 chars."),
        ["Bearer {token}.", "Required.", "Max limit is 256 chars."]
    );
    assert_eq!(
        plain("see [commsOperation](../resources/commsoperation.md). >**Note:** x"),
        "see commsOperation. > x"
    );
}
