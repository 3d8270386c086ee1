//! The documented invariants of `participant: invite`, each with an id, a level
//! and the sentence it enforces. Each correlates the request with what came
//! back: the response, its `Location`, the operation, and the notifications.

use conformance_harness::exchange::HttpRequest;
use conformance_harness::json_path::JsonPath;
use conformance_harness::listener::Mailbox;
use conformance_harness::render::describe;
use conformance_harness::{Check, Detail, Exchange, Invariant, Level};
use serde_json::Value;

use crate::notifications::{
    call_items, change_type, is_terminal, operation_items, refs, resource_url, roster_items,
    status_of, wait, wait_since,
};

const SUCCESS: &str = "If successful, this method returns a `200 OK` response code and a location header with a URI to the inviteParticipantsOperation created for this request.";

pub fn all() -> Vec<Invariant> {
    vec![
        Invariant {
            id: "invite.location",
            level: Level::Must,
            summary: "Location ends in /communications/calls/{callId}/operations/{opId}, opId = body id",
            spec: SUCCESS,
            check: location,
        },
        Invariant {
            id: "invite.content-type",
            level: Level::Must,
            summary: "the operation comes as application/json",
            spec: "Response example: `HTTP/1.1 200 OK` `Content-Type: application/json`.",
            check: content_type,
        },
        Invariant {
            id: "invite.status-value",
            level: Level::Must,
            summary: "the operation status is notStarted, running, completed or failed (any casing)",
            spec: "The body of the response contains the created inviteParticipantsOperation (status: operationStatus).",
            check: status_value,
        },
        Invariant {
            id: "invite.client-context-echo",
            level: Level::Must,
            summary: "the operation echoes the request's clientContext",
            spec: "clientContext: Unique Client Context string. (Example responses echo it.)",
            check: client_context_echo,
        },
        Invariant {
            id: "invite.participants-echo",
            level: Level::Must,
            summary: "the operation lists the invited participants",
            spec: "inviteParticipantsOperation.participants: the participants to invite.",
            check: participants_echo,
        },
        Invariant {
            id: "invite.client-context-limit",
            level: Level::Must,
            summary: "a clientContext over 256 characters (UTF-16 code units) is rejected with 400",
            spec: "clientContext: Unique Client Context string. Max limit is 256 chars.",
            check: client_context_limit,
        },
        Invariant {
            id: "invite.p2p-single",
            level: Level::Must,
            summary: "several participants on a peer-to-peer call are rejected with a 4xx",
            spec: "Inviting multiple participants in one request is only supported for group calls.",
            check: p2p_single,
        },
        Invariant {
            id: "invite.group-max-five",
            level: Level::Should,
            summary: "more than 5 participants in one invite are rejected with a 4xx",
            spec: "Newer revisions: up to 5 participants can be invited in one request (not in the seed's revision, hence SHOULD).",
            check: group_max_five,
        },
        Invariant {
            id: "invite.terminal-once",
            level: Level::Must,
            summary: "the operation reaches exactly one terminal status (in the response, or in one `deleted` notification)",
            spec: "commsOperation: if the response is completed or failed, no further notification follows; otherwise updates arrive via the notification channel (Notification - operation completed).",
            check: terminal_once,
        },
        Invariant {
            id: "invite.terminal-notification-matches",
            level: Level::Must,
            summary: "the terminal notification names this call and operation and echoes clientContext",
            spec: "Notification - operation completed: resourceUrl /communications/calls/{id}/operations/{opId}, resourceData with the same id and clientContext.",
            check: terminal_matches,
        },
        Invariant {
            id: "invite.failed-has-result-info",
            level: Level::Must,
            summary: "a failed operation carries resultInfo with code and subcode",
            spec: "commsOperation.resultInfo: the result information; resultInfo.code and subcode are non-null.",
            check: failed_has_result_info,
        },
        Invariant {
            id: "invite.roster-update",
            level: Level::Must,
            summary: "every invited participant appears in a roster `updated` notification",
            spec: "When this API returns a successful response, all participants will receive a roster update.",
            check: roster_update,
        },
        Invariant {
            id: "invite.move-first-only",
            level: Level::Must,
            summary: "a move moves only the first participant",
            spec: "The invite API can move only one participate per request. If you provide more than one participant in the request body, the invite API will move only the first one.",
            check: move_first_only,
        },
        Invariant {
            id: "invite.move-leaves-source",
            level: Level::Must,
            summary: "a moved participant leaves the meeting it came from",
            spec: "Example 5: Move one participant from one meeting to another.",
            check: move_leaves_source,
        },
        Invariant {
            id: "invite.replaced-call-ended",
            level: Level::Must,
            summary: "a replaced peer-to-peer call is terminated and deleted",
            spec: "With a `completed` status, you can expect to receive notifications about how your original peer-to-peer call has been terminated and deleted.",
            check: replaced_call_ended,
        },
        Invariant {
            id: "invite.operation-get",
            level: Level::Should,
            summary: "GET on the Location returns the same operation",
            spec: "A location header with a URI to the inviteParticipantsOperation created for this request.",
            check: operation_get,
        },
        Invariant {
            id: "error.graph-body",
            level: Level::Must,
            summary: "an error answers with Graph's error body (error.code, error.message) as JSON",
            spec: "Microsoft Graph errors: {\"error\": {\"code\": string, \"message\": string, \"innerError\": {…}}}.",
            check: graph_error_body,
        },
        Invariant {
            id: "error.inner-error",
            level: Level::Should,
            summary: "an error carries innerError with request-id, date and the echoed client-request-id",
            spec: "Microsoft Graph errors: innerError holds request-id, date and client-request-id.",
            check: inner_error,
        },
        Invariant {
            id: "error.no-5xx",
            level: Level::Must,
            summary: "no input yields a 5xx",
            spec: "A request the client got wrong is the client's error (4xx), never the server's.",
            check: no_5xx,
        },
        Invariant {
            id: "notification.schema",
            level: Level::Must,
            summary: "every notification received is a JSON commsNotifications",
            spec: "Notification examples: POST with Content-Type application/json and a commsNotifications body.",
            check: notification_schema,
        },
    ]
}

// ---- helpers -------------------------------------------------------------

fn body<'a>(ex: &'a Exchange<'_>) -> Option<&'a Value> {
    ex.response.json_value()
}

fn accepted(ex: &Exchange<'_>) -> bool {
    (200..300).contains(&ex.response.status)
}

fn call_id<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.vars.get("call").map(String::as_str)
}

fn op_id<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    body(ex)?.get("id")?.as_str()
}

fn requested(ex: &Exchange<'_>) -> Vec<Value> {
    ex.request_json
        .and_then(|b| b.get("participants"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn requested_context<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.request_json?.get("clientContext")?.as_str()
}

fn mailbox<'a>(ex: &'a Exchange<'_>, var: &str) -> Option<&'a Mailbox> {
    ex.fixtures.get(var)?.mailbox.as_deref()
}

fn is_move(participants: &[Value]) -> bool {
    participants.first().is_some_and(|p| {
        p.get("participantId").is_some_and(Value::is_string)
            && p.get("replacesCallId").is_some_and(Value::is_string)
    })
}

/// The identity members that name someone: (`user`, id).
fn identity_keys(identity: &Value) -> Vec<(String, Option<String>)> {
    identity
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| !k.starts_with('@') && v.is_object())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.get("id").and_then(Value::as_str).map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn same_identity(wanted: &Value, actual: &Value) -> bool {
    let keys = identity_keys(wanted);
    !keys.is_empty()
        && keys.iter().all(|(member, id)| match actual.get(member) {
            Some(v) if v.is_object() => {
                id.is_none() || v.get("id").and_then(Value::as_str) == id.as_deref()
            }
            _ => false,
        })
}

fn roster_has(item: &Value, identity: &Value) -> bool {
    item.get("resourceData")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|p| {
                p.pointer("/info/identity")
                    .is_some_and(|actual| same_identity(identity, actual))
            })
        })
}

fn who(identity: &Value) -> String {
    identity_keys(identity)
        .iter()
        .map(|(m, id)| format!("{m} {}", id.as_deref().unwrap_or("(no id)")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Waits for the operation's terminal notification, then for the roster
/// update that follows it, so duplicates sent before it are counted too.
fn settled_items(ex: &Exchange<'_>) -> Option<Vec<Value>> {
    let mailbox = mailbox(ex, "call")?;
    let call = call_id(ex)?.to_owned();
    let op = op_id(ex)?.to_owned();
    let invitees = first_invitees(ex);
    let response_terminal = body(ex).and_then(status_of).is_some_and(is_terminal);
    Some(wait(ex.env, mailbox, ex.notification_deadline, |all| {
        let terminal = response_terminal
            || operation_items(all, &call, &op).iter().any(|i| {
                i.get("resourceData")
                    .and_then(status_of)
                    .is_some_and(is_terminal)
            });
        let roster = invitees
            .iter()
            .all(|id| roster_items(all, &call).iter().any(|r| roster_has(r, id)));
        terminal && roster
    }))
}

/// The identities that must reach the roster: all, or only the first for a move.
fn first_invitees(ex: &Exchange<'_>) -> Vec<Value> {
    let participants = requested(ex);
    let take = if is_move(&participants) {
        1
    } else {
        participants.len()
    };
    participants
        .iter()
        .take(take)
        .filter_map(|p| p.get("identity").cloned())
        .collect()
}

/// Why a check about an accepted invite cannot run, if it cannot.
fn not_accepted(ex: &Exchange<'_>) -> Option<String> {
    if accepted(ex) && body(ex).is_some() {
        None
    } else {
        Some(format!(
            "the invite was not accepted ({})",
            ex.response.status_line()
        ))
    }
}

// ---- the checks -----------------------------------------------------------

fn location(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(location) = ex.response.header("location") else {
        return check.fail_text("the response has no Location header");
    };
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text(format!(
            "Location {location:?}, but the body has no string `id` to compare it with"
        ));
    };
    let tail = format!("/communications/calls/{call}/operations/{op}");
    if location.trim_end_matches('/').ends_with(&tail) {
        check
    } else {
        check.fail_text(format!(
            "Location {location:?} does not end in {tail:?} (call {call}, body id {op})"
        ))
    }
}

fn content_type(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    match ex.response.header("content-type") {
        Some(ct) if ct.to_ascii_lowercase().starts_with("application/json") => check,
        other => check.fail_text(format!("Content-Type is {other:?}")),
    }
}

fn status_value(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    match body(ex).and_then(|b| b.get("status")) {
        Some(Value::String(s)) => {
            let known = ["notstarted", "running", "completed", "failed"];
            if known.contains(&s.to_ascii_lowercase().as_str()) {
                check.note(format!("spelling seen: {s:?}"))
            } else {
                check.fail_text(format!("status {s:?} is not an operationStatus"))
            }
        }
        other => check.fail_text(format!("status is {}", describe(other))),
    }
}

fn client_context_echo(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let actual = body(ex).and_then(|b| b.get("clientContext"));
    match requested_context(ex) {
        Some(sent) if actual.and_then(Value::as_str) == Some(sent) => check,
        Some(sent) => check.fail_text(format!(
            "sent clientContext {sent:?}, the operation has {}",
            describe(actual)
        )),
        None => check.not_run("the request has no clientContext"),
    }
}

fn participants_echo(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(listed) = body(ex)
        .and_then(|b| b.get("participants"))
        .and_then(Value::as_array)
    else {
        return check.fail_text(format!(
            "participants is {}",
            describe(body(ex).and_then(|b| b.get("participants")))
        ));
    };
    let missing: Vec<String> = first_invitees(ex)
        .iter()
        .filter(|id| {
            !listed
                .iter()
                .any(|p| p.get("identity").is_some_and(|a| same_identity(id, a)))
        })
        .map(who)
        .collect();
    if missing.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "the operation's participants ({} listed) lack: {}",
            listed.len(),
            missing.join("; ")
        ))
    }
}

fn client_context_limit(ex: &Exchange<'_>, check: Check) -> Check {
    let Some(sent) = requested_context(ex) else {
        return check.not_run("the request has no clientContext");
    };
    let len = utf16_len(sent);
    match (len > 256, ex.response.status) {
        (true, 400) => check.note(format!("{len} UTF-16 code units rejected")),
        (true, status) => check.fail_text(format!(
            "clientContext of {len} UTF-16 code units ({} characters) answered {status}, expected 400",
            sent.chars().count()
        )),
        (false, status) if (200..300).contains(&status) => check,
        (false, status) => check.fail_text(format!(
            "clientContext of {len} UTF-16 code units is within the limit but answered {status}"
        )),
    }
}

fn call_kind<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.fixtures.get("call").map(|f| f.kind.as_str())
}

fn p2p_single(ex: &Exchange<'_>, check: Check) -> Check {
    let n = requested(ex).len();
    if call_kind(ex) != Some("p2p") || n < 2 {
        return check.not_run("the request is not several participants on a peer-to-peer call");
    }
    if (400..500).contains(&ex.response.status) {
        check
    } else {
        check.fail_text(format!(
            "{n} participants on a peer-to-peer call answered {}, expected a 4xx",
            ex.response.status_line()
        ))
    }
}

fn group_max_five(ex: &Exchange<'_>, check: Check) -> Check {
    let n = requested(ex).len();
    if n <= 5 {
        return check.not_run("5 participants or fewer");
    }
    if (400..500).contains(&ex.response.status) {
        check
    } else {
        check.fail_text(format!(
            "{n} participants answered {}, expected a 4xx",
            ex.response.status_line()
        ))
    }
}

fn terminal_once(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text("the operation has no id");
    };
    let Some(all) = settled_items(ex) else {
        return poll_terminal(ex, check, call, op);
    };
    let ops = operation_items(&all, call, op);
    let terminal: Vec<&Value> = ops
        .iter()
        .copied()
        .filter(|i| {
            i.get("resourceData")
                .and_then(status_of)
                .is_some_and(is_terminal)
        })
        .collect();
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
                    "the terminal notification has changeType {changed:?}, expected \"deleted\""
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
                "no terminal notification for operation {op} within {} ms (response status {response_status:?}); about this operation: [{}]",
                ex.env.options.notification_timeout.as_millis(),
                seen.join(", ")
            ))
        }
        n => check.fail_text(format!(
            "operation {op} was announced terminal {n} times, expected once"
        )),
    }
}

/// Without notifications, the operation is followed by polling its GET until
/// it is terminal: one terminal status is then all that can be checked.
fn poll_terminal(ex: &Exchange<'_>, check: Check, call: &str, op: &str) -> Check {
    if body(ex).and_then(status_of).is_some_and(is_terminal) {
        return check.note("terminal already in the response");
    }
    let path = format!("/communications/calls/{call}/operations/{op}");
    match crate::fixtures::poll(ex.env, &path, ex.notification_deadline, |o| {
        status_of(o).is_some_and(is_terminal)
    }) {
        Ok(o) => check.note(format!(
            "notifications cannot reach the suite; polling GET {path} saw {}",
            describe(o.get("status"))
        )),
        Err(last) => check.fail_text(format!(
            "notifications cannot reach the suite, and polling GET {path} saw no terminal status within {} ms (last: {last})",
            ex.env.options.notification_timeout.as_millis()
        )),
    }
}

fn terminal_matches(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    if body(ex).and_then(status_of).is_some_and(is_terminal) {
        return check.not_run("the response was already terminal");
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text("the operation has no id");
    };
    let Some(all) = settled_items(ex) else {
        return check.not_run("the call's notifications cannot reach the suite");
    };
    let ops = operation_items(&all, call, op);
    let Some(item) = ops.iter().find(|i| change_type(i) == "deleted") else {
        let urls: Vec<&str> = all.iter().map(resource_url).collect();
        return check.fail_text(format!(
            "no `deleted` notification names /communications/calls/{call}/operations/{op}; resourceUrls received: {urls:?}"
        ));
    };
    let mut problems = Vec::new();
    if let Some(resource) = item.get("resource").and_then(Value::as_str) {
        if !resource.ends_with(&format!("/calls/{call}/operations/{op}")) {
            problems.push(format!(
                "resource {resource:?} names another call or operation"
            ));
        }
    }
    let data = item.get("resourceData");
    let data_id = data.and_then(|d| d.get("id"));
    if data_id.and_then(Value::as_str) != Some(op) {
        problems.push(format!(
            "resourceData.id is {}, expected {op:?}",
            describe(data_id)
        ));
    }
    if let Some(sent) = requested_context(ex) {
        let echoed = data.and_then(|d| d.get("clientContext"));
        if echoed.and_then(Value::as_str) != Some(sent) {
            problems.push(format!(
                "resourceData.clientContext is {}, sent {sent:?}",
                describe(echoed)
            ));
        }
    }
    problems.into_iter().fold(check, Check::fail_text)
}

fn failed_has_result_info(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text("the operation has no id");
    };
    let mut operations: Vec<Value> = body(ex).cloned().into_iter().collect();
    if let Some(all) = settled_items(ex) {
        operations.extend(
            operation_items(&all, call, op)
                .iter()
                .filter_map(|i| i.get("resourceData").cloned()),
        );
    }
    let failed: Vec<&Value> = operations
        .iter()
        .filter(|o| status_of(o).is_some_and(|s| s.eq_ignore_ascii_case("failed")))
        .collect();
    if failed.is_empty() {
        return check.not_run("the operation did not fail");
    }
    let bad = failed.iter().filter(|o| {
        let info = o.get("resultInfo");
        !(info.and_then(|i| i.get("code")).is_some_and(Value::is_i64)
            && info
                .and_then(|i| i.get("subcode"))
                .is_some_and(Value::is_i64))
    });
    match bad.count() {
        0 => check,
        n => check.fail_text(format!(
            "{n} failed operation state(s) without resultInfo.code and subcode"
        )),
    }
}

fn roster_update(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(call) = call_id(ex) else {
        return check.not_run("no call");
    };
    let Some(all) = settled_items(ex) else {
        return check.not_run("the call's notifications cannot reach the suite");
    };
    let rosters = roster_items(&all, call);
    let missing: Vec<String> = first_invitees(ex)
        .iter()
        .filter(|id| !rosters.iter().any(|r| roster_has(r, id)))
        .map(who)
        .collect();
    if missing.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "{} roster update(s) for call {call} within {} ms; none lists: {}",
            rosters.len(),
            ex.env.options.notification_timeout.as_millis(),
            missing.join("; ")
        ))
    }
}

fn move_first_only(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if !is_move(&participants) || participants.len() < 2 {
        return check.not_run("the request is not a move of several participants");
    }
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(call) = call_id(ex) else {
        return check.not_run("no call");
    };
    let Some(all) = settled_items(ex) else {
        return check.not_run("the call's notifications cannot reach the suite");
    };
    let rosters = roster_items(&all, call);
    let moved_too: Vec<String> = participants[1..]
        .iter()
        .filter_map(|p| p.get("identity"))
        .filter(|id| rosters.iter().any(|r| roster_has(r, id)))
        .map(who)
        .collect();
    if moved_too.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "besides the first participant, the roster of call {call} also gained: {}",
            moved_too.join("; ")
        ))
    }
}

fn move_leaves_source(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if !is_move(&participants) {
        return check.not_run("the request is not a move");
    }
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let source = participants[0]
        .get("replacesCallId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(fixture) = ex.fixtures.values().find(|f| f.id == source) else {
        return check.not_run("the call moved from is not a fixture of this case");
    };
    let Some(mailbox) = fixture.mailbox.as_deref() else {
        return check.not_run("the source call's notifications cannot reach the suite");
    };
    let Some(identity) = participants[0].get("identity") else {
        return check.fail_text("the moved participant has no identity");
    };
    let left = |all: &[&Value]| {
        roster_items(all, source)
            .iter()
            .any(|r| r.get("resourceData").is_some_and(Value::is_array) && !roster_has(r, identity))
    };
    let all = wait_since(ex.env, mailbox, ex.sent_at, ex.notification_deadline, left);
    if left(&refs(&all)) {
        check
    } else {
        check.fail_text(format!(
            "no roster update of call {source} without {} within {} ms",
            who(identity),
            ex.env.options.notification_timeout.as_millis()
        ))
    }
}

fn replaced_call_ended(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if is_move(&participants) {
        return check.not_run("the request is a move");
    }
    let Some(replaced) = participants
        .first()
        .and_then(|p| p.get("replacesCallId"))
        .and_then(Value::as_str)
    else {
        return check.not_run("the request replaces no call");
    };
    let Some(fixture) = ex
        .fixtures
        .values()
        .find(|f| f.id == replaced && f.kind.ends_with("p2p"))
    else {
        return check.not_run("the replaced call is not a peer-to-peer fixture of this case");
    };
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(mailbox) = fixture.mailbox.as_deref() else {
        return check.not_run("the replaced call's notifications cannot reach the suite");
    };
    let deleted = |all: &[&Value]| {
        call_items(all, replaced)
            .iter()
            .any(|i| change_type(i) == "deleted")
    };
    let all = wait(ex.env, mailbox, ex.notification_deadline, deleted);
    if !deleted(&refs(&all)) {
        return check.fail_text(format!(
            "no `deleted` notification for the replaced call {replaced} within {} ms",
            ex.env.options.notification_timeout.as_millis()
        ));
    }
    let get = HttpRequest {
        method: "GET".into(),
        path: format!("/communications/calls/{replaced}"),
        headers: Vec::new(),
        body: None,
        auth: true,
    };
    match ex.env.send(&get) {
        Ok(r) if r.status == 404 => check,
        Ok(r) => check.fail_text(format!(
            "the replaced call was announced deleted, but GET on it answers {}",
            r.status_line()
        )),
        Err(e) => check.fail_text(format!("GET on the replaced call: {e}")),
    }
}

fn operation_get(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(location) = ex.response.header("location") else {
        return check.not_run("no Location header");
    };
    let Some(start) = location.find("/communications/") else {
        return check.fail_text(format!(
            "Location {location:?} has no /communications/ path"
        ));
    };
    let get = HttpRequest {
        method: "GET".into(),
        path: location[start..].to_owned(),
        headers: Vec::new(),
        body: None,
        auth: true,
    };
    let response = match ex.env.send(&get) {
        Ok(r) => r,
        Err(e) => return check.fail_text(format!("GET {location}: {e}")),
    };
    if response.status != 200 {
        return check.fail_text(format!(
            "GET {location} answered {}",
            response.status_line()
        ));
    }
    let got = response.json_value();
    let mut problems = Vec::new();
    let id = got.and_then(|g| g.get("id"));
    if id != body(ex).and_then(|b| b.get("id")) {
        problems.push(format!(
            "id is {}, the invite returned {}",
            describe(id),
            describe(body(ex).and_then(|b| b.get("id")))
        ));
    }
    if let Some(sent) = requested_context(ex) {
        let cc = got.and_then(|g| g.get("clientContext"));
        if cc.and_then(Value::as_str) != Some(sent) {
            problems.push(format!("clientContext is {}, sent {sent:?}", describe(cc)));
        }
    }
    if let Some(g) = got {
        if let Ok(v) = ex
            .env
            .schemas
            .validate("inviteParticipantsOperation.json", g)
        {
            if !v.is_empty() {
                return problems
                    .into_iter()
                    .fold(check, Check::fail_text)
                    .fail_text(
                        "the operation does not satisfy schemas/inviteParticipantsOperation.json",
                    )
                    .fail(Detail::Schema(v));
            }
        }
    }
    problems.into_iter().fold(check, Check::fail_text)
}

fn graph_error_body(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status < 400 {
        return check.not_run(format!("not an error ({})", ex.response.status_line()));
    }
    let ct = ex.response.header("content-type").unwrap_or("");
    let mut check = check;
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        check = check.fail_text(format!("Content-Type is {ct:?}, expected application/json"));
    }
    match &ex.response.json {
        None => check.fail_text("the error response has no body"),
        Some(Err(e)) => check.fail_text(format!("the error body is {e}")),
        Some(Ok(b)) => match ex.env.schemas.validate("graph-error.json", b) {
            Ok(v) if v.is_empty() => check,
            Ok(v) => check
                .fail_text("the body does not satisfy schemas/graph-error.json")
                .fail(Detail::Schema(v)),
            Err(e) => check.fail_text(e),
        },
    }
}

fn inner_error(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status < 400 {
        return check.not_run(format!("not an error ({})", ex.response.status_line()));
    }
    let inner = body(ex).and_then(|b| b.pointer("/error/innerError"));
    let Some(inner) = inner.filter(|i| i.is_object()) else {
        return check.fail_text(format!("error.innerError is {}", describe(inner)));
    };
    let mut problems = Vec::new();
    for key in ["request-id", "date"] {
        if !inner.get(key).is_some_and(Value::is_string) {
            problems.push(format!(
                "innerError['{key}'] is {}",
                describe(inner.get(key))
            ));
        }
    }
    let sent = ex
        .request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
        .map(|(_, v)| v.as_str());
    if let Some(sent) = sent {
        let echoed = inner.get("client-request-id");
        if echoed.and_then(Value::as_str) != Some(sent) {
            problems.push(format!(
                "innerError['client-request-id'] is {}, sent {sent:?}",
                describe(echoed)
            ));
        }
    }
    problems.into_iter().fold(check, Check::fail_text)
}

fn no_5xx(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status >= 500 {
        check.fail_text(format!("the target answered {}", ex.response.status_line()))
    } else {
        check
    }
}

/// The schema a notification's `resourceData` must satisfy, by what it is about.
fn resource_schema(item: &Value) -> Option<(&'static str, bool)> {
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

/// A `commsNotifications` body's violations of its schema and, since
/// `resourceData` is open there, of the schema of what each item is about.
pub fn notification_violations(
    schemas: &conformance_harness::schema::Schemas,
    body: &Value,
) -> Result<Vec<conformance_harness::verdict::SchemaViolation>, String> {
    let mut violations = schemas.validate("commsNotifications.json", body)?;
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
            violations.extend(schemas.validate(schema, part)?.into_iter().map(|mut v| {
                v.instance_path = prefix.join(&v.instance_path);
                v
            }));
        }
    }
    Ok(violations)
}

fn notification_schema(ex: &Exchange<'_>, check: Check) -> Check {
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
                check = check.fail_text(format!("{var}: delivery {i} has Content-Type {ct:?}"));
            }
            let body = match &delivery.body {
                Err(e) => {
                    check = check.fail_text(format!("{var}: delivery {i} is {e}"));
                    continue;
                }
                Ok(b) => b,
            };
            let violations = match notification_violations(&ex.env.schemas, body) {
                Ok(v) => v,
                Err(e) => return check.fail_text(e),
            };
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
