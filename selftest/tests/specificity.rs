//! A check is MUST only where the spec page says so: each MUST quotes the
//! page (found on it here), every other rule is a SHOULD naming its source,
//! a SHOULD case warns by default and fails under --strict, and the case
//! lint refuses an expectation the spec's freedoms make unfair.

use conformance_selftest::page_text::{collapse_ws, strip_links};
use conformance_selftest::{listed_checks, run_binary, run_suite, temp, workspace_root, Listed};

/// The suite's program, for what `--list-checks` prints.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");
use invite_reference::{Config, Variant};

/// The page as plain text: links reduced to their words, notes and quotes
/// unmarked, whitespace collapsed.
fn page_text() -> String {
    let raw = std::fs::read_to_string(workspace_root().join("spec/participant-invite.md"))
        .expect("spec/participant-invite.md is in the repository");
    let text = strip_links(&raw)
        .replace(">**Note:**", "")
        .replace("> **Note:**", "");
    collapse_ws(&text)
}

#[test]
fn every_must_rests_on_the_spec_page_and_quotes_it() {
    let page = page_text();
    // The design a source cites must be there to read.
    let design_kept = workspace_root().join("docs/DESIGN.md").is_file();
    let mut problems = Vec::new();
    // listed_checks() lists one check at least: this cannot pass on none.
    for Listed {
        id,
        level,
        source,
        rule,
        ..
    } in listed_checks()
    {
        let from_page = source.starts_with("spec page");
        let allowed_must =
            from_page || source.starts_with("DESIGN.md") || source == "the case file";
        if source.contains("DESIGN.md") && !design_kept {
            problems.push(format!(
                "{id} cites DESIGN.md, which is not in the repository (docs/DESIGN.md)"
            ));
        }
        if level == "MUST" && !allowed_must {
            problems.push(format!(
                "{id} is a MUST but comes from {source:?}, not the spec page"
            ));
        }
        if level == "SHOULD" && from_page && !source.contains("SHOULD") {
            problems.push(format!(
                "{id} comes from the spec page ({source}) yet is only a SHOULD: say why in its source"
            ));
        }
        if from_page {
            let quote = rule.split_whitespace().collect::<Vec<_>>().join(" ");
            if !page.contains(&quote) {
                problems.push(format!("{id}: the page has no sentence {quote:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_should_case_warns_by_default_and_fails_under_strict() {
    let server = invite_reference::start(Config {
        variants: vec![Variant::NamespacedPath404],
        ..Config::default()
    })
    .expect("the reference server starts");
    let base = server.base_url();
    let test = "case::invite::namespaced_action_path";
    let env = [("CONFORMANCE_TOKEN", "t")];
    let run = run_suite(&["--target", &base, "--exact", test], &env).expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(
        run.stderr.contains("WARN  status: is 200 (SHOULD)"),
        "{}",
        run.stderr
    );
    let strict = run_suite(&["--target", &base, "--exact", test, "--strict"], &env).expect("runs");
    assert_eq!(strict.code, Some(101), "{}", strict.all_output());
    assert!(
        strict.failures[test].contains("FAIL  status: is 200 (SHOULD)"),
        "{}",
        strict.all_output()
    );
}

#[test]
fn a_check_names_its_level_once() {
    // The rendering adds "(SHOULD)" to a check that weighs less: its words
    // must not say a level too.
    let worded: Vec<String> = listed_checks()
        .into_iter()
        .filter(|c| c.summary.contains("SHOULD") || c.summary.contains("MUST"))
        .map(|c| format!("{}: {}", c.id, c.summary))
        .collect();
    assert!(worded.is_empty(), "{worded:#?}");
    // The SHOULD case on clientContext, against a server that accepts it.
    let server = invite_reference::start(Config {
        faults: vec![invite_reference::Fault::LongClientContextAccepted],
        ..Config::default()
    })
    .expect("the reference server starts");
    let test = "case::invite::client_context::astral_257_utf16_units_rejected";
    let run = run_suite(
        &["--target", &server.base_url(), "--exact", test],
        &[("CONFORMANCE_TOKEN", "t")],
    )
    .expect("runs");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("WARN  invite.client-context-limit"))
        .unwrap_or_else(|| panic!("the check warns:\n{}", run.all_output()));
    assert_eq!(line.matches("SHOULD").count(), 1, "{line}");
}

#[test]
fn the_case_lint_refuses_what_a_correct_target_may_do_otherwise() {
    let dir = temp("unfair-cases");
    std::fs::create_dir_all(dir.join("invite")).expect("temp dir");
    let case = serde_json::json!({
        "description": "An unfair case",
        "spec": "none",
        "fixtures": {"call": "group"},
        "request": {"path": "/communications/calls/{{call}}/participants/invite",
                    "body": {"participants": [{"identity": {"user": {"id": "u"}}}]}},
        "expect": {
            "status": 200,
            "headers": {"Location": {"starts_with": "/v1.0/communications/"}},
            "capture": {"op": "$.id"},
            "body": {"match": "subset", "value": {"status": "running",
                     "participants": [{"identity": {"@odata.type": "#microsoft.graph.identitySet"}}]}},
            "notifications": [
                {"about": "end", "match": {"resourceUrl": "/communications/calls/{{call}}/operations/{{op}}"}},
                {"about": "roster", "count": 1, "match": {"resourceUrl": "/communications/calls/{{call}}/participants"}}
            ]
        }
    });
    std::fs::write(dir.join("invite/unfair.json"), case.to_string()).expect("written");
    let cases = dir.to_string_lossy().into_owned();
    let run = run_suite(&["--cases", &cases, "--exact", "lint::case_files"], &[]).expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["lint::case_files"];
    for path in [
        "$.expect.headers.Location: `starts_with` cannot hold",
        "$.expect.body.value.status: operationStatus comes in any casing",
        "$.expect.body.value.participants[0].identity['@odata.type']: @odata.type is never required",
        "$.expect.notifications[0]: the operation's end may come in the response",
        "$.expect.notifications[1].count: a roster update may come more than once",
    ] {
        assert!(text.contains(path), "no {path:?} in:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_case_lint_refuses_a_rejection_without_a_floor() {
    let dir = temp("floorless-cases");
    std::fs::create_dir_all(dir.join("rejections")).expect("temp dir");
    let case = |status: serde_json::Value, level: Option<&str>| {
        let mut case = serde_json::json!({
            "description": "A rejection",
            "spec": "none",
            "fixtures": {"call": "unknown"},
            "request": {"path": "/communications/calls/{{call}}/participants/invite",
                        "body": {"participants": [{"identity": {"user": {"id": "u"}}}]}},
            "expect": {"status": status, "invariants": ["@rejected"]}
        });
        if let Some(level) = level {
            case["level"] = level.into();
        }
        case.to_string()
    };
    let write = |name: &str, text: String| {
        std::fs::write(dir.join("rejections").join(name), text).expect("written");
    };
    write(
        "only_should.json",
        case(serde_json::json!({"should": 404}), None),
    );
    write(
        "floor.json",
        case(serde_json::json!({"must": "4xx", "should": 404}), None),
    );
    write("plain.json", case(serde_json::json!(404), None));
    write(
        "whole_should.json",
        case(serde_json::json!({"should": 404}), Some("SHOULD")),
    );
    let cases = dir.to_string_lossy().into_owned();
    let run = run_suite(&["--cases", &cases, "--exact", "lint::case_files"], &[]).expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["lint::case_files"];
    assert!(
        text.contains("only_should.json: $.expect.status: a rejection needs a floor"),
        "{text}"
    );
    for fine in ["floor.json", "plain.json", "whole_should.json"] {
        assert!(!text.contains(fine), "{fine} has a floor:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_check_has_a_level_under_each_profile_and_graph_raises_what_graph_does() {
    let spec = listed_checks();
    let run = run_binary(SUITE, &["--list-checks", "--profile", "graph"], &[]).expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    // Printed under its header, six columns a line, a line a check.
    assert_eq!(
        run.stdout.lines().next(),
        Some(conformance_harness::LIST_CHECKS_HEADER),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().all(|l| l.split('\t').count() == 6),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), spec.len() + 1, "{}", run.stdout);
    let graph: std::collections::BTreeMap<String, String> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_owned(), cols.next()?.to_owned()))
        })
        .collect();
    for c in &spec {
        assert_eq!(
            c.profiles.keys().map(String::as_str).collect::<Vec<_>>(),
            ["graph", "spec"],
            "{}: a level under each profile",
            c.id
        );
        assert_eq!(c.profiles["spec"], c.level, "{}: spec is the default", c.id);
        assert_eq!(
            c.profiles["graph"], graph[&c.id],
            "{}: --profile graph lists it so",
            c.id
        );
        if c.level == "MUST" {
            assert_eq!(graph[&c.id], "MUST", "{}: no profile lowers a MUST", c.id);
        }
    }
    // What Graph is seen to do, SHOULD by the page alone, is MUST under graph.
    for id in [
        "error.graph-body",
        "error.inner-error",
        "response.request-ids",
        "invite.odata-types",
    ] {
        let c = spec.iter().find(|c| c.id == id).expect("listed");
        assert_eq!(
            (c.level.as_str(), graph[id].as_str()),
            ("SHOULD", "MUST"),
            "{id}"
        );
    }
    let unknown = run_binary(SUITE, &["--profile", "nope", "--list"], &[]).expect("runs");
    assert_eq!(unknown.code, Some(2), "{}", unknown.all_output());
    assert!(
        unknown
            .stderr
            .contains("no profile \"nope\": this suite has spec ("),
        "{}",
        unknown.stderr
    );
}
