//! The conformance report: `report.json` (counts per check id and per test,
//! with the target and the suite's version) and `report.md` (a matrix of
//! check id × verdict with the rule's source, then each test's failed
//! checks), written after the run.
//!
//! Under nextest every test is a process of its own. Each process writes its
//! part (`.parts/<run id>/<process>.json`, the run id being nextest's
//! `NEXTEST_RUN_ID`), then, holding a lock on the folder, merges every part
//! of its run into the report: the last process to finish writes the whole
//! run's report, however the tests were split.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::fixture::Unreleased;
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
    /// Under the run's profile.
    pub level: Level,
    /// Under each of the suite's profiles.
    pub levels: Vec<(&'static str, Level)>,
    pub summary: String,
    /// Where the rule comes from (the spec page's section, or another document).
    pub source: String,
    pub spec: String,
}

/// What one process contributes to a report.
pub struct Part<'a> {
    /// The suite's name (`rooms-conformance`) and the report's title.
    pub suite: &'a str,
    pub title: &'a str,
    pub target: &'a str,
    pub version: &'a str,
    pub strict: bool,
    /// The profile the run was judged under.
    pub profile: &'a str,
    /// The tenant profile the identities came from (`--tenant`).
    pub tenant: &'a str,
    /// The recording the run compared the target with (`--compare`).
    pub compared: Option<&'a str>,
    pub counts: Counts,
    pub checks: &'a [CheckInfo],
    pub verdicts: &'a [Verdict],
    pub unreleased: &'a [Unreleased],
    pub secrets: &'a [String],
    /// The run this process is part of (nextest's `NEXTEST_RUN_ID`, which
    /// the console reads); `None`: a run of its own.
    pub run_id: Option<&'a str>,
    /// The text each trial that did not pass cleanly was shown with, by
    /// test name (its differences, diff and rerun line).
    pub shown: &'a BTreeMap<String, String>,
}

/// The folder of this run's parts, and the run's id.
fn run_id(given: Option<&str>) -> String {
    given
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The report of a run made of this process's part alone (no file
/// written): what `--junit` is made from when there is no `--report`.
pub fn alone(part: &Part<'_>) -> Value {
    let text = redact_secrets(&part_json(part).to_string(), part.secrets);
    merge(&[serde_json::from_str(&text).unwrap_or(Value::Null)])
}

/// Writes this process's part, then the report of every part of its run,
/// and returns that report.
pub fn write(dir: &Path, part: &Part<'_>) -> std::io::Result<Value> {
    let run = run_id(part.run_id);
    let parts = dir.join(".parts");
    let mine = parts.join(&run);
    std::fs::create_dir_all(&mine)?;
    let text = redact_secrets(&part_json(part).to_string(), part.secrets);
    // Written whole, then renamed: a merging process never reads half a part.
    let name = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let staged = mine.join(format!("{name}.tmp"));
    std::fs::write(&staged, text)?;
    std::fs::rename(&staged, mine.join(format!("{name}.json")))?;

    let lock = File::create(parts.join("lock"))?;
    lock.lock()?;
    // Parts of earlier runs are stale: this run's report replaces theirs.
    for entry in std::fs::read_dir(&parts)? {
        let path = entry?.path();
        if path.is_dir() && path != mine {
            std::fs::remove_dir_all(&path)?;
        }
    }
    let merged = merge(&read_parts(&mine)?);
    write_reports(dir, &merged, part.secrets)?;
    lock.unlock()?;
    Ok(merged)
}

/// Reports of one run split across machines (`cargo nextest run
/// --partition`, one report folder per machine) merged into the report one
/// machine would have written; an error when they are of different runs
/// (another suite, version, target, profile or strictness).
pub fn merge_reports(reports: &[Value]) -> Result<Value, String> {
    let first = reports.first().ok_or("no report to merge")?;
    for (i, r) in reports.iter().enumerate().skip(1) {
        for key in ["suite", "title", "target", "profile", "strict"] {
            if r[key] != first[key] {
                return Err(format!(
                    "report {} is of another run than report 1: its {key} is {}, not {}",
                    i + 1,
                    r[key],
                    first[key]
                ));
            }
        }
        let names = |r: &Value| -> Vec<String> {
            r["tests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        };
        let earlier: Vec<String> = reports[..i].iter().flat_map(names).collect();
        if let Some(twice) = names(r).into_iter().find(|n| earlier.contains(n)) {
            return Err(format!(
                "report {} has the test {twice} that an earlier one has: the reports overlap",
                i + 1
            ));
        }
    }
    // A report has the shape of a part, but for the suite's name and version.
    let parts: Vec<Value> = reports
        .iter()
        .map(|r| {
            let mut part = r.clone();
            part["suite"] = r["suite"]["name"].clone();
            part["version"] = r["suite"]["version"].clone();
            part
        })
        .collect();
    Ok(merge(&parts))
}

/// Writes `report.json`, `report.md` and `report.html` of `report` in `dir`.
pub fn write_files(dir: &Path, report: &Value) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_reports(dir, report, &[])
}

fn read_parts(dir: &Path) -> std::io::Result<Vec<Value>> {
    // A part left out would make the merged counts wrong: an unreadable
    // entry is an error.
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    let mut parts = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let part = serde_json::from_str(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        parts.push(part);
    }
    Ok(parts)
}

fn outcome_word(outcome: &Outcome, level: Level, strict: bool) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail if level == Level::Should && !strict => "warn",
        Outcome::Fail => "fail",
        Outcome::Known(_) => "known",
        Outcome::NotRun(_) => "not run",
    }
}

fn test_status(v: &Verdict, strict: bool) -> &'static str {
    if v.skipped.is_some() {
        "skipped"
    } else if v.error.is_some() && v.known.is_none() {
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

/// One process's contribution, as JSON.
fn part_json(part: &Part<'_>) -> Value {
    let strict = part.strict;
    json!({
        "suite": part.suite,
        "title": part.title,
        "target": part.target,
        "version": part.version,
        "strict": strict,
        "profile": part.profile,
        "tenant": part.tenant,
        "compared_with": part.compared,
        "selected": part.counts.selected,
        "filtered_out": part.counts.filtered_out,
        "ignored": part.counts.ignored,
        "passed": part.counts.passed,
        "failed": part.counts.failed,
        "checks": part.checks.iter().map(|c| json!({
            "id": c.id, "level": c.level.as_str(),
            "levels": c.levels.iter().map(|(p, l)| (p.to_string(), json!(l.as_str()))).collect::<serde_json::Map<_, _>>(),
            "summary": c.summary,
            "source": c.source, "spec": c.spec,
        })).collect::<Vec<_>>(),
        "tests": part.verdicts.iter().map(|v| json!({
            "name": v.place.test,
            "file": v.place.file,
            "status": test_status(v, strict),
            "error": v.error,
            "skipped": v.skipped,
            "known": v.known,
            // A string: a u64 past 2^53 would not survive a JSON reader's f64.
            "seed": v.place.seed.map(|seed| seed.to_string()),
            "duration_ms": millis(v.duration),
            "failed_checks": v.checks.iter()
                .filter(|c| outcome_word(&c.outcome, c.level, strict) == "fail")
                .map(|c| c.id.clone()).collect::<Vec<_>>(),
            "warned_checks": v.checks.iter()
                .filter(|c| outcome_word(&c.outcome, c.level, strict) == "warn")
                .map(|c| c.id.clone()).collect::<Vec<_>>(),
            "undeclared": v.undeclared(),
            "text": part.shown.get(&v.place.test),
            "checks": v.checks.iter().map(|c| json!({
                "id": c.id,
                "family": check_family(&c.id),
                "level": c.level.as_str(),
                "outcome": match &c.outcome {
                    Outcome::Known(r) => format!("known: {r}"),
                    Outcome::NotRun(r) => format!("not run: {r}"),
                    other => outcome_word(other, c.level, strict).to_owned(),
                },
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "unreleased": part.unreleased.iter().map(|u| json!({
            "kind": u.kind, "id": u.id, "answer": u.answer,
        })).collect::<Vec<_>>(),
    })
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
    fn add(&mut self, outcome: &str) {
        match outcome {
            "pass" => self.passed += 1,
            "warn" => self.warned += 1,
            "fail" => self.failed += 1,
            o if o.starts_with("known") => self.known += 1,
            _ => self.not_run += 1,
        }
    }

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

fn sum(parts: &[Value], key: &str) -> u64 {
    parts.iter().filter_map(|p| p[key].as_u64()).sum()
}

/// A wall time in milliseconds, to the microsecond.
fn millis(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// How many of the slowest tests report.md and the console name.
pub const SLOWEST: usize = 5;

/// The report of a whole run from its parts.
fn merge(parts: &[Value]) -> Value {
    let first = parts.first().cloned().unwrap_or(Value::Null);
    let mut tests: Vec<Value> = parts
        .iter()
        .flat_map(|p| p["tests"].as_array().cloned().unwrap_or_default())
        .collect();
    tests.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    for check in tests
        .iter()
        .flat_map(|t| t["checks"].as_array().cloned().unwrap_or_default())
    {
        tally
            .entry(check["family"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .add(check["outcome"].as_str().unwrap_or_default());
    }
    let checks: Vec<Value> = first["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            let t = tally
                .get(c["id"].as_str().unwrap_or_default())
                .copied()
                .unwrap_or_default();
            c["verdict"] = t.verdict().into();
            c["passed"] = t.passed.into();
            c["warned"] = t.warned.into();
            c["failed"] = t.failed.into();
            c["known"] = t.known.into();
            c["not_run"] = t.not_run.into();
            c
        })
        .collect();
    let status_count = |s: &str| tests.iter().filter(|t| t["status"] == s).count();
    // Member -> the tests whose documents carried it.
    let mut undeclared: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &tests {
        for member in t["undeclared"].as_array().into_iter().flatten() {
            undeclared
                .entry(member.as_str().unwrap_or_default())
                .or_default()
                .push(t["name"].as_str().unwrap_or_default());
        }
    }
    let undeclared: Vec<Value> = undeclared
        .into_iter()
        .map(|(member, tests)| json!({"member": member, "tests": tests}))
        .collect();
    let all = tally.values().fold(Tally::default(), |mut a, t| {
        a.passed += t.passed;
        a.warned += t.warned;
        a.failed += t.failed;
        a.known += t.known;
        a.not_run += t.not_run;
        a
    });
    json!({
        "suite": {"name": first["suite"], "version": first["version"]},
        "title": first["title"],
        "target": first["target"],
        "strict": first["strict"],
        "profile": first["profile"],
        "tenant": first["tenant"],
        "compared_with": first["compared_with"],
        // A merged report counts the processes of the reports it was made of.
        "processes": parts.iter().map(|p| p["processes"].as_u64().unwrap_or(1)).sum::<u64>(),
        "selected": sum(parts, "selected"),
        // Only one process knows what its filter left out.
        "filtered_out": if parts.len() == 1 && first["processes"].as_u64().unwrap_or(1) == 1 {
            first["filtered_out"].clone()
        } else {
            Value::Null
        },
        "ignored": sum(parts, "ignored"),
        "run": sum(parts, "passed") + sum(parts, "failed"),
        "passed": sum(parts, "passed"),
        "failed": sum(parts, "failed"),
        "warned": status_count("warned"),
        "known": status_count("known"),
        "errors": status_count("error"),
        "skipped": status_count("skipped"),
        "check_outcomes": {
            "passed": all.passed, "warned": all.warned, "failed": all.failed,
            "known": all.known, "not_run": all.not_run,
        },
        "checks": checks,
        "undeclared": undeclared,
        "tests": tests,
        "unreleased": parts.iter()
            .flat_map(|p| p["unreleased"].as_array().cloned().unwrap_or_default())
            .collect::<Vec<_>>(),
    })
}

/// A value as a Markdown table cell: one line, bounded, control
/// characters escaped (a viewer or a `cat` of the file must not run a
/// target's terminal escapes), pipes escaped.
fn cell(v: &Value) -> String {
    md_text(v.as_str().unwrap_or_default())
}

fn md_text(text: &str) -> String {
    crate::sanitize::line(text).replace('|', "\\|")
}

fn write_reports(dir: &Path, report: &Value, secrets: &[String]) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report).unwrap_or_default();
    replace(
        &dir.join("report.json"),
        &(redact_secrets(&text, secrets) + "\n"),
    )?;
    replace(
        &dir.join("report.md"),
        &redact_secrets(&markdown(report), secrets),
    )?;
    replace(
        &dir.join("report.html"),
        &redact_secrets(&crate::report_html::page(report), secrets),
    )
}

/// Writes `path` whole or not at all.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let staged = path.with_extension("tmp");
    std::fs::write(&staged, text)?;
    std::fs::rename(staged, path)
}

fn markdown(r: &Value) -> String {
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let mut md = String::new();
    let _ = writeln!(md, "# Conformance report: {}\n", cell(&r["title"]));
    let _ = writeln!(md, "- target: `{}`", cell(&r["target"]));
    let _ = writeln!(
        md,
        "- suite: {} {}, judged under profile `{}`{}",
        cell(&r["suite"]["name"]),
        cell(&r["suite"]["version"]),
        cell(&r["profile"]),
        if r["strict"] == true { " (strict)" } else { "" }
    );
    let _ = writeln!(md, "- identities: tenant profile {}", cell(&r["tenant"]));
    if let Some(dir) = r["compared_with"].as_str() {
        let _ = writeln!(
            md,
            "- compared with the recording in `{dir}`: a failure is a difference from it"
        );
    }
    let _ = writeln!(
        md,
        "- tests: {} run of {} selected ({} process{}): {} passed, {} failed (of which {} could not reach a verdict), {} passed with warnings, {} passed with known failures; {} skipped, {} ignored",
        n("run"),
        n("selected"),
        n("processes"),
        if n("processes") == 1 { "" } else { "es" },
        n("passed"),
        n("failed"),
        n("errors"),
        n("warned"),
        n("known"),
        n("skipped"),
        n("ignored"),
    );
    let o = &r["check_outcomes"];
    let _ = writeln!(
        md,
        "- checks, over all tests: {} passed, {} warned, {} failed, {} known, {} not run\n",
        o["passed"], o["warned"], o["failed"], o["known"], o["not_run"]
    );
    let _ = writeln!(
        md,
        "| check | level | verdict | pass | warn | fail | known | not run | source | rule |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|---:|---|---|");
    for c in r["checks"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| `{}` | {} | **{}** | {} | {} | {} | {} | {} | {} | {} |",
            cell(&c["id"]),
            cell(&c["level"]),
            cell(&c["verdict"]),
            c["passed"],
            c["warned"],
            c["failed"],
            c["known"],
            c["not_run"],
            cell(&c["source"]),
            cell(&c["spec"]),
        );
    }
    let unreleased = r["unreleased"].as_array().cloned().unwrap_or_default();
    if !unreleased.is_empty() {
        let _ = writeln!(
            md,
            "\n**Left on the target** (created by the suite, could not be ended):\n"
        );
        for u in &unreleased {
            let _ = writeln!(
                md,
                "- {} `{}`: {}",
                cell(&u["kind"]),
                cell(&u["id"]),
                cell(&u["answer"])
            );
        }
    }
    let undeclared = r["undeclared"].as_array().cloned().unwrap_or_default();
    if !undeclared.is_empty() {
        let _ = writeln!(
            md,
            "\n## Members beyond the metadata\n\n\
             Members the target sent that the schemas do not declare: accepted (a service may add members \
             without notice), listed so that what the target sends can be compared with what its \
             documentation shows.\n\n| member | tests |\n|---|---:|"
        );
        for u in &undeclared {
            let _ = writeln!(
                md,
                "| `{}` | {} |",
                cell(&u["member"]),
                u["tests"].as_array().map_or(0, Vec::len)
            );
        }
    }
    let ids = |t: &Value, key: &str| {
        t[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|id| format!("`{}`", cell(id)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let mut slowest: Vec<&Value> = r["tests"].as_array().into_iter().flatten().collect();
    slowest.sort_by(|a, b| {
        let ms = |t: &Value| t["duration_ms"].as_f64().unwrap_or(0.0);
        ms(b).total_cmp(&ms(a))
    });
    if !slowest.is_empty() {
        let _ = writeln!(
            md,
            "\n## Slowest tests\n\nWall time of each test; a run takes as long as its slowest trial at least.\n\n| test | status | wall |\n|---|---|---:|"
        );
        for t in slowest.iter().take(SLOWEST) {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                cell(&t["name"]),
                cell(&t["status"]),
                seconds(t["duration_ms"].as_f64().unwrap_or(0.0))
            );
        }
    }
    let _ = writeln!(
        md,
        "\n## Tests\n\n| test | status | wall | failed checks | warned checks |\n|---|---|---:|---|---|"
    );
    for t in r["tests"].as_array().into_iter().flatten() {
        let mut failed = ids(t, "failed_checks");
        if let Some(e) = t["error"].as_str() {
            let first = md_text(e.lines().next().unwrap_or_default());
            failed = if failed.is_empty() {
                format!("ERROR: {first}")
            } else {
                format!("{failed}; ERROR: {first}")
            };
        }
        let seed = t["seed"]
            .as_str()
            .map(|seed| format!(" (PROPTEST_RNG_SEED={seed})"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| `{}`{seed} | {} | {} | {} | {} |",
            cell(&t["name"]),
            cell(&t["status"]),
            seconds(t["duration_ms"].as_f64().unwrap_or(0.0)),
            failed,
            ids(t, "warned_checks"),
        );
    }
    md
}

/// Milliseconds as the reports and the console say a wall time: `0.4 ms`,
/// `12 ms`, `3.2 s`.
pub fn seconds(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}
