//! What talks to the target: the HTTP client (one per trial thread), the
//! callback listener, the runtime that serves the listener (and the
//! embedded implementation, when there is one), and the checks before any
//! trial that the target can be reached and takes the token.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{SetupError, TransportError};
use crate::exchange::{Http, HttpRequest, HttpResponse, Limits};
use crate::listener::{Caps, Envelope, Listener};

/// Keeps an embedded implementation serving until it is dropped.
pub type Guard = Box<dyn std::any::Any + Send + Sync>;

/// How to reach a target, and listen for what it sends.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The base URL, ending at the version segment.
    pub base: String,
    /// The bearer token (never printed).
    pub token: Option<String>,
    pub limits: Limits,
    /// Where the listener binds, and the public URL that reaches it.
    pub listen: String,
    pub callback_url: Option<String>,
    pub caps: Caps,
    pub envelope: Envelope,
}

/// A trial thread's own runtime and HTTP client, for the [`Target`] `target`.
struct Local {
    target: u64,
    runtime: tokio::runtime::Runtime,
    http: Http,
}

thread_local! {
    static LOCAL: std::cell::RefCell<Option<Local>> = const { std::cell::RefCell::new(None) };
}

/// Tells targets apart, so a thread never uses another run's client.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The target of a run, and the listener it notifies.
pub struct Target {
    id: u64,
    /// Serves the listener and the embedded implementation.
    runtime: tokio::runtime::Runtime,
    http: Http,
    listener: Listener,
    /// Requests sent through [`Target::send`]: a run whose trials sent none
    /// checked nothing, whatever libtest counts as passed.
    sent: AtomicUsize,
    /// Keeps the embedded implementation alive for the run.
    _embedded: Option<Guard>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base", &self.http.base())
            .finish_non_exhaustive()
    }
}

/// The runtime a run serves its listener (and embedded implementation) on.
/// One thread: trials drive their own requests (see [`Target::send`]), and
/// a second worker cost more in hand-offs than it added (bench/README.md).
pub fn runtime() -> Result<tokio::runtime::Runtime, SetupError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(SetupError::Runtime)
}

impl Target {
    /// Connects to the target `reach` names. One the user gave (`embedded`
    /// is `None`) is first reached once over TCP and, with `preflight`, asked
    /// one request that needs the token: an unreachable target or a refused
    /// token is then one clear error, not one per trial.
    pub fn open(
        runtime: tokio::runtime::Runtime,
        reach: Reach,
        embedded: Option<Guard>,
        preflight: Option<(&str, &str)>,
    ) -> Result<Self, SetupError> {
        if embedded.is_none() {
            validate_url(&reach.base)?;
        }
        let http =
            Http::new(&reach.base, reach.token.clone(), reach.limits).map_err(|message| {
                SetupError::Target {
                    url: reach.base.clone(),
                    message,
                }
            })?;
        if embedded.is_none() {
            runtime.block_on(probe(&reach.base, reach.limits.timeout))?;
            if let Some((path, token_env)) = preflight {
                runtime.block_on(preflight_request(
                    &http,
                    path,
                    token_env,
                    reach.token.is_some(),
                ))?;
            }
        }
        let listener = runtime
            .block_on(Listener::start_with(
                &reach.listen,
                reach.callback_url.clone(),
                reach.envelope,
                reach.caps,
            ))
            .map_err(|source| SetupError::Listen {
                addr: reach.listen.clone(),
                source,
            })?;
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            runtime,
            http,
            listener,
            sent: AtomicUsize::new(0),
            _embedded: embedded,
        })
    }

    /// The callback listener.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// The limits of one exchange (deadline, body size, retry budget).
    pub fn limits(&self) -> Limits {
        self.http.limits
    }

    /// Runs a future to completion from a trial's (synchronous) thread, on
    /// that thread (see [`Target::send`]).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.on_this_thread(|runtime, _| runtime.block_on(future))
    }

    /// Sends from the calling thread with its own client: the exchange is
    /// driven where it is awaited, instead of handing every request and
    /// response across threads to the shared runtime's workers (two thread
    /// wake-ups an exchange, a fifth of the CPU of a generated input).
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.on_this_thread(|runtime, http| runtime.block_on(http.send(request)))
    }

    /// Sends on a connection of its own, opened for this request: a retry
    /// that must not meet the pooled connection that just failed.
    pub fn send_on_new_connection(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        let http = self.http.fresh().map_err(|message| TransportError::Other {
            url: self.http.url(&request.path),
            message,
        })?;
        self.on_this_thread(|runtime, _| runtime.block_on(http.send(request)))
    }

    /// How many requests went to the target through [`Target::send`].
    pub fn requests_sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    fn on_this_thread<R>(&self, f: impl FnOnce(&tokio::runtime::Runtime, &Http) -> R) -> R {
        LOCAL.with(|cell| {
            let mut local = cell.borrow_mut();
            if local.as_ref().is_none_or(|l| l.target != self.id) {
                *local = self.local().ok();
            }
            match local.as_ref() {
                Some(l) => f(&l.runtime, &l.http),
                // No thread runtime to be had: the shared one still works.
                None => f(&self.runtime, &self.http),
            }
        })
    }

    fn local(&self) -> Result<Local, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Local {
            target: self.id,
            runtime,
            // Its own connection pool: a pooled connection's task lives on the
            // runtime of the thread that opened it, idle while that thread is not
            // blocking on a future, so connections are never shared across threads.
            http: self.http.fresh()?,
        })
    }
}

/// One TCP connection to the target before any trial: an unreachable target
/// is one clear "could not run", not one transport error per case.
async fn probe(base: &str, timeout: Duration) -> Result<(), SetupError> {
    let unreachable = |message: String| SetupError::Target {
        url: base.to_owned(),
        message,
    };
    let url = reqwest::Url::parse(base).map_err(|e| unreachable(e.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| unreachable("the URL has no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| unreachable("the URL has no port".into()))?;
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(format!("unreachable: {e}"))),
        Err(_) => Err(unreachable(format!(
            "unreachable: no TCP connection within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// One request that needs the token, before any trial: a target that
/// refuses it refuses every request, and a run of 401s is no finding about
/// the contract. Any answer but 401 and 403 lets the run go on.
async fn preflight_request(
    http: &Http,
    path: &str,
    token_env: &str,
    token_sent: bool,
) -> Result<(), SetupError> {
    let request = HttpRequest::get(path);
    let response = match http.send(&request).await {
        Ok(r) => r,
        // No answer at all, or no connection (a TLS handshake with a
        // plain-HTTP server): every trial would meet the same, once each.
        Err(e @ (TransportError::Timeout { .. } | TransportError::Connect { .. })) => {
            return Err(SetupError::Target {
                url: http.base().to_owned(),
                message: no_answer(&e, http.base()),
            })
        }
        // A slow or broken answer is for the trials to report, each with
        // its request.
        Err(_) => return Ok(()),
    };
    if !matches!(response.status, 401 | 403) {
        return Ok(());
    }
    let what_to_do = if token_sent {
        format!("set {token_env} to a bearer token the target accepts")
    } else {
        format!("no token was sent: set {token_env} to a bearer token (an embedded implementation may accept any)")
    };
    Err(SetupError::Refused {
        message: format!(
            "GET {path} answered {}: {what_to_do}",
            response.status_line()
        ),
    })
}

/// What to say of a target that gave the preflight no answer at all.
fn no_answer(e: &TransportError, base: &str) -> String {
    let text = e.to_string();
    let tls = [
        "corrupt message",
        "InvalidContentType",
        "tls",
        "TLS",
        "handshake",
    ]
    .iter()
    .any(|w| text.contains(w));
    if base.starts_with("https://") && tls {
        format!("{text}: is the target plain HTTP? Then its URL starts with http://")
    } else if matches!(e, TransportError::Timeout { .. }) {
        format!(
            "{text}: it accepted the connection and said nothing (is --target the server you meant? --response-timeout-ms gives a slow one longer)"
        )
    } else {
        format!("unreachable: {text}")
    }
}

/// A cheap check that the target is an http(s) URL, so a typo fails once,
/// clearly, instead of as one transport error per case.
fn validate_url(url: &str) -> Result<(), SetupError> {
    let problem = if !(url.starts_with("http://") || url.starts_with("https://")) {
        Some("the URL must start with http:// or https://")
    } else if url.contains(char::is_whitespace) {
        Some("the URL contains whitespace")
    } else {
        None
    };
    match problem {
        Some(message) => Err(SetupError::Target {
            url: url.to_owned(),
            message: message.to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain-HTTP server on loopback that answers every request 404,
    /// read in full first; its address.
    async fn plain_http() -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        addr
    }

    fn limits() -> Limits {
        Limits {
            timeout: Duration::from_millis(2000),
            max_body: 1 << 20,
            retry_budget_secs: 0,
            follow_redirects: false,
        }
    }

    #[test]
    fn a_target_that_gives_no_answer_stops_the_run_at_the_preflight() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let said = runtime.block_on(async {
            // Accepts and says nothing.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let held = tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((stream, _)) = listener.accept().await {
                    open.push(stream);
                }
            });
            let mut limits = limits();
            limits.timeout = Duration::from_millis(300);
            let http = Http::new(&format!("http://{addr}/v1.0"), None, limits).unwrap();
            let said = preflight_request(&http, "/x", "T", false).await;
            held.abort();
            said
        });
        let message = said.expect_err("no answer stops the run").to_string();
        assert!(message.contains("said nothing"), "{message}");
    }

    /// The preflight against the plain-HTTP server, as `scheme` names it.
    fn preflight_plain_http(scheme: &str) -> Result<(), SetupError> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let addr = plain_http().await;
            let http = Http::new(&format!("{scheme}://{addr}/v1.0"), None, limits()).unwrap();
            preflight_request(&http, "/x", "T", false).await
        })
    }

    #[cfg(feature = "tls")]
    #[test]
    fn an_https_target_that_speaks_plain_http_stops_the_run_at_the_preflight() {
        let said = preflight_plain_http("https");
        let message = said.expect_err("a TLS failure stops the run").to_string();
        assert!(
            message.contains("is the target plain HTTP? Then its URL starts with http://"),
            "{message}"
        );
    }

    #[test]
    fn a_plain_http_target_that_answers_is_no_setup_error() {
        let said = preflight_plain_http("http");
        assert!(said.is_ok(), "{said:?}");
    }
}
