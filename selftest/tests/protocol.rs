//! The protocol libtest and nextest rely on, proven on the built binary:
//! terse lists, `--exact` runs of every listed name, exit codes, and case
//! files that break only their own test.

use conformance_selftest::{run_binary, temp, workspace_root};

/// The suite's program: libtest's protocol (`--list`, `--exact`, nextest's full-scan switch) is the program's.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

fn listed(extra_env: &[(&str, &str)]) -> Vec<String> {
    let run =
        run_binary(SUITE, &["--list", "--format", "terse"], extra_env).expect("the suite runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    let mut names = Vec::new();
    for line in run.stdout.lines() {
        let name = line
            .strip_suffix(": test")
            .unwrap_or_else(|| panic!("a terse list line is not `NAME: test`: {line:?}"));
        names.push(name.to_owned());
    }
    names
}

fn case_files() -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .expect("cases/ is readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .map(|p| {
                if p.is_dir() {
                    walk(&p)
                } else {
                    usize::from(p.extension().is_some_and(|e| e == "json"))
                }
            })
            .sum()
    }
    walk(&workspace_root().join("cases"))
}

#[test]
fn terse_list_names_every_case_file_and_nothing_else() {
    let names = listed(&[]);
    let cases = names.iter().filter(|n| n.starts_with("case::")).count();
    assert_eq!(cases, case_files(), "one trial per case file");
    assert!(names.iter().any(|n| n == "lint::case_files"));
    assert!(names.iter().any(|n| n == "lint::schemas"));
    for name in &names {
        assert!(
            name.split("::").all(|s| !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
            "{name} is not a path of [a-z0-9_] segments"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "names are unique");
}

#[test]
fn listing_never_touches_the_target() {
    // Nothing listens on port 9 of loopback: a list that connected would fail or hang.
    let names = listed(&[("CONFORMANCE_TARGET", "http://127.0.0.1:9/v1.0")]);
    assert!(!names.is_empty());
}

#[test]
fn every_listed_name_runs_alone_with_exact_without_scanning() {
    for name in listed(&[]) {
        let run = run_binary(
            SUITE,
            &["--exact", &name, "--nocapture"],
            &[("CONFORMANCE_FORBID_SCAN", "1")],
        )
        .expect("the suite runs");
        let summary = run
            .stdout
            .lines()
            .find(|l| l.starts_with("test result:"))
            .unwrap_or_default()
            .to_owned();
        if name.starts_with("case::") {
            assert_eq!(run.code, Some(0), "{name}: {}", run.all_output());
            assert!(summary.contains(" 1 passed;"), "{name}: {summary}");
        } else {
            // Offline lints scan the folder by design; they must still run alone.
            assert!(
                summary.contains(" 1 passed;") || summary.contains(" 1 failed;"),
                "{name}: {summary}"
            );
        }
    }
}

#[test]
fn a_broken_case_fails_its_own_test_and_nothing_else() {
    let dir = temp("broken");
    let sub = dir.join("invite");
    std::fs::create_dir_all(&sub).expect("temp dir");
    std::fs::copy(
        workspace_root().join("cases/rejections/no_authorization.json"),
        sub.join("good.json"),
    )
    .expect("copy a good case");
    std::fs::write(
        sub.join("typo.json"),
        r#"{"description": "d", "spec": "s", "request": {"path": "/x"},
            "expect": {"status": 200, "invariants": [], "notifications": [{"about": "a", "match": {}, "cuont": 1}]}}"#,
    )
    .expect("write a broken case");
    std::fs::write(sub.join("not_json.json"), "{ this is not json").expect("write");
    let cases = dir.to_string_lossy().into_owned();

    let list = run_binary(
        SUITE,
        &["--cases", &cases, "--list", "--format", "terse"],
        &[],
    )
    .expect("runs");
    assert_eq!(
        list.code,
        Some(0),
        "a broken case must not break --list: {}",
        list.all_output()
    );
    assert!(list.stdout.contains("case::invite::typo: test"));

    let run = run_binary(SUITE, &["--cases", &cases, "case::"], &[]).expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    assert_eq!(
        run.failures.keys().collect::<Vec<_>>(),
        ["case::invite::not_json", "case::invite::typo"]
    );
    let typo = &run.failures["case::invite::typo"];
    assert!(typo.contains("typo.json"), "names the file: {typo}");
    assert!(
        typo.contains("$.expect.notifications[0]"),
        "names the JSON path: {typo}"
    );
    assert!(typo.contains("cuont"), "names the bad field: {typo}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn json_format_reports_each_test() {
    let run = run_binary(
        SUITE,
        &[
            "--format",
            "json",
            "--exact",
            "case::rejections::no_authorization",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(events.iter().any(|e| e["type"] == "test"
        && e["event"] == "ok"
        && e["name"] == "case::rejections::no_authorization"));
}

/// The `invite-conformance` program, as cargo builds it from the checkout,
/// runs the suite end to end: its help, a passing run, a failing one.
#[test]
fn the_invite_conformance_program_runs_the_suite_end_to_end() {
    let program = conformance_selftest::built_program().expect("cargo builds the program");
    let program = program.to_str().expect("a UTF-8 path");
    let help = run_binary(program, &["--help"], &[]).expect("runs");
    assert_eq!(help.code, Some(0), "{}", help.all_output());
    assert!(
        help.stdout
            .starts_with("Conformance suite for Microsoft Graph's participant: invite API")
            && help.stdout.contains("--target <URL>")
            && help.stdout.contains("--group-call-id <ID>"),
        "{}",
        help.stdout
    );
    let case = "case::invite::examples::example_1_invite_one_participant";
    let passing = run_binary(program, &["--exact", case], &[]).expect("runs");
    assert_eq!(passing.code, Some(0), "{}", passing.all_output());
    assert!(
        passing.stdout.contains("test result: ok. 1 passed"),
        "{}",
        passing.stdout
    );
    let faulty = invite_reference::start(invite_reference::Config {
        faults: vec![invite_reference::Fault::NoLocation],
        ..invite_reference::Config::default()
    })
    .expect("the reference server starts");
    let failing = run_binary(
        program,
        &["--target", &faulty.base_url(), "--exact", case],
        &[("CONFORMANCE_TOKEN", "selftest-program-token")],
    )
    .expect("runs");
    assert_eq!(failing.code, Some(101), "{}", failing.all_output());
    assert!(
        failing.failures[case].contains("FAIL  invite.location"),
        "{}",
        failing.all_output()
    );
}
