//! What an invite does to the calls: a running operation is recorded, then
//! completes: the invitees join (or move in from another call), the bot is
//! told, and a replaced peer-to-peer call ends.

use std::sync::Arc;

use serde_json::Value;

use crate::error::ApiError;
use crate::resources::{Operation, OperationStatus, Participant};
use crate::seam::Decision;
use crate::sent::{Cause, Note, RosterListing};
use crate::state::{call_not_found, identity_of, Presence, Registry};
use crate::validate::CallKind;

/// One participant of a completing invite: who joins, and the call it leaves
/// when the invite moves it.
struct Join {
    identity: Value,
    leaves: Option<(String, String)>,
}

/// How the bot learns that an invite ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announced {
    /// By the operation's `deleted` notification.
    ByNotification,
    /// In the invite's answer, which says it completed: no notification
    /// about the operation follows.
    InAnswer,
}

impl Registry {
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

    /// Starts an invite (it runs), and tells the bot so with an `updated`
    /// notification about the operation.
    pub(crate) fn start_invite(&mut self, call_id: &str, operation_id: &str) {
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
        let update = Note::operation_update(call_id, operation);
        call.notify(Cause::InviteStarted, call_id, vec![update]);
    }

    /// Completes an invite not yet ended: the invitees join (or move), the
    /// bot is told the operation ended (as `announced`) and sees the new
    /// roster, and a replaced peer-to-peer call ends. Returns the operation
    /// as it ended.
    pub(crate) fn complete_invite(
        &mut self,
        call_id: &str,
        operation_id: &str,
        announced: Announced,
    ) -> Option<Operation> {
        let (rules, limits) = (self.rules, self.limits);
        // None: the call ended, or the operation was forgotten.
        let operation = self
            .calls
            .get_mut(call_id)
            .and_then(|call| call.operations.get_mut(operation_id))?;
        if operation.status.is_terminal() {
            return None;
        }
        let failed = rules.decide(Decision::FailInvites);
        if failed {
            operation.fail(500, "The invitation failed.");
        } else {
            operation.status = OperationStatus::Completed;
        }
        let operation = operation.clone();
        let (joins, replaced) = if failed {
            (Vec::new(), Vec::new())
        } else {
            self.plan(call_id, &operation.participants)
        };

        let ids = &self.ids;
        let call = self.calls.get_mut(call_id)?;
        let joined_from = call.roster.len();
        let mut leaves = Vec::new();
        for join in joins {
            if call.roster.len() >= limits.roster {
                break;
            }
            let participant = Participant::new(ids.participant(), join.identity);
            call.roster.push(Arc::new(participant));
            leaves.extend(join.leaves);
        }
        // Raised together, sent together: the operation's end and the
        // roster it changed.
        let mut notes = Vec::new();
        if announced == Announced::ByNotification {
            notes.push(Note::operation_end(call_id, &operation));
        }
        if !failed {
            let listing = RosterListing::after_joins(call.roster.clone(), joined_from);
            notes.push(Note::roster(call_id, listing));
        }
        let end_announced = call.notify(Cause::InviteCompleted, call_id, notes);
        if end_announced && rules.decide(Decision::ForgetAnnouncedOperations) {
            // Its notification says the operation is deleted: so it is.
            call.operations.remove(operation_id);
        }

        if !rules.decide(Decision::KeepMovedInOldCall) {
            for (old_call_id, participant_id) in leaves {
                if let Some(old) = self.calls.get_mut(&old_call_id) {
                    old.roster.retain(|p| p.id != participant_id);
                    let listing = RosterListing::after_leave(old.roster.clone());
                    let update = Note::roster(&old_call_id, listing);
                    old.notify(Cause::ParticipantLeft, &old_call_id, vec![update]);
                }
            }
        }
        if !rules.decide(Decision::KeepReplacedCalls) {
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
        let moving = if is_move && !self.rules.decide(Decision::MoveEveryParticipant) {
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
