//! One run of a suite, whoever drives it: the options checked against the
//! contract, the trials (discovery), the set-up on first use (`parts.rs`),
//! each trial's one code path, and the conclusion (`conclusion.rs`). The
//! console drives it with libtest-mimic (`console.rs`); `run` drives it in
//! the caller's process (`inprocess.rs`). Neither this module nor the
//! trials print: what the console says outside a trial's own lines comes
//! back as notes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::contract::{Contract, Scope};
use crate::error::{chain, SetupError};
use crate::known::KnownFailures;
use crate::options::Options;
use crate::outcome::{Exit, Status};
use crate::parts::{Parts, Setup};
use crate::plan::{Needs, Plan};
use crate::profile::Profile;
use crate::record::Record;
use crate::render::Styles;
use crate::run_options::RunOptions;
use crate::schema::Schemas;
use crate::settings::Settings;
use crate::trial::{Finished, TrialSpec, Trials, What};
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

pub(crate) struct Session {
    settings: Settings,
    pub(crate) options: Options,
    cases: PathBuf,
    schemas_dir: PathBuf,
    pub(crate) contract: Arc<dyn Contract>,
    pub(crate) profile: Profile,
    pub(crate) known: Arc<KnownFailures>,
    /// The schemas, compiled once for the lints, the offline checks and the run.
    schemas: OnceLock<Result<Arc<Schemas>, Arc<SetupError>>>,
    pub(crate) parts: OnceLock<Result<Parts, String>>,
    pub(crate) record: Record,
    /// The fixture kinds the trials that will run need: what the probe
    /// before the run tries.
    probe_kinds: OnceLock<Vec<String>>,
    /// Requests sent before any trial (the probe's): what the trials sent
    /// is counted from there.
    pub(crate) requests_before_trials: OnceLock<usize>,
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

    /// Runs one trial: the one code path, whichever driver calls it; its
    /// wall time goes on what it returns and on the verdict the run keeps.
    pub fn run_trial(&self, spec: &TrialSpec) -> Finished {
        let started = Instant::now();
        let mut finished = self.dispatch(spec, started);
        finished.duration = started.elapsed();
        finished
    }

    fn dispatch(&self, spec: &TrialSpec, started: Instant) -> Finished {
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
                self.record
                    .keep_lint(&spec.name, "the case files", &result, started.elapsed());
                Finished::of_lint(result)
            }
            What::SchemaLint => {
                let result = self
                    .schemas()
                    .map_err(|e| e.to_string())
                    .and_then(|schemas| crate::lint::schemas(&schemas));
                self.record
                    .keep_lint(&spec.name, "the schemas", &result, started.elapsed());
                Finished::of_lint(result)
            }
            What::Offline(file) => self.offline(&spec.name, file, started),
            What::Case { path, problem } => {
                if let Some(problem) = problem {
                    return Finished::failed(problem.clone());
                }
                self.with_scope(&spec.name, started, |scope| {
                    crate::runner::run_case(&scope.context(), &spec.name, path)
                })
            }
            What::Property(property) => self.with_scope(&spec.name, started, |scope| {
                (property.run)(&scope.context())
            }),
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
            let _ = parts.release_leftovers(&*self.contract);
        }
    }

    /// Runs `trial` (named `name`) in a scope of fixtures of its own, and
    /// judges its verdict. Under `--compare`, the trial's recording is
    /// replayed instead and the verdict says how the target differs from it;
    /// under `--record` and `--record-cases`, what it did is written.
    fn with_scope(
        &self,
        name: &str,
        started: Instant,
        trial: impl FnOnce(&Scope<'_>) -> Verdict,
    ) -> Finished {
        let parts = match self.parts() {
            Ok(parts) => parts,
            Err(e) => return Finished::failed(format!("ERROR could not set up the run: {e}")),
        };
        let options = &parts.options;
        let recorded =
            options.record.is_some() || options.record_cases.is_some() || options.compare.is_some();
        let recording = recorded.then(crate::kept::Recording::default);
        let scope = parts.scope(&*self.contract).recorded(recording.as_ref());
        let mut verdict = match &options.compare {
            Some(dir) => crate::compare::run_trial(&scope.context(), name, dir),
            None => trial(&scope),
        };
        scope.release();
        if let (Some(recording), None) = (&recording, &options.compare) {
            let provenance = crate::transcript::Provenance {
                suite: format!(
                    "{} {}",
                    self.contract.description().name,
                    env!("CARGO_PKG_VERSION")
                ),
                target: options
                    .target
                    .clone()
                    .unwrap_or_else(|| "embedded".to_owned()),
                tenant: options.tenant.describe(),
            };
            let written = crate::recording::write_trial(
                options,
                &*self.contract,
                name,
                provenance,
                recording.take(),
            );
            if let Err(e) = written {
                verdict.warnings.push(format!(
                    "{name}: the recording was not written: {}",
                    crate::error::chain(&e)
                ));
            }
        }
        verdict.duration = started.elapsed();
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
                duration: std::time::Duration::ZERO,
            };
        }
        self.known.apply(&mut verdict);
        let passed = verdict.passed(strict);
        let warned = verdict.warnings(strict) > 0 || verdict.has_known();
        if !passed || warned {
            // The reports (report.html, JUnit) show it as the console did.
            let text = crate::render::render_verdict(
                &verdict,
                Styles::default(),
                strict,
                &options.secrets,
            );
            self.record.keep_shown(&verdict.place.test, text);
        }
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
            duration: std::time::Duration::ZERO,
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
    fn offline(&self, name: &str, file: &Path, started: Instant) -> Finished {
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
        verdict.duration = started.elapsed();
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
            duration: std::time::Duration::ZERO,
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
            .get_or_init(|| {
                let schemas = self.schemas().map_err(|e| chain(&*e))?;
                let parts = Parts::build(&Setup {
                    settings: &self.settings,
                    options: &self.options,
                    schemas_dir: &self.schemas_dir,
                    schemas: &schemas,
                    contract: &*self.contract,
                    profile: &self.profile,
                    known: &self.known,
                    probe_kinds: self.probe_kinds.get().map_or(&[][..], Vec::as_slice),
                    record: &self.record,
                })?;
                let _ = self
                    .requests_before_trials
                    .set(parts.target.requests_sent());
                Ok(parts)
            })
            .as_ref()
            .map_err(String::as_str)
    }
}
