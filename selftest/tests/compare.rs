//! Record and compare, proven against the reference server: a recording of
//! the cases made in one process (the suite's program, against its
//! embedded reference) and compared in this one against a reference server
//! of its own
//! - shows no difference against the correct server, 20 times in a row;
//! - shows every fault of the fault matrix (`selftest/faults.json`);
//! - shows, against each variant of the reference, only what the variant's
//!   description says it changes, and nothing for the variants that only
//!   change what a comparison normalises (`selftest/compare_variants.json`).
//!
//! Only the case trials are recorded and compared: they cover every fault
//! (as `faults.rs` proves) in a fraction of the properties' time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use conformance_harness::{Detail, Outcome, Status};
use conformance_selftest::{
    in_parallel, rerun_lines, run_binary, run_rerun_line, run_suite, temp, workspace_root, Run,
};
use invite_reference::{Config, Fault, Variant};
use serde_json::Value;

/// A token no file of the recording may hold.
const TOKEN: &str = "compare-secret-token-5b4a39";
/// A notification withheld costs this much per wait.
const DEADLINE: &str = "3000";
const ARGS: &[&str] = &["--response-timeout-ms", "3000", "--retry-budget-secs", "0"];

/// The recording every test compares with, and the recorded case files,
/// made once per test process by the suite's program (another process).
fn recorded() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let dir = temp("compare-recording");
        let cases = temp("compare-recorded-cases");
        let (dir_arg, cases_arg) = (dir.display().to_string(), cases.display().to_string());
        let run = run_binary(
            env!("CARGO_BIN_EXE_suite"),
            &["--record", &dir_arg, "--record-cases", &cases_arg, "case::"],
            &[("CONFORMANCE_TOKEN", TOKEN)],
        )
        .expect("the suite's program runs");
        assert_eq!(run.code, Some(0), "recording:\n{}", run.all_output());
        (dir, cases)
    })
}

fn recording() -> &'static Path {
    &recorded().0
}

/// What a run said: its console output and every failure as rendered.
fn said(run: &Run) -> String {
    let failures: Vec<&String> = run.failures.values().collect();
    format!(
        "{}\n{}",
        run.all_output(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn compare_with(config: Config, notification_deadline: &str) -> Run {
    let server = invite_reference::start(config).expect("the reference server starts");
    let base = server.base_url();
    let dir = recording().display().to_string();
    let mut args = vec!["--target", base.as_str(), "--compare", &dir, "case::"];
    args.extend_from_slice(ARGS);
    args.extend_from_slice(&["--notification-timeout-ms", notification_deadline]);
    run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs")
}

/// Every case file's trial name.
fn case_trials() -> BTreeSet<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir)
            .expect("cases/ is readable")
            .flatten()
        {
            let path = entry.path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            if path.is_dir() {
                walk(&path, &format!("{prefix}::{stem}"), out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.insert(format!("{prefix}::{stem}"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&workspace_root().join("cases"), "case", &mut out);
    out
}

#[test]
fn the_recording_is_one_transcript_per_case_with_its_notifications_and_no_token() {
    let dir = recording();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("recording.json")).expect("recording.json is written"),
    )
    .expect("recording.json is JSON");
    assert_eq!(index["format"], "conformance-transcript/1");
    for trial in case_trials() {
        let rest: Vec<&str> = trial.split("::").collect();
        let path = dir.join(rest.join("/")).with_extension("json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{trial}: {}: {e}", path.display()));
        assert!(
            !text.contains(TOKEN),
            "{trial}: the token is in {}",
            path.display()
        );
        let transcript: Value = serde_json::from_str(&text).expect("a transcript is JSON");
        assert_eq!(transcript["trial"], trial.as_str());
        let step = &transcript["steps"][0];
        let exchanges = step["exchanges"].as_array().expect("exchanges");
        let case = exchanges
            .iter()
            .find(|e| e["role"] == "case")
            .unwrap_or_else(|| panic!("{trial}: no case exchange"));
        // The template is kept beside what was sent, ids as placeholders.
        let template = case["request"]["template"].as_str().expect("a template");
        if template.contains("{{call}}") {
            assert!(
                case["request"]["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("<call>")),
                "{trial}: {}",
                case["request"]["path"]
            );
        }
        let notifications = path.with_extension("notifications.jsonl");
        let lines = std::fs::read_to_string(&notifications).expect("a notifications file");
        assert!(!lines.contains(TOKEN));
        assert_eq!(
            lines.lines().count(),
            step["notifications"].as_array().map_or(0, Vec::len),
            "{trial}: one line per delivery"
        );
    }
}

#[test]
fn a_recorded_notifications_file_is_what_notifications_file_reads() {
    let file = recording()
        .join("case/invite/examples/example_1_invite_one_participant.notifications.jsonl");
    let file = file.display().to_string();
    let run =
        run_suite(&["--notifications-file", &file, "offline::"], &[]).expect("the suite runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert_eq!(
        run.status("offline::notifications_file"),
        Some(&Status::Passed),
        "{}",
        run.all_output()
    );
}

#[test]
fn compared_with_the_correct_reference_nothing_differs_20_times_in_a_row() {
    let trials = case_trials();
    for round in 0..20 {
        let run = compare_with(Config::default(), "10000");
        assert_eq!(run.code, Some(0), "round {round}:\n{}", said(&run));
        let outcome = run.outcome.as_ref().expect("in process");
        for trial in &trials {
            let t = outcome
                .trial(trial)
                .unwrap_or_else(|| panic!("round {round}: {trial} did not run"));
            assert_eq!(t.status, Status::Passed, "round {round}: {trial}");
            let compared = t.verdict.as_ref().map_or(0, |v| {
                v.checks
                    .iter()
                    .filter(|c| c.id.starts_with("compare."))
                    .count()
            });
            assert!(compared > 0, "round {round}: {trial} compared nothing");
        }
    }
}

/// The faults of the matrix, and which stop the run before any trial.
fn faults() -> BTreeMap<String, bool> {
    let text = std::fs::read_to_string(workspace_root().join("selftest/faults.json"))
        .expect("faults.json");
    let json: Value = serde_json::from_str(&text).expect("faults.json is JSON");
    json["faults"]
        .as_object()
        .expect("faults")
        .iter()
        .map(|(name, checks)| {
            let stops = checks
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == "STOP"));
            (name.clone(), stops)
        })
        .collect()
}

#[test]
fn compared_with_each_fault_of_the_matrix_the_comparison_shows_it() {
    let faults = faults();
    assert_eq!(
        faults.keys().cloned().collect::<BTreeSet<_>>(),
        Fault::all()
            .iter()
            .map(ToString::to_string)
            .collect::<BTreeSet<_>>(),
        "faults.json lists the reference's faults"
    );
    let problems: Vec<String> = in_parallel(faults.into_iter().collect(), 6, |(name, stops)| {
        let fault: Fault = name.parse().expect("fault names parse");
        let run = compare_with(
            Config {
                faults: vec![fault],
                ..Config::default()
            },
            DEADLINE,
        );
        let outcome = run.outcome.as_ref().expect("in process");
        let shown: Vec<String> = outcome
            .trials
            .iter()
            .filter(|t| t.status == Status::Failed)
            .flat_map(|t| {
                let v = t.verdict.as_ref();
                let failed = v
                    .map(|v| {
                        v.checks
                            .iter()
                            .filter(|c| c.outcome == Outcome::Fail && c.id.starts_with("compare."))
                            .map(|c| format!("{}: {}", t.name, c.id))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let error = v
                    .and_then(|v| v.error.clone())
                    .map(|e| format!("{}: ERROR {e}", t.name));
                failed.into_iter().chain(error)
            })
            .collect();
        let ok = if stops {
            run.code == Some(2)
        } else {
            run.code == Some(101) && !shown.is_empty()
        };
        (!ok).then(|| {
            format!(
                "{name}: exit {:?}, shown {shown:?}\n{}",
                run.code,
                run.all_output()
            )
        })
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn recorded_cases_pass_against_the_target_they_were_recorded_from_and_show_a_fault() {
    let cases = recorded().1.display().to_string();
    let written: BTreeSet<String> = case_trials();
    let run = |faults: Vec<Fault>| {
        let server = invite_reference::start(Config {
            faults,
            ..Config::default()
        })
        .expect("the reference server starts");
        let base = server.base_url();
        let mut args = vec!["--target", base.as_str(), "--cases", &cases];
        args.extend_from_slice(ARGS);
        args.extend_from_slice(&["--notification-timeout-ms", DEADLINE]);
        run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs")
    };
    let correct = run(Vec::new());
    assert_eq!(correct.code, Some(0), "{}", said(&correct));
    let outcome = correct.outcome.as_ref().expect("in process");
    // Every case was written, at the path of the case it was recorded from,
    // and the lint of case files (in the run) found them fair.
    for trial in &written {
        assert_eq!(correct.status(trial), Some(&Status::Passed), "{trial}");
    }
    assert_eq!(correct.status("lint::case_files"), Some(&Status::Passed));
    assert!(outcome.trials.len() > written.len());
    // What the target did is what the case expects now: a target that no
    // longer echoes the participants fails the recorded body.
    let broken = run(vec!["participants-not-echoed".parse().expect("a fault")]);
    let failed: BTreeSet<(String, String)> = broken.failed_checks().into_iter().collect();
    assert!(
        failed.contains(&(
            "case::invite::examples::example_1_invite_one_participant".to_owned(),
            "body".to_owned()
        )),
        "{failed:?}"
    );
}

#[test]
fn a_difference_reads_like_a_failure_and_its_rerun_lines_show_it_again() {
    let server = invite_reference::start(Config {
        faults: vec!["participants-not-echoed".parse().expect("a fault")],
        ..Config::default()
    })
    .expect("the reference server starts");
    let base = server.base_url();
    let dir = recording().display().to_string();
    let trial = "case::invite::examples::example_2_invite_multiple_participants";
    let mut args = vec![
        "--target",
        base.as_str(),
        "--compare",
        &dir,
        "--exact",
        trial,
    ];
    args.extend_from_slice(ARGS);
    let run = run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs");
    let text = run
        .failures
        .get(trial)
        .unwrap_or_else(|| panic!("{}", said(&run)));
    // Where, then what: the path, expected = recorded, actual, a diff.
    for part in [
        "FAIL  compare.response: POST /communications/calls/<call>/participants/invite answers as recorded",
        "$.body.participants[0]",
        "expected  object",
        "actual    (absent)",
        "--- expected (the recorded answer, normalised)",
        "+++ actual   (the answer now, normalised)",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    assert!(!text.contains(TOKEN));
    let lines = rerun_lines(text);
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert!(
            line.contains("--compare") || line.contains("CONFORMANCE_COMPARE="),
            "{line}"
        );
        let again = run_rerun_line(
            env!("CARGO_BIN_EXE_suite"),
            line,
            &[("CONFORMANCE_TOKEN", TOKEN)],
        )
        .expect("the line runs");
        assert_eq!(again.code, Some(101), "{line}\n{}", again.all_output());
        let shown = again.failures.get(trial).cloned().unwrap_or_default();
        assert!(
            shown.contains("$.body.participants[0]"),
            "{line}\n{}",
            again.all_output()
        );
    }
}

/// `$.a[3].b` as `$.a[*].b`: what an entry of compare_variants.json names.
fn generalised(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find(']') {
            Some(end) if after[..end].chars().all(|c| c.is_ascii_digit()) => {
                out.push_str("[*]");
                rest = &after[end + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn compared_with_each_variant_only_what_it_changes_differs() {
    let text = std::fs::read_to_string(workspace_root().join("selftest/compare_variants.json"))
        .expect("compare_variants.json");
    let json: Value = serde_json::from_str(&text).expect("compare_variants.json is JSON");
    let allowed: BTreeMap<String, Vec<(String, String)>> = json["variants"]
        .as_object()
        .expect("variants")
        .iter()
        .map(|(name, entries)| {
            let entries = entries
                .as_array()
                .expect("a list")
                .iter()
                .map(|e| {
                    (
                        e[0].as_str().expect("a check id").to_owned(),
                        e[1].as_str().expect("a path").to_owned(),
                    )
                })
                .collect();
            (name.clone(), entries)
        })
        .collect();
    assert_eq!(
        allowed.keys().cloned().collect::<BTreeSet<_>>(),
        Variant::ALL
            .iter()
            .map(ToString::to_string)
            .collect::<BTreeSet<_>>(),
        "compare_variants.json lists every variant"
    );
    let problems: Vec<String> = in_parallel(allowed.into_iter().collect(), 6, |(name, entries)| {
        let variant: Variant = name.parse().expect("variant names parse");
        let run = compare_with(
            Config {
                variants: vec![variant],
                ..Config::default()
            },
            DEADLINE,
        );
        let outcome = run.outcome.as_ref().expect("in process");
        let mut shown: Vec<(String, String, String)> = Vec::new();
        let mut errors = Vec::new();
        for t in outcome.trials.iter().filter(|t| t.status == Status::Failed) {
            let Some(v) = &t.verdict else {
                errors.push(format!("{}: {:?}", t.name, t.message));
                continue;
            };
            if let Some(e) = &v.error {
                errors.push(format!("{}: {e}", t.name));
            }
            for c in v.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
                let paths: Vec<String> = c
                    .details
                    .iter()
                    .filter_map(|d| match d {
                        Detail::Differences(ds) => Some(ds.iter().map(|d| d.path.to_string())),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                let paths = if paths.is_empty() {
                    vec!["$".to_owned()]
                } else {
                    paths
                };
                for p in paths {
                    shown.push((t.name.clone(), c.id.clone(), generalised(&p)));
                }
            }
        }
        let stray: Vec<&(String, String, String)> = shown
            .iter()
            .filter(|(_, id, path)| {
                !entries.iter().any(|(allowed_id, prefix)| {
                    id == allowed_id && (prefix == "$" || path.starts_with(prefix.as_str()))
                })
            })
            .collect();
        let mut problems = Vec::new();
        if !errors.is_empty() {
            problems.push(format!("errors: {errors:?}"));
        }
        if !stray.is_empty() {
            problems.push(format!(
                "differences its description does not name: {stray:?}"
            ));
        }
        if !entries.is_empty() && shown.is_empty() {
            problems.push("it changes what the recording holds, yet nothing differed".to_owned());
        }
        if entries.is_empty() && run.code != Some(0) {
            problems.push(format!("exit {:?} where nothing may differ", run.code));
        }
        (!problems.is_empty())
            .then(|| format!("{name}: {}\n{}", problems.join("; "), run.all_output()))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_folder_without_a_recording_stops_the_run_once_saying_so() {
    let dir = temp("compare-nothing");
    let dir = dir.display().to_string();
    let run = run_suite(&["--compare", &dir, "case::"], &[]).expect("the suite runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(run.stderr.contains("no recording there"), "{}", run.stderr);
}
