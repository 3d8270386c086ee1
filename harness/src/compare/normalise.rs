//! What the contract leaves free, taken out before a recording and a
//! replay are compared, so that what differs is a real difference: which
//! id the target made up (`<id:3>` is `<id>`), the casing of the members
//! the contract names, members given as `null` (the same as absent), the
//! host and version before a Location's path, Content-Type's parameters,
//! the order of notifications and how they were batched.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::freedoms::Freedoms;
use crate::listener::Envelope;
use crate::transcript::{Body, Exchange, Notification, Role, Step};

/// An exchange's answer as it is compared: its status, the headers that
/// matter, its body.
pub fn answer(exchange: &Exchange, freedoms: &Freedoms) -> Value {
    let Some(response) = &exchange.response else {
        return json!({ "error": "no response" });
    };
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        match name.as_str() {
            "content-type" => {
                let media = value.split(';').next().unwrap_or_default().trim();
                headers.insert(name.clone(), json!(media.to_ascii_lowercase()));
            }
            "location" => {
                let tail = freedoms
                    .location_tail(value)
                    .unwrap_or_else(|| value.clone());
                headers.insert(name.clone(), json!(ids(&tail)));
            }
            other if freedoms.headers_present.contains(&other) => {
                headers.insert(name.clone(), json!("<present>"));
            }
            _ => {}
        }
    }
    let mut answer = Map::new();
    answer.insert("status".into(), json!(response.status));
    answer.insert("headers".into(), Value::Object(headers));
    if let Some(body) = &response.body {
        answer.insert("body".into(), body_value(body, freedoms));
    }
    Value::Object(answer)
}

fn body_value(body: &Body, freedoms: &Freedoms) -> Value {
    match body {
        Body::Json(v) => value(v, freedoms, None),
        Body::Text(t) => json!({ "text": ids(t) }),
        Body::Hex(h) => json!({ "hex": h }),
    }
}

/// Every notification item of a step, per fixture, normalised and sorted
/// (order and batching are free); a delivery that is not JSON is one item
/// saying so. With `first`, only a fixture's first deliveries in arrival
/// order until they hold that many items: what a replay is compared with
/// the recording on. Whatever comes later is not seen, as an exact count of
/// the suite's own sees what came before the events it awaits: a recording
/// holds what had come when its case was judged, and a replay waits for as
/// much, so when each step ends never decides what differs.
pub fn notifications(
    step: &Step,
    envelope: Envelope,
    freedoms: &Freedoms,
    first: Option<&BTreeMap<String, usize>>,
) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for n in after_request(step) {
        let items = out.entry(n.fixture.clone()).or_default();
        let enough = first.map(|f| f.get(&n.fixture).copied().unwrap_or(0));
        if enough.is_some_and(|enough| items.len() >= enough) {
            continue;
        }
        match &n.body {
            Body::Json(body) => {
                items.extend(envelope(body).into_iter().map(|i| value(i, freedoms, None)));
            }
            other => items.push(json!({ "not JSON": body_value(other, freedoms) })),
        }
    }
    for items in out.values_mut() {
        items.sort_by_cached_key(ToString::to_string);
    }
    out
}

/// The notifications that came once the case's request went (all of them
/// when it never went). Those before are the fixtures' set-up, which
/// generated inputs share when they are recorded (a call made for one input
/// serves the next) but not when they are replayed one by one; the set-up's
/// own requests are compared apart.
fn after_request(step: &Step) -> impl Iterator<Item = &Notification> {
    let since = step
        .exchanges
        .iter()
        .find(|e| e.role == Role::Case)
        .map_or(0.0, |e| e.at_ms);
    step.notifications.iter().filter(move |n| n.at_ms >= since)
}

/// How many notification items each fixture received in a step, once the
/// case's request went.
pub fn counts(step: &Step, envelope: Envelope) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for n in after_request(step) {
        let items = match &n.body {
            Body::Json(body) => envelope(body).len().max(1),
            _ => 1,
        };
        *out.entry(n.fixture.clone()).or_default() += items;
    }
    out
}

/// A JSON value with its free parts taken out.
pub fn value(v: &Value, freedoms: &Freedoms, key: Option<&str>) -> Value {
    match v {
        Value::String(s) => {
            let s = ids(s);
            if key.is_some_and(|k| freedoms.case_insensitive.contains(&k)) {
                Value::String(s.to_ascii_lowercase())
            } else {
                Value::String(s)
            }
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| value(i, freedoms, key)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), value(v, freedoms, Some(k))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `<id:3>` as `<id>`: which number the target's id got is free.
pub fn ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<id:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('>') {
            out.push_str("<id>");
            rest = &after[digits + 1..];
        } else {
            out.push_str("<id:");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREE: Freedoms = Freedoms {
        case_insensitive: &["status"],
        optional: &["@odata.type"],
        location_from: Some("/communications/"),
        headers_present: &["request-id"],
    };

    #[test]
    fn what_the_contract_leaves_free_is_taken_out() {
        assert_eq!(ids("/calls/<id:12>/x/<id:3>"), "/calls/<id>/x/<id>");
        assert_eq!(ids("<id:x> <id:"), "<id:x> <id:");
        assert_eq!(
            value(
                &json!({"status": "Running", "id": "<id:2>", "gone": null, "other": "Running"}),
                &FREE,
                None
            ),
            json!({"status": "running", "id": "<id>", "other": "Running"})
        );
        for location in [
            "https://graph.example.invalid/v1.0/communications/calls/<call>/operations/<op>",
            "/v1.0/communications/calls/<call>/operations/<op>",
            "/communications/calls/<call>/operations/<op>",
        ] {
            assert_eq!(
                FREE.location_tail(location).as_deref(),
                Some("/communications/calls/<call>/operations/<op>"),
                "{location}"
            );
        }
    }
}
