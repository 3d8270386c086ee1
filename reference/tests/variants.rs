//! Every variant: the same scenario runs on a server with the variant, where
//! its effect must show, and on a default server, where it must not. Then
//! the variants all at once ([`Variant::compatible_set`], and a set of the
//! ones it leaves out), where an invite must still end exactly once and
//! reach the roster.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use invite_reference::{Config, Variant};
use serde_json::{json, Value};

const GRAPH_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

fn users(ids: &[&str]) -> Vec<Value> {
    ids.iter().map(|id| user(id)).collect()
}

fn op_id(reply: &Reply) -> String {
    reply.json()["id"]
        .as_str()
        .expect("operation id")
        .to_owned()
}

fn op_path(call_id: &str, op_id: &str) -> String {
    format!("/communications/calls/{call_id}/operations/{op_id}")
}

/// completed or failed, in any casing.
fn is_terminal(status: &Value) -> bool {
    status
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("completed") || s.eq_ignore_ascii_case("failed"))
}

/// The user ids a roster (participant objects) lists.
fn listed(roster: &Value) -> Vec<String> {
    roster
        .as_array()
        .expect("a roster is an array")
        .iter()
        .filter_map(|p| p["info"]["identity"]["user"]["id"].as_str())
        .map(str::to_owned)
        .collect()
}

/// Whether `value` holds an `@odata.type` member at any depth.
fn has_odata_type(value: &Value) -> bool {
    match value {
        Value::Object(members) => {
            members.contains_key("@odata.type") || members.values().any(has_odata_type)
        }
        Value::Array(items) => items.iter().any(has_odata_type),
        _ => false,
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// Reads until an invite has settled: a terminal status (in `reply` or in a
/// notification) and roster updates naming every one of `invitees`.
async fn until_settled(inbox: &mut Inbox, reply: &Reply, invitees: &[&str]) -> Vec<Note> {
    let mut ended = is_terminal(&reply.json()["status"]);
    let mut named = HashSet::new();
    let mut notes = Vec::new();
    while !(ended && invitees.iter().all(|i| named.contains(*i))) {
        let note = inbox.next().await;
        ended |= note.is_operation_end();
        if note.is_roster() {
            named.extend(listed(&note.data()));
        }
        notes.push(note);
    }
    notes
}

/// Deletes a call and reads its inbox up to the call's `deleted`
/// notification, which ends the list.
async fn end_call(h: &Harness, call_id: &str, inbox: &mut Inbox) -> Vec<Note> {
    let call_path = format!("/communications/calls/{call_id}");
    assert_eq!(h.delete(&call_path).await.status, 204);
    inbox.until_call_deleted(call_id, usize::MAX).await
}

/// Everything a call's inbox got after an invite: [`until_settled`], then
/// [`end_call`]. Whatever the invite caused comes before the call's end, on
/// the same queue, so nothing of it is missed.
async fn settle(
    h: &Harness,
    call_id: &str,
    inbox: &mut Inbox,
    reply: &Reply,
    invitees: &[&str],
) -> Vec<Note> {
    let mut notes = until_settled(inbox, reply, invitees).await;
    notes.extend(end_call(h, call_id, inbox).await);
    notes
}

/// `notes` without the call's own end (its `terminated` and `deleted`).
fn before_end(notes: &[Note], call_id: &str) -> Vec<Note> {
    let call_path = format!("/communications/calls/{call_id}");
    notes
        .iter()
        .filter(|n| {
            !(n.resource_url() == call_path
                && (n.change_type() == "deleted" || n.data()["state"] == "terminated"))
        })
        .cloned()
        .collect()
}

/// A group call, an invite of one user, and every notification up to the
/// call's end.
async fn invite_notes(h: &Harness) -> (String, Reply, Vec<Note>) {
    let (call_id, reply, mut inbox) = invite_accepted(h).await;
    let notes = settle(h, &call_id, &mut inbox, &reply, &["invitee"]).await;
    (call_id, reply, notes)
}

/// Notifications about an operation, whatever their change type.
fn about_operations(notes: &[Note]) -> Vec<&Note> {
    notes
        .iter()
        .filter(|n| n.resource_url().contains("/operations/"))
        .collect()
}

/// Invites `n` users into a fresh group call; their ids are `u0`, `u1`...
async fn invite_users(h: &Harness, n: usize) -> (String, Vec<Note>) {
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let ids: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let reply = h
        .invite(&call_id, &invite_body(&users(&ids), CONTEXT))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let notes = settle(h, &call_id, &mut inbox, &reply, &ids).await;
    (call_id, notes)
}

/// Moves the peer of a peer-to-peer call into a group call; returns the
/// old call's inbox, once the move is through.
async fn move_peer(h: &Harness) -> (String, Inbox, Reply, Vec<Note>) {
    let mut moved = start_move(h).await;
    let notes = settle(
        h,
        &moved.new_call,
        &mut moved.new_inbox,
        &moved.reply,
        &["p2p-peer"],
    )
    .await;
    assert!(
        !notes
            .iter()
            .filter(|n| n.is_roster())
            .any(|n| listed(&n.data()).contains(&"second".to_owned())),
        "only the first participant moves"
    );
    (moved.old_call, moved.old_inbox, moved.reply, notes)
}

/// Replaces a peer-to-peer call by inviting its peer into a group call; the
/// peer-to-peer call must end with `terminated` and `deleted`.
async fn replace_p2p(h: &Harness) {
    let (p2p, mut p2p_inbox) = h.live_call(P2P).await;
    let (group, mut inbox) = h.live_call(GROUP).await;
    let mut invitee = user("p2p-peer");
    invitee["replacesCallId"] = json!(p2p);
    let reply = h.invite(&group, &invite_body(&[invitee], CONTEXT)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    settle(h, &group, &mut inbox, &reply, &["p2p-peer"]).await;
    p2p_inbox.expect_call_end(&p2p).await;
    // Not `assert_graph_error`: some variants leave innerError out.
    let gone = h.get(&format!("/communications/calls/{p2p}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], "itemNotFound");
}

/// Every JSON body a session with the server shows, error first: an error,
/// create, established, invite, GET of the operation, GET of the call, the
/// roster, and every notification up to the call's end.
async fn everything_sent(h: &Harness) -> Vec<Value> {
    let mut bodies = vec![h.get("/communications/calls/none").await.json()];
    let (callback, mut inbox) = h.hooks.inbox();
    let created = h
        .post("/communications/calls", &call_body(GROUP, &callback))
        .await;
    bodies.push(created.json());
    let call_id = created.json()["id"].as_str().expect("id").to_owned();
    bodies.push(inbox.next().await.json());
    let reply = h.invite(&call_id, &one_user()).await;
    bodies.push(reply.json());
    let mut notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
    bodies.push(h.get(&op_path(&call_id, &op_id(&reply))).await.json());
    bodies.push(
        h.get(&format!("/communications/calls/{call_id}"))
            .await
            .json(),
    );
    bodies.push(
        h.get(&format!("/communications/calls/{call_id}/participants"))
            .await
            .json(),
    );
    notes.extend(end_call(h, &call_id, &mut inbox).await);
    bodies.extend(notes.iter().map(Note::json));
    bodies
}

effect_tests! {
    Variant, every_variant_has_a_test;
    status_pascal_case: StatusPascalCase => async |h, on| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(reply.json()["status"], if on { "Running" } else { "running" });
        assert_eq!(ends(&notes)[0].data()["status"], if on { "Completed" } else { "completed" });
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        until_settled(&mut inbox, &reply, &["invitee"]).await;
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
        assert_eq!(got["status"], if on { "Completed" } else { "completed" });
    };
    status_as_examples: StatusAsExamples => async |h, on| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(reply.json()["status"], if on { "Running" } else { "running" });
        assert_eq!(ends(&notes)[0].data()["status"], "completed");
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        until_settled(&mut inbox, &reply, &["invitee"]).await;
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
        assert_eq!(got["status"], if on { "Completed" } else { "completed" });
    };
    graph_extra_members: GraphExtraMembers => async |h, on| {
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        let notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
        let roster = rosters(&notes)[0].data();
        let participant = roster
            .as_array()
            .and_then(|list| list.first())
            .expect("a roster lists a participant")
            .clone();
        assert_eq!(participant["isIdentityAnonymized"] == false, on, "{participant}");
        assert_eq!(participant["meetingRole"] == "attendee", on);
        assert_eq!(participant["publishedStates"].is_array(), on);
        assert_eq!(participant["replacementLink"].is_string(), on);
        assert_eq!(participant["info"]["endpointId"].is_string(), on);
        assert_eq!(participant["info"]["clientVersion"].is_string(), on);
        let listed = h.roster(&call_id).await;
        assert_eq!(listed.iter().all(|p| p["meetingRole"] == "attendee"), on);
        let call = h.get(&format!("/communications/calls/{call_id}")).await.json();
        assert_eq!(call["meetingCapability"].is_object(), on, "{call}");
    };
    future_derived_types: FutureDerivedTypes => async |h, on| {
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        let notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
        let roster = rosters(&notes)[0].data();
        let info = &roster[0]["info"];
        assert_eq!(
            info["@odata.type"] == "#microsoft.graph.teamsParticipantInfo",
            on,
            "{info}"
        );
        let listed = h.roster(&call_id).await;
        let user = listed
            .iter()
            .find_map(|p| p["info"]["identity"]["user"].as_object().cloned())
            .expect("a user in the roster");
        assert_eq!(
            user["@odata.type"] == "#microsoft.graph.communicationsUserIdentity",
            on
        );
    };
    no_odata_type: NoOdataType => async |h, on| {
        let bodies = everything_sent(h).await;
        assert!(has_member(&bodies[0], "error"));
        for body in &bodies[1..] {
            assert_eq!(has_odata_type(body), !on, "{body}");
        }
        assert!(!has_odata_type(&bodies[0]), "errors never have one");
    };
    terminal_in_response: TerminalInResponse => async |h, on| {
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        assert_eq!(reply.json()["status"], if on { "completed" } else { "running" });
        if on {
            // Completed before the answer: the GET agrees at once.
            let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
            assert_eq!(got["status"], "completed");
        }
        let notes = settle(h, &call_id, &mut inbox, &reply, &["invitee"]).await;
        assert_eq!(about_operations(&notes).len(), if on { 0 } else { 1 });
        assert!(rosters(&notes).iter().any(|n| listed(&n.data()).contains(&"invitee".to_owned())));
        replace_p2p(h).await;
        let (old_call, _old_inbox, reply, _) = move_peer(h).await;
        assert_eq!(reply.json()["status"], if on { "completed" } else { "running" });
        let old_roster = h.roster(&old_call).await;
        assert!(!listed(&Value::Array(old_roster)).contains(&"p2p-peer".to_owned()));
    };
    not_started_status: NotStartedStatus => async |h, on| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(reply.json()["status"], if on { "notStarted" } else { "running" });
        assert_eq!(ends(&notes).len(), 1);
        assert_eq!(ends(&notes)[0].data()["status"], "completed");
    };
    progress_notification: ProgressNotification => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        let seen: Vec<(String, Value)> = about_operations(&notes)
            .iter()
            .map(|n| (n.change_type(), n.data()["status"].clone()))
            .collect();
        let mut expected = vec![("deleted".to_owned(), json!("completed"))];
        if on {
            expected.insert(0, ("updated".to_owned(), json!("running")));
        }
        assert_eq!(seen, expected);
    };
    location_absolute: LocationAbsolute => async |h, on| {
        let (call_id, reply, _inbox) = invite_accepted(h).await;
        let path = op_path(&call_id, &op_id(&reply));
        let expected = if on {
            format!("https://graph.example.invalid/v1.0{path}")
        } else {
            format!("/v1.0{path}")
        };
        assert_eq!(reply.header("location"), Some(expected.as_str()));
        let (callback, _created_inbox) = h.hooks.inbox();
        let created = h.post("/communications/calls", &call_body(GROUP, &callback)).await;
        let location = created.header("location").expect("Location");
        assert_eq!(location.starts_with("https://graph.example.invalid/v1.0/"), on, "{location}");
    };
    location_path_only: LocationPathOnly => async |h, on| {
        let (call_id, reply, _inbox) = invite_accepted(h).await;
        let path = op_path(&call_id, &op_id(&reply));
        let expected = if on { path } else { format!("/v1.0{path}") };
        assert_eq!(reply.header("location"), Some(expected.as_str()));
        let (callback, _created_inbox) = h.hooks.inbox();
        let created = h.post("/communications/calls", &call_body(GROUP, &callback)).await;
        let location = created.header("location").expect("Location");
        assert_eq!(location.starts_with("/communications/calls/"), on, "{location}");
    };
    separate_posts: SeparatePosts => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        let posts: HashSet<usize> = notes.iter().map(|n| n.post).collect();
        if on {
            assert_eq!(posts.len(), notes.len(), "one item per POST");
        }
        let end = ends(&notes)[0];
        let roster = rosters(&notes)[0];
        assert_eq!(end.post != roster.post, on, "raised together, sent apart");
    };
    roster_first: RosterFirst => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        let end = notes.iter().position(Note::is_operation_end).expect("an end");
        let roster = notes.iter().position(Note::is_roster).expect("a roster");
        assert_eq!(roster < end, on);
    };
    roster_delta: RosterDelta => async |h, on| {
        let (_, notes) = invite_users(h, 2).await;
        let roster = rosters(&notes);
        assert_eq!(roster.len(), 1);
        let data = roster[0].data();
        assert_eq!(listed(&data), ["u0", "u1"]);
        let bot_listed = data
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["info"]["identity"]["application"].is_object());
        assert_eq!(bot_listed, !on, "the bot was there before");
        // A leave still lists whoever remains: here, the bot.
        let (_, mut old_inbox, _, _) = move_peer(h).await;
        let left = old_inbox.next().await;
        assert!(left.is_roster());
        let remaining = left.data();
        let remaining = remaining.as_array().expect("array");
        assert_eq!(remaining.len(), 1);
        assert!(remaining[0]["info"]["identity"]["application"].is_object());
    };
    roster_per_participant: RosterPerParticipant => async |h, on| {
        let (_, notes) = invite_users(h, 3).await;
        let lists: Vec<Vec<String>> = rosters(&notes).iter().map(|n| listed(&n.data())).collect();
        let sizes: Vec<usize> = rosters(&notes)
            .iter()
            .map(|n| n.data().as_array().map_or(0, Vec::len))
            .collect();
        if on {
            assert_eq!(lists, [vec!["u0"], vec!["u0", "u1"], vec!["u0", "u1", "u2"]]);
            assert_eq!(sizes, [2, 3, 4], "the bot, then one more each time");
        } else {
            assert_eq!(lists, [vec!["u0", "u1", "u2"]]);
            assert_eq!(sizes, [4]);
        }
    };
    repeated_roster: RepeatedRoster => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        let roster = rosters(&notes);
        assert_eq!(roster.len(), if on { 2 } else { 1 });
        assert!(roster.iter().all(|n| n.data() == roster[0].data()));
        // A leave's roster update is repeated too: all of it comes before
        // the old call's end, on the same queue.
        let (old_call, mut old_inbox, _, _) = move_peer(h).await;
        let old_notes = end_call(h, &old_call, &mut old_inbox).await;
        assert!(old_notes[0].is_roster());
        assert_eq!(rosters(&old_notes).len(), if on { 2 } else { 1 });
    };
    extra_members: ExtraMembers => async |h, on| {
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        let operation = reply.json();
        assert_eq!(operation["conformanceExtra"] == "x", on, "{operation}");
        let context = operation["@odata.context"].as_str().unwrap_or_default();
        assert_eq!(context.ends_with(&format!("calls('{call_id}')/operations/$entity")), on);
        let echoed = &operation["participants"][0];
        assert_eq!(echoed["hidden"] == false, on, "{echoed}");
        assert_eq!(echoed["removeFromDefaultAudioRoutingGroup"] == false, on);
        let notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
        assert_eq!(got["conformanceExtra"] == "x", on);
        assert_eq!(has_member(&got, "@odata.context"), on);
        let call = h.get(&format!("/communications/calls/{call_id}")).await.json();
        assert_eq!(call["conformanceExtra"] == "x", on);
        assert_eq!(has_member(&call, "@odata.context"), on);
        let end = ends(&notes)[0].item();
        assert_eq!(end["resourceData"]["conformanceExtra"] == "x", on);
        assert_eq!(end["resourceData"]["participants"][0]["hidden"] == false, on);
        let numbers: Vec<u64> = notes
            .iter()
            .filter_map(|n| n.item()["sequenceNumber"].as_u64())
            .collect();
        if on {
            // The established notification was number 1.
            assert_eq!(numbers.len(), notes.len());
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
            assert!(numbers[0] > 1);
        } else {
            assert!(numbers.is_empty());
        }
        // Closed types get nothing.
        for note in &notes {
            assert_eq!(keys(&note.json()), ["@odata.type", "value"]);
        }
        for participant in h.roster(&call_id).await.iter().chain(
            rosters(&notes)[0].data().as_array().expect("array"),
        ) {
            assert_eq!(
                keys(participant),
                ["@odata.type", "id", "info", "isInLobby", "isMuted", "mediaStreams"]
            );
            assert_eq!(keys(&participant["info"]), ["@odata.type", "endpointType", "identity"]);
            assert_eq!(
                keys(&participant["mediaStreams"][0]),
                ["@odata.type", "direction", "mediaType", "serverMuted", "sourceId"]
            );
        }
        let error = h.get("/communications/calls/none").await;
        assert_graph_error_body(&error);
        let error = error.json()["error"].clone();
        assert_eq!(has_member(&error, "target"), on);
        assert_eq!(error["details"] == json!([]), on);
        assert_eq!(error["innerError"]["conformanceExtra"] == "x", on);
    };
    graph_shaped_response: GraphShapedResponse => async |h, on| {
        let phone = json!({"identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}});
        let (call_id, mut inbox) = h.live_call(GROUP).await;
        let body = invite_body(std::slice::from_ref(&phone), CONTEXT);
        let reply = h.invite(&call_id, &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let shaped = json!({
            "endpointType": null,
            "id": null,
            "replacesCallId": null,
            "identity": {
                "user": null,
                "guest": null,
                "encrypted": null,
                "onPremises": null,
                "applicationInstance": null,
                "application": null,
                "device": null,
                "phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"},
            },
        });
        let operation = reply.json();
        assert!(has_member(&operation, "resultInfo") && operation["resultInfo"].is_null());
        assert_eq!(operation["participants"], json!([if on { &shaped } else { &phone }]));
        let end = until_settled(&mut inbox, &reply, &[]).await;
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
        assert_eq!(got["participants"], json!([if on { &shaped } else { &phone }]));
        // Notifications keep the participants as sent.
        assert_eq!(ends(&end)[0].data()["participants"], json!([phone]));
    };
    json_content_type_parameters: JsonContentTypeParameters => async |h, on| {
        let expected = if on { GRAPH_JSON } else { "application/json" };
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        assert_eq!(reply.header("content-type"), Some(expected));
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await;
        assert_eq!(got.header("content-type"), Some(expected));
        let call = h.get(&format!("/communications/calls/{call_id}")).await;
        assert_eq!(call.header("content-type"), Some(expected));
        let error = h.get("/communications/calls/none").await;
        assert_eq!(error.header("content-type"), Some(expected));
        // Notifications are requests, not answers: plain application/json.
        let note = inbox.next().await;
        assert_eq!(note.content_type.as_deref(), Some("application/json"));
    };
    six_participants_accepted: SixParticipantsAccepted => async |h, on| {
        let (group, _g) = h.live_call(GROUP).await;
        let n = |count: usize| -> Vec<Value> { (0..count).map(|i| user(&format!("u{i}"))).collect() };
        for count in [6, 20] {
            let reply = h.invite(&group, &invite_body(&n(count), CONTEXT)).await;
            assert_eq!(reply.status, if on { 200 } else { 400 }, "{count}: {}", reply.text());
        }
        h.invite(&group, &invite_body(&n(21), CONTEXT))
            .await
            .assert_graph_error(400, "BadRequest");
        let (p2p, _p) = h.live_call(P2P).await;
        h.invite(&p2p, &invite_body(&n(2), CONTEXT))
            .await
            .assert_graph_error(400, "BadRequest");
    };
    namespaced_path_404: NamespacedPath404 => async |h, on| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let path = format!("/communications/calls/{call_id}/participants/microsoft.graph.invite");
        let reply = h.post(&path, &one_user()).await;
        if on {
            reply.assert_graph_error(404, "itemNotFound");
        } else {
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
    };
    ended_operations_readable: EndedOperationsReadable => async |h, on| {
        let (call_id, reply, notes) = invite_notes(h).await;
        let id = op_id(&reply);
        let got = h.get(&op_path(&call_id, &id)).await;
        if on {
            assert_eq!(got.status, 200, "{}", got.text());
            assert_eq!(got.json(), ends(&notes)[0].data(), "as it last stood");
        } else {
            got.assert_graph_error(404, "itemNotFound");
        }
        h.get(&op_path(&call_id, "no-such-operation"))
            .await
            .assert_graph_error(404, "itemNotFound");
        h.get(&format!("/communications/calls/{call_id}"))
            .await
            .assert_graph_error(404, "itemNotFound");
    };
    operation_gone_once_ended: OperationGoneOnceEnded => async |h, on| {
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        let id = op_id(&reply);
        let notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
        assert_eq!(ends(&notes).len(), 1, "its end was announced");
        let got = h.get(&op_path(&call_id, &id)).await;
        if on {
            got.assert_graph_error(404, "itemNotFound");
        } else {
            assert_eq!(got.status, 200, "{}", got.text());
        }
        // The call itself stays.
        let call = h.get(&format!("/communications/calls/{call_id}")).await;
        assert_eq!(call.status, 200, "{}", call.text());
    };
    errors_without_inner_error: ErrorsWithoutInnerError => async |h, on| {
        let reply = h.get("/communications/calls/none").await;
        assert_eq!(reply.status, 404);
        let error = reply.json()["error"].clone();
        if on {
            assert_eq!(keys(&error), ["code", "message"]);
        } else {
            assert_graph_error_body(&reply);
        }
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let bad = h.invite(&call_id, &invite_body(&[], CONTEXT)).await;
        assert_eq!(bad.status, 400);
        assert_eq!(!has_member(&bad.json()["error"], "innerError"), on);
    };
    opaque_ids: OpaqueIds => async |h, on| {
        let (first, _) = h.live_call(GROUP).await;
        let (call_id, reply, mut inbox) = invite_accepted(h).await;
        assert_ne!(first, call_id);
        until_settled(&mut inbox, &reply, &["invitee"]).await;
        let participant_ids: Vec<String> = h
            .roster(&call_id)
            .await
            .iter()
            .map(|p| p["id"].as_str().expect("participant id").to_owned())
            .collect();
        assert_eq!(participant_ids.len(), 2);
        let url_safe = |id: &str| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let ids = [
            ("call-", first.clone()),
            ("call-", call_id.clone()),
            ("op-", op_id(&reply)),
            ("participant-", participant_ids[0].clone()),
            ("participant-", participant_ids[1].clone()),
        ];
        for (prefix, id) in &ids {
            assert!(url_safe(id), "{id}");
            assert_eq!(uuid::Uuid::parse_str(id).is_err(), on, "{id}");
            assert_eq!(id.starts_with(prefix), on, "{id}");
        }
        let unique: HashSet<&String> = ids.iter().map(|(_, id)| id).collect();
        assert_eq!(unique.len(), ids.len());
    };
    delayed_completion: DelayedCompletion => async |h, on| {
        let (call_id, mut inbox) = h.live_call(GROUP).await;
        let started = Instant::now();
        let reply = h.invite(&call_id, &one_user()).await;
        let got = h.get(&op_path(&call_id, &op_id(&reply))).await.json();
        if on && started.elapsed() < Duration::from_millis(150) {
            assert_eq!(got["status"], "running");
        }
        let notes = until_settled(&mut inbox, &reply, &["invitee"]).await;
        assert!(notes.iter().any(Note::is_operation_end));
        if on {
            assert!(started.elapsed() >= Duration::from_millis(150));
        }
    };
    extra_call_updates: ExtraCallUpdates => async |h, on| {
        let (call_id, _, notes) = invite_notes(h).await;
        let call_path = format!("/communications/calls/{call_id}");
        let updates: Vec<Note> = before_end(&notes, &call_id)
            .into_iter()
            .filter(|n| n.resource_url() == call_path)
            .collect();
        assert_eq!(updates.len(), usize::from(on));
        for update in updates {
            assert_eq!(update.change_type(), "updated");
            assert_eq!(update.data()["state"], "established");
            assert_eq!(update.data()["id"], call_id.as_str());
        }
    };
    resource_communications_path: ResourceCommunicationsPath => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        assert!(notes.len() >= 4, "end, roster, terminated, deleted");
        for note in &notes {
            assert_eq!(note.resource() == note.resource_url(), on, "{}", note.resource());
            assert_eq!(note.resource().starts_with("/app/calls/"), !on);
        }
    };
    no_resource: NoResource => async |h, on| {
        let (_, _, notes) = invite_notes(h).await;
        for note in &notes {
            assert_eq!(!has_member(&note.item(), "resource"), on);
            assert!(note.item()["resourceUrl"].is_string());
        }
    };
    roster_null_ids: RosterNullIds => async |h, on| {
        let (call_id, mut inbox) = h.live_call(GROUP).await;
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
        let roster = loop {
            let note = inbox.next().await;
            if note.is_roster() {
                break note;
            }
        };
        for participant in roster.data().as_array().expect("a roster") {
            assert_eq!(participant["id"].is_null(), on, "{participant}");
        }
        // The list of participants still names each one.
        for participant in h.roster(&call_id).await {
            assert!(participant["id"].is_string(), "{participant}");
        }
    };
    lenient_content_type: LenientContentType => async |h, on| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let body = one_user().to_string();
        let reply = h
            .request("POST", &invite_path(&call_id), Some(body.clone().into_bytes()), &[("content-type", "text/plain")])
            .await;
        assert_eq!(reply.status, if on { 200 } else { 415 }, "{}", reply.text());
        let bare = h
            .http
            .post(h.url(&invite_path(&call_id)))
            .header("authorization", "Bearer t")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(bare.status(), if on { 200 } else { 415 });
        // Still JSON or nothing: a body that is not JSON is 400 either way.
        h.request("POST", &invite_path(&call_id), Some(b"participants".to_vec()), &[("content-type", "text/plain")])
            .await
            .assert_graph_error(if on { 400 } else { 415 }, if on { "BadRequest" } else { "UnsupportedMediaType" });
    };
}

/// An invite through `variants` ends exactly once (in the response or in one
/// terminal notification, never both) and every invitee reaches a roster
/// update; moves and replaced calls work as usual.
async fn invite_holds_its_invariants(variants: &[Variant]) {
    let h = Harness::with_variants(variants).await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let invitees = ["a", "b"];
    let reply = h
        .invite(&call_id, &invite_body(&users(&invitees), CONTEXT))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let operation = reply.json();
    let id = op_id(&reply);
    let location = reply.header("location").expect("Location");
    assert!(location.ends_with(&op_path(&call_id, &id)), "{location}");
    assert_eq!(operation["clientContext"], CONTEXT);
    let notes = settle(&h, &call_id, &mut inbox, &reply, &invitees).await;
    // Any notification about the operation with a terminal status counts,
    // whatever its change type.
    let terminal_notes: Vec<&Note> = about_operations(&notes)
        .into_iter()
        .filter(|n| n.resource_url().ends_with(&format!("/operations/{id}")))
        .filter(|n| is_terminal(&n.data()["status"]))
        .collect();
    let in_response = is_terminal(&operation["status"]);
    assert_eq!(
        usize::from(in_response) + terminal_notes.len(),
        1,
        "exactly one terminal status: {operation} and {} notifications",
        terminal_notes.len()
    );
    for end in &terminal_notes {
        assert!(
            end.is_operation_end(),
            "announced by a deleted notification"
        );
        assert_eq!(end.data()["id"], id.as_str());
        assert_eq!(end.data()["clientContext"], CONTEXT);
    }
    for invitee in invitees {
        assert!(
            rosters(&notes)
                .iter()
                .any(|n| listed(&n.data()).contains(&invitee.to_owned())),
            "{invitee} reaches a roster update"
        );
    }
    replace_p2p(&h).await;
    let (old_call, _old_inbox, _, _) = move_peer(&h).await;
    let old_roster = Value::Array(h.roster(&old_call).await);
    assert!(!listed(&old_roster).contains(&"p2p-peer".to_owned()));
}

#[tokio::test]
async fn the_compatible_set_starts_and_invites_hold_their_invariants() {
    invite_holds_its_invariants(&Variant::compatible_set()).await;
}

/// The variants the compatible set leaves out, with every other variant
/// compatible with them: each variant runs in some combination.
#[tokio::test]
async fn the_variants_left_out_hold_the_invariants_together_too() {
    let compatible = Variant::compatible_set();
    let mut others: Vec<Variant> = Variant::ALL
        .iter()
        .copied()
        .filter(|v| !compatible.contains(v))
        .collect();
    for variant in Variant::ALL {
        if !others
            .iter()
            .any(|o| o == variant || o.conflicts_with(*variant))
        {
            others.push(*variant);
        }
    }
    assert!(others.contains(&Variant::TerminalInResponse));
    invite_holds_its_invariants(&others).await;
}

#[tokio::test]
async fn roster_delta_and_per_participant_list_one_joiner_each() {
    let h = Harness::with_variants(&[
        Variant::RosterDelta,
        Variant::RosterPerParticipant,
        Variant::RepeatedRoster,
        Variant::SeparatePosts,
        Variant::RosterFirst,
    ])
    .await;
    let (_, notes) = invite_users(&h, 3).await;
    let lists: Vec<Vec<String>> = rosters(&notes).iter().map(|n| listed(&n.data())).collect();
    assert_eq!(
        lists,
        [
            vec!["u0"],
            vec!["u0"],
            vec!["u1"],
            vec!["u1"],
            vec!["u2"],
            vec!["u2"]
        ]
    );
    let last_roster = notes.iter().rposition(Note::is_roster).expect("roster");
    let end = notes.iter().position(Note::is_operation_end).expect("end");
    assert!(last_roster < end, "every roster update first");
    let posts: HashSet<usize> = notes.iter().map(|n| n.post).collect();
    assert_eq!(posts.len(), notes.len());
}

#[tokio::test]
async fn shapes_compose_without_odata_type_with_extras_and_graph_nulls() {
    let h = Harness::with_variants(&[
        Variant::NoOdataType,
        Variant::ExtraMembers,
        Variant::GraphShapedResponse,
        Variant::StatusPascalCase,
    ])
    .await;
    let (call_id, reply, mut inbox) = invite_accepted(&h).await;
    let operation = reply.json();
    assert!(!has_odata_type(&operation), "{operation}");
    assert_eq!(operation["status"], "Running");
    assert_eq!(operation["conformanceExtra"], "x");
    assert!(has_member(&operation, "@odata.context"));
    let echoed = &operation["participants"][0];
    assert_eq!(echoed["hidden"], false);
    assert!(has_member(echoed, "replacesCallId") && echoed["replacesCallId"].is_null());
    assert_eq!(echoed["identity"]["user"]["id"], "invitee");
    assert!(has_member(&echoed["identity"], "phone"));
    let notes = settle(&h, &call_id, &mut inbox, &reply, &["invitee"]).await;
    for note in &notes {
        let body = note.json();
        assert!(!has_odata_type(&body), "{body}");
        assert!(body["value"][0]["sequenceNumber"].is_u64());
    }
    assert_eq!(ends(&notes)[0].data()["status"], "Completed");
}

#[tokio::test]
async fn an_operation_running_when_its_call_ends_reads_as_failed() {
    let h = Harness::new(Config {
        variants: vec![Variant::EndedOperationsReadable, Variant::NotStartedStatus],
        operation_delay: Duration::from_secs(60),
        ..Config::default()
    })
    .await;
    let (call_id, reply, mut inbox) = invite_accepted(&h).await;
    assert_eq!(reply.json()["status"], "notStarted");
    let notes = end_call(&h, &call_id, &mut inbox).await;
    let end = ends(&notes);
    assert_eq!(end.len(), 1, "it fails once, by notification");
    assert_eq!(end[0].data()["status"], "failed");
    let got = h.get(&op_path(&call_id, &op_id(&reply))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), end[0].data());
    assert!(got.json()["resultInfo"]["code"].is_u64());
}

#[test]
fn conflicting_variants_are_refused_at_start() {
    let config = Config {
        variants: vec![
            Variant::OpaqueIds,
            Variant::NoResource,
            Variant::ResourceCommunicationsPath,
        ],
        ..Config::default()
    };
    assert_eq!(
        config.conflicting_variants(),
        Some((Variant::NoResource, Variant::ResourceCommunicationsPath))
    );
    let refused = invite_reference::start(config).expect_err("refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("no-resource"), "{refused}");
    let compatible = Config {
        variants: Variant::compatible_set(),
        ..Config::default()
    };
    assert_eq!(compatible.conflicting_variants(), None);
}
