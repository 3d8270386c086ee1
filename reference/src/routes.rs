//! The HTTP surface: the routes under `/v1.0`, the per-request middleware
//! (auth, request ids, logging, and the exit where every answer passes
//! through the seam) and the handlers, which answer with data
//! ([`Answer`]) or a refusal ([`ApiError`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::notify::Delivery;
use crate::resources::{new_id, Ids, Operation};
use crate::seam::{Decision, Rules, Seam};
use crate::sent::{Answer, RequestIds, CLIENT_REQUEST_ID};
use crate::state::{call_not_found, Announced, Presence, Registry};
use crate::validate;

/// What every handler shares.
struct App {
    config: Config,
    rules: Rules,
    timing: Arc<crate::timing::Timing>,
    seam: Arc<Seam>,
    ids: Arc<Ids>,
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
        if let Err(error) = validate::check_content_type(headers) {
            if !self.rules.decide(Decision::ParseAnyContentType) {
                self.discard(body).await;
                return Err(error);
            }
        }
        let bytes = validate::read_body(
            headers,
            body,
            self.config.body_limit,
            self.config.body_timeout,
        )
        .await?;
        match validate::parse_object(&bytes) {
            Err(_) if self.rules.decide(Decision::ReadUnparseableAsEmpty) => Ok(Map::new()),
            parsed => parsed,
        }
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
    let seam = Arc::new(Seam::new(&config));
    let rules = seam.rules();
    let ids = Arc::new(Ids::new(rules.decide(Decision::NumberIds)));
    let timing = Arc::new(crate::timing::Timing::new(&config));
    let delivery = Arc::new(Delivery::new(
        &config,
        Arc::clone(&seam),
        Arc::clone(&timing),
    ));
    let registry = Registry::new(
        delivery,
        rules,
        Arc::clone(&ids),
        config.max_calls_per_client,
    );
    let app = Arc::new(App {
        config,
        rules,
        timing,
        seam,
        ids,
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
/// token, stamps request ids, and sends every answer out through the seam.
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
    let authorized =
        has_bearer_token(request.headers()) || app.rules.decide(Decision::AcceptWithoutToken);
    // A head too large is refused first, as a front end would, before
    // anything in it (the token included) is looked at.
    let refused = if head > app.config.max_header_bytes {
        Some(ApiError::HeadersTooLarge(app.config.max_header_bytes))
    } else if !authorized {
        Some(ApiError::Unauthorized)
    } else {
        None
    };
    let response = match refused {
        None => next.run(request).await,
        Some(error) => {
            app.discard(request.into_body()).await;
            error.into_response()
        }
    };
    let response = app.seam.answer(response, ids);
    let delay = app.rules.answer_delay + app.timing.answer();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
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

async fn create_call(State(app): State<Arc<App>>, request: Request) -> Result<Answer, ApiError> {
    let (parts, body) = request.into_parts();
    // Absent when the router is served without connection info (see
    // `invite_reference::router`).
    let owner = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical());
    let body = app.json_body(&parts.headers, body).await?;
    let new = validate::new_call(&body, &app.rules)?;
    let (id, call) = app.registry().create_call(new, &body, owner)?;
    Ok(Answer::call_created(&id, call))
}

async fn get_call(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<Answer, ApiError> {
    let call = app.registry().call(&call_id);
    match call {
        Some(call) => Ok(Answer::call(&call_id, call)),
        None => Err(call_not_found(&call_id)),
    }
}

async fn delete_call(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<Answer, ApiError> {
    let ended = app.registry().end_call(&call_id);
    if ended {
        Ok(Answer::call_deleted(&call_id))
    } else {
        Err(call_not_found(&call_id))
    }
}

async fn list_participants(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
) -> Result<Answer, ApiError> {
    let roster = app.registry().roster(&call_id);
    match roster {
        Some(roster) => {
            let listed = roster.iter().map(|participant| participant.to_json());
            Ok(Answer::participants(&call_id, listed.collect()))
        }
        None => Err(call_not_found(&call_id)),
    }
}

async fn get_operation(
    State(app): State<Arc<App>>,
    Path((call_id, operation_id)): Path<(String, String)>,
) -> Result<Answer, ApiError> {
    let not_found = || ApiError::NotFound(format!("Operation {operation_id:?} was not found."));
    if app.rules.decide(Decision::HideOperations) {
        return Err(not_found());
    }
    let found = app.registry().operation(&call_id, &operation_id)?;
    match found {
        Some(operation) => Ok(Answer::operation(&call_id, operation)),
        None => Err(not_found()),
    }
}

async fn invite(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Answer, ApiError> {
    invite_participants(app, call_id, headers, body).await
}

async fn invite_namespaced(
    State(app): State<Arc<App>>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Answer, ApiError> {
    if app.rules.decide(Decision::RefuseNamespacedPath) {
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
) -> Result<Answer, ApiError> {
    let rules = app.rules;
    let presence = app.registry().presence(&call_id);
    // None: the server answers an invite on a call that is not live;
    // nothing follows.
    let kind = match presence {
        Presence::Live(kind) => Some(kind),
        Presence::Ended if rules.decide(Decision::AcceptInviteOnEndedCall) => None,
        Presence::Unknown if rules.decide(Decision::AcceptInviteOnUnknownCall) => None,
        Presence::Ended | Presence::Unknown => {
            app.discard(body).await;
            return Err(call_not_found(&call_id));
        }
    };
    let body = app.json_body(&headers, body).await?;
    let invite = validate::invite(&body, &rules)?;
    if let Some(kind) = kind {
        validate::invitee_count(kind, invite.participants.len(), &rules)?;
    }
    app.seam.refuse_invite(&body)?;
    let mut operation = Operation {
        id: app.ids.operation(),
        client_context: invite.client_context,
        participants: invite.participants,
        status: rules.first_status,
        result_info: None,
    };
    if kind.is_some() && rules.decide(Decision::CompleteBeforeAnswering) {
        // Completed before it is answered, under the same lock: nothing can
        // happen to the call in between.
        let mut registry = app.registry();
        registry.add_operation(&call_id, operation.clone())?;
        if let Some(ended) = registry.complete_invite(&call_id, &operation.id, Announced::InAnswer)
        {
            operation = ended;
        }
    } else if kind.is_some() {
        app.registry().add_operation(&call_id, operation.clone())?;
        let completing = Arc::clone(&app);
        let (call_id, operation_id) = (call_id.clone(), operation.id.clone());
        tokio::spawn(async move {
            if rules.decide(Decision::AnnounceProgress) {
                completing.registry().start_invite(&call_id, &operation_id);
            }
            let delay = rules.operation_delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            completing.registry().complete_invite(
                &call_id,
                &operation_id,
                Announced::ByNotification,
            );
        });
    }
    Ok(Answer::invite(&call_id, &operation))
}
