//! Generated inputs against a tenant: each generated identity whose kind
//! the tenant profile maps is replaced, everywhere in the input's case (the
//! request and what it expects), by the profile's identities of that kind,
//! drawn in turn, each once per input. A kind the profile does not map,
//! and an invitee past the profile's identities of its kind, keeps its
//! generated id.
//! Without `--tenant` nothing changes: a mock takes any id.

use std::collections::BTreeMap;

use conformance_harness::Context;
use serde_json::Value;

/// `case` with its invitees drawn from the run's tenant profile.
pub fn identities(cx: &Context<'_>, case: &Value) -> Value {
    let tenant = &cx.options.tenant;
    if tenant.file.is_none() {
        return case.clone();
    }
    let Some(participants) = case
        .pointer("/request/body/participants")
        .and_then(Value::as_array)
    else {
        return case.clone();
    };
    // The user a move_source call holds is the moved one, never another
    // invitee: a move that names them twice is another input.
    let moved = crate::tenant::CallDetails::of(cx, "move_source")
        .map(|d| d.moved_user)
        .unwrap_or_default();
    // Generated id -> the tenant's, one draw per identity kind in turn.
    let mut drawn: BTreeMap<String, String> = BTreeMap::new();
    let mut draws: BTreeMap<&str, usize> = BTreeMap::new();
    for identity in participants
        .iter()
        .filter_map(|p| p.get("identity").and_then(Value::as_object))
    {
        for (kind, member) in identity {
            let Some(id) = member.get("id").and_then(Value::as_str) else {
                continue;
            };
            if id.contains("{{") || drawn.contains_key(id) {
                continue;
            }
            // Each of the profile's identities once per input: two invitees
            // with one id would be another input. Past them, the generated
            // id stays (a profile lists five of a kind to cover every input).
            let n = draws.entry(kind.as_str()).or_default();
            while let Some(theirs) = tenant.identity(kind, *n) {
                *n += 1;
                if theirs != moved {
                    drawn.insert(id.to_owned(), theirs.to_owned());
                    break;
                }
            }
        }
    }
    replace(case, &drawn)
}

fn replace(value: &Value, drawn: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(drawn.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(items) => Value::Array(items.iter().map(|v| replace(v, drawn)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace(v, drawn)))
                .collect(),
        ),
        other => other.clone(),
    }
}
