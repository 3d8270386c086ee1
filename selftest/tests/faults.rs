//! Every check can fail: the suite, run against a reference server with
//! one fault injected, must fail and name the checks that fault breaks
//! (`selftest/faults.json`); against the correct server it must pass clean.
//! Each fault runs twice: by default, where every check it breaks that is a
//! MUST must be reported (a CI gate on default options catches it), and
//! under `--profile graph`, where every check it breaks must be.

use std::collections::{BTreeMap, BTreeSet};

use conformance_selftest::{
    check_generated, family, in_parallel, listed_checks, normalize, run_suite, server,
    workspace_root, Run,
};
use invite_reference::Fault;
use serde_json::Value;

/// A token the suite must never print.
const TOKEN: &str = "selftest-secret-token-9f8e7d";

const SUITE_ARGS: &[&str] = &["--response-timeout-ms", "1500", "--retry-budget-secs", "0"];
/// Every check a fault breaks is reported under this profile.
const GRAPH: &[&str] = &["--profile", "graph"];
/// Faults that accept an input that cannot succeed: each must break a
/// MUST (a 2xx for it is never right), whatever faults.json says.
const ACCEPT_THE_IMPOSSIBLE: &[&str] = &[
    "unknown-call-accepts-invite",
    "ended-call-accepts-invite",
    "missing-identity-accepted",
    "no-auth-accepted",
    "empty-participants-accepted",
    "unparseable-body-accepted",
];
/// A fault that withholds a notification costs this much per wait.
const SHORT_DEADLINE: &str = "1000";
/// Against the correct server nothing waits for a deadline, so a generous
/// one costs nothing and keeps a loaded machine from failing the run.
const LONG_DEADLINE: &str = "10000";

fn faults_json() -> Value {
    let path = workspace_root().join("selftest/faults.json");
    let text = std::fs::read_to_string(&path).expect("selftest/faults.json is readable");
    serde_json::from_str(&text).expect("selftest/faults.json is JSON")
}

/// The faults that break only what a SHOULD case checks: reported under
/// `--profile graph`, not by default, each with the reason.
fn graph_only() -> BTreeSet<String> {
    faults_json()["graph_only"]
        .as_object()
        .expect("faults.json has a graph_only object")
        .iter()
        .map(|(fault, why)| {
            assert!(why.as_str().is_some_and(|w| !w.is_empty()), "{fault}: why");
            fault.clone()
        })
        .collect()
}

fn expectations() -> BTreeMap<String, Vec<String>> {
    faults_json()["faults"]
        .as_object()
        .expect("faults.json has a faults object")
        .iter()
        .map(|(fault, checks)| {
            let checks = checks
                .as_array()
                .expect("each fault lists check ids")
                .iter()
                .map(|c| c.as_str().expect("check ids are strings").to_owned())
                .collect();
            (fault.clone(), checks)
        })
        .collect()
}

fn run_against(faults: Vec<Fault>, notification_deadline_ms: &str, extra: &[&str]) -> Run {
    let server = server(faults);
    let base = server.base_url();
    // Cases only: the properties are proven against faults in properties.rs,
    // and shrinking against a withheld notification costs a deadline per step.
    let mut args = vec!["--target", base.as_str(), "case::"];
    args.extend_from_slice(SUITE_ARGS);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--notification-timeout-ms", notification_deadline_ms]);
    run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs")
}

#[test]
fn the_correct_reference_server_passes_everything_without_warnings() {
    let run = run_against(Vec::new(), LONG_DEADLINE, &["--strict"]);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.failures.is_empty(), "{:?}", run.failures.keys());
    assert!(
        !run.stderr.contains("WARN"),
        "warnings against the correct server:\n{}",
        run.stderr
    );
}

#[test]
fn every_fault_is_caught_by_the_checks_it_breaks() {
    let expected = expectations();
    let known: BTreeSet<String> = Fault::all().iter().map(ToString::to_string).collect();
    let listed: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(
        known, listed,
        "selftest/faults.json must list exactly the reference server's faults"
    );

    let levels = spec_levels();
    let graph_only = graph_only();
    // The last faults first, as the queue always took them.
    let names: Vec<String> = expected.keys().rev().cloned().collect();
    let results: BTreeMap<String, (Run, Run)> = in_parallel(names, 6, |name| {
        let fault: Fault = name.parse().expect("fault names parse");
        let default = run_against(vec![fault], SHORT_DEADLINE, &[]);
        let graph = run_against(vec![fault], SHORT_DEADLINE, GRAPH);
        (name, (default, graph))
    })
    .into_iter()
    .collect();

    let mut problems = Vec::new();
    let mut by_default = BTreeSet::new();
    for (fault, checks) in &expected {
        let (default, graph) = &results[fault];
        if checks.iter().any(|c| c == "STOP") {
            // Wrong for every trial: one message before any, exit 2, under
            // either profile.
            for run in [default, graph] {
                let said = run
                    .stderr
                    .matches("error: could not set up the run")
                    .count();
                if run.code != Some(2) || said != 1 || !run.failures.is_empty() {
                    problems.push(format!(
                        "{fault}: exit code {:?} and {said} set-up message(s), expected 2 and one, before any trial:\n{}",
                        run.code,
                        run.all_output()
                    ));
                }
            }
            by_default.insert(fault.clone());
            continue;
        }
        let musts: Vec<&String> = if graph_only.contains(fault) {
            Vec::new()
        } else {
            checks
                .iter()
                .filter(|c| breaks_a_must(&levels, c))
                .collect()
        };
        if ACCEPT_THE_IMPOSSIBLE.contains(&fault.as_str()) && musts.is_empty() {
            problems.push(format!(
                "{fault} accepts an input that cannot succeed: faults.json must name the MUST it breaks (status)"
            ));
        }
        for (run, wanted, how) in [
            (default, musts.clone(), "by default"),
            (graph, checks.iter().collect(), "under --profile graph"),
        ] {
            if !wanted.is_empty() && run.code != Some(101) {
                problems.push(format!(
                    "{fault}: exit code {:?} {how}, expected 101 (tests failed)",
                    run.code
                ));
            }
            let failed: BTreeSet<String> =
                run.failed_checks().into_iter().map(|(_, c)| c).collect();
            for check in wanted {
                if !failed.contains(check) {
                    problems.push(format!(
                        "{fault}: the suite did not report {check} {how}; it reported {failed:?}"
                    ));
                }
            }
        }
        if !musts.is_empty() {
            by_default.insert(fault.clone());
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    check_matrix(&expected, &by_default);
}

/// Each check's level under the default profile, by id.
fn spec_levels() -> BTreeMap<String, String> {
    listed_checks()
        .into_iter()
        .map(|c| (c.id, c.level))
        .collect()
}

/// Whether a check a fault breaks (an id, a family, or `ERROR`: no verdict
/// at all) fails a default run.
fn breaks_a_must(levels: &BTreeMap<String, String>, check: &str) -> bool {
    check == "ERROR" || levels.get(family(check)).is_some_and(|l| l == "MUST")
}

#[test]
fn every_check_has_a_fault_that_proves_it() {
    let expected = expectations();
    let killed: BTreeSet<&str> = expected.values().flatten().map(String::as_str).collect();
    let unproven: Vec<String> = listed_checks()
        .into_iter()
        .map(|c| c.id)
        .filter(|id| !killed.contains(id.as_str()))
        .collect();
    assert!(
        unproven.is_empty(),
        "checks that no fault in selftest/faults.json proves: {unproven:?}"
    );
}

/// The fault x check matrix, generated from `faults.json` (every entry of
/// which the test above has just proven) and the suite's own list of checks.
fn check_matrix(expected: &BTreeMap<String, Vec<String>>, by_default: &BTreeSet<String>) {
    let checks = listed_checks();
    let mut md = String::from(
        "# Fault x check matrix\n\n\
         Generated by `selftest/tests/faults.rs` (`UPDATE_FAULT_MATRIX=1 cargo test -p conformance-selftest --test faults`).\n\
         Each row is a check of the suite; each fault named there is injected into the reference server,\n\
         and the self-test proves the suite then reports that check as failed: a MUST by a run on the\n\
         default options, every check under `--profile graph` (the levels of both are in the table).\n\n\
         | check | level | under graph | what it enforces | source | killed by |\n|---|---|---|---|---|---|\n",
    );
    for c in &checks {
        let killers: Vec<String> = expected
            .iter()
            .filter(|(_, checks)| checks.contains(&c.id))
            .map(|(f, _)| format!("`{f}`"))
            .collect();
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            c.id,
            c.level,
            c.profiles.get("graph").map_or("?", String::as_str),
            c.summary.replace('|', "\\|"),
            c.source.replace('|', "\\|"),
            if killers.is_empty() {
                "**none**".to_owned()
            } else {
                killers.join(", ")
            }
        ));
    }
    md.push_str(
        "\n## Which run reports each fault\n\n\
         A fault that breaks a MUST fails a run on the default options (`spec`); one that breaks only\n\
         what Graph is seen to do fails under `--profile graph` (and `--strict`).\n\n\
         | fault | reported by |\n|---|---|\n",
    );
    for fault in expected.keys() {
        md.push_str(&format!(
            "| `{fault}` | {} |\n",
            if by_default.contains(fault) {
                "the default run"
            } else {
                "`--profile graph` only"
            }
        ));
    }
    md.push_str("\n## The rules\n\n");
    for c in &checks {
        md.push_str(&format!("- `{}`: {}\n", c.id, c.rule.replace('|', "\\|")));
    }
    check_generated(
        &workspace_root().join("docs/fault-matrix.md"),
        &md,
        "UPDATE_FAULT_MATRIX",
        |_| {
            "docs/fault-matrix.md is out of date: run UPDATE_FAULT_MATRIX=1 cargo test -p conformance-selftest --test faults".to_owned()
        },
    );
}

/// One rendered failure per kind of mismatch, as a user reads it.
#[test]
fn rendered_failures_read_well() {
    let kinds = [
        (
            "no-location",
            "case::invite::examples::example_3_invite_to_existing_call",
            "invariant",
        ),
        (
            "participants-not-echoed",
            "case::invite::examples::example_4_invite_pstn_participant",
            "body_diff",
        ),
        (
            "invalid-operation-status",
            "case::invite::without_client_context",
            "schema",
        ),
        (
            "no-roster-update",
            "case::invite::examples::example_3_invite_to_existing_call",
            "notification_missing",
        ),
        (
            "wrong-success-status",
            "case::invite::namespaced_action_path",
            "status",
        ),
        (
            "no-terminal-notification",
            "case::invite::examples::example_4_invite_pstn_participant",
            "notification_count_short",
        ),
        (
            "double-terminal-notification",
            "case::invite::examples::example_4_invite_pstn_participant",
            "notification_count_over",
        ),
        (
            "non-graph-errors",
            "case::rejections::participants_empty",
            "error_body",
        ),
        // Wrong for every trial: what the user reads is the one message
        // before any trial.
        (
            "slow-responses",
            "case::rejections::no_authorization",
            "could_not_run",
        ),
    ];
    for (fault, test, kind) in kinds {
        let server = server(vec![fault.parse().expect("fault names parse")]);
        let base = server.base_url();
        let mut args = vec!["--target", base.as_str(), "--exact", test, "--strict"];
        args.extend_from_slice(SUITE_ARGS);
        args.extend_from_slice(&["--notification-timeout-ms", SHORT_DEADLINE]);
        let run = run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs");
        let text = if kind == "could_not_run" {
            assert_eq!(run.code, Some(2), "{fault}: {}", run.all_output());
            run.stderr.clone()
        } else {
            assert_eq!(run.code, Some(101), "{fault}: {}", run.all_output());
            run.failures
                .get(test)
                .unwrap_or_else(|| panic!("{fault}: {test} did not fail:\n{}", run.all_output()))
                .clone()
        };
        // The checkout's place is not the failure's: case paths as the console shows them.
        let root = format!("{}/", workspace_root().display());
        let shown = normalize(&text.replace(&base, "<target>").replace(&root, ""));
        insta::assert_snapshot!(format!("{kind}__{fault}"), shown);
    }
}
