//! Never harm the target: calls a user lends are invited into and never
//! ended, and every call the suite creates is ended on every path, cases
//! and properties failing and shrinking included.

use conformance_selftest::{create_call, request, run_suite, server};
use invite_reference::Fault;

const TOKEN: &str = "selftest-ownership-token";

fn env() -> Vec<(&'static str, &'static str)> {
    // Failure persistence is off in every run_suite.
    vec![("CONFORMANCE_TOKEN", TOKEN)]
}

#[test]
fn lent_calls_stay_alive_and_nothing_else_is_left() {
    let server = server(Vec::new());
    let group = create_call(server.addr(), true);
    let p2p = create_call(server.addr(), false);
    let base = server.base_url();
    // The whole suite: cases, every property, the stateful model.
    let run = run_suite(
        &[
            "--target",
            &base,
            "--group-call-id",
            &group,
            "--p2p-call-id",
            &p2p,
        ],
        &env(),
    )
    .expect("the suite runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    for (id, kind) in [(&group, "group"), (&p2p, "peer-to-peer")] {
        let (status, call) = request(
            server.addr(),
            "GET",
            &format!("/communications/calls/{id}"),
            None,
        );
        assert_eq!(status, 200, "the lent {kind} call was ended: {call}");
        assert_eq!(call["state"], "established", "the lent {kind} call: {call}");
    }
    let mut lent = vec![group, p2p];
    lent.sort();
    assert_eq!(
        server.live_calls(),
        lent,
        "after the run the target holds the lent calls and nothing the suite created"
    );
}

#[test]
fn nothing_is_left_after_a_run_where_cases_and_properties_fail() {
    // Cases fail at once (a wrong Location), and the model fails on moves
    // and shrinks, each step waiting out a short deadline.
    let server = server(vec![Fault::WrongLocationOpId, Fault::MoveKeepsOld]);
    let base = server.base_url();
    let mut env = env();
    env.extend([
        ("PROPTEST_CASES", "256"),
        ("PROPTEST_MAX_SHRINK_ITERS", "32"),
        ("PROPTEST_RNG_SEED", "7"),
    ]);
    let run = run_suite(
        &["--target", &base, "--notification-timeout-ms", "300"],
        &env,
    )
    .expect("the suite runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    assert!(
        run.failures.keys().any(|t| t.starts_with("case::"))
            && run
                .failures
                .contains_key("prop::invite::accepts_valid_bodies")
            && run.failures.contains_key("prop::invite::stateful_model"),
        "cases and properties failed: {:?}",
        run.failures.keys()
    );
    assert!(!run.stderr.contains("could not be ended"), "{}", run.stderr);
    assert_eq!(
        server.live_calls(),
        Vec::<String>::new(),
        "every call the suite created was ended"
    );
}
