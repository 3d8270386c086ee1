//! Never let an error turn into silence or into a wrong verdict: a missing
//! folder, a missing schema, an unusable token, a refused token and a target
//! that cannot set a case up each stop the run with a message that says what
//! to do; a failing input is kept whichever worker found it, and replayed.

use std::path::{Path, PathBuf};

use conformance_selftest::stubs::{transport, Transport};
use conformance_selftest::{
    check_generated, run_binary, run_binary_in, run_suite, server, temp, workspace_root, Run,
};
use invite_reference::Fault;

const TOKEN: &str = "selftest-silence-token";
/// The suite's program: what these tests judge is what a user reads on the
/// console (one message, said once) and the exit code.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The folder a target's kept seeds go to: `http://127.0.0.1:8080/v1.0`
/// -> `http_127.0.0.1_8080`.
fn origin_folder(target: &str) -> String {
    target
        .trim_end_matches("/v1.0")
        .replace("://", "_")
        .replace(':', "_")
}

/// Runs `property` alone against `target` from `dir` (where its kept
/// failures land), with the repository's cases and schemas.
fn run_property_in(dir: &Path, target: &str, property: &str, env: &[(&str, &str)]) -> Run {
    let cases = arg(&workspace_root().join("cases"));
    let schemas = arg(&workspace_root().join("schemas"));
    run_binary_in(
        SUITE,
        dir,
        &[
            "--target",
            target,
            "--cases",
            &cases,
            "--schemas",
            &schemas,
            "--exact",
            property,
        ],
        env,
    )
    .expect("runs")
}

#[test]
fn a_missing_cases_folder_is_an_error_not_an_empty_run() {
    let missing = temp("no-cases").join("nothing-here");
    let run = run_binary(SUITE, &["--cases", &arg(&missing), "case::"], &[]).expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr.contains("failed to read the cases folder") && run.stderr.contains("--cases"),
        "{}",
        run.stderr
    );
    // Listing still works: nextest lists before it runs anything.
    let list = run_binary(SUITE, &["--cases", &arg(&missing), "--list"], &[]).expect("runs");
    assert_eq!(list.code, Some(0), "{}", list.all_output());
}

/// A copy of `schemas/` without `left_out`.
fn schemas_without(left_out: &str) -> PathBuf {
    let dir = temp(&format!("schemas-{left_out}"));
    for entry in std::fs::read_dir(workspace_root().join("schemas")).expect("schemas/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if path.is_file() && name != left_out {
            std::fs::copy(&path, dir.join(&name)).expect("copy");
        }
    }
    dir
}

#[test]
fn a_schema_the_suite_validates_with_is_checked_when_the_run_starts() {
    let schemas = schemas_without("graph-error.json");
    let run = run_binary(
        SUITE,
        &[
            "--schemas",
            &arg(&schemas),
            "--exact",
            "case::rejections::unknown_call",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr
            .contains("graph-error.json, missing from this folder"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_case_lint_holds_cases_to_the_harnesss_case_schema_without_a_file() {
    // No case.schema.json in the folder: the case schema is the harness's,
    // with the contract's fixture kinds, whatever the folder holds.
    let schemas = schemas_without("case.schema.json");
    let cases = temp("unknown-kind");
    std::fs::write(
        cases.join("unknown_kind.json"),
        r#"{"description": "d", "spec": "s", "fixtures": {"call": "no_such_kind"},
            "request": {"method": "GET", "path": "/x"}, "expect": {"status": 200}}"#,
    )
    .expect("a case file");
    let run = run_suite(
        &[
            "--schemas",
            &arg(&schemas),
            "--cases",
            &arg(&cases),
            "--exact",
            "lint::case_files",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["lint::case_files"];
    assert!(
        text.contains("$.fixtures.call") && text.contains("no_such_kind"),
        "{text}"
    );
    let schemas_lint = run_suite(
        &["--schemas", &arg(&schemas), "--exact", "lint::schemas"],
        &[],
    )
    .expect("runs");
    assert_eq!(schemas_lint.code, Some(0), "{}", schemas_lint.all_output());
}

#[cfg(unix)]
#[test]
fn a_token_that_is_not_utf8_is_an_error_not_a_run_without_one() {
    use std::os::unix::ffi::OsStrExt;
    let server = server(Vec::new());
    let out = conformance_selftest::binary_command(SUITE, &workspace_root())
        .args([
            "--target",
            &server.base_url(),
            "--exact",
            "case::rejections::unknown_call",
        ])
        .env(
            "CONFORMANCE_TOKEN",
            std::ffi::OsStr::from_bytes(b"tok\xffen"),
        )
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CONFORMANCE_TOKEN is not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn a_refused_token_stops_the_run_once_with_what_to_do() {
    // The reference server wants a bearer token, any: without one it
    // answers 401 to everything.
    let server = server(Vec::new());
    let run = run_binary(SUITE, &["--target", &server.base_url()], &[]).expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert_eq!(
        run.stderr.matches("error: ").count(),
        1,
        "one message, not one per test:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("401 Unauthorized") && run.stderr.contains("set CONFORMANCE_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(
        run.failures.is_empty() && !run.stdout.contains("test case::"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_target_that_cannot_create_calls_stops_the_run_once_with_what_to_change() {
    // It answers everything 404, as a target URL without `/v1.0` does.
    let stub = transport(Transport::Fixed {
        status: 404,
        content_type: "application/json",
        body: br#"{"error": {"code": "itemNotFound", "message": "no"}}"#.to_vec(),
    })
    .expect("stub");
    let dir = temp("setup-error");
    let run = run_binary_in(
        SUITE,
        &dir,
        &[
            "--target",
            &stub.target(),
            "--cases",
            &arg(&workspace_root().join("cases")),
            "--schemas",
            &arg(&workspace_root().join("schemas")),
        ],
        // Persistence on, as in a user's run: nothing may be kept.
        &[
            ("CONFORMANCE_TOKEN", TOKEN),
            ("PROPTEST_DISABLE_FAILURE_PERSISTENCE", ""),
            ("CONFORMANCE_REGRESSIONS", &arg(&dir.join("kept"))),
        ],
    )
    .expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    // One message, before any trial, that says what to change.
    assert_eq!(
        run.stderr
            .matches("does the target URL end with the API version")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--no-create-calls"), "{}", run.stderr);
    assert!(
        !run.stdout.contains("test "),
        "no trial ran:\n{}",
        run.stdout
    );
    assert!(!dir.join("kept").exists(), "a setup error is not kept");
}

#[test]
fn notifications_that_never_reach_the_listener_stop_the_run_once_and_polling_runs_it() {
    use conformance_selftest::stubs::{graph, GraphConfig, Notifications};
    // It answers every request as Graph would, and never notifies anyone:
    // the commonest first mock.
    let stub = graph(GraphConfig::notifications(Notifications::NeverEstablished)).expect("stub");
    let args = [
        "--target",
        &stub.target(),
        "--notification-timeout-ms",
        "500",
    ];
    let env = [("CONFORMANCE_TOKEN", TOKEN)];
    let stopped = run_binary(SUITE, &args, &env).expect("runs");
    assert_eq!(stopped.code, Some(2), "{}", stopped.all_output());
    assert_eq!(
        stopped.stderr.matches("error: ").count(),
        1,
        "{}",
        stopped.stderr
    );
    assert!(
        stopped
            .stderr
            .contains("is that URL reachable from the target?")
            && stopped.stderr.contains("--no-notifications"),
        "{}",
        stopped.stderr
    );
    assert!(!stopped.stdout.contains("test "), "{}", stopped.stdout);
    // As it advises: polling instead, the invites themselves are judged.
    let mut polled_args = args.to_vec();
    polled_args.push("--no-notifications");
    let polled = run_binary(SUITE, &polled_args, &env).expect("runs");
    assert_ne!(polled.code, Some(2), "{}", polled.all_output());
    assert!(
        polled.stdout.lines().any(|l| l
            .starts_with("test case::invite::examples::example_1_invite_one_participant ")
            && l.ends_with("... ok")),
        "{}",
        polled.all_output()
    );
    assert!(
        !polled.all_output().contains("not notified as established"),
        "{}",
        polled.all_output()
    );
}

#[test]
fn a_failing_input_is_kept_per_target_and_replayed_first_against_it_alone() {
    let faulty = server(vec![Fault::ServerErrorOnPhone]);
    let dir = temp("kept");
    let kept_dir = dir.join("kept");
    let kept_arg = arg(&kept_dir);
    let property = "prop::invite::never_5xx_or_hangs";
    let target = faulty.base_url();
    let keep = [
        ("CONFORMANCE_TOKEN", TOKEN),
        ("PROPTEST_DISABLE_FAILURE_PERSISTENCE", ""),
        ("CONFORMANCE_REGRESSIONS", kept_arg.as_str()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env = keep.to_vec();
        env.extend_from_slice(extra);
        env
    };
    // Many inputs on eight workers: whichever finds the failure keeps it.
    let first = run_property_in(
        &dir,
        &target,
        property,
        &with(&[("PROPTEST_RNG_SEED", "99"), ("PROPTEST_CASES", "300")]),
    );
    assert_eq!(first.code, Some(101), "{}", first.all_output());
    // Kept under the target's origin, never in the working directory.
    let file = kept_dir
        .join(origin_folder(&target))
        .join("invite__never_5xx_or_hangs.txt");
    let kept = std::fs::read_to_string(&file).expect("the failing input's seed is kept");
    assert!(kept.contains(&target.replace("/v1.0", "")), "{kept}");
    assert!(!kept.contains("Commit"), "{kept}");
    assert!(!dir.join("proptest-regressions").exists());
    let seed = kept
        .lines()
        .find_map(|l| l.strip_prefix("seed "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a seed line")
        .to_owned();
    assert!(
        first.failures[property].contains(&format!("PROPTEST_RNG_SEED={seed} PROPTEST_CASES=1"))
    );
    // The next run, with one input of another seed, replays the kept one first.
    let next = run_property_in(
        &dir,
        &target,
        property,
        &with(&[("PROPTEST_RNG_SEED", "1"), ("PROPTEST_CASES", "1")]),
    );
    assert_eq!(next.code, Some(101), "{}", next.all_output());
    let text = &next.failures[property];
    assert!(text.contains(&format!("has seed {seed}")), "{text}");
    assert!(text.contains("after 1 kept"), "{text}");
    // Another target (the same faults, another origin) is not given them.
    let other = server(vec![Fault::ServerErrorOnPhone]);
    let elsewhere = run_property_in(
        &dir,
        &other.base_url(),
        property,
        &with(&[("PROPTEST_RNG_SEED", "1"), ("PROPTEST_CASES", "1")]),
    );
    assert!(
        !elsewhere
            .all_output()
            .contains("kept from earlier failures"),
        "{}",
        elsewhere.all_output()
    );
}

#[test]
fn kept_failures_that_cannot_be_read_are_said_not_skipped_silently() {
    let server = server(Vec::new());
    let dir = temp("unreadable-kept");
    let target = server.base_url();
    // A folder where the file of kept seeds should be: it cannot be read.
    std::fs::create_dir_all(
        dir.join(origin_folder(&target))
            .join("invite__never_5xx_or_hangs.txt"),
    )
    .expect("dir");
    let run = run_property_in(
        &dir,
        &target,
        "prop::invite::never_5xx_or_hangs",
        &[
            ("CONFORMANCE_TOKEN", TOKEN),
            ("PROPTEST_DISABLE_FAILURE_PERSISTENCE", ""),
            ("CONFORMANCE_REGRESSIONS", &arg(&dir)),
            ("PROPTEST_CASES", "2"),
        ],
    );
    assert!(
        run.stderr.contains("its kept failures are not replayed"),
        "{}",
        run.all_output()
    );
}

#[test]
fn a_misspelled_member_fails_at_once_with_what_was_meant() {
    let dir = temp("typo");
    std::fs::create_dir_all(dir.join("invite")).expect("dir");
    let case = serde_json::json!({
        "description": "A typo in a notification match",
        "spec": "none",
        "fixtures": {"call": "group"},
        "request": {"path": "/communications/calls/{{call}}/participants/invite",
                    "body": {"participants": [{"identity": {"user": {"id": "u"}}}]}},
        "expect": {
            "status": 200,
            "notifications": [{
                "about": "roster", "schema": "commsNotification.json",
                "match": {"resourceUrll": "/communications/calls/{{call}}/participants"}
            }]
        }
    });
    std::fs::write(dir.join("invite/typo.json"), case.to_string()).expect("written");
    let cases = arg(&dir);
    let run = run_binary(
        SUITE,
        &["--cases", &cases, "--notification-timeout-ms", "600000"],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let meant = "names \"resourceUrll\", which schemas/commsNotification.json does not know: did you mean \"resourceUrl\"?";
    let trial = &run.failures["case::invite::typo"];
    assert!(trial.contains(meant), "{trial}");
    // Failed at once: a ten-minute deadline was not waited out.
    assert!(trial.contains("no notification was awaited"), "{trial}");
    assert!(
        run.failures["lint::case_files"].contains(meant),
        "{}",
        run.all_output()
    );
}

#[test]
fn the_case_schema_file_is_the_harnesss_with_the_contracts_kinds_generated() {
    use conformance_harness::Contract as _;
    // For editors (a case's `$schema` line): the harness's case schema with
    // this suite's fixture kinds and profiles, never edited by hand.
    let contract = invite_conformance::InviteContract::new(Default::default());
    let generated = conformance_harness::case_schema::text(contract.description());
    check_generated(
        &workspace_root().join("schemas/case.schema.json"),
        &generated,
        "UPDATE_CASE_SCHEMA",
        |_| {
            "schemas/case.schema.json is out of date: run UPDATE_CASE_SCHEMA=1 cargo test -p conformance-selftest --test silence".to_owned()
        },
    );
    // A copy edited by hand is refused by the schemas' lint, naming where
    // it differs.
    let schemas = schemas_without("none");
    let path = schemas.join("case.schema.json");
    let text = std::fs::read_to_string(&path).expect("case schema");
    std::fs::write(&path, text.replace("\"ended_group\",", "")).expect("written");
    let run = run_suite(
        &["--schemas", &arg(&schemas), "--exact", "lint::schemas"],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["lint::schemas"];
    assert!(
        text.contains("is not the case schema the suite checks case files with")
            && text.contains("$.properties.fixtures.additionalProperties.enum"),
        "{text}"
    );
}
