//! The suite under `cargo nextest run`: one process per test, the target from
//! the environment, and a failing run exits non-zero.

use std::process::Command;

use conformance_selftest::workspace_root;
use invite_reference::{Config, Fault};

fn nextest_available() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn nextest(target: &str, filter: &str, profile: &str) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args([
            "nextest",
            "run",
            "-p",
            "invite-conformance",
            "--profile",
            profile,
            "--no-fail-fast",
            "-E",
            filter,
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
        // The machine image ships cargo-nextest; a machine without it cannot run this proof.
        eprintln!("cargo-nextest is not installed: skipping");
        return;
    }
    let filter = "test(=case::rejections::no_authorization) | test(=case::invite::examples::example_4_invite_pstn_participant)";
    let correct = invite_reference::start(Config::default()).expect("server");
    let ok = nextest(&correct.base_url(), filter, "default");
    let text = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("2 tests run: 2 passed"), "{text}");

    let faulty = invite_reference::start(Config {
        faults: vec![Fault::NoLocation],
        ..Config::default()
    })
    .expect("server");
    let failed = nextest(&faulty.base_url(), filter, "ci");
    let text = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{text}");
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
}
