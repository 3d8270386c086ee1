//! Notifications a bot captured elsewhere (as `harness/src/captured.rs` reads them),
//! checked against the same schemas and the invariants that need no request:
//! every body is a commsNotifications, every operation ends exactly once and
//! its terminal notification names it.

use std::collections::BTreeMap;

use conformance_harness::JsonPath;
use conformance_harness::Schemas;
use conformance_harness::{Check, Detail, Invariant};
use serde_json::Value;

use crate::invariants::{notification_violations, Validation};
use crate::notifications::{
    announces_end, change_type, end_problem, failed_without_result_info, operation_of,
    resource_url, same_id, EndDue,
};

/// The checks of the captured `documents` (line, JSON or why not), each the
/// live invariant of the same id among `invariants` (the contract's).
pub fn check(
    invariants: &[Invariant],
    schemas: &Schemas,
    documents: &[(usize, Result<Value, String>)],
) -> Vec<Check> {
    let mut shape = skeleton(invariants, "notification.schema");
    // (call, op) -> [(line, item)]
    let mut operations: BTreeMap<(&str, &str), Vec<(usize, &Value)>> = BTreeMap::new();
    for (line, doc) in documents {
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                shape = shape.fail_text(format!("line {line}: {e}"));
                continue;
            }
        };
        let found = notification_violations(schemas, doc).unwrap_or_else(|e| Validation {
            violations: vec![conformance_harness::SchemaViolation {
                instance_path: JsonPath::root(),
                schema_path: String::new(),
                message: e,
            }],
            undeclared: Vec::new(),
        });
        shape = shape.undeclared(found.undeclared);
        let violations = found.violations;
        let items = doc.get("value").and_then(Value::as_array);
        for item in items.into_iter().flatten() {
            if let Some(key) = operation_of(resource_url(item)) {
                operations.entry(key).or_default().push((*line, item));
            }
        }
        if !violations.is_empty() {
            shape = shape
                .fail_text(format!("line {line} does not satisfy schemas/commsNotifications.json and the schemas of its resources"))
                .fail(Detail::Schema(violations));
        }
    }

    // The same checks as live, with their level and rule.
    let (mut once, mut matches, mut result_info) = (
        skeleton(invariants, "invite.terminal-once"),
        skeleton(invariants, "invite.terminal-notification-matches"),
        skeleton(invariants, "invite.failed-has-result-info"),
    );
    for ((call, op), items) in &operations {
        let terminal: Vec<&(usize, &Value)> =
            items.iter().filter(|(_, i)| announces_end(i)).collect();
        // Offline, the response is not known: one terminal notification is due.
        if let Some(problem) = end_problem(terminal.len(), EndDue::Once) {
            once = once.fail_text(format!(
                "operation {op} of call {call} was {problem} ({} notification(s), lines {})",
                items.len(),
                lines(items)
            ));
        }
        for (line, item) in terminal {
            if change_type(item) != "deleted" {
                matches = matches.fail_text(format!(
                    "line {line}: the terminal notification has changeType {:?}",
                    change_type(item)
                ));
            }
            // Absent, the resourceUrl alone names the operation (the docs'
            // playPrompt notification); present, it must name the same one.
            match item.pointer("/resourceData/id") {
                None => {}
                Some(Value::String(id)) if same_id(id, op) => {}
                Some(other) => {
                    matches = matches.fail_text(format!(
                        "line {line}: resourceData.id is {}, the resourceUrl names {op}",
                        conformance_harness::render::describe(Some(other))
                    ));
                }
            }
            if item
                .get("resourceData")
                .is_some_and(failed_without_result_info)
            {
                result_info = result_info.fail_text(format!(
                    "line {line}: operation {op} failed without resultInfo.code and subcode"
                ));
            }
        }
    }
    if operations.is_empty() {
        for c in [&mut once, &mut matches, &mut result_info] {
            *c = c
                .clone()
                .not_run("no notification about an operation in the file");
        }
    }
    vec![shape, once, matches, result_info]
}

/// The skeleton of the live invariant `id`: its level, summary and rule.
/// The ids are this file's own, so a missing one is a bug here.
fn skeleton(invariants: &[Invariant], id: &str) -> Check {
    invariants
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("the contract registers no invariant {id:?}"))
        .skeleton()
}

fn lines(items: &[(usize, &Value)]) -> String {
    items
        .iter()
        .map(|(l, _)| l.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
