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

use conformance_selftest::stubs::{
    self, GraphConfig, InviteAnswer, Notifications, Stub, Transport,
};
use conformance_selftest::watch::{case_names, watch, watch_all, Trials, Watch};

/// The suite's program: these runs are watched as processes (memory, output).
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

/// The case with a group call, an invite and notifications to await.
const INVITE_CASE: &str = "case::invite::examples::example_3_invite_to_existing_call";
/// The case that sends its invite first, to a call id no target knows.
const UNKNOWN_CALL_CASE: &str = "case::rejections::unknown_call";
/// A case that first creates a group call (through the fixture).
const GROUP_CASE: &str = "case::invite::without_client_context";

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
    let w = watch(SUITE, "refused", &stub, Trials::AllCases);
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
    let w = watch(SUITE, "silent", &stub, Trials::AllCases);
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
    let w = watch(SUITE, "stall after headers", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["within 1000 ms"]);
}

#[test]
fn drips_one_byte_a_second() {
    let stub = transport(Transport::Drip);
    let w = watch(SUITE, "drip", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["within 1000 ms"]);
}

#[test]
fn a_100_mb_body() {
    let chunked = transport(Transport::HugeBody { declared: false });
    let declared = transport(Transport::HugeBody { declared: true });
    let runs = watch_all(
        SUITE,
        &[
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
        ],
    );
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
    let runs = watch_all(
        SUITE,
        &[
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
        ],
    );
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
    let runs = watch_all(
        SUITE,
        &[
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
        ],
    );
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
    let w = watch(SUITE, "reset mid-body", &stub, Trials::AllCases);
    w.assert_sane(101);
    w.assert_every_case_errors(&["reset"]);
}

#[test]
fn a_redirect_loop() {
    let stub = transport(Transport::RedirectLoop);
    // By default a redirect is the target's answer, judged as one: nothing
    // is followed.
    let judged = watch(
        SUITE,
        "redirect loop, judged",
        &stub,
        Trials::Exact(UNKNOWN_CALL_CASE),
    );
    judged.assert_sane(101);
    judged.assert_fail(UNKNOWN_CALL_CASE, "status", &["got 307 Temporary Redirect"]);
    let sent = stub.log().requests();
    assert!(
        sent.iter().all(|r| !r.contains("/loop/")),
        "a redirect was followed: {sent:?}"
    );
    // Followed when asked, the loop is noticed, not followed for ever: a
    // few hops per request.
    let w = Watch::hostile(SUITE, "redirect loop, followed", &stub.target())
        .args(&["--follow-redirects"])
        .trials(Trials::AllCases)
        .run();
    w.assert_sane(101);
    w.assert_every_case_errors(&["redirect loop"]);
    let requests = stub.log().requests().len() - sent.len();
    assert!(
        requests <= case_names(SUITE).len() * 4,
        "{requests} requests for {} trials",
        case_names(SUITE).len()
    );
}

// ---- the notifications --------------------------------------------------------

#[test]
fn notifications_that_never_come() {
    let after_invite = graph(GraphConfig::notifications(Notifications::NeverAfterInvite));
    let never = graph(GraphConfig::notifications(Notifications::NeverEstablished));
    let runs = watch_all(
        SUITE,
        &[
            (
                "none after the invite",
                &after_invite,
                Trials::Exact(INVITE_CASE),
            ),
            ("not even established", &never, Trials::Exact(INVITE_CASE)),
        ],
    );
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
        SUITE,
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
    let w = watch(SUITE, "twice", &stub, Trials::Exact(INVITE_CASE));
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
    let w = watch(SUITE, "another call", &stub, Trials::Exact(INVITE_CASE));
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
    let w = watch(SUITE, "flood", &stub, Trials::Exact(INVITE_CASE));
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
    let runs = watch_all(
        SUITE,
        &[
            ("not JSON", &not_json, Trials::Exact(INVITE_CASE)),
            ("wrong shape", &wrong_shape, Trials::Exact(INVITE_CASE)),
        ],
    );
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
        stalled: 200,
    }));
    let w = watch(SUITE, "guessed paths", &stub, Trials::Exact(INVITE_CASE));
    // Nothing the guesses sent reached the trial: it passes, every check.
    w.assert_sane(0);
    w.assert_one_passed();
    let sent = stub.log().sent();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let hogged = sent
        .iter()
        .find(|s| s.what == "stalled")
        .map(|s| s.path.clone());
    eprintln!("hostile: guessed paths: {hogged:?}");
    assert_eq!(hogged.as_deref(), Some("200 connections with half a head"));

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
