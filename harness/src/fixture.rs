//! Fixtures: what a case needs on the target before its request, the kinds
//! a contract declares, and the run's register of what the suite created,
//! which ends each of them (a failed end is tried once more on a new
//! connection) and lists what it could not end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::exchange::{HttpRequest, HttpResponse};
use crate::listener::Mailbox;
use crate::sync::lock;
use crate::target::Target;
use crate::template::Vars;

/// Something a case needs on the target before its request (a resource the
/// contract creates, or one the user lends).
#[derive(Debug, Clone)]
pub struct Fixture {
    pub kind: String,
    /// The value of `{{name}}`.
    pub id: String,
    /// More values, as `{{name.key}}`.
    pub extra: Vars,
    /// Where the target's notifications about this fixture arrive, when they can.
    pub mailbox: Option<Arc<Mailbox>>,
    /// The suite created it, so the suite ends it. A fixture the user lent
    /// is never ended.
    pub owned: bool,
    /// Notifications before this belong to earlier cases (a shared fixture).
    pub since: Instant,
}

impl Fixture {
    /// A fixture the suite did not create (one the user lent, an id that
    /// names nothing): never ended, and heard of on no mailbox.
    pub fn lent(kind: &str, id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_owned(),
            extra: Vars::new(),
            mailbox: None,
            owned: false,
            since: Instant::now(),
        }
    }
}

/// A kind of fixture a case may ask for, as a contract declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureKind {
    /// What a case file names it (`"fixtures": {"call": "group"}`).
    pub name: &'static str,
    /// One sentence for the case schema (editors show it).
    pub about: &'static str,
    /// How many generated inputs of a property may use one fixture of this
    /// kind, one after another, before it is ended: an input then costs
    /// its request, not a fixture's life as well. 1: never shared (a kind
    /// an input consumes or changes).
    pub shared: usize,
}

impl FixtureKind {
    /// A kind every case and input has its own of.
    pub const fn new(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            about,
            shared: 1,
        }
    }

    /// The same kind, shared by up to `inputs` generated inputs in turn.
    pub const fn shared_by(self, inputs: usize) -> Self {
        Self {
            shared: inputs,
            ..self
        }
    }
}

/// A fixture the suite created and could not end, and what the target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreleased {
    pub kind: String,
    pub id: String,
    pub answer: String,
}

/// What the suite created on the target and has not ended yet, and what it
/// could not end: every fixture is on it from the moment it exists until
/// it is ended, so one a trial left (a panic, a pool) is ended with the run.
#[derive(Debug, Default)]
pub struct Register {
    owned: Mutex<BTreeMap<String, Fixture>>,
    unreleased: Mutex<Vec<Unreleased>>,
}

impl Register {
    /// Registers a fixture the suite created: it will be ended.
    pub fn own(&self, fixture: &Fixture) {
        if fixture.owned {
            lock(&self.owned).insert(fixture.id.clone(), fixture.clone());
        }
    }

    /// Takes a fixture off the register (it was ended); false if it was not on it.
    pub fn disown(&self, id: &str) -> bool {
        lock(&self.owned).remove(id).is_some()
    }

    /// Everything still on the register.
    pub fn owned(&self) -> Vec<Fixture> {
        lock(&self.owned).values().cloned().collect()
    }

    /// Ends `fixture` with the request `ending` gives (none: it is gone
    /// already) if it is on the register, taking it off first: a fixture is
    /// ended once, whoever asks. A 2xx or a 404 (gone) ends it; anything else
    /// is tried once more on a new connection, and the error then carries
    /// the target's last answer.
    pub fn end(
        &self,
        target: &Target,
        fixture: &Fixture,
        ending: impl FnOnce(&Fixture) -> Option<HttpRequest>,
    ) -> Result<(), String> {
        if !fixture.owned || !self.disown(&fixture.id) {
            return Ok(());
        }
        let Some(request) = ending(fixture) else {
            return Ok(());
        };
        let method = &request.method;
        let answer = |sent: Result<HttpResponse, _>| match sent {
            Ok(r) if r.status / 100 == 2 || r.status == 404 => Ok(()),
            Ok(r) => Err(format!("{method} answered {}", r.status_line())),
            Err(e) => Err(format!("{method} failed: {e}")),
        };
        answer(target.send(&request)).or_else(|_| answer(target.send_on_new_connection(&request)))
    }

    /// Notes a fixture the suite could not end.
    pub fn unreleased(&self, fixture: &Fixture, answer: String) {
        // The target's answer, kept for the report: an excerpt.
        lock(&self.unreleased).push(Unreleased {
            kind: fixture.kind.clone(),
            id: crate::sanitize::excerpt(&fixture.id, crate::sanitize::QUOTE_MAX).into_owned(),
            answer: crate::sanitize::bound_text(answer),
        });
    }

    /// What could not be ended, so far.
    pub fn unreleased_list(&self) -> Vec<Unreleased> {
        lock(&self.unreleased).clone()
    }
}
