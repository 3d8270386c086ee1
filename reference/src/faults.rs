//! Fault injection: each fault breaks exactly one documented behaviour, so the
//! suite can prove that it notices the break.

use std::fmt;
use std::str::FromStr;

/// Declares the fault enum and its name, description and trigger tables in
/// one place, so a new fault cannot be added without a name, a description
/// and a word on which inputs trigger it.
macro_rules! faults {
    ($($variant:ident => $name:literal, $description:literal, $trigger:expr;)+) => {
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
        }
    };
}

faults! {
    NoLocation => "no-location",
        "invite answers 200 without a Location header",
        None;
    WrongLocationOpId => "wrong-location-op-id",
        "the Location header's last segment is not the operation id of the body",
        None;
    LocationWrongCall => "location-wrong-call",
        "the Location header names another call id",
        None;
    NoClientContextEcho => "no-client-context-echo",
        "the invite response and its notification omit clientContext",
        None;
    WrongClientContext => "wrong-client-context",
        "the invite response echoes a different clientContext",
        None;
    ParticipantsNotEchoed => "participants-not-echoed",
        "the invite response's participants is an empty array",
        None;
    EchoReplacesOtherCall => "echo-replaces-other-call",
        "the invite response echoes each participant's replacesCallId as the id of the call invited into",
        Some("an invite whose participants name a replacesCallId");
    WrongOdataType => "wrong-odata-type",
        "the invite response's echoed participants say @odata.type #microsoft.graph.participant",
        None;
    LongClientContextAccepted => "long-client-context-accepted",
        "a clientContext over 256 characters is accepted",
        Some("an invite whose clientContext is over 256 UTF-16 code units");
    MultiP2pAccepted => "multi-p2p-accepted",
        "inviting several participants into a peer-to-peer call is accepted",
        Some("an invite of several participants into a peer-to-peer call");
    GroupOverFiveAccepted => "group-over-five-accepted",
        "inviting more than 5 participants into a group call is accepted",
        Some("an invite of more than 5 participants into a group call");
    EmptyParticipantsAccepted => "empty-participants-accepted",
        "an empty participants array is accepted",
        Some("an invite whose participants array is empty");
    MissingIdentityAccepted => "missing-identity-accepted",
        "participants without identity, or with an empty identity, are accepted",
        Some("an invite (or a create-call target) without identity, or with an identity naming nobody");
    NoAuthAccepted => "no-auth-accepted",
        "requests without a bearer token are accepted instead of answered 401",
        Some("a request without a bearer token");
    WrongContentTypeAccepted => "wrong-content-type-accepted",
        "bodies with a non-JSON content type are accepted instead of answered 415",
        Some("a POST whose Content-Type is not application/json, or absent");
    MalformedJson500 => "malformed-json-500",
        "malformed JSON is answered 500 (with a Graph error body)",
        Some("a POST whose body is not valid JSON");
    ServerErrorOnPhone => "server-error-on-phone",
        "invite answers 500 when a participant identity has a phone member",
        Some("an invite with a phone identity");
    ServerErrorOnNonAscii => "server-error-on-non-ascii",
        "invite answers 500 when any string in the body is not ASCII",
        Some("an invite with a non-ASCII string anywhere in its body, member names included");
    NonGraphErrors => "non-graph-errors",
        "error bodies are {\"message\":...} sent as text/plain",
        None;
    ErrorWithoutInnerError => "error-without-inner-error",
        "error bodies lack error.innerError",
        None;
    WrongSuccessStatus => "wrong-success-status",
        "a successful invite answers 202 instead of 200",
        None;
    InvalidOperationStatus => "invalid-operation-status",
        "the invite response's operation status is \"pending\"",
        None;
    CompletedWithNotification => "completed-with-notification",
        "the invite response says completed, and a terminal notification still follows",
        None;
    NoTerminalNotification => "no-terminal-notification",
        "the operation's terminal (deleted) notification is never sent",
        None;
    DoubleTerminalNotification => "double-terminal-notification",
        "the operation's terminal notification is sent twice, both before the roster update",
        None;
    TerminalStatusRunning => "terminal-status-running",
        "the terminal notification says status running",
        None;
    FailedWithoutResultInfo => "failed-without-result-info",
        "the operation ends failed with resultInfo null (and nobody joins)",
        None;
    WrongNotificationIds => "wrong-notification-ids",
        "the terminal notification names another operation id",
        None;
    NotificationWrongCall => "notification-wrong-call",
        "the invite's notifications name another call id in resourceUrl and resource",
        None;
    NotificationClientContextMismatch => "notification-client-context-mismatch",
        "the terminal notification echoes another clientContext",
        None;
    TerminalWithoutParticipants => "terminal-without-participants",
        "the terminal notification's resourceData has no participants",
        None;
    NoRosterUpdate => "no-roster-update",
        "no roster notification follows an invite",
        None;
    RosterMissingInvitee => "roster-missing-invitee",
        "the roster notification leaves out the invited participants",
        None;
    RosterInvalidParticipant => "roster-invalid-participant",
        "roster participants lack isMuted and mediaStreams[].sourceId",
        None;
    RosterResourceWrongCall => "roster-resource-wrong-call",
        "roster notifications' resource names another call (resourceUrl names the right one)",
        None;
    MoveMovesAll => "move-moves-all",
        "a move moves every participant of the request, not only the first",
        Some("a move (the first participant has a participantId and a replacesCallId naming another live call that holds it) with several participants");
    MoveKeepsOld => "move-keeps-old",
        "a moved participant is not removed from its old call",
        Some("a move (the first participant has a participantId and a replacesCallId naming another live call that holds it)");
    ReplacedCallKept => "replaced-call-kept",
        "a replaced peer-to-peer call is neither terminated nor deleted",
        Some("an invite whose replacesCallId names a live peer-to-peer call (and that is not a move)");
    EndedCallAcceptsInvite => "ended-call-accepts-invite",
        "invites on deleted calls answer 200",
        Some("an invite on a call that was deleted");
    UnknownCallAcceptsInvite => "unknown-call-accepts-invite",
        "invites on unknown calls answer 200",
        Some("an invite on a call id the server never gave out");
    OperationGet404 => "operation-get-404",
        "GET of an operation always answers 404",
        None;
    OperationGetMismatch => "operation-get-mismatch",
        "GET of an operation returns another id and clientContext",
        None;
    OperationGetStale => "operation-get-stale",
        "GET of an operation says running after the operation ended",
        None;
    NotNamespaced => "not-namespaced",
        "the participants/microsoft.graph.invite path answers 404",
        Some("an invite on the path .../participants/microsoft.graph.invite");
    SlowResponses => "slow-responses",
        "every response is delayed by 3 seconds",
        None;
    NoEstablishedNotification => "no-established-notification",
        "creating a call never notifies that it is established",
        None;
    NotificationNotJson => "notification-not-json",
        "notifications are sent with a body that is not JSON",
        None;
    NoOperationId => "no-operation-id",
        "the invite response's operation has no id",
        None;
    OperationTextPlain => "operation-text-plain",
        "the invite response's operation is sent as text/plain",
        None;
    NoRequestIds => "no-request-ids",
        "answers carry neither a request-id header nor the client-request-id sent",
        None;
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

/// The active faults as a bit set: the handlers ask it on every request, so
/// the question should cost one instruction, not a scan of a Vec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultSet(u64);

// A u64 holds the set only while there are at most 64 faults.
const _: () = assert!(Fault::ALL.len() <= 64);

impl FaultSet {
    pub(crate) fn has(self, fault: Fault) -> bool {
        self.0 & bit(fault) != 0
    }
}

impl FromIterator<Fault> for FaultSet {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> Self {
        FaultSet(iter.into_iter().fold(0, |set, fault| set | bit(fault)))
    }
}

fn bit(fault: Fault) -> u64 {
    1u64 << (fault as u32)
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
    fn set_holds_exactly_its_members() {
        let set: FaultSet = [Fault::NoLocation, Fault::NotificationNotJson]
            .into_iter()
            .collect();
        for fault in Fault::ALL {
            let expected = matches!(fault, Fault::NoLocation | Fault::NotificationNotJson);
            assert_eq!(set.has(*fault), expected, "{fault}");
        }
    }
}
