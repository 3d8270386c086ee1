//! What the server sends, as data: answers and notifications are built as
//! values that say what they are, pass through the seam ([`crate::seam`]),
//! where faults and variants change them, and are written out last.

mod answer;
mod notification;

pub(crate) use answer::{Answer, AnswerKind, RequestIds, CLIENT_REQUEST_ID, JSON};
pub(crate) use notification::{
    numbered, About, Batch, Cause, ChangeType, Data, Envelope, Note, NoteKind, ResourceMember,
    RosterListing,
};
