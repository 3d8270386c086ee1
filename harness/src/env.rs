//! The run's shared environment: runtime, HTTP client, listener, schemas,
//! options. Built once, on first use, so `--list` never touches any of it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::cli::Cli;
use crate::contract::{Contract, Fixture};
use crate::error::{SetupError, TransportError};
use crate::exchange::{Http, HttpRequest, HttpResponse, Limits};
use crate::listener::Listener;
use crate::schema::Schemas;
use crate::verdict::Verdict;

/// Options the trials read.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub strict: bool,
    pub notification_timeout: Duration,
    pub group_call_id: Option<String>,
    pub p2p_call_id: Option<String>,
    /// The target as the user named it (`None`: the embedded server).
    pub target: Option<String>,
    /// Where failing properties write their shrunk case files.
    pub save_failures: Option<std::path::PathBuf>,
    /// Calls may be created on the target.
    pub create_calls: bool,
    /// The target's notifications reach the suite's listener.
    pub notifications: bool,
}

/// A trial thread's own runtime and HTTP client, for the [`Env`] `env`.
struct Local {
    env: u64,
    runtime: tokio::runtime::Runtime,
    http: Http,
}

thread_local! {
    static LOCAL: std::cell::RefCell<Option<Local>> = const { std::cell::RefCell::new(None) };
}

/// Tells environments apart, so a thread never uses another's client.
static NEXT_ENV_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub struct Env {
    id: u64,
    /// Serves the listener and the embedded server.
    runtime: tokio::runtime::Runtime,
    pub http: Http,
    pub listener: Listener,
    pub schemas: Schemas,
    pub options: RunOptions,
    /// Values never printed: the bearer token.
    pub secrets: Vec<String>,
    /// Every finished trial's verdict, for reports.
    pub verdicts: Mutex<Vec<Verdict>>,
    /// What the suite created on the target and has not ended yet: ended as
    /// each case ends, and whatever is left when the run ends.
    owned: Mutex<std::collections::BTreeMap<String, Fixture>>,
    /// What the suite could not end, with the target's answer: reported at
    /// the end of the run.
    unreleased: Mutex<Vec<Unreleased>>,
    /// Keeps the embedded server alive for the run.
    _embedded: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("target", &self.http.base())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Env {
    pub fn build(cli: &Cli, contract: &dyn Contract) -> Result<Self, SetupError> {
        // One thread serves the listener and the embedded server; trials drive
        // their own requests (see `Env::send`). A second worker cost more in
        // hand-offs between the two than it added (measured: bench/README.md).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        let schemas = Schemas::load(&cli.schemas)?;
        let token = std::env::var(&cli.token_env).ok().filter(|t| !t.is_empty());
        let (base, embedded) = match &cli.target {
            Some(url) => {
                validate_target(url)?;
                (url.clone(), None)
            }
            None => {
                let (base, guard) = contract
                    .start_embedded(runtime.handle())
                    .map_err(SetupError::Embedded)?;
                (base, Some(guard))
            }
        };
        if token.is_none() && embedded.is_none() {
            eprintln!(
                "note: {} is not set; requests to the target go without Authorization",
                cli.token_env
            );
        }
        // The embedded server accepts any bearer token; send one so auth is exercised.
        let token = token.or_else(|| embedded.as_ref().map(|_| "embedded-token".to_owned()));
        let limits = Limits {
            timeout: Duration::from_millis(cli.response_timeout_ms),
            max_body: 8 << 20,
            retry_budget_secs: cli.retry_budget_secs,
        };
        let http =
            Http::new(&base, token.clone(), limits).map_err(|message| SetupError::Target {
                url: base.clone(),
                message,
            })?;
        if cli.target.is_some() {
            runtime.block_on(probe(&base, limits.timeout))?;
        }
        let listener = runtime
            .block_on(Listener::start(&cli.listen, cli.callback_url.clone()))
            .map_err(|source| SetupError::Listen {
                addr: cli.listen.clone(),
                source,
            })?;
        Ok(Self {
            id: NEXT_ENV_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            runtime,
            http,
            listener,
            schemas,
            options: RunOptions {
                strict: cli.strict,
                notification_timeout: Duration::from_millis(cli.notification_timeout_ms),
                group_call_id: cli.group_call_id.clone(),
                p2p_call_id: cli.p2p_call_id.clone(),
                target: cli.target.clone(),
                save_failures: cli.save_failures.clone(),
                create_calls: !cli.no_create_calls,
                notifications: !cli.no_notifications,
            },
            secrets: token.into_iter().collect(),
            verdicts: Mutex::new(Vec::new()),
            owned: Mutex::default(),
            unreleased: Mutex::default(),
            _embedded: embedded,
        })
    }

    /// Runs a future to completion from a trial's (synchronous) thread, on
    /// that thread (see [`Env::send`]).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.on_this_thread(|runtime, _| runtime.block_on(future))
    }

    /// Sends from the calling thread with its own client: the exchange is
    /// driven where it is awaited, instead of handing every request and
    /// response across threads to the shared runtime's workers (two thread
    /// wake-ups an exchange, a fifth of the CPU of a generated invite).
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.on_this_thread(|runtime, http| runtime.block_on(http.send(request)))
    }

    fn on_this_thread<R>(&self, f: impl FnOnce(&tokio::runtime::Runtime, &Http) -> R) -> R {
        LOCAL.with(|cell| {
            let mut local = cell.borrow_mut();
            if local.as_ref().is_none_or(|l| l.env != self.id) {
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
            env: self.id,
            runtime,
            // Its own connection pool: a pooled connection's task lives on the
            // runtime of the thread that opened it, idle while that thread is not
            // blocking on a future, so connections are never shared across threads.
            http: self.http.fresh()?,
        })
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

    /// Registers a fixture the suite created: it will be ended.
    pub fn own(&self, fixture: &Fixture) {
        lock(&self.owned).insert(fixture.id.clone(), fixture.clone());
    }

    /// Takes a fixture off the register (it was ended); false if it was not on it.
    pub fn disown(&self, id: &str) -> bool {
        lock(&self.owned).remove(id).is_some()
    }

    /// Whether the suite created the fixture with this id and has not ended it.
    pub fn owns(&self, id: &str) -> bool {
        lock(&self.owned).contains_key(id)
    }

    /// Everything still on the register.
    pub fn owned_list(&self) -> Vec<Fixture> {
        lock(&self.owned).values().cloned().collect()
    }

    /// Notes a fixture the suite could not end.
    pub fn unreleased(&self, fixture: &Fixture, answer: String) {
        lock(&self.unreleased).push(Unreleased {
            kind: fixture.kind.clone(),
            id: fixture.id.clone(),
            answer,
        });
    }

    /// What could not be ended, so far.
    pub fn unreleased_list(&self) -> Vec<Unreleased> {
        lock(&self.unreleased).clone()
    }

    pub fn record(&self, verdict: Verdict) {
        self.verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(verdict);
    }
}

/// A fixture the suite created and could not end, and what the target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreleased {
    pub kind: String,
    pub id: String,
    pub answer: String,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

/// A cheap check that the target is an http(s) URL, so a typo fails once,
/// clearly, instead of as one transport error per case.
fn validate_target(url: &str) -> Result<(), SetupError> {
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

/// The environment, built on first use and shared by every trial.
pub type SharedEnv = Arc<std::sync::OnceLock<Result<Env, String>>>;
