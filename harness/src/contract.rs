//! What a contract gives the machinery, and what its code is given.
//!
//! A contract is mostly data ([`Description`]: its names, fixture kinds,
//! invariants and their presets, profiles, schemas, notification envelope)
//! and says how to create and end a fixture; the harness owns the rest of a
//! fixture's life (registering it, sharing it, ending it, retrying, and
//! reporting what it could not end). Its code runs with a [`Context`]: what
//! talks to the target, the run's options and schemas, and the [`Scope`]
//! of fixtures the trial (or generated input) owns.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use crate::error::{FixtureError, TransportError};
use crate::exchange::{HttpRequest, HttpResponse};
use crate::fixture::{Fixture, FixtureKind, Register};
use crate::kept::{RawExchange, RawStep, Recording};
use crate::listener::{whole_body, Envelope, Listener};
use crate::profile::Profile;
use crate::run_options::RunOptions;
use crate::schema::Schemas;
use crate::sync::lock;
use crate::target::{Guard, Target};
use crate::template::Vars;
use crate::verdict::{Check, Level, Verdict};

/// What a contract is, as data.
#[derive(Debug, Clone)]
pub struct Description {
    /// The suite's name, as reports give it (`rooms-conformance`).
    pub name: &'static str,
    /// What the suite checks, in a few words (`POST /rooms/{id}/messages`).
    pub title: &'static str,
    /// The fixture kinds a case may ask for (the case schema lists them).
    pub fixtures: Vec<FixtureKind>,
    /// The fixture a notification expectation listens on when it names none.
    pub default_fixture: &'static str,
    /// Every invariant a case may name.
    pub invariants: Vec<Invariant>,
    /// Named lists of invariants a case may name as `@name`.
    pub presets: &'static [(&'static str, &'static [&'static str])],
    /// The profiles a run may be judged under (`--profile`), the default
    /// first; none means every check at its declared level.
    pub profiles: Vec<Profile>,
    /// The schema files the contract's own code validates with: checked
    /// when the run starts, so a missing one stops the run instead of
    /// switching a check off.
    pub schemas_used: &'static [&'static str],
    /// How delivered notification bodies hold their items.
    pub envelope: Envelope,
    /// A path under the target that needs the token and names nothing: a
    /// request to it before any trial tells a refused token from a finding.
    pub preflight_path: Option<String>,
    /// Identity kind -> the sample identities cases and generated inputs
    /// use when no tenant profile is given (`{{identity.user.1}}` is the
    /// second `user`); a tenant profile maps the same kinds.
    pub identities: &'static [(&'static str, &'static [&'static str])],
    /// What the contract leaves free, normalised before a recording is
    /// compared (`--compare`).
    pub freedoms: crate::freedoms::Freedoms,
}

impl Default for Description {
    fn default() -> Self {
        Self {
            name: "conformance",
            title: "",
            fixtures: Vec::new(),
            default_fixture: "",
            invariants: Vec::new(),
            presets: &[],
            profiles: Vec::new(),
            schemas_used: &[],
            envelope: whole_body,
            preflight_path: None,
            identities: &[],
            freedoms: crate::freedoms::Freedoms::default(),
        }
    }
}

impl Description {
    /// The kind named `name`, if the contract has it.
    pub fn kind(&self, name: &str) -> Option<&FixtureKind> {
        self.fixtures.iter().find(|k| k.name == name)
    }

    /// The names of the fixture kinds.
    pub fn kind_names(&self) -> Vec<&'static str> {
        self.fixtures.iter().map(|k| k.name).collect()
    }
}

/// The contract under test, as a suite describes it to the harness.
pub trait Contract: Send + Sync + 'static {
    /// What the contract is: see [`Description`].
    fn description(&self) -> &Description;

    /// Creates a fixture of `kind` on the target (or returns the one the
    /// user lent). Whatever it creates is handed to
    /// `cx.fixtures.own(&fixture)` as soon as it exists, before it is
    /// awaited: the harness then ends it after its case, or at the end of
    /// the run whatever happens, and a failed creation's remains with it.
    fn create(&self, cx: &Context<'_>, kind: &str) -> Result<Fixture, FixtureError>;

    /// The request that ends `fixture` (a `DELETE`), or `None` when there
    /// is nothing left to end (the target announced it gone). Only fixtures
    /// the suite created are ever ended; a 2xx or a 404 ends one.
    fn ending(&self, fixture: &Fixture) -> Option<HttpRequest>;

    /// Starts the embedded implementation, the target when none is given:
    /// its base URL and a guard that stops it when dropped. It runs on
    /// `runtime`, the harness's own, so it adds no threads of its own.
    fn start_embedded(&self, _runtime: &tokio::runtime::Handle) -> Result<(String, Guard), String> {
        Err("this suite embeds no implementation: give --target URL".to_owned())
    }

    /// The generated trials.
    fn properties(&self) -> Vec<Property> {
        Vec::new()
    }

    /// Why the target cannot give a fixture of `kind` under this run's
    /// options, known before any trial (the same reason
    /// [`FixtureError::Unavailable`] gives); `None` when it may. Cases and
    /// properties that need only what it cannot give are ignored before
    /// they run, so a runner that runs each test alone (nextest) skips them.
    fn unavailable(&self, _kind: &str) -> Option<String> {
        None
    }

    /// Before any trial, against a target given by the user: a first use of
    /// fixtures of `kinds` (what the selected trials need), to find a set-up
    /// that is wrong for every trial (a base URL every creation meets with
    /// 404, a target that never answers, notifications that never reach the
    /// listener). An error says what to change; the run stops with it once,
    /// instead of once per trial. Anything else is left to the trials.
    fn probe(&self, _cx: &Context<'_>, _kinds: &[String]) -> Result<(), String> {
        Ok(())
    }

    /// Problems of a case file that only the contract can see (an expectation
    /// the spec's freedoms make unfair), as `(JSON path, problem)`.
    fn lint_case(&self, _case: &Value) -> Vec<(String, String)> {
        Vec::new()
    }

    /// A case recorded from a target (`--record-cases`), made fair under the
    /// contract's freedoms where the harness cannot know them (an
    /// expectation the response may stand in for).
    fn recorded_case(&self, case: Value) -> Value {
        case
    }

    /// Checks of notifications captured elsewhere (`--notifications-file`):
    /// each document with its line number, parsed or not.
    fn check_notifications(
        &self,
        _schemas: &Schemas,
        _documents: &[(usize, Result<Value, String>)],
    ) -> Vec<Check> {
        Vec::new()
    }
}

/// A documented invariant: an id, a level, and the sentence it enforces.
#[derive(Debug, Clone, Copy)]
pub struct Invariant {
    pub id: &'static str,
    pub level: Level,
    /// What holds, in a few words (`Location ends in …/operations/{opId}`).
    pub summary: &'static str,
    /// Where the rule comes from: the spec page's section, or the other
    /// document it is known from (which is why it is only a SHOULD).
    pub source: &'static str,
    /// The sentence or example the rule rests on, quoted.
    pub spec: &'static str,
    pub check: fn(&Exchange<'_>, Check) -> Check,
}

impl Invariant {
    /// The check this invariant's verdict starts from: its id, level,
    /// summary and rule, passing until the check says otherwise.
    pub fn skeleton(&self) -> Check {
        Check::new(self.id, self.level, self.summary).spec(self.spec)
    }

    /// The check, at its level under the run's profile.
    pub fn evaluate(&self, exchange: &Exchange<'_>) -> Check {
        exchange
            .cx
            .options
            .profile
            .apply((self.check)(exchange, self.skeleton()))
    }
}

/// Everything an invariant may look at: the request, the response, the
/// fixtures with their notifications, and the run's context for follow-ups.
pub struct Exchange<'a> {
    pub cx: &'a Context<'a>,
    pub request: &'a HttpRequest,
    /// The request body as JSON, when it was JSON.
    pub request_json: Option<&'a Value>,
    pub response: &'a HttpResponse,
    pub fixtures: &'a BTreeMap<String, Fixture>,
    pub vars: &'a Vars,
    pub sent_at: Instant,
    /// When notifications must have arrived by.
    pub notification_deadline: Instant,
    /// What the invariants of this exchange worked out once and share.
    pub memo: Memo,
}

/// Values computed once per exchange and shared by its invariants (several
/// need the same settled notifications; waiting and reading them once is enough).
#[derive(Default)]
pub struct Memo(Mutex<HashMap<&'static str, Arc<dyn Any + Send + Sync>>>);

impl Memo {
    /// The value under `key`, computed by `compute` the first time.
    pub fn get_or<T: Clone + Send + Sync + 'static>(
        &self,
        key: &'static str,
        compute: impl FnOnce() -> T,
    ) -> T {
        let known = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .and_then(|v| v.clone().downcast::<T>().ok());
        if let Some(value) = known {
            return (*value).clone();
        }
        // Computed without the lock held: it may wait on the target.
        let value = compute();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::new(value.clone()));
        value
    }
}

/// How a property runs: with the context of its trial.
pub type PropertyRun = Box<dyn Fn(&Context<'_>) -> Verdict + Send + Sync>;

/// A generated check: one named trial that runs many inputs.
pub struct Property {
    /// `rooms::accepts_any_text` (the trial is `prop::` + this).
    pub name: String,
    pub run: PropertyRun,
    /// The fixture kinds its inputs may ask for: when the target can give
    /// none of them, the property is ignored before it runs (with the
    /// reasons); inputs needing one it cannot give are skipped.
    pub fixtures: Vec<&'static str>,
    /// Why it cannot run on this target at all, known before it runs (it
    /// needs what the options say the target cannot give).
    pub ignore: Option<String>,
}

/// What a contract's code works with while a trial runs.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// What talks to the target: HTTP, the callback listener.
    pub target: &'a Target,
    /// The run's options, as the trials read them.
    pub options: &'a RunOptions,
    pub schemas: &'a Schemas,
    /// The fixtures this trial (or generated input) owns.
    pub fixtures: &'a Scope<'a>,
}

impl Context<'_> {
    /// Sends a request to the target (see [`Target::send`]); a trial that
    /// is recorded keeps the exchange.
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let at = Instant::now();
        let result = self.target.send(request);
        self.fixtures.note_exchange(at, request, &result);
        result
    }

    /// Runs a future to completion from the trial's thread.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.target.block_on(future)
    }

    /// The callback listener.
    pub fn listener(&self) -> &Listener {
        self.target.listener()
    }
}

/// The fixtures one trial, or one generated input, owns: what it creates
/// is ended when it ends (or, whatever happens, with the run). Inputs of a
/// property draw the kinds their contract shares from a [`Pool`].
pub struct Scope<'a> {
    contract: &'a dyn Contract,
    register: &'a Register,
    target: &'a Target,
    options: &'a RunOptions,
    schemas: &'a Schemas,
    pool: Option<&'a Pool>,
    /// What this scope created and has not ended, in order.
    owned: Mutex<Vec<Fixture>>,
    /// The trial's recording, when the run records (children share it).
    recording: Option<&'a Recording>,
    /// What passes through this scope while its case runs, when recorded
    /// (each scope its own: a generated input's is not its trial's).
    step: Mutex<Option<RawStep>>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        contract: &'a dyn Contract,
        register: &'a Register,
        target: &'a Target,
        options: &'a RunOptions,
        schemas: &'a Schemas,
    ) -> Self {
        Self {
            contract,
            register,
            target,
            options,
            schemas,
            pool: None,
            owned: Mutex::default(),
            recording: None,
            step: Mutex::default(),
        }
    }

    /// The same scope, its cases recorded into `recording`.
    pub(crate) fn recorded(mut self, recording: Option<&'a Recording>) -> Self {
        self.recording = recording;
        self
    }

    /// The trial's recording, if the run records.
    pub(crate) fn recording(&self) -> Option<&'a Recording> {
        self.recording
    }

    /// A case begins: what passes through this scope is kept, when recorded.
    pub(crate) fn begin_step(&self) {
        if self.recording.is_some() {
            *lock(&self.step) = Some(RawStep::new());
        }
    }

    /// Keeps an exchange of the case that is running, when recorded.
    fn note_exchange(
        &self,
        at: Instant,
        request: &HttpRequest,
        result: &Result<HttpResponse, TransportError>,
    ) {
        if let Some(recording) = self.recording {
            recording.note_sent(request);
        }
        if let Some(step) = lock(&self.step).as_mut() {
            step.exchanges.push(RawExchange {
                at,
                request: request.clone(),
                outcome: match result {
                    Ok(r) => Ok(r.clone()),
                    Err(e) => Err(e.to_string()),
                },
                case: false,
            });
        }
    }

    /// The exchange just kept was the case's own request.
    pub(crate) fn mark_case_request(&self) {
        if let Some(e) = lock(&self.step)
            .as_mut()
            .and_then(|s| s.exchanges.last_mut())
        {
            e.case = true;
        }
    }

    /// The case has ended: what passed through the scope meanwhile.
    pub(crate) fn end_step(&self) -> Option<RawStep> {
        lock(&self.step).take()
    }

    /// A scope of its own beside this one (a generated input's), drawing the
    /// kinds its contract shares from `pool`.
    pub fn child(&self, pool: Option<&'a Pool>) -> Scope<'a> {
        Scope {
            pool,
            owned: Mutex::default(),
            step: Mutex::default(),
            ..*self
        }
    }

    /// The context of a trial in this scope.
    pub fn context<'s>(&'s self) -> Context<'s>
    where
        'a: 's,
    {
        Context {
            target: self.target,
            options: self.options,
            schemas: self.schemas,
            fixtures: self,
        }
    }

    /// The contract the scope's fixtures are made by.
    pub(crate) fn contract(&self) -> &'a dyn Contract {
        self.contract
    }

    /// A fixture of `kind` for this scope: one its pool shares, or one the
    /// contract creates (what the creation left on the target when it
    /// failed is ended at once).
    pub fn fixture(&self, kind: &str) -> Result<Fixture, FixtureError> {
        let description = self.contract.description();
        let Some(declared) = description.kind(kind) else {
            return Err(FixtureError::Unsupported {
                kind: kind.to_owned(),
                message: format!(
                    "unknown fixture kind (known: {})",
                    description.kind_names().join(", ")
                ),
            });
        };
        let shared = declared.shared;
        // A tenant's identities are few and drawn again by every input: in
        // a shared fixture an input would meet the last one's invitees, so
        // under a tenant profile every input has its own. So it has when
        // recorded: a replay runs each input alone, on fixtures of its own,
        // and must find what the recording found.
        let unshared = self.options.tenant.file.is_some() || self.recording.is_some();
        if let (Some(pool), true) = (self.pool, shared > 1 && !unshared) {
            return pool.take(self, kind, shared);
        }
        let before = lock(&self.owned).len();
        let made = self.contract.create(&self.context(), kind);
        if made.is_err() {
            let remains: Vec<Fixture> = lock(&self.owned).split_off(before);
            self.end_all(&remains);
        }
        made
    }

    /// Registers a fixture the contract just created: it is ended when this
    /// scope is released, or with the run.
    pub fn own(&self, fixture: &Fixture) {
        if fixture.owned {
            self.register.own(fixture);
            lock(&self.owned).push(fixture.clone());
        }
    }

    /// Ends a fixture now (an `ended_group` fixture, a call the trial is
    /// done with); the error carries the target's answer.
    pub fn end(&self, fixture: &Fixture) -> Result<(), String> {
        lock(&self.owned).retain(|f| f.id != fixture.id);
        self.register
            .end(self.target, fixture, |f| self.contract.ending(f))
    }

    /// [`Scope::end`], and what could not be ended is reported with the run.
    pub fn end_or_report(&self, fixture: &Fixture) {
        if let Err(answer) = self.end(fixture) {
            self.register.unreleased(fixture, answer);
        }
    }

    /// Notes that the trial ended fixture `id` itself (its `DELETE` was
    /// what the trial checks): nothing is left to end.
    pub fn ended(&self, id: &str) {
        lock(&self.owned).retain(|f| f.id != id);
        self.register.disown(id);
    }

    /// Ends everything the scope still owns; what could not be ended, with
    /// the target's answer, is reported with the run and returned.
    pub fn release(&self) -> Vec<(Fixture, String)> {
        let owned = std::mem::take(&mut *lock(&self.owned));
        self.end_all(&owned)
    }

    fn end_all(&self, fixtures: &[Fixture]) -> Vec<(Fixture, String)> {
        let mut left = Vec::new();
        for fixture in fixtures {
            if let Err(answer) = self
                .register
                .end(self.target, fixture, |f| self.contract.ending(f))
            {
                self.register.unreleased(fixture, answer.clone());
                left.push((fixture.clone(), answer));
            }
        }
        left
    }
}

/// Fixtures generated inputs share, one after another: a worker's inputs
/// draw from their own pool, so no fixture is in two inputs at once. What
/// a pool holds is ended when it is released (and with the run, whatever
/// happens).
#[derive(Default)]
pub struct Pool {
    /// Kind -> the fixture the pool shares of it.
    shared: Mutex<HashMap<String, Shared>>,
}

/// A fixture a pool shares: how many inputs had it, and what its creation
/// registered (what ending it ends).
struct Shared {
    fixture: Fixture,
    uses: usize,
    made: Vec<Fixture>,
}

impl Pool {
    /// The pooled fixture of `kind`, or a new one once it served `most` inputs.
    fn take(&self, scope: &Scope<'_>, kind: &str, most: usize) -> Result<Fixture, FixtureError> {
        let taken = lock(&self.shared).remove(kind);
        match taken {
            Some(mut shared) if shared.uses < most => {
                shared.fixture.since = Instant::now();
                shared.uses += 1;
                let fixture = shared.fixture.clone();
                lock(&self.shared).insert(kind.to_owned(), shared);
                return Ok(fixture);
            }
            Some(worn) => {
                scope.end_all(&worn.made);
            }
            None => {}
        }
        // Created in a scope of its own: what it registers belongs to the
        // pool, not to the input that happened to ask first.
        let creating = scope.child(None);
        let made = scope.contract.create(&creating.context(), kind);
        let registered = std::mem::take(&mut *lock(&creating.owned));
        match made {
            Ok(fixture) => {
                let shared = Shared {
                    fixture: fixture.clone(),
                    uses: 1,
                    made: registered,
                };
                lock(&self.shared).insert(kind.to_owned(), shared);
                Ok(fixture)
            }
            Err(e) => {
                scope.end_all(&registered);
                Err(e)
            }
        }
    }

    /// Ends what the pool holds.
    pub fn release(&self, scope: &Scope<'_>) {
        let shared: Vec<Shared> = lock(&self.shared).drain().map(|(_, s)| s).collect();
        for worn in shared {
            scope.end_all(&worn.made);
        }
    }
}
