//! What the invite suite reads of a tenant profile (`--tenant FILE`): the
//! identities its cases and generated inputs invite (the sample ids of the
//! docs by default, which no real tenant has), and, under `fixtures`, how
//! it creates calls there: the tenant, the bot's application, the meeting
//! a group call joins, the peer a peer-to-peer call rings (an
//! auto-answering application instance: a person rings until they answer),
//! and the user a `move_source` call holds.

use conformance_harness::{Context, FixtureError};
use serde::Deserialize;
use serde_json::{json, Value};

/// Identity kind -> the sample identities used without a tenant profile:
/// `{{identity.user}}` is the first user, `{{identity.user.5}}` the sixth
/// (a case inviting six people needs six). The first is the docs' own.
pub const SAMPLE_IDENTITIES: &[(&str, &[&str])] = &[
    (
        "user",
        &[
            "c8a3a2f6-1d0a-4a6e-9d55-0b1f0e7c3a11",
            "278405a3-f568-4b3e-b684-009193463064",
            "7e1b4346-85a6-4bdd-abe3-d11c5d420efe",
            "1e126418-44a0-4a94-a6f8-0efe1ad71acb",
            "d4957c9d-869e-4364-830c-d0c95be72738",
            "7d501bf1-5ee4-4605-ba92-0ae4513c611c",
        ],
    ),
    ("phone", &["+12345678901"]),
    ("application", &["2891555a-92ff-42e6-80fa-6e1300c6b5c6"]),
    (
        "applicationInstance",
        &["0a4f7d3c-2f5e-4c1b-9a8d-6e2b1c0f9a77"],
    ),
];

/// How the suite creates calls on the target: the tenant profile's
/// `fixtures` member, every field defaulting to the samples.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CallDetails {
    /// The tenant the calls are made in.
    #[serde(default = "sample_tenant")]
    pub tenant_id: String,
    /// The bot's application id: the source of every call it creates.
    #[serde(default = "sample_bot")]
    pub bot_application_id: String,
    /// Members merged into a group call's create body: the meeting it joins
    /// (`chatInfo` and `meetingInfo`, as Graph's "join a scheduled meeting"
    /// example has them).
    #[serde(default = "sample_meeting")]
    pub group_call: Value,
    /// The identitySet a peer-to-peer call rings: one that answers by itself.
    #[serde(default = "sample_peer")]
    pub p2p_target: Value,
    /// The user a `move_source` call holds, ready to be moved.
    #[serde(default = "sample_moved_user")]
    pub moved_user: String,
}

const SAMPLE_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const SAMPLE_BOT: &str = "2891555a-92ff-42e6-80fa-6e1300c6b5c6";
/// The user a `move_source` call holds without a tenant profile.
pub const SAMPLE_MOVED_USER: &str = "682b6c37-0729-4fab-ace6-d730d5d9137e";

fn sample_tenant() -> String {
    SAMPLE_TENANT.to_owned()
}

fn sample_bot() -> String {
    SAMPLE_BOT.to_owned()
}

fn sample_moved_user() -> String {
    SAMPLE_MOVED_USER.to_owned()
}

fn sample_meeting() -> Value {
    json!({
        "chatInfo": {
            "@odata.type": "#microsoft.graph.chatInfo",
            "threadId": "19:meeting_conformance@thread.v2",
            "messageId": "0"
        },
        "meetingInfo": {
            "@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": identity_set("user", "5810cede-f3cc-42eb-b2c1-e9bd5d53ec96", "Organizer")
        }
    })
}

fn sample_peer() -> Value {
    identity_set("user", "8e2a4c53-61a1-4cb5-a06e-6a6a2a0b0f11", "Peer")
}

impl Default for CallDetails {
    fn default() -> Self {
        Self {
            tenant_id: sample_tenant(),
            bot_application_id: sample_bot(),
            group_call: sample_meeting(),
            p2p_target: sample_peer(),
            moved_user: sample_moved_user(),
        }
    }
}

impl CallDetails {
    /// The details the run's tenant profile gives (the samples without one).
    pub fn of(cx: &Context<'_>, kind: &str) -> Result<Self, FixtureError> {
        let given = &cx.options.tenant.fixtures;
        if given.is_null() {
            return Ok(Self::default());
        }
        serde_path_to_error::deserialize(given).map_err(|e| FixtureError::Create {
            kind: kind.to_owned(),
            message: format!(
                "the tenant profile {} says fixtures.{}: {}",
                cx.options.tenant.describe(),
                e.path(),
                e.inner()
            ),
        })
    }

    /// What every create-call body has, its notifications going to `callback`.
    fn common(&self, callback: &str) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.call",
            "callbackUri": callback,
            "requestedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
            "source": {
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": identity_set("application", &self.bot_application_id, "Conformance bot")
            },
            "tenantId": self.tenant_id
        })
    }

    /// The body a group call is created with: it joins the meeting.
    pub fn group_body(&self, callback: &str) -> Value {
        let mut body = self.common(callback);
        if let (Some(body), Some(meeting)) = (body.as_object_mut(), self.group_call.as_object()) {
            for (k, v) in meeting {
                body.insert(k.clone(), v.clone());
            }
        }
        body
    }

    /// The body a peer-to-peer call is created with: it rings the peer.
    pub fn p2p_body(&self, callback: &str) -> Value {
        let mut body = self.common(callback);
        body["targets"] = json!([{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": self.p2p_target
        }]);
        body
    }

    /// The create-call body of a group call, or of a peer-to-peer one.
    pub fn body(&self, group: bool, callback: &str) -> Value {
        if group {
            self.group_body(callback)
        } else {
            self.p2p_body(callback)
        }
    }
}

/// An identitySet of one identity.
pub fn identity_set(member: &str, id: &str, name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.identitySet",
        member: {"@odata.type": "#microsoft.graph.identity", "id": id, "displayName": name}
    })
}
