//! Every check can fail: the built suite, run against a reference server with
//! one fault injected, must fail and name the checks that fault breaks
//! (`selftest/faults.json`); against the correct server it must pass clean.

use std::collections::{BTreeMap, BTreeSet};

use conformance_selftest::{
    check_generated, in_parallel, listed_checks, normalize, run_suite, server, workspace_root, Run,
};
use invite_reference::Fault;
use serde_json::Value;

/// A token the suite must never print.
const TOKEN: &str = "selftest-secret-token-9f8e7d";

const SUITE_ARGS: &[&str] = &[
    "--strict",
    "--response-timeout-ms",
    "1500",
    "--retry-budget-secs",
    "0",
];
/// A fault that withholds a notification costs this much per wait.
const SHORT_DEADLINE: &str = "1000";
/// Against the correct server nothing waits for a deadline, so a generous
/// one costs nothing and keeps a loaded machine from failing the run.
const LONG_DEADLINE: &str = "10000";

fn expectations() -> BTreeMap<String, Vec<String>> {
    let path = workspace_root().join("selftest/faults.json");
    let text = std::fs::read_to_string(&path).expect("selftest/faults.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("selftest/faults.json is JSON");
    doc["faults"]
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

fn run_against(faults: Vec<Fault>, notification_deadline_ms: &str) -> Run {
    let server = server(faults);
    let base = server.base_url();
    // Cases only: the properties are proven against faults in properties.rs,
    // and shrinking against a withheld notification costs a deadline per step.
    let mut args = vec!["--target", base.as_str(), "case::"];
    args.extend_from_slice(SUITE_ARGS);
    args.extend_from_slice(&["--notification-timeout-ms", notification_deadline_ms]);
    run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite binary runs")
}

#[test]
fn the_correct_reference_server_passes_everything_without_warnings() {
    let run = run_against(Vec::new(), LONG_DEADLINE);
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

    // The last faults first, as the queue always took them.
    let names: Vec<String> = expected.keys().rev().cloned().collect();
    let results: BTreeMap<String, Run> = in_parallel(names, 6, |name| {
        let fault: Fault = name.parse().expect("fault names parse");
        let run = run_against(vec![fault], SHORT_DEADLINE);
        (name, run)
    })
    .into_iter()
    .collect();

    let mut problems = Vec::new();
    for (fault, checks) in &expected {
        let run = &results[fault];
        if checks.iter().any(|c| c == "STOP") {
            // Wrong for every trial: one message before any, exit 2.
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
            continue;
        }
        if run.code != Some(101) {
            problems.push(format!(
                "{fault}: exit code {:?}, expected 101 (tests failed)",
                run.code
            ));
        }
        let failed: BTreeSet<String> = run.failed_checks().into_iter().map(|(_, c)| c).collect();
        for check in checks {
            if !failed.contains(check) {
                problems.push(format!(
                    "{fault}: the suite did not report {check}; it reported {failed:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    check_matrix(&expected);
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
fn check_matrix(expected: &BTreeMap<String, Vec<String>>) {
    let checks = listed_checks();
    let mut md = String::from(
        "# Fault x check matrix\n\n\
         Generated by `selftest/tests/faults.rs` (`UPDATE_FAULT_MATRIX=1 cargo test -p conformance-selftest --test faults`).\n\
         Each row is a check of the suite; each fault named there is injected into the reference server,\n\
         and the self-test proves the suite then reports that check as failed.\n\n\
         SHOULD checks are reported as failed under `--strict`, which the self-test uses.\n\n\
         | check | level | what it enforces | source | killed by |\n|---|---|---|---|---|\n",
    );
    for c in &checks {
        let killers: Vec<String> = expected
            .iter()
            .filter(|(_, checks)| checks.contains(&c.id))
            .map(|(f, _)| format!("`{f}`"))
            .collect();
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            c.id,
            c.level,
            c.summary.replace('|', "\\|"),
            c.source.replace('|', "\\|"),
            if killers.is_empty() {
                "**none**".to_owned()
            } else {
                killers.join(", ")
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
        let mut args = vec!["--target", base.as_str(), "--exact", test];
        args.extend_from_slice(SUITE_ARGS);
        args.extend_from_slice(&["--notification-timeout-ms", SHORT_DEADLINE]);
        let run = run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite binary runs");
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
        let shown = normalize(&text.replace(&base, "<target>"));
        insta::assert_snapshot!(format!("{kind}__{fault}"), shown);
    }
}
