//! Generated inputs against a tenant: each generated identity whose kind
//! the tenant profile maps is replaced, everywhere in the input's case (the
//! request and what it expects), by the profile's identities of that kind,
//! drawn in turn. A kind the profile does not map keeps its generated id.
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
            let n = draws.entry(kind.as_str()).or_default();
            if let Some(theirs) = tenant.draw(kind, *n) {
                *n += 1;
                drawn.insert(id.to_owned(), theirs.to_owned());
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
