//! Errors that stop a verdict from being reached, as opposed to check failures.

use std::error::Error;
use std::path::PathBuf;

/// An error and every cause under it, outermost first.
pub(crate) fn causes<'a>(
    e: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn Error + 'static)| (*e).source())
}

/// An error with its causes, as one line: `outer: inner: innermost`.
pub(crate) fn chain(e: &(dyn Error + 'static)) -> String {
    causes(e)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The kind of the first I/O error among an error's causes.
pub(crate) fn io_kind(e: &(dyn Error + 'static)) -> Option<std::io::ErrorKind> {
    causes(e).find_map(|c| c.downcast_ref::<std::io::Error>().map(std::io::Error::kind))
}

/// A case file could not be turned into a runnable case.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {path}: it is {kind}; a case file must be a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("failed to read {path}: {} over the limit of {limit} bytes for a case file", size.map_or_else(|| "it is".to_owned(), |s| format!("its {s} bytes are")))]
    TooLarge {
        path: PathBuf,
        size: Option<u64>,
        limit: u64,
    },
    #[error("failed to parse {path}: {json_path}: {message}")]
    Parse {
        path: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("failed to understand {path}: {json_path}: {message}")]
    Invalid {
        path: PathBuf,
        json_path: String,
        message: String,
    },
}

/// The exchange with the target did not produce a response to judge.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("failed to connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("failed to get a response from {url} within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("failed to exchange with {url}: {message}")]
    Other { url: String, message: String },
    /// The connection closed before any byte of a response came (a pooled
    /// connection the server had closed unannounced, say).
    #[error("failed to get a response from {url}: the connection closed before any response byte ({message})")]
    Closed { url: String, message: String },
    #[error("failed to read the response body from {url}: {message}")]
    Body { url: String, message: String },
    /// The request was not sent: where it would have gone is not the
    /// target's (its path leaves the base path the user gave).
    #[error("refused to send to {url}: {message}; nothing was sent")]
    Refused { url: String, message: String },
}

/// The run could not be set up at all.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("failed to use target {url:?}: {message}")]
    Target { url: String, message: String },
    #[error("failed to start the callback listener on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("failed to load schema {path}: {message}")]
    Schema { path: PathBuf, message: String },
    #[error("failed to start the embedded implementation: {0}")]
    Embedded(String),
    #[error("failed to read {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Options(String),
    #[error("the target refused the suite's requests: {message}")]
    Refused { message: String },
    /// The run as a whole could not be set up or held (whichever of the
    /// above it was, with its causes, as one line).
    #[error("failed to set up the run: {message}")]
    Run { message: String },
}

/// A fixture (something the case needs on the target) could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("failed to prepare fixture {kind}: {message}")]
    Create { kind: String, message: String },
    #[error("failed to prepare fixture {kind}: {message}")]
    Unsupported { kind: String, message: String },
    /// The target cannot provide this fixture: the case is skipped, with the reason.
    #[error("the target cannot provide fixture {kind}: {reason}")]
    Unavailable { kind: String, reason: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
}
