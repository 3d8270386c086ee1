//! The rooms suite (`tests/rooms/`) can fail: its built test binary, run
//! against its stub with a fault switched on (`ROOMS_STUB_FAULT`), exits
//! 101 and names the invariant the fault breaks; run with a lent room, it
//! leaves the room alone and its rerun lines repeat `--room-id`.
//!
//! The binary is the newest `rooms-*` executable beside this test's own
//! (cargo builds every test target of the package before running any, so
//! `cargo test -p conformance-harness` and `cargo test --workspace` find it
//! fresh; `--test rooms_faults` alone does not rebuild it, and an older one
//! than the rooms sources is refused).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The rooms test binary cargo built beside this one.
fn rooms_binary() -> PathBuf {
    let me = std::env::current_exe().expect("the test knows its own path");
    let deps = me.parent().expect("the test binary lies in a folder");
    let newest = std::fs::read_dir(deps)
        .expect("the test binary's folder can be read")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("rooms-") && is_executable(p)
        })
        .max_by_key(|p| modified(p));
    let bin = newest.unwrap_or_else(|| {
        panic!(
            "no rooms-* test binary in {}: run `cargo test -p conformance-harness` (it builds it)",
            deps.display()
        )
    });
    let sources = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest_source = [sources.join("tests/rooms"), sources.join("src")]
        .iter()
        .filter_map(|dir| newest_source(dir))
        .max();
    if let Some(source) = newest_source {
        assert!(
            modified(&bin) >= Some(source),
            "{} is older than the rooms suite's sources: run `cargo test -p conformance-harness` (it rebuilds it)",
            bin.display()
        );
    }
    bin
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// When the newest Rust source under `dir` was written.
fn newest_source(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let p = e.path();
            if p.is_dir() {
                newest_source(&p)
            } else if p.extension().is_some_and(|e| e == "rs") {
                modified(&p)
            } else {
                // Cases and schemas are read when the binary runs, not built in.
                None
            }
        })
        .max()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.extension().is_none()
        && path
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "exe")
}

/// What a run of the rooms binary came to.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `---- NAME ----` blocks libtest-mimic prints under `failures:`.
    fn failures(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut current: Option<(String, Vec<&str>)> = None;
        for line in self.stdout.lines() {
            let header = line
                .strip_prefix("---- ")
                .and_then(|l| l.strip_suffix(" ----"));
            if header.is_some() || line == "failures:" || line.starts_with("test result:") {
                if let Some((name, body)) = current.take() {
                    out.insert(name, body.join("\n"));
                }
            }
            if let Some(name) = header {
                current = Some((name.to_owned(), Vec::new()));
            } else if let Some((_, body)) = current.as_mut() {
                body.push(line);
            }
        }
        if let Some((name, body)) = current {
            out.insert(name, body.join("\n"));
        }
        out
    }

    /// Each failing trial and the ids of the checks it marks `FAIL`.
    fn failed_checks(&self) -> BTreeMap<String, Vec<String>> {
        self.failures()
            .into_iter()
            .map(|(test, text)| {
                let ids = text
                    .lines()
                    .filter_map(|l| l.trim_start().strip_prefix("FAIL  "))
                    .filter_map(|rest| rest.split_once(':'))
                    .map(|(id, _)| id.to_owned())
                    .collect();
                (test, ids)
            })
            .collect()
    }

    fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the rooms binary with `fault` switched on in its stub, and `args`.
/// Nothing is written beside the sources: seeds of failing inputs are not
/// kept, and it runs from the system's temporary folder.
fn run(fault: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(rooms_binary());
    command
        .args(["--color", "never"])
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1")
        .env("PROPTEST_CASES", "8")
        // Each shrink step is a room and a message: a few suffice to show it shrinks.
        .env("PROPTEST_MAX_SHRINK_ITERS", "16")
        .env_remove("ROOMS_STUB_FAULT")
        .env_remove("ROOMS_ROOM_ID");
    if let Some(fault) = fault {
        command.env("ROOMS_STUB_FAULT", fault);
    }
    let output = command.output().expect("the rooms binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that each of `tests` failed with `check` among its failures.
fn assert_failed_with(run: &Run, tests: &[&str], check: &str) {
    assert_eq!(run.code, Some(101), "{}", run.show());
    let failed = run.failed_checks();
    for test in tests {
        let ids = failed
            .get(*test)
            .unwrap_or_else(|| panic!("{test} did not fail:\n{}", run.show()));
        assert!(
            ids.iter().any(|id| id == check),
            "{test} failed without {check} (failed: {ids:?}):\n{}",
            run.show()
        );
    }
}

#[test]
fn a_location_naming_another_message_fails_message_location() {
    let run = run(Some("wrong-location"), &[]);
    assert_failed_with(
        &run,
        &[
            "case::messages::posted",
            "case::messages::notified_with_text",
            "prop::rooms::accepts_any_text",
        ],
        "message.location",
    );
    // The case's own header expectation sees it too; nothing else fails.
    let failed = run.failed_checks();
    assert_eq!(
        failed.get("case::messages::posted"),
        Some(&vec![
            "header.location".to_owned(),
            "message.location".to_owned()
        ]),
        "{}",
        run.show()
    );
    assert_eq!(failed.len(), 3, "{}", run.show());
    // The property shrank its input to a case file.
    let prop = &run.failures()["prop::rooms::accepts_any_text"];
    assert!(prop.contains("shrunk"), "{prop}");
    assert!(
        prop.contains("\"path\": \"/rooms/{{room}}/messages\""),
        "{prop}"
    );
}

#[test]
fn a_message_never_announced_fails_message_notified() {
    // Every input would wait out the deadline: the property is left out.
    let run = run(
        Some("no-event"),
        &["--notification-timeout-ms", "1000", "--skip", "prop::"],
    );
    assert_failed_with(
        &run,
        &[
            "case::messages::posted",
            "case::messages::notified_with_text",
        ],
        "message.notified",
    );
    assert_failed_with(
        &run,
        &["case::messages::notified_with_text"],
        "notification[0]",
    );
    let text = &run.failures()["case::messages::posted"];
    assert!(
        text.contains("no message.posted event named message"),
        "{text}"
    );
}

#[test]
fn a_message_announced_twice_fails_message_notified() {
    let run = run(Some("double-event"), &["--skip", "prop::"]);
    assert_failed_with(
        &run,
        &[
            "case::messages::posted",
            "case::messages::notified_with_text",
        ],
        "message.notified",
    );
    let text = &run.failures()["case::messages::posted"];
    assert!(
        text.contains("2 message.posted events name message"),
        "{text}"
    );
    // The case's `count: 1` sees the repeat too.
    assert_failed_with(
        &run,
        &["case::messages::notified_with_text"],
        "notification[0]",
    );
}

#[test]
fn a_lent_room_is_posted_to_and_never_deleted() {
    // The stub's lobby has no callback and refuses to be deleted: the event
    // checks do not run, and any attempt to end it would be reported.
    let run = run(None, &["--room-id", "lobby"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(!run.stderr.contains("could not be ended"), "{}", run.show());
}

#[test]
fn a_lent_rooms_failure_reruns_with_its_room() {
    let run = run(
        Some("wrong-location"),
        &["--room-id", "lobby", "--exact", "case::messages::posted"],
    );
    assert_failed_with(&run, &["case::messages::posted"], "message.location");
    let text = &run.failures()["case::messages::posted"];
    let reruns: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("rerun:") || l.starts_with("or:"))
        .collect();
    assert_eq!(reruns.len(), 2, "{text}");
    assert!(reruns[0].contains("--room-id lobby"), "{text}");
    assert!(reruns[1].contains("ROOMS_ROOM_ID=lobby"), "{text}");
}

#[test]
fn an_unknown_fault_stops_the_run() {
    let run = run(Some("no-such-fault"), &[]);
    assert_eq!(run.code, Some(2), "{}", run.show());
    assert!(
        run.stderr
            .contains("ROOMS_STUB_FAULT=\"no-such-fault\" names no fault"),
        "{}",
        run.show()
    );
}
