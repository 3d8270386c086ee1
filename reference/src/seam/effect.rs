//! What a fault or a variant may do, as data: each entry of the fault and
//! variant tables lists its effects in these words, and [`super::Seam`]
//! applies them where what they change leaves the server.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::seam::rules::{Decision, Rules};
use crate::sent::{Answer, AnswerKind, Batch, Envelope, Note, NoteKind};

/// The `effects` method of the fault and variant tables: each entry's
/// effects, as one constant slice.
macro_rules! effects_method {
    ($enum:ident { $($variant:ident => [$($effect:expr),+];)+ }) => {
        /// What it does to the server.
        pub(crate) fn effects(self) -> &'static [$crate::seam::effect::Effect] {
            match self {
                $($enum::$variant => {
                    const EFFECTS: &[$crate::seam::effect::Effect] = &[$($effect),+];
                    EFFECTS
                })+
            }
        }
    };
}
pub(crate) use effects_method;

/// A refusal of some valid invite bodies.
pub(crate) type InviteRefusal = fn(&Map<String, Value>) -> Option<ApiError>;
/// A change of a resource's JSON.
pub(crate) type ResourceChange = fn(&mut Value);
pub(crate) type AnswerChange = fn(&mut Answer);
pub(crate) type NoteChange = fn(&mut Note);

/// One effect of a fault or a variant.
#[derive(Clone, Copy)]
pub(crate) enum Effect {
    /// The server makes this decision (see [`Decision`]).
    Decide(Decision),
    /// Changes the numbers or the timing the server runs with.
    Rules(fn(&mut Rules)),
    /// Refuses a valid invite body (a server error on some inputs).
    RefuseInvite(InviteRefusal),
    /// Changes why a request is refused, before the refusal is written.
    Refusal(fn(&mut ApiError)),
    /// Changes a resource wherever it is shown: a call, an operation or a
    /// participant, in answers, in notifications, or both.
    Resource(Resource, Shown, ResourceChange),
    /// Changes answers of some kinds: status, headers, body.
    Answer(Answers, AnswerChange),
    /// Changes notification items of some kinds.
    Note(Notes, NoteChange),
    /// Changes the notifications raised together: which, in what order.
    Batch(fn(&mut Batch<'_>)),
    /// Changes the `commsNotifications` body of every notification POST.
    Envelope(fn(&mut Envelope)),
    /// Changes the bytes of every notification POST, last.
    PostBody(fn(String) -> String),
}

/// The Graph resources the server shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Call,
    Operation,
    Participant,
}

/// Where a resource is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The body of an answer (an invite response, a GET).
    Answer,
    /// The resourceData of a notification.
    Notification,
}

/// Where a resource effect applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    Everywhere,
    InAnswers,
    InNotifications,
}

impl Shown {
    pub(crate) fn covers(self, place: Place) -> bool {
        match self {
            Shown::Everywhere => true,
            Shown::InAnswers => place == Place::Answer,
            Shown::InNotifications => place == Place::Notification,
        }
    }
}

/// The answers an answer effect applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answers {
    Every,
    /// A created call and a GET of a call.
    Calls,
    /// An invite's answer and a GET of an operation.
    Operations,
    Invite,
    /// A GET of an operation.
    Operation,
    /// Graph's error answers.
    Refusals,
}

impl Answers {
    pub(crate) fn covers(self, kind: AnswerKind) -> bool {
        match self {
            Answers::Every => true,
            Answers::Calls => matches!(kind, AnswerKind::CallCreated | AnswerKind::Call),
            Answers::Operations => matches!(kind, AnswerKind::Invite | AnswerKind::Operation),
            Answers::Invite => kind == AnswerKind::Invite,
            Answers::Operation => kind == AnswerKind::Operation,
            Answers::Refusals => kind == AnswerKind::Refusal,
        }
    }
}

/// The notification items a note effect applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notes {
    Every,
    /// An operation's terminal (`deleted`) notification.
    OperationEnd,
    /// Roster updates.
    Roster,
}

impl Notes {
    pub(crate) fn covers(self, kind: NoteKind) -> bool {
        match self {
            Notes::Every => true,
            Notes::OperationEnd => kind == NoteKind::OperationEnd,
            Notes::Roster => kind == NoteKind::Roster,
        }
    }
}
