//! A run split across CI machines (`cargo nextest run --partition
//! count:K/2`, one report folder each), merged by `invite-conformance
//! report merge`, is the report one machine writes for the whole run.

use std::process::Command;

use conformance_selftest::{built_program, clean_env, server, temp, workspace_root};
use invite_reference::Fault;
use serde_json::Value;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn nextest_available() -> bool {
    let installed = Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed && std::env::var_os("SELFTEST_SKIP_NEXTEST").is_some_and(|v| v == "1") {
        eprintln!("cargo-nextest is not installed: skipped (SELFTEST_SKIP_NEXTEST=1)");
        return false;
    }
    assert!(
        installed,
        "cargo-nextest is not installed: `cargo install cargo-nextest --locked`, or SELFTEST_SKIP_NEXTEST=1"
    );
    true
}

/// Four cases (each a process of its own) under nextest, reporting to
/// `report`, `partition` (`count:1/2`) or all of them.
fn nextest(target: &str, report: &std::path::Path, partition: Option<&str>) {
    let mut cmd = Command::new(cargo());
    clean_env(&mut cmd);
    cmd.current_dir(workspace_root()).args([
        "nextest",
        "run",
        "--workspace",
        "--no-fail-fast",
        "-E",
        "package(invite-conformance) and (test(/^case::invite::examples::example_[12]/) \
         | test(=case::rejections::wrong_method) | test(=case::rejections::unknown_call))",
    ]);
    if let Some(partition) = partition {
        cmd.args(["--partition", partition]);
    }
    let out = cmd
        .env("CONFORMANCE_TARGET", target)
        .env("CONFORMANCE_TOKEN", "selftest-partition-token")
        .env("CONFORMANCE_REPORT", report)
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo nextest runs");
    // A faulty target: some tests fail, and the run says so.
    assert_eq!(
        out.status.code(),
        Some(100),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("a report");
    serde_json::from_str(&text).expect("JSON")
}

/// The report with what differs between two runs of the same tests taken
/// out: each failure's text holds its latency (`in 3 ms`), each test its
/// wall time; whether they are there is kept.
fn comparable(mut report: Value) -> Value {
    for test in report["tests"].as_array_mut().into_iter().flatten() {
        if let Some(text) = test.get_mut("text") {
            *text = Value::Bool(!text.is_null());
        }
        // Wall times differ from run to run; each report must still have one.
        if let Some(ms) = test.get_mut("duration_ms") {
            *ms = Value::Bool(ms.is_number());
        }
    }
    report
}

#[test]
fn reports_of_a_run_split_across_machines_merge_into_the_whole_runs() {
    if !nextest_available() {
        return;
    }
    let base = temp("partition");
    let faulty = server(vec![Fault::NoLocation, Fault::NonGraphErrors]);
    let target = faulty.base_url();
    let (whole, one, two, merged) = (
        base.join("whole"),
        base.join("machine-1"),
        base.join("machine-2"),
        base.join("merged"),
    );
    nextest(&target, &whole, None);
    nextest(&target, &one, Some("count:1/2"));
    nextest(&target, &two, Some("count:2/2"));
    let program = built_program().expect("cargo builds the program");
    let out = Command::new(&program)
        .args(["report", "merge"])
        .arg(&one)
        .arg(&two)
        .arg("--out")
        .arg(&merged)
        .arg("--junit")
        .arg(merged.join("junit.xml"))
        .output()
        .expect("the program runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (one_report, whole_report) = (
        read(&one.join("report.json")),
        read(&whole.join("report.json")),
    );
    assert!(
        one_report["run"].as_u64() < whole_report["run"].as_u64(),
        "a partition runs only part of the tests"
    );
    assert_eq!(
        comparable(read(&merged.join("report.json"))),
        comparable(whole_report),
        "the merged report is not the whole run's"
    );
    for file in ["report.md", "report.html"] {
        assert!(merged.join(file).is_file(), "{file}");
    }
    let junit = std::fs::read_to_string(merged.join("junit.xml")).expect("JUnit");
    assert!(junit.contains("<failure message="), "{junit}");

    // Reports of different runs do not merge.
    let other = server(Vec::new());
    let elsewhere = base.join("elsewhere");
    let mut cmd = Command::new(&program);
    clean_env(&mut cmd);
    let ran = cmd
        .args(["--target", &other.base_url(), "--report"])
        .arg(&elsewhere)
        .args(["--exact", "case::rejections::wrong_method"])
        .env("CONFORMANCE_TOKEN", "selftest-partition-token")
        .env("XDG_CACHE_HOME", base.join("cache"))
        .output()
        .expect("runs");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let refused = Command::new(&program)
        .args(["report", "merge"])
        .arg(&one)
        .arg(&elsewhere)
        .arg("--out")
        .arg(base.join("never"))
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("of another run"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let _ = std::fs::remove_dir_all(&base);
}
