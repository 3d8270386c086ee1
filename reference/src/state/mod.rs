//! The server's memory: calls, their rosters and operations, and what
//! happens to them when a call is created or ends ([`invite`]: when an
//! invite runs).
//!
//! Everything sits behind one lock: a move or a replace touches two calls at
//! once, nothing under the lock waits for I/O (notifications are only
//! queued), and queueing under the lock is what keeps each call's
//! notifications in the order its state changed.

mod call;
mod invite;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::notify::{Delivery, Notifier};
use crate::resources::{new_id, CallResource, Ids, Operation, Participant};
use crate::seam::{Decision, Rules};
use crate::sent::{Cause, ChangeType, Note};
use crate::validate::{CallKind, NewCall};
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

    /// Creates a call and queues its `established` notification; returns the
    /// call as the create response shows it (still establishing).
    pub(crate) fn create_call(
        &mut self,
        new: NewCall,
        body: &Map<String, Value>,
        owner: Client,
    ) -> Result<(String, Value), ApiError> {
        if self.calls.len() >= self.limits.calls {
            return Err(ApiError::TooManyRequests(format!(
                "The server holds {} calls; delete some first.",
                self.limits.calls
            )));
        }
        let owned = self.per_client.get(&owner).copied().unwrap_or(0);
        if owned >= self.limits.calls_per_client {
            return Err(ApiError::TooManyRequests(format!(
                "This client holds {owned} live calls, the most one client may hold; delete some first."
            )));
        }
        // The bot and every target start in the roster, which is bounded
        // here as it is for invites.
        if new.targets.len() >= self.limits.roster {
            return Err(ApiError::BadRequest(format!(
                "The call's roster is limited to {} participants, the bot included.",
                self.limits.roster
            )));
        }
        let id = self.ids.call();
        let bot = Participant::new(self.ids.participant(), bot_identity(body));
        let mut members = Map::new();
        members.insert("@odata.type".into(), "#microsoft.graph.call".into());
        members.insert("id".into(), id.clone().into());
        members.insert("direction".into(), "outgoing".into());
        for member in [
            "callbackUri",
            "requestedModalities",
            "mediaConfig",
            "source",
            "targets",
            "chatInfo",
            "meetingInfo",
        ] {
            let value = body.get(member).cloned().unwrap_or(Value::Null);
            members.insert(member.into(), value);
        }
        for member in ["tenantId", "subject"] {
            if let Some(value) = body.get(member) {
                members.insert(member.into(), value.clone());
            }
        }
        members.insert("myParticipantId".into(), bot.id.clone().into());
        members.insert("callChainId".into(), new_id().into());
        let mut roster = vec![Arc::new(bot)];
        roster.extend(new.targets.iter().map(|target| {
            Arc::new(Participant::new(
                self.ids.participant(),
                identity_of(target),
            ))
        }));
        let mut call = Call {
            kind: new.kind,
            owner,
            resource: CallResource {
                members,
                state: "establishing",
            },
            roster,
            operations: HashMap::new(),
            operation_order: VecDeque::new(),
            notifier: Notifier::spawn(Arc::clone(&self.delivery), new.callback_uri),
        };
        let created = call.resource.to_json();
        // The mock has no media to set up: the call is established at once,
        // and the bot learns it from the notification, as from Graph.
        call.resource.state = "established";
        let established = Note::call(ChangeType::Updated, &id, call.resource.to_json());
        call.notify(Cause::Established, &id, vec![established]);
        self.calls.insert(id.clone(), call);
        *self.per_client.entry(owner).or_default() += 1;
        Ok((id, created))
    }

    pub(crate) fn call(&self, call_id: &str) -> Option<Value> {
        self.calls.get(call_id).map(|call| call.resource.to_json())
    }

    pub(crate) fn roster(&self, call_id: &str) -> Option<Vec<Arc<Participant>>> {
        self.calls.get(call_id).map(|call| call.roster.clone())
    }

    /// An operation of a live call, or of an ended one whose operations the
    /// server keeps; `None` when the call holds no such operation. A call
    /// neither live nor kept answers 404.
    pub(crate) fn operation(
        &self,
        call_id: &str,
        operation_id: &str,
    ) -> Result<Option<Operation>, ApiError> {
        let operations = match (self.calls.get(call_id), self.ended.get(call_id)) {
            (Some(call), _) => &call.operations,
            (None, Some(Some(kept))) => kept,
            (None, _) => return Err(call_not_found(call_id)),
        };
        Ok(operations.get(operation_id).cloned())
    }

    /// Ends a call: it is terminated, then deleted, each with a notification,
    /// and its id answers 404 from then on. False if it was not live.
    pub(crate) fn end_call(&mut self, call_id: &str) -> bool {
        let Some(mut call) = self.calls.remove(call_id) else {
            return false;
        };
        if let Some(owned) = self.per_client.get_mut(&call.owner) {
            *owned = owned.saturating_sub(1);
            if *owned == 0 {
                self.per_client.remove(&call.owner);
            }
        }
        // An invite still running when its call ends fails, and says so once,
        // before the call's own end: every operation ends exactly once.
        let mut running: Vec<&mut Operation> = call
            .operations
            .values_mut()
            .filter(|o| !o.status.is_terminal())
            .collect();
        running.sort_by(|a, b| a.id.cmp(&b.id));
        let mut ends = Vec::with_capacity(running.len());
        for operation in running {
            operation.fail(410, "The call ended before the invitation completed.");
            ends.push(Note::operation_end(call_id, operation));
        }
        for end in ends {
            call.notify(Cause::CallEnded, call_id, vec![end]);
        }
        call.resource.state = "terminated";
        let ended = call.resource.to_json();
        // Terminated and deleted are raised together: one POST.
        let notes = vec![
            Note::call(ChangeType::Updated, call_id, ended.clone()),
            Note::call(ChangeType::Deleted, call_id, ended),
        ];
        call.notify(Cause::CallEnded, call_id, notes);
        if self.ended_order.len() >= self.limits.ended {
            if let Some(oldest) = self.ended_order.pop_front() {
                self.ended.remove(&oldest);
            }
        }
        let kept = self
            .rules
            .decide(Decision::KeepOperationsOfEndedCalls)
            .then(|| std::mem::take(&mut call.operations));
        self.ended.insert(call_id.to_owned(), kept);
        self.ended_order.push_back(call_id.to_owned());
        true
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

/// The bot's own identity: the create body's `source.identity` when it names
/// an application, else a stand-in application identity.
fn bot_identity(body: &Map<String, Value>) -> Value {
    let source_identity = body
        .get("source")
        .and_then(|source| source.get("identity"))
        .filter(|identity| identity.get("application").is_some_and(Value::is_object));
    match source_identity {
        Some(identity) => identity.clone(),
        None => json!({
            "@odata.type": "#microsoft.graph.identitySet",
            "application": {
                "@odata.type": "#microsoft.graph.identity",
                "id": new_id(),
                "displayName": "invite-reference bot",
            },
        }),
    }
}
