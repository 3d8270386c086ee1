//! A stub of the rooms API, the rooms suite's embedded target: rooms with a
//! callback, messages posted to them, and the events announcing both,
//! delivered to the room's callback.
//!
//! `ROOMS_STUB_FAULT` switches a fault on, so the suite's checks can be seen
//! to fail: `wrong-location` (the Location names another message),
//! `no-event` (a posted message is never announced), `double-event` (it is
//! announced twice).
//!
//! The room `lobby` always exists: it has no callback and cannot be deleted,
//! so `--room-id lobby` lends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use serde_json::{json, Value};

/// The environment variable that switches a fault on.
pub const FAULT_VAR: &str = "ROOMS_STUB_FAULT";

/// The room that always exists, with no callback, and is never deleted.
pub const LOBBY: &str = "lobby";

/// Longest message text, in characters.
pub const MAX_TEXT: usize = 1000;

/// Where the API lives under the stub's address.
pub const PREFIX: &str = "/api";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    WrongLocation,
    NoEvent,
    DoubleEvent,
}

impl Fault {
    pub const ALL: &[(&'static str, Fault)] = &[
        ("wrong-location", Fault::WrongLocation),
        ("no-event", Fault::NoEvent),
        ("double-event", Fault::DoubleEvent),
    ];

    /// The fault `name` (`ROOMS_STUB_FAULT`'s value) names (none, or an
    /// empty name: no fault); an unknown name is an error.
    pub fn named(name: Option<String>) -> Result<Option<Self>, String> {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| Some(*f))
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "{FAULT_VAR}={name:?} names no fault (known: {})",
                    known.join(", ")
                )
            })
    }
}

struct Room {
    callback: Option<String>,
}

struct Stub {
    /// The URL the API is served at (`http://127.0.0.1:PORT/api`).
    base: String,
    rooms: Mutex<HashMap<String, Room>>,
    client: reqwest::Client,
    fault: Option<Fault>,
}

impl Stub {
    fn callback(&self, room: &str) -> Option<Option<String>> {
        self.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .map(|r| r.callback.clone())
    }

    /// Sends `events` to `callback` on a task of its own: the answer to the
    /// request that caused them does not wait for the delivery.
    fn deliver(&self, callback: &str, events: Vec<Value>) {
        let request = self
            .client
            .post(callback)
            .header(header::CONTENT_TYPE, "application/json")
            .body(json!({ "events": events }).to_string());
        tokio::spawn(async move {
            // A callback that is gone (its case ended) is no error of the stub.
            let _ = request.send().await;
        });
    }
}

/// Serves the rooms API on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, fault: Option<Fault>) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(std::io::Error::other)?;
    let mut rooms = HashMap::new();
    rooms.insert(LOBBY.to_owned(), Room { callback: None });
    let stub = Arc::new(Stub {
        base: base(addr),
        rooms: Mutex::new(rooms),
        client,
        fault,
    });
    let api = Router::new()
        .route("/rooms", post(create_room))
        .route("/rooms/{room}", delete(delete_room))
        .route("/rooms/{room}/messages", post(post_message))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such resource") })
        .with_state(stub);
    let app = Router::new().nest(PREFIX, api);
    axum::serve(listener, app).await
}

/// The stub's base URL for `addr`.
pub fn base(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}{PREFIX}")
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }), None)
}

fn json_response(status: StatusCode, body: &Value, location: Option<&str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    response
}

/// Requests need `Authorization: Bearer <token>` (any token).
fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty())
}

/// The request body as a JSON object, or why it is not one (a 400).
fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, String> {
    if body.is_empty() {
        return Err("the body is empty: a JSON object is expected".to_owned());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the body must be a JSON object".to_owned()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn create_room(State(stub): State<Arc<Stub>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "a bearer token is required");
    }
    let fields = match object(&body) {
        Ok(f) => f,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let callback = match fields.get("callbackUrl").and_then(Value::as_str) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => url.to_owned(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "callbackUrl must be an http(s) URL",
            )
        }
    };
    let id = new_id();
    stub.rooms
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            id.clone(),
            Room {
                callback: Some(callback.clone()),
            },
        );
    stub.deliver(&callback, vec![json!({"type": "room.opened", "room": id})]);
    let location = format!("{}/rooms/{id}", stub.base);
    json_response(
        StatusCode::CREATED,
        &json!({"id": id, "callbackUrl": callback}),
        Some(&location),
    )
}

async fn post_message(
    State(stub): State<Arc<Stub>>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "a bearer token is required");
    }
    let Some(callback) = stub.callback(&room) else {
        return error(StatusCode::NOT_FOUND, "no such room");
    };
    let fields = match object(&body) {
        Ok(f) => f,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let text = match fields.get("text") {
        Some(Value::String(t)) if t.is_empty() => {
            return error(StatusCode::BAD_REQUEST, "text must not be empty")
        }
        Some(Value::String(t)) if t.chars().count() > MAX_TEXT => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("text is longer than {MAX_TEXT} characters"),
            )
        }
        Some(Value::String(t)) => t.clone(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "text must be a string"),
        None => return error(StatusCode::BAD_REQUEST, "text is required"),
    };
    let id = new_id();
    let message = json!({"id": id, "text": text});
    if let Some(callback) = callback {
        let event = json!({"type": "message.posted", "room": room, "message": message});
        match stub.fault {
            Some(Fault::NoEvent) => {}
            // Both in one delivery: two deliveries could arrive further
            // apart than the invariant waits for a repeat on a busy machine.
            Some(Fault::DoubleEvent) => stub.deliver(&callback, vec![event.clone(), event]),
            _ => stub.deliver(&callback, vec![event]),
        }
    }
    let named = match stub.fault {
        Some(Fault::WrongLocation) => new_id(),
        _ => id,
    };
    let location = format!("{}/rooms/{room}/messages/{named}", stub.base);
    json_response(StatusCode::CREATED, &message, Some(&location))
}

async fn delete_room(
    State(stub): State<Arc<Stub>>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "a bearer token is required");
    }
    if room == LOBBY {
        return error(StatusCode::FORBIDDEN, "the lobby cannot be deleted");
    }
    let removed = stub
        .rooms
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&room);
    match removed {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::NOT_FOUND, "no such room"),
    }
}
