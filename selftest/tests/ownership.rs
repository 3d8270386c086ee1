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

/// Ending its own calls is how the suite cleans up, not part of the invite
/// contract: a target that refuses is a setup error of the stateful model
/// (never a finding, never shrunk), and the calls left open are listed.
#[test]
fn a_target_that_will_not_end_calls_stops_the_model_as_a_setup_error() {
    use conformance_selftest::stubs::{graph, GraphConfig, Notifications};
    let stub = graph(GraphConfig {
        refuse_delete: true,
        ..GraphConfig::notifications(Notifications::Correct)
    })
    .expect("the stub starts");
    let mut env = env();
    env.push(("PROPTEST_RNG_SEED", "7"));
    let run = run_suite(
        &[
            "--target",
            &stub.target(),
            "--exact",
            "prop::invite::stateful_model",
            "--notification-timeout-ms",
            "500",
        ],
        &env,
    )
    .expect("the suite runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures["prop::invite::stateful_model"];
    assert!(
        text.contains("could not be set up") && text.contains("403"),
        "a setup error, with the target's answer:\n{text}"
    );
    assert!(!text.contains("FAIL"), "no check failed:\n{text}");
    assert!(!text.contains("shrunk"), "nothing was shrunk:\n{text}");
    assert!(
        run.stderr.contains("could not be ended"),
        "the calls left open are listed:\n{}",
        run.stderr
    );
}
