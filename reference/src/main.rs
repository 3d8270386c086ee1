//! `invite-reference`: the reference Graph calls service as a standalone
//! server, for bot developers and for running the suite against a process.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use invite_reference::{Change, Config, Document, Fault, Mutation, Variant};

/// A mock of Microsoft Graph's calls service for participants/invite: create,
/// get and delete calls, invite participants, get operations, list
/// participants, with notifications to each call's callbackUri.
#[derive(Debug, Parser)]
#[command(name = "invite-reference", version)]
struct Cli {
    /// Address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        env = "INVITE_REFERENCE_LISTEN"
    )]
    listen: String,
    /// Break one documented behaviour on purpose (repeatable; see --list-faults).
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<Fault>,
    /// Choose a behaviour the spec allows other than the default one
    /// (repeatable; see --list-variants).
    #[arg(long = "variant", value_name = "NAME")]
    variants: Vec<Variant>,
    /// Alter one member of one kind of document the server sends:
    /// DOCUMENT:CHANGE:PATH, e.g. response:remove:$.clientContext (see
    /// --list-mutations).
    #[arg(long = "mutate", value_name = "SPEC")]
    mutation: Option<Mutation>,
    /// How long an invite stays running before it completes.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    operation_delay_ms: u64,

    /// Milliseconds every answer is held before it leaves (Graph's are a few
    /// hundred): for trying a client against a slow service.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,

    /// Milliseconds a notification follows the event it announces (Graph's
    /// come about a second later).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    notification_delay_ms: u64,

    /// Up to this many milliseconds more, at random, on each answer and
    /// each notification.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    jitter_ms: u64,

    /// The seed of that jitter (the same seed, the same delays).
    #[arg(long, value_name = "N", default_value_t = 0)]
    timing_seed: u64,
    /// Deadline of one notification POST to a callback.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    notify_timeout_ms: u64,
    /// Retries of a failed notification POST.
    #[arg(long, value_name = "N", default_value_t = 2)]
    notify_retries: u32,
    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = defaults().body_limit)]
    body_limit: usize,
    /// Largest request line and headers accepted, in bytes (larger: 431).
    #[arg(long, value_name = "BYTES", default_value_t = defaults().max_header_bytes,
          value_parser = at_least_one)]
    max_header_bytes: usize,
    /// Connections served at once; more wait until one ends.
    #[arg(long, value_name = "N", default_value_t = defaults().max_connections,
          value_parser = at_least_one)]
    max_connections: usize,
    /// Live calls one client (IP address) may hold (more: 429).
    #[arg(long, value_name = "N", default_value_t = defaults().max_calls_per_client,
          value_parser = at_least_one)]
    max_calls_per_client: usize,
    /// Time to send a request's head, and to keep an idle connection open.
    #[arg(long, value_name = "MS", default_value_t = millis(defaults().header_timeout),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// Time to send a request's body (longer: 408).
    #[arg(long, value_name = "MS", default_value_t = millis(defaults().body_timeout),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// Time a client may leave an answer unread before it is dropped.
    #[arg(long, value_name = "MS", default_value_t = millis(defaults().write_timeout),
          value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout_ms: u64,
    /// Print every fault's name, description and trigger, then exit.
    #[arg(long)]
    list_faults: bool,
    /// Print every variant's name, description and source, then exit.
    #[arg(long)]
    list_variants: bool,
    /// Print the documents and changes a --mutate SPEC may name, then exit.
    #[arg(long)]
    list_mutations: bool,
    /// Do not log requests to stderr.
    #[arg(long)]
    quiet: bool,
}

/// The library's defaults, which the flags' defaults repeat.
fn defaults() -> Config {
    Config::default()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Prints a listing. A reader that stops early (`| head`) is no error:
/// println! would panic on the closed pipe.
fn emit(text: &str) -> ExitCode {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("invite-reference: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// A count or size of zero would make the server refuse everything.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_faults {
        return emit(&list_faults());
    }
    if cli.list_variants {
        return emit(&list_variants());
    }
    if cli.list_mutations {
        return emit(&list_mutations());
    }
    let config = Config {
        faults: cli.faults,
        variants: cli.variants,
        mutation: cli.mutation,
        body_limit: cli.body_limit,
        max_header_bytes: cli.max_header_bytes,
        max_connections: cli.max_connections,
        max_calls_per_client: cli.max_calls_per_client,
        header_timeout: Duration::from_millis(cli.header_timeout_ms),
        body_timeout: Duration::from_millis(cli.body_timeout_ms),
        write_timeout: Duration::from_millis(cli.write_timeout_ms),
        notify_timeout: Duration::from_millis(cli.notify_timeout_ms),
        notify_retries: cli.notify_retries,
        operation_delay: Duration::from_millis(cli.operation_delay_ms),
        answer_latency: Duration::from_millis(cli.latency_ms),
        notification_delay: Duration::from_millis(cli.notification_delay_ms),
        timing_jitter: Duration::from_millis(cli.jitter_ms),
        timing_seed: cli.timing_seed,
        log_requests: !cli.quiet,
    };
    if let Some((a, b)) = config.conflicting_variants() {
        // A usage error: clap's format and exit status (2).
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("the variants {a} and {b} cannot both be on (see --list-variants)"),
            )
            .exit();
    }
    let listener = match tokio::net::TcpListener::bind(&cli.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("invite-reference: cannot listen on {}: {error}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("http://{addr}/v1.0"),
        Err(_) => println!("http://{}/v1.0", cli.listen),
    }
    if !config.faults.is_empty() {
        let names: Vec<&str> = config.faults.iter().map(|f| f.name()).collect();
        eprintln!("faults: {}", names.join(", "));
    }
    if !config.variants.is_empty() {
        let names: Vec<&str> = config.variants.iter().map(|v| v.name()).collect();
        eprintln!("variants: {}", names.join(", "));
    }
    if let Some(mutation) = &config.mutation {
        eprintln!("mutation: {mutation}");
    }
    match invite_reference::serve(listener, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("invite-reference: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One line per fault (name and description), and under a fault that only
/// shows on some inputs, an indented line naming them.
fn list_faults() -> String {
    let mut out = String::new();
    let width = Fault::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
    for fault in Fault::ALL {
        let _ = writeln!(out, "{:width$}  {}", fault.name(), fault.description());
        if let Some(trigger) = fault.trigger() {
            let _ = writeln!(out, "{:width$}  only on: {trigger}", "");
        }
    }
    out
}

/// One line per variant (name and description), then indented lines: why
/// the spec allows it, and the variants it cannot be combined with.
fn list_variants() -> String {
    let mut out = String::new();
    let width = Variant::ALL
        .iter()
        .map(|v| v.name().len())
        .max()
        .unwrap_or(0);
    for variant in Variant::ALL {
        let _ = writeln!(out, "{:width$}  {}", variant.name(), variant.description());
        let _ = writeln!(out, "{:width$}  allowed: {}", "", variant.source());
        let conflicts: Vec<&str> = Variant::ALL
            .iter()
            .filter(|other| variant.conflicts_with(**other))
            .map(|other| other.name())
            .collect();
        if !conflicts.is_empty() {
            let _ = writeln!(
                out,
                "{:width$}  conflicts with: {}",
                "",
                conflicts.join(", ")
            );
        }
    }
    out
}

/// What `--mutate DOCUMENT:CHANGE:PATH` may name: the documents, the
/// changes, and the path syntax.
fn list_mutations() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "--mutate DOCUMENT:CHANGE:PATH, for example response:remove:$.clientContext"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "documents:");
    let width = Document::ALL
        .iter()
        .map(|d| d.name().len())
        .chain(Change::ALL.iter().map(|c| c.name().len()))
        .max()
        .unwrap_or(0);
    for document in Document::ALL {
        let _ = writeln!(
            out,
            "  {:width$}  {}",
            document.name(),
            document.description()
        );
    }
    let _ = writeln!(out, "changes:");
    for change in Change::ALL {
        let _ = writeln!(out, "  {:width$}  {}", change.name(), change.description());
    }
    let _ = writeln!(out, "paths: from the document's root, $ then .name, ['any name'], [3], or [*] for every element");
    out
}
