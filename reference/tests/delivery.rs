//! Notification delivery under load and against bad callbacks.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use invite_reference::Config;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const CALLS: usize = 50;
const INVITES_PER_CALL: usize = 8;
const IN_FLIGHT: usize = 64;

/// Hundreds of invites across many calls at once: every notification
/// arrives, exactly once, and on each call an operation's end comes before
/// the roster that first lists its invitee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invites_lose_no_notification_and_keep_per_call_order() {
    let h = Arc::new(Harness::clean().await);
    let mut created = JoinSet::new();
    for _ in 0..CALLS {
        let h = Arc::clone(&h);
        created.spawn(async move { h.live_call(GROUP).await });
    }
    let mut calls = Vec::new();
    while let Some(call) = created.join_next().await {
        calls.push(call.expect("create task"));
    }

    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut invites = JoinSet::new();
    for (call_index, (call_id, _)) in calls.iter().enumerate() {
        for n in 0..INVITES_PER_CALL {
            let (h, permits, call_id) = (Arc::clone(&h), Arc::clone(&permits), call_id.clone());
            invites.spawn(async move {
                let _permit = permits.acquire().await.expect("semaphore");
                let invitee = user(&format!("call{call_index}-user{n}"));
                let reply = h
                    .invite(
                        &call_id,
                        &invite_body(std::slice::from_ref(&invitee), "load"),
                    )
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                let op_id = reply.json()["id"].as_str().expect("id").to_owned();
                (call_id, op_id, invitee["identity"].clone())
            });
        }
    }
    let mut expected: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    while let Some(done) = invites.join_next().await {
        let (call_id, op_id, identity) = done.expect("invite task");
        expected.entry(call_id).or_default().push((op_id, identity));
    }

    let mut received = 0;
    for (call_id, mut inbox) in calls {
        let ops = &expected[&call_id];
        let mut notes = Vec::new();
        for _ in 0..2 * INVITES_PER_CALL {
            notes.push(inbox.next().await);
        }
        received += notes.len();
        let ended: HashSet<String> = notes
            .iter()
            .filter(|n| n.is_operation_end())
            .map(|n| n.data()["id"].as_str().expect("id").to_owned())
            .collect();
        let answered: HashSet<String> = ops.iter().map(|(op, _)| op.clone()).collect();
        assert_eq!(ended, answered, "each operation ends exactly once");
        for (op_id, identity) in ops {
            let end = notes
                .iter()
                .position(|n| n.is_operation_end() && n.data()["id"] == op_id.as_str())
                .expect("the operation's end");
            let listed = notes
                .iter()
                .position(|n| {
                    n.is_roster() && roster_has(n.data().as_array().expect("array"), identity)
                })
                .expect("a roster with the invitee");
            assert!(
                end < listed,
                "end {end} before roster {listed} on {call_id}"
            );
        }
        // Nothing else was queued: the call's own end comes next.
        assert_eq!(
            h.delete(&format!("/communications/calls/{call_id}"))
                .await
                .status,
            204
        );
        let next = inbox.next().await;
        assert_eq!(next.data()["state"], "terminated", "{:?}", next.item());
    }
    assert_eq!(received, CALLS * INVITES_PER_CALL * 2);
}

/// A callback that takes the POST and never answers holds up only its own
/// call: another call's notifications all arrive while the silent
/// callback's POST is still held open, that is before the server has had an
/// answer to it or given up on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_callback_delays_only_its_own_call() {
    // Far past every wait of this test (each at most PATIENCE): the server
    // gives up on the silent POST only long after the test is over, so the
    // POST stays open for as long as the test looks.
    let timeout = PATIENCE * 60;
    let h = Harness::new(Config {
        notify_timeout: timeout,
        notify_retries: 1,
        ..Config::default()
    })
    .await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/callback", silent.local_addr().expect("addr"));
    let body = call_body(GROUP, &silent_url);
    let stuck = h.post("/communications/calls", &body).await;
    assert_eq!(stuck.status, 201);
    let stuck_id = stuck.json()["id"].as_str().expect("id").to_owned();

    // The stuck call's first POST (its `established`) arrives, whole, and is
    // never answered.
    let (mut held, _) = tokio::time::timeout(PATIENCE, silent.accept())
        .await
        .expect("the stuck call's first POST connects in time")
        .expect("accept");
    let request = read_http_message(&mut held, "the stuck call's first POST").await;
    assert!(request.starts_with("POST /callback"), "{request}");
    // More notifications of the stuck call queue up behind it.
    let reply = h
        .invite(&stuck_id, &invite_body(&[user("a")], "stuck"))
        .await;
    assert_eq!(reply.status, 200);

    let (call_id, mut inbox) = h.create_call(GROUP).await;
    assert_eq!(
        h.invite(&call_id, &invite_body(&[user("b")], "fine"))
            .await
            .status,
        200
    );
    let established = inbox.next().await;
    assert_eq!(established.data()["state"], "established");
    assert!(inbox.next().await.is_operation_end());
    assert!(inbox.next().await.is_roster());
    // All three arrived while the silent POST was still held: the server
    // has neither closed it (giving up) nor sent anything more on it. A
    // server whose deliveries waited on one another would have sent them
    // only after ending that POST, which it does not do before `timeout`.
    // (A plain non-blocking read asks the kernel itself: 0 bytes would be
    // the server's close, an error its reset.)
    let held = held.into_std().expect("a std stream");
    held.set_nonblocking(true).expect("non-blocking");
    let mut more = [0; 1];
    match (&held).read(&mut more) {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!(
            "the silent POST ended (or went on) before the other call's notifications arrived: {other:?}"
        ),
    }
}

/// A POST answered with an error is tried again, and the notifications
/// behind it wait for it.
#[tokio::test]
async fn a_failed_post_is_retried() {
    let h = Harness::new(Config {
        notify_retries: 2,
        ..Config::default()
    })
    .await;
    let (callback, mut inbox) = h.hooks.failing_inbox(1);
    let reply = h
        .post("/communications/calls", &call_body(GROUP, &callback))
        .await;
    let call_id = reply.json()["id"].as_str().expect("id").to_owned();
    let first = inbox.next().await;
    let second = inbox.next().await;
    assert_eq!((first.answered, second.answered), (500, 202));
    assert_eq!(first.body, second.body);
    assert_eq!(second.data()["state"], "established");
    assert_eq!(
        h.invite(&call_id, &invite_body(&[user("a")], "c"))
            .await
            .status,
        200
    );
    assert!(inbox.next().await.is_operation_end());
}

/// After `notify_retries` retries a notification is given up and the next
/// one goes out.
#[tokio::test]
async fn delivery_gives_up_after_the_retries() {
    let retries = 2;
    let h = Harness::new(Config {
        notify_retries: retries,
        ..Config::default()
    })
    .await;
    let (callback, mut inbox) = h.hooks.failing_inbox(usize::MAX);
    let reply = h
        .post("/communications/calls", &call_body(GROUP, &callback))
        .await;
    let call_id = reply.json()["id"].as_str().expect("id").to_owned();
    // The first attempt has left before the invite: otherwise the invite's
    // notifications may share its POST (and its retries).
    let first = inbox.next().await;
    assert_eq!(first.answered, 500);
    assert_eq!(first.data()["state"], "established");
    assert_eq!(
        h.invite(&call_id, &invite_body(&[user("a")], "c"))
            .await
            .status,
        200
    );
    for _ in 1..=retries {
        let attempt = inbox.next().await;
        assert_eq!(attempt.answered, 500);
        assert_eq!(attempt.data()["state"], "established");
    }
    assert!(inbox.next().await.is_operation_end());
}

/// With an operation delay the invite stays running, then completes.
#[tokio::test]
async fn operation_delay_keeps_the_operation_running() {
    let delay = Duration::from_millis(400);
    let h = Harness::new(Config {
        operation_delay: delay,
        ..Config::default()
    })
    .await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    // Before the invite: the operation's clock starts later than this.
    let started = Instant::now();
    let reply = h.invite(&call_id, &invite_body(&[user("a")], "c")).await;
    assert_eq!(reply.json()["status"], "running");
    let op_path = format!(
        "/communications/calls/{call_id}/operations/{}",
        reply.json()["id"].as_str().expect("id")
    );
    let got = h.get(&op_path).await.json();
    // An answer that came before `delay` had passed since `started` was
    // given while the operation was surely still running. A later one (a
    // busy machine) may find it either way; the end's lower bound below
    // still proves it ran for the whole delay.
    if started.elapsed() < delay {
        assert_eq!(got["status"], "running", "{got}");
    } else {
        assert!(
            matches!(got["status"].as_str(), Some("running" | "completed")),
            "{got}"
        );
    }
    assert!(inbox.next().await.is_operation_end());
    assert!(started.elapsed() >= delay);
    // The terminal notification is raised with the completion: by now the
    // operation reads completed.
    assert_eq!(h.get(&op_path).await.json()["status"], "completed");
}

/// An invite still running when its call is deleted ends once, as failed
/// with resultInfo, before the call's own end; it never completes later.
#[tokio::test]
async fn deleting_a_call_fails_its_running_operations_once() {
    let delay = Duration::from_secs(1);
    let h = Harness::new(Config {
        operation_delay: delay,
        ..Config::default()
    })
    .await;
    // The operation is surely still running when the DELETE is handled if
    // the DELETE's answer came before `delay` had passed since `started`
    // (the operation's clock starts after it). That is observed, not
    // assumed: a try the machine was too busy for proves nothing and is
    // made again on a fresh call; only a machine that hangs runs out.
    const TRIES: usize = 5;
    let mut tries = 0;
    let (mut inbox, op_id, started) = loop {
        tries += 1;
        let (call_id, inbox) = h.live_call(GROUP).await;
        let started = Instant::now();
        let reply = h.invite(&call_id, &invite_body(&[user("a")], "c")).await;
        let op_id = reply.json()["id"].as_str().expect("id").to_owned();
        assert_eq!(
            h.delete(&format!("/communications/calls/{call_id}"))
                .await
                .status,
            204
        );
        if started.elapsed() < delay {
            break (inbox, op_id, started);
        }
        assert!(
            tries < TRIES,
            "in {tries} tries, never a DELETE answered within {delay:?} of its invite"
        );
        eprintln!("try {tries}: the DELETE came too late to prove anything; again");
    };
    let end = inbox.next().await;
    assert!(end.is_operation_end(), "{:?}", end.json());
    assert_eq!(end.data()["id"], op_id.as_str());
    assert_eq!(end.data()["status"], "failed");
    assert_eq!(end.data()["resultInfo"]["code"], 410);
    assert_eq!(inbox.next().await.data()["state"], "terminated");
    assert_eq!(inbox.next().await.change_type(), "deleted");
    // Past the operation delay, nothing more arrives: it ended exactly once.
    // This one is a wait for an absence, which no event can end: a correct
    // server always passes it, and a server that completed the operation
    // late would show it here once its delay ran out.
    let past_the_delay =
        (started + delay + Duration::from_millis(500)).saturating_duration_since(Instant::now());
    if let Some(late) = inbox.next_within(past_the_delay).await {
        panic!("a notification after the call's end: {:?}", late.json());
    }
}

/// A 4xx from the bot (a callback path it no longer serves) is final: the
/// notification is dropped at once and the next one goes out, no retries.
#[tokio::test]
async fn a_refused_post_is_not_retried() {
    let h = Harness::new(Config {
        notify_retries: 2,
        ..Config::default()
    })
    .await;
    let (callback, mut inbox) = h.hooks.refusing_inbox(1, axum::http::StatusCode::NOT_FOUND);
    let reply = h
        .post("/communications/calls", &call_body(GROUP, &callback))
        .await;
    let call_id = reply.json()["id"].as_str().expect("id").to_owned();
    let refused = inbox.next().await;
    assert_eq!(refused.answered, 404);
    assert_eq!(refused.data()["state"], "established");
    assert_eq!(
        h.invite(&call_id, &invite_body(&[user("a")], "c"))
            .await
            .status,
        200
    );
    // The very next delivery is the invite's, not a retry of the refused one.
    assert!(inbox.next().await.is_operation_end());
}

/// Notifications raised together leave together: an invite's terminal
/// notification and the roster update it caused come in one POST, in that
/// order, as two items of one `commsNotifications.value`.
#[tokio::test]
async fn notifications_raised_together_share_one_post() {
    let h = Harness::clean().await;
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    let before = inbox.next_within(Duration::from_millis(0)).await;
    assert!(before.is_none(), "nothing pending after establishment");
    let reply = h.invite(&call_id, &invite_body(&[user("a")], "c")).await;
    assert_eq!(reply.status, 200);
    let end = inbox.next().await;
    let roster = inbox.next().await;
    assert!(end.is_operation_end(), "{:?}", end.json());
    assert!(roster.is_roster(), "{:?}", roster.json());
    assert_eq!(end.post, roster.post, "both items came in one POST");
}
