//! A bounded load test: hundreds of clients, each on its own connections,
//! send thousands of requests (create, invite, get operation, malformed and
//! refused bodies, get, delete) to one server with fewer connection places
//! than clients. Every answer must be well-formed, and every notification
//! the successful requests imply must reach the callback exactly once.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use invite_reference::Config;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// Concurrent clients, each with its own HTTP client (own connections).
const CLIENTS: usize = 200;
/// Fewer places than clients: some clients wait for a connection.
const MAX_CONNECTIONS: usize = 100;
/// Successful invites per client's call.
const INVITES: usize = 4;
/// Notifications per call: established, an operation end and a roster per
/// invite, then terminated and deleted.
const NOTES_PER_CALL: usize = 1 + 2 * INVITES + 2;
/// The whole test stops by itself within this, pass or fail.
const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_get_well_formed_answers_and_every_notification_once() {
    tokio::time::timeout(BOUND, load())
        .await
        .expect("the load test finishes within its bound");
}

async fn load() {
    let h = Arc::new(
        Harness::new(Config {
            max_connections: MAX_CONNECTIONS,
            // Every client comes from 127.0.0.1.
            max_calls_per_client: CLIENTS,
            ..Config::default()
        })
        .await,
    );
    let requests = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let (h, requests) = (Arc::clone(&h), Arc::clone(&requests));
        let (callback, inbox) = h.hooks.inbox();
        clients.spawn(async move {
            let (call_id, ops) = one_client(&h, client, &callback, &requests).await;
            (call_id, ops, inbox)
        });
    }
    let mut calls = Vec::new();
    while let Some(done) = clients.join_next().await {
        calls.push(done.expect("a client task"));
    }
    let answered = started.elapsed();

    // Every client ended its call (DELETE), so each call's last notification
    // is its own `deleted`: a call's queue is ordered and closes with the
    // call, so a notification sent twice, or one nobody expected, reaches
    // the callback before that `deleted` does. Reading up to it (an event,
    // not a pause) gathers everything the call will ever send; far more
    // notifications than a call's session implies mean the end is not coming.
    let mut received = 0;
    for (call_id, ops, inbox) in &mut calls {
        let notes = inbox.until_call_deleted(call_id, 4 * NOTES_PER_CALL).await;
        received += notes.len();
        check_notifications(call_id, ops, &notes);
    }
    // And nothing beyond any call's own end has come since.
    for (call_id, _, inbox) in &mut calls {
        if let Some(extra) = inbox.next_within(Duration::ZERO).await {
            panic!(
                "a notification for {call_id} after its end: {:?}",
                extra.item()
            );
        }
    }
    let requests = requests.load(Ordering::Relaxed);
    eprintln!(
        "load: {CLIENTS} clients, {requests} requests answered in {answered:?}, \
         {received} notifications counted, {:?} in all",
        started.elapsed()
    );
    assert_eq!(received, CLIENTS * NOTES_PER_CALL);
    assert!(requests >= CLIENTS * 17, "{requests} requests");
}

/// One client's session on its own call; returns the call id and the ids of
/// the operations its invites started.
async fn one_client(
    h: &Harness,
    client: usize,
    callback: &str,
    requests: &AtomicUsize,
) -> (String, Vec<String>) {
    let http = reqwest::Client::new();
    let send = |method: &'static str, path: String, body: Option<Vec<u8>>, json_type: bool| {
        let http = http.clone();
        let url = h.url(&path);
        async move {
            let mut request = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                    url,
                )
                .header("authorization", "Bearer load");
            if let Some(body) = body {
                let content_type = if json_type {
                    "application/json"
                } else {
                    "text/plain"
                };
                request = request.header("content-type", content_type).body(body);
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.expect("a whole body");
            requests.fetch_add(1, Ordering::Relaxed);
            Reply {
                status,
                headers,
                body,
            }
        }
    };

    let created = send(
        "POST",
        "/communications/calls".into(),
        Some(call_body(GROUP, callback).to_string().into_bytes()),
        true,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let call = created.json();
    let call_id = call["id"].as_str().expect("call id").to_owned();
    assert!(created
        .header("location")
        .is_some_and(|l| l.ends_with(&call_id)));
    let call_path = format!("/communications/calls/{call_id}");
    let invite = invite_path(&call_id);

    // The middle of the session, in an order that differs between clients.
    let mut steps: Vec<usize> = (0..INVITES + 6).collect();
    let turn = client % steps.len();
    steps.rotate_left(turn);
    let mut ops = Vec::new();
    for step in steps {
        match step {
            n if n < INVITES => {
                let invitee = user(&format!("client{client}-user{n}"));
                let body = invite_body(&[invitee], &format!("load-{client}-{n}"));
                let reply = send(
                    "POST",
                    invite.clone(),
                    Some(body.to_string().into_bytes()),
                    true,
                )
                .await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                let op = reply.json();
                let op_id = op["id"].as_str().expect("operation id").to_owned();
                assert_eq!(op["status"], "running", "{op}");
                assert_eq!(op["clientContext"], format!("load-{client}-{n}"));
                assert!(reply
                    .header("location")
                    .is_some_and(|l| l.ends_with(&format!("{call_path}/operations/{op_id}"))));
                let got = send(
                    "GET",
                    format!("{call_path}/operations/{op_id}"),
                    None,
                    false,
                )
                .await;
                assert_eq!(got.status, 200, "{}", got.text());
                let got = got.json();
                assert_eq!(got["id"], op_id.as_str());
                assert!(
                    matches!(got["status"].as_str(), Some("running" | "completed")),
                    "{got}"
                );
                ops.push(op_id);
            }
            n if n == INVITES => {
                let reply = send(
                    "POST",
                    invite.clone(),
                    Some(b"{\"participants\":[".to_vec()),
                    true,
                )
                .await;
                reply.assert_graph_error(400, "BadRequest");
            }
            n if n == INVITES + 1 => {
                let body = invite_body(&[user("x")], "c").to_string().into_bytes();
                let reply = send("POST", invite.clone(), Some(body), false).await;
                reply.assert_graph_error(415, "UnsupportedMediaType");
            }
            n if n == INVITES + 2 => {
                let six: Vec<Value> = (0..6).map(|i| user(&i.to_string())).collect();
                let body = invite_body(&six, "c").to_string().into_bytes();
                let reply = send("POST", invite.clone(), Some(body), true).await;
                reply.assert_graph_error(400, "BadRequest");
            }
            n if n == INVITES + 3 => {
                let reply = send("GET", call_path.clone(), None, false).await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                assert_eq!(reply.json()["id"], call_id.as_str());
            }
            n if n == INVITES + 4 => {
                let unknown = format!("/communications/calls/{}", uuid::Uuid::new_v4());
                send("GET", unknown, None, false)
                    .await
                    .assert_graph_error(404, "itemNotFound");
            }
            _ => {
                let reply = send("GET", format!("{call_path}/participants"), None, false).await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                assert!(reply.json()["value"].is_array());
            }
        }
    }

    let deleted = send("DELETE", call_path.clone(), None, false).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let body = invite_body(&[user("late")], "c").to_string().into_bytes();
    send("POST", invite, Some(body), true)
        .await
        .assert_graph_error(404, "itemNotFound");
    (call_id, ops)
}

/// Each kind of notification a call's session implies, exactly once each.
fn check_notifications(call_id: &str, ops: &[String], notes: &[Note]) {
    let call_url = format!("/communications/calls/{call_id}");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for note in notes {
        let url = note.resource_url();
        let key = if url == call_url {
            format!("call {} {}", note.change_type(), note.data()["state"])
        } else if note.is_operation_end() {
            assert_eq!(note.data()["status"], "completed", "{:?}", note.item());
            format!("end {url}")
        } else if note.is_roster() && url == format!("{call_url}/participants") {
            "roster".to_owned()
        } else {
            panic!(
                "an unexpected notification for {call_id}: {:?}",
                note.item()
            );
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut expected: HashMap<String, usize> = HashMap::new();
    expected.insert(format!("call updated {}", json!("established")), 1);
    expected.insert(format!("call updated {}", json!("terminated")), 1);
    expected.insert(format!("call deleted {}", json!("terminated")), 1);
    expected.insert("roster".into(), ops.len());
    for op in ops {
        expected.insert(format!("end {call_url}/operations/{op}"), 1);
    }
    assert_eq!(counts, expected, "notifications of {call_id}");
}
