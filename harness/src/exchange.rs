//! Sending one request to the target and capturing what came back, bounded in
//! time and size, with `Retry-After` honoured within a budget and reported.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{causes, chain, io_kind, TransportError};
use crate::route::{self, Base};

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path under the target URL, placeholders already filled.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub auth: bool,
}

impl HttpRequest {
    /// A request with the bearer token and no body.
    pub fn new(method: &str, path: impl Into<String>) -> Self {
        Self {
            method: method.to_owned(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            auth: true,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new("DELETE", path)
    }

    /// A POST of `body` as `application/json`.
    pub fn post_json(path: impl Into<String>, body: &Value) -> Self {
        Self::new("POST", path).json(body)
    }

    /// The first header named `name` (any casing).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The same request with `body` as `application/json`.
    #[must_use]
    pub fn json(mut self, body: &Value) -> Self {
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self.body = Some(body.to_string().into_bytes());
        self
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body's bytes when it is not JSON (a JSON body is kept parsed,
    /// in `json`, only).
    pub body: Vec<u8>,
    /// The body's length in bytes, JSON or not.
    pub body_len: usize,
    /// The body parsed as JSON, or why not (`None` when empty).
    pub json: Option<Result<Value, String>>,
    pub elapsed: Duration,
    /// `Retry-After` waits taken before this response, in seconds.
    pub retried_after: Vec<u64>,
    /// The first attempt met a connection that closed before answering and
    /// this (idempotent) request went again on a new connection.
    pub retried_on_new_connection: bool,
    /// Where the request went, resolved, under the target's URL (`/a/../b`
    /// went to `/b`): what a request line shows.
    pub sent_to: String,
    /// The redirects followed before this answer (`--follow-redirects`),
    /// each as `307 Temporary Redirect -> POST /there`.
    pub hops: Vec<String>,
    /// Why this answer, a redirect, was not followed (`--follow-redirects`
    /// follows none off the target's origin).
    pub not_followed: Option<String>,
}

impl HttpResponse {
    /// The first header named `name` (any casing).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body's first `max` bytes as a quoted, escaped excerpt that says
    /// the body's length when it is cut, for a message.
    pub fn body_excerpt(&self, max: usize) -> String {
        match self.json_value() {
            Some(json) => {
                let shown = crate::render::one_line(json);
                let shown = crate::render::truncate(&shown, max);
                if self.body_len > max {
                    format!("{shown} ({} bytes)", self.body_len)
                } else {
                    shown
                }
            }
            None => crate::sanitize::quote_bytes(&self.body, max),
        }
    }

    pub fn json_value(&self) -> Option<&Value> {
        self.json.as_ref().and_then(|r| r.as_ref().ok())
    }

    pub fn status_line(&self) -> String {
        status_line(self.status)
    }
}

/// `404 Not Found`; the code alone when it has no standard reason.
fn status_line(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_owned()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Limits of one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_body: usize,
    /// Total seconds of `Retry-After` the run may spend on one request.
    pub retry_budget_secs: u64,
    /// Follow redirects on the target's origin (`--follow-redirects`); by
    /// default a redirect is the target's answer, judged as any other.
    pub follow_redirects: bool,
}

/// Longest idle time after which a pooled connection is still reused;
/// under the keep-alive of common servers (hyper's default is 10 s or more).
const IDLE_REUSE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    route: Base,
    token: Option<String>,
    pub limits: Limits,
}

impl Http {
    /// The same target, token and limits with a client of its own (its own
    /// connection pool).
    pub fn fresh(&self) -> Result<Self, String> {
        Self::new(&self.base, self.token.clone(), self.limits)
    }

    pub fn new(base: &str, token: Option<String>, limits: Limits) -> Result<Self, String> {
        #[cfg(feature = "tls")]
        {
            // Several runs in one process may race to install it; either wins.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        #[cfg(not(feature = "tls"))]
        if base.starts_with("https://") {
            return Err(
                "this build has no TLS: run `cargo test --features tls -- --target https://…`"
                    .to_owned(),
            );
        }
        let route = Base::parse(base)?;
        let client = reqwest::Client::builder()
            // Redirects are the target's answer unless the user says
            // otherwise, and are then followed here, hop by hop (see `send`).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.timeout)
            .pool_max_idle_per_host(64)
            // A trial thread's connections are driven only while it sends
            // (see `Env::send`): one idle longer than a server's keep-alive
            // might be closed under it unseen, so it is not reused.
            .pool_idle_timeout(IDLE_REUSE)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            route,
            token,
            limits,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        // A thread's pooled connections are driven only while it blocks on a
        // send: one yield lets the I/O driver run first, so a connection the
        // target closed since the last send is seen closed before the pool
        // hands it out (a POST on it would fail, and is never sent twice).
        tokio::task::yield_now().await;
        let mut retried_after = Vec::new();
        let mut budget = self.limits.retry_budget_secs;
        loop {
            let mut response = self.send_following(request).await?;
            let wait = match response.status {
                429 | 503 => response.header("retry-after").and_then(retry_after_secs),
                _ => None,
            };
            match wait {
                Some(secs) if secs <= budget => {
                    budget -= secs;
                    retried_after.push(secs);
                    // The server said when to come back: waiting is the protocol.
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                _ => {
                    response.retried_after = retried_after;
                    return Ok(response);
                }
            }
        }
    }

    /// Sends to the resolved path (refused before anything is sent when it
    /// leaves the target's base path); under `--follow-redirects`, follows
    /// each redirect on the target's origin, a few at most and never in a
    /// loop. A redirect elsewhere is the answer, with why it was not followed.
    async fn send_following(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut url =
            self.route
                .resolve(&request.path)
                .map_err(|message| TransportError::Refused {
                    url: crate::sanitize::excerpt(&self.url(&request.path), 200).into_owned(),
                    message,
                })?;
        let sent_to = self.route.shown(&url);
        let mut current = std::borrow::Cow::Borrowed(request);
        let mut visited = vec![url.clone()];
        let mut hops = Vec::new();
        loop {
            let mut response = self.send_or_resend(&current, &url).await?;
            let location = response
                .header("location")
                .filter(|_| self.limits.follow_redirects && route::is_redirect(response.status));
            let next = location.map(|l| url.join(l).map_err(|e| (l.to_owned(), e)));
            let hop = match next {
                None => None,
                Some(Err((location, e))) => {
                    response.not_followed = Some(format!(
                        "its Location {} is not a URL: {e}",
                        crate::sanitize::quote(&location)
                    ));
                    None
                }
                Some(Ok(next)) if next.origin() != url.origin() => {
                    response.not_followed = Some(format!(
                        "{} is on another origin",
                        crate::sanitize::quote(next.as_str())
                    ));
                    None
                }
                Some(Ok(next)) => Some(next),
            };
            let Some(next) = hop else {
                response.sent_to = sent_to;
                response.hops = hops;
                return Ok(response);
            };
            let (method, keep_body) = route::redirected_method(response.status, &current.method);
            hops.push(format!(
                "{} -> {method} {}",
                response.status_line(),
                self.route.shown(&next)
            ));
            let looped = visited.contains(&next);
            if looped || hops.len() > route::MAX_REDIRECTS {
                let what = if looped {
                    "redirect loop".to_owned()
                } else {
                    format!("more than {} redirects", route::MAX_REDIRECTS)
                };
                return Err(TransportError::Other {
                    url: crate::sanitize::excerpt(&self.url(&request.path), 200).into_owned(),
                    message: format!("{what}: {}", hops.join(" -> ")),
                });
            }
            visited.push(next.clone());
            let mut redirected = current.into_owned();
            redirected.method = method;
            if !keep_body {
                redirected.body = None;
                redirected
                    .headers
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            }
            current = std::borrow::Cow::Owned(redirected);
            url = next;
        }
    }

    /// Sends once; an idempotent request (GET, HEAD, DELETE, PUT, OPTIONS)
    /// whose connection closed before any response byte goes once more, on a
    /// new connection. Any other request is never sent twice: the target may
    /// have acted on it.
    async fn send_or_resend(
        &self,
        request: &HttpRequest,
        url: &reqwest::Url,
    ) -> Result<HttpResponse, TransportError> {
        match self.send_once(request, url).await {
            Err(TransportError::Closed { .. }) if is_idempotent(&request.method) => {
                let fresh = self.fresh().map_err(|message| TransportError::Other {
                    url: url.to_string(),
                    message,
                })?;
                let mut response = fresh.send_once(request, url).await?;
                response.retried_on_new_connection = true;
                Ok(response)
            }
            other => other,
        }
    }

    async fn send_once(
        &self,
        request: &HttpRequest,
        target: &reqwest::Url,
    ) -> Result<HttpResponse, TransportError> {
        // Shown in errors: an excerpt (a path may carry a target's huge id).
        let url = crate::sanitize::excerpt(target.as_str(), 200).into_owned();
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| {
            TransportError::Other {
                url: url.clone(),
                message: format!("bad method {:?}: {e}", request.method),
            }
        })?;
        let mut builder = self.client.request(method, target.clone());
        if request.auth {
            if let Some(token) = &self.token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
        }
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let timeout_ms = u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX);
        let max_body = self.limits.max_body;
        // How far the exchange got, read after a timeout to say where it stalled.
        let mut progress: Option<(String, usize)> = None;
        let exchange = async {
            let mut response = builder.send().await.map_err(|e| classify(&url, &e))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect::<Vec<_>>();
            let status_line = status_line(status);
            // A declared length past the limit is refused before a byte is read.
            if let Some(declared) = response
                .content_length()
                .filter(|n| usize::try_from(*n).map_or(true, |n| n > max_body))
            {
                return Err(TransportError::Body {
                    url: url.clone(),
                    message: format!(
                        "{status_line} declares a body of {declared} bytes, larger than {max_body} bytes; it was not read"
                    ),
                });
            }
            progress = Some((status_line, 0));
            // Room for what is declared, once: growing by doubling copies a
            // large body over and over, each copy resident for a while.
            let declared = response
                .content_length()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            let mut body = Vec::with_capacity(declared.min(max_body));
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) => {
                        return Err(TransportError::Body {
                            url: url.clone(),
                            message: body_failure(&e, body.len()),
                        })
                    }
                };
                if body.len() + chunk.len() > max_body {
                    return Err(TransportError::Body {
                        url: url.clone(),
                        message: format!(
                            "the body is larger than {max_body} bytes; the rest was not read"
                        ),
                    });
                }
                body.extend_from_slice(&chunk);
                if let Some((_, read)) = progress.as_mut() {
                    *read = body.len();
                }
            }
            Ok((status, headers, body))
        };
        let outcome = tokio::time::timeout(self.limits.timeout, exchange).await;
        let (status, headers, body) = match outcome {
            Ok(result) => result?,
            // The head came and the body did not: a stall or a drip, not silence.
            Err(_) => match progress {
                Some((status_line, read)) => {
                    return Err(TransportError::Body {
                        url,
                        message: format!(
                            "{status_line} came, then only {read} byte(s) of its body within {timeout_ms} ms"
                        ),
                    })
                }
                None => return Err(TransportError::Timeout { url, timeout_ms }),
            },
        };
        let json = if body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&body).map_err(|e| {
                let preview = crate::sanitize::quote_bytes(&body, 120);
                format!("not JSON ({e}); the body starts {preview}")
            }))
        };
        let body_len = body.len();
        // A body that parsed is kept parsed only: a trial holds its
        // responses to its end, and a target's megabytes held twice over,
        // in every trial at once, are what a run's memory is made of.
        let body = if matches!(json, Some(Ok(_))) {
            Vec::new()
        } else {
            body
        };
        Ok(HttpResponse {
            status,
            headers,
            body,
            body_len,
            json,
            elapsed: started.elapsed(),
            retried_after: Vec::new(),
            retried_on_new_connection: false,
            sent_to: String::new(),
            hops: Vec::new(),
            not_followed: None,
        })
    }
}

/// Seconds a `Retry-After` value asks for: delay-seconds, or an HTTP date
/// (what is left until it, rounded up; a date past is no wait).
pub fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
}

/// Why reading a body failed, naming a reset or an early close, which
/// reqwest reports only as "error decoding response body".
fn body_failure(e: &reqwest::Error, read: usize) -> String {
    let chain = chain(e);
    let io_kind = io_kind(e);
    match io_kind {
        Some(std::io::ErrorKind::ConnectionReset) => {
            format!("the target reset the connection after {read} byte(s) of the body ({chain})")
        }
        Some(std::io::ErrorKind::UnexpectedEof) => {
            format!("the target closed the connection after {read} byte(s) of the body ({chain})")
        }
        _ => format!("failed after {read} byte(s) of the body: {chain}"),
    }
}

fn classify(url: &str, e: &reqwest::Error) -> TransportError {
    let message = chain(e);
    let url = url.to_owned();
    if e.is_connect() {
        TransportError::Connect { url, message }
    } else if closed_early(e) {
        TransportError::Closed { url, message }
    } else {
        TransportError::Other { url, message }
    }
}

/// Methods RFC 9110 §9.2.2 calls idempotent: sending one twice does what
/// sending it once does.
fn is_idempotent(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "DELETE" | "PUT" | "OPTIONS"
    )
}

/// The connection ended before a response head came: a reset, a broken
/// pipe, or hyper's "connection closed before message completed".
fn closed_early(e: &reqwest::Error) -> bool {
    matches!(
        io_kind(e),
        Some(
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    ) || causes(e).any(|c| {
        c.to_string()
            .contains("connection closed before message completed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(retry_after_secs(" 7 "), Some(7));
        // An HTTP date has whole seconds: ten from now reads as 9 to 10 left.
        let soon = std::time::SystemTime::now() + Duration::from_secs(10);
        let secs = retry_after_secs(&httpdate::fmt_http_date(soon));
        assert!(matches!(secs, Some(9 | 10)), "{secs:?}");
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(0),
            "a date past asks for no wait"
        );
        assert_eq!(retry_after_secs("soon"), None);
    }

    #[test]
    fn only_idempotent_methods_are_sent_twice() {
        for m in ["GET", "delete", "PUT", "HEAD", "OPTIONS"] {
            assert!(is_idempotent(m), "{m}");
        }
        for m in ["POST", "PATCH"] {
            assert!(!is_idempotent(m), "{m}");
        }
    }
}
