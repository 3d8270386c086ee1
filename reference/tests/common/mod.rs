//! Test fixtures: a reference server, an HTTP client for it, and a callback
//! receiver that hands each call's notifications to the test in order.

// Each test binary uses a different part of the fixtures.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use invite_reference::{Config, Fault, ServerHandle, Variant};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub const GROUP: CallKind = CallKind::Group;
pub const P2P: CallKind = CallKind::PeerToPeer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Group,
    PeerToPeer,
}

/// A reference server, a client for it and a callback receiver.
pub struct Harness {
    pub server: ServerHandle,
    pub base: String,
    pub http: reqwest::Client,
    pub hooks: Hooks,
}

impl Harness {
    pub async fn new(config: Config) -> Harness {
        let server = invite_reference::start(config).expect("start the reference server");
        Harness {
            base: server.base_url(),
            server,
            http: reqwest::Client::new(),
            hooks: Hooks::start().await,
        }
    }

    pub async fn clean() -> Harness {
        Harness::new(Config::default()).await
    }

    pub async fn with_variants(variants: &[Variant]) -> Harness {
        Harness::new(Config {
            variants: variants.to_vec(),
            ..Config::default()
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with a bearer token and, for a body, a JSON
    /// content type; `extra` headers are added (or replace those).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, self.url(path));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "authorization",
            "Bearer test-token".parse().expect("header"),
        );
        if body.is_some() {
            headers.insert("content-type", "application/json".parse().expect("header"));
        }
        for (name, value) in extra {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name");
            headers.insert(name, value.parse().expect("header value"));
        }
        request = request.headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = tokio::time::timeout(PATIENCE, request.send())
            .await
            .expect("the server answers in time")
            .expect("the request reaches the server");
        Reply::read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None, &[]).await
    }

    pub async fn invite(&self, call_id: &str, body: &Value) -> Reply {
        self.post(&invite_path(call_id), body).await
    }

    /// Creates a call whose notifications go to a fresh inbox; does not
    /// wait for the `established` notification.
    pub async fn create_call(&self, kind: CallKind) -> (String, Inbox) {
        let (callback, inbox) = self.hooks.inbox();
        let reply = self
            .post("/communications/calls", &call_body(kind, &callback))
            .await;
        assert_eq!(reply.status, 201, "create call: {}", reply.text());
        let id = reply.json()["id"].as_str().expect("call id").to_owned();
        (id, inbox)
    }

    /// Creates a call and waits until it is established.
    pub async fn live_call(&self, kind: CallKind) -> (String, Inbox) {
        let (id, mut inbox) = self.create_call(kind).await;
        let note = inbox.next().await;
        assert_eq!(note.change_type(), "updated");
        assert_eq!(note.data()["state"], "established");
        (id, inbox)
    }

    /// The roster of a call as GET .../participants lists it.
    pub async fn roster(&self, call_id: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/communications/calls/{call_id}/participants"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["value"].as_array().expect("value").clone()
    }

    /// Invites, then gathers every notification the invite caused: it waits
    /// for the first one (all of an invite's are queued at once), deletes
    /// the call, and reads up to the call's own `deleted` notification.
    pub async fn invite_and_collect(
        &self,
        call_id: &str,
        inbox: &mut Inbox,
        body: &Value,
    ) -> (Reply, Vec<Note>) {
        let reply = self.invite(call_id, body).await;
        assert!(
            reply.status < 300,
            "invite: {} {}",
            reply.status,
            reply.text()
        );
        let mut notes = vec![inbox.next().await];
        let deleted = self
            .delete(&format!("/communications/calls/{call_id}"))
            .await;
        assert_eq!(deleted.status, 204);
        notes.extend(inbox.until_call_deleted(call_id, usize::MAX).await);
        // The call's own `terminated` and `deleted` are not the invite's.
        notes.retain(|note| note.resource_url() != format!("/communications/calls/{call_id}"));
        (reply, notes)
    }
}

/// A fault or a variant: what a server is started with to show its effect.
pub trait Effect {
    /// A default configuration with this one on.
    fn config(self) -> Config;
}

impl Effect for Fault {
    fn config(self) -> Config {
        Config {
            faults: vec![self],
            ..Config::default()
        }
    }
}

impl Effect for Variant {
    fn config(self) -> Config {
        Config {
            variants: vec![self],
            ..Config::default()
        }
    }
}

/// Runs `scenario` on a server with `config` (`true`), then on a default
/// one (`false`).
pub async fn on_both(config: Config, scenario: impl AsyncFn(&Harness, bool)) {
    let on = Harness::new(config).await;
    scenario(&on, true).await;
    let plain = Harness::clean().await;
    scenario(&plain, false).await;
}

/// One test per fault or variant of `$kind` (`Fault` or `Variant`), each
/// running its scenario with [`on_both`], and `$every`, the test that every
/// one of `$kind::ALL` has one.
#[allow(unused_macros)] // as dead_code above
macro_rules! effect_tests {
    ($kind:ident, $every:ident; $($test:ident: $item:ident => $scenario:expr;)+) => {
        $(
            #[tokio::test]
            async fn $test() {
                $crate::common::on_both(
                    $crate::common::Effect::config($kind::$item),
                    $scenario,
                )
                .await;
            }
        )+

        #[test]
        fn $every() {
            let mut tested = vec![$($kind::$item,)+];
            tested.sort();
            let mut all = $kind::ALL.to_vec();
            all.sort();
            assert_eq!(tested, all);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use effect_tests;

/// The `clientContext` of the invites of [`one_user`].
pub const CONTEXT: &str = "ctx-1";

/// An invite of one user, `invitee`.
pub fn one_user() -> Value {
    invite_body(&[user("invitee")], CONTEXT)
}

/// A group call and an invite of one user on it, however it is answered.
pub async fn invite_once(h: &Harness) -> (String, Reply, Inbox) {
    let (call_id, inbox) = h.live_call(GROUP).await;
    let reply = h.invite(&call_id, &one_user()).await;
    (call_id, reply, inbox)
}

/// [`invite_once`], answered 200.
pub async fn invite_accepted(h: &Harness) -> (String, Reply, Inbox) {
    let (call_id, reply, inbox) = invite_once(h).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    (call_id, reply, inbox)
}

/// A move under way: the peer of a peer-to-peer call (`old_call`) invited
/// into a fresh group call (`new_call`) with a second participant behind
/// it; the invite was answered 200.
pub struct Move {
    pub old_call: String,
    pub old_inbox: Inbox,
    pub new_call: String,
    pub new_inbox: Inbox,
    pub peer_id: String,
    pub reply: Reply,
}

/// Starts a [`Move`]; returns once the invite is answered.
pub async fn start_move(h: &Harness) -> Move {
    let (old_call, old_inbox) = h.live_call(P2P).await;
    let peer_id = h
        .roster(&old_call)
        .await
        .iter()
        .find(|p| p["info"]["identity"]["user"].is_object())
        .and_then(|p| p["id"].as_str().map(str::to_owned))
        .expect("the peer");
    let (new_call, new_inbox) = h.live_call(GROUP).await;
    let mut moving = user("p2p-peer");
    moving["replacesCallId"] = json!(old_call);
    moving["participantId"] = json!(peer_id);
    let reply = h
        .invite(&new_call, &invite_body(&[moving, user("second")], CONTEXT))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    Move {
        old_call,
        old_inbox,
        new_call,
        new_inbox,
        peer_id,
        reply,
    }
}

/// The operations' terminal notifications among `notes`.
pub fn ends(notes: &[Note]) -> Vec<&Note> {
    notes.iter().filter(|n| n.is_operation_end()).collect()
}

/// The roster updates among `notes`.
pub fn rosters(notes: &[Note]) -> Vec<&Note> {
    notes.iter().filter(|n| n.is_roster()).collect()
}

/// Whether `value` is an object with this member.
pub fn has_member(value: &Value, member: &str) -> bool {
    value.as_object().is_some_and(|o| o.contains_key(member))
}

pub fn invite_path(call_id: &str) -> String {
    format!("/communications/calls/{call_id}/participants/invite")
}

/// A create-call body: a group call joins a meeting; a peer-to-peer call
/// has one target.
pub fn call_body(kind: CallKind, callback: &str) -> Value {
    let mut body = json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback,
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "source": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": {
                "@odata.type": "#microsoft.graph.identitySet",
                "application": {"@odata.type": "#microsoft.graph.identity", "id": "bot-app-id", "displayName": "Test bot"},
            },
        },
        "tenantId": "tenant-1",
    });
    match kind {
        CallKind::Group => {
            body["chatInfo"] = json!({"@odata.type": "#microsoft.graph.chatInfo", "threadId": "19:meeting@thread.v2", "messageId": "0"});
            body["meetingInfo"] = json!({"@odata.type": "#microsoft.graph.organizerMeetingInfo", "organizer": {"user": {"id": "organizer"}}});
        }
        CallKind::PeerToPeer => {
            body["targets"] = json!([user("p2p-peer")]);
        }
    }
    body
}

/// An invitationParticipantInfo for a user.
pub fn user(id: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "user": {"@odata.type": "#microsoft.graph.identity", "id": id, "displayName": "Test user"},
        },
    })
}

pub fn invite_body(participants: &[Value], client_context: &str) -> Value {
    json!({"participants": participants, "clientContext": client_context})
}

/// Whether a roster (participant objects) holds someone with this identity.
pub fn roster_has(roster: &[Value], identity: &Value) -> bool {
    roster.iter().any(|p| &p["info"]["identity"] == identity)
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("read the body");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Asserts Graph's error body with this status and code.
    pub fn assert_graph_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert_graph_error_body(self);
        assert_eq!(self.json()["error"]["code"], code, "{}", self.text());
    }
}

/// Asserts `{"error":{"code","message","innerError":{request-id,date}}}`
/// sent as JSON.
pub fn assert_graph_error_body(reply: &Reply) {
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?} of {}",
        reply.text()
    );
    let body = reply.json();
    let error = &body["error"];
    assert!(error["code"].is_string(), "{body}");
    assert!(error["message"].is_string(), "{body}");
    let inner = &error["innerError"];
    let request_id = inner["request-id"].as_str().unwrap_or_default();
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{body}");
    let date = inner["date"].as_str().unwrap_or_default();
    assert!(is_zoneless_date(date), "{body}");
}

/// `YYYY-MM-DDTHH:MM:SS`, no fraction, no zone.
pub fn is_zoneless_date(date: &str) -> bool {
    let bytes = date.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// One notification received by the callback receiver: a POST's body, or
/// one item of a POST that carried several (then `body` holds that item alone).
#[derive(Debug, Clone)]
pub struct Note {
    pub content_type: Option<String>,
    pub body: Bytes,
    /// The status the receiver answered with.
    pub answered: u16,
    /// Which POST to this callback it came in (0, 1, …).
    pub post: usize,
}

impl Note {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "notification is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The single commsNotification the body carries (the envelope's
    /// `@odata.type`, which the `no-odata-type` variant leaves out, must be
    /// right when present).
    pub fn item(&self) -> Value {
        let body = self.json();
        if let Some(odata_type) = body.get("@odata.type") {
            assert_eq!(odata_type, "#microsoft.graph.commsNotifications");
        }
        let items = body["value"].as_array().expect("value array");
        assert_eq!(items.len(), 1, "{body}");
        items[0].clone()
    }

    pub fn change_type(&self) -> String {
        self.item()["changeType"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn resource_url(&self) -> String {
        self.item()["resourceUrl"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn resource(&self) -> String {
        self.item()["resource"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn data(&self) -> Value {
        self.item()["resourceData"].clone()
    }

    pub fn is_operation_end(&self) -> bool {
        self.change_type() == "deleted" && self.resource_url().contains("/operations/")
    }

    pub fn is_roster(&self) -> bool {
        self.change_type() == "updated" && self.resource_url().ends_with("/participants")
    }
}

/// The notifications sent to one callback URL, in arrival order.
pub struct Inbox {
    notes: mpsc::UnboundedReceiver<Note>,
}

impl Inbox {
    /// The next notification; fails the test if none comes in time.
    pub async fn next(&mut self) -> Note {
        self.next_within(PATIENCE)
            .await
            .expect("a notification arrives in time")
    }

    pub async fn next_within(&mut self, patience: Duration) -> Option<Note> {
        tokio::time::timeout(patience, self.notes.recv())
            .await
            .ok()
            .flatten()
    }

    /// The call's own end, which must come next: its `terminated` state,
    /// then a `deleted` notification. Returns both.
    pub async fn expect_call_end(&mut self, call_id: &str) -> (Note, Note) {
        let terminated = self.next().await;
        assert_eq!(
            terminated.resource_url(),
            format!("/communications/calls/{call_id}")
        );
        assert_eq!(terminated.data()["state"], "terminated");
        let deleted = self.next().await;
        assert_eq!(deleted.change_type(), "deleted");
        (terminated, deleted)
    }

    /// The notifications up to and including the call's own `deleted`, in
    /// arrival order (the call's queue is ordered: nothing of the call comes
    /// after it). Fails the test if `max_notes` arrive without it; each
    /// waits at most `PATIENCE` ([`Inbox::next`]).
    pub async fn until_call_deleted(&mut self, call_id: &str, max_notes: usize) -> Vec<Note> {
        let call_url = format!("/communications/calls/{call_id}");
        let mut notes = Vec::new();
        loop {
            let note = self.next().await;
            let end = note.resource_url() == call_url && note.change_type() == "deleted";
            notes.push(note);
            if end {
                return notes;
            }
            assert!(
                notes.len() < max_notes,
                "{} notifications for {call_id} and still no end",
                notes.len()
            );
        }
    }
}

struct Route {
    notes: mpsc::UnboundedSender<Note>,
    /// POSTs received so far.
    posts: AtomicUsize,
    /// Requests still to refuse before accepting.
    failures: AtomicUsize,
    /// How they are refused.
    refusal: StatusCode,
}

type Routes = Arc<Mutex<HashMap<String, Arc<Route>>>>;

/// The callback receiver: a small server on the test's runtime with one
/// unguessable path per inbox.
pub struct Hooks {
    base: String,
    routes: Routes,
}

impl Hooks {
    pub async fn start() -> Hooks {
        let routes: Routes = Arc::default();
        let app = Router::new()
            .route("/hook/{key}", post(receive))
            .with_state(Arc::clone(&routes));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the callback receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hooks {
            base: format!("http://{addr}/hook"),
            routes,
        }
    }

    /// A callback URL and the inbox of what is POSTed to it.
    pub fn inbox(&self) -> (String, Inbox) {
        self.failing_inbox(0)
    }

    /// Like `inbox`, but the first `failures` POSTs are answered 500.
    pub fn failing_inbox(&self, failures: usize) -> (String, Inbox) {
        self.refusing_inbox(failures, StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Like `inbox`, but the first `failures` POSTs are answered `refusal`.
    pub fn refusing_inbox(&self, failures: usize, refusal: StatusCode) -> (String, Inbox) {
        let key = uuid::Uuid::new_v4().simple().to_string();
        let (sender, notes) = mpsc::unbounded_channel();
        let route = Arc::new(Route {
            notes: sender,
            posts: AtomicUsize::new(0),
            failures: AtomicUsize::new(failures),
            refusal,
        });
        self.routes
            .lock()
            .expect("routes")
            .insert(key.clone(), route);
        (format!("{}/{key}", self.base), Inbox { notes })
    }
}

async fn receive(
    State(routes): State<Routes>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let route = routes.lock().expect("routes").get(&key).cloned();
    let Some(route) = route else {
        return StatusCode::NOT_FOUND;
    };
    let fail = route
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail {
        route.refusal
    } else {
        StatusCode::ACCEPTED
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let post = route.posts.fetch_add(1, Ordering::SeqCst);
    for body in split_items(body) {
        let _ = route.notes.send(Note {
            content_type: content_type.clone(),
            body,
            answered: status.as_u16(),
            post,
        });
    }
    status
}

/// A `commsNotifications` body with several items, as one body per item;
/// any other body as it came.
fn split_items(body: Bytes) -> Vec<Bytes> {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    match parsed.as_ref().and_then(|b| b["value"].as_array()) {
        Some(items) if items.len() > 1 => items
            .iter()
            .map(|item| {
                let mut one = parsed.clone().unwrap_or_default();
                one["value"] = Value::Array(vec![item.clone()]);
                Bytes::from(one.to_string())
            })
            .collect(),
        _ => vec![body],
    }
}

/// Sends raw bytes over a fresh connection and returns the status code and
/// the whole answer as text (the request should ask `Connection: close`).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // The server may answer (413) and close before reading all of a large
    // request; what it answered is still readable.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Reads one HTTP message (a request or an answer: its head, then as much
/// body as its `Content-Length` announces) from `stream`. Fails the test,
/// saying what was awaited (`what`), if the connection closes first or the
/// message is not whole within `PATIENCE`. Whatever came with it is
/// returned too; a server sends nothing past an answer until asked again.
pub async fn read_http_message(stream: &mut tokio::net::TcpStream, what: &str) -> String {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut message = Vec::new();
        while !is_whole_message(&message) {
            let mut chunk = [0; 4096];
            let n = stream
                .read(&mut chunk)
                .await
                .unwrap_or_else(|e| panic!("{what}: reading failed ({e})"));
            assert!(
                n > 0,
                "{what}: the connection closed before a whole message: {:?}",
                String::from_utf8_lossy(&message)
            );
            message.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&message).into_owned()
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("{what}: no whole message within {PATIENCE:?}"))
}

/// Whether `bytes` hold a whole head and as much body as it announces.
fn is_whole_message(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + length
}

/// The body of a raw HTTP answer (after the blank line).
pub fn raw_body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}
