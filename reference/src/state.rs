//! The server's memory: calls, their rosters and operations, and what
//! happens to them when an invite completes or a call ends.
//!
//! Everything sits behind one lock: a move or a replace touches two calls at
//! once, nothing under the lock waits for I/O (notifications are only
//! queued), and queueing under the lock is what keeps each call's
//! notifications in the order its state changed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::faults::{Fault, FaultSet};
use crate::mutation::{Document, Mutating};
use crate::notify::{Delivery, Notifier};
use crate::resources::{
    new_id, notification, notification_text, other_client_context, strip_members, Ids, Operation,
    OperationStatus, Participant, Place, EXTRA_MEMBER,
};
use crate::validate::{CallKind, NewCall};
use crate::variants::{Variant, VariantSet};

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

#[derive(Debug)]
struct Call {
    kind: CallKind,
    /// Whose live-call allowance the call uses.
    owner: Client,
    /// The call resource without its `state`.
    resource: Map<String, Value>,
    state: &'static str,
    roster: Vec<Participant>,
    operations: HashMap<String, Operation>,
    /// Operation ids, oldest first, to know which one to forget.
    operation_order: VecDeque<String>,
    notifier: Notifier,
}

impl Call {
    fn to_json(&self) -> Value {
        let mut resource = self.resource.clone();
        resource.insert("state".into(), self.state.into());
        Value::Object(resource)
    }

    fn roster_json(&self, faults: FaultSet, variants: VariantSet) -> Vec<Value> {
        self.roster
            .iter()
            .map(|participant| participant.to_json(faults, variants))
            .collect()
    }

    /// The roster `updated` notifications to send, in order. `joined_from`
    /// is where the participants who just joined start in the roster (they
    /// are its tail), `None` when nobody joined (a leave); those in
    /// `except` are left out.
    fn roster_updates(
        &self,
        call_named: &str,
        faults: FaultSet,
        variants: VariantSet,
        mutating: &Mutating,
        except: &[String],
        joined_from: Option<usize>,
    ) -> Vec<String> {
        // Each update lists the roster from a start to an end (exclusive).
        let len = self.roster.len();
        let listings: Vec<(usize, usize)> = match joined_from {
            Some(first) if first < len => {
                let delta = variants.has(Variant::RosterDelta);
                if variants.has(Variant::RosterPerParticipant) {
                    (first..len)
                        .map(|joined| (if delta { joined } else { 0 }, joined + 1))
                        .collect()
                } else if delta {
                    vec![(first, len)]
                } else {
                    vec![(0, len)]
                }
            }
            _ => vec![(0, len)],
        };
        let times = if variants.has(Variant::RepeatedRoster) {
            2
        } else {
            1
        };
        let mut updates = Vec::with_capacity(listings.len() * times);
        for (start, end) in listings {
            let mut roster = String::from("[");
            let listed = self.roster.get(start..end).unwrap_or_default();
            let kept = listed.iter().filter(|p| !except.contains(&p.id));
            for (i, participant) in kept.enumerate() {
                if i > 0 {
                    roster.push(',');
                }
                roster.push_str(participant.json_text(faults, variants));
            }
            roster.push(']');
            let mut update =
                notification_text("updated", call_named, "/participants", &roster, variants);
            if faults.has(Fault::RosterResourceWrongCall) {
                update = with_resource(update, &format!("/app/calls/{}/participants", new_id()));
            }
            if let Some(mutation) = mutating.on(Document::Roster) {
                update = mutation.apply_to_text(update);
            }
            for _ in 1..times {
                updates.push(update.clone());
            }
            updates.push(update);
        }
        updates
    }

    /// Frees room for one more operation by forgetting the oldest finished
    /// one; false when every kept operation is still running.
    fn make_room_for_operation(&mut self, limit: usize) -> bool {
        if self.operations.len() < limit {
            return true;
        }
        let finished = self.operation_order.iter().position(|id| {
            self.operations
                .get(id)
                .is_none_or(|op| op.status.is_terminal())
        });
        match finished.and_then(|index| self.operation_order.remove(index)) {
            Some(id) => {
                self.operations.remove(&id);
                true
            }
            None => false,
        }
    }
}

/// One participant of a completing invite: who joins, and the call it leaves
/// when the invite moves it.
struct Join {
    identity: Value,
    leaves: Option<(String, String)>,
}

/// All calls, live and ended.
#[derive(Debug)]
pub(crate) struct Registry {
    calls: HashMap<String, Call>,
    /// The ended calls still remembered (they answer 404), each with its
    /// operations as they last stood under `ended-operations-readable`
    /// (none otherwise).
    ended: HashMap<String, HashMap<String, Operation>>,
    ended_order: VecDeque<String>,
    /// Live calls per client; a client without live calls has no entry, so
    /// the map is never larger than the live calls.
    per_client: HashMap<Client, usize>,
    delivery: Arc<Delivery>,
    faults: FaultSet,
    variants: VariantSet,
    mutating: Mutating,
    ids: Arc<Ids>,
    limits: Limits,
}

impl Registry {
    /// The ids of the calls that are live (created and not ended).
    pub(crate) fn live_call_ids(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }

    pub(crate) fn new(
        delivery: Arc<Delivery>,
        faults: FaultSet,
        variants: VariantSet,
        mutating: Mutating,
        ids: Arc<Ids>,
        calls_per_client: usize,
    ) -> Registry {
        Registry {
            calls: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            per_client: HashMap::new(),
            delivery,
            faults,
            variants,
            mutating,
            ids,
            limits: Limits {
                calls_per_client,
                ..Limits::default()
            },
        }
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
        let mut roster = vec![bot.clone()];
        roster.extend(
            new.targets
                .iter()
                .map(|target| Participant::new(self.ids.participant(), identity_of(target))),
        );
        let mut resource = Map::new();
        resource.insert("@odata.type".into(), "#microsoft.graph.call".into());
        resource.insert("id".into(), id.clone().into());
        resource.insert("direction".into(), "outgoing".into());
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
            resource.insert(member.into(), value);
        }
        for member in ["tenantId", "subject"] {
            if let Some(value) = body.get(member) {
                resource.insert(member.into(), value.clone());
            }
        }
        resource.insert("myParticipantId".into(), bot.id.into());
        resource.insert("callChainId".into(), new_id().into());
        if self.variants.has(Variant::ExtraMembers) {
            resource.insert(EXTRA_MEMBER.into(), "x".into());
        }
        if self.variants.has(Variant::NoOdataType) {
            // The echoed members (source, targets, mediaConfig...) too.
            strip_members(&mut resource);
        }
        let mut call = Call {
            kind: new.kind,
            owner,
            resource,
            state: "establishing",
            roster,
            operations: HashMap::new(),
            operation_order: VecDeque::new(),
            notifier: Notifier::spawn(Arc::clone(&self.delivery), new.callback_uri),
        };
        let created = call.to_json();
        // The mock has no media to set up: the call is established at once,
        // and the bot learns it from the notification, as from Graph.
        call.state = "established";
        if !self.faults.has(Fault::NoEstablishedNotification) {
            call.notifier.send(notification(
                "updated",
                &id,
                "",
                &call.to_json(),
                self.variants,
            ));
        }
        self.calls.insert(id.clone(), call);
        *self.per_client.entry(owner).or_default() += 1;
        Ok((id, created))
    }

    pub(crate) fn call(&self, call_id: &str) -> Option<Value> {
        self.calls.get(call_id).map(Call::to_json)
    }

    pub(crate) fn roster(&self, call_id: &str) -> Option<Vec<Value>> {
        let call = self.calls.get(call_id)?;
        Some(call.roster_json(self.faults, self.variants))
    }

    /// An operation of a live call (or, under `ended-operations-readable`,
    /// of an ended one) as a GET shows it.
    pub(crate) fn operation(&self, call_id: &str, operation_id: &str) -> Option<Value> {
        let operations = match self.calls.get(call_id) {
            Some(call) => &call.operations,
            None => self.ended.get(call_id)?,
        };
        operations
            .get(operation_id)
            .map(|operation| operation.to_json(Place::Response, self.variants))
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
        let (faults, variants) = (self.faults, self.variants);
        let mut running: Vec<&mut Operation> = call
            .operations
            .values_mut()
            .filter(|o| !o.status.is_terminal())
            .collect();
        running.sort_by(|a, b| a.id.cmp(&b.id));
        for operation in running {
            operation.status = OperationStatus::Failed;
            if !faults.has(Fault::FailedWithoutResultInfo) {
                operation.result_info = Some(json!({
                    "@odata.type": "#microsoft.graph.resultInfo",
                    "code": 410,
                    "subcode": 0,
                    "message": "The call ended before the invitation completed."
                }));
            }
            if !faults.has(Fault::NoTerminalNotification) {
                call.notifier.send(terminal_notification(
                    operation,
                    call_id,
                    faults,
                    variants,
                    &self.mutating,
                ));
            }
        }
        call.state = "terminated";
        let ended = call.to_json();
        // Terminated and deleted are raised together: one POST.
        call.notifier.send_together(vec![
            notification("updated", call_id, "", &ended, variants),
            notification("deleted", call_id, "", &ended, variants),
        ]);
        if self.ended_order.len() >= self.limits.ended {
            if let Some(oldest) = self.ended_order.pop_front() {
                self.ended.remove(&oldest);
            }
        }
        let kept = if variants.has(Variant::EndedOperationsReadable) {
            std::mem::take(&mut call.operations)
        } else {
            HashMap::new()
        };
        self.ended.insert(call_id.to_owned(), kept);
        self.ended_order.push_back(call_id.to_owned());
        true
    }

    /// Records a new running operation on a live call.
    pub(crate) fn add_operation(
        &mut self,
        call_id: &str,
        operation: Operation,
    ) -> Result<(), ApiError> {
        let limits = self.limits;
        let Some(call) = self.calls.get_mut(call_id) else {
            return Err(call_not_found(call_id));
        };
        if call.roster.len() + operation.participants.len() > limits.roster {
            return Err(ApiError::BadRequest(format!(
                "The call's roster is limited to {} participants.",
                limits.roster
            )));
        }
        if call.notifier.backlog() >= limits.backlog
            || !call.make_room_for_operation(limits.operations)
        {
            return Err(ApiError::TooManyRequests(
                "Too many invites are still in progress on this call; try again later.".into(),
            ));
        }
        call.operation_order.push_back(operation.id.clone());
        call.operations.insert(operation.id.clone(), operation);
        Ok(())
    }

    /// Starts an invite (it runs): under `progress-notification`, the bot
    /// is told so with an `updated` notification.
    pub(crate) fn start_invite(&mut self, call_id: &str, operation_id: &str) {
        let variants = self.variants;
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(operation) = call.operations.get_mut(operation_id) else {
            return;
        };
        if operation.status.is_terminal() {
            return;
        }
        operation.status = OperationStatus::Running;
        if variants.has(Variant::ProgressNotification) {
            let data = operation.to_json(Place::Notification, variants);
            call.notifier.send(notification(
                "updated",
                call_id,
                &format!("/operations/{operation_id}"),
                &data,
                variants,
            ));
        }
    }

    /// Completes an invite not yet ended: the invitees join (or move), the
    /// bot is told the operation ended (unless `terminal-in-response` tells
    /// it in the response) and sees the new roster, and a replaced
    /// peer-to-peer call ends. Returns the operation as it ended.
    pub(crate) fn complete_invite(
        &mut self,
        call_id: &str,
        operation_id: &str,
    ) -> Option<Operation> {
        let (faults, variants, limits) = (self.faults, self.variants, self.limits);
        // None: the call ended, or the operation was forgotten.
        let operation = self
            .calls
            .get_mut(call_id)
            .and_then(|call| call.operations.get_mut(operation_id))?;
        if operation.status.is_terminal() {
            return None;
        }
        let failed = faults.has(Fault::FailedWithoutResultInfo);
        operation.status = if failed {
            OperationStatus::Failed
        } else {
            OperationStatus::Completed
        };
        let operation = operation.clone();
        let (joins, replaced) = if failed {
            (Vec::new(), Vec::new())
        } else {
            self.plan(call_id, &operation.participants)
        };

        let ids = &self.ids;
        let call = self.calls.get_mut(call_id)?;
        let joined_from = call.roster.len();
        let mut added = Vec::new();
        let mut leaves = Vec::new();
        for join in joins {
            if call.roster.len() >= limits.roster {
                break;
            }
            let participant = Participant::new(ids.participant(), join.identity);
            added.push(participant.id.clone());
            call.roster.push(participant);
            leaves.extend(join.leaves);
        }
        let call_named = if faults.has(Fault::NotificationWrongCall) {
            new_id()
        } else {
            call_id.to_owned()
        };
        let mut terminal = Vec::new();
        if !faults.has(Fault::NoTerminalNotification) && !variants.has(Variant::TerminalInResponse)
        {
            let end =
                terminal_notification(&operation, &call_named, faults, variants, &self.mutating);
            if faults.has(Fault::DoubleTerminalNotification) {
                terminal.push(end.clone());
            }
            terminal.push(end);
        }
        if !terminal.is_empty() && variants.has(Variant::OperationGoneOnceEnded) {
            // Its notification says the operation is deleted: so it is.
            call.operations.remove(operation_id);
        }
        let mut rosters = Vec::new();
        if !failed && !faults.has(Fault::NoRosterUpdate) {
            let except = if faults.has(Fault::RosterMissingInvitee) {
                added.as_slice()
            } else {
                &[]
            };
            rosters = call.roster_updates(
                &call_named,
                faults,
                variants,
                &self.mutating,
                except,
                Some(joined_from),
            );
        }
        // Raised together, sent together: the operation's end, the roster,
        // and (a variant) an update of the call itself.
        let mut together = if variants.has(Variant::RosterFirst) {
            [rosters, terminal].concat()
        } else {
            [terminal, rosters].concat()
        };
        if variants.has(Variant::ExtraCallUpdates) {
            together.push(notification(
                "updated",
                call_id,
                "",
                &call.to_json(),
                variants,
            ));
        }
        call.notifier.send_together(together);

        if !faults.has(Fault::MoveKeepsOld) {
            for (old_call_id, participant_id) in leaves {
                if let Some(old) = self.calls.get_mut(&old_call_id) {
                    old.roster.retain(|p| p.id != participant_id);
                    let updates = old.roster_updates(
                        &old_call_id,
                        faults,
                        variants,
                        &self.mutating,
                        &[],
                        None,
                    );
                    old.notifier.send_together(updates);
                }
            }
        }
        if !faults.has(Fault::ReplacedCallKept) {
            for replaced_call_id in replaced {
                self.end_call(&replaced_call_id);
            }
        }
        Some(operation)
    }

    /// Who joins `call_id` and which peer-to-peer calls the invite replaces.
    /// A move (first participant names a participant of another live call)
    /// takes only the first participant and replaces nothing.
    fn plan(&self, call_id: &str, participants: &[Value]) -> (Vec<Join>, Vec<String>) {
        let is_move = participants
            .first()
            .and_then(|first| self.moved_from(call_id, first))
            .is_some();
        let moving = if is_move && !self.faults.has(Fault::MoveMovesAll) {
            participants.get(..1).unwrap_or(participants)
        } else {
            participants
        };
        let joins = moving
            .iter()
            .map(|participant| Join {
                identity: identity_of(participant),
                leaves: if is_move {
                    self.moved_from(call_id, participant)
                } else {
                    None
                },
            })
            .collect();
        let mut replaced: Vec<String> = Vec::new();
        if !is_move {
            for participant in participants {
                if participant
                    .get("participantId")
                    .is_some_and(|v| !v.is_null())
                {
                    continue;
                }
                let Some(replaces) = participant.get("replacesCallId").and_then(Value::as_str)
                else {
                    continue;
                };
                let is_p2p = matches!(
                    self.presence(replaces),
                    Presence::Live(CallKind::PeerToPeer)
                );
                if replaces != call_id && is_p2p && !replaced.iter().any(|id| id == replaces) {
                    replaced.push(replaces.to_owned());
                }
            }
        }
        (joins, replaced)
    }

    /// The (call, participant) a participant moves out of: its
    /// `replacesCallId` names another live call whose roster holds its
    /// `participantId`.
    fn moved_from(&self, call_id: &str, participant: &Value) -> Option<(String, String)> {
        let participant_id = participant.get("participantId")?.as_str()?;
        let old_call_id = participant.get("replacesCallId")?.as_str()?;
        if old_call_id == call_id {
            return None;
        }
        let old = self.calls.get(old_call_id)?;
        old.roster
            .iter()
            .any(|p| p.id == participant_id)
            .then(|| (old_call_id.to_owned(), participant_id.to_owned()))
    }
}

/// The `deleted` notification that announces an operation's end.
fn terminal_notification(
    operation: &Operation,
    call_named: &str,
    faults: FaultSet,
    variants: VariantSet,
    mutating: &Mutating,
) -> String {
    let mut data = operation.to_json(Place::Notification, variants);
    let mut operation_named = operation.id.clone();
    if faults.has(Fault::TerminalStatusRunning) {
        data["status"] = "running".into();
    }
    if faults.has(Fault::NoClientContextEcho) {
        crate::resources::remove(&mut data, "clientContext");
    }
    if faults.has(Fault::TerminalWithoutParticipants) {
        crate::resources::remove(&mut data, "participants");
    }
    if faults.has(Fault::NotificationClientContextMismatch) {
        data["clientContext"] = other_client_context(operation.client_context.as_deref()).into();
    }
    if faults.has(Fault::WrongNotificationIds) {
        operation_named = new_id();
        data["id"] = operation_named.clone().into();
    }
    let item = notification(
        "deleted",
        call_named,
        &format!("/operations/{operation_named}"),
        &data,
        variants,
    );
    match mutating.on(Document::Terminal) {
        Some(mutation) => mutation.apply_to_text(item),
        None => item,
    }
}

/// A notification item (JSON text) whose `resource` is `resource`.
fn with_resource(item: String, resource: &str) -> String {
    match serde_json::from_str::<Value>(&item) {
        Ok(mut value) if value.is_object() => {
            value["resource"] = resource.into();
            value.to_string()
        }
        _ => item,
    }
}

pub(crate) fn call_not_found(call_id: &str) -> ApiError {
    ApiError::NotFound(format!("Call {call_id:?} was not found."))
}

/// The identitySet of an invitationParticipantInfo (empty when a fault let
/// one through without).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn registry(limits: Limits) -> Registry {
        let (faults, variants) = (FaultSet::default(), VariantSet::default());
        let delivery = Arc::new(Delivery::new(
            &Config::default(),
            faults,
            variants,
            Mutating::default(),
        ));
        let ids = Arc::new(Ids::new(variants));
        Registry {
            limits,
            ..Registry::new(
                delivery,
                faults,
                variants,
                Mutating::default(),
                ids,
                usize::MAX,
            )
        }
    }

    fn new_call(registry: &mut Registry) -> Result<String, ApiError> {
        let new = NewCall {
            kind: CallKind::Group,
            // Nothing listens there: delivery fails quietly in the background.
            callback_uri: "http://127.0.0.1:9/callback".into(),
            targets: Vec::new(),
        };
        registry
            .create_call(new, &Map::new(), None)
            .map(|(id, _)| id)
    }

    fn operation(participants: usize) -> Operation {
        Operation {
            id: new_id(),
            client_context: None,
            participants: vec![json!({"identity": {"user": {"id": "u"}}}); participants],
            status: OperationStatus::Running,
            result_info: None,
        }
    }

    #[tokio::test]
    async fn calls_past_the_limit_are_refused_with_429() {
        let mut registry = registry(Limits {
            calls: 2,
            ..Limits::default()
        });
        let first = new_call(&mut registry).expect("first call");
        new_call(&mut registry).expect("second call");
        let refused = new_call(&mut registry).expect_err("third call");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(registry.end_call(&first));
        assert!(
            new_call(&mut registry).is_ok(),
            "an ended call frees its place"
        );
    }

    #[tokio::test]
    async fn live_calls_are_counted_per_client() {
        let mut registry = registry(Limits {
            calls_per_client: 2,
            ..Limits::default()
        });
        let (one, two): (Client, Client) =
            (Some([127, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
        let create = |registry: &mut Registry, owner: Client| {
            let new = NewCall {
                kind: CallKind::Group,
                callback_uri: "http://127.0.0.1:9/callback".into(),
                targets: Vec::new(),
            };
            registry
                .create_call(new, &Map::new(), owner)
                .map(|(id, _)| id)
        };
        let first = create(&mut registry, one).expect("first");
        create(&mut registry, one).expect("second");
        let refused = create(&mut registry, one).expect_err("third");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        create(&mut registry, two).expect("another client's first");
        create(&mut registry, None).expect("a client without an address");
        assert!(registry.end_call(&first));
        create(&mut registry, one).expect("an ended call frees its place");
        assert_eq!(registry.per_client.get(&one), Some(&2));
        assert_eq!(registry.per_client.len(), 3);
    }

    #[tokio::test]
    async fn a_call_cannot_start_with_a_roster_over_the_limit() {
        let mut registry = registry(Limits {
            roster: 3,
            ..Limits::default()
        });
        let call = |targets: usize| NewCall {
            kind: CallKind::Group,
            callback_uri: "http://127.0.0.1:9/callback".into(),
            targets: vec![json!({"identity": {"user": {"id": "u"}}}); targets],
        };
        // The bot and two targets fill a roster of three.
        assert!(registry.create_call(call(2), &Map::new(), None).is_ok());
        let refused = registry
            .create_call(call(3), &Map::new(), None)
            .expect_err("four in a roster of three");
        assert_eq!(refused.status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn ended_ids_are_remembered_up_to_the_limit() {
        let mut registry = registry(Limits {
            ended: 2,
            ..Limits::default()
        });
        let ids: Vec<String> = (0..3)
            .map(|_| new_call(&mut registry).expect("call"))
            .collect();
        for id in &ids {
            assert!(registry.end_call(id));
        }
        assert_eq!(registry.presence(&ids[0]), Presence::Unknown);
        assert_eq!(registry.presence(&ids[1]), Presence::Ended);
        assert_eq!(registry.presence(&ids[2]), Presence::Ended);
    }

    #[tokio::test]
    async fn rosters_and_operations_are_bounded() {
        let mut registry = registry(Limits {
            roster: 4,
            operations: 2,
            ..Limits::default()
        });
        let id = new_call(&mut registry).expect("call"); // the bot is listed
        let too_many = registry
            .add_operation(&id, operation(4))
            .expect_err("roster");
        assert_eq!(too_many.status(), axum::http::StatusCode::BAD_REQUEST);

        let first = operation(1);
        let first_id = first.id.clone();
        registry.add_operation(&id, first).expect("first");
        registry.add_operation(&id, operation(1)).expect("second");
        let busy = registry
            .add_operation(&id, operation(1))
            .expect_err("all running");
        assert_eq!(busy.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);

        registry.complete_invite(&id, &first_id);
        registry
            .add_operation(&id, operation(1))
            .expect("room again");
        assert!(
            registry.operation(&id, &first_id).is_none(),
            "the finished one is forgotten"
        );
        assert_eq!(registry.roster(&id).map(|r| r.len()), Some(2));
    }
}
