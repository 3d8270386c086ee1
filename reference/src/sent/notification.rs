//! Notifications as data: an item (`commsNotification`) says what changed
//! and carries the resource; a batch holds the items raised together, which
//! leave together, in order; the envelope (`commsNotifications`) is what one
//! POST carries. The seam shapes them, then writes them as JSON text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::resources::{CallResource, Operation, Participant};

/// What happened to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Updated,
    Deleted,
}

impl ChangeType {
    fn as_str(self) -> &'static str {
        match self {
            ChangeType::Updated => "updated",
            ChangeType::Deleted => "deleted",
        }
    }
}

/// What, under `/communications/calls/{id}`, an item is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum About {
    /// The call itself.
    Call,
    /// One of its operations, by id.
    Operation(String),
    /// Its roster.
    Participants,
}

/// An item's `resource` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceMember {
    /// The legacy path Graph still sends: `/app/calls/{id}...`.
    Legacy,
    /// The same path as `resourceUrl`.
    SameAsUrl,
    /// No `resource` member.
    Absent,
    /// This path.
    Path(String),
}

/// The kinds of item, which say which faults and variants apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoteKind {
    /// The call's state changed.
    CallState,
    /// An operation is still running.
    OperationUpdate,
    /// An operation ended (changeType `deleted`).
    OperationEnd,
    /// A roster update.
    Roster,
}

/// One `commsNotification`.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) change: ChangeType,
    /// The call `resourceUrl` names.
    pub(crate) call_id: String,
    pub(crate) about: About,
    pub(crate) resource: ResourceMember,
    /// Whether the item says its `@odata.type`.
    pub(crate) odata_type: bool,
    /// Whether the item carries a `sequenceNumber` (counted per call).
    pub(crate) numbered: bool,
    /// How many times the item is sent, in a row, the same each time.
    pub(crate) copies: usize,
    pub(crate) data: Data,
}

/// An item's `resourceData`.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// A call or an operation.
    Resource(Value),
    /// A roster, as a list of participants.
    Roster(RosterListing),
}

impl Note {
    fn new(change: ChangeType, call_id: &str, about: About, data: Data) -> Note {
        Note {
            change,
            call_id: call_id.to_owned(),
            about,
            resource: ResourceMember::Legacy,
            odata_type: true,
            numbered: false,
            copies: 1,
            data,
        }
    }

    /// The call's state: `call` is the call as it now stands.
    pub(crate) fn call(change: ChangeType, call_id: &str, call: Value) -> Note {
        Note::new(change, call_id, About::Call, Data::Resource(call))
    }

    /// An update of a running operation.
    pub(crate) fn operation_update(call_id: &str, operation: &Operation) -> Note {
        Note::operation(ChangeType::Updated, call_id, operation)
    }

    /// The `deleted` notification that announces an operation's end.
    pub(crate) fn operation_end(call_id: &str, operation: &Operation) -> Note {
        Note::operation(ChangeType::Deleted, call_id, operation)
    }

    fn operation(change: ChangeType, call_id: &str, operation: &Operation) -> Note {
        let about = About::Operation(operation.id.clone());
        Note::new(change, call_id, about, Data::Resource(operation.to_json()))
    }

    /// A roster update.
    pub(crate) fn roster(call_id: &str, listing: RosterListing) -> Note {
        Note::new(
            ChangeType::Updated,
            call_id,
            About::Participants,
            Data::Roster(listing),
        )
    }

    pub(crate) fn kind(&self) -> NoteKind {
        match (&self.about, self.change) {
            (About::Call, _) => NoteKind::CallState,
            (About::Operation(_), ChangeType::Updated) => NoteKind::OperationUpdate,
            (About::Operation(_), ChangeType::Deleted) => NoteKind::OperationEnd,
            (About::Participants, _) => NoteKind::Roster,
        }
    }

    /// The resource the item carries, when it is a call or an operation.
    pub(crate) fn resource_data_mut(&mut self) -> Option<&mut Value> {
        match &mut self.data {
            Data::Resource(value) => Some(value),
            Data::Roster(_) => None,
        }
    }

    /// The roster the item lists, when it is a roster update.
    pub(crate) fn listing_mut(&mut self) -> Option<&mut RosterListing> {
        match &mut self.data {
            Data::Resource(_) => None,
            Data::Roster(listing) => Some(listing),
        }
    }

    /// A member of the resource the item carries.
    pub(crate) fn member(&self, member: &str) -> Option<&Value> {
        match &self.data {
            Data::Resource(value) => value.get(member),
            Data::Roster(_) => None,
        }
    }

    /// Sets a member of the resource the item carries.
    pub(crate) fn set(&mut self, member: &str, value: impl Into<Value>) {
        if let Some(Value::Object(data)) = self.resource_data_mut() {
            data.insert(member.to_owned(), value.into());
        }
    }

    /// Removes a member of the resource the item carries.
    pub(crate) fn remove(&mut self, member: &str) {
        if let Some(Value::Object(data)) = self.resource_data_mut() {
            data.remove(member);
        }
    }

    /// The item as JSON text, with `data` (its `resourceData`, already
    /// text) inside. Written by hand rather than through a `Value`: a
    /// roster is assembled from its participants' cached texts.
    pub(crate) fn text(&self, data: &str) -> String {
        let quoted = |text: &str| Value::from(text).to_string();
        let tail = match &self.about {
            About::Call => String::new(),
            About::Operation(id) => format!("/operations/{id}"),
            About::Participants => "/participants".to_owned(),
        };
        let url = quoted(&format!("/communications/calls/{}{tail}", self.call_id));
        let odata_type = if self.odata_type {
            r##""@odata.type":"#microsoft.graph.commsNotification","##
        } else {
            ""
        };
        let resource = match &self.resource {
            ResourceMember::Legacy => format!(
                r#""resource":{},"#,
                quoted(&format!("/app/calls/{}{tail}", self.call_id))
            ),
            ResourceMember::SameAsUrl => format!(r#""resource":{url},"#),
            ResourceMember::Absent => String::new(),
            ResourceMember::Path(path) => format!(r#""resource":{},"#, quoted(path)),
        };
        format!(
            r#"{{{odata_type}"changeType":{},{resource}"resourceUrl":{url},"resourceData":{data}}}"#,
            quoted(self.change.as_str()),
        )
    }
}

/// The participants a roster update lists.
#[derive(Debug, Clone)]
pub(crate) struct RosterListing {
    /// The roster the update states, oldest participant first.
    pub(crate) roster: Vec<Arc<Participant>>,
    /// Where those who just joined start in `roster` (its length when
    /// nobody did: a leave).
    pub(crate) joined_from: usize,
    /// Where the participants the change added start; splitting an update
    /// in several narrows `joined_from` and keeps this.
    pub(crate) added_from: usize,
    /// List only those who just joined, when someone did (a delta).
    pub(crate) only_joined: bool,
    /// Leave out the participants the change added.
    pub(crate) hide_added: bool,
}

impl RosterListing {
    /// The whole roster, whose participants from `joined_from` on just
    /// joined.
    pub(crate) fn after_joins(roster: Vec<Arc<Participant>>, joined_from: usize) -> RosterListing {
        RosterListing {
            joined_from,
            added_from: joined_from,
            only_joined: false,
            hide_added: false,
            roster,
        }
    }

    /// The whole roster after someone left.
    pub(crate) fn after_leave(roster: Vec<Arc<Participant>>) -> RosterListing {
        let len = roster.len();
        RosterListing::after_joins(roster, len)
    }

    /// The participants listed, in order.
    pub(crate) fn listed(&self) -> impl Iterator<Item = &Arc<Participant>> {
        let start = if self.only_joined && self.joined_from < self.roster.len() {
            self.joined_from
        } else {
            0
        };
        let hidden_from = if self.hide_added {
            self.added_from
        } else {
            usize::MAX
        };
        self.roster
            .iter()
            .enumerate()
            .skip(start)
            .filter(move |(index, _)| *index < hidden_from)
            .map(|(_, participant)| participant)
    }
}

/// Why notifications were raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A call was created and is established.
    Established,
    /// An invite started running.
    InviteStarted,
    /// An invite completed (or failed): its end, the roster it changed.
    InviteCompleted,
    /// A call ended: its running operations fail, then the call goes.
    CallEnded,
    /// A participant moved out of the call.
    ParticipantLeft,
}

/// Notifications raised together: they leave together, in this order.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    pub(crate) cause: Cause,
    /// The call they are about, as it now stands.
    pub(crate) call_id: &'a str,
    pub(crate) call: &'a CallResource,
    pub(crate) notes: Vec<Note>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(
        cause: Cause,
        call_id: &'a str,
        call: &'a CallResource,
        notes: Vec<Note>,
    ) -> Batch<'a> {
        Batch {
            cause,
            call_id,
            call,
            notes,
        }
    }
}

/// A `commsNotifications` body. The type is closed: no variant adds members
/// to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// Whether it says its `@odata.type`.
    pub(crate) odata_type: bool,
}

impl Envelope {
    /// The body holding `items` (JSON texts), in order.
    pub(crate) fn text(&self, items: &[String]) -> String {
        let mut body = String::from(if self.odata_type {
            r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":["##
        } else {
            r#"{"value":["#
        });
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(item);
        }
        body.push_str("]}");
        body
    }
}

/// `item` (a JSON object's text) with a `sequenceNumber` member first, the
/// next of `sequence`.
pub(crate) fn numbered(item: String, sequence: &AtomicU64) -> String {
    let Some(members) = item.strip_prefix('{') else {
        return item;
    };
    let number = sequence.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let mut numbered = format!(r#"{{"sequenceNumber":{number}"#);
    if !members.trim_start().starts_with('}') {
        numbered.push(',');
    }
    numbered.push_str(members);
    numbered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_items_stay_json_objects() {
        let sequence = AtomicU64::new(0);
        let first = numbered(r#"{"changeType":"updated"}"#.to_owned(), &sequence);
        assert_eq!(first, r#"{"sequenceNumber":1,"changeType":"updated"}"#);
        assert_eq!(
            numbered("{}".to_owned(), &sequence),
            r#"{"sequenceNumber":2}"#
        );
        assert_eq!(numbered("[]".to_owned(), &sequence), "[]");
    }
}
