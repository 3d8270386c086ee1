//! The server's memory: calls, their rosters and operations, and what
//! happens to them when a call begins or ends ([`lifecycle`]) and when an
//! invite runs ([`invite`]).
//!
//! Everything sits behind one lock: a move or a replace touches two calls at
//! once, nothing under the lock waits for I/O (notifications are only
//! queued), and queueing under the lock is what keeps each call's
//! notifications in the order its state changed.

mod call;
mod invite;
mod lifecycle;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::notify::Delivery;
use crate::resources::{Ids, Operation, Participant};
use crate::seam::Rules;
use crate::validate::CallKind;
use call::Call;
pub(crate) use invite::Announced;

/// How much the server keeps, so no client can make it grow without end.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Live calls; past it, creating a call answers 429.
    calls: usize,
    /// Live calls of one client; past it, that client's creates answer 429.
    calls_per_client: usize,
    /// Ended call ids remembered, so they keep answering 404.
    ended: usize,
    /// Participants in one call's roster; past it, invites answer 400.
    roster: usize,
    /// Operations kept per call; the oldest finished one is forgotten first.
    operations: usize,
    /// Notifications queued for one callback before invites answer 429.
    backlog: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            calls: 100_000,
            calls_per_client: 1_000,
            ended: 100_000,
            roster: 1_000,
            operations: 1_000,
            backlog: 1_000,
        }
    }
}

/// Who created a call, for the per-client limit: the peer's IP address
/// (ports change with every connection, addresses do not). `None` when the
/// router is served without connection info; all such callers then count as
/// one client.
pub(crate) type Client = Option<IpAddr>;

/// Whether a call id names a call the server can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Live(CallKind),
    Ended,
    Unknown,
}

/// All calls, live and ended.
#[derive(Debug)]
pub(crate) struct Registry {
    calls: HashMap<String, Call>,
    /// The ended calls still remembered (they answer 404), each with its
    /// operations as they last stood when the server keeps them readable.
    ended: HashMap<String, Option<HashMap<String, Operation>>>,
    ended_order: VecDeque<String>,
    /// Live calls per client; a client without live calls has no entry, so
    /// the map is never larger than the live calls.
    per_client: HashMap<Client, usize>,
    delivery: Arc<Delivery>,
    rules: Rules,
    ids: Arc<Ids>,
    limits: Limits,
}

impl Registry {
    pub(crate) fn new(
        delivery: Arc<Delivery>,
        rules: Rules,
        ids: Arc<Ids>,
        calls_per_client: usize,
    ) -> Registry {
        Registry {
            calls: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            per_client: HashMap::new(),
            delivery,
            rules,
            ids,
            limits: Limits {
                calls_per_client,
                ..Limits::default()
            },
        }
    }

    /// The ids of the calls that are live (created and not ended).
    pub(crate) fn live_call_ids(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }

    pub(crate) fn presence(&self, call_id: &str) -> Presence {
        match self.calls.get(call_id) {
            Some(call) => Presence::Live(call.kind),
            None if self.ended.contains_key(call_id) => Presence::Ended,
            None => Presence::Unknown,
        }
    }

    pub(crate) fn call(&self, call_id: &str) -> Option<Value> {
        self.calls.get(call_id).map(|call| call.resource.to_json())
    }

    pub(crate) fn roster(&self, call_id: &str) -> Option<Vec<Arc<Participant>>> {
        self.calls.get(call_id).map(|call| call.roster.clone())
    }

    /// An operation of a live call, or of an ended one whose operations the
    /// server keeps, as JSON; `None` when the call holds no such operation.
    /// A call neither live nor kept answers 404.
    pub(crate) fn operation(
        &self,
        call_id: &str,
        operation_id: &str,
    ) -> Result<Option<Value>, ApiError> {
        let operations = match (self.calls.get(call_id), self.ended.get(call_id)) {
            (Some(call), _) => &call.operations,
            (None, Some(Some(kept))) => kept,
            (None, _) => return Err(call_not_found(call_id)),
        };
        Ok(operations.get(operation_id).map(Operation::to_json))
    }
}

pub(crate) fn call_not_found(call_id: &str) -> ApiError {
    ApiError::NotFound(format!("Call {call_id:?} was not found."))
}

/// The identitySet of an invitationParticipantInfo (empty when the server
/// accepted one without).
fn identity_of(participant: &Value) -> Value {
    match participant.get("identity") {
        Some(identity @ Value::Object(_)) => identity.clone(),
        _ => json!({}),
    }
}
