//! The shapes of what the server sends that variants choose, where one
//! closure in the table would not say it in a few lines.

use std::sync::Arc;

use serde_json::Value;

use crate::resources::echoed_participants;
use crate::sent::{Answer, Batch, Data, NoteKind};

/// The extra member `extra-members` adds to the open types it may extend.
pub(super) const EXTRA_MEMBER: &str = "conformanceExtra";

/// An operation's `status` in PascalCase, as Graph's metadata spells it.
pub(super) fn pascal_case_status(operation: &mut Value) {
    let Some(status) = operation.get_mut("status") else {
        return;
    };
    if let Some(text) = status.as_str() {
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            *status = format!("{}{}", first.to_ascii_uppercase(), chars.as_str()).into();
        }
    }
}

/// Removes every `@odata.type` member, at any depth. Values come from
/// parsed request bodies, whose depth serde_json bounds (128), or from the
/// server itself, so the recursion is bounded.
pub(super) fn strip_odata_type(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.remove("@odata.type");
            members.values_mut().for_each(strip_odata_type);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_odata_type),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// The members `extra-members` adds to an operation: one of its own, and
/// the declared but seldom sent members of the participants it echoes.
pub(super) fn extra_operation_members(operation: &mut Value) {
    let Some(operation) = operation.as_object_mut() else {
        return;
    };
    for participant in echoed_participants(operation) {
        for member in ["hidden", "removeFromDefaultAudioRoutingGroup"] {
            participant.entry(member).or_insert(Value::Bool(false));
        }
    }
    operation.insert(EXTRA_MEMBER.into(), "x".into());
}

/// An operation as the spec's Example 4 response shows it: the members of
/// its echoed participants that were not sent are null, and so is every
/// identity kind not sent.
pub(super) fn graph_shape(operation: &mut Value) {
    let Some(operation) = operation.as_object_mut() else {
        return;
    };
    for participant in echoed_participants(operation) {
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
}

/// The members Graph's error schema declares and seldom sends, and one in
/// the free-form innerError.
pub(super) fn extra_error_members(answer: &mut Answer) {
    let Some(error) = answer.error_mut() else {
        return;
    };
    error.insert("target".into(), Value::Null);
    error.insert("details".into(), Value::Array(Vec::new()));
    if let Some(Value::Object(inner)) = error.get_mut("innerError") {
        inner.insert(EXTRA_MEMBER.into(), "x".into());
    }
}

/// Each roster update about joins becomes one update per participant who
/// joined, each stating the roster as it stood once that one had.
pub(super) fn one_roster_update_per_joiner(batch: &mut Batch<'_>) {
    let notes = std::mem::take(&mut batch.notes);
    for note in notes {
        let listing = match &note.data {
            Data::Roster(listing) if note.kind() == NoteKind::Roster => listing,
            _ => {
                batch.notes.push(note);
                continue;
            }
        };
        if listing.joined_from >= listing.roster.len() {
            batch.notes.push(note);
            continue;
        }
        for joined in listing.joined_from..listing.roster.len() {
            let mut one = note.clone();
            if let Some(narrowed) = one.listing_mut() {
                narrowed.roster = listing.roster[..=joined].iter().map(Arc::clone).collect();
                narrowed.joined_from = joined;
            }
            batch.notes.push(one);
        }
    }
}

/// What real Graph adds to a roster participant beyond the v1.0 metadata,
/// with the shapes recorded traffic shows (corpus/, issues 513 and 599 of
/// microsoft-graph-comms-samples): values of this server's own.
pub(super) fn graph_roster_members(participant: &mut Value) {
    let Some(object) = participant.as_object_mut() else {
        return;
    };
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("participant")
        .to_owned();
    let link = format!("https://cc.example.invalid/cc/v1/callParticipant/{id}/replacement");
    object.insert("isIdentityAnonymized".into(), false.into());
    object.insert("meetingRole".into(), "attendee".into());
    object.insert("publishedStates".into(), Value::Array(Vec::new()));
    object.insert("replacementLink".into(), link.clone().into());
    let Some(info) = object.get_mut("info").and_then(Value::as_object_mut) else {
        return;
    };
    info.insert("endpointId".into(), format!("endpoint-{id}").into());
    info.insert(
        "clientVersion".into(),
        "ReferenceClient/1.0 (os=linux; deviceType=computer)".into(),
    );
    info.insert("replacementLink".into(), link.into());
    let identities = info.get_mut("identity").and_then(Value::as_object_mut);
    for (kind, identity) in identities.into_iter().flatten() {
        if let (false, Some(identity)) = (kind.starts_with('@'), identity.as_object_mut()) {
            identity
                .entry("tenantId")
                .or_insert_with(|| "00000000-0000-4000-8000-000000000000".into());
            identity
                .entry("identityProvider")
                .or_insert_with(|| "AAD".into());
        }
    }
}

/// A roster participant whose info names a derived type the v1.0 metadata
/// does not have, and whose user identity names the derived type v1.0 has.
pub(super) fn derived_roster_types(participant: &mut Value) {
    let Some(info) = participant.get_mut("info").and_then(Value::as_object_mut) else {
        return;
    };
    info.insert(
        "@odata.type".into(),
        "#microsoft.graph.teamsParticipantInfo".into(),
    );
    let identities = info.get_mut("identity").and_then(Value::as_object_mut);
    let user = identities.and_then(|i| i.get_mut("user")?.as_object_mut());
    if let Some(user) = user {
        user.insert(
            "@odata.type".into(),
            "#microsoft.graph.communicationsUserIdentity".into(),
        );
    }
}
