//! The generated half of the suite: properties over invite bodies. Each
//! generated input becomes a case (the same JSON a case file holds), runs
//! through the same machinery as a case file, and is printed as one when it fails.

mod bodies;
mod model;

use std::sync::Arc;

use conformance_harness::{
    run_generated_case, run_property, Check, Contract, Env, Failure, Level, Property, Verdict,
};
use serde_json::{json, Value};

use crate::options::CallOptions;

use bodies::{any_input, invalid_invite, valid_invite, AnyInput, InvalidInvite, ValidInvite};

const INVITE_PATH: &str = "/communications/calls/{{call}}/participants/invite";

/// The fixture kinds a generated invite may ask for: its call, a call it
/// replaces, a call it moves from.
const ALL_KINDS: &[&str] = &["group", "p2p", "disposable_p2p", "move_source"];
/// The calls an invalid body is sent to, and the model's calls.
const CALL_KINDS: &[&str] = &["group", "p2p"];

pub fn all(options: Arc<CallOptions>) -> Vec<Property> {
    // Known before it runs: the model ends its calls, so it needs calls of
    // its own.
    let model_ignore = (!options.create_calls()).then(|| {
        "the model ends the calls it uses, so it needs calls of its own, and --no-create-calls is set".to_owned()
    });
    let ignore_reason = model_ignore.clone();
    vec![
        Property {
            name: "invite::accepts_valid_bodies".into(),
            run: Box::new(|env, contract| {
                let verdict = run_property(
                    env,
                    "prop::invite::accepts_valid_bodies",
                    valid_invite,
                    |env, v| {
                        crate::fixtures::pooled("accepts_valid_bodies", || {
                            check_case(env, contract, &valid_case(v), Some(true))
                        })
                    },
                );
                crate::fixtures::release_pool(env, "accepts_valid_bodies");
                verdict
            }),
            fixtures: ALL_KINDS.to_vec(),
            ignore: None,
        },
        Property {
            name: "invite::rejects_invalid_bodies".into(),
            run: Box::new(|env, contract| {
                let verdict = run_property(
                    env,
                    "prop::invite::rejects_invalid_bodies",
                    invalid_invite,
                    |env, v| {
                        // The request schema must see what it can see.
                        let schema_valid = Some(!v.violation.schema_detects());
                        crate::fixtures::pooled("rejects_invalid_bodies", || {
                            check_case(env, contract, &invalid_case(v), schema_valid)
                        })
                    },
                );
                crate::fixtures::release_pool(env, "rejects_invalid_bodies");
                verdict
            }),
            fixtures: CALL_KINDS.to_vec(),
            ignore: None,
        },
        Property {
            name: "invite::never_5xx_or_hangs".into(),
            run: Box::new(|env, contract| {
                let verdict = run_property(
                    env,
                    "prop::invite::never_5xx_or_hangs",
                    any_input,
                    |env, input| {
                        let (case, schema) = match input {
                            AnyInput::Valid(v) => (valid_case(v), Some(true)),
                            AnyInput::Invalid(v) => (invalid_case(v), None),
                            AnyInput::Malformed(bytes) => (malformed_case(bytes), None),
                        };
                        crate::fixtures::pooled("never_5xx_or_hangs", || {
                            check_case(env, contract, &no_5xx(case), schema)
                        })
                    },
                );
                crate::fixtures::release_pool(env, "never_5xx_or_hangs");
                verdict
            }),
            fixtures: ALL_KINDS.to_vec(),
            ignore: None,
        },
        Property {
            name: "invite::stateful_model".into(),
            run: Box::new(move |env, _contract| {
                // Run anyway (`--ignored`): still nothing it can do.
                if let Some(reason) = &ignore_reason {
                    return Verdict {
                        skipped: Some(reason.clone()),
                        ..Verdict::default()
                    };
                }
                run_property(
                    env,
                    "prop::invite::stateful_model",
                    model::steps,
                    |env, steps: &Vec<model::Step>| model::check(env, steps),
                )
            }),
            fixtures: CALL_KINDS.to_vec(),
            ignore: model_ignore,
        },
    ]
}

fn case(description: String, fixtures: Value, request: Value, expect: Value) -> Value {
    json!({
        "$schema": "../../schemas/case.schema.json",
        "description": description,
        "spec": "Generated by the suite's properties (suite/props); saved as a case it reproduces the failure.",
        "fixtures": fixtures,
        "request": request,
        "expect": expect,
    })
}

fn valid_case(v: &ValidInvite) -> Value {
    let mut fixtures = json!({"call": v.kind.fixture()});
    let mut invariants: Vec<&str> = vec!["@accepted"];
    if v.replaces {
        fixtures["replace"] = json!("disposable_p2p");
        invariants.push("invite.replaced-call-ended");
    }
    if v.moves {
        fixtures["source"] = json!("move_source");
        invariants.extend(["invite.move-first-only", "invite.move-leaves-source"]);
    }
    case(
        "A generated valid invite is accepted and every invariant holds".into(),
        fixtures,
        json!({"method": "POST", "path": INVITE_PATH, "body": v.body}),
        json!({
            "status": 200,
            "schema": "inviteParticipantsOperation.json",
            "capture": {"op": "$.id"},
            "invariants": invariants,
        }),
    )
}

fn invalid_case(v: &InvalidInvite) -> Value {
    use bodies::Violation;
    let mut invariants: Vec<&str> = vec!["@rejected"];
    // What the page states is a MUST: clientContext over 256 characters is
    // rejected with 400 (DESIGN.md), several participants on a peer-to-peer
    // call with a 4xx, and a body whose required participants (or their
    // identity) are missing, null or of the wrong type cannot succeed: a 4xx
    // (the page's Required and Type columns). Which 4xx is Graph's
    // behaviour (400), so only recommended; so is the answer to an optional
    // member of the wrong type, which a lenient server may read anyway.
    let status = match &v.violation {
        Violation::ClientContextTooLong { units, pairs } => {
            invariants.push("invite.client-context-limit");
            if units - pairs > 256 {
                json!(400)
            } else {
                json!({"should": 400})
            }
        }
        Violation::SeveralOnP2p(_) => {
            invariants.push("invite.p2p-single");
            json!("4xx")
        }
        Violation::WrongType { .. } => json!({"should": 400}),
        _ => json!({"must": "4xx", "should": 400}),
    };
    case(
        format!(
            "A generated invalid invite is rejected: {}",
            v.violation.describe()
        ),
        json!({"call": v.kind.fixture()}),
        json!({"method": "POST", "path": INVITE_PATH, "body": v.body}),
        json!({"status": status, "invariants": invariants}),
    )
}

fn malformed_case(bytes: &[u8]) -> Value {
    let request = match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains("{{") => {
            json!({"method": "POST", "path": INVITE_PATH, "raw": text})
        }
        _ => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            json!({"method": "POST", "path": INVITE_PATH, "raw_hex": hex})
        }
    };
    case(
        "A generated malformed body is rejected with a 4xx".into(),
        json!({"call": "group"}),
        request,
        json!({"status": {"must": "4xx", "should": 400}, "invariants": ["@rejected"]}),
    )
}

/// The same input, judged only on "no 5xx, no hang".
fn no_5xx(mut case: Value) -> Value {
    case["description"] = json!("A generated input never yields a 5xx or a hang");
    case["expect"] =
        json!({"status": ["1xx", "2xx", "3xx", "4xx"], "invariants": ["error.no-5xx"]});
    case
}

/// Runs a generated case; `schema_valid` is what the request schema must say
/// of the body first (a generator that disagrees is a generator bug).
fn check_case(
    env: &Env,
    contract: &dyn Contract,
    case: &Value,
    schema_valid: Option<bool>,
) -> Option<Failure> {
    if let (Some(want), Some(body)) = (schema_valid, case.pointer("/request/body")) {
        let violations = match env.schemas.validate("invite-request.json", body) {
            Ok(v) => v,
            Err(e) => {
                return Some(Failure {
                    error: Some(format!("cannot check the generated body: {e}")),
                    case_file: Some(case.clone()),
                    ..Failure::default()
                })
            }
        };
        if violations.is_empty() != want {
            let mut check = Check::new(
                "generator",
                Level::Must,
                "the generated body is what its generator claims (checked against schemas/invite-request.json)",
            )
            .fail_text(format!(
                "generator bug: the body should {} the request schema but {}",
                if want { "satisfy" } else { "violate" },
                if violations.is_empty() { "satisfies it".to_owned() } else { format!("{} violation(s)", violations.len()) }
            ));
            if !violations.is_empty() {
                check = check.fail(conformance_harness::Detail::Schema(violations));
            }
            return Some(Failure {
                checks: vec![check],
                case_file: Some(case.clone()),
                ..Failure::default()
            });
        }
    }
    run_generated_case(env, contract, case)
}
