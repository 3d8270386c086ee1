//! The built suite against hostile targets (`selftest/src/stubs.rs`): for each,
//! every affected trial ends within its deadlines with an `ERROR` (transport)
//! or a `FAIL` (a check) that says what happened, the run finishes with exit
//! code 101 (2 for a target that cannot be reached at all), nothing panics,
//! and the suite's peak memory stays bounded.
//!
//! Every trial of a run starts at once (`--test-threads 64`), so none waits
//! for another. How long a run takes is not judged (a loaded machine makes
//! any run slow); a run that has not ended after a generous bound hangs, and
//! is killed and fails.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use conformance_selftest::stubs::{
    self, GraphConfig, InviteAnswer, Notifications, Stub, Transport,
};
use conformance_selftest::{parse_failures, run_suite, suite_command, workspace_root, Run};

/// A token the suite must never print.
const TOKEN: &str = "hostile-secret-token-5c4b3a";
const RESPONSE_MS: u64 = 1000;
const NOTIFICATION_MS: u64 = 1000;
/// Past this a run is killed and its test fails: a hang, not slowness.
const KILL_AFTER: Duration = Duration::from_secs(45);
/// The suite's peak resident memory must stay under this. Against a correct
/// target it peaks near 32 MiB; each response it reads is capped at 8 MiB
/// and each callback mailbox at a few MiB. A 100 MB body, or a flood of
/// notifications, kept whole would exceed this bound (the flood test peaked
/// at 438 MiB before the listener bounded its mailboxes by bytes).
const MEMORY_BOUND_KIB: u64 = 160 * 1024;
/// How often the suite's memory is sampled while it runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// The case with a group call, an invite and notifications to await.
const INVITE_CASE: &str = "case::invite::examples::example_3_invite_to_existing_call";
/// The case that sends its invite first, to a call id no target knows.
const UNKNOWN_CALL_CASE: &str = "case::rejections::unknown_call";
/// A case that first creates a group call (through the fixture).
const GROUP_CASE: &str = "case::invite::without_client_context";

/// One run of the suite, watched.
#[derive(Debug)]
struct Watched {
    what: String,
    run: Run,
    /// The highest `VmHWM` read while the suite ran, in KiB.
    peak_kib: Option<u64>,
    killed: bool,
}

/// What selects the trials of a run.
#[derive(Debug, Clone, Copy)]
enum Trials {
    /// Every case of `cases/`.
    AllCases,
    Exact(&'static str),
}

/// Runs the suite against `stub` as `run_suite` does, but spawned rather than
/// awaited: killed past [`KILL_AFTER`], its peak memory read from
/// `/proc/<pid>/status` while it runs.
///
/// `VmHWM` is the kernel's high-water mark of the process's resident memory:
/// it never decreases, so a sample misses no spike that came before it. What
/// it can miss is growth in the last [`SAMPLE_EVERY`] before the process
/// exits, since a process that has exited no longer reports it; the growth a
/// hostile target causes (reading a body, storing notifications) happens
/// while trials run, long before that. The end of the run is noticed as
/// its output pipes closing, not by polling.
fn watch(what: &str, stub: &Stub, trials: Trials) -> Watched {
    let target = stub.target();
    let response = RESPONSE_MS.to_string();
    let notification = NOTIFICATION_MS.to_string();
    let mut args = vec![
        "--target",
        &target,
        "--response-timeout-ms",
        &response,
        "--notification-timeout-ms",
        &notification,
        "--retry-budget-secs",
        "0",
        "--test-threads",
        "64",
        // What a hostile target breaks is often only a SHOULD (an error body
        // that is not Graph's): strict makes every finding a failure to see.
        "--strict",
    ];
    match trials {
        Trials::AllCases => args.push("case::"),
        Trials::Exact(name) => args.extend(["--exact", name]),
    }
    let mut cmd = suite_command(&workspace_root()).expect("the suite binary is built");
    cmd.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("CONFORMANCE_TOKEN", TOKEN);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the suite binary starts");
    let pid = child.id();
    let (closed, pipes_closed) = mpsc::channel();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .map(|pipe| {
        let closed = closed.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            let _ = closed.send(());
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
    .collect();
    drop(closed);
    let mut peak_kib = None;
    let mut open = readers.len();
    let mut killed = false;
    while open > 0 {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(Some(kib));
        }
        match pipes_closed.recv_timeout(SAMPLE_EVERY) {
            Ok(()) => open -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() > KILL_AFTER => {
                let _ = child.kill();
                killed = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().expect("the suite process can be waited for");
    let wall = started.elapsed();
    let mut output = readers
        .into_iter()
        .map(|r| r.join().expect("a pipe reader ends"));
    let stdout = output.next().unwrap_or_default();
    let stderr = output.next().unwrap_or_default();
    eprintln!(
        "hostile: {what}: exit {:?} in {} ms, peak {} KiB",
        status.code(),
        wall.as_millis(),
        peak_kib.unwrap_or(0)
    );
    if std::env::var_os("HOSTILE_SHOW_OUTPUT").is_some() {
        eprintln!("{stdout}\n{stderr}");
    }
    Watched {
        what: what.to_owned(),
        run: Run {
            code: status.code(),
            failures: parse_failures(&stdout),
            stdout,
            stderr,
        },
        peak_kib,
        killed,
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs several watched runs at once, each against its own stub.
fn watch_all(runs: &[(&str, &Stub, Trials)]) -> Vec<Watched> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(what, stub, trials)| scope.spawn(move || watch(what, stub, *trials)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a watched run ends"))
            .collect()
    })
}

impl Watched {
    /// What every hostile run must show: it ended by itself (every wait is
    /// bounded by a deadline; a run still going at [`KILL_AFTER`] hangs),
    /// failed (101) or passed as `code` says, panicked nowhere, kept the
    /// token secret and its memory bounded. How long it took is not judged:
    /// a loaded machine makes any run slow.
    fn assert_sane(&self, code: i32) {
        let all = self.run.all_output();
        assert!(
            !self.killed,
            "{}: the run did not end within {} s and was killed\n{all}",
            self.what,
            KILL_AFTER.as_secs()
        );
        assert_eq!(self.run.code, Some(code), "{}: exit code\n{all}", self.what);
        assert!(
            !all.contains("panicked"),
            "{}: something panicked\n{all}",
            self.what
        );
        assert!(!all.contains(TOKEN), "{}: the token was printed", self.what);
        let peak = self.peak_kib.expect("the suite's memory could be read");
        assert!(
            peak <= MEMORY_BOUND_KIB,
            "{}: the suite's resident memory peaked at {peak} KiB, over {MEMORY_BOUND_KIB} KiB",
            self.what
        );
    }

    fn failure(&self, test: &str) -> &str {
        self.run.failures.get(test).map_or_else(
            || {
                panic!(
                    "{}: {test} did not fail; failures: {:?}\n{}",
                    self.what,
                    self.run.failures.keys().collect::<Vec<_>>(),
                    self.run.all_output()
                )
            },
            String::as_str,
        )
    }

    /// `test` ended in an `ERROR` whose message holds every one of `phrases`.
    fn assert_error(&self, test: &str, phrases: &[&str]) {
        let text = self.failure(test);
        let errors: Vec<&str> = text
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("ERROR "))
            .collect();
        let message = errors.join("\n");
        for phrase in phrases {
            assert!(
                message.contains(phrase),
                "{}: {test}: the ERROR does not say {phrase:?}:\n{text}",
                self.what
            );
        }
    }

    /// Check `id` of `test` failed, and what it printed holds every one of `phrases`.
    fn assert_fail(&self, test: &str, id: &str, phrases: &[&str]) {
        let text = self.failure(test);
        let block = check_block(text, id)
            .unwrap_or_else(|| panic!("{}: {test}: check {id} did not FAIL:\n{text}", self.what));
        for phrase in phrases {
            assert!(
                block.contains(phrase),
                "{}: {test}: FAIL {id} does not say {phrase:?}:\n{text}",
                self.what
            );
        }
    }

    /// Every case trial ended in an `ERROR` holding every one of `phrases`.
    fn assert_every_case_errors(&self, phrases: &[&str]) {
        let cases = case_names();
        assert!(!cases.is_empty());
        for case in cases {
            // libtest pads names into a column: `test NAME   ... ignored`.
            let ignored = self.run.stdout.lines().any(|l| {
                l.strip_prefix("test ")
                    .and_then(|l| l.strip_prefix(case.as_str()))
                    .is_some_and(|rest| {
                        rest.starts_with(' ') && rest.trim_end().ends_with("... ignored")
                    })
            });
            if ignored {
                continue;
            }
            self.assert_error(case, phrases);
        }
    }
}

/// The lines a failed check printed: its `FAIL` line and the details under it.
fn check_block(text: &str, id: &str) -> Option<String> {
    let start = format!("FAIL  {id}:");
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(&start));
    let first = lines.next()?;
    let mut block = vec![first];
    for line in lines {
        let trimmed = line.trim_start();
        let next_check = ["ok    ", "FAIL  ", "WARN  ", "skip  ", "rerun:"]
            .iter()
            .any(|w| trimmed.starts_with(w));
        if next_check {
            break;
        }
        block.push(line);
    }
    Some(block.join("\n"))
}

/// Every case trial the suite lists.
fn case_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let run = run_suite(&["--list", "--format", "terse"], &[]).expect("the suite lists");
        run.stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .filter(|n| n.starts_with("case::"))
            .map(str::to_owned)
            .collect()
    })
}

fn transport(how: Transport) -> Stub {
    stubs::transport(how).expect("the stub starts")
}

fn graph(config: GraphConfig) -> Stub {
    stubs::graph(config).expect("the stub starts")
}

// ---- the transport ----------------------------------------------------------

#[test]
fn connection_refused() {
    let stub = stubs::refused().expect("a port is reserved");
    let w = watch("refused", &stub, Trials::AllCases);
    // The suite probes the target before any trial: an unreachable target is
    // a run that could not run (exit 2), said once, before any trial runs.
    w.assert_sane(2);
    assert_eq!(
        w.run
            .stderr
            .matches("error: could not set up the run")
            .count(),
        1,
        "{}",
        w.run.stderr
    );
    assert!(
        w.run.stderr.contains("Connection refused"),
        "{}",
        w.run.stderr
    );
    assert!(
        !w.run.stdout.contains("test case::"),
        "no trial ran:\n{}",
        w.run.stdout
    );
}

#[test]
fn accepts_and_never_answers() {
    let stub = transport(Transport::Silent);
    let w = watch("silent", &stub, Trials::AllCases);
    // No answer at all is wrong for every trial: one message, before any.
    w.assert_sane(2);
    let said = &w.run.stderr;
    assert_eq!(said.matches("error: ").count(), 1, "{said}");
    assert!(
        said.contains("within 1000 ms") && said.contains("said nothing"),
        "{said}"
    );
    assert!(!w.run.stdout.contains("test case::"), "{}", w.run.stdout);
}

#[test]
fn answers_headers_then_stalls() {
    let stub = transport(Transport::StallAfterHeaders);
    let w = watch("stall after headers", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["within 1000 ms"]);
}

#[test]
fn drips_one_byte_a_second() {
    let stub = transport(Transport::Drip);
    let w = watch("drip", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["within 1000 ms"]);
}

#[test]
fn a_100_mb_body() {
    let chunked = transport(Transport::HugeBody { declared: false });
    let declared = transport(Transport::HugeBody { declared: true });
    let runs = watch_all(&[
        (
            "100 MB chunked, invite",
            &chunked,
            Trials::Exact(UNKNOWN_CALL_CASE),
        ),
        (
            "100 MB chunked, fixture",
            &chunked,
            Trials::Exact(GROUP_CASE),
        ),
        (
            "100 MB declared, invite",
            &declared,
            Trials::Exact(UNKNOWN_CALL_CASE),
        ),
        (
            "100 MB declared, fixture",
            &declared,
            Trials::Exact(GROUP_CASE),
        ),
    ]);
    for w in &runs {
        w.assert_sane(101);
    }
    runs[0].assert_error(UNKNOWN_CALL_CASE, &["larger than 8388608 bytes"]);
    runs[1].assert_error(
        GROUP_CASE,
        &["fixture call (group)", "larger than 8388608 bytes"],
    );
    runs[2].assert_error(UNKNOWN_CALL_CASE, &["larger than 8388608 bytes"]);
    runs[3].assert_error(
        GROUP_CASE,
        &["fixture call (group)", "larger than 8388608 bytes"],
    );
}

#[test]
fn bodies_that_are_not_json() {
    let invalid_utf8 = transport(Transport::Fixed {
        status: 404,
        content_type: "application/json",
        body: b"{\"error\": {\"code\": \"\xff\xfe\xc3\x28\", \"message\": \"m\"}}".to_vec(),
    });
    let html = transport(Transport::Fixed {
        status: 404,
        content_type: "application/json",
        body: b"<html><body>Not Found</body></html>".to_vec(),
    });
    let invite_text = graph(GraphConfig {
        invite: InviteAnswer::Body(b"OK, invited \xff".to_vec()),
        ..GraphConfig::notifications(Notifications::Correct)
    });
    let runs = watch_all(&[
        (
            "invalid UTF-8",
            &invalid_utf8,
            Trials::Exact(UNKNOWN_CALL_CASE),
        ),
        ("HTML", &html, Trials::Exact(UNKNOWN_CALL_CASE)),
        (
            "invite answered in text",
            &invite_text,
            Trials::Exact(INVITE_CASE),
        ),
    ]);
    for w in &runs[..2] {
        w.assert_sane(101);
        w.assert_fail(
            UNKNOWN_CALL_CASE,
            "error.graph-body",
            &["the error body is not JSON"],
        );
    }
    runs[2].assert_sane(101);
    runs[2].assert_fail(INVITE_CASE, "schema", &["the body is not JSON"]);
    runs[2].assert_fail(INVITE_CASE, "body", &["the body is not JSON"]);
}

#[test]
fn wrong_content_type() {
    let error_as_text = transport(Transport::Fixed {
        status: 404,
        content_type: "text/plain",
        body: br#"{"error": {"code": "itemNotFound", "message": "no such call"}}"#.to_vec(),
    });
    let invite_as_html = graph(GraphConfig {
        invite: InviteAnswer::ContentType("text/html; charset=utf-8"),
        ..GraphConfig::notifications(Notifications::Correct)
    });
    let runs = watch_all(&[
        (
            "error as text/plain",
            &error_as_text,
            Trials::Exact(UNKNOWN_CALL_CASE),
        ),
        (
            "invite as text/html",
            &invite_as_html,
            Trials::Exact(INVITE_CASE),
        ),
    ]);
    runs[0].assert_sane(101);
    runs[0].assert_fail(
        UNKNOWN_CALL_CASE,
        "error.graph-body",
        &["Content-Type is \"text/plain\", expected application/json"],
    );
    runs[1].assert_sane(101);
    runs[1].assert_fail(INVITE_CASE, "invite.content-type", &["text/html"]);
}

#[test]
fn connection_reset_mid_body() {
    let stub = transport(Transport::ResetMidBody);
    let w = watch("reset mid-body", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["reset"]);
}

#[test]
fn a_redirect_loop() {
    let stub = transport(Transport::RedirectLoop);
    let w = watch("redirect loop", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["redirect loop"]);
    // The loop was noticed, not followed for ever: a few hops per request.
    let requests = stub.log().requests().len();
    assert!(
        requests <= case_names().len() * 4,
        "{requests} requests for {} trials",
        case_names().len()
    );
}

// ---- the notifications --------------------------------------------------------

#[test]
fn notifications_that_never_come() {
    let after_invite = graph(GraphConfig::notifications(Notifications::NeverAfterInvite));
    let never = graph(GraphConfig::notifications(Notifications::NeverEstablished));
    let runs = watch_all(&[
        (
            "none after the invite",
            &after_invite,
            Trials::Exact(INVITE_CASE),
        ),
        ("not even established", &never, Trials::Exact(INVITE_CASE)),
    ]);
    let w = &runs[0];
    w.assert_sane(101);
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-once",
        &["no terminal notification for operation", "within 1000 ms"],
    );
    w.assert_fail(INVITE_CASE, "invite.roster-update", &["within 1000 ms"]);
    w.assert_fail(
        INVITE_CASE,
        "notification[0]",
        &["expected exactly 1 matching notification, got 0 within 1000 ms"],
    );
    w.assert_fail(
        INVITE_CASE,
        "notification[1]",
        &["no matching notification within 1000 ms"],
    );
    // Not a notification ever reaches the listener: wrong for every trial,
    // said once, with what to change.
    let w = &runs[1];
    w.assert_sane(2);
    let said = &w.run.stderr;
    assert_eq!(said.matches("error: ").count(), 1, "{said}");
    assert!(
        said.contains("no notification reached the suite's listener within 1000 ms")
            && said.contains("reachable from the target")
            && said.contains("--no-notifications"),
        "{said}"
    );
    assert!(w.run.failures.is_empty(), "{}", w.run.stdout);
}

/// A target that closes every connection after one answer, unannounced: the
/// suite's pooled connection is dead when the trial sends its next request
/// (create, invite, GET, DELETE all come from one thread). The run must pass
/// on fresh connections, with no transport error.
#[test]
fn keep_alive_closed_after_each_answer() {
    let stub = graph(GraphConfig {
        close_after_answer: true,
        ..GraphConfig::notifications(Notifications::Correct)
    });
    let w = watch(
        "closes after each answer",
        &stub,
        Trials::Exact(INVITE_CASE),
    );
    w.assert_sane(0);
    let sent = stub.log().requests();
    let requests = sent.len();
    assert!(requests >= 4, "create, invite, GET, DELETE: {sent:?}");
    // The DELETE that ends the call is idempotent: when it meets the closed
    // connection, it goes again on a new one rather than being lost.
    assert!(
        sent.iter().any(|r| r.starts_with("DELETE ")),
        "the call was ended: {sent:?}"
    );
    assert!(
        !w.run.stderr.contains("could not be ended"),
        "{}",
        w.run.stderr
    );
    assert!(
        stub.log().connections() >= requests,
        "every request came on a connection of its own: {} connections, {requests} requests",
        stub.log().connections()
    );
}

#[test]
fn notifications_that_come_twice() {
    let stub = graph(GraphConfig::notifications(Notifications::Twice));
    let w = watch("twice", &stub, Trials::Exact(INVITE_CASE));
    w.assert_sane(101);
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-once",
        &["announced terminal 2 times, expected once"],
    );
    w.assert_fail(
        INVITE_CASE,
        "notification[0]",
        &["expected exactly 1 matching notification, got 2"],
    );
}

#[test]
fn notifications_for_another_call() {
    let stub = graph(GraphConfig::notifications(Notifications::OtherCall));
    let w = watch("another call", &stub, Trials::Exact(INVITE_CASE));
    w.assert_sane(101);
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-once",
        &["no terminal notification for operation"],
    );
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-notification-matches",
        &["no `deleted` notification names /communications/calls/"],
    );
    w.assert_fail(
        INVITE_CASE,
        "invite.roster-update",
        &["0 roster update(s) for call"],
    );
    w.assert_fail(INVITE_CASE, "notification[0]", &["got 0 within 1000 ms"]);
}

#[test]
fn a_flood_of_notifications() {
    let count = 5_000;
    let stub = graph(GraphConfig::notifications(Notifications::Flood {
        count,
        padding: 16 << 10,
    }));
    let w = watch("flood", &stub, Trials::Exact(INVITE_CASE));
    w.assert_sane(101);
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-once",
        &["announced terminal", "times, expected once"],
    );
    w.assert_fail(
        INVITE_CASE,
        "notification[0]",
        &["expected exactly 1 matching notification, got"],
    );
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for s in stub.log().sent().iter().filter(|s| s.what != "established") {
        let answer = match &s.outcome {
            Ok(status) => status.to_string(),
            Err(e) => format!("no answer: {e}"),
        };
        *answers.entry(format!("{} {answer}", s.what)).or_default() += 1;
    }
    eprintln!("hostile: flood: answers {answers:?}");
    let delivered: usize = answers
        .iter()
        .filter(|(k, _)| k.starts_with("flood 2"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        delivered > 100,
        "the flood did not reach the suite: {answers:?}"
    );
}

#[test]
fn malformed_notifications() {
    let not_json = graph(GraphConfig::notifications(Notifications::NotJson));
    let wrong_shape = graph(GraphConfig::notifications(Notifications::WrongShape));
    let runs = watch_all(&[
        ("not JSON", &not_json, Trials::Exact(INVITE_CASE)),
        ("wrong shape", &wrong_shape, Trials::Exact(INVITE_CASE)),
    ]);
    let w = &runs[0];
    w.assert_sane(101);
    w.assert_fail(INVITE_CASE, "notification.schema", &["is not JSON"]);
    w.assert_fail(
        INVITE_CASE,
        "notification[1]",
        &["no matching notification within 1000 ms", "were not JSON"],
    );
    let w = &runs[1];
    w.assert_sane(101);
    w.assert_fail(
        INVITE_CASE,
        "notification.schema",
        &["does not satisfy schemas/commsNotifications.json"],
    );
    w.assert_fail(
        INVITE_CASE,
        "invite.terminal-once",
        &["no terminal notification"],
    );
}

#[test]
fn notifications_to_guessed_callback_paths() {
    let guesses = 200;
    let stub = graph(GraphConfig::notifications(Notifications::GuessedPaths {
        guesses,
        stalled: 500,
    }));
    let w = watch("guessed paths", &stub, Trials::Exact(INVITE_CASE));
    // Nothing the guesses sent reached the trial: it passes, every check.
    w.assert_sane(0);
    assert!(w.run.failures.is_empty(), "{}", w.run.all_output());
    assert!(
        w.run.stdout.contains(" 1 passed;"),
        "{}",
        w.run.all_output()
    );
    let sent = stub.log().sent();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let hogged = sent
        .iter()
        .find(|s| s.what == "stalled")
        .map(|s| s.path.clone());
    eprintln!("hostile: guessed paths: {hogged:?}");
    assert_eq!(hogged.as_deref(), Some("500 connections with half a head"));

    for s in sent.iter().filter(|s| s.what == "guess") {
        let answer = match &s.outcome {
            Ok(status) => status.to_string(),
            Err(e) => format!("no answer: {e}"),
        };
        *answers.entry(answer).or_default() += 1;
        assert!(
            !matches!(s.outcome, Ok(200..=299)),
            "the listener accepted {} {}: {:?}",
            s.method,
            s.path,
            s.outcome
        );
    }
    eprintln!("hostile: guessed paths: answers {answers:?}");
    let tried: usize = answers.values().sum();
    assert!(tried > guesses, "only {tried} guesses were made");
    let delivered: Vec<_> = sent
        .iter()
        .filter(|s| s.what != "guess" && s.what != "stalled")
        .collect();
    assert!(
        delivered.iter().all(|s| matches!(s.outcome, Ok(202))),
        "the real notifications were not all accepted: {delivered:?}"
    );
}
