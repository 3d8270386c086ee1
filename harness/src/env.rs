//! The run's shared environment: runtime, HTTP client, listener, schemas,
//! options. Built once, on first use, so `--list` never touches any of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::Cli;
use crate::contract::{Contract, Fixture, RerunOption};
use crate::error::{SetupError, TransportError};
use crate::exchange::{Http, HttpRequest, HttpResponse, Limits};
use crate::listener::Listener;
use crate::lock;
use crate::schema::Schemas;
use crate::verdict::Verdict;

/// Options the trials read.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub strict: bool,
    /// The profile the run is judged under.
    pub profile: crate::profile::Profile,
    pub notification_timeout: Duration,
    /// The target as the user named it (`None`: the embedded server).
    pub target: Option<String>,
    /// Where failing properties write their shrunk case files.
    pub save_failures: Option<std::path::PathBuf>,
    /// The target's notifications reach the suite's listener.
    pub notifications: bool,
    /// Threads a property runs its generated inputs on (`--test-threads`).
    pub workers: usize,
    /// The checks the run judges (`--checks`, `--level`).
    pub selection: crate::selection::Selection,
    /// How the properties' seeds are chosen (`--seed`).
    pub seeding: crate::seed::Seeding,
    /// Where failing inputs' seeds are kept for this target (`None`: not kept).
    pub regressions: Option<crate::regressions::Keeping>,
    /// How to run the same thing again: what every rerun line carries.
    pub rerun: RerunArgs,
}

/// The options that change a verdict, as a rerun line must give them: flags
/// for `cargo test`, variables for `cargo nextest run` (which passes no
/// flags), and the variable that holds the token (never its value).
#[derive(Debug, Clone, Default)]
pub struct RerunArgs {
    /// `(flag, variable, value)`; an empty value is a switch.
    options: Vec<(&'static str, &'static str, String)>,
    /// The variable the token was read from, when one was sent.
    token_env: Option<String>,
    /// What selects the suite's test binary (`-p crate --test suite`).
    cargo_args: &'static str,
}

impl RerunArgs {
    /// What the run was given that a rerun must be given too.
    pub fn from_cli(cli: &Cli, token_sent: bool, contract: Vec<RerunOption>) -> Self {
        let mut options = Vec::new();
        let mut add = |flag: &'static str, var: &'static str, value: String| {
            options.push((flag, var, value));
        };
        let shell = |s: &str| shell_quote(s);
        if let Some(t) = &cli.target {
            add("--target", "CONFORMANCE_TARGET", shell(t));
        }
        if cli.token_env != "CONFORMANCE_TOKEN" {
            add(
                "--token-env",
                "CONFORMANCE_TOKEN_ENV",
                shell(&cli.token_env),
            );
        }
        for option in contract {
            add(option.flag, option.var, shell_word(&option.value));
        }
        if let Some(p) = &cli.profile {
            add("--profile", "CONFORMANCE_PROFILE", shell(p));
        }
        if let Some(v) = &cli.callback_url {
            add("--callback-url", "CONFORMANCE_CALLBACK_URL", shell(v));
        }
        for (flag, var, on) in [
            (
                "--no-notifications",
                "CONFORMANCE_NO_NOTIFICATIONS",
                cli.no_notifications,
            ),
            ("--strict", "CONFORMANCE_STRICT", cli.strict),
            (
                "--follow-redirects",
                "CONFORMANCE_FOLLOW_REDIRECTS",
                cli.follow_redirects,
            ),
        ] {
            if on {
                add(flag, var, String::new());
            }
        }
        // What was given by flag or by variable: a value equal to the
        // default is repeated too, since the rerun may run elsewhere.
        if cli.given("listen") {
            add("--listen", "CONFORMANCE_LISTEN", shell(&cli.listen));
        }
        for (id, flag, var, value) in [
            (
                "listener_max_connections",
                "--listener-max-connections",
                "CONFORMANCE_LISTENER_MAX_CONNECTIONS",
                u64::from(cli.listener_max_connections),
            ),
            (
                "listener_max_per_address",
                "--listener-max-per-address",
                "CONFORMANCE_LISTENER_MAX_PER_ADDRESS",
                u64::from(cli.listener_max_per_address),
            ),
            (
                "response_timeout_ms",
                "--response-timeout-ms",
                "CONFORMANCE_RESPONSE_TIMEOUT_MS",
                cli.response_timeout_ms,
            ),
            (
                "notification_timeout_ms",
                "--notification-timeout-ms",
                "CONFORMANCE_NOTIFICATION_TIMEOUT_MS",
                cli.notification_timeout_ms,
            ),
            (
                "retry_budget_secs",
                "--retry-budget-secs",
                "CONFORMANCE_RETRY_BUDGET_SECS",
                cli.retry_budget_secs,
            ),
        ] {
            if cli.given(id) {
                add(flag, var, value.to_string());
            }
        }
        for (id, flag, var, value) in [
            ("cases", "--cases", "CONFORMANCE_CASES", &cli.cases),
            ("schemas", "--schemas", "CONFORMANCE_SCHEMAS", &cli.schemas),
        ] {
            if cli.given(id) {
                add(flag, var, shell(&value.display().to_string()));
            }
        }
        if !cli.checks.is_empty() {
            add(
                "--checks",
                "CONFORMANCE_CHECKS",
                shell(&cli.checks.join(",")),
            );
        }
        if let Some(level) = cli.level {
            add("--level", "CONFORMANCE_LEVEL", level.as_str().to_owned());
        }
        if let Some(k) = &cli.known_failures {
            add(
                "--known-failures",
                "CONFORMANCE_KNOWN_FAILURES",
                shell(&k.display().to_string()),
            );
        }
        Self {
            options,
            token_env: token_sent.then(|| cli.token_env.clone()),
            cargo_args: cli.cargo_args,
        }
    }

    /// The two commands that rerun the trial `name`, with `extra` variables
    /// (a property's seed and case count).
    pub fn lines(&self, name: &str, extra: &[(&str, String)]) -> Vec<String> {
        let mut vars: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(var) = &self.token_env {
            // The variable, never its value: the shell fills it in, or (in a
            // new shell, when the run had it inline) stops and says to set it.
            vars.push(format!("{var}=\"${{{var}:?{TOKEN_UNSET}}}\""));
        }
        let prefix = |vars: &[String]| {
            if vars.is_empty() {
                String::new()
            } else {
                format!("{} ", vars.join(" "))
            }
        };
        let tls = if cfg!(feature = "tls") {
            " --features tls"
        } else {
            ""
        };
        let features = if self.cargo_args.is_empty() {
            tls.to_owned()
        } else {
            format!("{tls} {}", self.cargo_args)
        };
        let flags: String = self
            .options
            .iter()
            .map(|(flag, _, value)| {
                if value.is_empty() {
                    format!(" {flag}")
                } else {
                    format!(" {flag} {value}")
                }
            })
            .collect();
        let mut nextest_vars = vars.clone();
        nextest_vars.extend(self.options.iter().map(|(_, var, value)| {
            if value.is_empty() {
                format!("{var}=1")
            } else {
                format!("{var}={value}")
            }
        }));
        vec![
            format!(
                "{}cargo test{features} -- --exact {name}{flags}",
                prefix(&vars)
            ),
            format!(
                "{}cargo nextest run{features} -E 'test(={name})'",
                prefix(&nextest_vars)
            ),
        ]
    }
}

/// What the shell says when a rerun line's token variable is not set: the
/// line runs as it is where the variable is exported, and stops with this
/// where it is not (the first run had it inline, say).
const TOKEN_UNSET: &str = "set it to the bearer token the target accepts";

/// A value as one shell word; a switch's empty value stays empty.
fn shell_word(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        shell_quote(s)
    }
}

/// A value as one shell word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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
    pub(crate) http: Http,
    pub listener: Listener,
    pub schemas: Arc<Schemas>,
    pub options: RunOptions,
    /// Values never printed: the bearer token.
    pub secrets: Vec<String>,
    /// The known-failures register, which properties apply input by input.
    pub(crate) known: Arc<crate::known::KnownFailures>,
    /// Requests the trials sent to the target: a run whose trials sent none
    /// checked nothing, whatever libtest counts as passed.
    sent: std::sync::atomic::AtomicUsize,
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
    pub(crate) fn build(
        cli: &Cli,
        contract: &dyn Contract,
        schemas: Arc<Schemas>,
        known: Arc<crate::known::KnownFailures>,
    ) -> Result<Self, SetupError> {
        // One thread serves the listener and the embedded server; trials drive
        // their own requests (see `Env::send`). A second worker cost more in
        // hand-offs between the two than it added (measured: bench/README.md).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        let missing: Vec<&str> = contract
            .schemas_used()
            .iter()
            .copied()
            .filter(|name| !schemas.has(name))
            .collect();
        if !missing.is_empty() {
            return Err(SetupError::Schema {
                path: cli.schemas.clone(),
                message: format!(
                    "the suite validates with {}, missing from this folder (--schemas DIR names another)",
                    missing.join(", ")
                ),
            });
        }
        let token = match std::env::var(&cli.token_env) {
            Ok(t) => Some(t).filter(|t| !t.is_empty()),
            Err(std::env::VarError::NotPresent) => None,
            // Dropping it would send requests without one: a run of 401s.
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(SetupError::Options(format!(
                    "{} is not valid UTF-8, so it cannot be sent as a bearer token",
                    cli.token_env
                )))
            }
        };
        // Every excerpt, wherever it is cut, redacts it first.
        crate::sanitize::register_secrets(token.as_slice());
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
            follow_redirects: cli.follow_redirects,
        };
        let http =
            Http::new(&base, token.clone(), limits).map_err(|message| SetupError::Target {
                url: base.clone(),
                message,
            })?;
        if cli.target.is_some() {
            runtime.block_on(probe(&base, limits.timeout))?;
            if let Some(path) = contract.preflight_path() {
                runtime.block_on(preflight(&http, &path, &cli.token_env, token.is_some()))?;
            }
        }
        let listener = runtime
            .block_on(Listener::start_with(
                &cli.listen,
                cli.callback_url.clone(),
                contract.envelope(),
                crate::listener::Caps {
                    max_connections: cli.listener_max_connections as usize,
                    max_per_address: cli.listener_max_per_address as usize,
                },
            ))
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
                profile: crate::profile::choose(&contract.profiles(), cli.profile.as_deref())
                    .map_err(SetupError::Options)?,
                notification_timeout: Duration::from_millis(cli.notification_timeout_ms),
                target: cli.target.clone(),
                save_failures: cli.save_failures.clone(),
                notifications: !cli.no_notifications,
                workers: cli.libtest.test_threads.unwrap_or(crate::prop::MAX_WORKERS),
                selection: cli.selection(),
                seeding: cli.seed.unwrap_or_default(),
                regressions: crate::regressions::Keeping::for_target(
                    cli.regressions.as_deref(),
                    cli.target.as_deref(),
                ),
                rerun: RerunArgs::from_cli(
                    cli,
                    token.is_some() && embedded.is_none(),
                    contract.rerun_options(),
                ),
            },
            secrets: token.into_iter().collect(),
            known,
            sent: std::sync::atomic::AtomicUsize::new(0),
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
    /// wake-ups an exchange, a fifth of the CPU of a generated input).
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.on_this_thread(|runtime, http| runtime.block_on(http.send(request)))
    }

    /// How many requests went to the target through [`Env::send`].
    pub fn requests_sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
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

    /// The commands that rerun trial `name` as this run ran it.
    pub fn rerun(&self, name: &str, extra: &[(&str, String)]) -> Vec<String> {
        self.options.rerun.lines(name, extra)
    }

    /// Registers a fixture the suite created: it will be ended.
    pub fn own(&self, fixture: &Fixture) {
        lock(&self.owned).insert(fixture.id.clone(), fixture.clone());
    }

    /// Takes a fixture off the register (it was ended); false if it was not on it.
    pub fn disown(&self, id: &str) -> bool {
        lock(&self.owned).remove(id).is_some()
    }

    /// Everything still on the register.
    pub fn owned_list(&self) -> Vec<Fixture> {
        lock(&self.owned).values().cloned().collect()
    }

    /// Notes a fixture the suite could not end.
    pub fn unreleased(&self, fixture: &Fixture, answer: String) {
        // The target's answer, kept for the report: an excerpt.
        lock(&self.unreleased).push(Unreleased {
            kind: fixture.kind.clone(),
            id: crate::sanitize::excerpt(&fixture.id, crate::sanitize::QUOTE_MAX).into_owned(),
            answer: crate::sanitize::bound_text(answer),
        });
    }

    /// What could not be ended, so far.
    pub fn unreleased_list(&self) -> Vec<Unreleased> {
        lock(&self.unreleased).clone()
    }

    pub fn record(&self, mut verdict: Verdict) {
        crate::sanitize::bound_for_keeping(&mut verdict);
        crate::lock(&self.verdicts).push(verdict);
    }
}

/// A fixture the suite created and could not end, and what the target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreleased {
    pub kind: String,
    pub id: String,
    pub answer: String,
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
async fn preflight(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rerun(args: &[&str]) -> Vec<String> {
        let (cli, _) =
            Cli::parse_from_iter::<crate::cli::NoOptions, _, _>("", args.iter().copied()).unwrap();
        RerunArgs::from_cli(&cli, false, Vec::new()).lines("case::x", &[])
    }

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
            let said = preflight(&http, "/x", "T", false).await;
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
            preflight(&http, "/x", "T", false).await
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

    #[test]
    fn a_rerun_repeats_every_option_given_and_no_default() {
        let [test, nextest] = &rerun(&[
            "conformance",
            "--response-timeout-ms",
            "10000",
            "--listen",
            "127.0.0.1:0",
        ])[..] else {
            panic!("two lines")
        };
        // Given at their defaults: a rerun elsewhere may have other defaults
        // in its environment.
        assert!(test.contains(" --response-timeout-ms 10000"), "{test}");
        assert!(test.contains(" --listen 127.0.0.1:0"), "{test}");
        assert!(
            nextest.contains("CONFORMANCE_RESPONSE_TIMEOUT_MS=10000 "),
            "{nextest}"
        );
        for absent in [
            "--notification-timeout-ms",
            "--retry-budget-secs",
            "--cases",
        ] {
            assert!(!test.contains(absent), "{absent} was not given: {test}");
        }
    }
}
