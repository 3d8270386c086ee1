//! The documented behaviour of a fault-free reference server.

mod common;

use common::*;
use invite_reference::Config;
use serde_json::{json, Value};

#[tokio::test]
async fn create_group_call_answers_201_and_notifies_established() {
    let h = Harness::clean().await;
    let (callback, mut inbox) = h.hooks.inbox();
    let reply = h
        .post("/communications/calls", &call_body(GROUP, &callback))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let call = reply.json();
    let id = call["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let location = reply.header("location").expect("Location");
    assert!(location.ends_with(&format!("/communications/calls/{id}")));
    assert_eq!(call["@odata.type"], "#microsoft.graph.call");
    assert_eq!(call["state"], "establishing");
    assert_eq!(call["direction"], "outgoing");
    assert_eq!(call["callbackUri"], callback.as_str());
    assert_eq!(call["requestedModalities"], json!(["audio"]));
    assert_eq!(call["tenantId"], "tenant-1");
    assert!(call["mediaConfig"].is_object() && call["chatInfo"].is_object());
    assert!(call["meetingInfo"].is_object() && call["source"].is_object());
    assert!(call["myParticipantId"].is_string() && call["callChainId"].is_string());

    let note = inbox.next().await;
    assert_eq!(note.content_type.as_deref(), Some("application/json"));
    assert_eq!(note.change_type(), "updated");
    assert_eq!(note.resource_url(), format!("/communications/calls/{id}"));
    assert_eq!(note.resource(), format!("/app/calls/{id}"));
    assert_eq!(
        note.item()["@odata.type"],
        "#microsoft.graph.commsNotification"
    );
    assert_eq!(note.data()["state"], "established");
    assert_eq!(note.data()["id"], id);

    let got = h.get(&format!("/communications/calls/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["state"], "established");

    // The roster starts with the bot itself.
    let roster = h.roster(id).await;
    assert_eq!(roster.len(), 1);
    assert_eq!(roster[0]["id"], call["myParticipantId"]);
    assert_eq!(
        roster[0]["info"]["identity"]["application"]["id"],
        "bot-app-id"
    );
}

#[tokio::test]
async fn peer_to_peer_and_multi_target_calls_start_with_their_targets() {
    let h = Harness::clean().await;
    let (p2p, _inbox) = h.live_call(P2P).await;
    let roster = h.roster(&p2p).await;
    assert_eq!(roster.len(), 2);
    assert!(roster_has(&roster, &user("p2p-peer")["identity"]));
    assert!(roster[0]["info"]["identity"]["application"].is_object());

    // Several targets make a group call: it takes several invitees.
    let (callback, _inbox) = h.hooks.inbox();
    let mut body = call_body(P2P, &callback);
    body["targets"] = json!([user("a"), user("b")]);
    let reply = h.post("/communications/calls", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(h.roster(&id).await.len(), 3);
    let invite = h
        .invite(&id, &invite_body(&[user("c"), user("d")], "ctx"))
        .await;
    assert_eq!(invite.status, 200, "{}", invite.text());
}

#[tokio::test]
async fn create_call_rejects_what_graph_requires() {
    let h = Harness::clean().await;
    let valid = call_body(P2P, "http://127.0.0.1:9/cb");
    type Breaks = Box<dyn Fn(&mut Value)>;
    let without = |member: &'static str| -> Breaks {
        Box::new(move |body: &mut Value| {
            if let Some(object) = body.as_object_mut() {
                object.remove(member);
            }
        })
    };
    let broken: Vec<(&str, Breaks)> = vec![
        ("no callbackUri", without("callbackUri")),
        (
            "relative callbackUri",
            Box::new(|b| b["callbackUri"] = json!("/cb")),
        ),
        (
            "ftp callbackUri",
            Box::new(|b| b["callbackUri"] = json!("ftp://host/cb")),
        ),
        (
            "numeric callbackUri",
            Box::new(|b| b["callbackUri"] = json!(5)),
        ),
        ("no mediaConfig", without("mediaConfig")),
        (
            "string mediaConfig",
            Box::new(|b| b["mediaConfig"] = json!("x")),
        ),
        ("no modalities", without("requestedModalities")),
        (
            "empty modalities",
            Box::new(|b| b["requestedModalities"] = json!([])),
        ),
        (
            "unknown modality",
            Box::new(|b| b["requestedModalities"] = json!(["smell"])),
        ),
        (
            "modalities not array",
            Box::new(|b| b["requestedModalities"] = json!("audio")),
        ),
        ("source not object", Box::new(|b| b["source"] = json!([]))),
        ("targets not array", Box::new(|b| b["targets"] = json!({}))),
        (
            "target without identity",
            Box::new(|b| b["targets"] = json!([{}])),
        ),
        (
            "no targets, no meeting",
            Box::new(|b| b["targets"] = json!([])),
        ),
        (
            "meetingInfo not object",
            Box::new(|b| b["meetingInfo"] = json!(1)),
        ),
        (
            "tenantId not string",
            Box::new(|b| b["tenantId"] = json!(1)),
        ),
    ];
    for (what, breaks) in broken {
        let mut body = valid.clone();
        breaks(&mut body);
        let reply = h.post("/communications/calls", &body).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        reply.assert_graph_error(400, "BadRequest");
    }
    // https callbacks are as welcome as http ones.
    let mut body = valid.clone();
    body["callbackUri"] = json!("https://bot.contoso.com/api/calls");
    assert_eq!(h.post("/communications/calls", &body).await.status, 201);
}

#[tokio::test]
async fn invite_answers_200_then_completes_and_updates_the_roster() {
    let h = Harness::clean().await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let invitee = user("278405a3-f568-4b3e-b684-009193463064");
    let body = invite_body(std::slice::from_ref(&invitee), "f2fa86af-3c51");
    let reply = h.invite(&call_id, &body).await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let operation = reply.json();
    let op_id = operation["id"].as_str().expect("operation id").to_owned();
    let location = reply.header("location").expect("Location");
    assert!(location.ends_with(&format!(
        "/communications/calls/{call_id}/operations/{op_id}"
    )));
    assert_eq!(
        operation,
        json!({
            "@odata.type": "#microsoft.graph.inviteParticipantsOperation",
            "id": op_id,
            "status": "running",
            "clientContext": "f2fa86af-3c51",
            "resultInfo": null,
            "participants": [invitee],
        })
    );

    let ended = inbox.next().await;
    assert_eq!(ended.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        ended.json()["@odata.type"],
        "#microsoft.graph.commsNotifications"
    );
    let mut completed = operation.clone();
    completed["status"] = json!("completed");
    assert_eq!(
        ended.item(),
        json!({
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "deleted",
            "resource": format!("/app/calls/{call_id}/operations/{op_id}"),
            "resourceUrl": format!("/communications/calls/{call_id}/operations/{op_id}"),
            "resourceData": completed,
        })
    );

    let roster = inbox.next().await;
    assert!(roster.is_roster());
    assert_eq!(
        roster.resource(),
        format!("/app/calls/{call_id}/participants")
    );
    assert_eq!(
        roster.resource_url(),
        format!("/communications/calls/{call_id}/participants")
    );
    let participants = roster.data();
    let participants = participants.as_array().expect("resourceData is an array");
    assert_eq!(participants.len(), 2, "the bot and the invitee");
    let added = participants
        .iter()
        .find(|p| p["info"]["identity"] == invitee["identity"])
        .expect("the invitee is in the roster");
    assert!(uuid::Uuid::parse_str(added["id"].as_str().expect("id")).is_ok());
    assert_eq!(added["@odata.type"], "#microsoft.graph.participant");
    assert_eq!(
        added["info"]["@odata.type"],
        "#microsoft.graph.participantInfo"
    );
    assert_eq!(added["info"]["endpointType"], "default");
    assert_eq!(added["isMuted"], false);
    assert_eq!(added["isInLobby"], false);
    let stream = &added["mediaStreams"][0];
    assert_eq!(stream["mediaType"], "audio");
    assert_eq!(stream["sourceId"], "1");
    assert_eq!(stream["direction"], "sendReceive");
    assert_eq!(stream["serverMuted"], false);

    let got = h
        .get(&format!(
            "/communications/calls/{call_id}/operations/{op_id}"
        ))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), completed);
    assert!(roster_has(&h.roster(&call_id).await, &invitee["identity"]));
}

#[tokio::test]
async fn namespaced_invite_path_works_the_same() {
    let h = Harness::clean().await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let path = format!("/communications/calls/{call_id}/participants/microsoft.graph.invite");
    let reply = h.post(&path, &invite_body(&[user("u")], "c")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["status"], "running");
    assert!(inbox.next().await.is_operation_end());
    assert!(inbox.next().await.is_roster());
}

#[tokio::test]
async fn client_context_absent_or_null_is_echoed_as_null() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    for body in [
        json!({"participants": [user("a")]}),
        json!({"participants": [user("a")], "clientContext": null}),
    ] {
        let reply = h.invite(&call_id, &body).await;
        assert_eq!(reply.status, 200);
        let operation = reply.json();
        assert!(operation
            .as_object()
            .expect("object")
            .contains_key("clientContext"));
        assert_eq!(operation["clientContext"], Value::Null);
    }
}

#[tokio::test]
async fn client_context_limit_counts_utf16_code_units() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let emoji = "\u{1F600}"; // two UTF-16 code units, four UTF-8 bytes
    let accepted = [
        "a".repeat(256),
        emoji.repeat(128),
        format!("{}a", emoji.repeat(127)) + "b",
        "\u{e9}".repeat(256),
        String::new(),
    ];
    for context in accepted {
        let reply = h
            .invite(&call_id, &invite_body(&[user("a")], &context))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{} units: {}",
            context.encode_utf16().count(),
            reply.text()
        );
        assert_eq!(reply.json()["clientContext"], context.as_str());
    }
    let rejected = [
        "a".repeat(257),
        format!("{}a", emoji.repeat(128)),
        emoji.repeat(129),
    ];
    for context in rejected {
        let reply = h
            .invite(&call_id, &invite_body(&[user("a")], &context))
            .await;
        reply.assert_graph_error(400, "BadRequest");
    }
}

#[tokio::test]
async fn participant_counts_follow_the_call_kind() {
    let h = Harness::clean().await;
    let (group, _g) = h.live_call(GROUP).await;
    let (p2p, _p) = h.live_call(P2P).await;
    let users = |n: usize| -> Vec<Value> { (0..n).map(|i| user(&format!("u{i}"))).collect() };
    assert_eq!(
        h.invite(&p2p, &invite_body(&users(1), "c")).await.status,
        200
    );
    h.invite(&p2p, &invite_body(&users(2), "c"))
        .await
        .assert_graph_error(400, "BadRequest");
    assert_eq!(
        h.invite(&group, &invite_body(&users(5), "c")).await.status,
        200
    );
    h.invite(&group, &invite_body(&users(6), "c"))
        .await
        .assert_graph_error(400, "BadRequest");
}

#[tokio::test]
async fn identity_sets_are_open_types() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let identities = [
        json!({"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}),
        json!({"guest": {"id": "g", "displayName": "Guest"}}),
        json!({"application": {"id": "app"}, "user": null, "device": null}),
        json!({"applicationInstance": {"id": "ai", "tenantId": "t"}}),
        json!({"user": {"id": "u", "identityProvider": "AAD", "tenantId": "t"}, "tenantId": "x"}),
        json!({"encrypted": {"id": "e"}, "onPremises": null}),
        json!({"somethingNew": {"id": "n"}}),
    ];
    for identity in identities {
        let body = json!({"participants": [{"identity": identity, "hidden": false, "removeFromDefaultAudioRoutingGroup": null, "endpointType": null, "id": null}]});
        let reply = h.invite(&call_id, &body).await;
        assert_eq!(reply.status, 200, "{identity}: {}", reply.text());
    }
}

#[tokio::test]
async fn a_move_takes_only_the_first_participant_out_of_its_old_call() {
    let h = Harness::clean().await;
    let (old_call, mut old_inbox) = h.live_call(P2P).await;
    let old_roster = h.roster(&old_call).await;
    let peer = old_roster
        .iter()
        .find(|p| p["info"]["identity"]["user"].is_object())
        .expect("the peer")
        .clone();
    let peer_id = peer["id"].as_str().expect("id").to_owned();
    let (new_call, mut new_inbox) = h.live_call(GROUP).await;

    let mut moving = user("p2p-peer");
    moving["replacesCallId"] = json!(old_call);
    moving["participantId"] = json!(peer_id);
    let other = user("left-behind");
    let reply = h
        .invite(
            &new_call,
            &invite_body(&[moving.clone(), other.clone()], "move"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["participants"],
        json!([moving, other]),
        "both are echoed"
    );

    assert!(new_inbox.next().await.is_operation_end());
    let roster = new_inbox.next().await;
    assert!(roster.is_roster());
    let roster = roster.data().as_array().expect("array").clone();
    assert!(roster_has(&roster, &moving["identity"]));
    assert!(
        !roster_has(&roster, &other["identity"]),
        "only the first one moves"
    );

    let left = old_inbox.next().await;
    assert!(left.is_roster());
    assert_eq!(
        left.resource_url(),
        format!("/communications/calls/{old_call}/participants")
    );
    let remaining = left.data().as_array().expect("array").clone();
    assert!(remaining.iter().all(|p| p["id"] != peer_id.as_str()));
    assert!(h
        .roster(&old_call)
        .await
        .iter()
        .all(|p| p["id"] != peer_id.as_str()));
    let new_roster = h.roster(&new_call).await;
    assert!(roster_has(&new_roster, &moving["identity"]));
    assert!(!roster_has(&new_roster, &other["identity"]));
}

#[tokio::test]
async fn a_replaced_peer_to_peer_call_is_terminated_and_deleted() {
    let h = Harness::clean().await;
    let (p2p, mut p2p_inbox) = h.live_call(P2P).await;
    let (group, mut group_inbox) = h.live_call(GROUP).await;
    let mut invitee = user("p2p-peer");
    invitee["replacesCallId"] = json!(p2p);
    let reply = h
        .invite(&group, &invite_body(&[invitee.clone()], "replace"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    assert!(group_inbox.next().await.is_operation_end());
    let roster = group_inbox.next().await;
    assert!(roster_has(
        roster.data().as_array().expect("array"),
        &invitee["identity"]
    ));

    let (terminated, deleted) = p2p_inbox.expect_call_end(&p2p).await;
    assert_eq!(terminated.change_type(), "updated");
    assert_eq!(
        deleted.resource_url(),
        format!("/communications/calls/{p2p}")
    );
    assert_eq!(deleted.data()["id"], p2p.as_str());

    h.get(&format!("/communications/calls/{p2p}"))
        .await
        .assert_graph_error(404, "itemNotFound");
    h.invite(&p2p, &invite_body(&[user("x")], "c"))
        .await
        .assert_graph_error(404, "itemNotFound");
}

#[tokio::test]
async fn unknown_or_group_replaces_call_ids_are_ignored() {
    let h = Harness::clean().await;
    let (other_group, _other) = h.live_call(GROUP).await;
    let (group, mut inbox) = h.live_call(GROUP).await;
    for replaces in [uuid::Uuid::new_v4().to_string(), other_group.clone()] {
        let mut invitee = user("u");
        invitee["replacesCallId"] = json!(replaces);
        let reply = h.invite(&group, &invite_body(&[invitee], "c")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(inbox.next().await.is_operation_end());
        assert!(inbox.next().await.is_roster());
    }
    assert_eq!(
        h.get(&format!("/communications/calls/{other_group}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn delete_ends_the_call_and_everything_on_it_answers_404() {
    let h = Harness::clean().await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let op = h
        .invite(&call_id, &invite_body(&[user("a")], "c"))
        .await
        .json();
    assert!(inbox.next().await.is_operation_end());
    assert!(inbox.next().await.is_roster());

    let call_path = format!("/communications/calls/{call_id}");
    let reply = h.delete(&call_path).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    let (terminated, deleted) = inbox.expect_call_end(&call_id).await;
    assert_eq!(terminated.change_type(), "updated");
    assert_eq!(terminated.resource(), format!("/app/calls/{call_id}"));
    assert_eq!(deleted.resource_url(), call_path);
    assert_eq!(deleted.data()["id"], call_id.as_str());

    let op_path = format!("{call_path}/operations/{}", op["id"].as_str().expect("id"));
    for reply in [
        h.get(&call_path).await,
        h.delete(&call_path).await,
        h.get(&format!("{call_path}/participants")).await,
        h.get(&op_path).await,
        h.invite(&call_id, &invite_body(&[user("b")], "c")).await,
    ] {
        reply.assert_graph_error(404, "itemNotFound");
    }
}

#[tokio::test]
async fn unknown_calls_operations_and_paths_answer_404() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/communications/calls/{unknown}"),
        format!("/communications/calls/{unknown}/participants"),
        format!("/communications/calls/{unknown}/operations/{unknown}"),
        format!("/communications/calls/{call_id}/operations/{unknown}"),
        "/communications/nothing".to_owned(),
        "/".to_owned(),
    ] {
        h.get(&path).await.assert_graph_error(404, "itemNotFound");
    }
    h.invite(&unknown.to_string(), &invite_body(&[user("a")], "c"))
        .await
        .assert_graph_error(404, "itemNotFound");
    let outside = h
        .http
        .get(h.url("").replace("/v1.0", "/beta/communications/calls"))
        .header("authorization", "Bearer t")
        .send()
        .await
        .expect("request");
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn error_bodies_echo_the_client_request_id() {
    let h = Harness::clean().await;
    let path = format!("/communications/calls/{}", uuid::Uuid::new_v4());
    let reply = h
        .request(
            "GET",
            &path,
            None,
            &[("client-request-id", "my-request-42")],
        )
        .await;
    reply.assert_graph_error(404, "itemNotFound");
    let inner = &reply.json()["error"]["innerError"];
    assert_eq!(inner["client-request-id"], "my-request-42");
    assert_eq!(inner["request-id"].as_str(), reply.header("request-id"));

    let reply = h.get(&path).await;
    reply.assert_graph_error(404, "itemNotFound");
    let inner = reply.json()["error"]["innerError"].clone();
    assert!(!inner
        .as_object()
        .expect("object")
        .contains_key("client-request-id"));
}

#[tokio::test]
async fn requests_without_a_bearer_token_answer_401() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let body = invite_body(&[user("a")], "c").to_string();
    for authorization in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer   "),
        Some("token"),
    ] {
        let mut request = h
            .http
            .post(h.url(&invite_path(&call_id)))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let reply = request.send().await.expect("request");
        assert_eq!(reply.status(), 401, "{authorization:?}");
        assert_eq!(
            reply.headers()["content-type"].to_str().expect("ascii"),
            "application/json"
        );
        let body: Value =
            serde_json::from_slice(&reply.bytes().await.expect("body")).expect("json");
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    }
    // Even an unknown path asks for a token first.
    let reply = h.http.get(h.url("/nowhere")).send().await.expect("request");
    assert_eq!(reply.status(), 401);
}

#[tokio::test]
async fn only_json_bodies_are_accepted() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let body = invite_body(&[user("a")], "c").to_string().into_bytes();
    for content_type in [
        "text/plain",
        "application/xml",
        "application/jsonx",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let reply = h
            .request(
                "POST",
                &invite_path(&call_id),
                Some(body.clone()),
                &[("content-type", content_type)],
            )
            .await;
        reply.assert_graph_error(415, "UnsupportedMediaType");
    }
    let no_type = h
        .http
        .post(h.url(&invite_path(&call_id)))
        .header("authorization", "Bearer t")
        .body(body.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(no_type.status(), 415);
    for content_type in [
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "Application/Json;charset=UTF-8",
    ] {
        let reply = h
            .request(
                "POST",
                &invite_path(&call_id),
                Some(body.clone()),
                &[("content-type", content_type)],
            )
            .await;
        assert_eq!(reply.status, 200, "{content_type}: {}", reply.text());
    }
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413() {
    let h = Harness::new(Config {
        body_limit: 2048,
        ..Config::default()
    })
    .await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let mut big = user("a");
    big["identity"]["user"]["displayName"] = json!("x".repeat(4096));
    h.invite(&call_id, &invite_body(&[big], "c"))
        .await
        .assert_graph_error(413, "RequestEntityTooLarge");

    // Without a Content-Length, the limit applies while reading.
    let chunk = "x".repeat(1500);
    let request = format!(
        "POST /v1.0{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        invite_path(&call_id),
        len = chunk.len(),
    );
    let (status, answer) = raw_exchange(h.server.addr(), request.as_bytes());
    assert_eq!(status, 413, "{answer}");
    let body: Value = serde_json::from_str(raw_body(&answer)).expect("JSON error body");
    assert_eq!(body["error"]["code"], "RequestEntityTooLarge");
}

#[tokio::test]
async fn wrong_methods_on_known_paths_answer_405() {
    let h = Harness::clean().await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let call = format!("/communications/calls/{call_id}");
    for (method, path) in [
        ("PUT", call.clone()),
        ("PATCH", call.clone()),
        ("GET", invite_path(&call_id)),
        ("DELETE", format!("{call}/participants")),
        ("POST", format!("{call}/operations/x")),
        ("DELETE", "/communications/calls".to_owned()),
    ] {
        let reply = h.request(method, &path, None, &[]).await;
        reply.assert_graph_error(405, "MethodNotAllowed");
        assert!(reply.header("allow").is_some(), "{method} {path}");
    }
}

#[tokio::test]
async fn refusals_come_in_graph_order() {
    let h = Harness::new(Config {
        body_limit: 1024,
        ..Config::default()
    })
    .await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let unknown = invite_path(&uuid::Uuid::new_v4().to_string());
    let known = invite_path(&call_id);
    let big_malformed = format!("{{{}", "x".repeat(2048)).into_bytes();
    let send = |path: String, auth: bool, content_type: &'static str, body: Vec<u8>| {
        let mut request = h
            .http
            .post(h.url(&path))
            .header("content-type", content_type)
            .body(body);
        if auth {
            request = request.header("authorization", "Bearer t");
        }
        async move { request.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(
        send(unknown.clone(), false, "text/plain", big_malformed.clone()).await,
        401
    );
    assert_eq!(
        send(unknown, true, "text/plain", big_malformed.clone()).await,
        404
    );
    assert_eq!(
        send(known.clone(), true, "text/plain", big_malformed.clone()).await,
        415
    );
    assert_eq!(
        send(known.clone(), true, "application/json", big_malformed).await,
        413
    );
    assert_eq!(
        send(known.clone(), true, "application/json", b"{".to_vec()).await,
        400
    );
    assert_eq!(
        send(known, true, "application/json", b"{}".to_vec()).await,
        400
    );
}

/// Every malformed body or header gets a 4xx with Graph's error body, never
/// a 5xx.
#[tokio::test]
async fn malformed_requests_get_4xx_graph_errors_never_5xx() {
    let h = Harness::new(Config {
        body_limit: 64 * 1024,
        ..Config::default()
    })
    .await;
    let (call_id, _inbox) = h.live_call(GROUP).await;
    let path = invite_path(&call_id);
    let identity = |identity: Value| json!({"participants": [{"identity": identity}]});
    let participant = |member: &str, value: Value| {
        let mut p = user("a");
        p[member] = value;
        json!({"participants": [p]})
    };
    let mut bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"}".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"participants\"".to_vec(),
        b"42".to_vec(),
        b"true".to_vec(),
        b"{\"participants\":[],}".to_vec(),
        b"{'participants': []}".to_vec(),
        b"{\"participants\": [\x00]}".to_vec(),
        b"\xef\xbb\xbf{\"participants\":[]}".to_vec(),
        b"{\"participants\":[{\"identity\":{\"user\":{\"displayName\":\"\xff\xfe\"}}}]}".to_vec(),
        b"{\"participants\":[{\"identity\":{\"user\":{\"displayName\":\"\\ud800\"}}}]}".to_vec(),
        b"{\"participants\": 1e999999}".to_vec(),
        b"{\"participants\":[{\"identity\":{\"user\":{\"id\":123456789012345678901234567890123}}}]}".to_vec(),
        b"{\"participants\":[{\"identity\":{\"user\":{\"id\":-1e400}}}]}".to_vec(),
        vec![0xff; 100],
        format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)).into_bytes(),
        format!("{{\"participants\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
        format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes(),
    ];
    let typed: Vec<Value> = vec![
        json!({}),
        json!({"clientContext": "only"}),
        json!({"participants": null}),
        json!({"participants": {}}),
        json!({"participants": "user"}),
        json!({"participants": 1}),
        json!({"participants": true}),
        json!({"participants": []}),
        json!({"participants": [null]}),
        json!({"participants": [1]}),
        json!({"participants": ["user"]}),
        json!({"participants": [[]]}),
        json!({"participants": [{}]}),
        json!({"participants": [{"identity": null}]}),
        identity(json!("user")),
        identity(json!([])),
        identity(json!(1)),
        identity(json!({})),
        identity(json!({"@odata.type": "#microsoft.graph.identitySet"})),
        identity(json!({"user": null, "application": null})),
        identity(json!({"user": "x"})),
        identity(json!({"user": 1})),
        identity(json!({"user": []})),
        identity(json!({"phone": "+1234"})),
        identity(json!({"guest": true})),
        identity(json!({"@odata.type": 5, "user": {"id": "u"}})),
        identity(json!({"user": {"id": 1}})),
        identity(json!({"user": {"id": ["u"]}})),
        identity(json!({"user": {"displayName": false}})),
        identity(json!({"user": {"@odata.type": {}}})),
        identity(json!({"phone": {"id": 12345678901_u64}})),
        participant("@odata.type", json!(1)),
        participant("replacesCallId", json!(1)),
        participant("replacesCallId", json!({})),
        participant("participantId", json!(["p"])),
        participant("participantId", json!(true)),
        participant("hidden", json!("true")),
        participant("hidden", json!(0)),
        participant("removeFromDefaultAudioRoutingGroup", json!(1)),
        participant("removeFromDefaultAudioRoutingGroup", json!("false")),
        json!({"participants": [user("a")], "clientContext": 1}),
        json!({"participants": [user("a")], "clientContext": true}),
        json!({"participants": [user("a")], "clientContext": {}}),
        json!({"participants": [user("a")], "clientContext": ["c"]}),
        json!({"participants": [user("a")], "clientContext": "c".repeat(257)}),
        json!({"participants": (0..6).map(|i| user(&i.to_string())).collect::<Vec<_>>()}),
    ];
    bodies.extend(typed.iter().map(|body| body.to_string().into_bytes()));
    bodies.push(vec![b'x'; 70 * 1024]);

    for body in &bodies {
        let reply = h.request("POST", &path, Some(body.clone()), &[]).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        assert!(
            (400..500).contains(&reply.status),
            "{} for {shown}",
            reply.status
        );
        assert_graph_error_body(&reply);
    }

    let headers: Vec<Vec<(&str, &str)>> = vec![
        vec![("authorization", "")],
        vec![("authorization", "Bearer")],
        vec![("authorization", "Digest x")],
        vec![("content-type", "text/json")],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", ";")],
    ];
    let valid = invite_body(&[user("a")], "c").to_string().into_bytes();
    for extra in headers {
        let reply = h.request("POST", &path, Some(valid.clone()), &extra).await;
        assert!(
            (400..500).contains(&reply.status),
            "{} for {extra:?}",
            reply.status
        );
        assert_graph_error_body(&reply);
    }

    // A broken chunked body fails while the handler reads it.
    let request = format!(
        "POST /v1.0{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    let (status, answer) = raw_exchange(h.server.addr(), request.as_bytes());
    assert!((400..500).contains(&status) || status == 0, "{answer}");

    // Percent-encoded bytes that are not UTF-8 in a path parameter.
    let reply = h.get("/communications/calls/%FF%FE").await;
    assert!((400..500).contains(&reply.status));
    assert_graph_error_body(&reply);

    // The server still works after all that.
    assert_eq!(
        h.invite(&call_id, &invite_body(&[user("ok")], "c"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn serve_runs_on_the_callers_runtime() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(invite_reference::serve(listener, Config::default()));
    let reply = reqwest::Client::new()
        .get(format!("http://{addr}/v1.0/communications/calls/x"))
        .header("authorization", "Bearer t")
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 404);
    server.abort();
}

#[test]
fn start_works_from_synchronous_code_and_shuts_down() {
    let server = invite_reference::start(Config::default()).expect("start");
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(server.base_url().ends_with("/v1.0"));
    let request =
        "GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (status, answer) = raw_exchange(server.addr(), request.as_bytes());
    assert_eq!(status, 401, "{answer}");
    let addr = server.addr();
    // `shutdown` returns once the server's thread has ended; what proves it
    // stopped is the event after it, the port refusing connections. Its
    // duration is not asserted (a loaded machine only makes it longer), but
    // the wait for it is bounded, so a hang fails instead of stalling.
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        server.shutdown();
        let _ = done.send(());
    });
    let hang = PATIENCE * 6;
    stopped
        .recv_timeout(hang)
        .unwrap_or_else(|_| panic!("shutdown has not returned after {hang:?}"));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed"
    );
}
