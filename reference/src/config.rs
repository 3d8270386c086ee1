//! How a reference server is set up.

use std::time::Duration;

use crate::faults::Fault;

/// Settings of one reference server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Documented behaviours to break on purpose (empty: a faithful server).
    pub faults: Vec<Fault>,
    /// Largest request body accepted; larger ones get `413`.
    pub body_limit: usize,
    /// Deadline of one notification POST to a callback.
    pub notify_timeout: Duration,
    /// How many times a failed notification POST is tried again.
    pub notify_retries: u32,
    /// How long an invite stays `running` before it completes.
    pub operation_delay: Duration,
    /// Print one line per request (and per failed notification) to stderr.
    pub log_requests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            faults: Vec::new(),
            body_limit: 1024 * 1024,
            notify_timeout: Duration::from_secs(5),
            notify_retries: 2,
            operation_delay: Duration::ZERO,
            log_requests: false,
        }
    }
}

impl Config {
    /// Whether `fault` is injected.
    pub fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }
}
