//! How a reference server is set up.

use std::time::Duration;

use crate::faults::Fault;
use crate::mutation::Mutation;
use crate::variants::Variant;

/// Settings of one reference server.
///
/// The defaults make a server that any client may reach safely: every
/// resource a client can hold (a connection, a request's head and body,
/// live calls) is bounded in size and in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Documented behaviours to break on purpose (empty: a faithful server).
    pub faults: Vec<Fault>,
    /// Legitimate behaviours the spec allows, other than the default ones
    /// (empty: the reference's own choices). Two that conflict (see
    /// [`Variant::conflicts_with`]) make [`crate::start`] and
    /// [`crate::serve`] refuse the configuration; [`crate::router`] takes
    /// them anyway, the one earlier in [`Variant::ALL`] winning.
    pub variants: Vec<Variant>,
    /// One member of one kind of document the server sends, altered in one
    /// way (`None`: nothing is altered). Unlike a fault, a mutation knows
    /// nothing of the contract: it may break it, or stay within what the
    /// spec allows.
    pub mutation: Option<Mutation>,
    /// Largest request body accepted; larger ones get `413`.
    pub body_limit: usize,
    /// Largest request head (request line and header fields) accepted; a
    /// larger one gets `431` with Graph's error body. A head more than twice
    /// this size is refused by the HTTP layer itself (`431` without a body,
    /// then the connection closes), so no more than that is ever buffered.
    pub max_header_bytes: usize,
    /// Connections served at once (at least one). Past it the server stops
    /// accepting: new connections wait in the listen backlog until one ends
    /// (the timeouts below bound how long any connection holds its place).
    pub max_connections: usize,
    /// Calls one client (one peer IP address) may hold live at once; past
    /// it, creating a call answers `429` with `Retry-After`.
    pub max_calls_per_client: usize,
    /// Time a client has to send a request's head, counted from the
    /// connection's start or the previous response; past it the connection
    /// is closed. This is also how long an idle keep-alive connection lives.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body; past it the request gets
    /// `408` and the connection closes.
    pub body_timeout: Duration,
    /// Longest a response may wait for the client to take its bytes (a
    /// client that stops reading); past it the connection is dropped.
    pub write_timeout: Duration,
    /// Deadline of one notification POST to a callback.
    pub notify_timeout: Duration,
    /// How many times a failed notification POST is tried again.
    pub notify_retries: u32,
    /// How long an invite stays `running` before it completes.
    pub operation_delay: Duration,
    /// How long every answer is held before it leaves (Graph answers in a
    /// few hundred milliseconds).
    pub answer_latency: Duration,
    /// How long a notification follows the event it announces (Graph's come
    /// about a second later).
    pub notification_delay: Duration,
    /// Up to this much more, drawn at random, on each answer and each
    /// notification.
    pub timing_jitter: Duration,
    /// The seed of that jitter: the same seed, the same delays.
    pub timing_seed: u64,
    /// Print one line per request (and per failed notification) to stderr.
    pub log_requests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            faults: Vec::new(),
            variants: Vec::new(),
            mutation: None,
            body_limit: 1024 * 1024,
            // http.sys's default bound on a request's line and headers; a
            // bearer token, the largest header a bot sends, fits many times.
            max_header_bytes: 16 * 1024,
            // Half of the usual 1024 open-file limit, leaving room for the
            // callback connections and the process itself.
            max_connections: 512,
            // A conformance run or a bot under test holds a few calls at a
            // time; a thousand is far above that and still bounds a client.
            max_calls_per_client: 1_000,
            header_timeout: Duration::from_secs(10),
            // Room for the largest body (1 MiB) on a slow link.
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            notify_timeout: Duration::from_secs(5),
            notify_retries: 2,
            operation_delay: Duration::ZERO,
            answer_latency: Duration::ZERO,
            notification_delay: Duration::ZERO,
            timing_jitter: Duration::ZERO,
            timing_seed: 0,
            log_requests: false,
        }
    }
}

/// The longest any timeout is taken to be: a deadline is "now" plus the
/// timeout, and `Duration::MAX` would overflow the clock.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl Config {
    /// The settings as the server applies them: timeouts of at most a year,
    /// at least one connection.
    pub(crate) fn applied(mut self) -> Config {
        for timeout in [
            &mut self.header_timeout,
            &mut self.body_timeout,
            &mut self.write_timeout,
            &mut self.notify_timeout,
            &mut self.operation_delay,
        ] {
            *timeout = (*timeout).min(LONGEST_TIMEOUT);
        }
        self.max_connections = self.max_connections.max(1);
        self
    }

    /// The first two variants of [`Config::variants`] that cannot both be
    /// on, if any.
    pub fn conflicting_variants(&self) -> Option<(Variant, Variant)> {
        self.variants.iter().enumerate().find_map(|(i, a)| {
            self.variants[i + 1..]
                .iter()
                .find(|b| a.conflicts_with(**b))
                .map(|b| (*a, *b))
        })
    }
}
