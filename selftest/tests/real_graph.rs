//! What a run against real Graph relies on, proven against the reference
//! server: existing call ids instead of created calls, polling when
//! notifications cannot reach the suite, skips with reasons, offline checks
//! of captured notifications, and a token that never leaks.

use std::io::{Read, Write};
use std::net::TcpListener;

use conformance_harness::Status;
use conformance_selftest::{create_call, run_binary, run_suite, server, temp, workspace_root};
use invite_reference::Fault;
use serde_json::{json, Value};

const TOKEN: &str = "selftest-graph-token-5e6f";
/// A seed whose first invalid body goes to a group call.
const SKIPPED_SEED: &str = "1";

#[test]
fn without_call_creation_what_needs_a_fresh_call_is_ignored_with_the_reason_never_passed() {
    let reference = server(Vec::new());
    let target = reference.base_url();
    let run = run_suite(
        &["--target", &target, "--no-create-calls"],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(
        run.stderr.contains("ignored, for want of what the target can give")
            && run.stderr.contains(
                "fixture call: the target cannot provide fixture group: --no-create-calls is set and no --group-call-id lends a group call"
            ),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.status("case::rejections::unknown_call"),
        Some(&Status::Passed),
        "{}",
        run.all_output()
    );
    // No property can invite anywhere: none passes on nothing.
    for property in [
        "prop::invite::accepts_valid_bodies",
        "prop::invite::rejects_invalid_bodies",
        "prop::invite::never_5xx_or_hangs",
        "prop::invite::stateful_model",
    ] {
        assert!(
            matches!(run.status(property), Some(Status::Ignored(_))),
            "{property}: {:?}",
            run.status(property)
        );
    }

    // A selection in which no trial can reach the target checked nothing:
    // not a pass, and it says what to give the run.
    let nothing = run_suite(
        &["--target", &target, "--no-create-calls", "prop::"],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(nothing.code, Some(2), "{}", nothing.all_output());
    assert!(
        nothing.stderr.contains("no trial reached the target")
            && nothing.stderr.contains("--group-call-id"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn a_property_whose_every_input_is_skipped_is_ignored_not_passed() {
    let reference = server(Vec::new());
    let p2p = create_call(reference.addr(), false);
    // Lent: a peer-to-peer call only. The one input run needs a group call
    // (seed 1's first input does), so it is skipped, and so is the property.
    let run = run_suite(
        &[
            "--target",
            &reference.base_url(),
            "--no-create-calls",
            "--p2p-call-id",
            &p2p,
            "--exact",
            "prop::invite::rejects_invalid_bodies",
        ],
        &[
            ("CONFORMANCE_TOKEN", TOKEN),
            ("PROPTEST_CASES", "1"),
            ("PROPTEST_RNG_SEED", SKIPPED_SEED),
        ],
    )
    .expect("runs");
    let status = run.status("prop::invite::rejects_invalid_bodies");
    assert!(
        matches!(status, Some(Status::Ignored(why)) if why.starts_with(
            "every generated input was skipped: fixture call: the target cannot provide fixture group"
        )),
        "{status:?}\n{}",
        run.all_output()
    );
    // The only trial reached nothing: the run says so.
    assert_eq!(run.code, Some(2), "{}", run.all_output());
}

#[test]
fn existing_calls_without_notifications_are_followed_by_polling() {
    let reference = server(Vec::new());
    let group = create_call(reference.addr(), true);
    let p2p = create_call(reference.addr(), false);
    let dir = temp("polling");
    let report = dir.join("report");
    let report_arg = report.to_string_lossy().into_owned();
    let args = [
        "--target",
        &reference.base_url(),
        "--no-create-calls",
        "--no-notifications",
        "--group-call-id",
        &group,
        "--p2p-call-id",
        &p2p,
        "--report",
        &report_arg,
        "case::",
    ];
    let run = run_suite(&args, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).expect("report"))
            .expect("JSON");
    let check = |id: &str| {
        report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        check("invite.terminal-once")["passed"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{report:#}"
    );
    assert_eq!(
        check("invite.roster-update")["passed"],
        0,
        "rosters cannot be seen without notifications"
    );
    assert!(check("notification")["not_run"].as_u64().unwrap_or(0) > 0);

    // The polling path can fail too: an operation read as running after it
    // ended never ends. (One that answers 404 may be gone because it ended:
    // a correct target may do that, so polling cannot judge it.)
    let broken = server(vec![Fault::OperationGetStale]);
    let group = create_call(broken.addr(), true);
    let run = run_suite(
        &[
            "--target",
            &broken.base_url(),
            "--no-create-calls",
            "--no-notifications",
            "--group-call-id",
            &group,
            "--notification-timeout-ms",
            "300",
            "--exact",
            "case::invite::examples::example_3_invite_to_existing_call",
        ],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["case::invite::examples::example_3_invite_to_existing_call"];
    assert!(text.contains("FAIL  invite.terminal-once"), "{text}");
    assert!(text.contains("polling GET"), "{text}");
}

#[test]
fn captured_notifications_are_checked_offline() {
    let spec = workspace_root().join("selftest/tests/data/spec_notifications.jsonl");
    let spec_arg = spec.to_string_lossy().into_owned();
    let run = run_suite(
        &[
            "--notifications-file",
            &spec_arg,
            "--exact",
            "offline::notifications_file",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(
        run.code,
        Some(0),
        "the spec's own notifications pass:\n{}",
        run.all_output()
    );

    let dir = temp("offline");
    let text = std::fs::read_to_string(&spec).expect("spec notifications");
    let first = text.lines().next().expect("a line").to_owned();
    let bad = format!("{text}{first}\n{{not json\n");
    let bad_file = dir.join("captured.jsonl");
    std::fs::write(&bad_file, bad).expect("write");
    let bad_arg = bad_file.to_string_lossy().into_owned();
    let run = run_suite(
        &[
            "--notifications-file",
            &bad_arg,
            "--exact",
            "offline::notifications_file",
        ],
        &[],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let failure = &run.failures["offline::notifications_file"];
    assert!(failure.contains("FAIL  invite.terminal-once"), "{failure}");
    assert!(
        failure.contains("announced terminal 2 times, expected once")
            && failure.contains("lines 1, 5"),
        "{failure}"
    );
    assert!(failure.contains("line 6: not JSON"), "{failure}");
}

#[test]
fn captured_notifications_may_be_pretty_printed_or_an_array() {
    let spec = workspace_root().join("selftest/tests/data/spec_notifications.jsonl");
    let documents: Vec<Value> = std::fs::read_to_string(&spec)
        .expect("spec notifications")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let dir = temp("offline-layouts");
    let pretty: String = documents
        .iter()
        .map(|d| serde_json::to_string_pretty(d).expect("JSON") + "\n")
        .collect();
    let array = serde_json::to_string_pretty(&documents).expect("JSON");
    for (name, text) in [("pretty.json", pretty), ("array.json", array)] {
        let file = dir.join(name);
        std::fs::write(&file, text).expect("write");
        let file = file.to_string_lossy().into_owned();
        let run = run_suite(
            &[
                "--notifications-file",
                &file,
                "--exact",
                "offline::notifications_file",
            ],
            &[],
        )
        .expect("runs");
        assert_eq!(run.code, Some(0), "{name}:\n{}", run.all_output());
    }
}

#[test]
fn a_missing_notifications_file_stops_the_run_before_any_trial() {
    let missing = temp("offline-missing").join("captured.jsonl");
    let missing = missing.to_string_lossy().into_owned();
    let run = run_suite(&["--notifications-file", &missing], &[]).expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr.contains("failed to read the notifications file"),
        "{}",
        run.stderr
    );
    assert!(
        run.outcome.as_ref().is_some_and(|o| o.trials.is_empty()),
        "no trial ran:\n{}",
        run.all_output()
    );
}

/// The suite's program: what a user's console shows (`--format json`,
/// `--logfile`) is what this test reads.
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

/// A target that echoes the request's headers back in every answer.
fn echo_stub() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(false).expect("blocking");
    let handle = std::thread::spawn(move || {
        // Bounded: the self-test's runs make far fewer connections.
        for stream in listener.incoming().take(2_000) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = vec![0u8; 65_536];
            let Ok(n) = stream.read(&mut buf) else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let auth = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .unwrap_or("")
                .to_owned();
            let body = json!({"echo": auth, "error": {"code": "x", "message": auth}}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}/v1.0"), handle)
}

#[test]
fn the_token_never_appears_in_any_output() {
    let (target, _stub) = echo_stub();
    let dir = temp("secrets");
    let report = dir.join("report").to_string_lossy().into_owned();
    let saved = dir.join("saved").to_string_lossy().into_owned();
    let log = dir.join("run.log").to_string_lossy().into_owned();
    for format in ["pretty", "json"] {
        let run = run_binary(
            SUITE,
            &[
                "--target",
                &target,
                "--format",
                format,
                "--test-threads",
                "4",
            ],
            &[("CONFORMANCE_TOKEN", TOKEN), ("PROPTEST_CASES", "4")],
        )
        .expect("runs");
        assert_eq!(run.code, Some(101), "{}", run.all_output());
        assert!(
            run.all_output().contains("<redacted>"),
            "the echoed token shows as <redacted>:\n{}",
            run.stdout
        );
        assert!(
            !run.all_output().contains(TOKEN),
            "the token leaked to the console"
        );
    }
    let run = run_binary(
        SUITE,
        &[
            "--target",
            &target,
            "--report",
            &report,
            "--save-failures",
            &saved,
            "--logfile",
            &log,
        ],
        &[("CONFORMANCE_TOKEN", TOKEN), ("PROPTEST_CASES", "4")],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let logged = std::fs::read_to_string(&log).expect("the log file");
    assert!(logged.contains("<redacted>"), "{logged}");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .expect("readable")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 3,
        "report, log and saved cases were written: {files:?}"
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains(TOKEN),
            "the token leaked into {}",
            file.display()
        );
    }
}

/// A target that throttles every request with `429` and `Retry-After: 1`.
fn throttling_stub() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = vec![0u8; 65_536];
            // The suite's reachability probe connects and sends nothing.
            if !matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                continue;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}/v1.0"), seen)
}

#[test]
fn retry_after_is_honoured_within_the_budget_and_reported() {
    let (target, seen) = throttling_stub();
    let run = run_suite(
        &[
            "--target",
            &target,
            "--retry-budget-secs",
            "1",
            "--exact",
            "case::rejections::unknown_call",
        ],
        &[("CONFORMANCE_TOKEN", TOKEN)],
    )
    .expect("runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["case::rejections::unknown_call"];
    assert!(
        text.contains("-> 429 Too Many Requests in")
            && text.contains("(after 1 Retry-After wait, 1 s)"),
        "the wait is reported in the request line:\n{text}"
    );
    assert!(
        text.contains("ERROR the target throttled the request")
            && text.contains("raise --retry-budget-secs"),
        "a throttled answer is no verdict:\n{text}"
    );
    // Per request (the preflight's and the case's), one retry after the one
    // second the budget allows, no more.
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 4);
}
