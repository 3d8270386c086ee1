//! The suite under `cargo nextest run`: one process per test, the target from
//! the environment, and a failing run exits non-zero.

use std::process::Command;

use conformance_selftest::{clean_env, server, temp, workspace_root};
use invite_reference::Fault;

/// Whether this machine can run the proofs: cargo-nextest is installed
/// (the machine image and CI have it). Without it the test fails with how to
/// install it, unless `SELFTEST_SKIP_NEXTEST=1` says to skip it.
fn nextest_available() -> bool {
    let installed = Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return true;
    }
    if std::env::var_os("SELFTEST_SKIP_NEXTEST").is_some_and(|v| v == "1") {
        eprintln!("cargo-nextest is not installed: skipped (SELFTEST_SKIP_NEXTEST=1)");
        return false;
    }
    panic!(
        "cargo-nextest is not installed: install it (`cargo install cargo-nextest --locked`, \
         or see https://nexte.st), or set SELFTEST_SKIP_NEXTEST=1 to skip this proof"
    );
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn nextest(target: &str, filter: &str, profile: &str) -> std::process::Output {
    nextest_with(target, filter, profile, &[])
}

fn nextest_with(
    target: &str,
    filter: &str,
    profile: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new(cargo());
    // Nothing of the shell's reaches the suite, as with `run_suite`; then
    // what this test sets.
    clean_env(&mut cmd);
    cmd.envs(env.iter().copied());
    // The whole workspace, the suite's package chosen by the filter: built
    // for one package alone, shared crates get other features (tokio's
    // io-util, say) and about a dozen crates would be compiled again.
    let filter = format!("package(invite-conformance) and ({filter})");
    cmd.current_dir(workspace_root())
        .args([
            "nextest",
            "run",
            "--workspace",
            "--profile",
            profile,
            "--no-fail-fast",
            "-E",
            &filter,
        ])
        .env("CONFORMANCE_TARGET", target)
        .env("CONFORMANCE_TOKEN", "selftest-nextest-token")
        .env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo nextest runs")
}

#[test]
fn a_failing_run_exits_non_zero_under_nextest_and_a_passing_one_zero() {
    if !nextest_available() {
        return;
    }
    let filter = "test(=case::rejections::no_authorization) | test(=case::invite::examples::example_4_invite_pstn_participant)";
    let correct = server(Vec::new());
    let ok = nextest(&correct.base_url(), filter, "default");
    let text = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("2 tests run: 2 passed"), "{text}");

    let faulty = server(vec![Fault::NoLocation]);
    let failed = nextest(&faulty.base_url(), filter, "ci");
    let text = String::from_utf8_lossy(&failed.stderr);
    // nextest's own code for failed tests (each test's process exits 101),
    // which the README's table of exit codes must give a CI author.
    assert_eq!(failed.status.code(), Some(100), "{text}");
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    assert!(
        readme
            .lines()
            .any(|l| l.starts_with("| 100 |") && l.contains("nextest")),
        "the README's exit codes say what 100 is"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    assert!(
        text.contains("case::invite::examples::example_4_invite_pstn_participant"),
        "{text}"
    );

    // The ci profile writes JUnit XML naming the failing test, under nextest's
    // store (target/nextest of the workspace, whatever CARGO_TARGET_DIR says).
    let junit = std::fs::read_to_string(workspace_root().join("target/nextest/ci/junit.xml"))
        .expect("junit.xml");
    assert!(
        junit.contains("case::invite::examples::example_4_invite_pstn_participant"),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");
    // The failure carries a one-line message a CI page can show.
    let message = junit
        .split("<failure")
        .nth(1)
        .and_then(|f| f.split("message=\"").nth(1))
        .and_then(|m| m.split('"').next())
        .unwrap_or_default();
    assert!(
        message.contains("example_4_invite_pstn_participant")
            && message.contains("checks failed")
            && message.contains("invite.location"),
        "the failure's message: {message:?}\n{junit}"
    );
}

#[test]
fn one_report_covers_a_whole_nextest_run() {
    if !nextest_available() {
        return;
    }
    let faulty = server(vec![Fault::NoLocation]);
    let dir = temp("nextest-report");
    // A lint's process sets up no run: it still counts, and has its row.
    let filter =
        "test(/^case::invite::examples::/) | test(=case::rejections::unknown_call) | test(=lint::schemas)";
    let out = nextest_with(
        &faulty.base_url(),
        filter,
        "default",
        &[("CONFORMANCE_REPORT", dir.to_str().expect("a UTF-8 path"))],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("7 tests run"), "{text}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    // Seven processes, one report of all seven.
    assert_eq!(report["processes"], 7, "{report:#}");
    assert_eq!(report["run"], 7, "{report:#}");
    assert_eq!(report["failed"], 5, "{report:#}");
    assert_eq!(report["tests"].as_array().map(Vec::len), Some(7));
    assert!(
        report["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["name"] == "lint::schemas" && t["status"] == "passed"),
        "{report:#}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("- tests: 7 run of 7 selected (7 processes)"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
