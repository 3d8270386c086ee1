//! One run of a suite, whoever drives it: the options checked against the
//! contract, the trials (discovery), the set-up on first use (schemas, the
//! target, the register of fixtures), each trial's one code path, and the
//! conclusion (what the run left, its report, its exit code). The console
//! drives it with libtest-mimic (`console.rs`); [`crate::run`] drives it in
//! this process (`inprocess.rs`). Neither this module nor the trials print:
//! what the console says outside a trial's own lines comes back as notes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::contract::{Contract, Property, Scope};
use crate::error::{chain, SetupError};
use crate::exchange::Limits;
use crate::fixture::Register;
use crate::known::KnownFailures;
use crate::listener::Caps;
use crate::options::{defaults, Options};
use crate::outcome::{Exit, Status};
use crate::plan::{Needs, Plan};
use crate::profile::Profile;
use crate::record::Record;
use crate::render::Styles;
use crate::rerun::RerunArgs;
use crate::run_options::RunOptions;
use crate::schema::Schemas;
use crate::settings::Settings;
use crate::target::{Reach, Target};
use crate::verdict::{Verdict, Where};

/// A run that cannot go on: the exit code, and what the console says.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub exit: Exit,
    /// The line nextest takes as the failure's message, when it has one.
    pub junit: Option<String>,
}

impl Stop {
    fn new(code: u8, message: String) -> Self {
        Self {
            exit: Exit {
                code,
                message: Some(message),
            },
            junit: None,
        }
    }
}

/// The parts of a run that talks to the target, set up on first use.
struct Parts {
    target: Target,
    options: RunOptions,
    register: Register,
    schemas: Arc<Schemas>,
}

/// What a trial is.
enum What {
    CaseLint,
    SchemaLint,
    Offline(PathBuf),
    Case {
        path: PathBuf,
        /// Why the file cannot be a case; the trial fails with it.
        problem: Option<String>,
    },
    Property(Arc<Property>),
}

/// One trial, as discovery found it.
pub(crate) struct TrialSpec {
    pub name: String,
    /// Ignored before it runs (its case file says so, or it needs what the
    /// target cannot give).
    pub ignored: bool,
    /// Why, when it is.
    pub reason: Option<String>,
    what: What,
}

/// The trials of a run, what the selection makes of them, and what the
/// console says of them before they run.
pub(crate) struct Trials {
    pub specs: Vec<TrialSpec>,
    pub plan: Plan,
    pub notes: Vec<String>,
}

/// How one trial ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub status: Status,
    /// Its verdict, whole (the record keeps it bounded).
    pub verdict: Option<Verdict>,
    /// What it says instead of a rendered verdict (a lint's problems, a
    /// set-up error).
    pub message: Option<String>,
    /// It passed with warnings or known failures, which the console shows.
    pub warned: bool,
}

impl Finished {
    fn failed(message: String) -> Self {
        Self {
            status: Status::Failed,
            verdict: None,
            message: Some(message),
            warned: false,
        }
    }

    /// Ignored before it ran, for `reason`.
    pub fn ignored(reason: String) -> Self {
        Self {
            status: Status::Ignored(reason),
            verdict: None,
            message: None,
            warned: false,
        }
    }

    /// A trial that panicked, as libtest words it.
    pub fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let said = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        Self::failed(match said {
            Some(said) => format!("test panicked: {said}"),
            None => "test panicked".to_owned(),
        })
    }

    fn of_lint(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                status: Status::Passed,
                verdict: None,
                message: None,
                warned: false,
            },
            Err(e) => Self::failed(e),
        }
    }
}

/// What libtest (or the in-process driver) counted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub selected: u64,
    pub filtered_out: u64,
    pub ignored: u64,
    pub passed: u64,
    pub failed: u64,
}

/// What the run came to once its trials ended.
pub(crate) struct Conclusion {
    pub exit: Exit,
    /// What the console says on stderr, in order.
    pub notes: Vec<String>,
    /// The lines nextest takes as failure messages.
    pub junit: Vec<String>,
}

pub(crate) struct Session {
    settings: Settings,
    options: Options,
    cases: PathBuf,
    schemas_dir: PathBuf,
    contract: Arc<dyn Contract>,
    profile: Profile,
    known: Arc<KnownFailures>,
    /// The schemas, compiled once for the lints, the offline checks and the run.
    schemas: OnceLock<Result<Arc<Schemas>, Arc<SetupError>>>,
    parts: OnceLock<Result<Parts, String>>,
    record: Record,
    /// The fixture kinds the trials that will run need: what the probe
    /// before the run tries.
    probe_kinds: OnceLock<Vec<String>>,
    /// Requests sent before any trial (the probe's): what the trials sent
    /// is counted from there.
    requests_before_trials: OnceLock<usize>,
}

impl Session {
    /// The run `options` ask for: what makes it impossible (an unknown
    /// profile, a register that cannot be read, a `--checks` glob that
    /// selects nothing, a notifications file that cannot be read) is said
    /// before any trial.
    pub fn new(
        settings: &Settings,
        contract: Arc<dyn Contract>,
        options: Options,
    ) -> Result<Self, Stop> {
        let description = contract.description();
        let profile = crate::profile::choose(&description.profiles, options.profile.as_deref())
            .map_err(|e| Stop::new(2, format!("error: --profile: {e}")))?;
        let known = match &options.known_failures {
            Some(path) => Arc::new(
                KnownFailures::load(path).map_err(|e| Stop::new(2, format!("error: {e}")))?,
            ),
            None => Arc::default(),
        };
        let ids = crate::catalog::ids(description, &profile);
        let selection = options.selection();
        let unmatched = selection.unmatched_patterns(&ids);
        if !unmatched.is_empty() {
            return Err(Stop::new(
                2,
                format!(
                    "error: --checks {} selects no check (--list-checks names them all)",
                    unmatched.join(",")
                ),
            ));
        }
        // A notifications file that cannot be read is a mistake in the
        // command, said before any trial (not one ERROR inside its trial).
        if let Some(file) = options
            .notifications_file
            .as_ref()
            .filter(|_| !options.tests.list)
        {
            if let Err(e) = std::fs::File::open(file) {
                return Err(Stop::new(
                    2,
                    format!(
                    "error: failed to read the notifications file {} (--notifications-file): {e}",
                    file.display()
                ),
                ));
            }
        }
        Ok(Self {
            cases: options
                .cases
                .clone()
                .unwrap_or_else(|| settings.cases.clone()),
            schemas_dir: options
                .schemas
                .clone()
                .unwrap_or_else(|| settings.schemas.clone()),
            settings: settings.clone(),
            options,
            contract,
            profile,
            known,
            schemas: OnceLock::new(),
            parts: OnceLock::new(),
            record: Record::default(),
            probe_kinds: OnceLock::new(),
            requests_before_trials: OnceLock::new(),
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The values never printed: the token, once the run is set up.
    pub fn secrets(&self) -> &[String] {
        match self.parts.get() {
            Some(Ok(parts)) => &parts.options.secrets,
            _ => &[],
        }
    }

    /// Whether SHOULD-level findings fail.
    pub fn strict(&self) -> bool {
        self.options.strict
    }

    /// The notes said since the last call (a set-up note, say).
    pub fn take_notes(&self) -> Vec<String> {
        self.record.take_notes()
    }

    /// The fixtures the suite could not end, so far.
    pub fn unreleased(&self) -> Vec<crate::fixture::Unreleased> {
        match self.parts.get() {
            Some(Ok(parts)) => parts.register.unreleased_list(),
            _ => Vec::new(),
        }
    }

    /// The trials: the lints, the offline check, a case per file (only the
    /// one named under `--exact`, without walking the folder), a trial per
    /// property; which of them are ignored before they run, and what the
    /// selection will run. A known-failures register that names what is
    /// not there, and an `--exact` name that names no trial, stop the run.
    pub fn trials(&self) -> Result<Trials, Stop> {
        let tests = &self.options.tests;
        let mut specs = vec![
            TrialSpec {
                name: "lint::case_files".to_owned(),
                ignored: false,
                reason: None,
                what: What::CaseLint,
            },
            TrialSpec {
                name: "lint::schemas".to_owned(),
                ignored: false,
                reason: None,
                what: What::SchemaLint,
            },
        ];
        if let Some(file) = &self.options.notifications_file {
            specs.push(TrialSpec {
                name: "offline::notifications_file".to_owned(),
                ignored: false,
                reason: None,
                what: What::Offline(file.clone()),
            });
        }
        let mut notes = Vec::new();
        let files = match tests.filter.as_deref().filter(|_| tests.exact) {
            // `--exact NAME`: that one file, or none (a trial that is no case,
            // or a case that does not exist: the run then says it ran nothing).
            Some(name) => crate::discover::exact(&self.cases, name)
                .into_iter()
                .collect(),
            None => match crate::discover::discover(&self.cases, self.options.forbid_scan) {
                Ok(files) => files,
                // Listing never fails (nextest would give up on the whole run);
                // running without the cases is an error, not a run of nothing.
                Err(e) if tests.list => {
                    notes.push(format!("note: {e}"));
                    Vec::new()
                }
                Err(e) => {
                    return Err(Stop::new(
                        2,
                        format!("error: {e} (--cases DIR names the folder)"),
                    ))
                }
            },
        };
        let contract = &*self.contract;
        let mut needs = Vec::new();
        let mut ignored = crate::plan::Ignored::default();
        for file in files {
            let head = crate::plan::CaseHead::read(&file.path);
            let wanting = head.wanting(contract);
            let reason = head.ignore.clone().or_else(|| wanting.clone());
            ignored.note(&file.name, head.ignore.as_deref(), wanting.as_deref());
            needs.push(Needs {
                name: file.name.clone(),
                kinds: head.fixtures.values().cloned().collect(),
                ignored: reason.is_some(),
                wanting,
            });
            specs.push(TrialSpec {
                name: file.name,
                ignored: reason.is_some(),
                reason,
                what: What::Case {
                    path: file.path,
                    problem: file.problem,
                },
            });
        }
        for property in contract.properties() {
            let name = format!("prop::{}", property.name);
            let wanting = crate::plan::property_wanting(&property, contract);
            ignored.note(&name, None, wanting.as_deref());
            needs.push(Needs {
                name: name.clone(),
                kinds: property.fixtures.iter().map(|k| (*k).to_owned()).collect(),
                ignored: wanting.is_some(),
                wanting: wanting.clone(),
            });
            specs.push(TrialSpec {
                name,
                ignored: wanting.is_some(),
                reason: wanting,
                what: What::Property(Arc::new(property)),
            });
        }
        if !tests.list {
            notes.extend(ignored.notes());
        }
        let plan = Plan::new(&needs, tests);
        let _ = self.probe_kinds.set(plan.kinds.clone());
        self.validate_register(&specs)?;
        // `--exact NAME` that names no test: said before any trial runs
        // (libtest would print `test result: ok.` first), with what was
        // probably meant.
        if let Some(name) = tests
            .filter
            .as_deref()
            .filter(|_| tests.exact && !tests.list)
        {
            if !specs.iter().any(|t| t.name == name) {
                let names: Vec<&str> = specs.iter().map(|t| t.name.as_str()).collect();
                return Err(Stop::new(
                    crate::outcome::EXIT_RAN_NOTHING,
                    crate::suggest::no_such_test(&self.cases, &names, name),
                ));
            }
        }
        Ok(Trials { specs, plan, notes })
    }

    /// An entry of the register that names no test, check or fixture kind
    /// is a mistake: the run does not start.
    fn validate_register(&self, specs: &[TrialSpec]) -> Result<(), Stop> {
        if self.known.entries.is_empty() {
            return Ok(());
        }
        // A filter leaves trials out; a case the register names is looked
        // up by its path (no walk of the folder, which may be unreadable).
        let mut names: Vec<String> = specs.iter().map(|t| t.name.clone()).collect();
        names.extend(
            self.known
                .entries
                .iter()
                .filter_map(|e| e.test.as_deref())
                .filter_map(|t| crate::discover::exact(&self.cases, t))
                .map(|f| f.name),
        );
        let description = self.contract.description();
        self.known
            .validate(
                &names,
                &crate::catalog::ids(description, &self.profile),
                &description.kind_names(),
            )
            .map_err(|e| {
                Stop::new(
                    2,
                    format!("error: the known-failures register does not match the suite:\n{e}"),
                )
            })
    }

    /// Sets the run up before any trial when one that runs needs it: an
    /// unreachable target, a refused token or a missing TLS stack is one
    /// message, not the same error once per trial.
    pub fn set_up(&self, plan: &Plan) -> Result<(), Stop> {
        if self.options.tests.list || !plan.runs_any {
            return Ok(());
        }
        self.parts().map(|_| ()).map_err(|e| Stop {
            exit: Exit {
                code: 2,
                message: Some(format!("error: could not set up the run: {e}")),
            },
            junit: Some(format!("could not set up the run: {e}")),
        })
    }

    /// Runs one trial: the one code path, whichever driver calls it.
    pub fn run_trial(&self, spec: &TrialSpec) -> Finished {
        match &spec.what {
            What::CaseLint => {
                let result = self
                    .schemas()
                    .map_err(|e| e.to_string())
                    .and_then(|schemas| {
                        crate::lint::case_files(
                            &self.cases,
                            self.options.forbid_scan,
                            &schemas,
                            &*self.contract,
                        )
                    });
                self.record.keep_lint(&spec.name, "the case files", &result);
                Finished::of_lint(result)
            }
            What::SchemaLint => {
                let result = self
                    .schemas()
                    .map_err(|e| e.to_string())
                    .and_then(|schemas| crate::lint::schemas(&schemas));
                self.record.keep_lint(&spec.name, "the schemas", &result);
                Finished::of_lint(result)
            }
            What::Offline(file) => self.offline(&spec.name, file),
            What::Case { path, problem } => {
                if let Some(problem) = problem {
                    return Finished::failed(problem.clone());
                }
                self.with_scope(|scope| crate::runner::run_case(&scope.context(), &spec.name, path))
            }
            What::Property(property) => self.with_scope(|scope| (property.run)(&scope.context())),
        }
    }

    /// Sets the run's parts up now, or says why they cannot be.
    pub fn ready(&self) -> Result<(), String> {
        self.parts().map(|_| ()).map_err(str::to_owned)
    }

    /// Runs `f` with a context whose fixtures are ended when it returns.
    pub fn with_context<R>(
        &self,
        f: impl FnOnce(&crate::contract::Context<'_>) -> R,
    ) -> Result<R, String> {
        let parts = self.parts()?;
        let scope = parts.scope(&*self.contract);
        let result = f(&scope.context());
        scope.release();
        Ok(result)
    }

    /// Ends whatever the run still owns on the target.
    pub fn release_all(&self) {
        if let Some(Ok(parts)) = self.parts.get() {
            let _ = self.release_leftovers(parts);
        }
    }

    /// Runs `trial` in a scope of fixtures of its own, and judges its verdict.
    fn with_scope(&self, trial: impl FnOnce(&Scope<'_>) -> Verdict) -> Finished {
        let parts = match self.parts() {
            Ok(parts) => parts,
            Err(e) => return Finished::failed(format!("ERROR could not set up the run: {e}")),
        };
        let scope = parts.scope(&*self.contract);
        let verdict = trial(&scope);
        scope.release();
        self.finish(&parts.options, verdict)
    }

    /// A trial's verdict, judged with the known-failures register, and kept.
    fn finish(&self, options: &RunOptions, mut verdict: Verdict) -> Finished {
        let strict = options.strict;
        for warning in &verdict.warnings {
            self.record.note(format!("warning: {warning}"));
        }
        if let Some(reason) = verdict.skipped.clone() {
            self.record.keep(verdict.clone());
            return Finished {
                status: Status::Ignored(reason),
                verdict: Some(verdict),
                message: None,
                warned: false,
            };
        }
        self.known.apply(&mut verdict);
        let passed = verdict.passed(strict);
        let warned = verdict.warnings(strict) > 0 || verdict.has_known();
        self.record.keep(verdict.clone());
        Finished {
            status: if passed {
                Status::Passed
            } else {
                Status::Failed
            },
            verdict: Some(verdict),
            message: None,
            warned,
        }
    }

    /// A trial's text, as the console shows it: its message, or its
    /// rendered verdict.
    pub fn render(&self, finished: &Finished, styles: Styles) -> String {
        match (&finished.message, &finished.verdict) {
            (Some(message), _) => message.clone(),
            (None, Some(verdict)) => {
                crate::render::render_verdict(verdict, styles, self.strict(), self.secrets())
            }
            (None, None) => String::new(),
        }
    }

    /// `--notifications-file`: the same schemas and invariants, on captured notifications.
    fn offline(&self, name: &str, file: &Path) -> Finished {
        let schemas = match self.schemas() {
            Ok(s) => s,
            Err(e) => return Finished::failed(e.to_string()),
        };
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                return Finished::failed(format!("ERROR failed to read {}: {e}", file.display()))
            }
        };
        let documents = crate::captured::documents(&text);
        let mut verdict = Verdict {
            place: Where {
                test: name.to_owned(),
                file: Some(file.display().to_string()),
                about: Some(format!(
                    "{} captured notification document(s), checked offline",
                    documents.len()
                )),
                ..Where::default()
            },
            checks: self
                .contract
                .check_notifications(&schemas, &documents)
                .into_iter()
                .map(|c| self.profile.apply(c))
                .collect(),
            ..Verdict::default()
        };
        if documents.is_empty() {
            verdict.error = Some(format!("{} holds no notification", file.display()));
        } else if documents.iter().all(|(_, d)| d.is_err()) {
            verdict.error = Some(format!(
                "{} holds no JSON document: it should hold commsNotifications documents, one per line, as a JSON array, or one after another (pretty-printed)",
                file.display()
            ));
        }
        if verdict.checks.is_empty() {
            verdict.error = Some(
                "this suite checks no captured notifications (its contract has no offline checks)"
                    .to_owned(),
            );
        }
        self.known.apply(&mut verdict);
        self.record.keep_side(verdict.clone());
        Finished {
            status: if verdict.passed(self.strict()) {
                Status::Passed
            } else {
                Status::Failed
            },
            verdict: Some(verdict),
            message: None,
            warned: false,
        }
    }

    /// The schemas, loaded on first use (the case schema the harness's,
    /// with the contract's kinds), or why they could not be.
    fn schemas(&self) -> Result<Arc<Schemas>, Arc<SetupError>> {
        self.schemas
            .get_or_init(|| {
                let composed = crate::case_schema::compose(self.contract.description());
                Schemas::load(&self.schemas_dir)
                    .and_then(|s| s.with_case_schema(composed))
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .clone()
    }

    /// The run's parts, set up on first use, or why they could not be.
    fn parts(&self) -> Result<&Parts, &str> {
        self.parts
            .get_or_init(|| self.build_parts())
            .as_ref()
            .map_err(String::as_str)
    }

    fn build_parts(&self) -> Result<Parts, String> {
        let schemas = self.schemas().map_err(|e| chain(&*e))?;
        let description = self.contract.description();
        let missing: Vec<&str> = description
            .schemas_used
            .iter()
            .copied()
            .filter(|name| !schemas.has(name))
            .collect();
        if !missing.is_empty() {
            return Err(chain(&SetupError::Schema {
                path: self.schemas_dir.clone(),
                message: format!(
                    "the suite validates with {}, missing from this folder (--schemas DIR names another)",
                    missing.join(", ")
                ),
            }));
        }
        let o = &self.options;
        let runtime = crate::target::runtime().map_err(|e| chain(&e))?;
        let token = o.token.clone().filter(|t| !t.is_empty());
        // Every excerpt, wherever it is cut, redacts it first.
        crate::sanitize::register_secrets(token.as_slice());
        let (base, embedded) = match &o.target {
            Some(url) => (url.clone(), None),
            None => {
                let (base, guard) = self
                    .contract
                    .start_embedded(runtime.handle())
                    .map_err(|e| chain(&SetupError::Embedded(e)))?;
                (base, Some(guard))
            }
        };
        let token_env = crate::rerun::token_env(&self.settings, o);
        if token.is_none() && embedded.is_none() {
            self.record.note(format!(
                "note: {token_env} is not set; requests to the target go without Authorization"
            ));
        }
        let rerun = RerunArgs::new(&self.settings, o, token.is_some() && embedded.is_none());
        // The embedded implementation accepts any bearer token; one is sent
        // so auth is exercised.
        let token = token.or_else(|| embedded.as_ref().map(|_| "embedded-token".to_owned()));
        let reach = Reach {
            base,
            token: token.clone(),
            limits: Limits {
                timeout: o.response_timeout(),
                max_body: 8 << 20,
                retry_budget_secs: o.retry_budget_secs.unwrap_or(defaults::RETRY_BUDGET_SECS),
                follow_redirects: o.follow_redirects,
            },
            listen: o.listen().to_owned(),
            callback_url: o.callback_url.clone(),
            caps: Caps {
                max_connections: o
                    .listener_max_connections
                    .unwrap_or(defaults::LISTENER_MAX_CONNECTIONS)
                    as usize,
                max_per_address: o
                    .listener_max_per_address
                    .unwrap_or(defaults::LISTENER_MAX_PER_ADDRESS)
                    as usize,
            },
            envelope: description.envelope,
        };
        let preflight = description
            .preflight_path
            .as_deref()
            .map(|path| (path, token_env.as_str()));
        let target = Target::open(runtime, reach, embedded, preflight).map_err(|e| chain(&e))?;
        let options = RunOptions {
            strict: o.strict,
            profile: self.profile,
            notification_timeout: o.notification_timeout(),
            target: o.target.clone(),
            save_failures: o.save_failures.clone(),
            notifications: !o.no_notifications,
            workers: o.tests.test_threads.unwrap_or(crate::prop::MAX_WORKERS),
            selection: o.selection(),
            seeding: o.seed.unwrap_or_default(),
            generation: o.generation.clone(),
            regressions: crate::regressions::Keeping::for_target(
                o.regressions.as_deref(),
                o.target.as_deref(),
                o.generation.forget_failures,
            ),
            rerun,
            secrets: token.into_iter().collect(),
            known: self.known.clone(),
        };
        let parts = Parts {
            target,
            options,
            register: Register::default(),
            schemas,
        };
        if o.target.is_some() {
            let kinds = self.probe_kinds.get().map_or(&[][..], Vec::as_slice);
            let scope = parts.scope(&*self.contract);
            let probed = self.contract.probe(&scope.context(), kinds);
            scope.release();
            probed.map_err(|e| format!("the set-up is wrong for every trial, so none ran: {e}"))?;
        }
        let _ = self
            .requests_before_trials
            .set(parts.target.requests_sent());
        Ok(parts)
    }

    /// After the trials: fixed register entries, what the run left on the
    /// target, the seeds, the members beyond the metadata, the report, and
    /// the exit code, with what the console says of each.
    pub fn conclude(&self, tally: Tally, plan: &Plan) -> Conclusion {
        let mut notes = self.record.take_notes();
        let mut junit = Vec::new();
        for entry in self.known.fixed() {
            notes.push(format!(
                "known failure fixed: {} now passes; remove its entry from the register ({})",
                entry.describe(),
                entry.reason
            ));
        }
        let parts = self.parts.get();
        if let Some(Ok(parts)) = parts {
            notes.extend(self.release_leftovers(parts));
            let seeds = self.record.with_verdicts(|v| {
                crate::seed::summary(v, parts.options.seeding, parts.options.generation.rng_seed)
            });
            notes.extend(seeds);
        }
        notes.extend(self.undeclared_note());
        // A process that set up no run (under nextest, one that ran only a
        // lint) still writes its part: the report counts every test that ran.
        let ran = match parts {
            Some(Ok(parts)) => Some(Some(parts)),
            None => Some(None),
            Some(Err(_)) => None,
        };
        if let (Some(dir), Some(parts)) = (&self.options.report, ran) {
            if let Err(e) = self.write_report(dir, parts, tally) {
                notes.push(format!(
                    "error: failed to write the report to {}: {e}",
                    dir.display()
                ));
                return Conclusion {
                    exit: Exit::code(2),
                    notes,
                    junit,
                };
            }
        }
        if let Some(Err(e)) = parts {
            junit.push(format!("could not set up the run: {e}"));
            return Conclusion {
                exit: Exit::code(2),
                notes,
                junit,
            };
        }
        let exit = if tally.failed > 0 {
            if let Some(Ok(parts)) = parts {
                let strict = parts.options.strict;
                self.record.with_verdicts(|verdicts| {
                    for v in verdicts.iter().filter(|v| !v.passed(strict)) {
                        junit.push(crate::render::redact_secrets(
                            &crate::render::one_line_summary(v, strict),
                            &parts.options.secrets,
                        ));
                    }
                });
            }
            Exit::code(crate::outcome::EXIT_FAILED)
        } else if let Some(wanting) = self.checked_nothing(plan) {
            // Green on nothing is no pass: say what the target must be given.
            junit.push("no trial reached the target".to_owned());
            Exit {
                code: 2,
                message: Some(format!(
                    "error: no trial reached the target, so nothing was checked; each needs what this run cannot give it:\n  {}",
                    wanting.join("\n  ")
                )),
            }
        } else if tally.passed == 0 && self.options.tests.exact {
            // `--exact NAME` asks for one test: running none is an error (a
            // rerun line or a nextest process naming a test that is not there).
            Exit {
                code: crate::outcome::EXIT_RAN_NOTHING,
                message: Some(format!(
                    "error: the selection ran no test ({} filtered out, {} ignored)",
                    tally.filtered_out, tally.ignored
                )),
            }
        } else {
            if tally.passed == 0 && tally.ignored == 0 {
                // A filter matching none of this binary's tests is libtest's
                // success: `cargo test FILTER` runs every test binary with it.
                notes.push(format!(
                    "note: the filter selects none of this suite's tests ({} filtered out, {} ignored)",
                    tally.filtered_out, tally.ignored
                ));
            }
            Exit::code(0)
        };
        Conclusion { exit, notes, junit }
    }

    fn write_report(&self, dir: &Path, parts: Option<&Parts>, tally: Tally) -> std::io::Result<()> {
        let verdicts = self.record.all();
        let description = self.contract.description();
        let checks = crate::catalog::checks(description, &self.profile);
        // Not the embedded server's port: each nextest process has its own.
        let target = self
            .options
            .target
            .clone()
            .unwrap_or_else(|| "the embedded implementation".to_owned());
        let part = crate::report::Part {
            suite: description.name,
            title: description.title,
            target: &target,
            version: env!("CARGO_PKG_VERSION"),
            strict: self.options.strict,
            profile: self.profile.name,
            counts: crate::report::Counts {
                selected: tally.selected.saturating_sub(tally.filtered_out),
                filtered_out: tally.filtered_out,
                ignored: tally.ignored,
                passed: tally.passed,
                failed: tally.failed,
            },
            checks: &checks,
            verdicts: &verdicts,
            unreleased: &parts.map_or_else(Vec::new, |p| p.register.unreleased_list()),
            secrets: parts.map_or(&[], |p| &p.options.secrets),
            run_id: self.options.run_id.as_deref(),
        };
        crate::report::write(dir, &part)
    }

    /// One note at the end of the run: the members beyond the metadata
    /// that the target sent, with how many tests saw each.
    fn undeclared_note(&self) -> Option<String> {
        let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let mut count = |verdicts: &[Verdict]| {
            for member in verdicts.iter().flat_map(Verdict::undeclared) {
                *seen.entry(member).or_default() += 1;
            }
        };
        self.record.with_verdicts(&mut count);
        self.record.with_side(&mut count);
        if seen.is_empty() {
            return None;
        }
        let list: Vec<String> = seen
            .iter()
            .map(|(member, tests)| {
                format!(
                    "{member} ({tests} test{})",
                    if *tests == 1 { "" } else { "s" }
                )
            })
            .collect();
        Some(format!(
            "note: members beyond the metadata (accepted, never failed; see report.md): {}",
            crate::render::list_at_most(&list, 30)
        ))
    }

    /// Why the trials that talk to the target all went without reaching it,
    /// when they did (see [`Plan::wanting_when_nothing_reached`]).
    fn checked_nothing(&self, plan: &Plan) -> Option<Vec<String>> {
        match self.parts.get() {
            Some(Ok(parts)) => {
                let before = self.requests_before_trials.get().copied().unwrap_or(0);
                let reached = parts.target.requests_sent().saturating_sub(before) > 0;
                self.record
                    .with_verdicts(|v| plan.wanting_when_nothing_reached(reached, v))
            }
            _ => plan.wanting_when_nothing_reached(false, &[]),
        }
    }

    /// Ends what the suite still owns on the target (a trial that panicked
    /// left it, say); what could not be ended, run-wide, as one note.
    fn release_leftovers(&self, parts: &Parts) -> Option<String> {
        for fixture in parts.register.owned() {
            let ended = parts
                .register
                .end(&parts.target, &fixture, |f| self.contract.ending(f));
            if let Err(answer) = ended {
                parts.register.unreleased(&fixture, answer);
            }
        }
        let left = parts.register.unreleased_list();
        if left.is_empty() {
            return None;
        }
        let mut text = format!(
            "error: {} fixture(s) the suite created could not be ended and are still on the target; end them by hand:",
            left.len()
        );
        for u in &left {
            text.push_str(&format!(
                "\n  {} {}: {}",
                u.kind,
                crate::sanitize::line(&u.id),
                crate::sanitize::line(&u.answer)
            ));
        }
        Some(text)
    }
}

impl Parts {
    /// A trial's scope of fixtures.
    fn scope<'a>(&'a self, contract: &'a dyn Contract) -> Scope<'a> {
        Scope::new(
            contract,
            &self.register,
            &self.target,
            &self.options,
            &self.schemas,
        )
    }
}
