//! One call as the server holds it: its resource, roster, operations and
//! notification queue.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::notify::Notifier;
use crate::resources::{CallResource, Operation, Participant};
use crate::sent::{Batch, Cause, Note};
use crate::state::Client;
use crate::validate::CallKind;

#[derive(Debug)]
pub(super) struct Call {
    pub(super) kind: CallKind,
    /// Whose live-call allowance the call uses.
    pub(super) owner: Client,
    pub(super) resource: CallResource,
    /// Oldest first: the bot, the targets it was created with, then whoever
    /// joined since.
    pub(super) roster: Vec<Arc<Participant>>,
    pub(super) operations: HashMap<String, Operation>,
    /// Operation ids, oldest first, to know which one to forget.
    pub(super) operation_order: VecDeque<String>,
    pub(super) notifier: Notifier,
}

impl Call {
    /// Sends `notes`, raised together for `cause`, to the call's callback
    /// (as the seam shapes them); returns whether they announce an
    /// operation's end.
    pub(super) fn notify(&self, cause: Cause, call_id: &str, notes: Vec<Note>) -> bool {
        let batch = Batch::new(cause, call_id, &self.resource, notes);
        self.notifier.send(batch)
    }

    /// Frees room for one more operation by forgetting the oldest finished
    /// one; false when every kept operation is still running.
    pub(super) fn make_room_for_operation(&mut self, limit: usize) -> bool {
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
