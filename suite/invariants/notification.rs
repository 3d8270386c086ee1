//! Invariants of every notification's shape, resourceData included.

use conformance_harness::JsonPath;
use conformance_harness::{Check, Detail, Exchange};
use serde_json::Value;

use super::*;

/// The schema a notification's `resourceData` must satisfy, by what it is about.
pub(super) fn resource_schema(item: &Value) -> Option<(&'static str, bool)> {
    let url = resource_url(item);
    if url.ends_with("/participants") {
        Some(("participant.json", true))
    } else if url.contains("/operations/") {
        Some(("commsOperation.json", false))
    } else if url.contains("/communications/calls/") {
        Some(("call.json", false))
    } else {
        None
    }
}

/// The schema that declares every member an operation `data` may carry:
/// the invite's operation when it lists participants (the one
/// `commsOperation` type of v1.0 that has them), even without the
/// `@odata.type` that would say so (the walk follows one that does).
/// Validation stays with `commsOperation`: this only keeps a derived type's
/// own members from reading as members beyond the metadata.
fn declaring_schema<'a>(schema: &'a str, data: &Value) -> &'a str {
    if schema == "commsOperation.json" && data.get("participants").is_some() {
        "inviteParticipantsOperation.json"
    } else {
        schema
    }
}

/// What the schemas say of a `commsNotifications` body: its violations
/// and its members beyond the metadata.
#[derive(Debug, Default)]
pub struct Validation {
    pub violations: Vec<conformance_harness::SchemaViolation>,
    pub undeclared: Vec<conformance_harness::Undeclared>,
}

/// A `commsNotifications` body against its schema and, since
/// `resourceData` is open there, against the schema of what each item is about.
pub fn notification_violations(
    schemas: &conformance_harness::Schemas,
    body: &Value,
) -> Result<Validation, String> {
    let mut found = Validation {
        violations: schemas.validate("commsNotifications.json", body)?,
        undeclared: schemas.undeclared("commsNotifications.json", body),
    };
    let items = body.get("value").and_then(Value::as_array);
    for (n, item) in items.into_iter().flatten().enumerate() {
        let (Some((schema, many)), Some(data)) = (resource_schema(item), item.get("resourceData"))
        else {
            continue;
        };
        let at = JsonPath::root().key("value").index(n).key("resourceData");
        let parts: Vec<(JsonPath, &Value)> = match (many, data) {
            (true, Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(k, v)| (at.index(k), v))
                .collect(),
            _ => vec![(at, data)],
        };
        for (prefix, part) in parts {
            found
                .violations
                .extend(schemas.validate(schema, part)?.into_iter().map(|mut v| {
                    v.instance_path = prefix.join(&v.instance_path);
                    v
                }));
            found.undeclared.extend(
                schemas
                    .undeclared(declaring_schema(schema, part), part)
                    .into_iter()
                    .map(|mut u| {
                        u.path = prefix.join(&u.path);
                        u
                    }),
            );
        }
    }
    Ok(found)
}

pub(super) fn notification_schema(ex: &Exchange<'_>, check: Check) -> Check {
    let mut check = check;
    let mut seen = 0;
    for (var, fixture) in ex.fixtures {
        let Some(mailbox) = fixture.mailbox.as_deref() else {
            continue;
        };
        let refused = mailbox.dropped();
        if refused > 0 {
            check = check.fail_text(format!(
                "{var}: {refused} more deliveries were refused: the callback's mailbox was full (a flood?)"
            ));
        }
        // A reused call's earlier notifications were judged with their own cases.
        let deliveries: Vec<_> = mailbox
            .snapshot()
            .into_iter()
            .filter(|d| d.at >= fixture.since)
            .collect();
        for (i, delivery) in deliveries.iter().enumerate() {
            seen += 1;
            let ct = delivery.content_type.as_deref().unwrap_or("");
            if !ct.to_ascii_lowercase().starts_with("application/json") {
                check = check.fail_text(format!(
                    "{var}: delivery {i} has Content-Type {}",
                    quote(ct)
                ));
            }
            let body = match delivery.body() {
                Err(e) => {
                    check = check.fail_text(format!("{var}: delivery {i} is {e}"));
                    continue;
                }
                Ok(b) => b,
            };
            let Validation {
                violations,
                undeclared,
            } = match notification_violations(ex.cx.schemas, body) {
                Ok(v) => v,
                Err(e) => return check.fail_text(e),
            };
            check = check.undeclared(undeclared);
            if !violations.is_empty() {
                check = check
                    .fail_text(format!(
                        "{var}: delivery {i} does not satisfy schemas/commsNotifications.json and the schemas of its resources"
                    ))
                    .fail(Detail::Schema(violations));
            }
        }
    }
    if seen == 0 {
        check.not_run("no notification received")
    } else {
        check
    }
}
