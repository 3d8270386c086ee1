//! Hostile stub targets: servers on loopback that each break the exchange
//! with the suite in one precise way, and a minimal Graph that implements
//! just enough of the invite contract to reach the notifications, then
//! misbehaves on them.
//!
//! HTTP is spoken by hand on raw sockets, because the point is to send what
//! no well-behaved HTTP library would: a stalled head, a dripped body, a
//! reset in the middle of one, a callback path nobody was given. Every stub
//! binds `127.0.0.1` port 0, only ever connects back to loopback, bounds each
//! of its loops in count and in time, and stops (tasks, sockets and all) when
//! its [`Stub`] is dropped.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{find, lock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The largest request head a stub reads; the suite's are far smaller.
const MAX_HEAD: usize = 64 << 10;
/// The largest request body a stub reads.
const MAX_BODY: usize = 4 << 20;
/// Connections a stub accepts over its life: the suite opens a few dozen.
const MAX_CONNECTIONS: usize = 10_000;
/// What the huge-body stub sends: far past the suite's 8 MiB limit.
const HUGE_BODY: usize = 100 << 20;
/// Bytes the drip stub sends, one a second: a minute at most.
const DRIP_BYTES: usize = 60;
/// What a stalled answer declares and never sends in full.
const STALLED_BODY: usize = 1024;
/// What the resetting stub declares, and how much of it comes before the reset.
const RESET_DECLARED: usize = 4096;
const RESET_AFTER: usize = 100;
/// A notification POST that takes longer is given up (and logged as such).
const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent connections a notification flood uses.
const FLOOD_CONNECTIONS: usize = 8;
/// Calls the Graph stub keeps; the suite creates one or two per case.
const MAX_CALLS: usize = 1_000;

/// A running stub; dropping it stops every task and closes every socket.
#[derive(Debug)]
pub struct Stub {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    log: Arc<Log>,
    /// Holds the refused stub's port: bound, never listening.
    _reserved: Option<TcpSocket>,
}

impl Stub {
    /// The URL to pass as `--target`.
    pub fn target(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    pub fn log(&self) -> &Log {
        &self.log
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dripping, stalled and flooding tasks are cut off, not awaited.
            runtime.shutdown_background();
        }
    }
}

/// What a stub saw and did.
#[derive(Debug, Default)]
pub struct Log {
    connections: AtomicUsize,
    requests: Mutex<Vec<String>>,
    sent: Mutex<Vec<Sent>>,
}

/// One POST (or other request) a stub made to the suite's listener.
#[derive(Debug, Clone)]
pub struct Sent {
    /// What it was: `"established"`, `"terminal"`, `"guess"`, …
    pub what: &'static str,
    pub method: &'static str,
    pub path: String,
    /// The listener's status code, or why there was none.
    pub outcome: Result<u16, String>,
}

impl Log {
    /// Connections the suite opened to the stub.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// `METHOD path` of every request the stub read, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }

    /// Every request the stub made to the suite's listener, in order.
    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.sent).clone()
    }

    fn request(&self, request: &Request) {
        let mut list = lock(&self.requests);
        if list.len() < MAX_CONNECTIONS {
            list.push(format!("{} {}", request.method, request.path));
        }
    }

    fn sent_one(&self, sent: Sent) {
        lock(&self.sent).push(sent);
    }
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("hostile-stub")
        .enable_all()
        .build()
}

/// A port on which every connection is refused: bound (so nothing else takes
/// it while the stub lives) but never listening.
pub fn refused() -> io::Result<Stub> {
    let runtime = runtime()?;
    let socket = runtime.block_on(async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        Ok::<_, io::Error>(socket)
    })?;
    Ok(Stub {
        addr: socket.local_addr()?,
        runtime: Some(runtime),
        log: Arc::default(),
        _reserved: Some(socket),
    })
}

/// How a transport stub answers every request.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Accepts, reads the request, never answers.
    Silent,
    /// Sends the status line and headers (declaring a body), then nothing.
    StallAfterHeaders,
    /// Sends the head, then the body one byte a second.
    Drip,
    /// A 100 MB body: chunked (`declared: false`) or with its `Content-Length`.
    HugeBody { declared: bool },
    /// The same complete answer to everything (keep-alive).
    Fixed {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Declares a body, sends part of it, then resets the connection.
    ResetMidBody,
    /// `307` to `/v1.0/loop/a`, which answers `307` to `/v1.0/loop/b`, and back.
    RedirectLoop,
    /// `status` to `location` (another stub, say), for every request.
    Redirect { status: u16, location: String },
}

/// Starts a stub that answers every request as `how` says.
pub fn transport(how: Transport) -> io::Result<Stub> {
    let how = Arc::new(how);
    serve(move |stream, log| misbehave(stream, how.clone(), log))
}

/// Binds loopback and serves each connection with `handle` on a runtime of
/// the stub's own.
fn serve<H, F>(handle: H) -> io::Result<Stub>
where
    H: Fn(TcpStream, Arc<Log>) -> F + Send + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = runtime()?;
    let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
    let addr = listener.local_addr()?;
    let log = Arc::new(Log::default());
    let accepting = log.clone();
    runtime.spawn(async move {
        // Failed accepts count against the bound too, so a persistent error
        // (a full file table) ends the loop instead of spinning on it.
        let mut failed = 0;
        while accepting.connections() + failed < MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                failed += 1;
                continue;
            };
            accepting.connections.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            tokio::spawn(handle(stream, accepting.clone()));
        }
    });
    Ok(Stub {
        runtime: Some(runtime),
        addr,
        log,
        _reserved: None,
    })
}

async fn misbehave(mut stream: TcpStream, how: Arc<Transport>, log: Arc<Log>) {
    let mut buffer = Vec::new();
    // Keep-alive: the complete answers serve as many requests as come.
    while let Ok(Some(request)) = read_request(&mut stream, &mut buffer).await {
        log.request(&request);
        match &*how {
            Transport::Silent => return hold(stream).await,
            Transport::StallAfterHeaders => {
                let head = head(200, "application/json", Some(STALLED_BODY), &[]);
                if write(&mut stream, &[head.as_bytes(), b"{"].concat()).await {
                    hold(stream).await;
                }
                return;
            }
            Transport::Drip => return drip(stream).await,
            Transport::HugeBody { declared } => return huge(stream, *declared).await,
            Transport::Fixed {
                status,
                content_type,
                body,
            } => {
                let head = head(*status, content_type, Some(body.len()), &[]);
                if !write(&mut stream, &[head.as_bytes(), body].concat()).await {
                    return;
                }
            }
            Transport::ResetMidBody => return reset(stream).await,
            Transport::RedirectLoop => {
                let next = if request.path.ends_with("/loop/a") {
                    "/v1.0/loop/b"
                } else {
                    "/v1.0/loop/a"
                };
                let head = head(307, "text/plain", Some(0), &[("Location", next)]);
                if !write(&mut stream, head.as_bytes()).await {
                    return;
                }
            }
            Transport::Redirect { status, location } => {
                let head = head(*status, "text/plain", Some(0), &[("Location", location)]);
                if !write(&mut stream, head.as_bytes()).await {
                    return;
                }
            }
        }
    }
}

/// Keeps a connection open without answering, until the client gives up.
async fn hold(mut stream: TcpStream) {
    let mut sink = [0u8; 4096];
    let mut read = 0;
    while read < MAX_BODY {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
    }
    // A client still sending after this much is held without being read;
    // the stub's end closes it.
    std::future::pending::<()>().await;
}

async fn drip(mut stream: TcpStream) {
    let head = head(200, "application/json", Some(DRIP_BYTES), &[]);
    if !write(&mut stream, head.as_bytes()).await {
        return;
    }
    for _ in 0..DRIP_BYTES {
        // Each byte resets an idle-read timeout; only a deadline on the
        // whole exchange ends this.
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !write(&mut stream, b" ").await {
            return;
        }
    }
}

async fn huge(mut stream: TcpStream, declared: bool) {
    const CHUNK: usize = 64 << 10;
    let length = declared.then_some(HUGE_BODY);
    let mut head = head(200, "application/json", length, &[]);
    if !declared {
        head = head.replace("\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n");
    }
    if !write(&mut stream, head.as_bytes()).await {
        return;
    }
    let mut chunk = vec![b' '; CHUNK];
    chunk[0] = b'[';
    let framed = [format!("{CHUNK:x}\r\n").as_bytes(), &chunk, b"\r\n"].concat();
    for _ in 0..HUGE_BODY / CHUNK {
        let piece = if declared { &chunk } else { &framed };
        // The suite stops reading at its limit and closes: the write fails.
        if !write(&mut stream, piece).await {
            return;
        }
    }
    if !declared {
        let _ = write(&mut stream, b"0\r\n\r\n").await;
    }
}

async fn reset(mut stream: TcpStream) {
    let head = head(200, "application/json", Some(RESET_DECLARED), &[]);
    let mut partial = b"{\"value\": \"".to_vec();
    partial.resize(RESET_AFTER, b'x');
    if !write(&mut stream, &[head.as_bytes(), &partial].concat()).await {
        return;
    }
    // With a zero linger, closing sends RST instead of FIN: a reset, not an
    // orderly end of the stream.
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Writes everything; false when the peer is gone.
async fn write(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Whatever",
    }
}

fn head(status: u16, content_type: &str, length: Option<usize>, extra: &[(&str, &str)]) -> String {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n",
        reason(status)
    );
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// One HTTP/1.1 request as the suite sends it.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the next request on a connection; `None` when the client closed it.
/// `buffer` carries bytes read past one request into the next.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        if !fill(stream, buffer).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(io::Error::other("request body too large"));
    }
    let start = end + 4;
    while buffer.len() < start + length {
        if !fill(stream, buffer).await? {
            return Ok(None);
        }
    }
    let body = buffer[start..start + length].to_vec();
    buffer.drain(..start + length);
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// Reads more bytes into `buffer`; false at the end of the stream.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

// ---- the Graph stub ---------------------------------------------------------

/// What the Graph stub does with the notifications it owes the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifications {
    /// `established`, then after an invite its terminal `deleted` and the
    /// roster update: what a conforming target sends.
    Correct,
    /// None at all, not even `established`.
    NeverEstablished,
    /// `established`, then nothing after an invite.
    NeverAfterInvite,
    /// Every notification after an invite, twice in a row.
    Twice,
    /// After an invite, notifications naming another call.
    OtherCall,
    /// The terminal notification `count` times, each padded with `padding`
    /// bytes, over several connections at once; then the roster update.
    Flood { count: usize, padding: usize },
    /// After an invite, bodies that are not JSON (typed `application/json`).
    NotJson,
    /// After an invite, JSON that is not a `commsNotifications`.
    WrongShape,
    /// Correct, but once a call is created `stalled` connections to the
    /// suite's listener that send half a request head and hold on; after an
    /// invite, first `guesses` POSTs to random
    /// `/callbacks/<32 hex>` paths, then a few other paths near the real one;
    /// each answer is logged.
    GuessedPaths { guesses: usize, stalled: usize },
    /// Correct, but once a call is created `count` connections to the
    /// suite's listener from the loopback address `from` (127.0.0.2 is
    /// another peer than the stub's own 127.0.0.1) that send a request head
    /// one byte every 200 ms, never ending it, and hold on.
    SlowHeads { count: usize, from: [u8; 4] },
}

/// How the Graph stub answers an invite it accepts.
#[derive(Debug, Clone)]
pub enum InviteAnswer {
    Correct,
    /// The right operation, under another `Content-Type`.
    ContentType(&'static str),
    /// `200` with these bytes as the body (typed `application/json`).
    Body(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct GraphConfig {
    pub notifications: Notifications,
    pub invite: InviteAnswer,
    /// Close each connection right after its first answer, without saying
    /// so (no `Connection: close`): the client's pooled connection is dead
    /// when it next uses it, as when a server's keep-alive runs out.
    pub close_after_answer: bool,
    /// Answer every `DELETE` of a call `403`: the target will not end calls.
    pub refuse_delete: bool,
    /// Make every JSON answer this many bytes: the invite's operation by
    /// its `id` (so an id of megabytes, while its `Location`, its `GET` and
    /// its notifications name a short one) and with its status already
    /// `completed` (so no trial waits for a notification that cannot
    /// match); every other answer by a `padding` member.
    pub answer_size: Option<usize>,
    /// Answer an invite `307` to the same path under `/v1.0/moved`, where
    /// it is served: a redirect on the target's own origin.
    pub redirect_invites: bool,
}

impl GraphConfig {
    pub fn notifications(notifications: Notifications) -> Self {
        Self {
            notifications,
            invite: InviteAnswer::Correct,
            close_after_answer: false,
            refuse_delete: false,
            answer_size: None,
            redirect_invites: false,
        }
    }
}

#[derive(Debug)]
struct Call {
    json: Value,
    callback: String,
    operations: HashMap<String, Value>,
}

#[derive(Debug)]
struct Graph {
    config: GraphConfig,
    calls: Mutex<HashMap<String, Call>>,
}

/// Starts a Graph stub: `POST /v1.0/communications/calls` answers `201` and
/// notifies `established` on the call's `callbackUri`; an invite answers
/// `200` with the operation and its `Location`; `GET` on that answers it;
/// then the notifications go as `config` says.
pub fn graph(config: GraphConfig) -> io::Result<Stub> {
    let graph = Arc::new(Graph {
        config,
        calls: Mutex::default(),
    });
    serve(move |stream, log| converse(stream, graph.clone(), log))
}

async fn converse(mut stream: TcpStream, graph: Arc<Graph>, log: Arc<Log>) {
    let mut buffer = Vec::new();
    while let Ok(Some(request)) = read_request(&mut stream, &mut buffer).await {
        log.request(&request);
        let answer = graph.answer(&request, &log);
        let answer = match graph.config.answer_size {
            Some(size) => padded(answer, size),
            None => answer,
        };
        let answer = with_request_ids(answer, &request);
        if !write(&mut stream, &answer).await || graph.config.close_after_answer {
            return;
        }
    }
}

/// The answer with the headers Graph puts on every answer: a `request-id`,
/// and the `client-request-id` the request sent.
fn with_request_ids(answer: Vec<u8>, request: &Request) -> Vec<u8> {
    let Some(line_end) = answer.windows(2).position(|w| w == b"\r\n") else {
        return answer;
    };
    let mut ids = format!("\r\nrequest-id: {}", new_id());
    if let Some(sent) = request.header("client-request-id") {
        ids.push_str(&format!("\r\nclient-request-id: {sent}"));
    }
    [&answer[..line_end], ids.as_bytes(), &answer[line_end..]].concat()
}

/// A JSON answer made `size` bytes long by a `padding` member (one already
/// that long, or not a JSON object, is left as it is).
fn padded(answer: Vec<u8>, size: usize) -> Vec<u8> {
    let Some(at) = find(&answer, b"\r\n\r\n") else {
        return answer;
    };
    let (head_part, body) = (&answer[..at], &answer[at + 4..]);
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return answer;
    };
    let Some(room) = size.checked_sub(body.len() + r#","padding":"""#.len()) else {
        return answer;
    };
    object.insert("padding".to_owned(), "x".repeat(room).into());
    let body = Value::Object(object).to_string();
    let head_text = String::from_utf8_lossy(head_part);
    let head: String = head_text
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    [head.as_bytes(), b"\r\n\r\n", body.as_bytes()].concat()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn json_response(status: u16, body: &Value, extra: &[(&str, &str)]) -> Vec<u8> {
    let body = body.to_string();
    let head = head(status, "application/json", Some(body.len()), extra);
    [head.as_bytes(), body.as_bytes()].concat()
}

fn graph_error(status: u16, code: &str, message: &str, request: &Request) -> Vec<u8> {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "request-id": new_id(),
            "date": "2024-01-01T00:00:00",
            "client-request-id": request.header("client-request-id").unwrap_or(""),
        }
    }});
    json_response(status, &body, &[])
}

impl Graph {
    fn answer(&self, request: &Request, log: &Arc<Log>) -> Vec<u8> {
        let path = request.path.strip_prefix("/v1.0").unwrap_or(&request.path);
        let moved = path.strip_prefix("/moved");
        if self.config.redirect_invites
            && moved.is_none()
            && request.method == "POST"
            && path.ends_with("/participants/invite")
        {
            let to = format!("/v1.0/moved{path}");
            return head(307, "text/plain", Some(0), &[("Location", &to)]).into_bytes();
        }
        let path = moved.unwrap_or(path);
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["communications", "calls"]) => self.create(body, request, log),
            ("POST", ["communications", "calls", call, "participants", "invite"]) => {
                self.invite(call, body, request, log)
            }
            ("GET", ["communications", "calls", call, "operations", op]) => {
                let calls = lock(&self.calls);
                match calls.get(*call).and_then(|c| c.operations.get(*op)) {
                    Some(operation) => json_response(200, operation, &[]),
                    None => graph_error(404, "itemNotFound", "no such operation", request),
                }
            }
            ("GET", ["communications", "calls", call]) => match lock(&self.calls).get(*call) {
                Some(c) => json_response(200, &c.json, &[]),
                None => graph_error(404, "itemNotFound", "no such call", request),
            },
            ("DELETE", ["communications", "calls", _]) if self.config.refuse_delete => {
                graph_error(403, "forbidden", "this stub ends no call", request)
            }
            ("DELETE", ["communications", "calls", call]) => {
                if lock(&self.calls).remove(*call).is_some() {
                    head(204, "application/json", Some(0), &[]).into_bytes()
                } else {
                    graph_error(404, "itemNotFound", "no such call", request)
                }
            }
            _ => graph_error(404, "itemNotFound", "not served by this stub", request),
        }
    }

    fn create(&self, body: Option<Value>, request: &Request, log: &Arc<Log>) -> Vec<u8> {
        let Some(callback) = body
            .as_ref()
            .and_then(|b| b.get("callbackUri"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return graph_error(400, "badRequest", "callbackUri is required", request);
        };
        let id = new_id();
        let mut call = json!({
            "@odata.type": "#microsoft.graph.call",
            "id": id,
            "callbackUri": callback,
            "direction": "outgoing",
            "state": "establishing",
            "requestedModalities": ["audio"],
            "myParticipantId": new_id(),
            "callChainId": new_id(),
        });
        let mut calls = lock(&self.calls);
        if calls.len() >= MAX_CALLS {
            return graph_error(400, "badRequest", "too many calls", request);
        }
        let created = json_response(201, &call, &[]);
        call["state"] = "established".into();
        let established = vec![(
            "established",
            notification("updated", &id, "", call.clone()).to_string(),
        )];
        match self.config.notifications {
            Notifications::NeverEstablished => {}
            // The suite invites once the call is established: the hogs are
            // all in place by then.
            Notifications::GuessedPaths { stalled, .. } => {
                hog(log, &callback, Hogs::half_heads(stalled), established);
            }
            Notifications::SlowHeads { count, from } => {
                let hogs = Hogs {
                    count,
                    from,
                    drip: true,
                };
                hog(log, &callback, hogs, established);
            }
            _ => deliver(log, &callback, established),
        }
        calls.insert(
            id,
            Call {
                json: call,
                callback,
                operations: HashMap::new(),
            },
        );
        created
    }

    fn invite(
        &self,
        call_id: &str,
        body: Option<Value>,
        request: &Request,
        log: &Arc<Log>,
    ) -> Vec<u8> {
        let mut calls = lock(&self.calls);
        let Some(call) = calls.get_mut(call_id) else {
            return graph_error(404, "itemNotFound", "no such call", request);
        };
        let Some(participants) = body
            .as_ref()
            .and_then(|b| b.get("participants"))
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .cloned()
        else {
            return graph_error(400, "badRequest", "participants are required", request);
        };
        let context = body
            .as_ref()
            .and_then(|b| b.get("clientContext"))
            .cloned()
            .unwrap_or(Value::Null);
        let op = new_id();
        let operation = json!({
            "@odata.type": "#microsoft.graph.inviteParticipantsOperation",
            "id": op,
            "status": "running",
            "clientContext": context,
            "resultInfo": null,
            "participants": participants,
        });
        let mut done = operation.clone();
        done["status"] = "completed".into();
        call.operations.insert(op.clone(), done.clone());
        let location = format!("/communications/calls/{call_id}/operations/{op}");
        let answer = match (&self.config.invite, self.config.answer_size) {
            (InviteAnswer::Correct, Some(size)) => {
                // The operation's id grown to fill the answer; ended already.
                let mut huge = done.clone();
                let room = size.saturating_sub(huge.to_string().len());
                huge["id"] = format!("{op}{}", "7".repeat(room)).into();
                json_response(200, &huge, &[("Location", &location)])
            }
            (InviteAnswer::Correct, None) => {
                json_response(200, &operation, &[("Location", &location)])
            }
            (InviteAnswer::ContentType(content_type), _) => {
                let body = operation.to_string();
                let head = head(
                    200,
                    content_type,
                    Some(body.len()),
                    &[("Location", &location)],
                );
                [head.as_bytes(), body.as_bytes()].concat()
            }
            (InviteAnswer::Body(bytes), _) => {
                let head = head(
                    200,
                    "application/json",
                    Some(bytes.len()),
                    &[("Location", &location)],
                );
                [head.as_bytes(), bytes].concat()
            }
        };
        let roster: Vec<Value> = participants
            .iter()
            .map(|p| participant(p.get("identity").cloned().unwrap_or(json!({}))))
            .collect();
        self.after_invite(log, call_id, &call.callback, &op, done, roster);
        answer
    }

    fn after_invite(
        &self,
        log: &Arc<Log>,
        call_id: &str,
        callback: &str,
        op: &str,
        done: Value,
        roster: Vec<Value>,
    ) {
        let op_tail = format!("/operations/{op}");
        let terminal = |call: &str| notification("deleted", call, &op_tail, done.clone());
        let roster = |call: &str| notification("updated", call, "/participants", json!(roster));
        let correct = vec![
            ("terminal", terminal(call_id).to_string()),
            ("roster", roster(call_id).to_string()),
        ];
        let bodies = match self.config.notifications {
            Notifications::Correct => correct,
            Notifications::NeverEstablished | Notifications::NeverAfterInvite => Vec::new(),
            // Each one twice in a row, as a sender retrying would: the
            // duplicate lands before the roster update a trial waits for.
            Notifications::Twice => correct
                .iter()
                .flat_map(|n| [n.clone(), n.clone()])
                .collect(),
            Notifications::OtherCall => {
                let other = new_id();
                vec![
                    ("terminal", terminal(&other).to_string()),
                    ("roster", roster(&other).to_string()),
                ]
            }
            Notifications::Flood { count, padding } => {
                let mut padded = terminal(call_id);
                padded["value"][0]["resourceData"]["padding"] = "x".repeat(padding).into();
                let last = ("roster", roster(call_id).to_string());
                flood(log, callback, padded.to_string(), count, last);
                return;
            }
            Notifications::NotJson => correct
                .into_iter()
                .map(|(what, body)| (what, format!("commsNotifications <{body}>")))
                .collect(),
            Notifications::WrongShape => vec![
                ("terminal", json!({"value": terminal(call_id)}).to_string()),
                ("roster", json!([roster(call_id)]).to_string()),
                (
                    "garbage",
                    json!({"value": [{"changeType": 7, "resourceUrl": null}]}).to_string(),
                ),
            ],
            Notifications::GuessedPaths { guesses, .. } => {
                guess(log, callback, guesses, correct);
                return;
            }
            Notifications::SlowHeads { .. } => correct,
        };
        deliver(log, callback, bodies);
    }
}

/// A `commsNotifications` body with one notification about
/// `/communications/calls/{call}{tail}`, shaped as Graph sends it.
fn notification(change: &str, call: &str, tail: &str, data: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": change,
            "resource": format!("/app/calls/{call}{tail}"),
            "resourceUrl": format!("/communications/calls/{call}{tail}"),
            "resourceData": data,
        }],
    })
}

fn participant(identity: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.participant",
        "id": new_id(),
        "info": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": identity,
            "endpointType": "default",
        },
        "mediaStreams": [{
            "@odata.type": "#microsoft.graph.mediaStream",
            "mediaType": "audio",
            "sourceId": "1",
            "direction": "sendReceive",
            "serverMuted": false,
        }],
        "isMuted": false,
        "isInLobby": false,
    })
}

/// Where a callback URL points, if it stays on loopback: the stubs never
/// send anything anywhere else.
fn loopback(callback: &str) -> Option<(SocketAddr, String)> {
    let rest = callback.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = authority.replace("localhost", "127.0.0.1").parse().ok()?;
    addr.ip()
        .is_loopback()
        .then(|| (addr, format!("/{}", path.trim_start_matches('/'))))
}

/// POSTs `bodies` to `callback` one after the other, in the background.
fn deliver(log: &Arc<Log>, callback: &str, bodies: Vec<(&'static str, String)>) {
    let log = log.clone();
    let callback = callback.to_owned();
    tokio::spawn(async move {
        let Some((addr, path)) = loopback(&callback) else {
            log.sent_one(off_loopback(&callback));
            return;
        };
        for (what, body) in bodies {
            let outcome = once(addr, "POST", &path, body.as_bytes()).await;
            log.sent_one(Sent {
                what,
                method: "POST",
                path: path.clone(),
                outcome,
            });
        }
    });
}

fn off_loopback(callback: &str) -> Sent {
    Sent {
        what: "refused",
        method: "POST",
        path: callback.to_owned(),
        outcome: Err("the callback is not on loopback; the stub sends nothing there".into()),
    }
}

/// `body` `count` times over [`FLOOD_CONNECTIONS`] keep-alive connections at
/// once, then `last`: a trial awaiting `last` has to take the whole flood.
fn flood(log: &Arc<Log>, callback: &str, body: String, count: usize, last: (&'static str, String)) {
    let Some((addr, path)) = loopback(callback) else {
        log.sent_one(off_loopback(callback));
        return;
    };
    let log = log.clone();
    let body = Arc::new(body.into_bytes());
    tokio::spawn(async move {
        let lanes: Vec<_> = (0..FLOOD_CONNECTIONS)
            .map(|lane| {
                let share =
                    count / FLOOD_CONNECTIONS + usize::from(lane < count % FLOOD_CONNECTIONS);
                let (log, path, body) = (log.clone(), path.clone(), body.clone());
                tokio::spawn(async move {
                    let mut connection: Option<Connection> = None;
                    for _ in 0..share {
                        let conn = match connection.take() {
                            Some(c) => c,
                            None => match Connection::open(addr).await {
                                Ok(c) => c,
                                Err(e) => {
                                    log.sent_one(flooded(&path, Err(e.to_string())));
                                    continue;
                                }
                            },
                        };
                        let (outcome, kept) = conn.post(&path, &body).await;
                        connection = kept;
                        log.sent_one(flooded(&path, outcome));
                    }
                })
            })
            .collect();
        for lane in lanes {
            let _ = lane.await;
        }
        let (what, last) = last;
        let outcome = once(addr, "POST", &path, last.as_bytes()).await;
        log.sent_one(Sent {
            what,
            method: "POST",
            path,
            outcome,
        });
    });
}

fn flooded(path: &str, outcome: Result<u16, String>) -> Sent {
    Sent {
        what: "flood",
        method: "POST",
        path: path.to_owned(),
        outcome,
    }
}

/// Hogs and guesses at the listener's paths, then delivers `then`.
fn guess(log: &Arc<Log>, callback: &str, guesses: usize, then: Vec<(&'static str, String)>) {
    let Some((addr, path)) = loopback(callback) else {
        log.sent_one(off_loopback(callback));
        return;
    };
    let token = path.rsplit('/').next().unwrap_or("").to_owned();
    let log = log.clone();
    let callback = callback.to_owned();
    tokio::spawn(async move {
        // A body that would fail notification.schema if it ever reached a mailbox.
        let junk = b"{\"value\": \"a guessed path must not be delivered\"}".to_vec();
        let mut tries: Vec<(&'static str, String, Vec<u8>)> = (0..guesses)
            .map(|_| {
                let random = uuid::Uuid::new_v4().simple().to_string();
                ("POST", format!("/callbacks/{random}"), junk.clone())
            })
            .collect();
        let random = uuid::Uuid::new_v4().simple().to_string();
        for path in [
            format!("/callbacks/{}", token.to_ascii_uppercase()),
            format!("/callbacks/{token}/again"),
            format!("/callbacks/{token}0"),
            format!("/callbacks/../callbacks/{random}"),
            format!("/callbacks/{random}?token={token}"),
            "/callbacks/".to_owned(),
            "/callbacks".to_owned(),
            "/".to_owned(),
            format!("/v1.0/communications/calls/{token}"),
        ] {
            tries.push(("POST", path, junk.clone()));
        }
        // A large body to a guessed path: refused before it is read.
        tries.push(("POST", format!("/callbacks/{random}"), vec![b' '; 2 << 20]));
        // The real path, with a method notifications never use.
        tries.push(("GET", path.clone(), Vec::new()));
        tries.push(("PUT", path.clone(), junk.clone()));
        for (method, path, body) in tries {
            let outcome = once(addr, method, &path, &body).await;
            log.sent_one(Sent {
                what: "guess",
                method,
                path,
                outcome,
            });
        }
        deliver(&log, &callback, then);
    });
}

/// Connections that hog the suite's listener.
#[derive(Debug, Clone, Copy)]
struct Hogs {
    count: usize,
    /// The loopback address they come from.
    from: [u8; 4],
    /// Each sends its head a byte every [`DRIP_EVERY`], never ending it;
    /// otherwise half a head at once, then nothing.
    drip: bool,
}

impl Hogs {
    fn half_heads(count: usize) -> Self {
        Self {
            count,
            from: [127, 0, 0, 1],
            drip: false,
        }
    }
}

/// How often a dripping hog sends its next byte, and for how many rounds.
const DRIP_EVERY: Duration = Duration::from_millis(200);
const DRIP_ROUNDS: usize = 600;

/// Opens the hogs' connections to the listener, delivers `then`, and holds
/// the connections (dripping, if they do) until the stub ends.
fn hog(log: &Arc<Log>, callback: &str, hogs: Hogs, then: Vec<(&'static str, String)>) {
    let Some((addr, _)) = loopback(callback) else {
        log.sent_one(off_loopback(callback));
        return;
    };
    let log = log.clone();
    let callback = callback.to_owned();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..hogs.count {
            let Ok(mut conn) = Connection::open_from(addr, hogs.from).await else {
                break;
            };
            let random = uuid::Uuid::new_v4().simple().to_string();
            let half =
                format!("POST /callbacks/{random} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
            let first = if hogs.drip { &half[..1] } else { &half };
            if conn.stream.write_all(first.as_bytes()).await.is_ok() {
                held.push(conn);
            }
        }
        let how = if hogs.drip {
            "dripping heads"
        } else {
            "half a head"
        };
        log.sent_one(Sent {
            what: "stalled",
            method: "POST",
            path: format!("{} connections with {how}", held.len()),
            outcome: Ok(0),
        });
        deliver(&log, &callback, then);
        if hogs.drip {
            // A head that never ends: a header line longer than any round.
            for _ in 0..DRIP_ROUNDS {
                tokio::time::sleep(DRIP_EVERY).await;
                let mut still = Vec::with_capacity(held.len());
                for mut conn in held {
                    if conn.stream.write_all(b"x").await.is_ok() {
                        still.push(conn);
                    }
                }
                held = still;
            }
        }
        std::future::pending::<()>().await;
        drop(held);
    });
}

/// One request on a fresh connection, closed after.
async fn once(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Result<u16, String> {
    let conn = Connection::open(addr).await.map_err(|e| e.to_string())?;
    conn.send(method, path, body, false).await.0
}

/// A client connection to the suite's listener.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> io::Result<Connection> {
        Self::connected(TcpStream::connect(addr)).await
    }

    /// A connection from the loopback address `from`: the listener sees
    /// another peer for each.
    async fn open_from(addr: SocketAddr, from: [u8; 4]) -> io::Result<Connection> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((from, 0)))?;
        Self::connected(socket.connect(addr)).await
    }

    /// The connection `connect` makes, within [`POST_TIMEOUT`].
    async fn connected(
        connect: impl std::future::Future<Output = io::Result<TcpStream>>,
    ) -> io::Result<Connection> {
        let stream = tokio::time::timeout(POST_TIMEOUT, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            buffer: Vec::new(),
        })
    }

    /// A keep-alive POST: the status, and the connection if it can be reused.
    async fn post(self, path: &str, body: &[u8]) -> (Result<u16, String>, Option<Connection>) {
        self.send("POST", path, body, true).await
    }

    async fn send(
        mut self,
        method: &str,
        path: &str,
        body: &[u8],
        keep: bool,
    ) -> (Result<u16, String>, Option<Connection>) {
        let exchange = async {
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
                body.len(),
                if keep { "keep-alive" } else { "close" },
            );
            // A listener that refuses without reading may close before the
            // body is written; its answer may still be there to read.
            let wrote = self.stream.write_all(head.as_bytes()).await.is_ok()
                && self.stream.write_all(body).await.is_ok();
            let answer = self.read_answer().await;
            match (answer, wrote) {
                (Ok(answer), _) => Ok(answer),
                (Err(e), true) => Err(e.to_string()),
                (Err(e), false) => Err(format!("closed while the request was written: {e}")),
            }
        };
        match tokio::time::timeout(POST_TIMEOUT, exchange).await {
            Err(_) => (
                Err(format!("no answer within {} s", POST_TIMEOUT.as_secs())),
                None,
            ),
            Ok(Err(e)) => (Err(e), None),
            Ok(Ok((status, reusable))) => (Ok(status), (keep && reusable).then_some(self)),
        }
    }

    /// The status of the answer, and whether the connection can carry another
    /// request (the answer's end was known and reached).
    async fn read_answer(&mut self) -> io::Result<(u16, bool)> {
        let end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            if self.buffer.len() > MAX_HEAD || !fill(&mut self.stream, &mut self.buffer).await? {
                return Err(io::Error::other("the listener closed without an answer"));
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {head:?}")))?;
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok());
        let closes = head.to_ascii_lowercase().contains("connection: close");
        let start = end + 4;
        let Some(length) = length.filter(|l| *l <= MAX_BODY) else {
            return Ok((status, false));
        };
        while self.buffer.len() < start + length {
            if !fill(&mut self.stream, &mut self.buffer).await? {
                return Ok((status, false));
            }
        }
        self.buffer.drain(..start + length);
        Ok((status, !closes))
    }
}
