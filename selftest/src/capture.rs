//! What a target sends for a case, captured by driving it directly: the
//! case's calls are created (as the suite's fixtures create them), its
//! request is sent, the operation is read back once it ended, and every
//! notification POSTed to the calls' callbacks is kept.
//!
//! HTTP is spoken by hand on blocking sockets (one request per connection,
//! `Connection: close`): the self-tests need no HTTP client for this, and
//! the reference server is on loopback.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{find, lock};

/// How long a request, or a wait for a notification, may take.
const PATIENCE: Duration = Duration::from_secs(5);
/// The largest answer or notification read.
const MOST_BYTES: usize = 4 * 1024 * 1024;
/// The user a move's source call holds (the suite's `move_source` fixture).
const MOVED_USER: &str = "682b6c37-0729-4fab-ace6-d730d5d9137e";

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends one request to `base` (`http://127.0.0.1:PORT/v1.0`) + `path`.
pub fn send(base: &str, method: &str, path: &str, body: Option<&Value>) -> io::Result<Answer> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("{base} is not an http:// URL")))?;
    let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: SocketAddr = host
        .parse()
        .map_err(|e| io::Error::other(format!("{host}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} /{prefix}{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer capture\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload.as_bytes())?;
    let mut raw = Vec::new();
    stream.take(MOST_BYTES as u64).read_to_end(&mut raw)?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> io::Result<Answer> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| io::Error::other("no end of head"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = unchunk(&body)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn unchunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").ok_or_else(|| io::Error::other("bad chunk"))?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| io::Error::other(format!("bad chunk size: {e}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| io::Error::other("short chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// A callback receiver on loopback: every POST's path and JSON body is
/// kept, each answered `202` and closed. Dropping it stops it.
pub struct Callbacks {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Callbacks {
    pub fn start() -> io::Result<Callbacks> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some(got) = receive(stream) {
                                lock(&received).push(got);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        Ok(Callbacks {
            addr,
            received,
            stop,
            thread: Some(thread),
        })
    }

    /// The callback URL of one call.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// The bodies POSTed to `/{name}`, in order.
    pub fn bodies(&self, name: &str) -> Vec<Value> {
        let path = format!("/{name}");
        lock(&self.received)
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Waits until `done` holds over the bodies POSTed to `/{name}`.
    pub fn wait(&self, name: &str, done: impl Fn(&[Value]) -> bool) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if done(&self.bodies(name)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream`, answers it, and returns its path and
/// JSON body.
fn receive(mut stream: TcpStream) -> Option<(String, Value)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buffer[..n]);
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end, length);
        }
        if raw.len() > MOST_BYTES {
            return None;
        }
    };
    while raw.len() < head_end + 4 + length.min(MOST_BYTES) {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buffer[..n]);
    }
    let _ = stream
        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let path = head.split(' ').nth(1)?.to_owned();
    let body = serde_json::from_slice(raw.get(head_end + 4..)?).ok()?;
    Some((path, body))
}

/// Everything a target sent for one case.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The invite's response body.
    pub response: Value,
    /// The operation as `GET` returned it once it ended.
    pub operation: Value,
    /// Every terminal notification item (about an operation, `deleted`).
    pub terminal: Vec<Value>,
    /// Every roster notification item (about `.../participants`, `updated`).
    pub roster: Vec<Value>,
    /// Every `commsNotifications` body.
    pub envelopes: Vec<Value>,
}

fn items(bodies: &[Value]) -> Vec<&Value> {
    bodies
        .iter()
        .filter_map(|b| b.get("value").and_then(Value::as_array))
        .flatten()
        .collect()
}

fn url_of(item: &Value) -> &str {
    item.get("resourceUrl")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn change_of(item: &Value) -> String {
    item.get("changeType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn identity_set(member: &str, id: &str, name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.identitySet",
        member: {"@odata.type": "#microsoft.graph.identity", "id": id, "displayName": name}
    })
}

/// The create-call body the suite's fixtures send (suite/fixtures.rs).
fn call_body(kind: &str, callback: &str) -> Value {
    let mut body = json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback,
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "source": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": identity_set("application", "2891555a-92ff-42e6-80fa-6e1300c6b5c6", "Conformance bot")
        },
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"
    });
    if kind.ends_with("p2p") {
        body["targets"] = json!([{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": identity_set("user", "8e2a4c53-61a1-4cb5-a06e-6a6a2a0b0f11", "Peer")
        }]);
    } else {
        body["chatInfo"] = json!({
            "@odata.type": "#microsoft.graph.chatInfo",
            "threadId": "19:meeting_conformance@thread.v2",
            "messageId": "0"
        });
        body["meetingInfo"] = json!({
            "@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": identity_set("user", "5810cede-f3cc-42eb-b2c1-e9bd5d53ec96", "Organizer")
        });
    }
    body
}

fn fail(what: String) -> io::Error {
    io::Error::other(what)
}

/// Creates a call of `kind` whose notifications go to `/{name}`, and waits
/// until it is established.
fn create_call(base: &str, callbacks: &Callbacks, kind: &str, name: &str) -> io::Result<String> {
    let answer = send(
        base,
        "POST",
        "/communications/calls",
        Some(&call_body(kind, &callbacks.url(name))),
    )?;
    let id = answer
        .json()
        .and_then(|b| b.get("id").and_then(Value::as_str).map(str::to_owned))
        .filter(|_| answer.status == 201)
        .ok_or_else(|| fail(format!("creating a {kind} call answered {}", answer.status)))?;
    let established = callbacks.wait(name, |bodies| {
        items(bodies).iter().any(|i| {
            i.pointer("/resourceData/state")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("established"))
        })
    });
    if established {
        Ok(id)
    } else {
        Err(fail(format!("the {kind} call {id} was not established")))
    }
}

/// A group call holding [`MOVED_USER`], and that user's participant id.
fn move_source(base: &str, callbacks: &Callbacks, name: &str) -> io::Result<(String, String)> {
    let id = create_call(base, callbacks, "move_source", name)?;
    let body = json!({
        "participants": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": identity_set("user", MOVED_USER, "Moved user")
        }],
        "clientContext": "conformance-move-source"
    });
    let answer = send(
        base,
        "POST",
        &format!("/communications/calls/{id}/participants/invite"),
        Some(&body),
    )?;
    if answer.status != 200 {
        return Err(fail(format!("seating the user answered {}", answer.status)));
    }
    let participant = |bodies: &[Value]| -> Option<String> {
        items(bodies).iter().find_map(|item| {
            item.get("resourceData")?.as_array()?.iter().find_map(|p| {
                (p.pointer("/info/identity/user/id")?.as_str()? == MOVED_USER)
                    .then(|| p.get("id")?.as_str().map(str::to_owned))
                    .flatten()
            })
        })
    };
    callbacks.wait(name, |bodies| participant(bodies).is_some());
    let seated = participant(&callbacks.bodies(name))
        .ok_or_else(|| fail("no roster update named the seated user".into()))?;
    Ok((id, seated))
}

/// Replaces `{{name}}` in every string of `value`.
fn fill(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(text) => {
            let mut filled = text.clone();
            for (name, v) in vars {
                filled = filled.replace(&format!("{{{{{name}}}}}"), v);
            }
            Value::String(filled)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, vars)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs the case (a case file's JSON: fixtures of kind `group`,
/// `disposable_p2p`, `p2p`, `move_source` or `unknown`, and an invite request) against
/// `base` and captures what it sends.
pub fn capture(base: &str, case: &Value) -> io::Result<Captured> {
    let callbacks = Callbacks::start()?;
    let mut vars = BTreeMap::new();
    let fixtures = case
        .get("fixtures")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (var, kind) in &fixtures {
        let kind = kind.as_str().unwrap_or("");
        match kind {
            "group" | "p2p" | "disposable_p2p" => {
                let id = create_call(base, &callbacks, kind, var)?;
                vars.insert(var.clone(), id);
            }
            "move_source" => {
                let (id, participant) = move_source(base, &callbacks, var)?;
                vars.insert(var.clone(), id);
                vars.insert(format!("{var}.participant"), participant);
            }
            // An id no call has: nothing to create, nothing to hear from.
            "unknown" => {
                vars.insert(var.clone(), uuid::Uuid::new_v4().to_string());
            }
            other => return Err(fail(format!("no capture for a fixture of kind {other:?}"))),
        }
    }
    let request = case
        .get("request")
        .ok_or_else(|| fail("the case has no request".into()))?;
    let path = fill(request.get("path").unwrap_or(&Value::Null), &vars);
    let path = path
        .as_str()
        .ok_or_else(|| fail("the request has no path".into()))?;
    let body = request.get("body").map(|b| fill(b, &vars));
    // What the other calls have had so far: the invite adds to each (a
    // replaced call's end, the roster of a call moved from).
    let before: BTreeMap<&String, usize> = fixtures
        .iter()
        .filter(|(var, kind)| *var != "call" && kind.as_str() != Some("unknown"))
        .map(|(var, _)| (var, callbacks.bodies(var).len()))
        .collect();
    let answer = send(base, "POST", path, body.as_ref())?;
    let response = answer
        .json()
        .filter(|_| answer.status == 200)
        .ok_or_else(|| fail(format!("the invite answered {}", answer.status)))?;
    let op = response
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ended = callbacks.wait("call", |bodies| {
        let all = items(bodies);
        all.iter()
            .any(|i| url_of(i).ends_with(&format!("/operations/{op}")) && change_of(i) == "deleted")
            && all.iter().any(|i| url_of(i).ends_with("/participants"))
    });
    if !ended {
        return Err(fail("the invite's notifications did not come".into()));
    }
    let call = vars.get("call").cloned().unwrap_or_default();
    let answer = send(
        base,
        "GET",
        &format!("/communications/calls/{call}/operations/{op}"),
        None,
    )?;
    let operation = answer
        .json()
        .filter(|_| answer.status == 200)
        .ok_or_else(|| {
            fail(format!(
                "reading the operation back answered {}",
                answer.status
            ))
        })?;
    // What follows the invite on the other calls comes with it or just
    // after, from their own notifiers: one POST more on each.
    for (var, count) in before {
        if !callbacks.wait(var, |bodies| bodies.len() > count) {
            return Err(fail(format!(
                "the invite's notifications to the {var} call did not come"
            )));
        }
    }
    let mut captured = Captured {
        response,
        operation,
        ..Captured::default()
    };
    for var in fixtures.keys() {
        let bodies = callbacks.bodies(var);
        for item in items(&bodies) {
            let url = url_of(item);
            if url.contains("/operations/") && change_of(item) == "deleted" {
                captured.terminal.push(item.clone());
            } else if url.ends_with("/participants") && change_of(item) == "updated" {
                captured.roster.push(item.clone());
            }
        }
        captured.envelopes.extend(bodies);
    }
    for id in vars
        .iter()
        .filter(|(k, _)| !k.contains('.'))
        .map(|(_, v)| v)
    {
        let _ = send(base, "DELETE", &format!("/communications/calls/{id}"), None);
    }
    Ok(captured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_or_chunked() {
        let plain = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").expect("plain");
        assert_eq!((plain.status, plain.body.as_slice()), (200, &b"{}"[..]));
        let chunked = parse_answer(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(chunked.json(), Some(json!({"a": 1})));
        assert!(parse_answer(b"garbage").is_err());
    }

    #[test]
    fn placeholders_are_filled_in_every_string() {
        let vars: BTreeMap<String, String> = [
            ("call".to_owned(), "c1".to_owned()),
            ("source.participant".to_owned(), "p1".to_owned()),
        ]
        .into();
        let filled = fill(
            &json!({"path": "/calls/{{call}}", "list": ["{{source.participant}}", 3]}),
            &vars,
        );
        assert_eq!(filled, json!({"path": "/calls/c1", "list": ["p1", 3]}));
    }
}
