//! The known-failures register, the conformance report and the exit codes,
//! proven on the built binary.

use conformance_selftest::{run_binary, server, temp};
use invite_reference::Fault;
use serde_json::Value;

/// The suite's program: what these tests read is the program's: its exit codes and messages, and the reports it writes.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

const TOKEN: &str = "selftest-report-token-77aa";

fn register(dir: &std::path::Path, entries: &str) -> String {
    let path = dir.join("known.json");
    std::fs::write(&path, format!("{{\"known\": {entries}}}")).expect("write register");
    path.to_string_lossy().into_owned()
}

const CASES: &str = "case::invite::";

#[test]
fn known_failures_do_not_fail_the_run_and_are_reported_as_known() {
    let dir = temp("known");
    let faulty = server(vec![Fault::NoLocation]);
    let file = register(
        &dir,
        r#"[{"check": "invite.location", "reason": "our gateway strips Location (#12)"},
            {"check": "header", "reason": "same bug (#12)"}]"#,
    );
    let base = faulty.base_url();
    let without = run_binary(
        SUITE,
        &["--target", &base, CASES],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(without.code, Some(101), "{}", without.all_output());
    let with = run_binary(
        SUITE,
        &["--target", &base, "--known-failures", &file, CASES],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(with.code, Some(0), "{}", with.all_output());
    assert!(
        with.stderr.contains("KNOWN  invite.location"),
        "{}",
        with.stderr
    );
    assert!(with.stderr.contains("our gateway strips Location (#12)"));
}

#[test]
fn a_known_failure_that_passes_is_reported_as_fixed() {
    let dir = temp("fixed");
    let correct = server(Vec::new());
    let file = register(
        &dir,
        r#"[{"check": "invite.location", "reason": "was broken (#12)"}]"#,
    );
    let run = run_binary(
        SUITE,
        &[
            "--target",
            &correct.base_url(),
            "--known-failures",
            &file,
            CASES,
        ],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(
        run.stderr
            .contains("known failure fixed: check invite.location"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_register_entry_that_matches_nothing_is_an_error() {
    let dir = temp("nomatch");
    for entries in [
        r#"[{"test": "case::invite::no_such_case", "reason": "typo"}]"#,
        r#"[{"check": "invite.no-such-check", "reason": "typo"}]"#,
        r#"[{"reason": "names nothing"}]"#,
    ] {
        let file = register(&dir, entries);
        let run = run_binary(SUITE, &["--known-failures", &file], &[]).expect("runs");
        assert_eq!(run.code, Some(2), "{entries}: {}", run.all_output());
        assert!(run.stderr.contains("error:"), "{}", run.stderr);
    }
}

#[test]
fn the_report_counts_per_check_and_per_test_and_hides_the_token() {
    let dir = temp("report");
    let faulty = server(vec![Fault::NoLocation]);
    let out = dir.join("out");
    let out_arg = out.to_string_lossy().into_owned();
    let run = run_binary(
        SUITE,
        &["--target", &faulty.base_url(), "--report", &out_arg, CASES],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let json_text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        !json_text.contains(TOKEN) && !md.contains(TOKEN),
        "the token never reaches a report"
    );
    let report: Value = serde_json::from_str(&json_text).expect("report.json is JSON");
    assert_eq!(report["target"], faulty.base_url());
    assert!(report["suite"]["version"].is_string());
    assert!(report["failed"].as_u64().unwrap_or(0) > 0);
    assert_eq!(
        report["run"].as_u64(),
        Some(report["passed"].as_u64().unwrap_or(0) + report["failed"].as_u64().unwrap_or(0))
    );
    let location = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "invite.location"))
        .expect("invite.location is in the report");
    assert_eq!(location["verdict"], "fail");
    assert!(location["failed"].as_u64().unwrap_or(0) > 0);
    assert!(location["spec"]
        .as_str()
        .unwrap_or("")
        .contains("location header"));
    let tests = report["tests"].as_array().expect("tests");
    assert!(tests.iter().any(|t| t["status"] == "failed"));
    // A row for every test that ran.
    assert_eq!(
        Some(tests.len() as u64),
        report["run"].as_u64(),
        "{report:#}"
    );
    assert!(
        md.contains("| `invite.location` | MUST | **fail** |"),
        "{md}"
    );
    // Every check is counted where it ran, invariants and builtins alike.
    for id in ["notification.schema", "capture", "status", "notification"] {
        let check = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("{id} is in the report"));
        assert!(
            check["passed"].as_u64().unwrap_or(0) + check["failed"].as_u64().unwrap_or(0) > 0,
            "{id} ran: {check}"
        );
    }
    // The header says what it counts: tests, then checks.
    assert!(md.contains("- tests: "), "{md}");
    assert!(md.contains("- checks, over all tests: "), "{md}");
    // Each failed test names its failed checks.
    let example = tests
        .iter()
        .find(|t| t["name"] == "case::invite::examples::example_3_invite_to_existing_call")
        .expect("the example ran");
    assert!(
        example["failed_checks"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i == "invite.location")),
        "{example}"
    );
    assert!(
        md.lines().any(|l| l.starts_with(
            "| `case::invite::examples::example_3_invite_to_existing_call` | failed |"
        ) && l.contains("`invite.location`")),
        "{md}"
    );
}

#[test]
fn exit_codes_tell_failed_could_not_run_and_ran_nothing_apart() {
    let passing = run_binary(
        SUITE,
        &["--exact", "case::rejections::no_authorization"],
        &[],
    )
    .expect("runs");
    assert_eq!(passing.code, Some(0), "{}", passing.all_output());

    let faulty = server(vec![Fault::NoAuthAccepted]);
    let failing = run_binary(
        SUITE,
        &[
            "--target",
            &faulty.base_url(),
            "--exact",
            "case::rejections::no_authorization",
            "--strict",
        ],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(failing.code, Some(101), "{}", failing.all_output());

    let unreachable = run_binary(
        SUITE,
        &[
            "--target",
            "http://127.0.0.1:9/v1.0",
            "--exact",
            "case::rejections::no_authorization",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(unreachable.code, Some(2), "{}", unreachable.all_output());
    // Said once, before any trial: not one error per test.
    assert!(
        unreachable
            .stderr
            .contains("error: could not set up the run")
            && unreachable.stderr.contains("unreachable"),
        "{}",
        unreachable.stderr
    );
    assert!(unreachable.failures.is_empty(), "{}", unreachable.stdout);

    let https = run_binary(
        SUITE,
        &[
            "--target",
            "https://127.0.0.1:9/v1.0",
            "--exact",
            "case::rejections::no_authorization",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(https.code, Some(2), "{}", https.all_output());
    // Without the TLS stack: one message that says how to build with it.
    assert_eq!(
        https.stderr.matches("--features tls").count(),
        1,
        "{}",
        https.stderr
    );

    let bad_option = run_binary(SUITE, &["--no-such-option"], &[]).expect("runs");
    assert_eq!(bad_option.code, Some(2), "{}", bad_option.all_output());

    let nothing = run_binary(SUITE, &["--exact", "case::no::such_test"], &[]).expect("runs");
    assert_eq!(nothing.code, Some(4), "{}", nothing.all_output());
    assert!(
        nothing
            .stderr
            .contains("no test is named case::no::such_test"),
        "{}",
        nothing.stderr
    );
    // Said before any trial: libtest's summary would read as a pass.
    assert!(
        !nothing.stdout.contains("test result: ok."),
        "{}",
        nothing.stdout
    );
    let typo = run_binary(SUITE, &["--exact", "case::rejections::unknown_cal"], &[]).expect("runs");
    assert_eq!(typo.code, Some(4), "{}", typo.all_output());
    assert!(
        typo.stderr
            .contains("did you mean:\n    case::rejections::unknown_call"),
        "{}",
        typo.stderr
    );
    assert!(!typo.stdout.contains("test result"), "{}", typo.stdout);
    // A plain filter is libtest's: matching nothing here is no failure
    // (`cargo test --workspace FILTER` hands it to every test binary).
    let elsewhere = run_binary(SUITE, &["no_test_has_this_name"], &[]).expect("runs");
    assert_eq!(elsewhere.code, Some(0), "{}", elsewhere.all_output());
    assert!(
        elsewhere
            .stderr
            .contains("selects none of this suite's tests"),
        "{}",
        elsewhere.stderr
    );
}
