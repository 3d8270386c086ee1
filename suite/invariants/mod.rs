//! The documented invariants of `participant: invite`, each with an id, a level
//! and the sentence it enforces. Each correlates the request with what came
//! back: the response, its `Location`, the operation, and the notifications.

mod consistency;
mod errors;
pub(crate) mod notification;
mod operation;
mod response;
mod roster;

use std::sync::Arc;

use conformance_harness::notification_items;
use conformance_harness::{Delivery, Mailbox};
use conformance_harness::{Exchange, Invariant, Level};
use serde_json::Value;

pub(crate) use crate::notifications::{
    announces_end, call_items, change_type, end_problem, failed_without_result_info, is_terminal,
    names, operation_deleted_items, operation_items, refs, resource_url, roster_items, status_of,
    wait, wait_since, EndDue,
};
pub use notification::{notification_violations, Validation};

/// A value from the target, quoted in a message: an excerpt, its length said.
pub(crate) use conformance_harness::sanitize::quote;

/// An id from the target, named in a message: an excerpt, its length said
/// when it is cut (an 8 MiB operation id costs its excerpt, not 8 MiB).
pub(crate) fn short(id: &str) -> std::borrow::Cow<'_, str> {
    conformance_harness::sanitize::excerpt(id, conformance_harness::sanitize::QUOTE_MAX)
}

const SUCCESS: &str = "If successful, this method returns a `200 OK` response code and a location header with a URI to the inviteParticipantsOperation created for this request.";
const BODY: &str = "The body of the response contains the created inviteParticipantsOperation.";
const OPERATIONS: &str = "For more information about how to handle operations, see commsOperation.";

/// Lists of invariants a case names as `@name`: what must hold of every
/// accepted invite, and of every rejection.
pub const PRESETS: &[(&str, &[&str])] = &[
    (
        "accepted",
        &[
            "invite.location",
            "invite.content-type",
            "invite.status-value",
            "invite.client-context-echo",
            "invite.participants-echo",
            "invite.response-consistent",
            "invite.client-context-limit",
            "invite.operation-get",
            "invite.terminal-once",
            "invite.terminal-notification-matches",
            "invite.terminal-notification-consistent",
            "invite.failed-has-result-info",
            "invite.roster-update",
            "invite.roster-notification-consistent",
            "invite.odata-types",
            "error.no-5xx",
            "notification.schema",
            "response.request-ids",
        ],
    ),
    (
        "rejected",
        &[
            "error.graph-body",
            "error.inner-error",
            "error.no-5xx",
            "response.request-ids",
        ],
    ),
];

/// The rules a run may be judged under (`--profile`), the default first.
pub const PROFILES: &[conformance_harness::Profile] = &[
    conformance_harness::Profile {
        name: "spec",
        about: "the spec page, HTTP's semantics and Graph's compatibility policy are MUST; what Graph is only seen to do is SHOULD",
        must: &[],
    },
    conformance_harness::Profile {
        name: "graph",
        about: "for implementations that claim to behave as Graph does (mocks): what Graph is seen to do is MUST too",
        // Graph's observed behaviour, each from the source its invariant
        // names; a SHOULD that is not Graph's (UTF-16 counting is an
        // inference from its .NET services) stays a SHOULD. Statuses are
        // raised case by case (a case's `profiles`): only those Graph is
        // seen to answer.
        must: &[
            "invite.group-max-five",
            "invite.failed-has-result-info",
            "invite.operation-get",
            "invite.odata-types",
            "response.request-ids",
            "error.graph-body",
            "error.inner-error",
        ],
    },
];

/// The documented invariants. A MUST names the spec page's section it comes
/// from and quotes it (a self-test finds each quote on the page); a rule known
/// only from elsewhere (Graph's behaviour, its other pages, a newer revision)
/// is a SHOULD and names that source.
pub fn all() -> Vec<Invariant> {
    vec![
        Invariant {
            id: "invite.location",
            level: Level::Must,
            summary: "Location ends in /communications/calls/{callId}/operations/{opId}, opId = body id",
            source: "spec page: Response (its form: DESIGN.md, absolute or a path)",
            spec: SUCCESS,
            check: response::location,
        },
        Invariant {
            id: "invite.content-type",
            level: Level::Must,
            summary: "the operation comes as application/json",
            source: "spec page: Examples, Response",
            spec: "HTTP/1.1 200 OK Content-Type: application/json",
            check: response::content_type,
        },
        Invariant {
            id: "invite.status-value",
            level: Level::Must,
            summary: "the operation status is notStarted, running, completed or failed (any casing)",
            source: "spec page: Response (operationStatus; any casing: DESIGN.md)",
            spec: BODY,
            check: response::status_value,
        },
        Invariant {
            id: "invite.client-context-echo",
            level: Level::Must,
            summary: "the operation echoes the request's clientContext",
            source: "spec page: Response, and every example response and notification",
            spec: BODY,
            check: response::client_context_echo,
        },
        Invariant {
            id: "invite.participants-echo",
            level: Level::Must,
            summary: "the operation lists the invited participants",
            source: "spec page: Response, and every example response",
            spec: BODY,
            check: response::participants_echo,
        },
        Invariant {
            id: "invite.response-consistent",
            level: Level::Must,
            summary: "the operation in the response echoes each invited participant with every member sent (displayName aside), and nobody else",
            source: "spec page: Response; Examples (\"All the properties will be returned from an actual call\"; Example 5's response echoes replacesCallId, participantId and identityProvider as sent)",
            spec: BODY,
            check: consistency::response_consistent,
        },
        Invariant {
            id: "invite.client-context-limit",
            level: Level::Must,
            // No level in the words: the rendering adds "(SHOULD)" where the
            // check weighs less (in a SHOULD case, or over 256 UTF-16 units).
            summary: "a clientContext over 256 characters is rejected with 400, one within 256 accepted; over 256 UTF-16 code units (as Graph counts), a 400 is only recommended",
            source: "spec page: Request body (the 400: DESIGN.md; UTF-16 counting: Graph's .NET services)",
            spec: "Unique Client Context string. Max limit is 256 chars.",
            check: response::client_context_limit,
        },
        Invariant {
            id: "invite.p2p-single",
            level: Level::Must,
            summary: "several participants on a peer-to-peer call are rejected with a 4xx",
            source: "spec page: the note at the top",
            spec: "Inviting multiple participants in one request is only supported for group calls.",
            check: response::p2p_single,
        },
        Invariant {
            id: "invite.group-max-five",
            level: Level::Should,
            summary: "more than 5 participants in one invite are rejected with a 4xx",
            source: "Graph: newer revisions of the page (Example 2: up to 5 participants); not in this revision",
            spec: "Up to 5 participants can be invited in one request to a group call.",
            check: response::group_max_five,
        },
        Invariant {
            id: "invite.terminal-once",
            level: Level::Must,
            summary: "the operation reaches exactly one terminal status (in the response, or in one `deleted` notification)",
            source: "spec page: Notification - operation completed; commsOperation (linked from the page)",
            spec: OPERATIONS,
            check: operation::terminal_once,
        },
        Invariant {
            id: "invite.terminal-notification-matches",
            level: Level::Must,
            summary: "the terminal notification names this call and operation and echoes clientContext",
            source: "spec page: Notification - operation completed",
            spec: "\"changeType\":\"deleted\", \"resource\":\"/app/calls/ab6233a5-20b7-4c5e-bea2-ce56c9776429/operations/eec3812a-fdc3-4fb4-825c-a06c9f35414e\", \"resourceUrl\":\"/communications/calls/ab6233a5-20b7-4c5e-bea2-ce56c9776429/operations/eec3812a-fdc3-4fb4-825c-a06c9f35414e\",",
            check: operation::terminal_matches,
        },
        Invariant {
            id: "invite.terminal-notification-consistent",
            level: Level::Must,
            summary: "the terminal notification as a whole: resource in a form the spec shows, resourceData the operation listing the invited participants as sent",
            source: "spec page: Notification - operation completed (Examples 4 and 5)",
            spec: "\"resourceData\":{ \"@odata.type\":\"#microsoft.graph.inviteParticipantsOperation\", \"participants\":[",
            check: consistency::terminal_notification_consistent,
        },
        Invariant {
            id: "invite.failed-has-result-info",
            level: Level::Should,
            summary: "a failed operation carries resultInfo with code and subcode",
            source: "DESIGN.md, from Graph's observed failures (commsOperation.resultInfo; the page does not say)",
            spec: "The operation reaches completed or failed, the latter with resultInfo.",
            check: operation::failed_has_result_info,
        },
        Invariant {
            id: "invite.roster-update",
            level: Level::Must,
            summary: "every invited participant appears in a roster `updated` notification",
            source: "spec page: Response, note",
            spec: "When this API returns a successful response, all participants will receive a roster update.",
            check: roster::roster_update,
        },
        Invariant {
            id: "invite.roster-notification-consistent",
            level: Level::Must,
            summary: "every roster notification about the call is `updated`, its resource names the same roster in a form the spec shows, and its resourceData is an array",
            source: "spec page: Notification - roster updated with participant added (Examples 4 and 5)",
            spec: "\"changeType\":\"updated\", \"resource\":\"/app/calls/ab6233a5-20b7-4c5e-bea2-ce56c9776429/participants\", \"resourceUrl\":\"/communications/calls/ab6233a5-20b7-4c5e-bea2-ce56c9776429/participants\", \"resourceData\":[",
            check: consistency::roster_notification_consistent,
        },
        Invariant {
            id: "invite.move-first-only",
            level: Level::Must,
            summary: "a move moves only the first participant",
            source: "spec page: Example 5, note",
            spec: "If you provide more than one participant in the request body, the invite API will move only the first one.",
            check: roster::move_first_only,
        },
        Invariant {
            id: "invite.move-leaves-source",
            level: Level::Must,
            summary: "a moved participant leaves the meeting it came from",
            source: "spec page: Example 5",
            spec: "You can move one participant from one meeting to another if these two meetings have been created by the same application.",
            check: roster::move_leaves_source,
        },
        Invariant {
            id: "invite.replaced-call-ended",
            level: Level::Must,
            summary: "a replaced peer-to-peer call is terminated and deleted",
            source: "spec page: Example 4, note",
            spec: "With a `completed` status, you can expect to receive notifications about how your original peer-to-peer call has been terminated and deleted.",
            check: roster::replaced_call_ended,
        },
        Invariant {
            id: "invite.operation-get",
            level: Level::Should,
            summary: "GET on the Location, once the operation settled, returns the same operation (id, clientContext, participants as sent, types, the terminal status announced)",
            source: "Graph: GET /communications/calls/{id}/operations/{id} (documented for another operation type only)",
            spec: "A location header with a URI to the inviteParticipantsOperation created for this request; Graph serves that URI, and it returns the operation as it stands.",
            check: response::operation_get,
        },
        Invariant {
            id: "invite.odata-types",
            level: Level::Should,
            summary: "every @odata.type in the response and the invite's notifications names the type of its object (or one derived from it)",
            source: "OData JSON format (@odata.type names the type of its object) and Graph's metadata (derived types); the types as the spec's examples show them",
            spec: "An @odata.type names the type of the object it annotates: the operation is an inviteParticipantsOperation, its participants invitationParticipantInfo, identities an identitySet of identity, the notifications commsNotifications of commsNotification, a roster participant a participant.",
            check: consistency::odata_types,
        },
        Invariant {
            id: "response.request-ids",
            level: Level::Should,
            summary: "every answer carries a request-id header and echoes the client-request-id sent",
            source: "Graph: best practices (request-id and client-request-id identify a request to support)",
            spec: "Every Microsoft Graph response carries request-id, and client-request-id when the request sent one.",
            check: response::request_ids,
        },
        Invariant {
            id: "error.graph-body",
            level: Level::Should,
            summary: "an error answers with Graph's error body (error.code, error.message) as JSON",
            source: "Graph: concepts/errors.md (the page says nothing of errors)",
            spec: "Microsoft Graph errors: {\"error\": {\"code\": string, \"message\": string, \"innerError\": {…}}}.",
            check: errors::graph_error_body,
        },
        Invariant {
            id: "error.inner-error",
            level: Level::Should,
            summary: "an error carries innerError with request-id, date and the echoed client-request-id",
            source: "Graph: concepts/errors.md",
            spec: "Microsoft Graph errors: innerError holds request-id, date and client-request-id.",
            check: errors::inner_error,
        },
        Invariant {
            id: "error.no-5xx",
            level: Level::Must,
            summary: "no input yields a 5xx",
            source: "DESIGN.md: documented invariants (RFC 9110 §15.6: a 5xx says the server erred)",
            spec: "No input, valid or not, yields a 5xx.",
            check: errors::no_5xx,
        },
        Invariant {
            id: "notification.schema",
            level: Level::Must,
            summary: "every notification received is a JSON commsNotifications",
            source: "spec page: Notification examples",
            spec: "POST https://bot.contoso.com/api/calls Content-Type: application/json",
            check: notification::notification_schema,
        },
    ]
}

// ---- helpers shared by the checks ------------------------------------------

pub(super) fn body<'a>(ex: &'a Exchange<'_>) -> Option<&'a Value> {
    ex.response.json_value()
}

pub(super) fn accepted(ex: &Exchange<'_>) -> bool {
    (200..300).contains(&ex.response.status)
}

pub(super) fn call_id<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.vars.get("call").map(String::as_str)
}

pub(super) fn op_id<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    body(ex)?.get("id")?.as_str()
}

pub(super) fn requested<'a>(ex: &Exchange<'a>) -> &'a [Value] {
    ex.request_json
        .and_then(|b| b.get("participants"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn requested_context<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.request_json?.get("clientContext")?.as_str()
}

pub(super) fn mailbox<'a>(ex: &'a Exchange<'_>, var: &str) -> Option<&'a Mailbox> {
    ex.fixtures.get(var)?.mailbox.as_deref()
}

pub(super) fn is_move(participants: &[Value]) -> bool {
    participants.first().is_some_and(|p| {
        p.get("participantId").is_some_and(Value::is_string)
            && p.get("replacesCallId").is_some_and(Value::is_string)
    })
}

/// The identity members that name someone: (`user`, id).
pub(super) fn identity_keys(identity: &Value) -> Vec<(&str, Option<&str>)> {
    identity
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| !k.starts_with('@') && v.is_object())
                .map(|(k, v)| (k.as_str(), v.get("id").and_then(Value::as_str)))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn same_identity(wanted: &Value, actual: &Value) -> bool {
    let keys = identity_keys(wanted);
    !keys.is_empty()
        && keys.iter().all(|(member, id)| match actual.get(member) {
            Some(v) if v.is_object() => id.is_none() || v.get("id").and_then(Value::as_str) == *id,
            _ => false,
        })
}

pub(super) fn roster_has(item: &Value, identity: &Value) -> bool {
    item.get("resourceData")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|p| {
                p.pointer("/info/identity")
                    .is_some_and(|actual| same_identity(identity, actual))
            })
        })
}

pub(super) fn who(identity: &Value) -> String {
    identity_keys(identity)
        .iter()
        .map(|(m, id)| format!("{m} {}", id.as_deref().unwrap_or("(no id)")))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The identities that must reach the roster: all, or only the first for a move.
pub(super) fn first_invitees<'a>(ex: &Exchange<'a>) -> Vec<&'a Value> {
    let participants = requested(ex);
    let take = if is_move(participants) {
        1
    } else {
        participants.len()
    };
    participants
        .iter()
        .take(take)
        .filter_map(|p| p.get("identity"))
        .collect()
}

/// Why a check about an accepted invite cannot run, if it cannot.
pub(super) fn not_accepted(ex: &Exchange<'_>) -> Option<String> {
    if accepted(ex) && body(ex).is_some() {
        None
    } else {
        Some(format!(
            "the invite was not accepted ({})",
            ex.response.status_line()
        ))
    }
}

/// Why a check about the operation's terminal notification has nothing to
/// judge: it does not apply, or the invite already breaks it.
pub(super) enum Unjudged {
    NotRun(String),
    Fail(String),
}

impl Unjudged {
    pub(super) fn apply(self, check: conformance_harness::Check) -> conformance_harness::Check {
        match self {
            Unjudged::NotRun(reason) => check.not_run(reason),
            Unjudged::Fail(text) => check.fail_text(text),
        }
    }
}

/// The call, the operation and the settled notifications of an accepted
/// invite whose end a notification must announce (its response was not
/// terminal).
pub(super) fn awaiting_end<'a>(
    ex: &'a Exchange<'_>,
) -> Result<(&'a str, &'a str, Arc<Settled>), Unjudged> {
    if let Some(reason) = not_accepted(ex) {
        return Err(Unjudged::NotRun(reason));
    }
    if body(ex).and_then(status_of).is_some_and(is_terminal) {
        return Err(Unjudged::NotRun(
            "the response was already terminal".to_owned(),
        ));
    }
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return Err(Unjudged::Fail("the operation has no id".to_owned()));
    };
    let Some(settled) = settled_items(ex) else {
        return Err(Unjudged::NotRun(
            "the call's notifications cannot reach the suite".to_owned(),
        ));
    };
    Ok((call, op, settled))
}

/// The notifications about this invite once it has settled, waited for and
/// read once per exchange however many invariants ask.
pub(super) fn settled_items(ex: &Exchange<'_>) -> Option<Arc<Settled>> {
    ex.memo.get_or("settled_items", || settle(ex).map(Arc::new))
}

/// The deliveries that arrived since the request, shared (not copied) with
/// the mailbox.
pub(super) struct Settled(Vec<Arc<Delivery>>);

impl Settled {
    pub(super) fn items(&self) -> Vec<&Value> {
        notification_items(&self.0)
    }
}

/// Waits for the operation's terminal notification, then for the roster
/// update that follows it, so duplicates sent before it are counted too.
fn settle(ex: &Exchange<'_>) -> Option<Settled> {
    let mailbox = mailbox(ex, "call")?;
    let call = call_id(ex)?.to_owned();
    let op = op_id(ex)?.to_owned();
    let invitees = first_invitees(ex);
    let response_terminal = body(ex).and_then(status_of).is_some_and(is_terminal);
    // Only what came after the request is about it (a reused call has a past).
    Some(Settled(wait_since(
        ex.cx,
        mailbox,
        ex.sent_at,
        ex.notification_deadline,
        |all| {
            let terminal = response_terminal
                || operation_items(all, &call, &op)
                    .iter()
                    .any(|i| announces_end(i));
            let rosters = roster_items(all, &call);
            let roster = invitees
                .iter()
                .all(|id| rosters.iter().any(|r| roster_has(r, id)));
            terminal && roster
        },
    )))
}
