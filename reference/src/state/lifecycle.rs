//! How calls begin and end: creating one (the bot and its targets in the
//! roster, established at once) and ending one (its running invites fail,
//! then it is terminated and deleted, and its id answers 404).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::notify::Notifier;
use crate::resources::{new_id, CallResource, Operation, Participant};
use crate::seam::Decision;
use crate::sent::{Cause, ChangeType, Note};
use crate::state::call::Call;
use crate::state::{identity_of, Client, Registry};
use crate::validate::NewCall;

impl Registry {
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
