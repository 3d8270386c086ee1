//! The rendered text of each kind of mismatch, built from verdicts by hand so
//! the renderer is pinned independently of any target.

use conformance_harness::render::{render_verdict, Styles};
use conformance_harness::JsonPath;
use conformance_harness::{Check, Detail, Difference, Level, SchemaViolation, Verdict, Where};
use serde_json::json;

fn place() -> Where {
    Where {
        test: "case::invite::example".into(),
        file: Some("cases/invite/example.json".into()),
        about: Some("An example case".into()),
        spec: Some("Example 1".into()),
        request: Some(
            "POST /communications/calls/{{call}}/participants/invite -> 200 OK in 3 ms".into(),
        ),
        rerun: vec!["cargo test -- --exact case::invite::example".into()],
        extra: Vec::new(),
        input: None,
        seed: None,
    }
}

fn verdict(checks: Vec<Check>) -> Verdict {
    Verdict {
        place: place(),
        checks,
        ..Verdict::default()
    }
}

fn plain(v: &Verdict) -> String {
    render_verdict(v, Styles::default(), false, &[])
}

fn path(p: &str) -> JsonPath {
    JsonPath::parse(p).unwrap()
}

#[test]
fn value_missing_unexpected_and_type_mismatches() {
    let diffs = vec![
        Difference {
            path: path("$.participants[0].identity.user.id"),
            expected: Some(json!("u_123")),
            actual: Some(json!("u_124")),
        },
        Difference {
            path: path("$.clientContext"),
            expected: Some(json!("abc")),
            actual: None,
        },
        Difference {
            path: path("$.extra"),
            expected: None,
            actual: Some(json!({"a": 1, "b": 2})),
        },
        Difference {
            path: path("$.status"),
            expected: Some(json!("running")),
            actual: Some(json!(1)),
        },
        Difference {
            path: path("$['@odata.type']"),
            expected: Some(json!("x")),
            actual: Some(json!(null)),
        },
        Difference {
            path: path("$.participants"),
            expected: Some(json!([1, 2])),
            actual: Some(json!([1, 2, 3, 4, 5])),
        },
    ];
    let v = verdict(vec![
        Check::new("status", Level::Must, "is 200"),
        Check::new("body", Level::Must, "matches expect.body (exact)")
            .fail(Detail::Differences(diffs))
            .fail(Detail::Diff {
                expected_label: "expected".into(),
                actual_label: "actual".into(),
                expected: json!({"b": 1, "a": {"z": [1, 2], "y": "same"}}),
                actual: json!({"a": {"y": "same", "z": [1, 3]}, "b": 2}),
            }),
    ]);
    insta::assert_snapshot!(plain(&v));
}

#[test]
fn schema_violation_and_skipped_checks() {
    let v = verdict(vec![
        Check::new("status", Level::Must, "is 200"),
        Check::new(
            "schema",
            Level::Must,
            "body satisfies schemas/inviteParticipantsOperation.json",
        )
        .fail(Detail::Schema(vec![SchemaViolation {
            instance_path: path("$.status"),
            schema_path: "schemas/operationStatus.json#/pattern".into(),
            message: "\"pending\" does not match the pattern (found string \"pending\")".into(),
        }])),
        Check::new(
            "invite.operation-get",
            Level::Should,
            "GET on the Location returns the same operation",
        )
        .not_run("no Location header"),
    ]);
    insta::assert_snapshot!(plain(&v));
}

#[test]
fn should_level_warns_and_fails_under_strict() {
    let v = verdict(vec![
        Check::new("status", Level::Must, "is 4xx"),
        Check::new(
            "invite.group-max-five",
            Level::Should,
            "more than 5 participants are rejected",
        )
        .fail_text("6 participants answered 200 OK, expected a 4xx"),
    ]);
    assert!(v.passed(false));
    assert!(!v.passed(true));
    let relaxed = plain(&v);
    let strict = render_verdict(&v, Styles::default(), true, &[]);
    assert!(relaxed.contains("WARN  invite.group-max-five"), "{relaxed}");
    assert!(strict.contains("FAIL  invite.group-max-five"), "{strict}");
    insta::assert_snapshot!(relaxed);
}

#[test]
fn transport_errors_read_as_errors_not_diffs() {
    let mut v = verdict(Vec::new());
    v.place.request = None;
    v.error = Some(
        "failed to get a response from http://127.0.0.1:9/v1.0/communications/calls within 1500 ms"
            .into(),
    );
    let text = plain(&v);
    assert!(
        !text.contains("---"),
        "no diff for a transport error: {text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn long_strings_are_truncated() {
    let long = "x".repeat(500);
    let v = verdict(vec![Check::new("body", Level::Must, "matches").fail(
        Detail::Differences(vec![Difference {
            path: path("$.clientContext"),
            expected: Some(json!(long)),
            actual: Some(json!("short")),
        }]),
    )]);
    let text = plain(&v);
    // An excerpt that says the whole length, not what was left out.
    assert!(text.contains("…\" (500 bytes)"), "{text}");
}

#[test]
fn secrets_are_redacted_by_value_and_colour_is_a_layer() {
    let v =
        verdict(vec![Check::new("status", Level::Must, "is 200")
            .fail_text("the token s3cr3t-token was refused")]);
    let text = render_verdict(&v, Styles::default(), false, &["s3cr3t-token".into()]);
    assert!(!text.contains("s3cr3t-token"), "{text}");
    assert!(text.contains("<redacted>"));
    let coloured = render_verdict(&v, Styles { color: true }, false, &[]);
    assert!(coloured.contains("\u{1b}[1;31mFAIL\u{1b}[0m"), "{coloured}");
    assert!(!plain(&v).contains('\u{1b}'));
}
