//! What a recorded trial keeps as it runs: the exchanges of the case that
//! is running, as sent ([`RawStep`]), and the trial's finished steps
//! ([`Recording`]). A trial's scope holds them; `recording` turns a raw
//! step into a transcript's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use crate::exchange::{HttpRequest, HttpResponse};
use crate::sync::lock;
use crate::transcript::Step;

/// One request and what came of it, as sent.
pub struct RawExchange {
    pub at: Instant,
    pub request: HttpRequest,
    pub outcome: Result<HttpResponse, String>,
    /// The case's own request.
    pub case: bool,
}

/// What passed through a scope while one case ran.
pub struct RawStep {
    pub started: Instant,
    pub exchanges: Vec<RawExchange>,
}

impl RawStep {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            exchanges: Vec::new(),
        }
    }
}

impl Default for RawStep {
    fn default() -> Self {
        Self::new()
    }
}

/// The steps of one trial, as its cases end; with, when a recording is
/// compared, how many notifications each fixture had in the recorded step
/// (the replay waits for as many before it reads them).
#[derive(Default)]
pub struct Recording {
    steps: Mutex<Vec<Step>>,
    awaited: Mutex<BTreeMap<String, usize>>,
    /// Every string the trial's requests carried, set-ups shared between
    /// generated inputs included: what the suite sent is input, never an
    /// id the target made up, whichever input's step it shows in.
    sent: Mutex<BTreeSet<String>>,
}

impl Recording {
    /// Notes the strings of a request's JSON body as sent by the suite.
    pub fn note_sent(&self, request: &HttpRequest) {
        let Some(body) = request.body.as_deref() else {
            return;
        };
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            strings(&json, &mut lock(&self.sent));
        }
    }

    /// Every string the trial sent so far.
    pub fn sent(&self) -> BTreeSet<String> {
        lock(&self.sent).clone()
    }

    pub fn push(&self, step: Step) {
        lock(&self.steps).push(step);
    }

    pub fn take(&self) -> Vec<Step> {
        std::mem::take(&mut *lock(&self.steps))
    }

    /// Before a replayed step: fixture variable -> notification items the
    /// recorded step received on it.
    pub fn await_counts(&self, counts: BTreeMap<String, usize>) {
        *lock(&self.awaited) = counts;
    }

    pub(crate) fn awaited(&self) -> BTreeMap<String, usize> {
        lock(&self.awaited).clone()
    }
}

/// Every string in `value`.
pub fn strings(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}
