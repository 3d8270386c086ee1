//! What the run keeps as it goes: every trial's verdict (bounded once it
//! has been shown) for the reports, and the notes the console prints
//! outside the trials' own lines.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::sync::lock;
use crate::verdict::{Verdict, Where};

#[derive(Debug, Default)]
pub struct Record {
    /// Verdicts of the trials that talk to the target.
    verdicts: Mutex<Vec<Verdict>>,
    /// Verdicts of trials that need no target (lints, captured
    /// notifications), for the report.
    side: Mutex<Vec<Verdict>>,
    /// What the console says on stderr, in order, that no trial's verdict
    /// holds (a setup note, say); taken by whoever prints it.
    notes: Mutex<Vec<String>>,
    /// The text of each trial that did not pass cleanly, as the console
    /// showed it (plain, bounded, secrets redacted), by test name: what the
    /// reports show of a failure once its evidence has been dropped.
    shown: Mutex<BTreeMap<String, String>>,
}

impl Record {
    /// Keeps a trial's verdict, bounded.
    pub fn keep(&self, mut verdict: Verdict) {
        verdict.bound_for_keeping();
        lock(&self.verdicts).push(verdict);
    }

    /// Keeps the text a trial's verdict was shown with.
    pub fn keep_shown(&self, test: &str, text: String) {
        lock(&self.shown).insert(test.to_owned(), text);
    }

    /// The texts kept by [`Record::keep_shown`].
    pub fn shown(&self) -> BTreeMap<String, String> {
        lock(&self.shown).clone()
    }

    /// Keeps the verdict of a trial that needs no target.
    pub fn keep_side(&self, verdict: Verdict) {
        lock(&self.side).push(verdict);
    }

    /// A lint's outcome as a row of the report (a failed lint is an error:
    /// the suite's own files are broken, not the target).
    pub fn keep_lint(
        &self,
        test: &str,
        what: &str,
        result: &Result<(), String>,
        duration: std::time::Duration,
    ) {
        self.keep_side(Verdict {
            place: Where {
                test: test.to_owned(),
                about: Some(format!("lint of the suite's own {what}")),
                ..Where::default()
            },
            error: result
                .as_ref()
                .err()
                .map(|e| e.lines().next().unwrap_or_default().to_owned()),
            duration,
            ..Verdict::default()
        });
    }

    /// The verdicts of the trials that talk to the target.
    pub fn verdicts(&self) -> Vec<Verdict> {
        lock(&self.verdicts).clone()
    }

    /// Every verdict, the side ones after the others.
    pub fn all(&self) -> Vec<Verdict> {
        let mut all = self.verdicts();
        all.extend(lock(&self.side).iter().cloned());
        all
    }

    /// Reads the trials' verdicts without copying them.
    pub fn with_verdicts<R>(&self, f: impl FnOnce(&[Verdict]) -> R) -> R {
        f(&lock(&self.verdicts))
    }

    /// Reads the side verdicts without copying them.
    pub fn with_side<R>(&self, f: impl FnOnce(&[Verdict]) -> R) -> R {
        f(&lock(&self.side))
    }

    /// Adds a note for the console.
    pub fn note(&self, text: String) {
        lock(&self.notes).push(text);
    }

    /// The notes not yet printed.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.notes))
    }
}
