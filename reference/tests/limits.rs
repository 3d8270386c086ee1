//! The limits that keep one client from taking the server: the size of a
//! request's head, live calls per client, connections at once, and the time
//! a client may take to send a request or to read its answer. Each is tested
//! over real HTTP with a small limit.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use invite_reference::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A short timeout, so the tests that wait for one stay quick.
const SHORT: Duration = Duration::from_millis(300);

/// A GET of an unknown call whose head is exactly `size` bytes on the wire,
/// padded with an `X-Pad` header.
fn head_of_size(size: usize) -> Vec<u8> {
    let start = "GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let pad = size
        .checked_sub(start.len() + end.len())
        .expect("room for the padding");
    format!("{start}{}{end}", "p".repeat(pad)).into_bytes()
}

/// Reads what the server sends until it closes the connection: the event
/// these tests wait on. A connection still open after `patience` (a hang,
/// never a slow machine: each use gives many times what it needs) fails the
/// test, saying what was awaited and what had arrived.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration, what: &str) -> String {
    let mut answer = Vec::new();
    let outcome = tokio::time::timeout(patience, stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    match outcome {
        Ok(Ok(_)) => text,
        // A reset also ends the connection; what came before it counts.
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => text,
        Ok(Err(error)) => panic!("{what}: reading failed ({error}) after {text:?}"),
        Err(_) => panic!("{what}: the connection is still open after {patience:?}; got {text:?}"),
    }
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn raw_graph_error(answer: &str, status: u16, code: &str) {
    assert_eq!(status_of(answer), status, "{answer}");
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body: Value = serde_json::from_str(raw_body(answer)).expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{answer}");
    assert!(body["error"]["message"].is_string(), "{answer}");
    assert!(
        body["error"]["innerError"]["request-id"].is_string(),
        "{answer}"
    );
}

#[tokio::test]
async fn heads_over_the_limit_answer_431_with_graph_body() {
    let limit = 1024;
    let h = Harness::new(Config {
        max_header_bytes: limit,
        ..Config::default()
    })
    .await;
    let addr = h.server.addr();

    // The limit counts the request line, every field and the blank line.
    let (status, answer) = raw_exchange(addr, &head_of_size(limit));
    assert_eq!(status, 404, "a head of exactly the limit passes: {answer}");
    let (_, answer) = raw_exchange(addr, &head_of_size(limit + 1));
    raw_graph_error(&answer, 431, "RequestHeaderFieldsTooLarge");

    // Through an ordinary client: a large header, and a long URL.
    let pad = "p".repeat(1500);
    let reply = h
        .request("GET", "/communications/calls/x", None, &[("x-pad", &pad)])
        .await;
    reply.assert_graph_error(431, "RequestHeaderFieldsTooLarge");
    let reply = h.get(&format!("/communications/calls/{pad}")).await;
    reply.assert_graph_error(431, "RequestHeaderFieldsTooLarge");

    // The size comes before anything else: no token, still 431.
    let request = format!(
        "GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: {pad}\r\n\r\n"
    );
    let (_, answer) = raw_exchange(addr, request.as_bytes());
    raw_graph_error(&answer, 431, "RequestHeaderFieldsTooLarge");

    // Past twice the limit the HTTP layer refuses the head before buffering
    // more of it: a 431 without a body, and the connection closes.
    let (status, answer) = raw_exchange(addr, &head_of_size(2 * limit + 512));
    assert_eq!(status, 431, "{answer}");
    assert_eq!(raw_body(&answer), "", "{answer}");

    // The server is none the worse for it.
    assert_eq!(h.get("/communications/calls/x").await.status, 404);
}

#[tokio::test]
async fn a_client_past_its_live_calls_gets_429_with_retry_after() {
    let h = Harness::new(Config {
        max_calls_per_client: 2,
        ..Config::default()
    })
    .await;
    let (first, _inbox1) = h.create_call(GROUP).await;
    let (_second, _inbox2) = h.create_call(P2P).await;
    let (callback, _inbox3) = h.hooks.inbox();
    let body = call_body(GROUP, &callback);
    let refused = h.post("/communications/calls", &body).await;
    refused.assert_graph_error(429, "TooManyRequests");
    assert_eq!(refused.header("retry-after"), Some("1"), "{refused:?}");

    // Another client (another address) has its own allowance; the whole
    // 127.0.0.0/8 block reaches the loopback interface.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("client");
    let created = other
        .post(h.url("/communications/calls"))
        .header("authorization", "Bearer t")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request from 127.0.0.2");
    assert_eq!(created.status(), 201);

    // Ending a call gives its place back.
    let deleted = h.delete(&format!("/communications/calls/{first}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(h.post("/communications/calls", &body).await.status, 201);
    h.post("/communications/calls", &body)
        .await
        .assert_graph_error(429, "TooManyRequests");
}

/// A complete keep-alive request (a 404): its answer proves the server
/// accepted the connection and serves it.
const KEEP_ALIVE_GET: &[u8] =
    b"GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n";
/// A complete request after which the server closes the connection.
const CLOSING_GET: &[u8] = b"GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n";

/// Two clients that open a connection and send half a head take both
/// places; a third connection waits (it is not accepted, so not refused)
/// until the header timeout drops the slow ones, then is served.
#[tokio::test]
async fn connections_past_the_limit_wait_and_slow_heads_are_dropped() {
    let h = Harness::new(Config {
        max_connections: 2,
        header_timeout: SHORT,
        ..Config::default()
    })
    .await;
    let addr = h.server.addr();
    // Before any slow connection exists: every header clock of theirs
    // starts later than this.
    let started = Instant::now();
    let mut slow = Vec::new();
    for n in 0..2 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // An answer on the connection proves the server accepted it and holds
        // a place for it (rather than leaving it in the listen backlog);
        // after it the connection is idle, and the header clock runs again.
        stream.write_all(KEEP_ALIVE_GET).await.expect("a request");
        let answer = read_http_message(&mut stream, &format!("slow client {n}")).await;
        assert_eq!(status_of(&answer), 404, "{answer}");
        stream
            .write_all(b"GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("half a head");
        slow.push(stream);
    }

    // Both places are taken (both answers came): the third waits.
    let mut third = TcpStream::connect(addr).await.expect("connect");
    third.write_all(CLOSING_GET).await.expect("a whole request");
    let answer = read_until_closed(&mut third, PATIENCE, "the third connection").await;
    let waited = started.elapsed();
    raw_graph_error(&answer, 404, "itemNotFound");
    // A place frees only when a slow connection's header clock runs out,
    // and those clocks started after `started`: an answer sooner would mean
    // the third was served past the limit. (No upper bound: a loaded
    // machine only makes this later; a hang fails the read above.)
    assert!(
        waited >= SHORT,
        "the third connection waited for a place ({waited:?})"
    );

    // The slow clients were dropped without an answer to their half head.
    for (n, mut stream) in slow.into_iter().enumerate() {
        let answer = read_until_closed(&mut stream, PATIENCE, &format!("slow client {n}")).await;
        assert_eq!(answer, "", "closed without an answer");
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let h = Harness::new(Config {
        header_timeout: SHORT,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(h.server.addr()).await.expect("connect");
    // Before the request: the idle clock starts once it is answered.
    let started = Instant::now();
    stream.write_all(KEEP_ALIVE_GET).await.expect("request");
    let answer = read_http_message(&mut stream, "the request").await;
    assert_eq!(status_of(&answer), 404, "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "the connection is kept alive: {answer}"
    );
    // The event: the server closes the idle connection by itself, sending
    // nothing more; not before the header timeout has run.
    let rest = read_until_closed(&mut stream, PATIENCE, "the idle connection").await;
    let closed_after = started.elapsed();
    assert_eq!(rest, "", "nothing after the answer");
    assert!(
        closed_after >= SHORT,
        "the kept-alive connection closes after the timeout ({closed_after:?})"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let h = Harness::new(Config {
        body_timeout: SHORT,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(h.server.addr()).await.expect("connect");
    // Before the head: the body clock starts once the head is read.
    let started = Instant::now();
    stream
        .write_all(b"POST /v1.0/communications/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"callbackUri\":")
        .await
        .expect("head and part of the body");
    // The event: a 408 and the connection closed, while the client still
    // owes most of the body; and not before the body timeout ran out.
    let answer = read_until_closed(&mut stream, PATIENCE, "the slow body").await;
    let waited = started.elapsed();
    raw_graph_error(&answer, 408, "RequestTimeout");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        waited >= SHORT,
        "answered only past the deadline ({waited:?})"
    );

    // A refused request's body is drained within the same deadline: no
    // token, a body that never comes, still an answer.
    let mut stream = TcpStream::connect(h.server.addr()).await.expect("connect");
    stream
        .write_all(b"POST /v1.0/communications/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .expect("head");
    let answer = read_until_closed(&mut stream, PATIENCE, "the refused slow body").await;
    raw_graph_error(&answer, 401, "InvalidAuthenticationToken");
}

/// A client that sends requests and never reads the answers would hold its
/// connection for ever once the socket buffers fill; the write timeout drops
/// it, and its place goes to the next client.
#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let h = Harness::new(Config {
        max_connections: 1,
        write_timeout: SHORT,
        ..Config::default()
    })
    .await;
    let addr: SocketAddr = h.server.addr();
    let socket = TcpSocket::new_v4().expect("socket");
    // A small receive window fills sooner.
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut stream = socket.connect(addr).await.expect("connect");
    // An answer proves the server accepted this connection: it holds the
    // only place before the next client arrives.
    stream.write_all(KEEP_ALIVE_GET).await.expect("a request");
    let answer = read_http_message(&mut stream, "the client that stops reading").await;
    assert_eq!(status_of(&answer), 404, "{answer}");
    let (mut reader, mut writer) = stream.into_split();
    // Pipelined requests whose 404 answers (Graph bodies of ~300 bytes) add
    // up to far more than the socket buffers on both sides hold.
    let flood = KEEP_ALIVE_GET.repeat(40_000);
    let writing = tokio::spawn(async move {
        // Fails once the server drops the connection.
        let _ = writer.write_all(&flood).await;
        writer
    });

    // The next client is served only once the place is free, that is once
    // the server has dropped the client that stopped reading. Filling the
    // buffers takes a while on a loaded machine: a generous bound.
    let mut next = TcpStream::connect(addr).await.expect("connect");
    next.write_all(CLOSING_GET).await.expect("request");
    let answer = read_until_closed(&mut next, PATIENCE * 3, "the next client").await;
    raw_graph_error(&answer, 404, "itemNotFound");

    // And the client that stopped reading finds its connection ended: past
    // the answers already on their way, its reads come to an end.
    let mut rest = Vec::new();
    let drained = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut rest)).await;
    assert!(
        drained.is_ok(),
        "the dropped client's connection is still open after {PATIENCE:?}"
    );
    writing.abort();
}

#[tokio::test]
async fn a_call_cannot_start_with_more_targets_than_a_roster_holds() {
    let h = Harness::clean().await;
    let (callback, _inbox) = h.hooks.inbox();
    let mut body = call_body(P2P, &callback);
    // With the bot, a thousand targets make a roster of 1,001.
    let targets: Vec<Value> = (0..1000).map(|i| user(&i.to_string())).collect();
    body["targets"] = Value::Array(targets);
    h.post("/communications/calls", &body)
        .await
        .assert_graph_error(400, "BadRequest");
    body["targets"] = Value::Array((0..999).map(|i| user(&i.to_string())).collect());
    let created = h.post("/communications/calls", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
}
