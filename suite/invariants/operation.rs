//! Invariants of the operation's end: exactly one terminal status, announced
//! by a notification that names it, with resultInfo when it failed.

use conformance_harness::render::describe;
use conformance_harness::{Check, Exchange};
use serde_json::Value;

use super::*;

pub(super) fn terminal_once(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text("the operation has no id");
    };
    let Some(settled) = settled_items(ex) else {
        return poll_terminal(ex, check, call, op);
    };
    let all = settled.items();
    let ops = operation_items(&all[..], call, op);
    let terminal: Vec<&Value> = ops.iter().copied().filter(|i| announces_end(i)).collect();
    let response_status = body(ex).and_then(status_of).unwrap_or("");
    if is_terminal(response_status) {
        return if ops.is_empty() {
            check.note(format!(
                "terminal already in the response ({response_status})"
            ))
        } else {
            check.fail_text(format!(
                "the response is already {response_status:?}, yet {} notification(s) about the operation followed",
                ops.len()
            ))
        };
    }
    match terminal.len() {
        1 => {
            let changed = change_type(terminal[0]);
            if changed == "deleted" {
                check
            } else {
                check.fail_text(format!(
                    "the terminal notification has changeType {}, expected \"deleted\"",
                    quote(&changed)
                ))
            }
        }
        0 => {
            let seen: Vec<String> = ops
                .iter()
                .map(|i| {
                    format!(
                        "{} status {}",
                        change_type(i),
                        describe(i.pointer("/resourceData/status"))
                    )
                })
                .collect();
            check.fail_text(format!(
                "no terminal notification for operation {} within {} ms (response status {}); about this operation: [{}]",
                short(op),
                ex.cx.options.notification_timeout.as_millis(),
                quote(response_status),
                seen.join(", ")
            ))
        }
        n => check.fail_text(format!(
            "operation {} was {}",
            short(op),
            end_problem(n, EndDue::Once).unwrap_or_default()
        )),
    }
}

/// Without notifications, the operation is followed by polling its GET until
/// it is terminal: one terminal status is then all that can be checked. An
/// operation that answers 404 may be gone because it ended (its end is
/// announced as its deletion, and the spec says nothing of reading it
/// afterwards): its end cannot be seen then.
pub(super) fn poll_terminal(ex: &Exchange<'_>, check: Check, call: &str, op: &str) -> Check {
    if body(ex).and_then(status_of).is_some_and(is_terminal) {
        return check.note("terminal already in the response");
    }
    let path = format!("/communications/calls/{call}/operations/{op}");
    let ended_or_gone = |status: u16, o: Option<&Value>| {
        status == 404 || (status == 200 && o.and_then(status_of).is_some_and(is_terminal))
    };
    match crate::fixtures::poll_until(ex.cx, &path, ex.notification_deadline, ended_or_gone) {
        Ok((404, _)) => check.not_run(format!(
            "notifications cannot reach the suite, and GET {} answers 404: an operation may be gone once it ended, so its end cannot be seen",
            short(&path)
        )),
        Ok((_, o)) => check.note(format!(
            "notifications cannot reach the suite; polling GET {} saw {}",
            short(&path),
            describe(o.as_ref().and_then(|o| o.get("status")))
        )),
        Err(last) => check.fail_text(format!(
            "notifications cannot reach the suite, and polling GET {} saw no terminal status within {} ms (last: {last})",
            short(&path),
            ex.cx.options.notification_timeout.as_millis()
        )),
    }
}

pub(super) fn terminal_matches(ex: &Exchange<'_>, check: Check) -> Check {
    let (call, op, settled) = match awaiting_end(ex) {
        Ok(found) => found,
        Err(unjudged) => return unjudged.apply(check),
    };
    let all = settled.items();
    let Some(&item) = operation_deleted_items(&all[..], call, op).first() else {
        let urls: Vec<String> = all.iter().map(|i| quote(resource_url(i))).collect();
        return check.fail_text(format!(
            "no `deleted` notification names /communications/calls/{}/operations/{}; resourceUrls received: [{}]",
            short(call),
            short(op),
            urls.join(", ")
        ));
    };
    let mut problems = Vec::new();
    if let Some(resource) = item.get("resource").and_then(Value::as_str) {
        if !resource.ends_with(&format!("/calls/{call}/operations/{op}")) {
            problems.push(format!(
                "resource {} names another call or operation",
                quote(resource)
            ));
        }
    }
    let data = item.get("resourceData");
    let data_id = data.and_then(|d| d.get("id"));
    if !data_id
        .and_then(Value::as_str)
        .is_some_and(|id| crate::notifications::same_id(id, op))
    {
        problems.push(format!(
            "resourceData.id is {}, expected {}",
            describe(data_id),
            quote(op)
        ));
    }
    if let Some(sent) = requested_context(ex) {
        let echoed = data.and_then(|d| d.get("clientContext"));
        if echoed.and_then(Value::as_str) != Some(sent) {
            problems.push(format!(
                "resourceData.clientContext is {}, sent {}",
                describe(echoed),
                quote(sent)
            ));
        }
    }
    problems.into_iter().fold(check, Check::fail_text)
}

pub(super) fn failed_has_result_info(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text("the operation has no id");
    };
    let settled = settled_items(ex);
    let all = settled.as_deref().map(Settled::items).unwrap_or_default();
    let mut operations: Vec<&Value> = body(ex).into_iter().collect();
    operations.extend(
        operation_items(&all[..], call, op)
            .into_iter()
            .filter_map(|i| i.get("resourceData")),
    );
    if !operations
        .iter()
        .any(|o| status_of(o).is_some_and(|s| s.eq_ignore_ascii_case("failed")))
    {
        return check.not_run("the operation did not fail");
    }
    match operations
        .iter()
        .filter(|o| failed_without_result_info(o))
        .count()
    {
        0 => check,
        n => check.fail_text(format!(
            "{n} failed operation state(s) without resultInfo.code and subcode"
        )),
    }
}
