//! The callback listener: receives the target's notifications, one mailbox per
//! unguessable path, and wakes whoever waits on a mailbox as soon as a POST lands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// How a contract's notifications carry their items: the items of one
/// delivered body (`commsNotifications` has them in `value`, say).
pub type Envelope = fn(&Value) -> Vec<&Value>;

/// Every delivered body is one item: the envelope of a contract that does
/// not say otherwise.
pub fn whole_body(body: &Value) -> Vec<&Value> {
    vec![body]
}

/// Bodies above this are refused without being kept.
const MAX_BODY: usize = 1 << 20;
/// A mailbox keeps at most this many deliveries…
const MAX_DELIVERIES: usize = 10_000;
/// …and at most this many bytes of bodies. Counting deliveries alone let a
/// flood of large notifications keep gigabytes, and made every wake of a
/// waiter (which looks at all of a mailbox) copy them all.
const MAX_MAILBOX_BYTES: usize = 4 << 20;
/// All live mailboxes together keep at most this many bytes of bodies, so a
/// target flooding every trial's callback at once is bounded too.
const MAX_STORED_BYTES: usize = 32 << 20;
/// A body that takes longer than this to arrive is given up: a sender
/// dripping one would otherwise hold its connection and buffer for ever.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// One POST the target made to a callback path.
#[derive(Debug)]
pub struct Delivery {
    pub at: Instant,
    pub content_type: Option<String>,
    raw: Bytes,
    /// How the contract's bodies hold their items.
    envelope: Envelope,
    /// The body as JSON, parsed by the first reader: on the trial's thread
    /// that waits for it, not on the runtime thread that serves the listener
    /// (and the embedded server), which was the run's busiest.
    parsed: OnceLock<Result<Value, String>>,
}

impl Delivery {
    fn received(content_type: Option<String>, raw: Bytes, envelope: Envelope) -> Self {
        Self {
            at: Instant::now(),
            content_type,
            raw,
            envelope,
            parsed: OnceLock::new(),
        }
    }

    /// A POST whose body never came whole: `why`.
    fn failed(why: String, envelope: Envelope) -> Self {
        Self {
            at: Instant::now(),
            content_type: None,
            raw: Bytes::new(),
            envelope,
            parsed: OnceLock::from(Err(why)),
        }
    }

    /// The body as JSON, or why it is not.
    pub fn body(&self) -> &Result<Value, String> {
        self.parsed.get_or_init(|| parse(&self.raw))
    }

    /// The body's bytes as they came (a transcript keeps what is not JSON).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The notification items the body holds, as the contract's envelope
    /// says; none when it is not JSON.
    pub fn items(&self) -> Vec<&Value> {
        match self.body() {
            Ok(body) => (self.envelope)(body),
            Err(_) => Vec::new(),
        }
    }
}

/// Every notification item of these deliveries, in the order they came.
pub fn notification_items(deliveries: &[Arc<Delivery>]) -> Vec<&Value> {
    deliveries.iter().flat_map(|d| d.items()).collect()
}

/// The deliveries to one callback path. The listener holds it weakly: it
/// lives as long as the fixture that owns it, and a POST to it after that is
/// refused like one to a path never handed out.
#[derive(Debug)]
pub struct Mailbox {
    kept: Mutex<Kept>,
    arrived: Notify,
    /// The listener's shared state: the bytes all its mailboxes keep, and
    /// whether it still runs.
    boxes: Arc<Boxes>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Shared, so a waiter's look at them copies pointers, not documents.
    deliveries: Vec<Arc<Delivery>>,
    /// Bytes of the bodies kept, against [`MAX_MAILBOX_BYTES`].
    bytes: usize,
    /// Deliveries refused because a limit was reached.
    dropped: usize,
}

impl Mailbox {
    pub fn snapshot(&self) -> Vec<Arc<Delivery>> {
        self.kept().deliveries.clone()
    }

    /// Deliveries the listener refused (`429`) because this mailbox, or all
    /// of them together, had reached their limits.
    pub fn dropped(&self) -> usize {
        self.kept().dropped
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        crate::sync::lock(&self.kept)
    }

    /// Takes room for a body of `bytes` here and in the listener's pool;
    /// false (and counted as dropped) when either is full.
    fn reserve(&self, bytes: usize) -> bool {
        let mut kept = self.kept();
        let fits = kept.deliveries.len() < MAX_DELIVERIES
            && kept.bytes.saturating_add(bytes) <= MAX_MAILBOX_BYTES
            && self
                .boxes
                .stored
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                    used.checked_add(bytes)
                        .filter(|total| *total <= MAX_STORED_BYTES)
                })
                .is_ok();
        if fits {
            kept.bytes += bytes;
        } else {
            kept.dropped += 1;
        }
        fits
    }

    fn push(&self, delivery: Delivery) {
        self.kept().deliveries.push(Arc::new(delivery));
        self.arrived.notify_waiters();
    }

    /// Why the listener stopped, if it did: nothing more can arrive here,
    /// so a missing notification is no finding about the target.
    pub fn listener_stopped(&self) -> Option<&str> {
        self.boxes.stopped.get().map(String::as_str)
    }

    /// Waits until `done` holds over the deliveries so far, or the deadline
    /// passes, or the listener stops; returns whether it held. Wakes on every
    /// arrival, never polls.
    pub async fn wait_until(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&[Arc<Delivery>]) -> bool,
    ) -> bool {
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.snapshot()) {
                return true;
            }
            if self.listener_stopped().is_some() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            if tokio::time::timeout(deadline - now, notified)
                .await
                .is_err()
            {
                return done(&self.snapshot());
            }
        }
    }

    /// The deliveries that arrived at or after `since`: what came after a
    /// request is about it (a fixture shared with earlier requests has a past).
    pub fn snapshot_since(&self, since: Instant) -> Vec<Arc<Delivery>> {
        arrived_since(&self.kept().deliveries, since)
    }

    /// [`Mailbox::wait_until`] over the deliveries that arrived at or after
    /// `since` only.
    pub async fn wait_since(
        &self,
        since: Instant,
        deadline: Instant,
        mut done: impl FnMut(&[Arc<Delivery>]) -> bool,
    ) -> bool {
        self.wait_until(deadline, |d| done(&arrived_since(d, since)))
            .await
    }
}

/// `at` is stamped when a body has come whole, which need not be the order
/// in which deliveries are kept: a filter, not a split.
fn arrived_since(deliveries: &[Arc<Delivery>], since: Instant) -> Vec<Arc<Delivery>> {
    deliveries
        .iter()
        .filter(|d| d.at >= since)
        .cloned()
        .collect()
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let bytes = self.kept().bytes;
        self.boxes.stored.fetch_sub(bytes, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Boxes {
    by_path: Mutex<HashMap<String, Weak<Mailbox>>>,
    /// Bytes of bodies kept by all live mailboxes, against [`MAX_STORED_BYTES`].
    stored: AtomicUsize,
    /// Set once, when the listener stops serving: why.
    stopped: OnceLock<String>,
    envelope: Envelope,
}

impl Boxes {
    /// The listener stopped: say why, and wake every waiter, who would
    /// otherwise wait out its deadline for what can no longer come.
    fn stop(&self, why: String) {
        let _ = self.stopped.set(why);
        let live: Vec<Arc<Mailbox>> = crate::sync::lock(&self.by_path)
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for mailbox in live {
            mailbox.arrived.notify_waiters();
        }
    }
}

/// The running listener.
#[derive(Debug, Clone)]
pub struct Listener {
    boxes: Arc<Boxes>,
    refusals: Arc<crate::connlimit::Refusals>,
    /// The URL notifications are addressed to, without the mailbox segment.
    public_base: String,
    shutdown: Arc<Notify>,
}

impl Listener {
    /// Binds `addr` and serves on the current runtime, with the default caps.
    pub async fn start(
        addr: &str,
        public_base: Option<String>,
        envelope: Envelope,
    ) -> std::io::Result<Self> {
        Self::start_with(addr, public_base, envelope, Caps::default()).await
    }

    /// [`Listener::start`] with the caps on connections `caps` gives.
    pub async fn start_with(
        addr: &str,
        public_base: Option<String>,
        envelope: Envelope,
        caps: Caps,
    ) -> std::io::Result<Self> {
        let socket = bind(addr).await?;
        let local_addr = socket.local_addr()?;
        let boxes = Arc::new(Boxes {
            by_path: Mutex::default(),
            stored: AtomicUsize::new(0),
            stopped: OnceLock::new(),
            envelope,
        });
        let app = Router::new()
            .route("/callbacks/{token}", post(receive))
            .with_state(boxes.clone());
        let shutdown = Arc::new(Notify::new());
        let (state, stop) = (Arc::clone(&boxes), Arc::clone(&shutdown));
        let refusals = Arc::new(crate::connlimit::Refusals::default());
        let caps = crate::connlimit::Caps {
            max: caps.max_connections,
            per_address: caps.max_per_address,
            idle: IDLE,
            request: REQUEST,
        };
        let limited = crate::connlimit::Limited::new(socket, caps, Arc::clone(&refusals));
        tokio::spawn(async move {
            // The listener lives as long as the run. If it ends, every mailbox
            // says so: a trial waiting on one then errs instead of reading
            // the silence as a target that sent nothing.
            let why = tokio::select! {
                served = axum::serve(limited, app) => match served {
                    Ok(()) => "the callback listener stopped serving".to_owned(),
                    Err(e) => format!("the callback listener failed: {e}"),
                },
                () = stop.notified() => "the callback listener was shut down".to_owned(),
            };
            state.stop(why);
        });
        let public_base = public_base
            .unwrap_or_else(|| format!("http://{local_addr}"))
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            boxes,
            public_base,
            shutdown,
            refusals,
        })
    }

    /// Connections refused so far because a cap was reached: a trial reads
    /// it as it begins, to ask [`Listener::saturation`] when it ends.
    pub fn refusals(&self) -> u64 {
        self.refusals.count()
    }

    /// Whether connections were refused since the count `before` was read,
    /// in words: a notification the target sent meanwhile may have been
    /// among them, so its absence is no finding about the target.
    pub fn saturation(&self, before: u64) -> Option<String> {
        let refused = self.refusals.count().saturating_sub(before);
        (refused > 0).then(|| {
            format!(
                "the callback listener was saturated: {refused} connection(s) refused meanwhile (the last: {}; see --listener-max-connections and --listener-max-per-address)",
                self.refusals.last().unwrap_or_default()
            )
        })
    }

    /// Stops serving: every mailbox then reports [`Mailbox::listener_stopped`].
    pub fn shutdown(&self) {
        self.shutdown.notify_one();
    }

    /// The URL every callback path is under (a transcript replaces it).
    pub fn public_base(&self) -> &str {
        &self.public_base
    }

    /// A fresh mailbox at an unguessable path, and the URL that reaches it.
    pub fn mailbox(&self) -> (String, Arc<Mailbox>) {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mailbox = Arc::new(Mailbox {
            kept: Mutex::default(),
            arrived: Notify::new(),
            boxes: Arc::clone(&self.boxes),
        });
        let mut by_path = crate::sync::lock(&self.boxes.by_path);
        // Paths of finished trials go, so the map grows with the live ones only.
        by_path.retain(|_, weak| weak.strong_count() > 0);
        by_path.insert(token.clone(), Arc::downgrade(&mailbox));
        drop(by_path);
        (format!("{}/callbacks/{token}", self.public_base), mailbox)
    }
}

/// The caps on the listener's connections (`--listener-max-connections`,
/// `--listener-max-per-address`): past them a connection is refused, and
/// counted.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl Default for Caps {
    /// Half the places for one address: Graph's callbacks come from a few,
    /// and a flood from any one of them leaves room for the rest.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_per_address: 512,
        }
    }
}

/// A connection that sends nothing for this long is closed, so idle ones
/// cannot keep the places the target's notifications need.
const IDLE: Duration = Duration::from_secs(15);
/// A request must arrive whole (head and body) this long after its first
/// byte: one sent a byte a second is never idle, and would otherwise keep
/// its place for ever.
const REQUEST: Duration = BODY_TIMEOUT;

/// Connections the kernel queues while the accept loop catches up. The
/// default (128) overflowed under a burst of connections, and a connection
/// dropped from a full queue is retried only after a second: a notification
/// late by that much misses a trial's deadline.
const BACKLOG: u32 = 1024;

/// Binds the first address `addr` resolves to that accepts, with [`BACKLOG`].
async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket = if resolved.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std and tokio do: a restarted run can take the port at once.
        socket.set_reuseaddr(true)?;
        match socket.bind(resolved).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{addr} resolves to no address"),
        )
    }))
}

async fn receive(
    State(boxes): State<Arc<Boxes>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> StatusCode {
    let mailbox = crate::sync::lock(&boxes.by_path)
        .get(&token)
        .and_then(Weak::upgrade);
    // Unknown paths, and those of finished trials, are refused before a byte
    // of the body is read.
    let Some(mailbox) = mailbox else {
        return StatusCode::NOT_FOUND;
    };
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        failed => {
            let (why, status) = match failed {
                Err(_) => (
                    format!("body not received within {} s", BODY_TIMEOUT.as_secs()),
                    StatusCode::REQUEST_TIMEOUT,
                ),
                _ => (
                    format!("body larger than {MAX_BODY} bytes or cut off"),
                    StatusCode::PAYLOAD_TOO_LARGE,
                ),
            };
            if mailbox.reserve(0) {
                mailbox.push(Delivery::failed(why, boxes.envelope));
            }
            return status;
        }
    };
    // Past the limits a delivery is refused before it is parsed: a flood
    // costs neither memory nor the time to parse it.
    if !mailbox.reserve(bytes.len()) {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    mailbox.push(Delivery::received(content_type, bytes, boxes.envelope));
    StatusCode::ACCEPTED
}

fn parse(bytes: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let preview = crate::sanitize::quote_bytes(bytes, 80);
        format!("not JSON ({e}): {preview}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> u16 {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the listener answers")
            .status()
            .as_u16()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_flood_past_the_mailbox_budget_is_refused_and_counted() {
        runtime().block_on(async {
            let listener = Listener::start("127.0.0.1:0", None, whole_body)
                .await
                .expect("binds");
            let (url, mailbox) = listener.mailbox();
            let client = reqwest::Client::new();
            // A JSON string of just over 512 KiB: seven fit the 4 MiB budget.
            let body = format!("\"{}\"", "x".repeat(512 << 10)).into_bytes();
            let mut statuses = Vec::new();
            for _ in 0..12 {
                statuses.push(post(&client, &url, body.clone()).await);
            }
            let kept = statuses.iter().filter(|s| **s == 202).count();
            assert_eq!(kept, MAX_MAILBOX_BYTES / body.len(), "{statuses:?}");
            assert!(statuses[kept..].iter().all(|s| *s == 429), "{statuses:?}");
            assert_eq!(mailbox.snapshot().len(), kept);
            assert_eq!(mailbox.dropped(), 12 - kept);
            // Another trial's mailbox is not crowded out by this one.
            let (other, other_box) = listener.mailbox();
            assert_eq!(post(&client, &other, b"{}".to_vec()).await, 202);
            assert_eq!(other_box.snapshot().len(), 1);
        });
    }

    #[test]
    fn a_listener_that_stops_wakes_its_waiters_and_says_why() {
        runtime().block_on(async {
            let listener = Listener::start("127.0.0.1:0", None, whole_body)
                .await
                .expect("binds");
            let (_, mailbox) = listener.mailbox();
            assert_eq!(mailbox.listener_stopped(), None);
            let far = Instant::now() + Duration::from_secs(3600);
            let waiting = mailbox.wait_until(far, |d| !d.is_empty());
            let stopping = async {
                tokio::task::yield_now().await;
                listener.shutdown();
            };
            // The waiter returns when the listener stops, not at its deadline.
            let (held, ()) = tokio::join!(waiting, stopping);
            assert!(!held);
            assert_eq!(
                mailbox.listener_stopped(),
                Some("the callback listener was shut down")
            );
        });
    }

    #[test]
    fn a_finished_trials_path_is_refused_and_its_bytes_freed() {
        runtime().block_on(async {
            let listener = Listener::start("127.0.0.1:0", None, whole_body)
                .await
                .expect("binds");
            let client = reqwest::Client::new();
            let (url, mailbox) = listener.mailbox();
            assert_eq!(post(&client, &url, b"{\"value\": []}".to_vec()).await, 202);
            assert_eq!(listener.boxes.stored.load(Ordering::SeqCst), 13);
            drop(mailbox);
            assert_eq!(listener.boxes.stored.load(Ordering::SeqCst), 0);
            assert_eq!(post(&client, &url, b"{\"value\": []}".to_vec()).await, 404);
            let guessed = format!("{}/callbacks/{}", listener.public_base, "0".repeat(32));
            assert_eq!(post(&client, &guessed, b"{}".to_vec()).await, 404);
        });
    }
}
