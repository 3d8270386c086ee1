//! Checks of incoming requests, in Graph's order: content type, size, JSON,
//! then the documented types and rules of each body.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};
use tokio::time::{Duration, Instant};

use crate::error::ApiError;
use crate::seam::{Decision, Rules};

/// Most bytes of a refused body read only to keep the connection usable;
/// past it, the connection is closed instead.
const DISCARD_LIMIT: usize = 16 * 1024 * 1024;
const MODALITIES: &[&str] = &["audio", "video", "videoBasedScreenSharing", "data"];

/// The members an identitySet (or communicationsIdentitySet) declares; each
/// must hold an identity object or null. Others are dynamic and unchecked.
const IDENTITY_SLOTS: &[&str] = &[
    "user",
    "application",
    "device",
    "applicationInstance",
    "assertedIdentity",
    "azureCommunicationServicesUser",
    "encrypted",
    "guest",
    "onPremises",
    "phone",
];

/// Whether a call takes several invitees per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Group,
    PeerToPeer,
}

/// `415` unless the body is declared as JSON (parameters such as a charset
/// are allowed).
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let is_json = declared.as_deref().is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case("application/json")
    });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(declared.map_or_else(
            || "none".to_owned(),
            |value| format!("{value:?}"),
        )))
    }
}

/// Reads the whole body, refusing with `413` as soon as it passes `limit`
/// (a declared Content-Length is refused before any byte is kept), and with
/// `408` if it has not all arrived within `timeout`: a client that trickles
/// its body must not hold a connection (and the memory read so far) for ever.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let deadline = Instant::now() + timeout;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        discard_until(body, deadline).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut buffer = Vec::new();
    loop {
        let next = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = match tokio::time::timeout_at(deadline, next).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_elapsed) => return Err(ApiError::RequestTimeout(timeout)),
        };
        let frame = frame
            .map_err(|_| ApiError::BadRequest("The request body could not be read.".into()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len().saturating_add(data.len()) > limit {
                discard_until(body, deadline).await;
                return Err(ApiError::PayloadTooLarge(limit));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

/// Reads and drops what is left of a refused request's body (up to
/// [`DISCARD_LIMIT`] and for at most `timeout`), so the connection stays usable:
/// a server that answers and closes with unread bytes pending makes the
/// kernel reset the connection, and the client may lose the answer or its
/// next request. Past either bound the connection is closed instead.
pub(crate) async fn discard_body(body: Body, timeout: Duration) {
    discard_until(body, Instant::now() + timeout).await;
}

async fn discard_until(mut body: Body, deadline: Instant) {
    let drain = async move {
        let mut discarded = 0usize;
        while let Some(Ok(frame)) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            if let Ok(data) = frame.into_data() {
                discarded = discarded.saturating_add(data.len());
                if discarded > DISCARD_LIMIT {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, drain).await;
}

/// Parses a body that must be a JSON object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        )),
        Err(error) => Err(ApiError::MalformedJson(error.to_string())),
    }
}

/// A well-typed invite body.
#[derive(Debug, Clone)]
pub(crate) struct Invite {
    /// The invitationParticipantInfo objects, exactly as sent.
    pub(crate) participants: Vec<Value>,
    pub(crate) client_context: Option<String>,
}

/// Checks an invite body against the documented types and limits that do not
/// depend on the call.
pub(crate) fn invite(body: &Map<String, Value>, rules: &Rules) -> Result<Invite, ApiError> {
    let nobody = Vec::new();
    let participants = match body.get("participants") {
        Some(Value::Array(items)) => items,
        None if rules.decide(Decision::ReadUnparseableAsEmpty) => &nobody,
        None | Some(Value::Null) => return Err(bad("participants is required.")),
        Some(_) => return Err(bad("participants must be an array.")),
    };
    if participants.is_empty()
        && !rules.decide(Decision::AcceptEmptyParticipants)
        && !rules.decide(Decision::ReadUnparseableAsEmpty)
    {
        return Err(bad("participants must name at least one participant."));
    }
    for (index, participant) in participants.iter().enumerate() {
        invitation_participant(&format!("participants[{index}]"), participant, rules)
            .map_err(ApiError::BadRequest)?;
    }
    let client_context = match body.get("clientContext") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(bad("clientContext must be a string or null.")),
    };
    if let Some(text) = &client_context {
        let length = text.encode_utf16().count();
        if length > rules.client_context {
            return Err(ApiError::BadRequest(format!(
                "clientContext is {length} characters long; the limit is {}.",
                rules.client_context
            )));
        }
    }
    Ok(Invite {
        participants: participants.clone(),
        client_context,
    })
}

/// How many participants one invite may carry into a call of `kind`.
pub(crate) fn invitee_count(kind: CallKind, count: usize, rules: &Rules) -> Result<(), ApiError> {
    match kind {
        CallKind::PeerToPeer if count > rules.p2p_invitees => Err(bad(
            "Inviting several participants in one request is only supported for group calls.",
        )),
        CallKind::Group if count > rules.group_invitees => Err(ApiError::BadRequest(format!(
            "At most {} participants can be invited in one request; got {count}.",
            rules.group_invitees
        ))),
        _ => Ok(()),
    }
}

/// A well-typed create-call body.
#[derive(Debug, Clone)]
pub(crate) struct NewCall {
    pub(crate) kind: CallKind,
    pub(crate) callback_uri: String,
    pub(crate) targets: Vec<Value>,
}

/// Checks a create-call body against what Graph requires of it.
pub(crate) fn new_call(body: &Map<String, Value>, rules: &Rules) -> Result<NewCall, ApiError> {
    let callback_uri = match body.get("callbackUri") {
        Some(Value::String(uri)) if is_http_url(uri) => uri.clone(),
        Some(Value::String(_)) => return Err(bad("callbackUri must be an absolute http(s) URL.")),
        None | Some(Value::Null) => return Err(bad("callbackUri is required.")),
        Some(_) => return Err(bad("callbackUri must be a string.")),
    };
    match body.get("mediaConfig") {
        Some(Value::Object(_)) => {}
        None | Some(Value::Null) => return Err(bad("mediaConfig is required.")),
        Some(_) => return Err(bad("mediaConfig must be an object.")),
    }
    match body.get("requestedModalities") {
        Some(Value::Array(items)) if !items.is_empty() => {
            if let Some(index) = items
                .iter()
                .position(|item| !item.as_str().is_some_and(|m| MODALITIES.contains(&m)))
            {
                return Err(ApiError::BadRequest(format!(
                    "requestedModalities[{index}] must be one of {}.",
                    MODALITIES.join(", ")
                )));
            }
        }
        Some(Value::Array(_)) => return Err(bad("requestedModalities must not be empty.")),
        None | Some(Value::Null) => return Err(bad("requestedModalities is required.")),
        Some(_) => return Err(bad("requestedModalities must be an array.")),
    }
    match body.get("source") {
        None | Some(Value::Null) => {}
        Some(Value::Object(source)) => match source.get("identity") {
            None | Some(Value::Null) => {}
            Some(Value::Object(identity)) => {
                identity_set("source.identity", identity, false).map_err(ApiError::BadRequest)?
            }
            Some(_) => return Err(bad("source.identity must be an object.")),
        },
        Some(_) => return Err(bad("source must be an object.")),
    }
    for member in ["chatInfo", "meetingInfo"] {
        if body
            .get(member)
            .is_some_and(|v| !v.is_null() && !v.is_object())
        {
            return Err(ApiError::BadRequest(format!("{member} must be an object.")));
        }
    }
    if body
        .get("tenantId")
        .is_some_and(|v| !v.is_null() && !v.is_string())
    {
        return Err(bad("tenantId must be a string."));
    }
    let targets = match body.get("targets") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(bad("targets must be an array.")),
    };
    for (index, target) in targets.iter().enumerate() {
        invitation_participant(&format!("targets[{index}]"), target, rules)
            .map_err(ApiError::BadRequest)?;
    }
    let joins_meeting = body.get("meetingInfo").is_some_and(Value::is_object);
    let kind = match targets.len() {
        _ if joins_meeting => CallKind::Group,
        0 => {
            return Err(bad(
                "A call needs targets (a peer-to-peer or group call) or meetingInfo (to join a meeting).",
            ))
        }
        1 => CallKind::PeerToPeer,
        _ => CallKind::Group,
    };
    Ok(NewCall {
        kind,
        callback_uri,
        targets,
    })
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

fn invitation_participant(path: &str, value: &Value, rules: &Rules) -> Result<(), String> {
    let Value::Object(info) = value else {
        return Err(format!(
            "{path} must be an invitationParticipantInfo object."
        ));
    };
    for member in ["@odata.type", "replacesCallId", "participantId"] {
        optional(path, info, member, "a string", Value::is_string)?;
    }
    for member in ["hidden", "removeFromDefaultAudioRoutingGroup"] {
        optional(path, info, member, "a boolean", Value::is_boolean)?;
    }
    let allow_empty = rules.decide(Decision::AcceptEmptyIdentity);
    match info.get("identity") {
        Some(Value::Object(identity)) => {
            identity_set(&format!("{path}.identity"), identity, allow_empty)
        }
        None | Some(Value::Null) if allow_empty => Ok(()),
        None | Some(Value::Null) => Err(format!("{path}.identity is required.")),
        Some(_) => Err(format!("{path}.identity must be an identitySet object.")),
    }
}

fn identity_set(path: &str, set: &Map<String, Value>, allow_empty: bool) -> Result<(), String> {
    optional(path, set, "@odata.type", "a string", Value::is_string)?;
    for slot in IDENTITY_SLOTS {
        optional(path, set, slot, "an identity object", Value::is_object)?;
    }
    let mut names_someone = false;
    for (name, member) in set {
        if let Value::Object(identity) = member {
            if name != "@odata.type" {
                names_someone = true;
                let path = format!("{path}.{name}");
                for field in ["@odata.type", "id", "displayName"] {
                    optional(&path, identity, field, "a string", Value::is_string)?;
                }
            }
        }
    }
    if names_someone || allow_empty {
        Ok(())
    } else {
        Err(format!(
            "{path} must hold at least one identity (user, application, phone, ...)."
        ))
    }
}

/// A member that may be absent or null, and otherwise must pass `is_type`.
fn optional(
    path: &str,
    object: &Map<String, Value>,
    member: &str,
    type_name: &str,
    is_type: fn(&Value) -> bool,
) -> Result<(), String> {
    match object.get(member) {
        Some(value) if !value.is_null() && !is_type(value) => {
            Err(format!("{path}.{member} must be {type_name} or null."))
        }
        _ => Ok(()),
    }
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Config;

    fn invite_of(body: Value) -> Result<Invite, ApiError> {
        match body {
            Value::Object(object) => invite(&object, &Rules::new(&Config::default())),
            _ => Err(bad("not an object")),
        }
    }

    #[test]
    fn identity_sets_are_open() {
        let ok = invite_of(json!({"participants": [{
            "identity": {"guest": {"id": "g", "tenantId": "t", "extra": 1}, "tenantId": "x", "user": null}
        }]}));
        assert!(ok.is_ok(), "{ok:?}");
        let empty =
            invite_of(json!({"participants": [{"identity": {"@odata.type": "#x", "user": null}}]}));
        assert!(empty.is_err());
        let wrong = invite_of(json!({"participants": [{"identity": {"user": {"id": 5}}}]}));
        assert!(wrong.is_err());
    }

    #[test]
    fn client_context_counts_utf16_units() {
        let at = |context: String| {
            invite_of(
                json!({"participants": [{"identity": {"user": {}}}], "clientContext": context}),
            )
        };
        assert!(at("😀".repeat(128)).is_ok());
        assert!(at(format!("{}a", "😀".repeat(128))).is_err());
    }
}
