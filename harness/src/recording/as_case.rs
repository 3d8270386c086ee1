//! A recorded step as a case file (`--record-cases DIR`): the request as it
//! was sent (fixtures and captures as placeholders again), and expectations
//! that are what the recorded target did: its status, its body (the members
//! that do not change from run to run), its Location, the invariants it met
//! and every notification it sent. Recorded against a live service, it is
//! a repro, ready to drop into `cases/`, of whatever a mock does otherwise.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::contract::{Contract, Description};
use crate::freedoms::Freedoms;

use crate::transcript::{Body, Role, Step};

/// The case file of `step`, as the contract makes it fair; `None` when its
/// case never got an answer.
pub fn case_file(step: &Step, contract: &dyn Contract) -> Option<Value> {
    let description = contract.description();
    let exchange = step.exchanges.iter().find(|e| e.role == Role::Case)?;
    let response = exchange.response.as_ref()?;
    let mut case = step.case.as_object()?.clone();
    let names: BTreeSet<&str> = step
        .vars
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with(crate::tenant::PLACEHOLDER_PREFIX))
        .collect();
    let original = case.get("expect").cloned().unwrap_or(Value::Null);
    let passed = |id: &str| {
        step.verdict
            .checks
            .iter()
            .any(|(check, outcome)| check == id && outcome == "pass")
    };
    let mut expect = Map::new();
    expect.insert("status".into(), json!(response.status));
    if let Some(location) = response.headers.get("location") {
        let mut header = Map::new();
        header.insert("present".into(), json!(true));
        if let Some(tail) = description.freedoms.location_tail(location) {
            if let Some(tail) = templated(&tail, &names) {
                header.insert("ends_with".into(), json!(tail));
            }
        }
        expect.insert("headers".into(), json!({ "Location": header }));
    }
    if passed("schema") {
        if let Some(schema) = original.get("schema") {
            expect.insert("schema".into(), schema.clone());
        }
    }
    // Captures that came, so the expectations below can name them.
    if let Some(capture) = original.get("capture").and_then(Value::as_object) {
        let kept: Map<String, Value> = capture
            .iter()
            .filter(|(name, _)| passed(&format!("capture.{name}")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            expect.insert("capture".into(), Value::Object(kept));
        }
    }
    if let Some(body) = response.body.as_ref().and_then(Body::json) {
        if let Some(value) = stable(body, &names, &description.freedoms) {
            expect.insert("body".into(), json!({"match": "subset", "value": value}));
        }
    }
    if let Some(invariants) = original.get("invariants").and_then(Value::as_array) {
        let met: Vec<Value> = description
            .invariants
            .iter()
            .filter(|i| passed(i.id))
            .filter(|i| named_or_preset(invariants, i.id, description))
            .map(|i| json!(i.id))
            .collect();
        if !met.is_empty() {
            expect.insert("invariants".into(), Value::Array(met));
        }
    }
    // What came after the request: the fixtures' own set-up is not the case's.
    let notifications = notifications(step, exchange.at_ms, description, &names);
    if !notifications.is_empty() {
        expect.insert("notifications".into(), Value::Array(notifications));
    }
    let about = case
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("a recorded case")
        .to_owned();
    case.insert("description".into(), json!(format!("As recorded: {about}")));
    case.remove("ignore");
    case.insert("expect".into(), Value::Object(expect));
    Some(contract.recorded_case(Value::Object(case)))
}

/// Whether the case named invariant `id`, itself or through a preset.
fn named_or_preset(named: &[Value], id: &str, description: &Description) -> bool {
    named.iter().filter_map(Value::as_str).any(|n| {
        n == id
            || n.strip_prefix('@').is_some_and(|preset| {
                description
                    .presets
                    .iter()
                    .any(|(p, members)| *p == preset && members.contains(&id))
            })
    })
}

/// Each distinct notification item the step received, once, with how
/// many times it came.
fn notifications(
    step: &Step,
    since_ms: f64,
    description: &Description,
    names: &BTreeSet<&str>,
) -> Vec<Value> {
    let mut seen: Vec<(String, Value, usize)> = Vec::new();
    for n in step.notifications.iter().filter(|n| n.at_ms > since_ms) {
        let Some(body) = n.body.json() else { continue };
        for item in (description.envelope)(body) {
            let Some(pattern) = stable(item, names, &description.freedoms) else {
                continue;
            };
            match seen
                .iter_mut()
                .find(|(f, p, _)| *f == n.fixture && *p == pattern)
            {
                Some(entry) => entry.2 += 1,
                None => seen.push((n.fixture.clone(), pattern, 1)),
            }
        }
    }
    seen.into_iter()
        .map(|(fixture, pattern, count)| {
            let about = ["changeType", "resourceUrl"]
                .iter()
                .filter_map(|k| pattern.get(*k).and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            let mut expect = Map::new();
            expect.insert("about".into(), json!(format!("as recorded: {about}")));
            if fixture != description.default_fixture {
                expect.insert("fixture".into(), json!(fixture));
            }
            expect.insert("match".into(), pattern);
            expect.insert("count".into(), json!(count));
            Value::Object(expect)
        })
        .collect()
}

/// What of `value` is the same every run and on every implementation the
/// contract allows: placeholders of the case's own variables back as
/// `{{name}}`; left out, members holding any other placeholder (an id the
/// target made up, a time, a callback URL), `null` ones (the same as
/// absent), and those the freedoms leave free (a member that may be
/// absent, one whose casing is free).
fn stable(value: &Value, names: &BTreeSet<&str>, freedoms: &Freedoms) -> Option<Value> {
    match value {
        Value::String(s) => templated(s, names).map(Value::String),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|v| stable(v, names, freedoms))
                .collect(),
        )),
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter(|(k, v)| {
                    !v.is_null()
                        && !freedoms.optional.contains(&k.as_str())
                        && !freedoms.case_insensitive.contains(&k.as_str())
                })
                .filter_map(|(k, v)| stable(v, names, freedoms).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// `text` with `<name>` of a case variable as `{{name}}`; `None` when it
/// holds another placeholder.
fn templated(text: &str, names: &BTreeSet<&str>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) if names.contains(&after[..end]) => {
                out.push_str(&format!("{{{{{}}}}}", &after[..end]));
                rest = &after[end + 1..];
            }
            Some(end) if is_placeholder(&after[..end]) => return None,
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// A placeholder a transcript writes (`<id:3>`, `<time>`, `<callback>`,
/// `<redacted>`) rather than text that happens to hold angle brackets.
fn is_placeholder(inner: &str) -> bool {
    inner.starts_with("id:") || matches!(inner, "time" | "callback" | "redacted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_variables_come_back_as_templates_and_other_placeholders_go() {
        let names: BTreeSet<&str> = ["call", "op"].into();
        let free = Freedoms {
            case_insensitive: &["status"],
            optional: &["@odata.type"],
            location_from: None,
            headers_present: &[],
        };
        let value = json!({
            "@odata.type": "#x",
            "status": "Running",
            "resultInfo": null,
            "id": "<op>",
            "resourceUrl": "/communications/calls/<call>/operations/<op>",
            "participants": [{"id": "<id:4>", "user": "u1"}],
            "at": "<time>",
            "text": "a <b> c"
        });
        assert_eq!(
            stable(&value, &names, &free),
            Some(json!({
                "id": "{{op}}",
                "resourceUrl": "/communications/calls/{{call}}/operations/{{op}}",
                "participants": [{"user": "u1"}],
                "text": "a <b> c"
            }))
        );
    }
}
