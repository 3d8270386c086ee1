//! After a run's trials: fixed register entries, what the run left on the
//! target, the seeds, the members beyond the metadata, the report, and the
//! exit code, with what the console says of each.

use crate::outcome::Exit;
use crate::parts::Parts;
use crate::plan::Plan;
use crate::session::Session;
use crate::trial::Tally;
use crate::verdict::Verdict;

/// What the run came to once its trials ended.
pub(crate) struct Conclusion {
    pub exit: Exit,
    /// What the console says on stderr, in order.
    pub notes: Vec<String>,
    /// The lines nextest takes as failure messages.
    pub junit: Vec<String>,
}

impl Session {
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
            notes.extend(parts.release_leftovers(&*self.contract));
            let seeds = self.record.with_verdicts(|v| {
                crate::seed::summary(v, parts.options.seeding, parts.options.generation.rng_seed)
            });
            notes.extend(seeds);
        }
        notes.extend(self.undeclared_note());
        notes.extend(self.slowest_note());
        // A process that set up no run (under nextest, one that ran only a
        // lint) still writes its part: the report counts every test that ran.
        let ran = match parts {
            Some(Ok(parts)) => Some(Some(parts)),
            None => Some(None),
            Some(Err(_)) => None,
        };
        if let Some(parts) = ran {
            if let Err(e) = self.write_reports(parts, tally) {
                notes.push(format!("error: {e}"));
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

    /// `--report` and `--junit`: the JUnit file is made from the report
    /// (the whole run's, under nextest), so the two always agree.
    fn write_reports(&self, parts: Option<&Parts>, tally: Tally) -> Result<(), String> {
        if self.options.report.is_none() && self.options.junit.is_none() {
            return Ok(());
        }
        if self.options.run_id.is_some() && self.options.report.is_none() {
            // Each process would write a JUnit file of its one test.
            return Err(
                "under nextest, each test is a process of its own: --junit needs --report DIR \
                 too, where the processes merge the run (or use nextest's JUnit: --profile ci)"
                    .to_owned(),
            );
        }
        let verdicts = self.record.all();
        let shown = self.record.shown();
        let description = self.contract.description();
        let checks = crate::catalog::checks(description, &self.profile);
        // Not the embedded server's port: each nextest process has its own.
        let target = self
            .options
            .target
            .clone()
            .unwrap_or_else(|| "the embedded implementation".to_owned());
        // Which identities the trials invited, and what the run compared with.
        let tenant = parts.map_or_else(
            || "(the run was not set up)".to_owned(),
            |p| p.options.tenant.describe(),
        );
        let compared = self
            .options
            .compare
            .as_ref()
            .map(|d| d.display().to_string());
        let part = crate::report::Part {
            tenant: &tenant,
            compared: compared.as_deref(),
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
            shown: &shown,
        };
        let report = match &self.options.report {
            Some(dir) => crate::report::write(dir, &part)
                .map_err(|e| format!("failed to write the report to {}: {e}", dir.display()))?,
            None => crate::report::alone(&part),
        };
        if let Some(file) = &self.options.junit {
            crate::junit::write(file, &report)
                .map_err(|e| format!("failed to write the JUnit file {}: {e}", file.display()))?;
        }
        Ok(())
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

    /// One note at the end of the run: its slowest trials and their wall
    /// times (what bounds the run's own), as report.md lists them.
    fn slowest_note(&self) -> Option<String> {
        let mut timed: Vec<(std::time::Duration, String)> = self.record.with_verdicts(|v| {
            v.iter()
                .map(|v| (v.duration, v.place.test.clone()))
                .collect()
        });
        timed.sort_by_key(|t| std::cmp::Reverse(t.0));
        if timed.is_empty() {
            return None;
        }
        let list: Vec<String> = timed
            .iter()
            .take(crate::report::SLOWEST)
            .map(|(d, test)| {
                format!(
                    "{} {}",
                    crate::report::seconds(d.as_secs_f64() * 1000.0),
                    crate::sanitize::line(test)
                )
            })
            .collect();
        Some(format!("slowest tests: {}", list.join(", ")))
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
}
