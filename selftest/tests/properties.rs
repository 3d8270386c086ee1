//! The properties find bugs nobody wrote a case for: against a server that
//! fails only on some inputs, they find the bug, shrink it, save it as a case
//! file, and that file alone reproduces the failure as a normal case test.

use conformance_selftest::{run_suite, server};
use invite_reference::Fault;

const TOKEN: &str = "selftest-prop-token-4b1c";

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        // run_suite turns failure persistence off: a run against a broken
        // server leaves no seeds in the repository.
        ("CONFORMANCE_TOKEN", TOKEN),
        ("PROPTEST_RNG_SEED", "20261126"),
        ("PROPTEST_CASES", "64"),
    ]
}

fn found_and_reproduced(fault: &str, property: &str, evidence: fn(&str) -> bool) {
    let dir =
        std::env::temp_dir().join(format!("conformance-props-{fault}-{}", std::process::id()));
    // Saved straight into a cases folder, as the README says.
    let saved = dir.join("cases").join("found");
    let faulty = server(vec![fault.parse().expect("a fault name")]);
    let base = faulty.base_url();
    let saved_arg = saved.to_string_lossy().into_owned();
    let run = run_suite(
        &[
            "--target",
            &base,
            "--exact",
            property,
            "--save-failures",
            &saved_arg,
        ],
        &env(),
    )
    .expect("the suite runs");
    assert_eq!(
        run.code,
        Some(101),
        "{fault}: the property must fail:\n{}",
        run.all_output()
    );
    let text = &run.failures[property];
    assert!(
        text.contains("PROPTEST_RNG_SEED=20261126"),
        "the seed is printed:\n{text}"
    );
    assert!(
        text.contains("--- the input as a case file"),
        "the shrunk case is printed:\n{text}"
    );
    assert!(!run.all_output().contains(TOKEN), "the token never appears");

    let file = std::fs::read_dir(&saved)
        .expect("--save-failures wrote a folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a saved case file");
    let case = std::fs::read_to_string(&file).expect("readable");
    assert!(
        evidence(&case),
        "{fault}: the saved case shows the trigger:\n{case}"
    );
    assert!(!case.contains(TOKEN));
    let stem = file
        .file_stem()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let property_stem = property.trim_start_matches("prop::").replace("::", "__");
    assert!(
        stem.starts_with(&format!("{property_stem}_"))
            && stem[property_stem.len() + 1..].parse::<u64>().is_ok(),
        "named after the property and the input's seed: {stem}"
    );
    // Its $schema leads to the case schema from where it lies.
    let doc: serde_json::Value = serde_json::from_str(&case).expect("JSON");
    let schema = doc["$schema"].as_str().expect("a $schema");
    let resolved = saved.join(schema);
    assert!(
        resolved.is_file() && resolved.ends_with("case.schema.json"),
        "$schema {schema} resolves from {}",
        saved.display()
    );

    // In the cases folder, it is a normal case test that reproduces the bug,
    // and the case lint takes it.
    let cases_arg = dir.join("cases").to_string_lossy().into_owned();
    let lint = run_suite(
        &["--cases", &cases_arg, "--exact", "lint::case_files"],
        &env(),
    )
    .expect("runs");
    assert_eq!(lint.code, Some(0), "{}", lint.all_output());
    let again = run_suite(
        &["--target", &base, "--cases", &cases_arg, "case::"],
        &env(),
    )
    .expect("runs");
    assert_eq!(
        again.code,
        Some(101),
        "the saved case fails against the faulty server:\n{}",
        again.all_output()
    );
    let test = format!("case::found::{stem}");
    assert!(
        again.failures.contains_key(&test),
        "{test}: {}",
        again.all_output()
    );

    let correct = server(Vec::new());
    let fixed = run_suite(
        &[
            "--target",
            &correct.base_url(),
            "--cases",
            &cases_arg,
            "case::",
        ],
        &env(),
    )
    .expect("runs");
    assert_eq!(
        fixed.code,
        Some(0),
        "the saved case passes against a correct server:\n{}",
        fixed.all_output()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_5xx_on_non_ascii_text_is_found_shrunk_and_saved() {
    found_and_reproduced(
        "server-error-on-non-ascii",
        "prop::invite::accepts_valid_bodies",
        |case| !case.is_ascii(),
    );
}

#[test]
fn a_5xx_on_phone_identities_is_found_shrunk_and_saved() {
    found_and_reproduced(
        "server-error-on-phone",
        "prop::invite::never_5xx_or_hangs",
        |case| case.contains("\"phone\""),
    );
}

#[test]
fn invalid_bodies_accepted_are_found() {
    let faulty = server(vec![Fault::MissingIdentityAccepted]);
    let property = "prop::invite::rejects_invalid_bodies";
    // A participant without an identity cannot be invited: a 2xx for it
    // fails a run on the default options (the floor under every rejection),
    // shrunk to the input that shows it.
    let run = run_suite(
        &["--target", &faulty.base_url(), "--exact", property],
        &env(),
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures[property];
    assert!(text.contains("FAIL  status: is 4xx"), "{text}");
    assert!(text.contains("identity"), "{text}");
    assert!(text.contains("shrunk"), "{text}");
}

#[test]
fn the_model_catches_a_move_that_keeps_the_old_participant() {
    let faulty = server(vec![Fault::MoveKeepsOld]);
    let mut env = env();
    env.retain(|(k, _)| *k != "PROPTEST_CASES");
    env.push(("PROPTEST_CASES", "256"));
    let run = run_suite(
        &[
            "--target",
            &faulty.base_url(),
            "--exact",
            "prop::invite::stateful_model",
            "--notification-timeout-ms",
            "500",
        ],
        &env,
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["prop::invite::stateful_model"];
    assert!(
        text.contains("Move"),
        "the shrunk steps name the move:\n{text}"
    );
}
