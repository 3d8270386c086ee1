//! An answer as data: what it answers, its status, its `Location`, its
//! body. Handlers return one; the request middleware hands it to the seam,
//! which applies the faults and variants and writes the HTTP response.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::error::{graph_date, ApiError};
use crate::resources::Operation;

/// The Content-Type of every JSON answer.
pub(crate) const JSON: &str = "application/json";

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// `Retry-After` of every `429`: what is over the limit (live calls, queued
/// notifications) frees up as soon as the client deletes a call or the
/// callback catches up, so a short wait is the right advice.
const RETRY_AFTER_SECONDS: &str = "1";

/// What an answer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnswerKind {
    /// `201`, the call created.
    CallCreated,
    /// A GET of a call.
    Call,
    /// `204` to a DELETE of a call.
    CallDeleted,
    /// A GET of a call's participants: `{"value": [participant...]}`.
    Participants,
    /// An invite's `200`, the operation.
    Invite,
    /// A GET of an operation.
    Operation,
    /// Graph's error body.
    Refusal,
}

/// The ids an answer reports about the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) client_request_id: Option<String>,
}

/// A `Location` header: a call, or an operation of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// What comes before `/communications/...`.
    pub(crate) prefix: &'static str,
    pub(crate) call_id: String,
    pub(crate) operation_id: Option<String>,
}

impl Location {
    fn of(call_id: &str, operation_id: Option<&str>) -> Location {
        Location {
            prefix: "/v1.0",
            call_id: call_id.to_owned(),
            operation_id: operation_id.map(str::to_owned),
        }
    }

    fn text(&self) -> String {
        let mut text = format!("{}/communications/calls/{}", self.prefix, self.call_id);
        if let Some(operation_id) = &self.operation_id {
            text.push_str("/operations/");
            text.push_str(operation_id);
        }
        text
    }
}

/// One answer, before the faults and variants shape it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) kind: AnswerKind,
    pub(crate) status: StatusCode,
    /// The call the answer is about (empty for a refusal).
    pub(crate) call_id: String,
    pub(crate) location: Option<Location>,
    /// The Content-Type of the body.
    pub(crate) content_type: &'static str,
    pub(crate) body: Option<Value>,
    /// Stamped as the `request-id` and `client-request-id` headers.
    pub(crate) request_ids: Option<RequestIds>,
    /// Other headers, written as they are.
    pub(crate) headers: HeaderMap,
}

impl Answer {
    fn new(kind: AnswerKind, status: StatusCode, call_id: &str, body: Option<Value>) -> Answer {
        Answer {
            kind,
            status,
            call_id: call_id.to_owned(),
            location: None,
            content_type: JSON,
            body,
            request_ids: None,
            headers: HeaderMap::new(),
        }
    }

    /// `201` with the call as it was created, and where it lives.
    pub(crate) fn call_created(call_id: &str, call: Value) -> Answer {
        Answer {
            location: Some(Location::of(call_id, None)),
            ..Answer::new(
                AnswerKind::CallCreated,
                StatusCode::CREATED,
                call_id,
                Some(call),
            )
        }
    }

    pub(crate) fn call(call_id: &str, call: Value) -> Answer {
        Answer::new(AnswerKind::Call, StatusCode::OK, call_id, Some(call))
    }

    pub(crate) fn call_deleted(call_id: &str) -> Answer {
        Answer::new(
            AnswerKind::CallDeleted,
            StatusCode::NO_CONTENT,
            call_id,
            None,
        )
    }

    pub(crate) fn participants(call_id: &str, participants: Vec<Value>) -> Answer {
        let mut list = Map::new();
        list.insert("value".into(), Value::Array(participants));
        Answer::new(
            AnswerKind::Participants,
            StatusCode::OK,
            call_id,
            Some(Value::Object(list)),
        )
    }

    /// `200` with the invite's operation, and where to read it.
    pub(crate) fn invite(call_id: &str, operation: &Operation) -> Answer {
        Answer {
            location: Some(Location::of(call_id, Some(&operation.id))),
            ..Answer::new(
                AnswerKind::Invite,
                StatusCode::OK,
                call_id,
                Some(operation.to_json()),
            )
        }
    }

    /// A GET of an operation: `operation` as its JSON.
    pub(crate) fn operation(call_id: &str, operation: Value) -> Answer {
        Answer::new(
            AnswerKind::Operation,
            StatusCode::OK,
            call_id,
            Some(operation),
        )
    }

    /// Graph's error body for `error`:
    /// `{"error":{"code","message","innerError":{"request-id","date","client-request-id"}}}`.
    pub(crate) fn refusal(error: &ApiError, ids: &RequestIds) -> Answer {
        let mut inner = Map::new();
        inner.insert("request-id".into(), ids.request_id.clone().into());
        inner.insert("date".into(), graph_date(SystemTime::now()).into());
        if let Some(client_request_id) = &ids.client_request_id {
            inner.insert("client-request-id".into(), client_request_id.clone().into());
        }
        let body = json!({"error": {
            "code": error.code(),
            "message": error.to_string(),
            "innerError": inner,
        }});
        let mut answer = Answer::new(AnswerKind::Refusal, error.status(), "", Some(body));
        if error.status() == StatusCode::TOO_MANY_REQUESTS {
            // Graph's throttling answers say when to come back, and clients
            // (the conformance suite among them) wait that long before
            // retrying.
            answer.headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if matches!(error, ApiError::RequestTimeout(_)) {
            // The rest of the body may still come; the connection cannot be
            // reused for another request.
            answer
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        answer
    }

    /// The body, when it is an object (every body the server sends is).
    pub(crate) fn body_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.body.as_mut().and_then(Value::as_object_mut)
    }

    /// The `error` object of a refusal's body.
    pub(crate) fn error_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.body_mut()
            .and_then(|body| body.get_mut("error"))
            .and_then(Value::as_object_mut)
    }

    /// Removes a member of a refusal's `error` object.
    pub(crate) fn remove_error_member(&mut self, member: &str) {
        if let Some(error) = self.error_mut() {
            error.remove(member);
        }
    }

    /// A member of the body.
    pub(crate) fn member(&self, member: &str) -> Option<&Value> {
        self.body.as_ref().and_then(|body| body.get(member))
    }

    /// Sets a member of the body.
    pub(crate) fn set(&mut self, member: &str, value: impl Into<Value>) {
        if let Some(body) = self.body_mut() {
            body.insert(member.to_owned(), value.into());
        }
    }

    /// Removes a member of the body.
    pub(crate) fn remove(&mut self, member: &str) {
        if let Some(body) = self.body_mut() {
            body.remove(member);
        }
    }

    /// Writes the answer over `response`, keeping the headers it already
    /// has (such as the `Allow` of axum's own `405`).
    pub(crate) fn write_into(self, response: &mut Response) {
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        headers.extend(self.headers);
        // A call id taken from the path may hold characters a header
        // cannot; such ids only get here through the *-accepts-invite faults.
        if let Some(value) = self
            .location
            .and_then(|location| HeaderValue::try_from(location.text()).ok())
        {
            headers.insert(header::LOCATION, value);
        }
        if let Some(ids) = self.request_ids {
            if let Ok(value) = HeaderValue::try_from(&ids.request_id) {
                headers.insert(REQUEST_ID, value);
            }
            if let Some(value) = ids
                .client_request_id
                .and_then(|id| HeaderValue::try_from(id).ok())
            {
                headers.insert(CLIENT_REQUEST_ID, value);
            }
        }
        match self.body {
            Some(body) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.content_type),
                );
                *response.body_mut() = Body::from(body.to_string());
            }
            None => *response.body_mut() = Body::empty(),
        }
    }
}

/// A handler's answer travels to the request middleware inside an empty
/// response, as a refusal ([`ApiError`]) does: only the middleware knows the
/// request's ids.
impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = Response::default();
        response.extensions_mut().insert(self);
        response
    }
}
