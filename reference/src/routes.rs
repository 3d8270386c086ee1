//! The HTTP surface: the routes under `/v1.0`, the per-request middleware
//! (auth, error bodies, request ids, logging) and the handlers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{render, ApiError, RequestIds};
use crate::faults::{Fault, FaultSet};
use crate::mutation::{Document, Mutating};
use crate::notify::Delivery;
use crate::resources::{new_id, other_client_context, Ids, Operation, OperationStatus, Place};
use crate::state::{call_not_found, Presence, Registry};
use crate::validate;
use crate::variants::{Variant, VariantSet};

/// How long the `slow-responses` fault holds every response.
const SLOW_RESPONSE_DELAY: Duration = Duration::from_secs(3);
/// How long an invite stays running under `delayed-completion`, at least.
const DELAYED_COMPLETION: Duration = Duration::from_millis(150);
/// The host of `Location` under `location-absolute`.
const ABSOLUTE_LOCATION_BASE: &str = "https://graph.example.invalid/v1.0";
/// Graph's own JSON Content-Type, sent under `json-content-type-parameters`.
const GRAPH_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// What every handler shares.
struct App {
    config: Config,
    faults: FaultSet,
    variants: VariantSet,
    mutating: Mutating,
    ids: Arc<Ids>,
    /// How long an invite stays running before it completes.
    operation_delay: Duration,
    registry: Mutex<Registry>,
}

impl App {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Nothing panics while holding the lock, and the registry stays
        // consistent between statements, so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The JSON object a POST carries, checked in Graph's order: content
    /// type (415), size (413), syntax (400).
    async fn json_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Map<String, Value>, ApiError> {
        if let Err(error) = validate::check_content_type(headers, self.faults, self.variants) {
            self.discard(body).await;
            return Err(error);
        }
        let bytes = validate::read_body(
            headers,
            body,
            self.config.body_limit,
            self.config.body_timeout,
        )
        .await?;
        validate::parse_object(&bytes, self.faults)
    }

    /// Drops the body of a refused request, within the body deadline.
    async fn discard(&self, body: Body) {
        validate::discard_body(body, self.config.body_timeout).await;
    }
}

/// The reference server's routes, ready to serve; `config` as
/// [`Config::applied`] makes it.
pub(crate) fn router(config: Config) -> Router {
    router_and_calls(config).0
}

/// Reads which calls a server holds live, for its owner (tests that check a
/// client left nothing behind).
#[derive(Clone)]
pub(crate) struct LiveCalls(Arc<App>);

impl LiveCalls {
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids = self.0.registry().live_call_ids();
        ids.sort();
        ids
    }
}

/// [`router`], and a way to read its live calls.
pub(crate) fn router_and_calls(config: Config) -> (Router, LiveCalls) {
    let faults: FaultSet = config.faults.iter().copied().collect();
    let variants: VariantSet = config.variants.iter().copied().collect();
    let mutating = Mutating::new(config.mutation.as_ref());
    let ids = Arc::new(Ids::new(variants));
    let delivery = Arc::new(Delivery::new(&config, faults, variants, mutating.clone()));
    let registry = Registry::new(
        delivery,
        faults,
        variants,
        mutating.clone(),
        Arc::clone(&ids),
        config.max_calls_per_client,
    );
    let operation_delay = if variants.has(Variant::DelayedCompletion) {
        config.operation_delay.max(DELAYED_COMPLETION)
    } else {
        config.operation_delay
    };
    let app = Arc::new(App {
        config,
        faults,
        variants,
        mutating,
        ids,
        operation_delay,
        registry: Mutex::new(registry),
    });
    let api = Router::new()
        .route("/communications/calls", post(create_call))
        .route(
            "/communications/calls/{call_id}",
            get(get_call).delete(delete_call),
        )
        .route(
            "/communications/calls/{call_id}/participants",
            get(list_participants),
        )
        .route(
            "/communications/calls/{call_id}/participants/invite",
            post(invite),
        )
        .route(
            "/communications/calls/{call_id}/participants/microsoft.graph.invite",
            post(invite_namespaced),
        )
        .route(
            "/communications/calls/{call_id}/operations/{operation_id}",
            get(get_operation),
        );
    let calls = LiveCalls(Arc::clone(&app));
    let router = Router::new()
        .nest("/v1.0", api)
        .fallback(unknown_path)
        .layer(from_fn_with_state(Arc::clone(&app), each_request))
        .with_state(app);
    (router, calls)
}

/// Runs around every request, routed or not: refuses it without a bearer
/// token, gives every error Graph's body, and stamps request ids.
async fn each_request(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let ids = RequestIds {
        request_id: new_id(),
        client_request_id: request
            .headers()
            .get(CLIENT_REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    };
    let head = head_size(&request);
    let authorized = app.faults.has(Fault::NoAuthAccepted) || has_bearer_token(request.headers());
    // A head too large is refused first, as a front end would, before
    // anything in it (the token included) is looked at.
    let refused = if head > app.config.max_header_bytes {
        Some(ApiError::HeadersTooLarge(app.config.max_header_bytes))
    } else if !authorized {
        Some(ApiError::Unauthorized)
    } else {
        None
    };
    let mut response = match refused {
        None => next.run(request).await,
        Some(error) => {
            app.discard(request.into_body()).await;
            error.into_response()
        }
    };
    let error = response.extensions_mut().remove::<ApiError>();
    let status = response.status();
    if let Some(error) = error {
        response = render(response, &error, &ids, app.faults, app.variants);
    } else if status.is_client_error() || status.is_server_error() {
        // axum's own refusals (a bad path parameter, a method the route does
        // not have) get the same body as ours.
        let error = ApiError::from_status(status);
        response = render(response, &error, &ids, app.faults, app.variants);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::try_from(&ids.request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(value) = ids
        .client_request_id
        .and_then(|id| HeaderValue::try_from(id).ok())
    {
        headers.insert(CLIENT_REQUEST_ID, value);
    }
    if app.faults.has(Fault::NoRequestIds) {
        headers.remove(REQUEST_ID);
        headers.remove(CLIENT_REQUEST_ID);
    }
    if app.faults.has(Fault::SlowResponses) {
        tokio::time::sleep(SLOW_RESPONSE_DELAY).await;
    }
    if app.config.log_requests {
        eprintln!(
            "{method} {path} {} {:.1}ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    response
}

/// The size of a request's head as it came on the wire (request line,
/// header fields, the blank line), give or take optional whitespace. The HTTP
/// layer only refuses heads past twice the limit (it cannot answer with
/// Graph's body); this is what answers the rest with one.
fn head_size(request: &Request) -> usize {
    const VERSION_AND_CRLF: usize = " HTTP/1.1\r\n".len();
    let uri = request
        .uri()
        .path_and_query()
        .map_or(1, |target| target.as_str().len());
    let line = request.method().as_str().len() + 1 + uri + VERSION_AND_CRLF;
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + "\r\n".len())
        .sum();
    line + fields + "\r\n".len()
}

fn has_bearer_token(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        })
}

async fn unknown_path() -> ApiError {
    ApiError::NotFound("The requested resource does not exist.".into())
}

async fn create_call(State(app): State<Arc<App>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    // Absent when the router is served without connection info (see
    // `invite_reference::router`).
    let owner = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical());
    let body = app.json_body(&parts.headers, body).await?;
    let new = validate::new_call(&body, app.faults)?;
    let (id, mut call) = app.registry().create_call(new, &body, owner)?;
    let location = location(app.variants, &format!("/communications/calls/{id}"));
    add_call_context(&mut call, app.variants);
    Ok(json_response(
        StatusCode::CREATED,
        &call,
        Some(&location),
        app.variants,
    ))
}

async fn get_call(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    let call = app.registry().call(&call_id);
    match call {
        Some(mut call) => {
            add_call_context(&mut call, app.variants);
            Ok(json_response(StatusCode::OK, &call, None, app.variants))
        }
        None => Err(call_not_found(&call_id)),
    }
}

/// Under `extra-members`, the `@odata.context` Graph gives a call.
fn add_call_context(call: &mut Value, variants: VariantSet) {
    if variants.has(Variant::ExtraMembers) {
        call["@odata.context"] =
            "https://graph.microsoft.com/v1.0/$metadata#app/calls/$entity".into();
    }
}

/// Under `extra-members`, the `@odata.context` of an operation of `call_id`.
fn add_operation_context(operation: &mut Value, call_id: &str, variants: VariantSet) {
    if variants.has(Variant::ExtraMembers) {
        operation["@odata.context"] = format!(
            "https://graph.microsoft.com/v1.0/$metadata#communications/calls('{call_id}')/operations/$entity"
        )
        .into();
    }
}

async fn delete_call(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let ended = app.registry().end_call(&call_id);
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(call_not_found(&call_id))
    }
}

async fn list_participants(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    let roster = app.registry().roster(&call_id);
    match roster {
        Some(roster) => {
            let mut list = Map::new();
            list.insert("value".into(), Value::Array(roster));
            Ok(json_response(
                StatusCode::OK,
                &Value::Object(list),
                None,
                app.variants,
            ))
        }
        None => Err(call_not_found(&call_id)),
    }
}

async fn get_operation(
    State(app): State<Arc<App>>,
    Path((call_id, operation_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("Operation {operation_id:?} was not found."));
    if app.faults.has(Fault::OperationGet404) {
        return Err(not_found());
    }
    let ended_readable = app.variants.has(Variant::EndedOperationsReadable);
    let found = {
        let registry = app.registry();
        match registry.presence(&call_id) {
            Presence::Live(_) => registry.operation(&call_id, &operation_id),
            Presence::Ended if ended_readable => registry.operation(&call_id, &operation_id),
            Presence::Ended | Presence::Unknown => return Err(call_not_found(&call_id)),
        }
    };
    let Some(mut operation) = found else {
        return Err(not_found());
    };
    if app.faults.has(Fault::OperationGetStale) {
        // As it was when the invite was answered, whatever happened since.
        operation["status"] = "running".into();
    }
    if app.faults.has(Fault::OperationGetMismatch) {
        let context = operation["clientContext"].as_str().map(str::to_owned);
        operation["id"] = new_id().into();
        operation["clientContext"] = other_client_context(context.as_deref()).into();
    }
    add_operation_context(&mut operation, &call_id, app.variants);
    if let Some(mutation) = app.mutating.on(Document::Operation) {
        mutation.apply(&mut operation);
    }
    Ok(json_response(
        StatusCode::OK,
        &operation,
        None,
        app.variants,
    ))
}

async fn invite(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    invite_participants(app, call_id, headers, body).await
}

async fn invite_namespaced(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if app.faults.has(Fault::NotNamespaced) || app.variants.has(Variant::NamespacedPath404) {
        app.discard(body).await;
        return Err(unknown_path().await);
    }
    invite_participants(app, call_id, headers, body).await
}

/// `participants/invite`: checks the request, records a running operation,
/// answers with it, and completes it in the background.
async fn invite_participants(
    app: Arc<App>,
    call_id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (faults, variants) = (app.faults, app.variants);
    let presence = app.registry().presence(&call_id);
    // None: a fault accepts an invite on a call that is not live; it is
    // answered but nothing follows.
    let kind = match presence {
        Presence::Live(kind) => Some(kind),
        Presence::Ended if faults.has(Fault::EndedCallAcceptsInvite) => None,
        Presence::Unknown if faults.has(Fault::UnknownCallAcceptsInvite) => None,
        Presence::Ended | Presence::Unknown => {
            app.discard(body).await;
            return Err(call_not_found(&call_id));
        }
    };
    let body = app.json_body(&headers, body).await?;
    let invite = validate::invite(&body, faults)?;
    if let Some(kind) = kind {
        validate::invitee_count(kind, invite.participants.len(), faults, variants)?;
    }
    if faults.has(Fault::ServerErrorOnNonAscii) && validate::members_have_non_ascii(&body) {
        return Err(ApiError::Injected(
            "Unhandled exception: non-ASCII text.".into(),
        ));
    }
    if faults.has(Fault::ServerErrorOnPhone) && invite.participants.iter().any(validate::has_phone)
    {
        return Err(ApiError::Injected(
            "Unhandled exception: phone identity.".into(),
        ));
    }
    let mut operation = Operation {
        id: app.ids.operation(),
        client_context: invite.client_context,
        participants: invite.participants,
        status: if variants.has(Variant::NotStartedStatus) {
            OperationStatus::NotStarted
        } else {
            OperationStatus::Running
        },
        result_info: None,
    };
    if kind.is_some() && variants.has(Variant::TerminalInResponse) {
        // Completed before it is answered, under the same lock: nothing can
        // happen to the call in between.
        let mut registry = app.registry();
        registry.add_operation(&call_id, operation.clone())?;
        if let Some(ended) = registry.complete_invite(&call_id, &operation.id) {
            operation = ended;
        }
    } else if kind.is_some() {
        app.registry().add_operation(&call_id, operation.clone())?;
        let delay = app.operation_delay;
        let completing = Arc::clone(&app);
        let (call_id, operation_id) = (call_id.clone(), operation.id.clone());
        tokio::spawn(async move {
            if variants.has(Variant::ProgressNotification) {
                completing.registry().start_invite(&call_id, &operation_id);
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            completing
                .registry()
                .complete_invite(&call_id, &operation_id);
        });
    }
    Ok(invite_response(
        &call_id,
        &operation,
        faults,
        variants,
        &app.mutating,
    ))
}

/// The 200 answer to an invite, with the faults and variants that bend it.
fn invite_response(
    call_id: &str,
    operation: &Operation,
    faults: FaultSet,
    variants: VariantSet,
    mutating: &Mutating,
) -> Response {
    let mut body = operation.to_json(Place::Response, variants);
    if faults.has(Fault::InvalidOperationStatus) {
        body["status"] = "pending".into();
    }
    if faults.has(Fault::CompletedWithNotification) {
        body["status"] = "completed".into();
    }
    if faults.has(Fault::NoClientContextEcho) {
        crate::resources::remove(&mut body, "clientContext");
    }
    if faults.has(Fault::WrongClientContext) {
        body["clientContext"] = other_client_context(operation.client_context.as_deref()).into();
    }
    if faults.has(Fault::ParticipantsNotEchoed) {
        body["participants"] = Value::Array(Vec::new());
    }
    if faults.has(Fault::NoOperationId) {
        crate::resources::remove(&mut body, "id");
    }
    let echoed = body.get_mut("participants").and_then(Value::as_array_mut);
    for participant in echoed.into_iter().flatten() {
        if faults.has(Fault::EchoReplacesOtherCall)
            && participant
                .get("replacesCallId")
                .is_some_and(Value::is_string)
        {
            participant["replacesCallId"] = call_id.into();
        }
        if faults.has(Fault::WrongOdataType) && participant.is_object() {
            participant["@odata.type"] = "#microsoft.graph.participant".into();
        }
    }
    let operation_named = if faults.has(Fault::WrongLocationOpId) {
        new_id()
    } else {
        operation.id.clone()
    };
    let call_named = if faults.has(Fault::LocationWrongCall) {
        new_id()
    } else {
        call_id.to_owned()
    };
    add_operation_context(&mut body, call_id, variants);
    if let Some(mutation) = mutating.on(Document::Response) {
        mutation.apply(&mut body);
    }
    let location = location(
        variants,
        &format!("/communications/calls/{call_named}/operations/{operation_named}"),
    );
    let status = if faults.has(Fault::WrongSuccessStatus) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = (!faults.has(Fault::NoLocation)).then_some(location.as_str());
    let mut response = json_response(status, &body, location, variants);
    if faults.has(Fault::OperationTextPlain) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

/// A `Location` for `path` (which starts at `/communications`): under
/// `/v1.0`, or in the form a variant chooses (the earlier in `Variant::ALL`
/// wins).
fn location(variants: VariantSet, path: &str) -> String {
    if variants.has(Variant::LocationAbsolute) {
        format!("{ABSOLUTE_LOCATION_BASE}{path}")
    } else if variants.has(Variant::LocationPathOnly) {
        path.to_owned()
    } else {
        format!("/v1.0{path}")
    }
}

/// The Content-Type of every JSON answer.
pub(crate) fn json_content_type(variants: VariantSet) -> HeaderValue {
    HeaderValue::from_static(if variants.has(Variant::JsonContentTypeParameters) {
        GRAPH_JSON
    } else {
        "application/json"
    })
}

fn json_response(
    status: StatusCode,
    body: &Value,
    location: Option<&str>,
    variants: VariantSet,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, json_content_type(variants));
    // A call id taken from the path may hold characters a header cannot;
    // such ids only get here through the *-accepts-invite faults.
    if let Some(value) = location.and_then(|l| HeaderValue::try_from(l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    response
}
