//! A run inside the calling process, with nothing printed: the trials the
//! options select, on threads of their own, each through the session's one
//! code path; the verdicts and what the console would have said come back
//! as a [`RunOutcome`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use libtest_mimic::Trial;

use crate::contract::{Context, Contract};
use crate::error::SetupError;
use crate::options::{defaults, Options};
use crate::outcome::{RunOutcome, Status, TrialOutcome};
use crate::session::Session;
use crate::settings::Settings;
use crate::sync::lock;
use crate::trial::{Finished, Tally, TrialSpec};

/// Runs the suite `contract` describes with `options`, in this process.
///
/// The options are all it reads: no environment variable (the token is
/// [`Options::token`], proptest's settings [`Options::generation`]), so
/// runs on several threads at once each have their own. Trials are
/// selected as libtest selects them ([`Options::tests`]: a filter,
/// `exact`, `skip`, `ignored`), and run `test_threads` at a time (16 by
/// default); `list` is not read. Nothing is printed: what the console
/// would say is in [`RunOutcome::notes`] and [`RunOutcome::exit`].
pub fn run(settings: &Settings, contract: impl Contract, options: Options) -> RunOutcome {
    run_shared(settings, Arc::new(contract), options)
}

/// [`run`] with a contract the caller keeps a handle on.
pub fn run_shared(
    settings: &Settings,
    contract: Arc<dyn Contract>,
    mut options: Options,
) -> RunOutcome {
    options.tests.list = false;
    let session = match Session::new(settings, contract, options) {
        Ok(session) => session,
        Err(stop) => return RunOutcome::stopped(stop.exit, Vec::new()),
    };
    let trials = match session.trials() {
        Ok(trials) => trials,
        Err(stop) => return RunOutcome::stopped(stop.exit, session.take_notes()),
    };
    let mut notes = trials.notes;
    if let Err(stop) = session.set_up(&trials.plan) {
        notes.extend(session.take_notes());
        return RunOutcome::stopped(stop.exit, notes);
    }
    notes.extend(session.take_notes());
    let args = &session.options().tests;
    let selected: Vec<&TrialSpec> = trials
        .specs
        .iter()
        .filter(|spec| !args.is_filtered_out(&as_trial(spec)))
        .collect();
    let finished = run_all(&session, &selected);
    let mut tally = Tally {
        selected: trials.specs.len() as u64,
        filtered_out: (trials.specs.len() - selected.len()) as u64,
        ..Tally::default()
    };
    let outcomes: Vec<TrialOutcome> = selected
        .iter()
        .zip(finished)
        .map(|(spec, finished)| {
            match finished.status {
                Status::Passed => tally.passed += 1,
                Status::Failed => tally.failed += 1,
                Status::Ignored(_) => tally.ignored += 1,
            }
            TrialOutcome {
                name: spec.name.clone(),
                status: finished.status,
                verdict: finished.verdict,
                message: finished.message,
                warned: finished.warned,
                duration: finished.duration,
            }
        })
        .collect();
    let conclusion = session.conclude(tally, &trials.plan);
    notes.extend(conclusion.notes);
    RunOutcome {
        exit: conclusion.exit,
        trials: outcomes,
        notes,
        unreleased: session.unreleased(),
        strict: session.strict(),
        secrets: session.secrets().to_vec(),
    }
}

/// A trial as libtest sees it, to select it as libtest does.
fn as_trial(spec: &TrialSpec) -> Trial {
    Trial::test(spec.name.clone(), || Ok(())).with_ignored_flag(spec.ignored)
}

/// Runs `specs` on `--test-threads` threads, each taking the next; how each
/// ended, in their order. A trial that panics fails, as under libtest.
fn run_all(session: &Session, specs: &[&TrialSpec]) -> Vec<Finished> {
    let args = &session.options().tests;
    let threads = args
        .test_threads
        .unwrap_or(defaults::TEST_THREADS)
        .clamp(1, specs.len().max(1));
    let mut order: Vec<(usize, &&TrialSpec)> = specs.iter().enumerate().collect();
    order.sort_by_key(|(_, spec)| crate::trial::start_rank(&spec.what));
    let next = Mutex::new(order.into_iter());
    let done: Mutex<Vec<Option<Finished>>> = Mutex::new(specs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let Some((i, spec)) = lock(&next).next() else {
                    break;
                };
                let finished = if args.is_ignored(&as_trial(spec)) {
                    Finished::ignored(spec.reason.clone().unwrap_or_default())
                } else {
                    catch_unwind(AssertUnwindSafe(|| session.run_trial(spec)))
                        .unwrap_or_else(|panic| Finished::panicked(&*panic))
                };
                lock(&done)[i] = Some(finished);
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|f| f.unwrap_or_else(|| Finished::panicked(&"the trial did not end")))
        .collect()
}

/// A run's parts, set up and held open for code that drives the target
/// itself (a self-test capturing what a target sends for a case): each
/// [`Held::with`] works in a scope of fixtures of its own, ended when it
/// returns; what is left is ended when the `Held` goes.
pub struct Held {
    session: Session,
}

/// Sets up the parts of a run of `contract` with `options` (the target,
/// its listener, the register of fixtures), or says why they cannot be.
pub fn hold(
    settings: &Settings,
    contract: impl Contract,
    options: Options,
) -> Result<Held, String> {
    let session = Session::new(settings, Arc::new(contract), options)
        .map_err(|stop| stop.exit.message.unwrap_or_default())?;
    session.ready()?;
    Ok(Held { session })
}

impl Held {
    /// Runs `f` with a context whose fixtures are ended when it returns.
    pub fn with<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> Result<R, SetupError> {
        self.session
            .with_context(f)
            .map_err(|message| SetupError::Run { message })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.session.release_all();
    }
}
