//! 2c. The embedded floor: a bare client that makes the loopback exchanges
//! of a generated invite (a group call created, or reused for a few
//! invites, the invite, its notification received, the operation read
//! back) and checks nothing. The suite's CPU per invite, against the
//! embedded server, is then a multiple of it: the cost of checking as a
//! number that carries from one machine to another.
//!
//! Both figures count the server too: the suite's process holds its
//! embedded server, and the bare client's server runs in the bench's
//! process, where the client's CPU is measured.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::build::Suite;
use crate::child::{self, Spec};
use crate::figures::secs;
use crate::throughput::property_run;
use crate::Bench;

/// Invites into one call before the client makes another: a call's roster,
/// and so its notifications, grow with each.
const INVITES_PER_CALL: u32 = 8;
/// How long the client waits for one answer or one notification.
const PATIENCE: Duration = Duration::from_secs(5);
/// The largest answer head or notification the client reads.
const MAX_MESSAGE: usize = 4 << 20;

/// The notification bodies received, and a signal for each.
#[derive(Default)]
struct Inbox {
    bodies: Mutex<Vec<String>>,
    arrived: Condvar,
}

impl Inbox {
    /// Waits until a body holding `needle` has arrived (at most
    /// [`PATIENCE`]); whether one did. Bodies already read are dropped.
    fn wait_for(&self, needle: &str) -> bool {
        let deadline = Instant::now() + PATIENCE;
        let mut bodies = self
            .bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(i) = bodies.iter().position(|b| b.contains(needle)) {
                bodies.drain(..=i);
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            bodies = self
                .arrived
                .wait_timeout(bodies, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// One HTTP/1.1 message read from `reader`: its head's first line and its
/// body (by `Content-Length`; what the reference and the client send).
fn read_message(reader: &mut impl BufRead) -> Option<(String, String)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    if length > MAX_MESSAGE {
        return None;
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((first, String::from_utf8_lossy(&body).into_owned()))
}

/// The callback: every POST answered 202, its body put in the inbox.
fn listen(inbox: Arc<Inbox>) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no address: {e}"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let inbox = Arc::clone(&inbox);
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                while let Some((_, body)) = read_message(&mut reader) {
                    inbox
                        .bodies
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(body);
                    inbox.arrived.notify_all();
                    if writer
                        .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// A keep-alive connection to the server.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(PATIENCE));
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends a request; the answer's status line and body.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(String, String), String> {
        let body = body.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer bench-token\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.writer
            .write_all(format!("{head}{body}").as_bytes())
            .map_err(|e| format!("{method} {path}: {e}"))?;
        read_message(&mut self.reader).ok_or_else(|| format!("{method} {path}: no answer"))
    }
}

/// Ends `call`, if one was made.
fn end_call(client: &mut Client, call: &str) -> Result<(), String> {
    if !call.is_empty() {
        client.send(
            "DELETE",
            &format!("/v1.0/communications/calls/{call}"),
            None,
        )?;
    }
    Ok(())
}

/// The value of the first `"id":"…"` in `body`: read, not parsed.
fn first_id(body: &str) -> Option<&str> {
    let start = body.find("\"id\":\"")? + 6;
    let len = body[start..].find('"')?;
    Some(&body[start..start + len])
}

/// `n` invites' exchanges against `server`, their notifications to `inbox`
/// at `callback`; how many completed.
fn exchanges(server: SocketAddr, callback: &str, inbox: &Inbox, n: u32) -> Result<u32, String> {
    let mut client = Client::connect(server)?;
    let create = json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback,
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "source": {"identity": {"application": {"id": "1f3a2b4c-5d6e-4f70-8192-a3b4c5d6e7f8"}}},
        "chatInfo": {"threadId": "19:meeting_bench@thread.v2", "messageId": "0"},
        "meetingInfo": {"@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": {"user": {"id": "5810cede-f3cc-42eb-b2c1-e9bd5d53ec96"}}},
        "tenantId": "aa67bd4c-8475-432d-bd41-39f255720e0a"
    })
    .to_string();
    let mut done = 0;
    let mut call = String::new();
    for i in 0..n {
        if i % INVITES_PER_CALL == 0 {
            end_call(&mut client, &call)?;
            let (_, body) = client.send("POST", "/v1.0/communications/calls", Some(&create))?;
            call = first_id(&body)
                .ok_or_else(|| format!("the created call has no id: {body}"))?
                .to_owned();
            // Established: the call's first notification.
            if !inbox.wait_for(&call) {
                return Err(format!("call {call} was never announced"));
            }
        }
        let invite = json!({
            "participants": [{"identity": {"user": {"id": uuid_like(i)}}}],
            "clientContext": format!("bench-{i}"),
        })
        .to_string();
        let (_, body) = client.send(
            "POST",
            &format!("/v1.0/communications/calls/{call}/participants/invite"),
            Some(&invite),
        )?;
        let op = first_id(&body)
            .ok_or_else(|| format!("the operation has no id: {body}"))?
            .to_owned();
        if !inbox.wait_for(&op) {
            return Err(format!("operation {op} was never announced"));
        }
        client.send(
            "GET",
            &format!("/v1.0/communications/calls/{call}/operations/{op}"),
            None,
        )?;
        done += 1;
    }
    end_call(&mut client, &call)?;
    Ok(done)
}

/// A user id of the form the reference reads, a different one per invite.
fn uuid_like(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// Measures and prints the row; its part of the report.
pub fn section(bench: &Bench, release: &Suite, n: u32, seed: u64) -> Result<Value, String> {
    println!();
    println!(
        "2c. Embedded floor: a bare client's loopback exchanges of {n} invites, checking nothing"
    );
    let server = invite_reference::start(invite_reference::Config {
        max_calls_per_client: usize::MAX,
        ..invite_reference::Config::default()
    })
    .map_err(|e| format!("cannot start a reference server: {e}"))?;
    let inbox = Arc::new(Inbox::default());
    let callback = format!("http://{}/callback", listen(Arc::clone(&inbox))?);
    let cpu_before = child::own_cpu_secs(bench.ticks);
    let started = Instant::now();
    let done = exchanges(server.addr(), &callback, &inbox, n)?;
    let wall = started.elapsed().as_secs_f64();
    let bare_cpu = child::own_cpu_since(cpu_before, bench.ticks);
    drop(server);

    // The suite, the same number of generated invites, embedded.
    let (args, env) = property_run(n, seed, None);
    let suite = child::run(
        &Spec {
            program: &release.binary,
            args,
            env,
            cwd: &bench.root,
            log: bench.logs.join(format!("bare-floor-suite-{n}")),
        },
        bench.ticks,
    )?;
    let per = |cpu: Option<f64>, count: u32| cpu.map(|c| c * 1e6 / f64::from(count.max(1)));
    let bare_us = per(bare_cpu, done);
    let suite_us = per(suite.cpu_secs, n).filter(|_| suite.passed());
    let multiple = bare_us.zip(suite_us).map(|(b, s)| s / b);
    let show = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} µs"));
    println!(
        "   bare client  {done} invites in {}: {} CPU per invite (server included)",
        secs(wall),
        show(bare_us)
    );
    println!(
        "   suite        {n} invites in {} ({}): {} CPU per invite (its embedded server included)",
        secs(suite.wall.as_secs_f64()),
        suite.outcome(),
        show(suite_us)
    );
    println!(
        "   the suite's CPU per invite is {} the bare client's",
        multiple.map_or_else(|| "—".to_owned(), |m| format!("{m:.1}x"))
    );
    Ok(json!({
        "invites": n,
        "bare_completed": done,
        "bare_wall_secs": wall,
        "bare_cpu_us_per_invite": bare_us,
        "suite_wall_secs": suite.wall.as_secs_f64(),
        "suite_cpu_us_per_invite": suite_us,
        "suite_outcome": suite.outcome(),
        "multiple": multiple,
        "logs": suite.logs_json(),
    }))
}
