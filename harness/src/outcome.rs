//! What a run came to, as data: each trial's status and verdict, the exit
//! code the console gives it, and what the console says outside the
//! trials' own lines. [`crate::run`] returns it; the console prints it.

use crate::fixture::Unreleased;
use crate::render::{render_verdict, Styles};
use crate::verdict::{check_family, Level, Outcome, Verdict};

/// Exit code when the run could not run: bad options, a broken register,
/// an unreachable target, schemas that do not load.
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// Exit code when tests failed (libtest's own).
pub const EXIT_FAILED: u8 = 101;
/// Exit code when the selection ran no test at all.
pub const EXIT_RAN_NOTHING: u8 = 4;

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    /// Ignored before it ran or as it ran, for this reason.
    Ignored(String),
}

/// The exit code, and the error the console says with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: u8,
    pub message: Option<String>,
}

impl Exit {
    /// An exit with nothing more to say.
    pub fn code(code: u8) -> Self {
        Self {
            code,
            message: None,
        }
    }
}

/// One trial of a run.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    pub name: String,
    pub status: Status,
    /// Its verdict (lints and trials that could not be set up have none).
    pub verdict: Option<Verdict>,
    /// What it says instead of a verdict: a lint's problems, a set-up error.
    pub message: Option<String>,
    /// It passed with warnings (or known failures) the console shows.
    pub warned: bool,
    /// Its wall time.
    pub duration: std::time::Duration,
}

/// A whole run, as data.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit: Exit,
    /// The trials that ran or were ignored (not those the selection left
    /// out), in the order they were found.
    pub trials: Vec<TrialOutcome>,
    /// What the console says on stderr besides the trials, in order: notes
    /// before the run, fixed known failures, what could not be ended, the
    /// seeds, members beyond the metadata.
    pub notes: Vec<String>,
    /// The fixtures the suite created and could not end.
    pub unreleased: Vec<Unreleased>,
    /// The run judged SHOULD findings as failures.
    pub strict: bool,
    /// Values a rendering redacts.
    pub(crate) secrets: Vec<String>,
}

impl RunOutcome {
    /// A run that stopped before any trial.
    pub(crate) fn stopped(exit: Exit, notes: Vec<String>) -> Self {
        Self {
            exit,
            trials: Vec::new(),
            notes,
            unreleased: Vec::new(),
            strict: false,
            secrets: Vec::new(),
        }
    }

    /// The exit code the console would give.
    pub fn code(&self) -> u8 {
        self.exit.code
    }

    pub fn trial(&self, name: &str) -> Option<&TrialOutcome> {
        self.trials.iter().find(|t| t.name == name)
    }

    /// The trials that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TrialOutcome> {
        self.trials.iter().filter(|t| t.status == Status::Failed)
    }

    /// `(test, check id)` for every check a failed trial fails on, the id
    /// of a check of a family as its family (`header.location` ->
    /// `header`), and `ERROR` for a trial that reached no verdict.
    pub fn failed_checks(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for trial in self.failed() {
            for id in self.failing_ids(trial) {
                out.push((trial.name.clone(), id));
            }
        }
        out
    }

    /// The ids [`RunOutcome::failed_checks`] gives one trial.
    fn failing_ids(&self, trial: &TrialOutcome) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        match &trial.verdict {
            Some(v) => {
                if v.error.is_some() {
                    ids.push("ERROR".to_owned());
                }
                ids.extend(
                    v.checks
                        .iter()
                        .filter(|c| c.fails(self.strict))
                        .map(|c| check_family(&c.id).to_owned()),
                );
            }
            None => {
                let said_error = trial
                    .message
                    .as_deref()
                    .is_some_and(|m| m.lines().any(|l| l.trim_start().starts_with("ERROR ")));
                if said_error {
                    ids.push("ERROR".to_owned());
                }
            }
        }
        ids
    }

    /// `(test, check id)` for every check that only warned, in trials that
    /// passed: the SHOULD findings of a run that is not strict.
    pub fn warned_checks(&self) -> Vec<(String, String)> {
        self.trials
            .iter()
            .filter(|t| t.status == Status::Passed)
            .filter_map(|t| Some((t, t.verdict.as_ref()?)))
            .flat_map(|(t, v)| {
                v.checks
                    .iter()
                    .filter(|c| c.outcome == Outcome::Fail && c.level == Level::Should)
                    .filter(|_| !self.strict)
                    .map(|c| (t.name.clone(), check_family(&c.id).to_owned()))
            })
            .collect()
    }

    /// A trial as the console shows it, plain: its rendered verdict, or
    /// what it says instead.
    pub fn text(&self, name: &str) -> Option<String> {
        let trial = self.trial(name)?;
        Some(match (&trial.message, &trial.verdict) {
            (Some(message), _) => message.clone(),
            (None, Some(v)) => render_verdict(v, Styles::default(), self.strict, &self.secrets),
            (None, None) => String::new(),
        })
    }

    /// Everything the console says besides the trials: the notes, then the
    /// error that goes with the exit code.
    pub fn said(&self) -> String {
        let mut lines = self.notes.clone();
        lines.extend(self.exit.message.clone());
        lines.join("\n")
    }
}
