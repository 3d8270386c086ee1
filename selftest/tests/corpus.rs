//! What real Graph sent is correct by definition: every document of
//! `corpus/` (Microsoft's published examples and documents written from
//! real traffic that people pasted into public issues) gets the verdict its
//! entry in `corpus/index.json` records — green, save the few named there
//! with the reason — and the members beyond the metadata it carries are
//! reported, never failed. Notifications go through the suite's own offline
//! check (`--notifications-file`); responses and error bodies through the
//! schemas the suite validates them with. `docs/corpus.md` is generated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use conformance_harness::Schemas;
use conformance_selftest::{check_generated, in_parallel, run_suite, temp, workspace_root};
use serde_json::Value;

fn corpus() -> PathBuf {
    workspace_root().join("corpus")
}

fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(corpus().join("index.json"))
        .expect("corpus/index.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("corpus/index.json is JSON");
    doc["documents"]
        .as_array()
        .expect("corpus/index.json has a documents array")
        .clone()
}

fn read(file: &str) -> Value {
    let path = corpus().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is JSON: {e}", path.display()))
}

/// What a document must get: no failed check, or exactly these.
fn expected_failures(entry: &Value) -> BTreeSet<String> {
    match &entry["expect"] {
        Value::String(s) if s == "pass" => BTreeSet::new(),
        Value::Object(o) => {
            assert!(
                o.get("why")
                    .and_then(Value::as_str)
                    .is_some_and(|w| w.len() > 20),
                "{}: an expected failure says why",
                entry["file"]
            );
            o["fails"]
                .as_array()
                .expect("expect.fails is a list")
                .iter()
                .map(|c| c.as_str().expect("check ids are strings").to_owned())
                .collect()
        }
        other => panic!(
            "{}: expect is \"pass\" or {{fails, why}}, not {other}",
            entry["file"]
        ),
    }
}

#[test]
fn every_document_has_its_provenance_and_every_entry_its_document() {
    let entries = index();
    let listed: BTreeSet<String> = entries
        .iter()
        .map(|e| e["file"].as_str().expect("file is a string").to_owned())
        .collect();
    let mut on_disk = BTreeSet::new();
    for folder in ["notifications", "responses", "errors"] {
        for entry in std::fs::read_dir(corpus().join(folder)).expect("the corpus folders exist") {
            let name = entry.expect("a readable entry").file_name();
            on_disk.insert(format!("{folder}/{}", name.to_string_lossy()));
        }
    }
    assert_eq!(
        listed, on_disk,
        "corpus/index.json lists exactly the corpus's files"
    );
    for e in &entries {
        for field in ["kind", "source", "seen", "licence", "what"] {
            assert!(
                e[field].as_str().is_some_and(|s| !s.trim().is_empty()),
                "{}: {field} is said",
                e["file"]
            );
        }
        assert!(
            e["verbatim"].is_boolean(),
            "{}: verbatim is said",
            e["file"]
        );
        let written = e["licence"]
            .as_str()
            .is_some_and(|l| l.starts_with("written from the recorded facts"));
        assert!(
            written
                || e["source"]
                    .as_str()
                    .is_some_and(|s| s.contains("github.com/microsoftgraph")),
            "{}: a document is Microsoft's own (with its repository) or written from facts",
            e["file"]
        );
        assert!(
            !(written && e["verbatim"] == true),
            "{}: a document written from facts is not verbatim",
            e["file"]
        );
        expected_failures(e);
    }
}

/// What the suite said of one notification document.
struct Offline {
    failed: BTreeSet<String>,
    undeclared: Vec<String>,
    output: String,
}

fn offline(file: &str, dir: &Path) -> Offline {
    // One document per line, as a bot logs them.
    let line = serde_json::to_string(&read(file)).expect("a document serializes");
    let name = file.replace('/', "_");
    let captured = dir.join(format!("{name}.jsonl"));
    std::fs::write(&captured, line + "\n").expect("the capture can be written");
    let report = dir.join(&name);
    let run = run_suite(
        &[
            "--notifications-file",
            &captured.to_string_lossy(),
            "--report",
            &report.to_string_lossy(),
            "--exact",
            "offline::notifications_file",
        ],
        &[],
    )
    .expect("the suite runs");
    let text = std::fs::read_to_string(report.join("report.json"))
        .unwrap_or_else(|e| panic!("{file}: no report ({e}):\n{}", run.all_output()));
    let report: Value = serde_json::from_str(&text).expect("report.json is JSON");
    let test = &report["tests"][0];
    let strings = |key: &str| -> Vec<String> {
        test[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let failed: BTreeSet<String> = strings("failed_checks").into_iter().collect();
    assert_eq!(
        run.code,
        Some(if failed.is_empty() { 0 } else { 101 }),
        "{file}: the exit code says what the report says:\n{}",
        run.all_output()
    );
    Offline {
        failed,
        undeclared: strings("undeclared"),
        output: run.all_output(),
    }
}

/// The schema the suite holds a response of this kind to.
fn response_schema(kind: &str, doc: &Value) -> &'static str {
    let named = doc.get("@odata.type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "error" => "graph-error.json",
        "call" => "call.json",
        "participant" => "participant.json",
        "operation" if named.ends_with(".inviteParticipantsOperation") => {
            "inviteParticipantsOperation.json"
        }
        "operation" => "commsOperation.json",
        other => panic!("no schema for a response of kind {other:?}"),
    }
}

#[test]
fn the_suite_says_of_each_document_what_its_entry_records() {
    let entries = index();
    let schemas = Schemas::load(&workspace_root().join("schemas")).expect("the schemas load");
    let dir = temp("corpus");
    let notifications: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "notification")
        .collect();
    let offline: Vec<(String, Offline)> = in_parallel(notifications, 4, |e| {
        let file = e["file"].as_str().expect("file").to_owned();
        let said = offline(&file, &dir);
        (file, said)
    });
    let offline: BTreeMap<String, Offline> = offline.into_iter().collect();

    let mut problems = Vec::new();
    // file -> (outcome, members beyond the metadata)
    let mut rows: Vec<(String, String, Vec<String>)> = Vec::new();
    for e in &entries {
        let file = e["file"].as_str().expect("file");
        let expected = expected_failures(e);
        let (failed, undeclared) = if let Some(said) = offline.get(file) {
            if said.failed != expected {
                problems.push(format!(
                    "{file}: expected {} failed, the suite failed {:?}:\n{}",
                    if expected.is_empty() {
                        "nothing".to_owned()
                    } else {
                        format!("{expected:?}")
                    },
                    said.failed,
                    said.output
                ));
            }
            (said.failed.clone(), said.undeclared.clone())
        } else {
            // Responses and error bodies: a list of participants is a
            // collection (`value`) of the type.
            let doc = read(file);
            let kind = e["kind"].as_str().expect("kind");
            let schema = response_schema(kind, &doc);
            let parts: Vec<&Value> = match doc.get("value").and_then(Value::as_array) {
                Some(items) if kind == "participant" => items.iter().collect(),
                _ => vec![&doc],
            };
            let mut violations = Vec::new();
            let mut undeclared = BTreeSet::new();
            for part in parts {
                violations.extend(schemas.validate(schema, part).expect("the schema exists"));
                undeclared.extend(
                    schemas
                        .undeclared(schema, part)
                        .iter()
                        .map(|u| u.qualified()),
                );
            }
            let failed: BTreeSet<String> = if violations.is_empty() {
                BTreeSet::new()
            } else {
                BTreeSet::from(["schema".to_owned()])
            };
            if failed != expected {
                problems.push(format!(
                    "{file}: against schemas/{schema}: {:?}",
                    violations
                        .iter()
                        .map(|v| format!("{}: {}", v.instance_path, v.message))
                        .collect::<Vec<_>>()
                ));
            }
            (failed, undeclared.into_iter().collect())
        };
        let outcome = if failed.is_empty() {
            "pass".to_owned()
        } else {
            format!(
                "fails {} (as recorded)",
                failed.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        rows.push((file.to_owned(), outcome, undeclared));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    // What the issue of real roster updates named is reported, not failed.
    let reported: BTreeSet<&str> = rows
        .iter()
        .flat_map(|(_, _, u)| u.iter().map(String::as_str))
        .collect();
    for member in [
        "participant.isIdentityAnonymized",
        "participant.meetingRole",
        "participant.publishedStates",
        "participant.replacementLink",
        "participantInfo.clientVersion",
        "participantInfo.endpointId",
        "participantInfo.replacementLink",
    ] {
        assert!(
            reported.contains(member),
            "{member} is reported: {reported:?}"
        );
    }
    write_table(&entries, &rows);
}

/// `docs/corpus.md`: each document, where it comes from, and what the suite says of it.
fn write_table(entries: &[Value], rows: &[(String, String, Vec<String>)]) {
    let mut by_member: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (file, _, members) in rows {
        for m in members {
            by_member.entry(m).or_default().push(file);
        }
    }
    let mut md = String::from(
        "# What real Graph sent, and what the suite says of it\n\n\
         Generated by `selftest/tests/corpus.rs` (`UPDATE_CORPUS=1 cargo test -p conformance-selftest --test corpus`)\n\
         from `corpus/` and its `index.json` (where each document comes from, under which licence).\n\
         Notifications go through the suite's offline check (`--notifications-file`), responses and\n\
         error bodies through the schemas. Members beyond the metadata are accepted and reported, never failed.\n\n\
         ## Members beyond the metadata, and the documents that carry them\n\n| member | documents |\n|---|---|\n",
    );
    for (member, files) in &by_member {
        md.push_str(&format!(
            "| `{}` | {} |\n",
            member.replace('|', "\\|"),
            files
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    md.push_str("\n## Documents\n\n| document | source | seen | verdict | members beyond the metadata |\n|---|---|---|---|---|\n");
    for ((file, outcome, members), e) in rows.iter().zip(entries) {
        let source = e["source"].as_str().unwrap_or_default();
        let url = source.split_whitespace().next().unwrap_or_default();
        md.push_str(&format!(
            "| `{file}` | <{url}> | {} | {outcome} | {} |\n",
            e["seen"].as_str().unwrap_or_default().replace('|', "\\|"),
            members.len()
        ));
    }
    check_generated(
        &workspace_root().join("docs/corpus.md"),
        &md,
        "UPDATE_CORPUS",
        |_| {
            "docs/corpus.md is out of date: run UPDATE_CORPUS=1 cargo test -p conformance-selftest --test corpus".to_owned()
        },
    );
}
