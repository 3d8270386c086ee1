//! The rooms suite (`tests/rooms/`) can fail: run in this process against
//! its stub with a fault switched on, it fails and names the invariant the
//! fault breaks; run with a lent room, it leaves the room alone and its
//! rerun lines repeat `--room-id`.

#[path = "rooms/mod.rs"]
mod rooms;

use std::collections::BTreeMap;

use conformance_harness::{Generation, RunOutcome};
use rooms::contract::{RoomOptions, RoomsContract};
use rooms::stub::Fault;

/// Runs the rooms suite with `fault` switched on in its stub, and `args`.
/// Nothing is kept: seeds of failing inputs are forgotten.
fn run(fault: Option<&str>, args: &[&str]) -> RunOutcome {
    let settings = rooms::settings();
    let command_line = std::iter::once("rooms").chain(args.iter().copied());
    let (mut options, room) =
        conformance_harness::parse_args::<RoomOptions, _, _>(&settings, command_line)
            .expect("the options parse");
    options.generation = Generation {
        cases: Some(8),
        // Each shrink step is a room and a message: a few suffice to show it shrinks.
        max_shrink_iters: Some(16),
        forget_failures: true,
        ..Generation::default()
    };
    let stub_fault = Fault::named(fault.map(str::to_owned));
    conformance_harness::run(&settings, RoomsContract::new(room, stub_fault), options)
}

/// Each failed trial and the ids of the checks that fail it.
fn failed_checks(run: &RunOutcome) -> BTreeMap<String, Vec<String>> {
    run.failed()
        .map(|trial| {
            let ids = trial
                .verdict
                .iter()
                .flat_map(|v| &v.checks)
                .filter(|c| c.fails(run.strict))
                .map(|c| c.id.clone())
                .collect();
            (trial.name.clone(), ids)
        })
        .collect()
}

fn show(run: &RunOutcome) -> String {
    let failures: Vec<String> = run.failed().filter_map(|t| run.text(&t.name)).collect();
    format!(
        "exit {}\n--- failures\n{}\n--- said\n{}",
        run.code(),
        failures.join("\n"),
        run.said()
    )
}

/// Asserts that each of `tests` failed with `check` among its failures.
fn assert_failed_with(run: &RunOutcome, tests: &[&str], check: &str) {
    assert_eq!(run.code(), 101, "{}", show(run));
    let failed = failed_checks(run);
    for test in tests {
        let ids = failed
            .get(*test)
            .unwrap_or_else(|| panic!("{test} did not fail:\n{}", show(run)));
        assert!(
            ids.iter().any(|id| id == check),
            "{test} failed without {check} (failed: {ids:?}):\n{}",
            show(run)
        );
    }
}

/// A trial's text, as the console shows it.
fn text(run: &RunOutcome, test: &str) -> String {
    run.text(test)
        .unwrap_or_else(|| panic!("{test} did not run:\n{}", show(run)))
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
    let failed = failed_checks(&run);
    assert_eq!(
        failed.get("case::messages::posted"),
        Some(&vec![
            "header.location".to_owned(),
            "message.location".to_owned()
        ]),
        "{}",
        show(&run)
    );
    assert_eq!(failed.len(), 3, "{}", show(&run));
    // The property shrank its input to a case file.
    let prop = text(&run, "prop::rooms::accepts_any_text");
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
    let text = text(&run, "case::messages::posted");
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
    let text = text(&run, "case::messages::posted");
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
    assert_eq!(run.code(), 0, "{}", show(&run));
    assert!(run.unreleased.is_empty(), "{}", show(&run));
    assert!(!run.said().contains("could not be ended"), "{}", show(&run));
}

#[test]
fn a_lent_rooms_failure_reruns_with_its_room() {
    let run = run(
        Some("wrong-location"),
        &["--room-id", "lobby", "--exact", "case::messages::posted"],
    );
    assert_failed_with(&run, &["case::messages::posted"], "message.location");
    let reruns = &run
        .trial("case::messages::posted")
        .and_then(|t| t.verdict.as_ref())
        .expect("a verdict")
        .place
        .rerun;
    assert_eq!(reruns.len(), 2, "{reruns:?}");
    assert!(reruns[0].contains("--room-id lobby"), "{reruns:?}");
    assert!(reruns[1].contains("ROOMS_ROOM_ID=lobby"), "{reruns:?}");
    assert!(
        reruns[0].contains("cargo test -p conformance-harness --test rooms -- --exact"),
        "{reruns:?}"
    );
}

#[test]
fn an_unknown_fault_stops_the_run() {
    let run = run(Some("no-such-fault"), &[]);
    assert_eq!(run.code(), 2, "{}", show(&run));
    assert!(
        run.said()
            .contains("ROOMS_STUB_FAULT=\"no-such-fault\" names no fault"),
        "{}",
        show(&run)
    );
}
