//! Every fault: the same scenario runs on a server with the fault, where the
//! broken behaviour must show, and on a fault-free server, where it must not.

mod common;

use std::time::{Duration, Instant};

use common::*;
use invite_reference::Fault;
use serde_json::{json, Value};

/// A group call, an invite of one user, and every notification it caused.
async fn invite_notes(h: &Harness) -> (String, Reply, Vec<Note>) {
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let (reply, notes) = h
        .invite_and_collect(&call_id, &mut inbox, &one_user())
        .await;
    (call_id, reply, notes)
}

/// Moves the peer of a peer-to-peer call into a group call with a second
/// participant behind it; returns after the move completed.
async fn move_peer(h: &Harness) -> (String, String, String) {
    let mut moved = start_move(h).await;
    assert!(moved.new_inbox.next().await.is_operation_end());
    (moved.old_call, moved.new_call, moved.peer_id)
}

effect_tests! {
    Fault, every_fault_has_a_test;
    no_location: NoLocation => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("location").is_none(), broken);
    };
    wrong_location_op_id: WrongLocationOpId => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        let location = reply.header("location").expect("Location");
        let last = location.rsplit('/').next().unwrap_or_default();
        assert_eq!(last != reply.json()["id"], broken, "{location}");
    };
    location_wrong_call: LocationWrongCall => async |h, broken| {
        let (call_id, reply, _) = invite_once(h).await;
        let location = reply.header("location").expect("Location");
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        assert!(location.ends_with(&op_id));
        let expected = format!("/communications/calls/{call_id}/operations/{op_id}");
        assert_eq!(!location.ends_with(&expected), broken, "{location}");
    };
    no_client_context_echo: NoClientContextEcho => async |h, broken| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(!has_member(&reply.json(), "clientContext"), broken);
        let end = ends(&notes)[0].data();
        assert_eq!(!has_member(&end, "clientContext"), broken);
        if !broken {
            assert_eq!(reply.json()["clientContext"], CONTEXT);
            assert_eq!(end["clientContext"], CONTEXT);
        }
    };
    wrong_client_context: WrongClientContext => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        assert_eq!(reply.json()["clientContext"] != CONTEXT, broken);
    };
    participants_not_echoed: ParticipantsNotEchoed => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        let echoed = reply.json()["participants"].clone();
        if broken {
            assert_eq!(echoed, json!([]));
        } else {
            assert_eq!(echoed, one_user()["participants"]);
        }
    };
    echo_replaces_other_call: EchoReplacesOtherCall => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let elsewhere = uuid::Uuid::new_v4().to_string();
        let mut replacing = user("invitee");
        replacing["replacesCallId"] = json!(elsewhere);
        let reply = h.invite(&call_id, &invite_body(&[replacing, user("plain")], CONTEXT)).await;
        let echoed = reply.json()["participants"].clone();
        let expected = if broken { call_id.as_str() } else { elsewhere.as_str() };
        assert_eq!(echoed[0]["replacesCallId"], expected);
        assert!(echoed[1].get("replacesCallId").is_none(), "only those that name one");
    };
    wrong_odata_type: WrongOdataType => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        let echoed = reply.json()["participants"][0]["@odata.type"].clone();
        if broken {
            assert_eq!(echoed, "#microsoft.graph.participant");
        } else {
            assert_eq!(echoed, one_user()["participants"][0]["@odata.type"]);
        }
    };
    no_operation_id: NoOperationId => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        assert_eq!(reply.json().get("id").is_none(), broken);
    };
    no_request_ids: NoRequestIds => async |h, broken| {
        let reply = h
            .request("GET", "/communications/calls/none", None, &[("client-request-id", "c-1")])
            .await;
        assert_eq!(reply.header("request-id").is_none(), broken);
        assert_eq!(reply.header("client-request-id") != Some("c-1"), broken);
    };
    operation_text_plain: OperationTextPlain => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        let ct = reply.header("content-type").unwrap_or_default();
        assert_eq!(ct.starts_with("text/plain"), broken, "{ct}");
    };
    long_client_context_accepted: LongClientContextAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let reply = h.invite(&call_id, &invite_body(&[user("a")], &"c".repeat(257))).await;
        assert_eq!(reply.status, if broken { 200 } else { 400 });
    };
    multi_p2p_accepted: MultiP2pAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(P2P).await;
        let reply = h.invite(&call_id, &invite_body(&[user("a"), user("b")], CONTEXT)).await;
        assert_eq!(reply.status, if broken { 200 } else { 400 });
    };
    group_over_five_accepted: GroupOverFiveAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let six: Vec<Value> = (0..6).map(|i| user(&format!("u{i}"))).collect();
        let reply = h.invite(&call_id, &invite_body(&six, CONTEXT)).await;
        assert_eq!(reply.status, if broken { 200 } else { 400 });
    };
    empty_participants_accepted: EmptyParticipantsAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let reply = h.invite(&call_id, &invite_body(&[], CONTEXT)).await;
        assert_eq!(reply.status, if broken { 200 } else { 400 });
    };
    unparseable_body_accepted: UnparseableBodyAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        for body in [b"{".to_vec(), b"[1]".to_vec(), b"{}".to_vec()] {
            let reply = h.request("POST", &invite_path(&call_id), Some(body), &[]).await;
            if broken {
                assert_eq!(reply.status, 200, "{}", reply.text());
                assert_eq!(reply.json()["participants"], json!([]));
            } else {
                reply.assert_graph_error(400, "BadRequest");
            }
        }
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
    };
    missing_identity_accepted: MissingIdentityAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        for participant in [json!({}), json!({"identity": {}}), json!({"identity": null})] {
            let reply = h.invite(&call_id, &invite_body(&[participant], CONTEXT)).await;
            assert_eq!(reply.status, if broken { 200 } else { 400 });
        }
    };
    no_auth_accepted: NoAuthAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let reply = h
            .http
            .post(h.url(&invite_path(&call_id)))
            .header("content-type", "application/json")
            .body(one_user().to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(reply.status(), if broken { 200 } else { 401 });
    };
    wrong_content_type_accepted: WrongContentTypeAccepted => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let body = one_user().to_string().into_bytes();
        let reply = h
            .request("POST", &invite_path(&call_id), Some(body), &[("content-type", "text/plain")])
            .await;
        assert_eq!(reply.status, if broken { 200 } else { 415 });
    };
    malformed_json_500: MalformedJson500 => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let reply = h.request("POST", &invite_path(&call_id), Some(b"{".to_vec()), &[]).await;
        if broken {
            reply.assert_graph_error(500, "InternalServerError");
        } else {
            reply.assert_graph_error(400, "BadRequest");
        }
    };
    server_error_on_phone: ServerErrorOnPhone => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let phone = json!({"identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}});
        let reply = h.invite(&call_id, &invite_body(&[phone], CONTEXT)).await;
        assert_eq!(reply.status, if broken { 500 } else { 200 });
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
    };
    server_error_on_non_ascii: ServerErrorOnNonAscii => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let mut zoe = user("zoe");
        zoe["identity"]["user"]["displayName"] = json!("Zo\u{eb}");
        let reply = h.invite(&call_id, &invite_body(&[zoe], CONTEXT)).await;
        assert_eq!(reply.status, if broken { 500 } else { 200 });
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
    };
    non_graph_errors: NonGraphErrors => async |h, broken| {
        let reply = h.get(&format!("/communications/calls/{}", uuid::Uuid::new_v4())).await;
        assert_eq!(reply.status, 404);
        if broken {
            assert_eq!(reply.header("content-type"), Some("text/plain"));
            let body = reply.json();
            assert!(body["message"].is_string() && body.get("error").is_none(), "{body}");
        } else {
            reply.assert_graph_error(404, "itemNotFound");
        }
    };
    error_without_inner_error: ErrorWithoutInnerError => async |h, broken| {
        let reply = h.get(&format!("/communications/calls/{}", uuid::Uuid::new_v4())).await;
        let error = reply.json()["error"].clone();
        assert!(error["code"].is_string());
        assert_eq!(!has_member(&error, "innerError"), broken);
    };
    wrong_success_status: WrongSuccessStatus => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        assert_eq!(reply.status, if broken { 202 } else { 200 });
    };
    invalid_operation_status: InvalidOperationStatus => async |h, broken| {
        let (_, reply, _) = invite_once(h).await;
        assert_eq!(reply.json()["status"], if broken { "pending" } else { "running" });
    };
    completed_with_notification: CompletedWithNotification => async |h, broken| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(reply.json()["status"], if broken { "completed" } else { "running" });
        assert_eq!(ends(&notes).len(), 1, "a terminal notification follows either way");
    };
    no_terminal_notification: NoTerminalNotification => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        assert_eq!(ends(&notes).len(), if broken { 0 } else { 1 });
        assert_eq!(rosters(&notes).len(), 1);
    };
    double_terminal_notification: DoubleTerminalNotification => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        assert_eq!(ends(&notes).len(), if broken { 2 } else { 1 });
        let last_end = notes.iter().rposition(Note::is_operation_end).expect("an end");
        let roster = notes.iter().position(Note::is_roster).expect("a roster");
        assert!(last_end < roster);
    };
    terminal_status_running: TerminalStatusRunning => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        let status = ends(&notes)[0].data()["status"].clone();
        assert_eq!(status, if broken { "running" } else { "completed" });
    };
    failed_without_result_info: FailedWithoutResultInfo => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        let end = ends(&notes)[0].data();
        assert_eq!(end["status"], if broken { "failed" } else { "completed" });
        assert_eq!(end["resultInfo"], Value::Null);
    };
    wrong_notification_ids: WrongNotificationIds => async |h, broken| {
        let (call_id, reply, notes) = invite_notes(h).await;
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        let end = ends(&notes)[0];
        let url = format!("/communications/calls/{call_id}/operations/{op_id}");
        assert_eq!(end.resource_url() != url, broken);
        assert_eq!(end.resource() != format!("/app/calls/{call_id}/operations/{op_id}"), broken);
        assert_eq!(end.data()["id"] != op_id.as_str(), broken);
    };
    notification_wrong_call: NotificationWrongCall => async |h, broken| {
        let (call_id, _, notes) = invite_notes(h).await;
        let prefix = format!("/communications/calls/{call_id}/");
        let invite_notes = [ends(&notes)[0], rosters(&notes)[0]];
        for note in invite_notes {
            assert_eq!(!note.resource_url().starts_with(&prefix), broken, "{}", note.resource_url());
        }
    };
    notification_client_context_mismatch: NotificationClientContextMismatch => async |h, broken| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(reply.json()["clientContext"], CONTEXT);
        assert_eq!(ends(&notes)[0].data()["clientContext"] != CONTEXT, broken);
    };
    terminal_without_participants: TerminalWithoutParticipants => async |h, broken| {
        let (_, reply, notes) = invite_notes(h).await;
        assert_eq!(!has_member(&ends(&notes)[0].data(), "participants"), broken);
        assert_eq!(reply.json()["participants"], one_user()["participants"]);
    };
    no_roster_update: NoRosterUpdate => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        assert_eq!(ends(&notes).len(), 1);
        assert_eq!(rosters(&notes).len(), if broken { 0 } else { 1 });
    };
    roster_missing_invitee: RosterMissingInvitee => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        let roster = rosters(&notes)[0].data();
        let roster = roster.as_array().expect("array");
        assert!(!roster.is_empty(), "the bot is still listed");
        assert_eq!(!roster_has(roster, &user("invitee")["identity"]), broken);
    };
    roster_invalid_participant: RosterInvalidParticipant => async |h, broken| {
        let (_, _, notes) = invite_notes(h).await;
        let roster = rosters(&notes)[0].data();
        for participant in roster.as_array().expect("array") {
            assert_eq!(!has_member(participant, "isMuted"), broken);
            assert_eq!(!has_member(&participant["mediaStreams"][0], "sourceId"), broken);
        }
    };
    roster_resource_wrong_call: RosterResourceWrongCall => async |h, broken| {
        let (call_id, _, notes) = invite_notes(h).await;
        let roster = rosters(&notes)[0];
        let participants = format!("/calls/{call_id}/participants");
        assert!(roster.resource_url().ends_with(&participants));
        assert_eq!(!roster.resource().ends_with(&participants), broken, "{}", roster.resource());
        let end = ends(&notes)[0];
        assert!(end.resource().starts_with(&format!("/app/calls/{call_id}/")));
    };
    move_moves_all: MoveMovesAll => async |h, broken| {
        let (_, new_call, _) = move_peer(h).await;
        let roster = h.roster(&new_call).await;
        assert!(roster_has(&roster, &user("p2p-peer")["identity"]));
        assert_eq!(roster_has(&roster, &user("second")["identity"]), broken);
    };
    move_keeps_old: MoveKeepsOld => async |h, broken| {
        let (old_call, _, peer_id) = move_peer(h).await;
        let roster = h.roster(&old_call).await;
        assert_eq!(roster.iter().any(|p| p["id"] == peer_id.as_str()), broken);
    };
    replaced_call_kept: ReplacedCallKept => async |h, broken| {
        let (p2p, _p2p_inbox) = h.live_call(P2P).await;
        let (group, mut inbox) = h.live_call(GROUP).await;
        let mut invitee = user("p2p-peer");
        invitee["replacesCallId"] = json!(p2p);
        assert_eq!(h.invite(&group, &invite_body(&[invitee], CONTEXT)).await.status, 200);
        assert!(inbox.next().await.is_operation_end());
        let reply = h.get(&format!("/communications/calls/{p2p}")).await;
        assert_eq!(reply.status, if broken { 200 } else { 404 });
    };
    ended_call_accepts_invite: EndedCallAcceptsInvite => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        assert_eq!(h.delete(&format!("/communications/calls/{call_id}")).await.status, 204);
        let reply = h.invite(&call_id, &one_user()).await;
        assert_eq!(reply.status, if broken { 200 } else { 404 });
    };
    unknown_call_accepts_invite: UnknownCallAcceptsInvite => async |h, broken| {
        let reply = h.invite(&uuid::Uuid::new_v4().to_string(), &one_user()).await;
        assert_eq!(reply.status, if broken { 200 } else { 404 });
    };
    operation_get_404: OperationGet404 => async |h, broken| {
        let (call_id, reply, _) = invite_once(h).await;
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        let got = h.get(&format!("/communications/calls/{call_id}/operations/{op_id}")).await;
        assert_eq!(got.status, if broken { 404 } else { 200 });
    };
    operation_get_mismatch: OperationGetMismatch => async |h, broken| {
        let (call_id, reply, _) = invite_once(h).await;
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        let got = h.get(&format!("/communications/calls/{call_id}/operations/{op_id}")).await;
        assert_eq!(got.status, 200);
        let operation = got.json();
        assert_eq!(operation["id"] != op_id.as_str(), broken);
        assert_eq!(operation["clientContext"] != CONTEXT, broken);
    };
    operation_get_stale: OperationGetStale => async |h, broken| {
        let (call_id, reply, mut inbox) = invite_once(h).await;
        let end = inbox.next().await;
        assert!(end.is_operation_end());
        assert_eq!(end.data()["status"], "completed");
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        let got = h.get(&format!("/communications/calls/{call_id}/operations/{op_id}")).await;
        assert_eq!(got.json()["status"], if broken { "running" } else { "completed" });
        assert_eq!(got.json()["id"], op_id.as_str());
    };
    not_namespaced: NotNamespaced => async |h, broken| {
        let (call_id, _inbox) = h.live_call(GROUP).await;
        let path = format!("/communications/calls/{call_id}/participants/microsoft.graph.invite");
        let reply = h.post(&path, &one_user()).await;
        assert_eq!(reply.status, if broken { 404 } else { 200 });
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
    };
    slow_responses: SlowResponses => async |h, broken| {
        let started = Instant::now();
        let reply = h.get("/communications/calls/none").await;
        assert_eq!(reply.status, 404);
        // The delay shows as a lower bound only: how soon a correct server
        // answers depends on the machine, so it is not timed.
        if broken {
            assert!(started.elapsed() >= Duration::from_secs(3));
        }
    };
    no_established_notification: NoEstablishedNotification => async |h, broken| {
        let (call_id, mut inbox) = h.create_call(GROUP).await;
        assert_eq!(h.invite(&call_id, &one_user()).await.status, 200);
        let first = inbox.next().await;
        assert_eq!(first.is_operation_end(), broken);
        if !broken {
            assert_eq!(first.data()["state"], "established");
        }
    };
    notification_not_json: NotificationNotJson => async |h, broken| {
        let (_, mut inbox) = h.create_call(GROUP).await;
        let first = inbox.next().await;
        assert_eq!(first.content_type.as_deref(), Some("application/json"));
        let parsed = serde_json::from_slice::<Value>(&first.body);
        assert_eq!(parsed.is_err(), broken);
    };
}
