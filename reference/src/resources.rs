//! The Graph resources the server hands out, as the JSON Graph sends them:
//! participants, invite operations and the notifications that carry them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Value};

use crate::faults::{Fault, FaultSet};
use crate::variants::{Variant, VariantSet};

/// The extra member `extra-members` adds to the open types it may extend.
pub(crate) const EXTRA_MEMBER: &str = "conformanceExtra";

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
    pub(crate) fn new(id: String, identity: Value) -> Participant {
        Participant {
            id,
            identity,
            text: std::sync::OnceLock::new(),
        }
    }

    /// [`Participant::to_json`] as text (the faults and variants are the
    /// server's, fixed for its life).
    /// The participant as a roster notification carries it.
    pub(crate) fn json_text(&self, faults: FaultSet, variants: VariantSet) -> &str {
        self.text.get_or_init(|| {
            let mut participant = self.to_json(faults, variants);
            if variants.has(Variant::RosterNullIds) {
                participant["id"] = Value::Null;
            }
            participant.to_string()
        })
    }

    /// The participant as Graph sends it. participant, participantInfo and
    /// mediaStream are closed types: no variant adds members to them.
    pub(crate) fn to_json(&self, faults: FaultSet, variants: VariantSet) -> Value {
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
        if variants.has(Variant::NoOdataType) {
            strip_odata_type(&mut participant);
        }
        participant
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
    /// The status as the docs and the service spell it (lower camel case),
    /// or as the metadata does (PascalCase).
    fn as_str(self, pascal: bool) -> &'static str {
        match (self, pascal) {
            (OperationStatus::NotStarted, false) => "notStarted",
            (OperationStatus::Running, false) => "running",
            (OperationStatus::Completed, false) => "completed",
            (OperationStatus::Failed, false) => "failed",
            (OperationStatus::NotStarted, true) => "NotStarted",
            (OperationStatus::Running, true) => "Running",
            (OperationStatus::Completed, true) => "Completed",
            (OperationStatus::Failed, true) => "Failed",
        }
    }

    /// Completed or failed: nothing more happens to the operation.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, OperationStatus::Completed | OperationStatus::Failed)
    }
}

/// Where an operation is shown, which some variants tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The invite response or a GET of the operation.
    Response,
    /// The resourceData of a notification.
    Notification,
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
    pub(crate) fn to_json(&self, place: Place, variants: VariantSet) -> Value {
        let pascal = variants.has(Variant::StatusPascalCase)
            || (place == Place::Response && variants.has(Variant::StatusAsExamples));
        let mut operation = json!({
            "@odata.type": "#microsoft.graph.inviteParticipantsOperation",
            "id": self.id,
            "status": self.status.as_str(pascal),
            "clientContext": self.client_context,
            "resultInfo": self.result_info,
            "participants": self.participants,
        });
        let graph_shaped = place == Place::Response && variants.has(Variant::GraphShapedResponse);
        let extra = variants.has(Variant::ExtraMembers);
        if graph_shaped || extra {
            if let Some(participants) = operation
                .get_mut("participants")
                .and_then(Value::as_array_mut)
            {
                for participant in participants.iter_mut().filter_map(Value::as_object_mut) {
                    if graph_shaped {
                        graph_shape(participant);
                    }
                    if extra {
                        for member in ["hidden", "removeFromDefaultAudioRoutingGroup"] {
                            participant.entry(member).or_insert(Value::Bool(false));
                        }
                    }
                }
            }
        }
        if extra {
            operation[EXTRA_MEMBER] = "x".into();
        }
        if variants.has(Variant::NoOdataType) {
            strip_odata_type(&mut operation);
        }
        operation
    }
}

/// An echoed invitationParticipantInfo as the spec's Example 4 response shows
/// it: the members not sent are null, and so is every identity kind not sent.
fn graph_shape(participant: &mut Map<String, Value>) {
    for member in ["endpointType", "id", "replacesCallId"] {
        participant.entry(member).or_insert(Value::Null);
    }
    if let Some(Value::Object(identity)) = participant.get_mut("identity") {
        for kind in [
            "user",
            "guest",
            "encrypted",
            "onPremises",
            "applicationInstance",
            "application",
            "device",
            "phone",
        ] {
            identity.entry(kind).or_insert(Value::Null);
        }
    }
}

/// Removes every `@odata.type` member, at any depth. Values come from
/// parsed request bodies, whose depth serde_json bounds (128), or from the
/// server itself, so the recursion is bounded.
pub(crate) fn strip_odata_type(value: &mut Value) {
    match value {
        Value::Object(members) => strip_members(members),
        Value::Array(items) => items.iter_mut().for_each(strip_odata_type),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// [`strip_odata_type`] on an object's members.
pub(crate) fn strip_members(members: &mut Map<String, Value>) {
    members.remove("@odata.type");
    members.values_mut().for_each(strip_odata_type);
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
    variants: VariantSet,
) -> String {
    let quoted = |text: &str| Value::from(text).to_string();
    let url = quoted(&format!("/communications/calls/{call_id}{tail}"));
    let odata_type = if variants.has(Variant::NoOdataType) {
        ""
    } else {
        r##""@odata.type":"#microsoft.graph.commsNotification","##
    };
    // Of the two conflicting variants, the earlier in `Variant::ALL` wins.
    let resource = if variants.has(Variant::ResourceCommunicationsPath) {
        format!(r#""resource":{url},"#)
    } else if variants.has(Variant::NoResource) {
        String::new()
    } else {
        format!(
            r#""resource":{},"#,
            quoted(&format!("/app/calls/{call_id}{tail}"))
        )
    };
    format!(
        r#"{{{odata_type}"changeType":{},{resource}"resourceUrl":{url},"resourceData":{data}}}"#,
        quoted(change_type),
    )
}

/// [`notification_text`] with `resourceData` as a value.
pub(crate) fn notification(
    change_type: &str,
    call_id: &str,
    tail: &str,
    data: &Value,
    variants: VariantSet,
) -> String {
    notification_text(change_type, call_id, tail, &data.to_string(), variants)
}

/// A fresh GUID, the id format Graph uses for calls, participants, operations
/// and requests.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Makes the ids of calls, operations and participants: GUIDs, or under
/// `opaque-ids` numbered names (`call-0001`), unique per server.
#[derive(Debug)]
pub(crate) struct Ids {
    opaque: bool,
    calls: AtomicU64,
    operations: AtomicU64,
    participants: AtomicU64,
}

impl Ids {
    pub(crate) fn new(variants: VariantSet) -> Ids {
        Ids {
            opaque: variants.has(Variant::OpaqueIds),
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
        if !self.opaque {
            return new_id();
        }
        let number = counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        format!("{kind}-{number:04}")
    }
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
