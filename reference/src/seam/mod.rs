//! The seam: the one place where faults and variants act. The correct
//! server builds what it sends as data ([`crate::sent`]) and hands it here
//! as it leaves; the seam applies the effects the active faults and
//! variants list in their tables ([`crate::faults`], [`crate::variants`]),
//! then the data mutation, and writes the result. The few faults and
//! variants that change what the server does, rather than what it sends,
//! turn a named [`Decision`] or a number of [`Rules`] instead.
//!
//! Effects apply in table order, every variant's before any fault's: a
//! variant chooses among legitimate forms, a fault breaks the form chosen,
//! and the mutation alters what both left.

pub(crate) mod effect;
pub(crate) mod rules;

use std::sync::atomic::AtomicU64;

use axum::response::Response;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::mutation::{Document, Mutating};
use crate::resources::Participant;
use crate::sent::{
    numbered, Answer, AnswerKind, Batch, Data, Envelope, Note, NoteKind, RequestIds,
};
use crate::variants::Variant;
use effect::{
    AnswerChange, Answers, Effect, InviteRefusal, NoteChange, Notes, Place, Resource,
    ResourceChange, Shown,
};
pub(crate) use rules::{Decision, Rules};

/// The effects of one server's faults and variants, sorted by where they
/// apply. Without faults and variants every list is empty, and what leaves
/// is what the correct server built.
pub(crate) struct Seam {
    rules: Rules,
    invite_refusals: Vec<InviteRefusal>,
    refusals: Vec<fn(&mut ApiError)>,
    resources: Vec<(Resource, Shown, ResourceChange)>,
    answers: Vec<(Answers, AnswerChange)>,
    notes: Vec<(Notes, NoteChange)>,
    batches: Vec<fn(&mut Batch<'_>)>,
    envelopes: Vec<fn(&mut Envelope)>,
    post_bodies: Vec<fn(String) -> String>,
    mutating: Mutating,
}

impl std::fmt::Debug for Seam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seam")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Seam {
    /// The seam of a server set up with `config` (as [`Config::applied`]
    /// makes it).
    pub(crate) fn new(config: &Config) -> Seam {
        let mut seam = Seam {
            rules: Rules::new(config),
            invite_refusals: Vec::new(),
            refusals: Vec::new(),
            resources: Vec::new(),
            answers: Vec::new(),
            notes: Vec::new(),
            batches: Vec::new(),
            envelopes: Vec::new(),
            post_bodies: Vec::new(),
            mutating: Mutating::new(config.mutation.as_ref()),
        };
        // In table order, whatever order the configuration names them in.
        let variants = Variant::ALL.iter().filter(|v| config.variants.contains(v));
        let faults = Fault::ALL.iter().filter(|f| config.faults.contains(f));
        let effects = variants
            .flat_map(|v| v.effects())
            .chain(faults.flat_map(|f| f.effects()));
        for effect in effects {
            seam.add(*effect);
        }
        seam
    }

    fn add(&mut self, effect: Effect) {
        match effect {
            Effect::Decide(decision) => self.rules = self.rules.with(decision),
            Effect::Rules(change) => change(&mut self.rules),
            Effect::RefuseInvite(refuse) => self.invite_refusals.push(refuse),
            Effect::Refusal(change) => self.refusals.push(change),
            Effect::Resource(resource, shown, change) => {
                self.resources.push((resource, shown, change));
            }
            Effect::Answer(answers, change) => self.answers.push((answers, change)),
            Effect::Note(notes, change) => self.notes.push((notes, change)),
            Effect::Batch(change) => self.batches.push(change),
            Effect::Envelope(change) => self.envelopes.push(change),
            Effect::PostBody(change) => self.post_bodies.push(change),
        }
    }

    /// The rules the correct code follows.
    pub(crate) fn rules(&self) -> Rules {
        self.rules
    }

    /// A valid invite body, refused anyway when a fault says so.
    pub(crate) fn refuse_invite(&self, body: &Map<String, Value>) -> Result<(), ApiError> {
        match self.invite_refusals.iter().find_map(|refuse| refuse(body)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// `value`, a `resource` shown at `place`, as the server shows it.
    fn resource(&self, resource: Resource, place: Place, value: &mut Value) {
        for (which, shown, change) in &self.resources {
            if *which == resource && shown.covers(place) {
                change(value);
            }
        }
    }

    /// The answer a handler (or a refusal) left in `response`, shaped and
    /// written: the exit of every answer. `ids` are the request's.
    pub(crate) fn answer(&self, mut response: Response, ids: RequestIds) -> Response {
        let answer = response.extensions_mut().remove::<Answer>();
        let mut answer = match answer {
            Some(answer) => answer,
            None => {
                let status = response.status();
                let error = response.extensions_mut().remove::<ApiError>().or_else(|| {
                    // axum's own refusals (a bad path parameter, a method
                    // the route does not have) get the same body as ours.
                    (status.is_client_error() || status.is_server_error())
                        .then(|| ApiError::from_status(status))
                });
                let Some(mut error) = error else {
                    // Every handler answers with an `Answer` or a refusal;
                    // anything else would pass as it is.
                    return response;
                };
                for change in &self.refusals {
                    change(&mut error);
                }
                Answer::refusal(&error, &ids)
            }
        };
        answer.request_ids = Some(ids);
        self.shape(&mut answer);
        answer.write_into(&mut response);
        response
    }

    fn shape(&self, answer: &mut Answer) {
        let resource = match answer.kind {
            AnswerKind::CallCreated | AnswerKind::Call => Some(Resource::Call),
            AnswerKind::Invite | AnswerKind::Operation => Some(Resource::Operation),
            AnswerKind::Participants => Some(Resource::Participant),
            AnswerKind::CallDeleted | AnswerKind::Refusal => None,
        };
        if let (Some(resource), Some(body)) = (resource, answer.body.as_mut()) {
            if resource == Resource::Participant {
                let listed = body.get_mut("value").and_then(Value::as_array_mut);
                for participant in listed.into_iter().flatten() {
                    self.resource(resource, Place::Answer, participant);
                }
            } else {
                self.resource(resource, Place::Answer, body);
            }
        }
        for (answers, change) in &self.answers {
            if answers.covers(answer.kind) {
                change(answer);
            }
        }
        let document = match answer.kind {
            AnswerKind::Invite => Some(Document::Response),
            AnswerKind::Operation => Some(Document::Operation),
            _ => None,
        };
        if let (Some(mutation), Some(body)) = (
            document.and_then(|document| self.mutating.on(document)),
            answer.body.as_mut(),
        ) {
            mutation.apply(body);
        }
    }

    /// The notification items of `batch` as JSON text, shaped, in the order
    /// they leave, each copy numbered from `sequence` when a variant says
    /// so; and whether they announce an operation's end.
    pub(crate) fn notifications(
        &self,
        mut batch: Batch<'_>,
        sequence: &AtomicU64,
    ) -> (Vec<String>, bool) {
        for change in &self.batches {
            change(&mut batch);
        }
        let ends = batch
            .notes
            .iter()
            .any(|note| note.kind() == NoteKind::OperationEnd);
        let mut items = Vec::with_capacity(batch.notes.len());
        for mut note in batch.notes {
            self.shape_note(&mut note);
            let text = self.item(&note);
            let number = |text: String| {
                if note.numbered {
                    numbered(text, sequence)
                } else {
                    text
                }
            };
            for _ in 1..note.copies {
                items.push(number(text.clone()));
            }
            items.push(number(text));
        }
        (items, ends)
    }

    fn shape_note(&self, note: &mut Note) {
        let kind = note.kind();
        let resource = match kind {
            NoteKind::CallState => Resource::Call,
            NoteKind::OperationUpdate | NoteKind::OperationEnd => Resource::Operation,
            NoteKind::Roster => Resource::Participant,
        };
        if let Some(data) = note.resource_data_mut() {
            self.resource(resource, Place::Notification, data);
        }
        for (notes, change) in &self.notes {
            if notes.covers(kind) {
                change(note);
            }
        }
    }

    /// A shaped item as JSON text.
    fn item(&self, note: &Note) -> String {
        let mut text = match &note.data {
            Data::Resource(value) => note.text(&value.to_string()),
            Data::Roster(listing) => {
                let mut roster = String::from("[");
                for (i, participant) in listing.listed().enumerate() {
                    if i > 0 {
                        roster.push(',');
                    }
                    roster.push_str(self.roster_participant(participant));
                }
                roster.push(']');
                note.text(&roster)
            }
        };
        let document = match note.kind() {
            NoteKind::OperationEnd => Some(Document::Terminal),
            NoteKind::Roster => Some(Document::Roster),
            NoteKind::CallState | NoteKind::OperationUpdate => None,
        };
        if let Some(mutation) = document.and_then(|document| self.mutating.on(document)) {
            text = mutation.apply_to_text(text);
        }
        text
    }

    /// A participant as roster notifications carry it.
    fn roster_participant<'p>(&self, participant: &'p Participant) -> &'p str {
        participant.roster_text(|participant| {
            let mut json = participant.to_json();
            self.resource(Resource::Participant, Place::Notification, &mut json);
            json.to_string()
        })
    }

    /// The body of one notification POST holding `items`.
    pub(crate) fn post_body(&self, items: &[String]) -> String {
        let mut envelope = Envelope { odata_type: true };
        for change in &self.envelopes {
            change(&mut envelope);
        }
        let mut body = envelope.text(items);
        if let Some(mutation) = self.mutating.on(Document::Envelope) {
            body = mutation.apply_to_text(body);
        }
        for change in &self.post_bodies {
            body = change(body);
        }
        body
    }
}
