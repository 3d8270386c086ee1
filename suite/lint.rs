//! What a case file may not expect, because the spec leaves it free: the
//! freedoms of DESIGN.md, enforced on every case so no case is unfair to a
//! correct implementation.

use conformance_harness::JsonPath;
use serde_json::Value;

/// `(JSON path, problem)` for every expectation a correct target may break.
pub fn case(case: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let expect = case.get("expect");
    let at_expect = JsonPath::root().key("expect");
    if let Some(body) = expect.and_then(|e| e.pointer("/body/value")) {
        free_members(body, at_expect.key("body").key("value"), &mut problems);
    }
    if let Some(location) = expect.and_then(|e| header(e, "location")) {
        for (form, _) in location
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| matches!(k.as_str(), "equals" | "starts_with"))
        {
            problems.push((
                at_expect.key("headers").key("Location").to_string(),
                format!(
                    "`{form}` cannot hold: Location may be absolute on any host or a path (DESIGN.md); use ends_with"
                ),
            ));
        }
    }
    if let Some(problem) = rejection_without_floor(case) {
        problems.push((at_expect.key("status").to_string(), problem));
    }
    let notifications = expect
        .and_then(|e| e.get("notifications"))
        .and_then(Value::as_array);
    for (i, n) in notifications.into_iter().flatten().enumerate() {
        let at = at_expect.key("notifications").index(i);
        let Some(pattern) = n.get("match") else {
            continue;
        };
        free_members(pattern, at.key("match"), &mut problems);
        let url = pattern
            .get("resourceUrl")
            .and_then(Value::as_str)
            .unwrap_or("");
        if url.contains("/operations/") && n.get("unless_response").is_none() {
            problems.push((
                at.to_string(),
                "the operation's end may come in the response instead of a notification (DESIGN.md): add \"unless_response\": {\"path\": \"$.status\", \"in\": [\"completed\", \"failed\"]}".to_owned(),
            ));
        }
        if url.ends_with("/participants") && n.get("count").is_some() {
            problems.push((
                at.key("count").to_string(),
                "a roster update may come more than once, or one per participant (the spec only says every participant receives one): drop count".to_owned(),
            ));
        }
    }
    problems
}

/// A case that expects a rejection (`@rejected`) must say what is required
/// of the answer, not only what is recommended: an input that cannot succeed
/// must not get a 2xx (DESIGN.md). A case whose whole rule is a SHOULD
/// (`"level": "SHOULD"`) requires nothing.
fn rejection_without_floor(case: &Value) -> Option<String> {
    let expect = case.get("expect")?;
    let rejected = expect
        .get("invariants")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|v| v == "@rejected"));
    let whole_case_should = case.get("level").and_then(Value::as_str) == Some("SHOULD");
    let floor = match expect.get("status") {
        Some(Value::Object(status)) => status.contains_key("must"),
        Some(_) => true,
        None => false,
    };
    (rejected && !whole_case_should && !floor).then(|| {
        "a rejection needs a floor: {\"must\": \"4xx\", \"should\": …} (an input that cannot succeed must not get a 2xx, DESIGN.md); where the spec lets a server accept the input, say so with {\"must\": [\"2xx\", \"4xx\"]}".to_owned()
    })
}

/// The header expectation named `name`, in any casing.
fn header<'a>(expect: &'a Value, name: &str) -> Option<&'a Value> {
    expect
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Members an expectation may not pin: `@odata.type` (never required,
/// DESIGN.md) and an operation `status` (any casing, DESIGN.md).
fn free_members(value: &Value, at: JsonPath, problems: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) => {
            for (key, v) in members {
                let path = at.key(key);
                if key == "@odata.type" {
                    problems.push((
                        path.to_string(),
                        "@odata.type is never required (DESIGN.md; OData's minimal metadata leaves it out): an expectation may not name it".to_owned(),
                    ));
                } else if key == "status" && v.is_string() {
                    problems.push((
                        path.to_string(),
                        "operationStatus comes in any casing (DESIGN.md): leave the status to invite.status-value and invite.terminal-once".to_owned(),
                    ));
                } else {
                    free_members(v, path, problems);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                free_members(v, at.index(i), problems);
            }
        }
        _ => {}
    }
}

/// A case recorded from a target made fair: an operation's end may come in
/// the response instead (`unless_response`), and a roster update may come
/// any number of times (no `count`), as [`case`] requires of every case.
pub fn make_fair(mut case: Value) -> Value {
    let notifications = case
        .pointer_mut("/expect/notifications")
        .and_then(Value::as_array_mut);
    for n in notifications.into_iter().flatten() {
        let url = n
            .pointer("/match/resourceUrl")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(n) = n.as_object_mut() else { continue };
        if url.contains("/operations/") {
            n.insert(
                "unless_response".into(),
                serde_json::json!({"path": "$.status", "in": ["completed", "failed"]}),
            );
        }
        if url.ends_with("/participants") {
            n.remove("count");
        }
    }
    case
}
