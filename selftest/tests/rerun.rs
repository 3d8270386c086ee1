//! A rerun line reruns the same thing: each line a failure prints (in a
//! run in this process), pasted as a user would (under cargo test and under
//! nextest: the suite's program runs it), reaches the same target with the
//! same options and gets the same verdict; a property's line replays the
//! very input that failed, however many inputs the run had.

use std::collections::BTreeSet;

use conformance_selftest::{failed_check_ids, rerun_lines, run_rerun_line, run_suite, server, Run};
use invite_reference::Fault;

const TOKEN: &str = "selftest-rerun-token";
/// The suite's program, which a pasted line runs.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

fn failed(run: &Run, test: &str) -> BTreeSet<String> {
    run.failures
        .get(test)
        .map(|text| failed_check_ids(text).into_iter().collect())
        .unwrap_or_default()
}

/// Runs every rerun line of `test`'s failure in `first` and expects the
/// same failed checks.
fn reruns_agree(first: &Run, test: &str) {
    let text = &first.failures[test];
    let lines = rerun_lines(text);
    assert_eq!(lines.len(), 2, "a cargo test and a nextest line:\n{text}");
    assert!(
        lines.iter().all(|l| !l.contains(TOKEN)),
        "the token's value is never in a rerun line: {lines:?}"
    );
    let want = failed(first, test);
    assert!(!want.is_empty());
    for line in &lines {
        let again =
            run_rerun_line(SUITE, line, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the line runs");
        assert_eq!(again.code, Some(101), "{line}\n{}", again.all_output());
        assert_eq!(
            failed(&again, test),
            want,
            "{line} reran with another verdict:\n{}",
            again.all_output()
        );
    }
}

#[test]
fn a_case_rerun_line_reaches_the_same_target_with_the_same_options() {
    let server = server(vec![Fault::NoAuthAccepted]);
    let base = server.base_url();
    let test = "case::rejections::no_authorization";
    // The failure shows only with --strict and on this target: a line
    // without either would pass.
    let run = run_suite(
        &[
            "--target",
            &base,
            "--strict",
            "--notification-timeout-ms",
            "2500",
            "--exact",
            test,
        ],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    reruns_agree(&run, test);
}

#[test]
fn a_rerun_line_in_a_new_shell_says_which_variable_to_set() {
    let server = server(vec![Fault::NoLocation]);
    let test = "case::invite::examples::example_4_invite_pstn_participant";
    // The token given inline, as the README shows it: a new shell has none.
    let run = run_suite(
        &["--target", &server.base_url(), "--exact", test],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    for line in rerun_lines(&run.failures[test]) {
        match run_rerun_line(SUITE, &line, &[]) {
            Err(said) => assert!(
                said.starts_with("CONFORMANCE_TOKEN: set it to the bearer token"),
                "{line}: {said}"
            ),
            Ok(again) => panic!(
                "{line} ran without the token, exit {:?}:\n{}",
                again.code,
                again.all_output()
            ),
        }
    }
    reruns_agree(&run, test);
}

#[test]
fn a_property_rerun_line_replays_the_failing_input_alone() {
    let server = server(vec![Fault::ServerErrorOnPhone]);
    let base = server.base_url();
    let test = "prop::invite::never_5xx_or_hangs";
    let run = run_suite(
        &["--target", &base, "--exact", test],
        &[
            ("CONFORMANCE_TOKEN", TOKEN),
            ("PROPTEST_RNG_SEED", "20261201"),
            ("PROPTEST_CASES", "200"),
        ],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures[test];
    assert!(text.contains("PROPTEST_CASES=1"), "{text}");
    reruns_agree(&run, test);
}
