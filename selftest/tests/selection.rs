//! Selection by check id and by level (`--checks GLOB`, `--level LEVEL`),
//! for cases and properties alike: only the selected checks are judged, a
//! trial left with none is ignored (never `ok`), a glob that selects no
//! check is a mistake said before any trial, and a rerun repeats the selection.

use conformance_harness::Status;
use conformance_selftest::{failed_check_ids, rerun_lines, run_suite, server, Run};
use invite_reference::{Config, Fault, Variant};

const TOKEN: &str = "selftest-selection-token";

fn run(target: &str, args: &[&str]) -> Run {
    let mut all = vec!["--target", target];
    all.extend_from_slice(args);
    run_suite(&all, &[("CONFORMANCE_TOKEN", TOKEN)]).expect("the suite runs")
}

#[test]
fn only_the_selected_checks_of_a_case_are_judged() {
    let faulty = server(vec![Fault::NoLocation]);
    let target = faulty.base_url();
    let test = "case::invite::examples::example_3_invite_to_existing_call";
    let all = run(&target, &["--exact", test]);
    assert_eq!(all.code, Some(101), "{}", all.all_output());

    let others = run(&target, &["--exact", test, "--checks", "status,error.*"]);
    assert_eq!(others.code, Some(0), "{}", others.all_output());

    let located = run(&target, &["--exact", test, "--checks", "invite.loc*"]);
    assert_eq!(located.code, Some(101), "{}", located.all_output());
    let text = &located.failures[test];
    assert_eq!(failed_check_ids(text), ["invite.location"], "{text}");
    assert!(
        !text.contains("  ok    status"),
        "only the selected checks are shown:\n{text}"
    );
    assert!(
        rerun_lines(text)
            .iter()
            .all(|l| l.contains("--checks 'invite.loc*'")
                || l.contains("CONFORMANCE_CHECKS='invite.loc*'")),
        "{text}"
    );
}

#[test]
fn only_the_selected_checks_of_a_property_are_judged() {
    // Every accepted invite lacks its Location; phone identities get a 500.
    let faulty = server(vec![Fault::NoLocation, Fault::ServerErrorOnPhone]);
    let property = "prop::invite::accepts_valid_bodies";
    let run = run(
        &faulty.base_url(),
        &["--exact", property, "--checks", "error.no-5xx"],
    );
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    assert_eq!(
        failed_check_ids(&run.failures[property]),
        ["error.no-5xx"],
        "{}",
        run.all_output()
    );
}

#[test]
fn a_level_selects_its_checks_and_a_trial_without_any_is_ignored() {
    // Errors not in Graph's shape: only SHOULD checks fail.
    let faulty = server(vec![Fault::NonGraphErrors]);
    let target = faulty.base_url();
    let property = "prop::invite::rejects_invalid_bodies";
    let strict = run(&target, &["--exact", property, "--strict"]);
    assert_eq!(strict.code, Some(101), "{}", strict.all_output());
    let must = run(
        &target,
        &["--exact", property, "--strict", "--level", "MUST"],
    );
    assert_eq!(must.code, Some(0), "{}", must.all_output());

    // A case whose every check is a SHOULD has none at --level MUST.
    let reference = invite_reference::start(Config {
        variants: vec![Variant::NamespacedPath404],
        ..Config::default()
    })
    .expect("the reference server starts");
    let none = run(
        &reference.base_url(),
        &["case::invite::namespaced_action_path", "--level", "MUST"],
    );
    assert_eq!(
        none.status("case::invite::namespaced_action_path"),
        Some(&Status::Ignored(
            "none of its checks is selected (--level MUST)".to_owned()
        )),
        "{}",
        none.all_output()
    );
    let trials = &none.outcome.as_ref().expect("in process").trials;
    assert!(
        trials.iter().all(|t| t.status != Status::Passed),
        "{trials:?}"
    );
}

#[test]
fn a_glob_that_selects_no_check_is_a_mistake() {
    let run = run_suite(&["--checks", "invite.locaton"], &[]).expect("runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr
            .contains("--checks invite.locaton selects no check"),
        "{}",
        run.stderr
    );
    assert!(
        run.outcome.as_ref().is_some_and(|o| o.trials.is_empty()),
        "no trial ran:\n{}",
        run.all_output()
    );
    let level = run_suite(&["--level", "MAY"], &[]).expect("runs");
    assert_eq!(level.code, Some(2), "{}", level.all_output());
}
