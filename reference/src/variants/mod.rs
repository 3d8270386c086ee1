//! Variants: each is a legitimate behaviour that the spec allows but that the
//! reference server does not show by default. The suite runs against each one
//! (and against [`Variant::compatible_set`] at once) to prove that it never
//! fails a correct implementation merely for choosing differently. A variant
//! is one entry of the table below, whose effects the seam
//! ([`crate::seam`]) applies; the shapes several entries share are in
//! [`forms`].

mod forms;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;

use crate::resources::OperationStatus;
use crate::seam::effect::{Answers, Effect, Notes, Resource, Shown};
use crate::seam::Decision;
use crate::sent::{Cause, ChangeType, Note, NoteKind, ResourceMember, JSON};

/// How long an invite stays running under `delayed-completion`, at least.
const DELAYED_COMPLETION: Duration = Duration::from_millis(150);
/// What `Location` starts with under `location-absolute`.
const ABSOLUTE_LOCATION_BASE: &str = "https://graph.example.invalid/v1.0";
/// Graph's own JSON Content-Type, sent under `json-content-type-parameters`.
const GRAPH_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";
/// Most participants one invite may add to a group call under
/// `six-participants-accepted`.
const MAX_GROUP_INVITEES_LENIENT: usize = 20;

/// Declares the variant enum and its name, description, source and effect
/// tables in one place, so a new variant cannot be added without saying
/// what it does, why the spec allows it, and how.
macro_rules! variants {
    ($($variant:ident => $name:literal, $description:literal, $source:literal,
        [$($effect:expr),+ $(,)?];)+) => {
        /// One legitimate behaviour the reference does not show by default.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Variant {
            $(#[doc = $description] $variant,)+
        }

        impl Variant {
            /// Every variant, in the order `--list-variants` prints them.
            pub const ALL: &'static [Variant] = &[$(Variant::$variant,)+];

            /// The kebab-case name used by `--variant` and `Display`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Variant::$variant => $name,)+
                }
            }

            /// What the server then does, in one sentence.
            pub fn description(self) -> &'static str {
                match self {
                    $(Variant::$variant => $description,)+
                }
            }

            /// Why the spec allows it, in one sentence: the spec sentence or
            /// example, the DESIGN.md decision, or Graph's documentation.
            pub fn source(self) -> &'static str {
                match self {
                    $(Variant::$variant => $source,)+
                }
            }

            $crate::seam::effect::effects_method!(Variant { $($variant => [$($effect),+];)+ });
        }
    };
}

variants! {
    StatusPascalCase => "status-pascal-case",
        "every operationStatus the server sends (invite response, GET of an operation, notifications) is PascalCase: NotStarted, Running, Completed, Failed",
        "Graph's metadata and OpenAPI description spell operationStatus in PascalCase, and DESIGN.md decides that any casing of the four values passes",
        [Effect::Resource(Resource::Operation, Shown::Everywhere, forms::pascal_case_status)];
    StatusAsExamples => "status-as-examples",
        "the invite response and GET of an operation spell the status in PascalCase (Running), notifications in lower camel case (completed, failed)",
        "it is the casing of the spec's own examples (the 200 response says \"Running\", the operation-completed notification \"completed\"), and DESIGN.md decides that any casing passes",
        [Effect::Resource(Resource::Operation, Shown::InAnswers, forms::pascal_case_status)];
    NoOdataType => "no-odata-type",
        "nothing the server sends has an @odata.type member: not responses, GET bodies, echoed participants, the call, roster participants, notification items, their resourceData, nor the commsNotifications envelope",
        "DESIGN.md decides that @odata.type is never required on nested objects, and OData's minimal metadata leaves it out wherever the type is the declared one",
        [
            Effect::Resource(Resource::Call, Shown::Everywhere, forms::strip_odata_type),
            Effect::Resource(Resource::Operation, Shown::Everywhere, forms::strip_odata_type),
            Effect::Resource(Resource::Participant, Shown::Everywhere, forms::strip_odata_type),
            Effect::Note(Notes::Every, |note| note.odata_type = false),
            Effect::Envelope(|envelope| envelope.odata_type = false),
        ];
    TerminalInResponse => "terminal-in-response",
        "an invite completes before it is answered: the response and GET already say completed, no notification about the operation follows, and the roster update, moves and replaced calls happen as usual",
        "the commsOperation docs the spec links to say that no further notification follows an operation whose response status is completed or failed, and DESIGN.md accepts the terminal status in the response",
        [Effect::Decide(Decision::CompleteBeforeAnswering)];
    NotStartedStatus => "not-started-status",
        "the invite response says notStarted; the operation then completes as usual with its deleted notification",
        "the commsOperation docs the spec links to list notStarted among the response statuses whose updates arrive by notification, and DESIGN.md asks only for one terminal status",
        [Effect::Rules(|rules| rules.first_status = OperationStatus::NotStarted)];
    ProgressNotification => "progress-notification",
        "before its terminal deleted notification, the operation gets an updated notification with status running",
        "the commsOperation docs say updates of a running operation arrive through notifications, and DESIGN.md requires exactly one terminal status, not that the terminal notification be the only one",
        [Effect::Decide(Decision::AnnounceProgress)];
    LocationAbsolute => "location-absolute",
        "Location is an absolute URL on another host: https://graph.example.invalid/v1.0/communications/calls/{id}/operations/{opId} (and .../communications/calls/{id} for a created call)",
        "the spec asks for \"a location header with a URI\" to the operation, and DESIGN.md decides that Location may be absolute or a path ending in /communications/calls/{callId}/operations/{opId}",
        [Effect::Answer(Answers::Every, |answer| {
            if let Some(location) = &mut answer.location {
                location.prefix = ABSOLUTE_LOCATION_BASE;
            }
        })];
    LocationPathOnly => "location-path-only",
        "Location is a path without the version segment: /communications/calls/{id}/operations/{opId} (and /communications/calls/{id} for a created call)",
        "DESIGN.md decides that Location may be absolute or a path, as long as it ends in /communications/calls/{callId}/operations/{opId}",
        [Effect::Answer(Answers::Every, |answer| {
            // Of two conflicting variants, the earlier in `ALL` wins.
            if let Some(location) = answer.location.as_mut().filter(|l| l.prefix == "/v1.0") {
                location.prefix = "";
            }
        })];
    SeparatePosts => "separate-posts",
        "every notification item leaves in its own POST: no commsNotifications.value holds more than one item",
        "DESIGN.md says several notifications may share one commsNotifications body, so one each is as good, and every example in the spec carries one item per body",
        [Effect::Rules(|rules| rules.items_per_post = 1)];
    RosterFirst => "roster-first",
        "an invite's roster update is sent before its operation's terminal notification",
        "DESIGN.md decides that notifications may arrive in any order, and the spec shows them without ordering them",
        [Effect::Batch(|batch| {
            if batch.cause == Cause::InviteCompleted {
                // A stable sort: the rosters, then the rest, each in order.
                batch.notes.sort_by_key(|note| note.kind() != NoteKind::Roster);
            }
        })];
    RosterDelta => "roster-delta",
        "a roster update about joins lists only the participants who just joined (a roster update after a leave still lists the remaining roster)",
        "the spec's example \"Notification - roster updated with participant added\" lists only the added participant",
        [Effect::Note(Notes::Roster, |note| {
            if let Some(listing) = note.listing_mut() {
                listing.only_joined = true;
            }
        })];
    RosterPerParticipant => "roster-per-participant",
        "an invite gets one roster updated notification per joined participant, each listing the roster as it stands after that participant joined (only that participant with roster-delta)",
        "the spec promises that \"all participants will receive a roster update\", not that one update names them all, and DESIGN.md asks only that every invitee appear in a roster update",
        [Effect::Batch(forms::one_roster_update_per_joiner)];
    RepeatedRoster => "repeated-roster",
        "every roster update is sent twice",
        "a roster update states the roster rather than a change, so a repeat says nothing new, and neither the spec nor DESIGN.md bounds how many roster updates a call gets",
        [Effect::Note(Notes::Roster, |note| note.copies = 2)];
    ExtraMembers => "extra-members",
        "open types carry extra members: @odata.context on responses and conformanceExtra on the operation and the call, hidden and removeFromDefaultAudioRoutingGroup on echoed participants, sequenceNumber on notification items, target, details and an innerError member on errors",
        "inviteParticipantsOperation, invitationParticipantInfo, commsNotification and call are open types (the spec's own responses add endpointType and id), Graph's error body declares target and details, and innerError is free-form",
        [
            Effect::Resource(Resource::Call, Shown::Everywhere, |call| {
                if let Some(call) = call.as_object_mut() {
                    call.insert(forms::EXTRA_MEMBER.into(), "x".into());
                }
            }),
            Effect::Resource(Resource::Operation, Shown::Everywhere, forms::extra_operation_members),
            Effect::Answer(Answers::Calls, |answer| {
                answer.set("@odata.context", "https://graph.microsoft.com/v1.0/$metadata#app/calls/$entity");
            }),
            Effect::Answer(Answers::Operations, |answer| {
                let context = format!(
                    "https://graph.microsoft.com/v1.0/$metadata#communications/calls('{}')/operations/$entity",
                    answer.call_id
                );
                answer.set("@odata.context", context);
            }),
            Effect::Answer(Answers::Refusals, forms::extra_error_members),
            Effect::Note(Notes::Every, |note| note.numbered = true),
        ];
    GraphShapedResponse => "graph-shaped-response",
        "the invite response and GET of an operation look like the spec's Example 4 response: echoed participants carry endpointType, id and replacesCallId as null, their identity lists every identity kind not sent as null, and resultInfo is null",
        "it is the shape of the spec's own Example 4 and 5 responses; the types are open, so null members that were not sent are legal",
        [Effect::Resource(Resource::Operation, Shown::InAnswers, forms::graph_shape)];
    JsonContentTypeParameters => "json-content-type-parameters",
        "every JSON answer has Content-Type application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8",
        "it is the Content-Type Graph sends, and its parameters do not change the media type, application/json, that the spec's responses show",
        [Effect::Answer(Answers::Every, |answer| {
            if answer.content_type == JSON {
                answer.content_type = GRAPH_JSON;
            }
        })];
    SixParticipantsAccepted => "six-participants-accepted",
        "a group call accepts up to 20 participants per invite instead of 5 (more are still answered 400)",
        "the spec page sets no limit on participants per invite (only newer revisions say 5), and DESIGN.md makes rejecting a sixth a SHOULD, not a MUST",
        [Effect::Rules(|rules| {
            rules.group_invitees = rules.group_invitees.max(MAX_GROUP_INVITEES_LENIENT);
        })];
    NamespacedPath404 => "namespaced-path-404",
        "POST .../participants/microsoft.graph.invite answers 404 with Graph's error body; only the spec's path .../participants/invite works",
        "the spec's HTTP request names only POST /communications/calls/{id}/participants/invite; the namespaced path comes from Graph's OpenAPI description, not from the spec page",
        [Effect::Decide(Decision::RefuseNamespacedPath)];
    EndedOperationsReadable => "ended-operations-readable",
        "GET of an operation of an ended call answers 200 with the operation as it last stood, instead of 404",
        "the spec says nothing about the operations of ended calls, so keeping them readable breaks none of its sentences",
        [Effect::Decide(Decision::KeepOperationsOfEndedCalls)];
    OperationGoneOnceEnded => "operation-gone-once-ended",
        "once an operation's terminal notification has been sent (changeType deleted), GET of that operation answers 404; an operation that ended in its response stays readable",
        "the spec's notifications announce an operation's end with changeType deleted, so an operation announced deleted may be gone, and the spec says nothing of reading it afterwards",
        [Effect::Decide(Decision::ForgetAnnouncedOperations)];
    ErrorsWithoutInnerError => "errors-without-inner-error",
        "error bodies carry only error.code and error.message, without innerError",
        "Graph's OpenAPI error schema requires only code and message (innerError is optional), and the spec page documents no error body",
        [Effect::Answer(Answers::Refusals, |answer| answer.remove_error_member("innerError"))];
    OpaqueIds => "opaque-ids",
        "call, operation and participant ids are numbered names, not GUIDs (call-0001, op-0001, participant-0001): unique and URL-safe",
        "Graph's metadata types these ids as String, and neither the spec nor DESIGN.md asks for GUIDs",
        [Effect::Decide(Decision::NumberIds)];
    DelayedCompletion => "delayed-completion",
        "an invite stays running for 150 ms (or the configured operation delay, if longer) before it completes",
        "the spec says nothing about when an operation completes (Graph takes seconds), and the commsOperation docs expect a running operation to be finished by notification",
        [Effect::Rules(|rules| {
            rules.operation_delay = rules.operation_delay.max(DELAYED_COMPLETION);
        })];
    ExtraCallUpdates => "extra-call-updates",
        "after each completed invite, the call also gets an updated notification about itself (resourceUrl /communications/calls/{id}, state established)",
        "Graph notifies a bot's callback of call-state changes besides an invite's own notifications, and DESIGN.md lets notifications arrive in any order, so a suite must find an invite's among others",
        [Effect::Batch(|batch| {
            if batch.cause == Cause::InviteCompleted {
                let call = batch.call.to_json();
                batch.notes.push(Note::call(ChangeType::Updated, batch.call_id, call));
            }
        })];
    ResourceCommunicationsPath => "resource-communications-path",
        "notifications' resource member is /communications/calls/..., the same as resourceUrl, instead of the legacy /app/calls/...",
        "the spec's Example 5 roster notification has resource /communications/calls/{id}/participants, and resource is a dynamic member of the open commsNotification",
        [Effect::Note(Notes::Every, |note| note.resource = ResourceMember::SameAsUrl)];
    NoResource => "no-resource",
        "notifications carry no resource member, only changeType, resourceUrl and resourceData",
        "commsNotification declares only changeType and resourceUrl as non-null members; resource is a dynamic member that may be left out",
        [Effect::Note(Notes::Every, |note| {
            // Of two conflicting variants, the earlier in `ALL` wins.
            if note.resource == ResourceMember::Legacy {
                note.resource = ResourceMember::Absent;
            }
        })];
    RosterNullIds => "roster-null-ids",
        "roster notifications give every participant \"id\": null; GET .../participants still lists their ids",
        "every roster notification in the spec's examples has \"id\": null for the participant added, so a client can only learn a participant's id from the list of participants",
        [Effect::Resource(Resource::Participant, Shown::InNotifications, |participant| {
            if let Some(participant) = participant.as_object_mut() {
                participant.insert("id".into(), Value::Null);
            }
        })];
    GraphExtraMembers => "graph-extra-members",
        "roster participants carry what real Graph sends beyond the v1.0 metadata: isIdentityAnonymized, meetingRole, publishedStates and replacementLink on the participant, endpointId, clientVersion and replacementLink on its info, tenantId and identityProvider on its identity; the call carries meetingCapability",
        "roster updates recorded from real Graph carry these members (corpus/notifications/issue_comms-samples-513_*, issue_comms-samples-599_*, issue_comms-samples-700_*), and Graph's versioning policy lists added properties as backward compatible",
        [
            Effect::Resource(Resource::Participant, Shown::Everywhere, forms::graph_roster_members),
            Effect::Resource(Resource::Call, Shown::Everywhere, |call| {
                if let Some(call) = call.as_object_mut() {
                    call.insert(
                        "meetingCapability".into(),
                        serde_json::json!({"@odata.type": "#microsoft.graph.meetingCapability"}),
                    );
                }
            }),
        ];
    FutureDerivedTypes => "future-derived-types",
        "roster participants' info says @odata.type #microsoft.graph.teamsParticipantInfo, a type derived from participantInfo that the v1.0 metadata does not have, and their identities say #microsoft.graph.communicationsUserIdentity",
        "Graph's versioning policy tells clients to be ready for derived types the service had not defined before; communicationsUserIdentity derives from identity in the v1.0 metadata",
        [Effect::Resource(Resource::Participant, Shown::Everywhere, forms::derived_roster_types)];
    LenientContentType => "lenient-content-type",
        "a body sent with a non-JSON Content-Type, or none, is parsed as JSON anyway instead of answered 415",
        "the spec requires the client to send Content-Type application/json; it does not say that a server must refuse a client that does not",
        [Effect::Decide(Decision::ParseAnyContentType)];
}

/// The pairs of variants that cannot both be on: they choose differently
/// about the same thing.
const CONFLICTS: &[(Variant, Variant)] = &[
    // Two casings of the same status.
    (Variant::StatusPascalCase, Variant::StatusAsExamples),
    // A completed response cannot also say notStarted, nor be followed by a
    // progress notification, nor stay running for a while.
    (Variant::TerminalInResponse, Variant::NotStartedStatus),
    (Variant::TerminalInResponse, Variant::ProgressNotification),
    (Variant::TerminalInResponse, Variant::DelayedCompletion),
    // Two forms of the same header.
    (Variant::LocationAbsolute, Variant::LocationPathOnly),
    // A member that is either rewritten or left out.
    (Variant::ResourceCommunicationsPath, Variant::NoResource),
    // A type that is either named or left out.
    (Variant::FutureDerivedTypes, Variant::NoOdataType),
];

impl Variant {
    /// Whether `self` and `other` cannot both be on (symmetric; a variant
    /// does not conflict with itself).
    pub fn conflicts_with(self, other: Variant) -> bool {
        CONFLICTS
            .iter()
            .any(|&(a, b)| (a == self && b == other) || (a == other && b == self))
    }

    /// A maximal set of mutually compatible variants, in `ALL` order: every
    /// variant left out conflicts with one in it. Among the choices, those
    /// that exclude the fewest others are preferred (so the set is as large
    /// as the conflicts allow), then the earlier in `ALL`.
    pub fn compatible_set() -> Vec<Variant> {
        let degree = |v: Variant| {
            Variant::ALL
                .iter()
                .filter(|o| v.conflicts_with(**o))
                .count()
        };
        let mut by_preference = Variant::ALL.to_vec();
        // A stable sort keeps `ALL` order among variants of equal degree.
        by_preference.sort_by_key(|v| degree(*v));
        let mut chosen: Vec<Variant> = Vec::new();
        for variant in by_preference {
            if !chosen.iter().any(|c| c.conflicts_with(variant)) {
                chosen.push(variant);
            }
        }
        chosen.sort_by_key(|v| Variant::ALL.iter().position(|a| a == v));
        chosen
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given to `--variant` matches no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant {0:?} (see --list-variants)")]
pub struct UnknownVariant(pub String);

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .iter()
            .copied()
            .find(|variant| variant.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        for variant in Variant::ALL {
            assert_eq!(variant.to_string().parse::<Variant>(), Ok(*variant));
            assert!(!variant.description().is_empty(), "{variant}");
            assert!(!variant.source().is_empty(), "{variant}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Variant::ALL.len());
        assert_eq!(
            "no-such-variant".parse::<Variant>(),
            Err(UnknownVariant("no-such-variant".into()))
        );
    }

    #[test]
    fn conflicts_are_symmetric_and_never_reflexive() {
        for a in Variant::ALL {
            assert!(!a.conflicts_with(*a), "{a}");
            for b in Variant::ALL {
                assert_eq!(a.conflicts_with(*b), b.conflicts_with(*a), "{a} {b}");
            }
        }
        assert!(Variant::StatusPascalCase.conflicts_with(Variant::StatusAsExamples));
        assert!(Variant::ProgressNotification.conflicts_with(Variant::TerminalInResponse));
        assert!(Variant::LocationPathOnly.conflicts_with(Variant::LocationAbsolute));
        assert!(Variant::NoResource.conflicts_with(Variant::ResourceCommunicationsPath));
        assert!(!Variant::NoOdataType.conflicts_with(Variant::ExtraMembers));
    }

    #[test]
    fn the_compatible_set_is_compatible_and_maximal() {
        let set = Variant::compatible_set();
        for a in &set {
            for b in &set {
                assert!(!a.conflicts_with(*b), "{a} and {b} are both in the set");
            }
        }
        for left_out in Variant::ALL.iter().filter(|v| !set.contains(v)) {
            assert!(
                set.iter().any(|v| v.conflicts_with(*left_out)),
                "{left_out} could join the set"
            );
        }
        // Terminal-in-response excludes three variants; the set takes those
        // three instead. Of a pair of single conflicts, the earlier stays.
        assert!(!set.contains(&Variant::TerminalInResponse));
        assert_eq!(set.len(), Variant::ALL.len() - 5);
        let mut sorted = set.clone();
        sorted.sort();
        assert_eq!(sorted, set, "in ALL order");
    }

    #[test]
    fn every_variant_does_something() {
        for variant in Variant::ALL {
            assert!(!variant.effects().is_empty(), "{variant}");
        }
    }
}
