//! Fault injection: each fault breaks exactly one documented behaviour, so the
//! suite can prove that it notices the break. A fault is one entry of the
//! table below: its name, what it breaks, the inputs it shows on, and its
//! effects, which the seam ([`crate::seam`]) applies where what they break
//! leaves the server.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::resources::{echoed_participants, new_id};
use crate::seam::effect::{Answers, Effect, Notes, Resource, Shown};
use crate::seam::Decision;
use crate::sent::{About, Cause, NoteKind, ResourceMember};

/// How long the `slow-responses` fault holds every response.
const SLOW_RESPONSE_DELAY: Duration = Duration::from_secs(3);

/// Declares the fault enum and its name, description, trigger and effect
/// tables in one place, so a new fault cannot be added without a name, a
/// description, a word on which inputs trigger it, and what it does.
macro_rules! faults {
    ($($variant:ident => $name:literal, $description:literal, $trigger:expr,
        [$($effect:expr),+ $(,)?];)+) => {
        /// One deliberate deviation from the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault {
            $(#[doc = $description] $variant,)+
        }

        impl Fault {
            /// Every fault, in the order `--list-faults` prints them.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)+];

            /// The kebab-case name used by `--fault` and `Display`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Fault::$variant => $name,)+
                }
            }

            /// What the fault breaks, in one sentence.
            pub fn description(&self) -> &'static str {
                match self {
                    $(Fault::$variant => $description,)+
                }
            }

            /// The inputs that trigger the fault, when it shows only on
            /// some; `None` when it affects every exchange it concerns.
            pub fn trigger(self) -> Option<&'static str> {
                match self {
                    $(Fault::$variant => $trigger,)+
                }
            }

            $crate::seam::effect::effects_method!(Fault { $($variant => [$($effect),+];)+ });
        }
    };
}

faults! {
    NoLocation => "no-location",
        "invite answers 200 without a Location header",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.location = None)];
    WrongLocationOpId => "wrong-location-op-id",
        "the Location header's last segment is not the operation id of the body",
        None,
        [Effect::Answer(Answers::Invite, |answer| {
            if let Some(location) = &mut answer.location {
                location.operation_id = Some(new_id());
            }
        })];
    LocationWrongCall => "location-wrong-call",
        "the Location header names another call id",
        None,
        [Effect::Answer(Answers::Invite, |answer| {
            if let Some(location) = &mut answer.location {
                location.call_id = new_id();
            }
        })];
    NoClientContextEcho => "no-client-context-echo",
        "the invite response and its notification omit clientContext",
        None,
        [
            Effect::Answer(Answers::Invite, |answer| answer.remove("clientContext")),
            Effect::Note(Notes::OperationEnd, |note| note.remove("clientContext")),
        ];
    WrongClientContext => "wrong-client-context",
        "the invite response echoes a different clientContext",
        None,
        [Effect::Answer(Answers::Invite, |answer| {
            let other = other_client_context(answer.member("clientContext"));
            answer.set("clientContext", other);
        })];
    ParticipantsNotEchoed => "participants-not-echoed",
        "the invite response's participants is an empty array",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.set("participants", Value::Array(Vec::new())))];
    EchoReplacesOtherCall => "echo-replaces-other-call",
        "the invite response echoes each participant's replacesCallId as the id of the call invited into",
        Some("an invite whose participants name a replacesCallId"),
        [Effect::Answer(Answers::Invite, |answer| {
            let call_id = answer.call_id.clone();
            for participant in answer.body_mut().into_iter().flat_map(echoed_participants) {
                if participant.get("replacesCallId").is_some_and(Value::is_string) {
                    participant.insert("replacesCallId".into(), call_id.clone().into());
                }
            }
        })];
    WrongOdataType => "wrong-odata-type",
        "the invite response's echoed participants say @odata.type #microsoft.graph.participant",
        None,
        [Effect::Answer(Answers::Invite, |answer| {
            for participant in answer.body_mut().into_iter().flat_map(echoed_participants) {
                participant.insert("@odata.type".into(), "#microsoft.graph.participant".into());
            }
        })];
    LongClientContextAccepted => "long-client-context-accepted",
        "a clientContext over 256 characters is accepted",
        Some("an invite whose clientContext is over 256 UTF-16 code units"),
        [Effect::Rules(|rules| rules.client_context = usize::MAX)];
    MultiP2pAccepted => "multi-p2p-accepted",
        "inviting several participants into a peer-to-peer call is accepted",
        Some("an invite of several participants into a peer-to-peer call"),
        [Effect::Rules(|rules| rules.p2p_invitees = usize::MAX)];
    GroupOverFiveAccepted => "group-over-five-accepted",
        "inviting more than 5 participants into a group call is accepted",
        Some("an invite of more than 5 participants into a group call"),
        [Effect::Rules(|rules| rules.group_invitees = usize::MAX)];
    EmptyParticipantsAccepted => "empty-participants-accepted",
        "an empty participants array is accepted",
        Some("an invite whose participants array is empty"),
        [Effect::Decide(Decision::AcceptEmptyParticipants)];
    UnparseableBodyAccepted => "unparseable-body-accepted",
        "a body that is not a JSON object is read as {} and an invite of nobody is answered 200",
        Some("a POST whose body is not JSON, or not an object; an invite naming no participants"),
        [Effect::Decide(Decision::ReadUnparseableAsEmpty)];
    MissingIdentityAccepted => "missing-identity-accepted",
        "participants without identity, or with an empty identity, are accepted",
        Some("an invite (or a create-call target) without identity, or with an identity naming nobody"),
        [Effect::Decide(Decision::AcceptEmptyIdentity)];
    NoAuthAccepted => "no-auth-accepted",
        "requests without a bearer token are accepted instead of answered 401",
        Some("a request without a bearer token"),
        [Effect::Decide(Decision::AcceptWithoutToken)];
    WrongContentTypeAccepted => "wrong-content-type-accepted",
        "bodies with a non-JSON content type are accepted instead of answered 415",
        Some("a POST whose Content-Type is not application/json, or absent"),
        [Effect::Decide(Decision::ParseAnyContentType)];
    MalformedJson500 => "malformed-json-500",
        "malformed JSON is answered 500 (with a Graph error body)",
        Some("a POST whose body is not valid JSON"),
        [Effect::Refusal(|error| {
            if let ApiError::MalformedJson(detail) = error {
                *error = ApiError::Injected(format!(
                    "Unhandled exception while reading the body: {detail}"
                ));
            }
        })];
    ServerErrorOnPhone => "server-error-on-phone",
        "invite answers 500 when a participant identity has a phone member",
        Some("an invite with a phone identity"),
        [Effect::RefuseInvite(|body| {
            let participants = body.get("participants").and_then(Value::as_array);
            participants
                .is_some_and(|participants| participants.iter().any(has_phone))
                .then(|| ApiError::Injected("Unhandled exception: phone identity.".into()))
        })];
    ServerErrorOnNonAscii => "server-error-on-non-ascii",
        "invite answers 500 when any string in the body is not ASCII",
        Some("an invite with a non-ASCII string anywhere in its body, member names included"),
        [Effect::RefuseInvite(|body| {
            members_have_non_ascii(body)
                .then(|| ApiError::Injected("Unhandled exception: non-ASCII text.".into()))
        })];
    NonGraphErrors => "non-graph-errors",
        "error bodies are {\"message\":...} sent as text/plain",
        None,
        [Effect::Answer(Answers::Refusals, |answer| {
            let message = answer
                .member("error")
                .and_then(|error| error.get("message"))
                .cloned()
                .unwrap_or_default();
            answer.body = Some(json!({ "message": message }));
            answer.content_type = "text/plain";
        })];
    ErrorWithoutInnerError => "error-without-inner-error",
        "error bodies lack error.innerError",
        None,
        [Effect::Answer(Answers::Refusals, |answer| answer.remove_error_member("innerError"))];
    WrongSuccessStatus => "wrong-success-status",
        "a successful invite answers 202 instead of 200",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.status = StatusCode::ACCEPTED)];
    InvalidOperationStatus => "invalid-operation-status",
        "the invite response's operation status is \"pending\"",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.set("status", "pending"))];
    CompletedWithNotification => "completed-with-notification",
        "the invite response says completed, and a terminal notification still follows",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.set("status", "completed"))];
    NoTerminalNotification => "no-terminal-notification",
        "the operation's terminal (deleted) notification is never sent",
        None,
        [Effect::Batch(|batch| batch.notes.retain(|note| note.kind() != NoteKind::OperationEnd))];
    DoubleTerminalNotification => "double-terminal-notification",
        "the operation's terminal notification is sent twice, both before the roster update",
        None,
        [Effect::Batch(|batch| {
            if batch.cause == Cause::InviteCompleted {
                for note in &mut batch.notes {
                    if note.kind() == NoteKind::OperationEnd {
                        note.copies = 2;
                    }
                }
            }
        })];
    TerminalStatusRunning => "terminal-status-running",
        "the terminal notification says status running",
        None,
        [Effect::Note(Notes::OperationEnd, |note| note.set("status", "running"))];
    FailedWithoutResultInfo => "failed-without-result-info",
        "the operation ends failed with resultInfo null (and nobody joins)",
        None,
        [
            Effect::Decide(Decision::FailInvites),
            Effect::Resource(Resource::Operation, Shown::Everywhere, |operation| {
                if let Some(operation) = operation.as_object_mut() {
                    operation.insert("resultInfo".into(), Value::Null);
                }
            }),
        ];
    WrongNotificationIds => "wrong-notification-ids",
        "the terminal notification names another operation id",
        None,
        [Effect::Note(Notes::OperationEnd, |note| {
            let other = new_id();
            note.about = About::Operation(other.clone());
            note.set("id", other);
        })];
    NotificationWrongCall => "notification-wrong-call",
        "the invite's notifications name another call id in resourceUrl and resource",
        None,
        [Effect::Batch(|batch| {
            if batch.cause == Cause::InviteCompleted {
                let other = new_id();
                for note in &mut batch.notes {
                    if matches!(note.kind(), NoteKind::OperationEnd | NoteKind::Roster) {
                        note.call_id = other.clone();
                    }
                }
            }
        })];
    NotificationClientContextMismatch => "notification-client-context-mismatch",
        "the terminal notification echoes another clientContext",
        None,
        [Effect::Note(Notes::OperationEnd, |note| {
            let other = other_client_context(note.member("clientContext"));
            note.set("clientContext", other);
        })];
    TerminalWithoutParticipants => "terminal-without-participants",
        "the terminal notification's resourceData has no participants",
        None,
        [Effect::Note(Notes::OperationEnd, |note| note.remove("participants"))];
    NoRosterUpdate => "no-roster-update",
        "no roster notification follows an invite",
        None,
        [Effect::Batch(|batch| {
            if batch.cause == Cause::InviteCompleted {
                batch.notes.retain(|note| note.kind() != NoteKind::Roster);
            }
        })];
    RosterMissingInvitee => "roster-missing-invitee",
        "the roster notification leaves out the invited participants",
        None,
        [Effect::Note(Notes::Roster, |note| {
            if let Some(listing) = note.listing_mut() {
                listing.hide_added = true;
            }
        })];
    RosterInvalidParticipant => "roster-invalid-participant",
        "roster participants lack isMuted and mediaStreams[].sourceId",
        None,
        [Effect::Resource(Resource::Participant, Shown::Everywhere, |participant| {
            if let Some(participant) = participant.as_object_mut() {
                participant.remove("isMuted");
                let streams = participant.get_mut("mediaStreams").and_then(Value::as_array_mut);
                for stream in streams.into_iter().flatten().filter_map(Value::as_object_mut) {
                    stream.remove("sourceId");
                }
            }
        })];
    RosterResourceWrongCall => "roster-resource-wrong-call",
        "roster notifications' resource names another call (resourceUrl names the right one)",
        None,
        [Effect::Note(Notes::Roster, |note| {
            note.resource = ResourceMember::Path(format!("/app/calls/{}/participants", new_id()));
        })];
    MoveMovesAll => "move-moves-all",
        "a move moves every participant of the request, not only the first",
        Some("a move (the first participant has a participantId and a replacesCallId naming another live call that holds it) with several participants"),
        [Effect::Decide(Decision::MoveEveryParticipant)];
    MoveKeepsOld => "move-keeps-old",
        "a moved participant is not removed from its old call",
        Some("a move (the first participant has a participantId and a replacesCallId naming another live call that holds it)"),
        [Effect::Decide(Decision::KeepMovedInOldCall)];
    ReplacedCallKept => "replaced-call-kept",
        "a replaced peer-to-peer call is neither terminated nor deleted",
        Some("an invite whose replacesCallId names a live peer-to-peer call (and that is not a move)"),
        [Effect::Decide(Decision::KeepReplacedCalls)];
    EndedCallAcceptsInvite => "ended-call-accepts-invite",
        "invites on deleted calls answer 200",
        Some("an invite on a call that was deleted"),
        [Effect::Decide(Decision::AcceptInviteOnEndedCall)];
    UnknownCallAcceptsInvite => "unknown-call-accepts-invite",
        "invites on unknown calls answer 200",
        Some("an invite on a call id the server never gave out"),
        [Effect::Decide(Decision::AcceptInviteOnUnknownCall)];
    OperationGet404 => "operation-get-404",
        "GET of an operation always answers 404",
        None,
        [Effect::Decide(Decision::HideOperations)];
    OperationGetMismatch => "operation-get-mismatch",
        "GET of an operation returns another id and clientContext",
        None,
        [Effect::Answer(Answers::Operation, |answer| {
            let other = other_client_context(answer.member("clientContext"));
            answer.set("id", new_id());
            answer.set("clientContext", other);
        })];
    OperationGetStale => "operation-get-stale",
        "GET of an operation says running after the operation ended",
        None,
        [Effect::Answer(Answers::Operation, |answer| {
            // As it was when the invite was answered, whatever happened since.
            answer.set("status", "running");
        })];
    NotNamespaced => "not-namespaced",
        "the participants/microsoft.graph.invite path answers 404",
        Some("an invite on the path .../participants/microsoft.graph.invite"),
        [Effect::Decide(Decision::RefuseNamespacedPath)];
    SlowResponses => "slow-responses",
        "every response is delayed by 3 seconds",
        None,
        [Effect::Rules(|rules| rules.answer_delay = SLOW_RESPONSE_DELAY)];
    NoEstablishedNotification => "no-established-notification",
        "creating a call never notifies that it is established",
        None,
        [Effect::Batch(|batch| {
            if batch.cause == Cause::Established {
                batch.notes.clear();
            }
        })];
    NotificationNotJson => "notification-not-json",
        "notifications are sent with a body that is not JSON",
        None,
        [Effect::PostBody(|body| format!("commsNotifications <{body}>"))];
    NoOperationId => "no-operation-id",
        "the invite response's operation has no id",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.remove("id"))];
    OperationTextPlain => "operation-text-plain",
        "the invite response's operation is sent as text/plain",
        None,
        [Effect::Answer(Answers::Invite, |answer| answer.content_type = "text/plain; charset=utf-8")];
    NoRequestIds => "no-request-ids",
        "answers carry neither a request-id header nor the client-request-id sent",
        None,
        [Effect::Answer(Answers::Every, |answer| answer.request_ids = None)];
}

impl Fault {
    /// The same list as `ALL`, for callers that prefer a function.
    pub fn all() -> &'static [Fault] {
        Fault::ALL
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given to `--fault` matches no fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?} (see --list-faults)")]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .iter()
            .copied()
            .find(|fault| fault.name() == s)
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// Another value than `context` (a clientContext, or null), for the faults
/// that echo the wrong one.
fn other_client_context(context: Option<&Value>) -> String {
    match context.and_then(Value::as_str) {
        Some(text) => format!("{text}-not-the-one-sent"),
        None => "not-the-one-sent".to_owned(),
    }
}

/// Whether a participant's identity holds a `phone` identity.
fn has_phone(participant: &Value) -> bool {
    participant
        .get("identity")
        .and_then(|identity| identity.get("phone"))
        .is_some_and(Value::is_object)
}

/// Whether any string in `members` (names included) is not ASCII.
fn members_have_non_ascii(members: &Map<String, Value>) -> bool {
    members
        .iter()
        .any(|(name, value)| !name.is_ascii() || has_non_ascii(value))
}

fn has_non_ascii(value: &Value) -> bool {
    match value {
        Value::String(text) => !text.is_ascii(),
        Value::Array(items) => items.iter().any(has_non_ascii),
        Value::Object(members) => members_have_non_ascii(members),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        for fault in Fault::ALL {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(*fault));
            assert!(!fault.description().is_empty());
            assert!(fault.trigger().is_none_or(|t| !t.is_empty()), "{fault}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
        assert!("no-such-fault".parse::<Fault>().is_err());
    }

    #[test]
    fn every_fault_does_something() {
        for fault in Fault::ALL {
            assert!(!fault.effects().is_empty(), "{fault}");
        }
    }
}
