//! The machinery of a conformance suite for an HTTP API with webhook
//! notifications: options, trials (libtest-mimic), case files, the HTTP
//! exchange, the callback listener, schemas, matching, rendering, reports.
//! It knows nothing of any API: a suite describes its contract through
//! [`Contract`] and calls [`main`].
//!
//! The public API:
//! - [`main`] with its [`Settings`] (help text, default folders, how
//!   cargo selects the binary), [`Contract`] and what it hands over: [`Fixture`],
//!   [`Invariant`] (checked against an [`Exchange`]), [`Property`]
//!   (run with [`run_property`], each input a [`Failure`] or not),
//!   [`RerunOption`], [`Envelope`], [`NoOptions`];
//! - the run's [`Env`]: its options, schemas ([`Schemas`]), listener
//!   ([`Mailbox`], [`Delivery`], [`notification_items`]), HTTP
//!   ([`HttpRequest`], [`HttpResponse`]) and the register of what it owns;
//! - results as data: [`Check`], [`Level`], [`Detail`], [`Verdict`] and
//!   their parts, [`JsonPath`], [`Vars`];
//! - [`run_generated_case`] for generated cases, and [`render`] for the text.

#![warn(clippy::print_stdout)]

mod captured;
mod case;
mod case_file;
mod cli;
mod connlimit;
mod contract;
mod discover;
mod env;
mod error;
mod exchange;
mod json_path;
mod known;
mod lint;
mod listener;
mod matching;
mod plan;
mod profile;
mod prop;
mod regressions;
pub mod render;
mod report;
mod route;
mod runner;
pub mod sanitize;
mod schema;
mod seed;
mod selection;
mod suggest;
mod template;
mod undeclared;
mod verdict;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock, PoisonError};

use libtest_mimic::{Arguments, ColorSetting, Completion, Failed, FormatSetting, Trial};

use cli::Cli;
pub use cli::NoOptions;
pub use contract::{
    whole_body, Contract, Envelope, Exchange, Fixture, Invariant, Memo, Property, PropertyRun,
    RerunOption,
};
pub use env::{Env, RunOptions, Unreleased};
pub use error::{CaseError, FixtureError, TransportError};
pub use exchange::{HttpRequest, HttpResponse};
pub use json_path::JsonPath;
pub use listener::Listener;
pub use listener::{notification_items, Delivery, Mailbox};
use plan::{Needs, Plan};
pub use profile::Profile;
pub use prop::{run as run_property, run_case as run_generated_case, Failure};
pub use schema::Schemas;
pub use template::Vars;
pub use undeclared::{Beyond, Undeclared};
pub use verdict::{Check, Detail, Difference, Level, Outcome, SchemaViolation, Verdict, Where};

/// Trials run this many at a time unless `--test-threads` says otherwise:
/// they wait on the network, not on the CPU.
const DEFAULT_THREADS: usize = 16;

/// Exit code when the run could not run: bad options, a broken register,
/// an unreachable target, schemas that do not load.
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// Exit code when tests failed (libtest's own).
pub const EXIT_FAILED: u8 = 101;
/// Exit code when the selection ran no test at all.
pub const EXIT_RAN_NOTHING: u8 = 4;

/// A mutex's guard, poisoned or not: a trial that panicked while holding
/// it left data that is still worth reporting.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Shared {
    cli: Cli,
    contract: Arc<dyn Contract>,
    env: OnceLock<Result<Env, String>>,
    /// The schemas, compiled once for the lints, the offline checks and the run.
    schemas: OnceLock<Result<Arc<schema::Schemas>, Arc<error::SetupError>>>,
    styles: render::Styles,
    known: Arc<known::KnownFailures>,
    /// Verdicts of trials that need no run (lints, captured notifications),
    /// for the report.
    side_verdicts: std::sync::Mutex<Vec<verdict::Verdict>>,
    /// The fixture kinds the trials that will run need: what the probe
    /// before the run tries.
    probe_kinds: OnceLock<Vec<String>>,
    /// Requests sent before any trial (the probe's): what the trials sent
    /// is counted from there.
    requests_before_trials: OnceLock<usize>,
}

impl Shared {
    /// A lint's outcome as a row of the report (a failed lint is an error:
    /// the suite's own files are broken, not the target).
    fn record_lint(&self, test: &str, what: &str, result: &Result<(), String>) {
        lock(&self.side_verdicts).push(verdict::Verdict {
            place: verdict::Where {
                test: test.to_owned(),
                about: Some(format!("lint of the suite's own {what}")),
                ..verdict::Where::default()
            },
            error: result
                .as_ref()
                .err()
                .map(|e| e.lines().next().unwrap_or_default().to_owned()),
            ..verdict::Verdict::default()
        });
    }

    fn env(&self) -> Result<&Env, Failed> {
        self.setup()
            .map_err(|e| Failed::from(format!("ERROR could not set up the run: {e}")))
    }

    /// The run's environment, built on first use (and, against a target
    /// the user gave, probed), or why it could not be.
    fn setup(&self) -> Result<&Env, &str> {
        self.env
            .get_or_init(|| {
                let schemas = self.schemas().map_err(|e| error::chain(&*e))?;
                let env = Env::build(&self.cli, &*self.contract, schemas, self.known.clone())
                    .map_err(|e| error::chain(&e))?;
                if self.cli.target.is_some() {
                    let kinds = self.probe_kinds.get().map_or(&[][..], Vec::as_slice);
                    self.contract.probe(&env, kinds).map_err(|e| {
                        format!("the set-up is wrong for every trial, so none ran: {e}")
                    })?;
                }
                let _ = self.requests_before_trials.set(env.requests_sent());
                Ok(env)
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Requests the trials sent to the target, if the run was set up.
    fn requests_by_trials(&self) -> Option<usize> {
        let env = self.env.get()?.as_ref().ok()?;
        let before = self.requests_before_trials.get().copied().unwrap_or(0);
        Some(env.requests_sent().saturating_sub(before))
    }

    /// The schemas, loaded on first use, or why they could not be.
    fn schemas(&self) -> Result<Arc<schema::Schemas>, Arc<error::SetupError>> {
        self.schemas
            .get_or_init(|| {
                schema::Schemas::load(&self.cli.schemas)
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .clone()
    }

    fn finish(&self, env: &Env, mut verdict: verdict::Verdict) -> Result<Completion, Failed> {
        let strict = env.options.strict;
        if let Some(reason) = verdict.skipped.clone() {
            env.record(verdict);
            return Ok(Completion::ignored_with(reason));
        }
        self.known.apply(&mut verdict);
        let text = render::render_verdict(&verdict, self.styles, strict, &env.secrets);
        let passed = verdict.passed(strict);
        let warned = verdict.warnings(strict) > 0 || verdict.has_known();
        env.record(verdict);
        if passed {
            if warned {
                // A passing trial prints nothing through libtest; warnings and known failures go to stderr.
                eprintln!("{text}");
            }
            Ok(Completion::Completed)
        } else {
            Err(Failed::from(text))
        }
    }
}

/// How a suite's test binary runs, besides what its contract says.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The first line of `--help`.
    pub about: &'static str,
    /// The case files' folder when `--cases` is not given (relative to the
    /// working directory, which cargo sets to the package's folder).
    pub cases: std::path::PathBuf,
    /// The schemas' folder when `--schemas` is not given.
    pub schemas: std::path::PathBuf,
    /// What selects this test binary on a cargo command line, for rerun
    /// lines (`-p my-crate --test my_suite`; empty for the package's only one).
    pub cargo_args: &'static str,
}

impl Settings {
    /// `cases/` and `schemas/` in the working directory, the package's only test.
    pub fn new(about: &'static str) -> Self {
        Self {
            about,
            cases: "cases".into(),
            schemas: "schemas".into(),
            cargo_args: "",
        }
    }
}

/// The whole program: parse the harness's options and the contract's (`O`),
/// make the contract from its options, build the trials, run them, and
/// return the exit code.
pub fn main<O, C>(settings: Settings, make: impl FnOnce(O) -> C) -> ExitCode
where
    O: clap::Args + clap::FromArgMatches,
    C: Contract,
{
    let (mut cli, contract) = match Cli::parse_args::<O>(settings.about) {
        Ok((mut cli, options)) => {
            if !cli.given("cases") {
                cli.cases.clone_from(&settings.cases);
            }
            if !cli.given("schemas") {
                cli.schemas.clone_from(&settings.schemas);
            }
            cli.cargo_args = settings.cargo_args;
            (cli, make(options))
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_COULD_NOT_RUN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let profile = match profile::choose(&contract.profiles(), cli.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: --profile: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    if cli.list_checks {
        print_checks(&contract, &profile);
        return ExitCode::SUCCESS;
    }
    if cli.libtest.test_threads.is_none() && std::env::var_os("NEXTEST").is_none() {
        cli.libtest.test_threads = Some(DEFAULT_THREADS);
    }
    let styles = render::Styles {
        color: use_color(&cli.libtest),
    };
    let known = match &cli.known_failures {
        Some(path) => match known::KnownFailures::load(path) {
            Ok(k) => Arc::new(k),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_COULD_NOT_RUN);
            }
        },
        None => Arc::default(),
    };
    let selection = cli.selection();
    let unmatched = selection.unmatched_patterns(&check_ids(&contract, &profile));
    if !unmatched.is_empty() {
        eprintln!(
            "error: --checks {} selects no check (--list-checks names them all)",
            unmatched.join(",")
        );
        return ExitCode::from(EXIT_COULD_NOT_RUN);
    }
    // A notifications file that cannot be read is a mistake in the command,
    // said before any trial (not one ERROR inside its trial).
    if let Some(file) = cli
        .notifications_file
        .as_ref()
        .filter(|_| !cli.libtest.list)
    {
        if let Err(e) = std::fs::File::open(file) {
            eprintln!(
                "error: failed to read the notifications file {} (--notifications-file): {e}",
                file.display()
            );
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    let args = cli.libtest.clone();
    let shared = Arc::new(Shared {
        cli,
        contract: Arc::new(contract),
        env: OnceLock::new(),
        schemas: OnceLock::new(),
        styles,
        known,
        side_verdicts: std::sync::Mutex::default(),
        probe_kinds: OnceLock::new(),
        requests_before_trials: OnceLock::new(),
    });
    let (trials, needs) = match build_trials(&shared) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let plan = Plan::new(&needs, &args);
    let _ = shared.probe_kinds.set(plan.kinds.clone());
    if !shared.known.entries.is_empty() {
        // A filter leaves trials out; a case the register names is looked
        // up by its path (no walk of the folder, which may be unreadable).
        let mut names: Vec<String> = trials.iter().map(|t| t.name().to_owned()).collect();
        names.extend(
            shared
                .known
                .entries
                .iter()
                .filter_map(|e| e.test.as_deref())
                .filter_map(|t| discover::exact(&shared.cli.cases, t))
                .map(|f| f.name),
        );
        let validated = shared.known.validate(
            &names,
            &check_ids(&*shared.contract, &profile),
            shared.contract.fixture_kinds(),
        );
        if let Err(e) = validated {
            eprintln!("error: the known-failures register does not match the suite:\n{e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    // `--exact NAME` that names no test: said before any trial runs (libtest
    // would print `test result: ok.` first), with what was probably meant.
    if let Some(name) = args.filter.as_deref().filter(|_| args.exact && !args.list) {
        if !trials.iter().any(|t| t.name() == name) {
            let names: Vec<&str> = trials.iter().map(Trial::name).collect();
            eprintln!("{}", suggest::no_such_test(&shared.cli.cases, &names, name));
            return ExitCode::from(EXIT_RAN_NOTHING);
        }
    }
    // Set the run up before any trial when one needs it: an unreachable
    // target, a refused token or a missing TLS stack is one message and
    // exit 2, not the same error once per trial.
    if !args.list && plan.runs_any {
        if let Err(e) = shared.setup() {
            eprintln!("error: could not set up the run: {e}");
            junit_message(&format!("could not set up the run: {e}"));
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    let selected = trials.len() as u64;
    let conclusion = libtest_mimic::run(&args, trials);
    if args.list {
        return conclusion.exit_code();
    }
    conclude(&shared, &conclusion, selected, &plan)
}

/// Every check id a verdict or the register may name.
fn check_ids(contract: &dyn Contract, profile: &Profile) -> Vec<String> {
    check_infos(contract, profile)
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// After the run: fixed register entries, the seeds, the report, and the exit code.
fn conclude(
    shared: &Shared,
    conclusion: &libtest_mimic::Conclusion,
    selected: u64,
    plan: &Plan,
) -> ExitCode {
    for entry in shared.known.fixed() {
        eprintln!(
            "known failure fixed: {} now passes; remove its entry from the register ({})",
            entry.describe(),
            entry.reason
        );
    }
    let env = shared.env.get();
    if let Some(Ok(env)) = env {
        release_leftovers(&*shared.contract, env);
        if let Some(seeds) = seed::summary(&lock(&env.verdicts), env.options.seeding) {
            eprintln!("{seeds}");
        }
    }
    match env {
        Some(Ok(env)) => note_undeclared(&lock(&env.verdicts), &lock(&shared.side_verdicts)),
        _ => note_undeclared(&[], &lock(&shared.side_verdicts)),
    }
    // A process that set up no run (under nextest, one that ran only a
    // lint) still writes its part: the report counts every test that ran.
    let ran = match env {
        Some(Ok(env)) => Some(Some(env)),
        None => Some(None),
        Some(Err(_)) => None,
    };
    if let (Some(dir), Some(env)) = (&shared.cli.report, ran) {
        let mut verdicts = env.map_or_else(Vec::new, |env| lock(&env.verdicts).clone());
        verdicts.extend(lock(&shared.side_verdicts).iter().cloned());
        let profile = profile::choose(&shared.contract.profiles(), shared.cli.profile.as_deref())
            .unwrap_or(Profile::DECLARED);
        let checks = check_infos(&*shared.contract, &profile);
        let counts = report::Counts {
            selected: selected.saturating_sub(conclusion.num_filtered_out),
            filtered_out: conclusion.num_filtered_out,
            ignored: conclusion.num_ignored,
            passed: conclusion.num_passed,
            failed: conclusion.num_failed,
        };
        // Not the embedded server's port: each nextest process has its own.
        let target = shared
            .cli
            .target
            .clone()
            .unwrap_or_else(|| "the embedded implementation".to_owned());
        let part = report::Part {
            suite: shared.contract.name(),
            title: shared.contract.title(),
            target: &target,
            version: env!("CARGO_PKG_VERSION"),
            strict: shared.cli.strict,
            profile: profile.name,
            counts,
            checks: &checks,
            verdicts: &verdicts,
            unreleased: &env.map_or_else(Vec::new, Env::unreleased_list),
            secrets: env.map_or(&[], |env| &env.secrets),
        };
        if let Err(e) = report::write(dir, &part) {
            eprintln!(
                "error: failed to write the report to {}: {e}",
                dir.display()
            );
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    if let Some(Err(e)) = env {
        junit_message(&format!("could not set up the run: {e}"));
        return ExitCode::from(EXIT_COULD_NOT_RUN);
    }
    if conclusion.num_failed > 0 {
        if let Some(Ok(env)) = env {
            let strict = env.options.strict;
            let verdicts = lock(&env.verdicts);
            for v in verdicts.iter().filter(|v| !v.passed(strict)) {
                junit_message(&render::redact_secrets(
                    &render::one_line_summary(v, strict),
                    &env.secrets,
                ));
            }
        }
        ExitCode::from(EXIT_FAILED)
    } else if let Some(wanting) = checked_nothing(shared, plan) {
        // Green on nothing is no pass: say what the target must be given.
        eprintln!(
            "error: no trial reached the target, so nothing was checked; each needs what this run cannot give it:\n  {}",
            wanting.join("\n  ")
        );
        junit_message("no trial reached the target");
        ExitCode::from(EXIT_COULD_NOT_RUN)
    } else if conclusion.num_passed == 0 && shared.cli.libtest.exact {
        // `--exact NAME` asks for one test: running none is an error (a rerun
        // line or a nextest process naming a test that is not there).
        eprintln!(
            "error: the selection ran no test ({} filtered out, {} ignored)",
            conclusion.num_filtered_out, conclusion.num_ignored
        );
        ExitCode::from(EXIT_RAN_NOTHING)
    } else {
        if conclusion.num_passed == 0 && conclusion.num_ignored == 0 {
            // A filter matching none of this binary's tests is libtest's
            // success: `cargo test FILTER` runs every test binary with it.
            eprintln!(
                "note: the filter selects none of this suite's tests ({} filtered out, {} ignored)",
                conclusion.num_filtered_out, conclusion.num_ignored
            );
        }
        ExitCode::SUCCESS
    }
}

/// One line at the end of the run: the members beyond the metadata that
/// the target sent, with how many tests saw each (a passing test prints nothing else).
fn note_undeclared(verdicts: &[verdict::Verdict], side: &[verdict::Verdict]) {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for member in verdicts
        .iter()
        .chain(side)
        .flat_map(verdict::Verdict::undeclared)
    {
        *seen.entry(member).or_default() += 1;
    }
    if !seen.is_empty() {
        let list: Vec<String> = seen
            .iter()
            .map(|(member, tests)| {
                format!(
                    "{member} ({tests} test{})",
                    if *tests == 1 { "" } else { "s" }
                )
            })
            .collect();
        eprintln!(
            "note: members beyond the metadata (accepted, never failed; see report.md): {}",
            render::list_at_most(&list, 30)
        );
    }
}

/// Why the trials that talk to the target all went without reaching it,
/// when they did (see [`Plan::wanting_when_nothing_reached`]).
fn checked_nothing(shared: &Shared, plan: &Plan) -> Option<Vec<String>> {
    let reached = shared.requests_by_trials().unwrap_or(0) > 0;
    match shared.env.get() {
        Some(Ok(env)) => plan.wanting_when_nothing_reached(reached, &lock(&env.verdicts)),
        _ => plan.wanting_when_nothing_reached(reached, &[]),
    }
}

/// Under nextest, the last line of stderr: `Error: <one line>`, which nextest
/// takes as the failure's message (JUnit's `<failure message=…>`, its
/// summary line); libtest-mimic's failure block goes to stdout, where nextest
/// does not look for one.
fn junit_message(text: &str) {
    if std::env::var_os("NEXTEST").is_some() {
        eprintln!("Error: {}", sanitize::line(text));
    }
}

/// Ends what the suite still owns on the target (a trial that panicked left
/// it, say), then lists on stderr what could not be ended, run-wide.
fn release_leftovers(contract: &dyn Contract, env: &Env) {
    for fixture in env.owned_list() {
        if let Err(answer) = contract.end(env, &fixture) {
            env.unreleased(&fixture, answer);
        }
    }
    let left = env.unreleased_list();
    if !left.is_empty() {
        eprintln!(
            "error: {} fixture(s) the suite created could not be ended and are still on the target; end them by hand:",
            left.len()
        );
        for u in &left {
            eprintln!(
                "  {} {}: {}",
                u.kind,
                sanitize::line(&u.id),
                sanitize::line(&u.answer)
            );
        }
    }
}

/// Every check the suite can run, as `--list-checks` and the report show
/// them: its level under `profile`, and under each of the contract's profiles.
fn check_infos(contract: &dyn Contract, profile: &Profile) -> Vec<report::CheckInfo> {
    let profiles = contract.profiles();
    let levels = |id: &str, level: verdict::Level| {
        profiles
            .iter()
            .map(|p| (p.name, p.level(id, level)))
            .collect::<Vec<_>>()
    };
    verdict::BUILTIN_CHECKS
        .iter()
        .map(|(id, level, summary)| report::CheckInfo {
            id: (*id).to_owned(),
            level: profile.level(id, *level),
            levels: levels(id, *level),
            summary: (*summary).to_owned(),
            source: "the case file".to_owned(),
            spec: "the case's own `spec` sentence; a case with \"level\": \"SHOULD\" makes its checks SHOULD, and `profiles` gives its level (and its status.preferred's) under a profile".to_owned(),
        })
        .chain(contract.invariants().iter().map(|i| report::CheckInfo {
            id: i.id.to_owned(),
            level: profile.level(i.id, i.level),
            levels: levels(i.id, i.level),
            summary: i.summary.to_owned(),
            source: i.source.to_owned(),
            spec: i.spec.to_owned(),
        }))
        .collect()
}

/// The header line of `--list-checks`: its columns, tab-separated. `level`
/// is under the run's profile, `profiles` each profile's (`spec=SHOULD graph=MUST`).
pub const LIST_CHECKS_HEADER: &str = "id\tlevel\tsource\tsummary\trule\tprofiles";

/// `--list-checks`, on stdout. A reader that stops early (`| head`) is no
/// error (println! would panic on the closed pipe).
fn print_checks(contract: &dyn Contract, profile: &Profile) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut text = format!("{LIST_CHECKS_HEADER}\n");
    for c in check_infos(contract, profile) {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}",
            c.id,
            c.level.as_str(),
            c.source,
            c.summary,
            c.spec,
            c.levels
                .iter()
                .map(|(name, level)| format!("{name}={}", level.as_str()))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn use_color(args: &Arguments) -> bool {
    if matches!(args.format, Some(FormatSetting::Json)) {
        return false;
    }
    match args.color {
        Some(ColorSetting::Always) => true,
        Some(ColorSetting::Never) => false,
        _ => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    }
}

fn build_trials(shared: &Arc<Shared>) -> Result<(Vec<Trial>, Vec<Needs>), String> {
    let mut trials = Vec::new();
    let mut needs = Vec::new();
    let cli = &shared.cli;

    let s = shared.clone();
    trials.push(Trial::test("lint::case_files", move || {
        let result = s
            .schemas()
            .map_err(|e| e.to_string())
            .and_then(|schemas| lint::case_files(&s.cli.cases, &schemas, &*s.contract));
        s.record_lint("lint::case_files", "the case files", &result);
        result.map_err(Failed::from)
    }));
    let s = shared.clone();
    trials.push(Trial::test("lint::schemas", move || {
        let result = s
            .schemas()
            .map_err(|e| e.to_string())
            .and_then(|schemas| lint::schemas(&schemas));
        s.record_lint("lint::schemas", "the schemas", &result);
        result.map_err(Failed::from)
    }));

    if let Some(file) = cli.notifications_file.clone() {
        let s = shared.clone();
        trials.push(Trial::test("offline::notifications_file", move || {
            offline_notifications(&s, &file)
        }));
    }

    let files = match cli.libtest.filter.as_deref().filter(|_| cli.libtest.exact) {
        // `--exact NAME`: that one file, or none (a trial that is no case,
        // or a case that does not exist: the run then says it ran nothing).
        Some(name) => discover::exact(&cli.cases, name).into_iter().collect(),
        None => match discover::discover(&cli.cases) {
            Ok(files) => files,
            // Listing never fails (nextest would give up on the whole run);
            // running without the cases is an error, not a run of nothing.
            Err(e) if cli.libtest.list => {
                eprintln!("note: {e}");
                Vec::new()
            }
            Err(e) => return Err(format!("{e} (--cases DIR names the folder)")),
        },
    };
    let mut ignored = plan::Ignored::default();
    for file in files {
        let head = plan::CaseHead::read(&file.path);
        let wanting = head.wanting(&*shared.contract);
        let reason = head.ignore.clone().or_else(|| wanting.clone());
        ignored.note(&file.name, head.ignore.as_deref(), wanting.as_deref());
        needs.push(Needs {
            name: file.name.clone(),
            kinds: head.fixtures.values().cloned().collect(),
            ignored: reason.is_some(),
            wanting,
        });
        let s = shared.clone();
        let name = file.name.clone();
        let trial = Trial::ignorable_test(file.name.clone(), move || {
            if let Some(problem) = &file.problem {
                return Err(Failed::from(problem.clone()));
            }
            let env = s.env()?;
            let verdict = runner::run_case(env, &*s.contract, &name, &file.path);
            s.finish(env, verdict)
        });
        trials.push(trial.with_ignored_flag(reason.is_some()));
    }

    for property in shared.contract.properties() {
        let name = format!("prop::{}", property.name);
        let wanting = plan::property_wanting(&property, &*shared.contract);
        ignored.note(&name, None, wanting.as_deref());
        needs.push(Needs {
            name: name.clone(),
            kinds: property.fixtures.iter().map(|k| (*k).to_owned()).collect(),
            ignored: wanting.is_some(),
            wanting: wanting.clone(),
        });
        let s = shared.clone();
        let trial = Trial::ignorable_test(name, move || {
            let env = s.env()?;
            let verdict = (property.run)(env, &*s.contract);
            s.finish(env, verdict)
        });
        trials.push(trial.with_ignored_flag(wanting.is_some()));
    }
    if !cli.libtest.list {
        ignored.print();
    }
    Ok((trials, needs))
}

/// `--notifications-file`: the same schemas and invariants, on captured notifications.
fn offline_notifications(shared: &Shared, file: &std::path::Path) -> Result<(), Failed> {
    let schemas = shared.schemas().map_err(|e| Failed::from(e.to_string()))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failed::from(format!("ERROR failed to read {}: {e}", file.display())))?;
    let documents = captured::documents(&text);
    let mut verdict = verdict::Verdict {
        place: verdict::Where {
            test: "offline::notifications_file".into(),
            file: Some(file.display().to_string()),
            about: Some(format!(
                "{} captured notification document(s), checked offline",
                documents.len()
            )),
            ..verdict::Where::default()
        },
        checks: {
            let profile =
                profile::choose(&shared.contract.profiles(), shared.cli.profile.as_deref())
                    .unwrap_or(Profile::DECLARED);
            shared
                .contract
                .check_notifications(&schemas, &documents)
                .into_iter()
                .map(|c| profile.apply(c))
                .collect()
        },
        ..verdict::Verdict::default()
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
    shared.known.apply(&mut verdict);
    lock(&shared.side_verdicts).push(verdict.clone());
    let strict = shared.cli.strict;
    let text = render::render_verdict(&verdict, shared.styles, strict, &[]);
    if verdict.passed(strict) {
        Ok(())
    } else {
        Err(Failed::from(text))
    }
}
