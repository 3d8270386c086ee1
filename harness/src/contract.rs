//! What a contract gives the machinery: its names, its fixtures, its
//! invariants and their presets, its properties, its notification envelope,
//! and the implementation it embeds. The harness knows nothing of any API
//! beyond what a [`Contract`] tells it.

use std::any::Any;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;

use crate::env::Env;
use crate::error::FixtureError;
use crate::exchange::{HttpRequest, HttpResponse};
use crate::listener::Mailbox;
use crate::template::Vars;
use crate::verdict::{Check, Level, Verdict};

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
    /// The suite created it, so the suite ends it after the case. A fixture
    /// the user lent is never ended.
    pub owned: bool,
    /// Notifications before this belong to earlier cases (a reused fixture).
    pub since: Instant,
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
            .env
            .options
            .profile
            .apply((self.check)(exchange, self.skeleton()))
    }
}

/// Everything an invariant may look at: the request, the response, the
/// fixtures with their notifications, and the run's environment for follow-ups.
pub struct Exchange<'a> {
    pub env: &'a Env,
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

/// How a property runs: against the run's environment and the contract.
pub type PropertyRun = Box<dyn Fn(&Env, &dyn Contract) -> Verdict + Send + Sync>;

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

/// How a contract's notifications carry their items: the items of one
/// delivered body (`commsNotifications` has them in `value`, say).
pub type Envelope = fn(&Value) -> Vec<&Value>;

/// Every delivered body is one item: the envelope of a contract that does
/// not say otherwise.
pub fn whole_body(body: &Value) -> Vec<&Value> {
    vec![body]
}

/// An option of the contract's own that changes a verdict, as a rerun line
/// must repeat it: the flag, the environment variable that sets it, and the
/// value (empty for a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerunOption {
    pub flag: &'static str,
    pub var: &'static str,
    pub value: String,
}

/// The contract under test, as a suite describes it to the harness.
pub trait Contract: Send + Sync + 'static {
    /// The suite's name, as reports give it (`rooms-conformance`).
    fn name(&self) -> &'static str;
    /// What the suite checks, in a few words (`POST /rooms/{id}/messages`).
    fn title(&self) -> &'static str;

    /// The fixture kinds a case may ask for (`case.schema.json` lists the same).
    fn fixture_kinds(&self) -> &[&'static str];
    /// The fixture a notification expectation listens on when it names none.
    fn default_fixture(&self) -> &'static str;
    /// Prepares a fixture of `kind` on the target.
    fn fixture(&self, env: &Env, kind: &str) -> Result<Fixture, FixtureError>;
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
    fn probe(&self, _env: &Env, _kinds: &[String]) -> Result<(), String> {
        Ok(())
    }
    /// Ends a fixture after its case (one the suite created, taken off
    /// [`Env::own`]'s register); does nothing to one it does not own. An
    /// error says why it could not be ended, with the target's answer.
    fn release(&self, env: &Env, fixture: &Fixture) -> Result<(), String>;
    /// Ends a fixture the suite still owns when the run ends, whatever
    /// shares it (a trial that panicked, a pool left behind).
    fn end(&self, env: &Env, fixture: &Fixture) -> Result<(), String>;

    /// Every invariant a case may name.
    fn invariants(&self) -> &[Invariant];
    /// Named lists of invariants a case may name as `@name`.
    fn invariant_presets(&self) -> &[(&'static str, &'static [&'static str])] {
        &[]
    }
    /// The schema files the contract's own code validates with: checked
    /// when the run starts, so a missing one stops the run instead of
    /// switching a check off.
    fn schemas_used(&self) -> &[&'static str] {
        &[]
    }
    /// Problems of a case file that only the contract can see (an expectation
    /// the spec's freedoms make unfair), as `(JSON path, problem)`.
    fn lint_case(&self, _case: &Value) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The profiles a run may be judged under (`--profile`), the default
    /// first; none means every check at its declared level.
    fn profiles(&self) -> Vec<crate::profile::Profile> {
        Vec::new()
    }
    /// The generated trials.
    fn properties(&self) -> Vec<Property>;
    /// Checks of notifications captured elsewhere (`--notifications-file`):
    /// each document with its line number, parsed or not.
    fn check_notifications(
        &self,
        _schemas: &crate::schema::Schemas,
        _documents: &[(usize, Result<Value, String>)],
    ) -> Vec<Check> {
        Vec::new()
    }

    /// How delivered notification bodies hold their items.
    fn envelope(&self) -> Envelope {
        whole_body
    }
    /// A path under the target that needs the token and names nothing: a
    /// request to it before any trial tells a refused token from a finding.
    fn preflight_path(&self) -> Option<String> {
        None
    }
    /// The contract's own options that change a verdict, for rerun lines.
    fn rerun_options(&self) -> Vec<RerunOption> {
        Vec::new()
    }
    /// Starts the embedded implementation when no target is given; returns its
    /// base URL and a guard that stops it when dropped.
    /// It runs on `runtime`, the harness's own, so the embedded target adds
    /// no threads of its own to switch between.
    fn start_embedded(
        &self,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(String, Box<dyn std::any::Any + Send + Sync>), String>;
}
