//! The Graph resources the server holds, as the JSON the correct server
//! shows them: calls, participants and invite operations, and their ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// A call resource: the members it was created with, and its state.
#[derive(Debug, Clone)]
pub(crate) struct CallResource {
    /// The call without its `state`.
    pub(crate) members: Map<String, Value>,
    pub(crate) state: &'static str,
}

impl CallResource {
    pub(crate) fn to_json(&self) -> Value {
        let mut resource = self.members.clone();
        resource.insert("state".into(), self.state.into());
        Value::Object(resource)
    }
}

/// One leg of a call's roster.
#[derive(Debug)]
pub(crate) struct Participant {
    pub(crate) id: String,
    /// The identitySet as the invite (or create-call) sent it.
    pub(crate) identity: Value,
    /// The participant as a roster notification carries it, made once: a
    /// participant never changes, and every roster notification of its call
    /// carries it again.
    text: OnceLock<String>,
}

impl Participant {
    pub(crate) fn new(id: String, identity: Value) -> Participant {
        Participant {
            id,
            identity,
            text: OnceLock::new(),
        }
    }

    /// The participant as Graph sends it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.participant",
            "id": self.id,
            "info": {
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": self.identity,
                "endpointType": "default",
            },
            "mediaStreams": [{
                "@odata.type": "#microsoft.graph.mediaStream",
                "mediaType": "audio",
                "sourceId": "1",
                "direction": "sendReceive",
                "serverMuted": false,
            }],
            "isMuted": false,
            "isInLobby": false,
        })
    }

    /// The participant as roster notifications carry it, made by `render`
    /// the first time (what a server sends of a participant is fixed for
    /// its life).
    pub(crate) fn roster_text(&self, render: impl FnOnce(&Participant) -> String) -> &str {
        self.text.get_or_init(|| render(self))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationStatus {
    NotStarted,
    Running,
    Completed,
    Failed,
}

impl OperationStatus {
    /// The status as the docs and the service spell it (lower camel case).
    fn as_str(self) -> &'static str {
        match self {
            OperationStatus::NotStarted => "notStarted",
            OperationStatus::Running => "running",
            OperationStatus::Completed => "completed",
            OperationStatus::Failed => "failed",
        }
    }

    /// Completed or failed: nothing more happens to the operation.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, OperationStatus::Completed | OperationStatus::Failed)
    }
}

/// An inviteParticipantsOperation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) id: String,
    pub(crate) client_context: Option<String>,
    /// The invitationParticipantInfo objects of the request, as sent.
    pub(crate) participants: Vec<Value>,
    pub(crate) status: OperationStatus,
    /// Why a failed operation failed (`resultInfo`), null otherwise.
    pub(crate) result_info: Option<Value>,
}

impl Operation {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.inviteParticipantsOperation",
            "id": self.id,
            "status": self.status.as_str(),
            "clientContext": self.client_context,
            "resultInfo": self.result_info,
            "participants": self.participants,
        })
    }

    /// Ends the operation failed, saying why (a Graph `resultInfo`).
    pub(crate) fn fail(&mut self, code: u16, message: &str) {
        self.status = OperationStatus::Failed;
        self.result_info = Some(json!({
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": code,
            "subcode": 0,
            "message": message,
        }));
    }
}

/// The invitationParticipantInfo objects an operation (as JSON) echoes.
pub(crate) fn echoed_participants(
    operation: &mut Map<String, Value>,
) -> impl Iterator<Item = &mut Map<String, Value>> {
    let participants = operation
        .get_mut("participants")
        .and_then(Value::as_array_mut);
    participants
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// A fresh GUID, the id format Graph uses for calls, participants, operations
/// and requests.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Makes the ids of calls, operations and participants: GUIDs, or numbered
/// names (`call-0001`), unique per server.
#[derive(Debug)]
pub(crate) struct Ids {
    numbered: bool,
    calls: AtomicU64,
    operations: AtomicU64,
    participants: AtomicU64,
}

impl Ids {
    pub(crate) fn new(numbered: bool) -> Ids {
        Ids {
            numbered,
            calls: AtomicU64::new(0),
            operations: AtomicU64::new(0),
            participants: AtomicU64::new(0),
        }
    }

    pub(crate) fn call(&self) -> String {
        self.make("call", &self.calls)
    }

    pub(crate) fn operation(&self) -> String {
        self.make("op", &self.operations)
    }

    pub(crate) fn participant(&self) -> String {
        self.make("participant", &self.participants)
    }

    fn make(&self, kind: &str, counter: &AtomicU64) -> String {
        if !self.numbered {
            return new_id();
        }
        let number = counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        format!("{kind}-{number:04}")
    }
}
