//! A run's trials as discovery finds them, and how each ended.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::contract::Property;
use crate::outcome::Status;
use crate::plan::Plan;
use crate::verdict::Verdict;

/// What a trial is.
pub(crate) enum What {
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

/// Where a trial starts in a run: properties first, since each holds many
/// inputs (the stateful model long sequences), then the others in their
/// order. Against a slow target a run then takes about as long as its
/// slowest trial, not that trial plus the ones queued before it.
pub(crate) fn start_rank(what: &What) -> u8 {
    match what {
        What::Property(_) => 0,
        _ => 1,
    }
}

/// One trial, as discovery found it.
pub(crate) struct TrialSpec {
    pub name: String,
    /// Ignored before it runs (its case file says so, or it needs what the
    /// target cannot give).
    pub ignored: bool,
    /// Why, when it is.
    pub reason: Option<String>,
    pub what: What,
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
    /// Its wall time, set once it has ended (`Session::run_trial`).
    pub duration: Duration,
}

impl Finished {
    pub fn failed(message: String) -> Self {
        Self {
            status: Status::Failed,
            verdict: None,
            message: Some(message),
            warned: false,
            duration: Duration::ZERO,
        }
    }

    /// Ignored before it ran, for `reason`.
    pub fn ignored(reason: String) -> Self {
        Self {
            status: Status::Ignored(reason),
            verdict: None,
            message: None,
            warned: false,
            duration: Duration::ZERO,
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

    pub fn of_lint(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                status: Status::Passed,
                verdict: None,
                message: None,
                warned: false,
                duration: Duration::ZERO,
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
