//! Baselines at check level: the known-failures register names a check
//! within a property, or a fixture kind whose set-up fails, and one known
//! problem silences only itself, never the property's other checks; an
//! entry no input fails any more is reported fixed, for a property as for
//! a case.

use conformance_selftest::{failed_check_ids, run_suite, server, temp, Run};
use invite_reference::Fault;

const TOKEN: &str = "selftest-baseline-token-3c2d";

fn register(name: &str, entries: &str) -> String {
    let path = temp(name).join("known.json");
    std::fs::write(&path, format!("{{\"known\": {entries}}}")).expect("write register");
    path.to_string_lossy().into_owned()
}

fn run(target: &str, property: &str, register: Option<&str>, extra: &[&str]) -> Run {
    let mut args = vec!["--target", target, "--exact", property];
    if let Some(file) = register {
        args.extend(["--known-failures", file]);
    }
    args.extend_from_slice(extra);
    run_suite(
        &args,
        &[
            ("CONFORMANCE_TOKEN", TOKEN),
            // Shrinking against a withheld notification costs a deadline a step.
            ("PROPTEST_MAX_SHRINK_ITERS", "24"),
        ],
    )
    .expect("the suite runs")
}

#[test]
fn a_known_check_of_a_property_does_not_silence_its_other_checks() {
    // Every accepted invite lacks its Location; some inputs (phone
    // identities) also get a 500.
    let faulty = server(vec![Fault::NoLocation, Fault::ServerErrorOnPhone]);
    let property = "prop::invite::accepts_valid_bodies";
    let known = register(
        "baseline-check",
        r#"[{"test": "prop::invite::accepts_valid_bodies", "check": "invite.location",
             "reason": "our gateway strips Location (#12)"}]"#,
    );
    let with = run(&faulty.base_url(), property, Some(&known), &[]);
    assert_eq!(with.code, Some(101), "{}", with.all_output());
    let failed = failed_check_ids(&with.failures[property]);
    assert!(
        failed.contains(&"error.no-5xx".to_owned()),
        "the 500 is still found: {failed:?}\n{}",
        with.all_output()
    );
    assert!(
        !failed.contains(&"invite.location".to_owned()),
        "{failed:?}"
    );
}

#[test]
fn a_known_fixture_error_skips_only_the_inputs_that_need_it() {
    // No roster update ever comes, so the user a move needs is never seen
    // seated: every input with a move cannot be set up. Phone identities
    // get a 500.
    let faulty = server(vec![Fault::NoRosterUpdate, Fault::ServerErrorOnPhone]);
    let property = "prop::invite::never_5xx_or_hangs";
    let short = ["--notification-timeout-ms", "300"];
    let without = run(&faulty.base_url(), property, None, &short);
    assert_eq!(without.code, Some(101), "{}", without.all_output());
    assert!(
        without.failures[property].contains("could not be set up"),
        "{}",
        without.all_output()
    );
    let known = register(
        "baseline-fixture",
        r#"[{"test": "prop::invite::never_5xx_or_hangs", "fixture": "move_source",
             "reason": "no roster updates yet (#7)"}]"#,
    );
    let with = run(&faulty.base_url(), property, Some(&known), &short);
    assert_eq!(with.code, Some(101), "{}", with.all_output());
    let text = &with.failures[property];
    assert!(!text.contains("ERROR"), "{text}");
    assert!(
        failed_check_ids(text).contains(&"error.no-5xx".to_owned()),
        "the 500 is still found:\n{text}"
    );
    assert!(
        text.contains(
            "fixture move_source could not be set up (known failure: no roster updates yet (#7))"
        ),
        "the inputs skipped are counted, with the reason:\n{text}"
    );
}

#[test]
fn a_property_entry_no_input_fails_is_reported_fixed() {
    let correct = server(Vec::new());
    let property = "prop::invite::rejects_invalid_bodies";
    let known = register(
        "baseline-fixed",
        r#"[{"test": "prop::invite::rejects_invalid_bodies", "check": "status",
             "reason": "invalid bodies were accepted (#3)"}]"#,
    );
    let run = run(&correct.base_url(), property, Some(&known), &[]);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(
        run.stderr.contains(
            "known failure fixed: prop::invite::rejects_invalid_bodies / check status now passes"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_register_entry_must_name_a_fixture_kind_the_suite_has() {
    let known = register(
        "baseline-kind",
        r#"[{"fixture": "moving_source", "reason": "a typo"}]"#,
    );
    let run = run_suite(&["--known-failures", &known], &[]).expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr
            .contains("no fixture kind is named \"moving_source\""),
        "{}",
        run.stderr
    );
}
