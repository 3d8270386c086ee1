//! The conformance report: `report.json` (counts per check id and per test,
//! with the target and the suite's version) and `report.md` (a matrix of check
//! id x verdict with the spec sentence), written after the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::render::redact_secrets;
use crate::verdict::{check_family, Level, Outcome, Verdict};

/// What the run selected and how each test ended, from libtest's conclusion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub selected: u64,
    pub filtered_out: u64,
    pub ignored: u64,
    pub passed: u64,
    pub failed: u64,
}

/// A check the suite can run, as `--list-checks` prints it.
#[derive(Debug, Clone)]
pub struct CheckInfo {
    pub id: String,
    pub level: Level,
    pub summary: String,
    /// Where the rule comes from (the spec page's section, or another document).
    pub source: String,
    pub spec: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    passed: u64,
    warned: u64,
    failed: u64,
    known: u64,
    not_run: u64,
}

impl Tally {
    fn verdict(&self) -> &'static str {
        if self.failed > 0 {
            "fail"
        } else if self.known > 0 {
            "known"
        } else if self.warned > 0 {
            "warn"
        } else if self.passed > 0 {
            "pass"
        } else {
            "not run"
        }
    }
}

fn tally_of(verdicts: &[Verdict], strict: bool) -> BTreeMap<String, Tally> {
    let mut by_check: BTreeMap<String, Tally> = BTreeMap::new();
    for v in verdicts {
        for c in &v.checks {
            let t = by_check.entry(check_family(&c.id).to_owned()).or_default();
            match (&c.outcome, c.level) {
                (Outcome::Pass, _) => t.passed += 1,
                (Outcome::Fail, Level::Should) if !strict => t.warned += 1,
                (Outcome::Fail, _) => t.failed += 1,
                (Outcome::Known(_), _) => t.known += 1,
                (Outcome::NotRun(_), _) => t.not_run += 1,
            }
        }
    }
    by_check
}

fn test_status(v: &Verdict, strict: bool) -> &'static str {
    if v.error.is_some() && v.known.is_none() {
        "error"
    } else if !v.passed(strict) {
        "failed"
    } else if v.has_known() {
        "known"
    } else if v.warnings(strict) > 0 {
        "warned"
    } else {
        "passed"
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument a distinct part of the report"
)]
pub fn write(
    dir: &Path,
    target: &str,
    version: &str,
    strict: bool,
    counts: Counts,
    checks: &[CheckInfo],
    verdicts: &[Verdict],
    unreleased: &[crate::env::Unreleased],
    secrets: &[String],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut verdicts: Vec<&Verdict> = verdicts.iter().collect();
    verdicts.sort_by(|a, b| a.place.test.cmp(&b.place.test));
    let owned: Vec<Verdict> = verdicts.iter().map(|v| (*v).clone()).collect();
    let tally = tally_of(&owned, strict);
    let status_count = |s: &str| {
        verdicts
            .iter()
            .filter(|v| test_status(v, strict) == s)
            .count()
    };

    let per_check: Vec<Value> = checks
        .iter()
        .map(|c| {
            let t = tally.get(&c.id).copied().unwrap_or_default();
            json!({
                "id": c.id, "level": c.level.as_str(), "summary": c.summary,
                "source": c.source, "spec": c.spec,
                "verdict": t.verdict(), "passed": t.passed, "warned": t.warned,
                "failed": t.failed, "known": t.known, "not_run": t.not_run,
            })
        })
        .collect();
    let per_test: Vec<Value> = verdicts
        .iter()
        .map(|v| {
            json!({
                "name": v.place.test,
                "file": v.place.file,
                "status": test_status(v, strict),
                "error": v.error,
                "known": v.known,
                "checks": v.checks.iter().map(|c| json!({
                    "id": c.id,
                    "level": c.level.as_str(),
                    "outcome": match &c.outcome {
                        Outcome::Pass => "pass".to_owned(),
                        Outcome::Fail if c.level == Level::Should && !strict => "warn".to_owned(),
                        Outcome::Fail => "fail".to_owned(),
                        Outcome::Known(r) => format!("known: {r}"),
                        Outcome::NotRun(r) => format!("not run: {r}"),
                    },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let report = json!({
        "suite": {"name": "invite-conformance", "version": version},
        "target": target,
        "strict": strict,
        "selected": counts.selected,
        "filtered_out": counts.filtered_out,
        "ignored": counts.ignored,
        "run": counts.passed + counts.failed,
        "passed": counts.passed,
        "failed": counts.failed,
        "warned": status_count("warned"),
        "known": status_count("known"),
        "errors": status_count("error"),
        "checks": per_check,
        "tests": per_test,
        "unreleased": unreleased.iter().map(|u| json!({
            "kind": u.kind, "id": u.id, "answer": u.answer,
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(
        dir.join("report.json"),
        redact_secrets(&text, secrets) + "\n",
    )?;

    let mut md = String::new();
    let _ = writeln!(md, "# Conformance report: participant invite\n");
    let _ = writeln!(md, "- target: `{target}`");
    let _ = writeln!(
        md,
        "- suite: invite-conformance {version}{}",
        if strict { " (strict)" } else { "" }
    );
    let _ = writeln!(
        md,
        "- tests: {} run of {} selected: {} passed, {} failed ({} errors), {} warned, {} known\n",
        counts.passed + counts.failed,
        counts.selected,
        counts.passed,
        counts.failed,
        status_count("error"),
        status_count("warned"),
        status_count("known"),
    );
    let _ = writeln!(
        md,
        "| check | level | verdict | pass | warn | fail | known | not run | source | rule |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|---:|---|---|");
    for c in checks {
        let t = tally.get(&c.id).copied().unwrap_or_default();
        let _ = writeln!(
            md,
            "| `{}` | {} | **{}** | {} | {} | {} | {} | {} | {} | {} |",
            c.id,
            c.level.as_str(),
            t.verdict(),
            t.passed,
            t.warned,
            t.failed,
            t.known,
            t.not_run,
            c.source.replace('|', "\\|"),
            c.spec.replace('|', "\\|")
        );
    }
    if !unreleased.is_empty() {
        let _ = writeln!(
            md,
            "\n**Left on the target** (created by the suite, could not be ended):\n"
        );
        for u in unreleased {
            let _ = writeln!(md, "- {} `{}`: {}", u.kind, u.id, u.answer);
        }
    }
    let _ = writeln!(md, "\n## Tests\n\n| test | status |\n|---|---|");
    for v in &verdicts {
        let _ = writeln!(md, "| `{}` | {} |", v.place.test, test_status(v, strict));
    }
    std::fs::write(dir.join("report.md"), redact_secrets(&md, secrets))?;
    Ok(())
}
