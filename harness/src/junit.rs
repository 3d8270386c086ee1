//! `--junit FILE`: the run as JUnit XML, for CI systems that show test
//! results (GitHub's and GitLab's test reports, Jenkins) without nextest.
//! One `<testcase>` per trial of the report: a failure's message is its
//! failed check ids, its text the verdict as the console showed it; an
//! error (no verdict reached) is an `<error>`; a skipped trial is
//! `<skipped>`; warnings and known failures pass, their text kept as the
//! test's output. Made from the report (the whole run's under nextest), so
//! the two always agree. quick-junit (the crate nextest writes its JUnit
//! with) writes the XML and drops the characters XML cannot hold.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::Value;

/// A test's duration, when the report has one.
fn duration(test: &Value) -> Option<Duration> {
    test["duration_ms"]
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
}

/// Each test's line: control characters escaped, as in report.md.
fn text(text: &str) -> String {
    text.lines()
        .map(crate::sanitize::line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// The message of a failed test: how many checks failed, and which.
fn failure_message(test: &Value) -> String {
    let failed: Vec<&str> = test["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match failed.len() {
        0 => "failed".to_owned(),
        1 => format!("1 check failed: {}", failed[0]),
        n => format!("{n} checks failed: {}", failed.join(", ")),
    }
}

fn test_case(suite: &str, test: &Value) -> TestCase {
    let shown = text(str_of(test, "text"));
    let first_line = |key: &str| text(str_of(test, key).lines().next().unwrap_or_default());
    let mut status = match str_of(test, "status") {
        "failed" => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(failure_message(test))
                .set_type("conformance")
                .set_description(shown.clone());
            s
        }
        "error" => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(first_line("error"))
                .set_type("no verdict")
                .set_description(if shown.is_empty() {
                    text(str_of(test, "error"))
                } else {
                    shown.clone()
                });
            s
        }
        "skipped" => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(first_line("skipped"));
            s
        }
        _ => TestCaseStatus::success(),
    };
    if str_of(test, "status") == "skipped" {
        status.set_type("skipped");
    }
    let mut case = TestCase::new(str_of(test, "name"), status);
    case.set_classname(suite);
    if let Some(time) = duration(test) {
        case.set_time(time);
    }
    // Warnings and known failures pass: their text is the test's output.
    if matches!(str_of(test, "status"), "warned" | "known") && !shown.is_empty() {
        case.set_system_out(shown);
    }
    case
}

/// The JUnit XML of a report.
pub fn xml(report: &Value) -> Result<String, quick_junit::SerializeError> {
    let suite = report["suite"]["name"].as_str().unwrap_or("conformance");
    let mut junit = Report::new(suite);
    let mut tests = TestSuite::new(suite);
    for (name, value) in [
        ("target", text(str_of(report, "target"))),
        ("profile", text(str_of(report, "profile"))),
        (
            "version",
            text(report["suite"]["version"].as_str().unwrap_or_default()),
        ),
        ("strict", report["strict"].to_string()),
    ] {
        tests.add_property(Property::new(name, value));
    }
    tests.add_test_cases(
        report["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| test_case(suite, t)),
    );
    junit.add_test_suite(tests);
    junit.to_string()
}

/// Writes the JUnit XML of `report` to `file`, whole or not at all.
pub fn write(file: &Path, report: &Value) -> std::io::Result<()> {
    let xml = xml(report).map_err(std::io::Error::other)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let staged = file.with_extension("xml.tmp");
    std::fs::write(&staged, xml)?;
    std::fs::rename(staged, file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "suite": {"name": "rooms-conformance", "version": "1.2.3"},
            "target": "http://t/v1", "profile": "spec", "strict": false,
            "tests": [
                {"name": "case::a", "status": "passed", "failed_checks": []},
                {"name": "case::b", "status": "failed",
                 "failed_checks": ["status", "header.location"],
                 "text": "case::b: 2 of 5 checks failed\n  FAIL  status \u{1b}[31m"},
                {"name": "case::c", "status": "error", "error": "ERROR could not reach\nmore"},
                {"name": "case::d", "status": "skipped", "skipped": "needs a call"},
                {"name": "case::e", "status": "warned", "text": "WARN  status.preferred",
                 "duration_ms": 1500.0}
            ]
        })
    }

    #[test]
    fn one_testcase_per_trial_with_failed_check_ids_as_the_message() {
        let xml = xml(&report()).expect("serialized");
        assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
        assert!(
            xml.contains(
                r#"<failure message="2 checks failed: status, header.location" type="conformance">"#
            ),
            "{xml}"
        );
        // The terminal escape is shown escaped, never sent raw into the XML.
        assert!(xml.contains(r"FAIL  status \u{1b}[31m"), "{xml}");
        assert!(!xml.contains('\u{1b}'), "{xml}");
        assert!(
            xml.contains(r#"<error message="ERROR could not reach" type="no verdict">"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<skipped message="needs a call""#), "{xml}");
        assert!(
            xml.contains(r#"tests="5" skipped="1" failures="1" errors="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"name="case::e" classname="rooms-conformance" time="1.500""#),
            "{xml}"
        );
    }
}
