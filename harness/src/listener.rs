//! The callback listener: receives the target's notifications, one mailbox per
//! unguessable path, and wakes whoever waits on a mailbox as soon as a POST lands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// Bodies above this are refused without being kept.
const MAX_BODY: usize = 1 << 20;
/// A mailbox keeps at most this many deliveries; a flood cannot exhaust memory.
const MAX_DELIVERIES: usize = 10_000;

/// One POST the target made to a callback path.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Instant,
    pub content_type: Option<String>,
    pub body: Result<Value, String>,
}

impl Delivery {
    /// The `commsNotification` items of a `commsNotifications` body.
    pub fn items(&self) -> Vec<&Value> {
        match &self.body {
            Ok(Value::Object(map)) => match map.get("value") {
                Some(Value::Array(items)) => items.iter().collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Mailbox {
    deliveries: Mutex<Vec<Delivery>>,
    dropped: Mutex<usize>,
    arrived: Notify,
}

impl Mailbox {
    pub fn snapshot(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn dropped(&self) -> usize {
        *self.dropped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, delivery: Delivery) {
        let mut list = self
            .deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.len() >= MAX_DELIVERIES {
            *self.dropped.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        } else {
            list.push(delivery);
        }
        drop(list);
        self.arrived.notify_waiters();
    }

    /// Waits until `done` holds over the deliveries so far, or the deadline
    /// passes; returns whether it held. Wakes on every arrival, never polls.
    pub async fn wait_until(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&[Delivery]) -> bool,
    ) -> bool {
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.snapshot()) {
                return true;
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
}

#[derive(Debug, Default)]
struct Boxes {
    by_path: Mutex<HashMap<String, Arc<Mailbox>>>,
}

/// The running listener.
#[derive(Debug, Clone)]
pub struct Listener {
    boxes: Arc<Boxes>,
    /// The URL notifications are addressed to, without the mailbox segment.
    public_base: String,
    pub local_addr: SocketAddr,
}

impl Listener {
    /// Binds `addr` and serves on the current runtime.
    pub async fn start(addr: &str, public_base: Option<String>) -> std::io::Result<Self> {
        let socket = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = socket.local_addr()?;
        let boxes = Arc::new(Boxes::default());
        let app = Router::new()
            .route("/callbacks/{token}", post(receive))
            .with_state(boxes.clone());
        tokio::spawn(async move {
            // The listener lives as long as the process; an error ends it quietly
            // and every later wait then times out with a clear message.
            let _ = axum::serve(socket, app).await;
        });
        let public_base = public_base
            .unwrap_or_else(|| format!("http://{local_addr}"))
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            boxes,
            public_base,
            local_addr,
        })
    }

    /// A fresh mailbox at an unguessable path, and the URL that reaches it.
    pub fn mailbox(&self) -> (String, Arc<Mailbox>) {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mailbox = Arc::new(Mailbox::default());
        self.boxes
            .by_path
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), mailbox.clone());
        (format!("{}/callbacks/{token}", self.public_base), mailbox)
    }
}

async fn receive(
    State(boxes): State<Arc<Boxes>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> StatusCode {
    let mailbox = boxes
        .by_path
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&token)
        .cloned();
    // Unknown paths are refused before a byte of the body is read.
    let Some(mailbox) = mailbox else {
        return StatusCode::NOT_FOUND;
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        mailbox.push(Delivery {
            at: Instant::now(),
            content_type: None,
            body: Err(format!("body larger than {MAX_BODY} bytes or cut off")),
        });
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    mailbox.push(Delivery {
        at: Instant::now(),
        content_type,
        body: parse(&bytes),
    });
    StatusCode::ACCEPTED
}

fn parse(bytes: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let preview: String = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
        format!("not JSON ({e}): {preview:?}")
    })
}

/// How long to wait at most: the default, or the case's own deadline.
pub fn deadline(from: Instant, ms: u64) -> Instant {
    from + Duration::from_millis(ms)
}
