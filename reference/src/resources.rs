//! The Graph resources the server hands out, as the JSON Graph sends them:
//! participants, invite operations and the notifications that carry them.

use serde_json::{json, Value};

use crate::faults::{Fault, FaultSet};

/// One leg of a call's roster.
#[derive(Debug, Clone)]
pub(crate) struct Participant {
    pub(crate) id: String,
    /// The identitySet as the invite (or create-call) sent it.
    pub(crate) identity: Value,
    /// The participant as JSON text, made once: a participant never changes,
    /// and every roster notification of its call carries it again.
    text: std::sync::OnceLock<String>,
}

impl Participant {
    pub(crate) fn new(identity: Value) -> Participant {
        Participant {
            id: new_id(),
            identity,
            text: std::sync::OnceLock::new(),
        }
    }

    /// [`Participant::to_json`] as text (the faults are the server's, fixed
    /// for its life).
    pub(crate) fn json_text(&self, faults: FaultSet) -> &str {
        self.text.get_or_init(|| self.to_json(faults).to_string())
    }

    pub(crate) fn to_json(&self, faults: FaultSet) -> Value {
        let mut participant = json!({
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
        });
        if faults.has(Fault::RosterInvalidParticipant) {
            remove(&mut participant, "isMuted");
            if let Some(streams) = participant
                .get_mut("mediaStreams")
                .and_then(Value::as_array_mut)
            {
                streams
                    .iter_mut()
                    .for_each(|stream| remove(stream, "sourceId"));
            }
        }
        participant
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationStatus {
    Running,
    Completed,
    Failed,
}

impl OperationStatus {
    fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Running => "running",
            OperationStatus::Completed => "completed",
            OperationStatus::Failed => "failed",
        }
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
}

/// One `commsNotification` about `/communications/calls/{call_id}{tail}`
/// (`tail` is empty or starts with a slash), as JSON text; `data` is its
/// `resourceData`, already JSON text (a roster is assembled from its
/// participants' cached texts).
pub(crate) fn notification_text(
    change_type: &str,
    call_id: &str,
    tail: &str,
    data: &str,
) -> String {
    let quoted = |text: &str| Value::from(text).to_string();
    format!(
        r##"{{"@odata.type":"#microsoft.graph.commsNotification","changeType":{},"resource":{},"resourceUrl":{},"resourceData":{data}}}"##,
        quoted(change_type),
        quoted(&format!("/app/calls/{call_id}{tail}")),
        quoted(&format!("/communications/calls/{call_id}{tail}")),
    )
}

/// [`notification_text`] with `resourceData` as a value.
pub(crate) fn notification(change_type: &str, call_id: &str, tail: &str, data: &Value) -> String {
    notification_text(change_type, call_id, tail, &data.to_string())
}

/// A fresh GUID, the id format Graph uses for calls, participants, operations
/// and requests.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Another value than `context`, for the faults that echo the wrong one.
pub(crate) fn other_client_context(context: Option<&str>) -> String {
    match context {
        Some(text) => format!("{text}-not-the-one-sent"),
        None => "not-the-one-sent".to_owned(),
    }
}

pub(crate) fn remove(value: &mut Value, member: &str) {
    if let Some(object) = value.as_object_mut() {
        object.remove(member);
    }
}
