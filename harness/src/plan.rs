//! Before the run: what each trial that talks to the target needs, which
//! of them the target cannot serve (ignored before they run, with the
//! reason, so a runner that runs each test alone skips them), and what the
//! selection will run.

use std::collections::BTreeMap;
use std::path::Path;

use libtest_mimic::Arguments;

use crate::contract::{Contract, Property};

/// What a trial that talks to the target needs, as discovery knows it.
pub struct Needs {
    pub name: String,
    /// The fixture kinds it may ask for.
    pub kinds: Vec<String>,
    /// Ignored before it runs (its case file says so, or it needs what
    /// the target cannot give).
    pub ignored: bool,
    /// Why it cannot run on this target, when that is why it is ignored.
    pub wanting: Option<String>,
}

/// What the selection (libtest's filter, `--exact`, `--skip`, `--ignored`)
/// makes of the trials that talk to the target.
pub struct Plan {
    /// Whether one of them will run.
    pub runs_any: bool,
    /// The fixture kinds those that will run need.
    pub kinds: Vec<String>,
    /// Why those selected but ignored cannot run here, each once.
    pub wanting: Vec<String>,
}

impl Plan {
    pub fn new(needs: &[Needs], args: &Arguments) -> Self {
        let matches = |name: &str, pattern: &str| {
            if args.exact {
                name == pattern
            } else {
                name.contains(pattern)
            }
        };
        let selected = needs.iter().filter(|n| {
            args.filter.as_deref().is_none_or(|f| matches(&n.name, f))
                && !args.skip.iter().any(|s| matches(&n.name, s))
        });
        let mut plan = Self {
            runs_any: false,
            kinds: Vec::new(),
            wanting: Vec::new(),
        };
        for n in selected {
            let runs = if args.ignored {
                n.ignored
            } else {
                args.include_ignored || !n.ignored
            };
            if runs {
                plan.runs_any = true;
                for kind in &n.kinds {
                    if !plan.kinds.contains(kind) {
                        plan.kinds.push(kind.clone());
                    }
                }
            } else if let Some(w) = n.wanting.as_ref().filter(|w| !plan.wanting.contains(w)) {
                plan.wanting.push(w.clone());
            }
        }
        plan
    }
}

impl Plan {
    /// Why the selected trials that talk to the target all went without
    /// reaching it (ignored before they ran, or skipped as they ran, for
    /// want of what the target cannot give), when none `reached` it and
    /// one wanted something; `None` otherwise (one reached it, or nothing
    /// selected talks to it).
    pub fn wanting_when_nothing_reached(
        &self,
        reached: bool,
        verdicts: &[crate::verdict::Verdict],
    ) -> Option<Vec<String>> {
        if reached {
            return None;
        }
        let mut wanting = self.wanting.clone();
        for v in verdicts {
            if let Some(reason) = &v.skipped {
                wanting.push(format!("{}: {reason}", v.place.test));
            }
        }
        (!wanting.is_empty()).then_some(wanting)
    }
}

/// What discovery reads of a case file: its `ignore` reason and its
/// fixtures (a broken file reads as neither: its trial reports it).
#[derive(Debug, Default, serde::Deserialize)]
pub struct CaseHead {
    #[serde(default)]
    pub ignore: Option<String>,
    /// Variable -> fixture kind.
    #[serde(default)]
    pub fixtures: BTreeMap<String, String>,
}

impl CaseHead {
    /// Read as any other case file is (a FIFO, a device or a file too
    /// large is never opened as it is, and reads as nothing here).
    pub fn read(path: &Path) -> Self {
        crate::case_file::read(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Why the case cannot run on this target: the first fixture it needs
    /// that the target cannot give (worded as the trial words it).
    pub fn wanting(&self, contract: &dyn Contract) -> Option<String> {
        self.fixtures.iter().find_map(|(var, kind)| {
            let reason = contract.unavailable(kind)?;
            Some(format!(
                "fixture {var}: the target cannot provide fixture {kind}: {reason}"
            ))
        })
    }
}

/// Why a property cannot run on this target: what the contract says, or
/// that its inputs need fixtures the target can give none of.
pub fn property_wanting(property: &Property, contract: &dyn Contract) -> Option<String> {
    if let Some(reason) = &property.ignore {
        return Some(reason.clone());
    }
    let mut reasons: Vec<String> = Vec::new();
    for kind in &property.fixtures {
        let reason = contract.unavailable(kind)?;
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    (!reasons.is_empty()).then(|| {
        format!(
            "the target can provide none of the fixtures its inputs use ({}): {}",
            property.fixtures.join(", "),
            reasons.join("; ")
        )
    })
}

/// The trials ignored before the run, for one note on stderr: those a case
/// file ignores one by one, those the target cannot serve by reason.
#[derive(Debug, Default)]
pub struct Ignored {
    by_file: Vec<String>,
    /// Reason -> how many trials.
    wanting: Vec<(String, usize)>,
}

impl Ignored {
    pub fn note(&mut self, name: &str, by_file: Option<&str>, wanting: Option<&str>) {
        if let Some(reason) = by_file {
            self.by_file.push(format!("{name}: {reason}"));
        } else if let Some(reason) = wanting {
            match self.wanting.iter_mut().find(|(r, _)| r == reason) {
                Some((_, n)) => *n += 1,
                None => self.wanting.push((reason.to_owned(), 1)),
            }
        }
    }

    /// What the console says of them on stderr before the run.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.by_file.is_empty() {
            let lines: Vec<_> = self
                .by_file
                .iter()
                .map(|l| crate::sanitize::line(l))
                .collect();
            notes.push(format!("ignored cases:\n  {}", lines.join("\n  ")));
        }
        if !self.wanting.is_empty() {
            let lines: Vec<String> = self
                .wanting
                .iter()
                .map(|(reason, n)| format!("{n} trial(s): {reason}"))
                .collect();
            notes.push(format!(
                "ignored, for want of what the target can give:\n  {}",
                lines.join("\n  ")
            ));
        }
        notes
    }
}
