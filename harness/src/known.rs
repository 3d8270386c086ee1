//! The known-failures register: tests, check ids within them, or fixture
//! kinds that fail for a stated reason, reported as known instead of failing
//! the run, and reported as fixed once they pass so the entry can go. Inside
//! a property every generated input is judged with it: one known problem
//! does not silence the property's other checks.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::error::SetupError;
use crate::verdict::{check_family, Outcome, Verdict};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    known: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A test name (`case::rooms::…`), or absent for every test.
    #[serde(default)]
    pub test: Option<String>,
    /// A check id (`message.location`) or family (`header`), or absent for the whole test.
    #[serde(default)]
    pub check: Option<String>,
    /// A fixture kind whose set-up fails (an error before the exchange
    /// under test), or absent.
    #[serde(default)]
    pub fixture: Option<String>,
    pub reason: String,
    #[serde(skip)]
    matched_failure: AtomicBool,
    #[serde(skip)]
    matched_pass: AtomicBool,
}

impl Entry {
    pub fn describe(&self) -> String {
        let what = match (&self.check, &self.fixture) {
            (Some(c), _) => Some(format!("check {c}")),
            (None, Some(f)) => Some(format!("fixture {f}")),
            (None, None) => None,
        };
        match (&self.test, what) {
            (Some(t), Some(w)) => format!("{t} / {w}"),
            (Some(t), None) => t.clone(),
            (None, Some(w)) => w,
            (None, None) => "(everything)".into(),
        }
    }

    fn covers_test(&self, test: &str) -> bool {
        self.test.as_deref().is_none_or(|t| t == test)
    }

    fn covers_check(&self, id: &str) -> bool {
        self.fixture.is_none()
            && self
                .check
                .as_deref()
                .is_none_or(|c| c == id || c == check_family(id))
    }

    /// Covers a failed set-up of fixture `kind` in `test`: an entry naming
    /// that kind, or the whole test.
    fn covers_setup(&self, test: &str, kind: &str) -> bool {
        self.covers_test(test)
            && self.check.is_none()
            && self.fixture.as_deref().is_none_or(|f| f == kind)
    }
}

#[derive(Debug, Default)]
pub struct KnownFailures {
    pub entries: Vec<Entry>,
}

impl KnownFailures {
    pub fn load(path: &Path) -> Result<Self, SetupError> {
        let text = std::fs::read_to_string(path).map_err(|e| SetupError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: File = serde_path_to_error::deserialize(de).map_err(|e| SetupError::File {
            path: path.to_owned(),
            message: format!("$.{}: {}", e.path(), e.inner()),
        })?;
        for (i, entry) in file.known.iter().enumerate() {
            if entry.test.is_none() && entry.check.is_none() && entry.fixture.is_none() {
                return Err(SetupError::File {
                    path: path.to_owned(),
                    message: format!("$.known[{i}]: name a test, a check or a fixture kind"),
                });
            }
            if entry.check.is_some() && entry.fixture.is_some() {
                return Err(SetupError::File {
                    path: path.to_owned(),
                    message: format!(
                        "$.known[{i}]: a check or a fixture kind, not both (a fixture that fails runs no check)"
                    ),
                });
            }
            if entry.reason.trim().is_empty() {
                return Err(SetupError::File {
                    path: path.to_owned(),
                    message: format!("$.known[{i}].reason: say why it is known to fail"),
                });
            }
        }
        Ok(Self {
            entries: file.known,
        })
    }

    /// Every entry must name a test and a check that exist: a register entry
    /// that matches nothing is a mistake, not a pass.
    pub fn validate(
        &self,
        tests: &[String],
        checks: &[String],
        fixtures: &[&str],
    ) -> Result<(), String> {
        let mut problems = Vec::new();
        for entry in &self.entries {
            if let Some(t) = &entry.test {
                if !tests.iter().any(|n| n == t) {
                    problems.push(format!(
                        "known failure {}: no test is named {t:?}",
                        entry.describe()
                    ));
                }
            }
            if let Some(c) = &entry.check {
                if !checks.iter().any(|id| id == c) {
                    problems.push(format!(
                        "known failure {}: no check has the id {c:?} (see --list-checks)",
                        entry.describe()
                    ));
                }
            }
            if let Some(f) = &entry.fixture {
                if !fixtures.contains(&f.as_str()) {
                    problems.push(format!(
                        "known failure {}: no fixture kind is named {f:?} (the kinds: {})",
                        entry.describe(),
                        fixtures.join(", ")
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Marks failing checks (or an errored test, or a fixture that could
    /// not be set up) covered by an entry as known.
    pub fn apply(&self, verdict: &mut Verdict) {
        let test = verdict.place.test.clone();
        if verdict.error.is_some() {
            let covering = |e: &&Entry| match &verdict.setup {
                Some(kind) => e.covers_setup(&test, kind),
                None => e.covers_test(&test) && e.check.is_none() && e.fixture.is_none(),
            };
            if let Some(e) = self.entries.iter().find(covering) {
                e.matched_failure.store(true, Ordering::Relaxed);
                verdict.known = Some(e.reason.clone());
            }
            return;
        }
        self.apply_checks(&test, &mut verdict.checks);
    }

    /// Marks the failing checks of `test` that an entry covers as known.
    pub fn apply_checks(&self, test: &str, checks: &mut [crate::verdict::Check]) {
        for check in checks {
            let Some(e) = self
                .entries
                .iter()
                .find(|e| e.covers_test(test) && e.covers_check(&check.id))
            else {
                continue;
            };
            match &check.outcome {
                Outcome::Fail => {
                    e.matched_failure.store(true, Ordering::Relaxed);
                    check.outcome = Outcome::Known(e.reason.clone());
                }
                Outcome::Pass => e.matched_pass.store(true, Ordering::Relaxed),
                _ => {}
            }
        }
    }

    /// The reason a failed set-up of fixture `kind` in `test` is known, if
    /// it is (the entry is then marked as still failing).
    pub fn knows_setup(&self, test: &str, kind: &str) -> Option<String> {
        let e = self.entries.iter().find(|e| e.covers_setup(test, kind))?;
        e.matched_failure.store(true, Ordering::Relaxed);
        Some(e.reason.clone())
    }

    /// Property `test` ran every input: each entry naming it that no input
    /// failed is fixed (a property shows only what failed, so a passing
    /// check cannot mark it as a case's does).
    pub fn property_ran(&self, test: &str) {
        for e in self
            .entries
            .iter()
            .filter(|e| e.test.as_deref() == Some(test))
        {
            e.matched_pass.store(true, Ordering::Relaxed);
        }
    }

    /// Whether an entry names test `test`: a property known to fail, whose
    /// failing input is then reported as found, not shrunk.
    pub fn names_test(&self, test: &str) -> bool {
        self.entries.iter().any(|e| e.test.as_deref() == Some(test))
    }

    /// Entries whose tests or checks ran and passed, and never failed: fixed.
    pub fn fixed(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| {
                e.matched_pass.load(Ordering::Relaxed) && !e.matched_failure.load(Ordering::Relaxed)
            })
            .collect()
    }
}
