//! The data-mutation score: what the reference server sends for the spec's
//! examples (`cases/invite/examples`: the invite response, the operation
//! read back with GET, the terminal and roster notification items, the
//! commsNotifications envelopes) is captured, every single-member mutation
//! of it is enumerated (every member path, `[*]` for array elements, times
//! remove / null / wrong-type / other, deduplicated across the examples),
//! and the suite runs (`--strict`, the example cases holding that member)
//! against a reference server with that one mutation. Each mutation must be
//! reported (some check fails), or be allowed in `spec/coverage.json` with
//! the spec's reason. The score and every mutation's outcome go into
//! `docs/spec-coverage.md`, between its mutation markers.

use std::collections::{BTreeMap, BTreeSet};

use conformance_selftest::capture::{capture, Captured};
use conformance_selftest::glob::glob;
use conformance_selftest::{
    check_generated, in_parallel, listed_checks, run_suite, server, workspace_root, Run,
};
use invite_reference::{Change, Config, Document, MemberPath, Mutation, Step};
use serde_json::Value;

const EXAMPLES: &str = "cases/invite/examples";
const EXAMPLE_PREFIX: &str = "case::invite::examples::";
/// The reference answers and notifies within milliseconds; a mutation that
/// withholds a notification costs this much per case that waits for it.
const NOTIFICATION_DEADLINE_MS: &str = "1000";
/// Suite processes at once: they mostly wait (on notifications that a
/// mutation made unrecognisable), so more than the cores.
const WORKERS: usize = 14;
/// How often a mutation whose outcome breaks a rule, or differs from the
/// one recorded in docs/spec-coverage.md, is run again.
const RETRIES: usize = 2;

const START: &str = "<!-- mutations:start -->";
const END: &str = "<!-- mutations:end -->";

/// The example cases: test name and case file.
fn examples() -> Vec<(String, Value)> {
    let dir = workspace_root().join(EXAMPLES);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases/invite/examples is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .expect("a file name");
            let text = std::fs::read_to_string(path).expect("the case is readable");
            let case = serde_json::from_str(&text).expect("the case is JSON");
            (format!("{EXAMPLE_PREFIX}{stem}"), case)
        })
        .collect()
}

/// Every member path of one document, with its values.
fn walk(
    value: &Value,
    steps: &mut Vec<Step>,
    depth_left: usize,
    out: &mut Vec<(MemberPath, Value)>,
) {
    if depth_left == 0 {
        return;
    }
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                steps.push(Step::Key(name.clone()));
                record(steps, member, out);
                walk(member, steps, depth_left - 1, out);
                steps.pop();
            }
        }
        Value::Array(items) => {
            steps.push(Step::Each);
            for item in items {
                record(steps, item, out);
                walk(item, steps, depth_left - 1, out);
            }
            steps.pop();
        }
        _ => {}
    }
}

fn record(steps: &[Step], value: &Value, out: &mut Vec<(MemberPath, Value)>) {
    if let Ok(path) = MemberPath::new(steps.to_vec()) {
        out.push((path, value.clone()));
    }
}

/// What one (document, path) holds across the examples.
#[derive(Default)]
struct Member {
    values: Vec<Value>,
    examples: BTreeSet<String>,
}

fn members(captures: &[(String, Captured)]) -> BTreeMap<(Document, MemberPath), Member> {
    let mut all: BTreeMap<(Document, MemberPath), Member> = BTreeMap::new();
    for (example, captured) in captures {
        let mut documents: Vec<(Document, &Value, usize)> = vec![
            (Document::Response, &captured.response, usize::MAX),
            (Document::Operation, &captured.operation, usize::MAX),
        ];
        documents.extend(
            captured
                .terminal
                .iter()
                .map(|t| (Document::Terminal, t, usize::MAX)),
        );
        documents.extend(
            captured
                .roster
                .iter()
                .map(|r| (Document::Roster, r, usize::MAX)),
        );
        // The envelope's own members: its items are the other documents'.
        documents.extend(
            captured
                .envelopes
                .iter()
                .map(|e| (Document::Envelope, e, 2)),
        );
        for (document, value, depth) in documents {
            let mut found = Vec::new();
            walk(value, &mut Vec::new(), depth, &mut found);
            for (path, value) in found {
                let member = all.entry((document, path)).or_default();
                member.values.push(value);
                member.examples.insert(example.clone());
            }
        }
    }
    all
}

/// The changes that alter a member holding these values (setting null to
/// null, or "another value" of null, would change nothing).
fn changes(values: &[Value]) -> Vec<Change> {
    let mut out = vec![Change::Remove];
    if values.iter().any(|v| !v.is_null()) {
        out.push(Change::Null);
    }
    out.push(Change::WrongType);
    let alterable = |v: &Value| match v {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        _ => true,
    };
    if values.iter().any(alterable) {
        out.push(Change::Other);
    }
    out
}

struct Allowance {
    pattern: String,
    reason: String,
    /// Why the suite reports it all the same (a check that relies on a
    /// member the spec leaves free), when it does.
    reported_because: Option<String>,
}

fn allowances() -> Vec<Allowance> {
    let path = workspace_root().join("spec/coverage.json");
    let text = std::fs::read_to_string(&path).expect("spec/coverage.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("spec/coverage.json is JSON");
    doc.pointer("/mutations/allowed")
        .and_then(Value::as_array)
        .expect("spec/coverage.json has mutations.allowed")
        .iter()
        .map(|entry| Allowance {
            pattern: entry["match"]
                .as_str()
                .expect("each has a match")
                .to_owned(),
            reason: entry["reason"]
                .as_str()
                .expect("each has a reason")
                .to_owned(),
            reported_because: entry
                .get("reported_because")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
        .collect()
}

/// How the suite answered one mutation.
struct Outcome {
    run: Run,
}

impl Outcome {
    fn reported(&self) -> bool {
        self.run.code == Some(101) && !self.run.failures.is_empty()
    }

    /// The checks that failed, and whether only SHOULD ones did.
    fn checks(&self) -> BTreeSet<String> {
        self.run
            .failed_checks()
            .into_iter()
            .map(|(_, check)| check)
            .collect()
    }
}

fn run_one(mutation: &Mutation, skip: &[String]) -> Outcome {
    let server = invite_reference::start(Config {
        mutation: Some(mutation.clone()),
        ..Config::default()
    })
    .expect("the reference server starts");
    let base = server.base_url();
    let mut args = vec![
        "--target",
        base.as_str(),
        "--strict",
        "--notification-timeout-ms",
        NOTIFICATION_DEADLINE_MS,
        "--response-timeout-ms",
        "1500",
        "--retry-budget-secs",
        "0",
        EXAMPLE_PREFIX,
    ];
    for name in skip {
        args.extend(["--skip", name.as_str()]);
    }
    let run = run_suite(&args, &[("CONFORMANCE_TOKEN", "mutation-token")]).expect("the suite runs");
    Outcome { run }
}

#[test]
fn every_single_member_mutation_of_the_examples_is_reported_or_allowed() {
    let examples = examples();
    let reference = server(Vec::new());
    let captures: Vec<(String, Captured)> = examples
        .iter()
        .map(|(name, case)| {
            let captured = capture(&reference.base_url(), case)
                .unwrap_or_else(|e| panic!("capturing {name}: {e}"));
            assert!(
                !captured.terminal.is_empty() && !captured.roster.is_empty(),
                "{name}"
            );
            (name.clone(), captured)
        })
        .collect();
    drop(reference);

    let members = members(&captures);
    let mut mutations: Vec<(Mutation, BTreeSet<String>)> = Vec::new();
    for ((document, path), member) in &members {
        for change in changes(&member.values) {
            let holding = if *document == Document::Envelope {
                examples.iter().map(|(n, _)| n.clone()).collect()
            } else {
                member.examples.clone()
            };
            mutations.push((Mutation::new(*document, change, path.clone()), holding));
        }
    }
    for (mutation, _) in &mutations {
        let text = mutation.to_string();
        assert_eq!(
            text.parse::<Mutation>().as_ref(),
            Ok(mutation),
            "{text} round-trips"
        );
    }

    let allowances = allowances();
    let levels = levels();
    let updating = std::env::var_os("UPDATE_SPEC_COVERAGE").is_some();
    let doc =
        std::fs::read_to_string(workspace_root().join("docs/spec-coverage.md")).unwrap_or_default();
    let recorded: BTreeSet<&str> = doc.lines().collect();

    let all: Vec<usize> = (0..mutations.len()).collect();
    let mut results = run_all(&mutations, &examples, &all);
    // A run the machine's load disturbed (a notification later than the
    // deadline) shows as an outcome that differs from the recorded one or
    // breaks a rule; such mutations run again, and an outcome that then
    // agrees stands. A real change reproduces every time.
    for _ in 0..RETRIES {
        let suspects: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| {
                let verdict = judge(&mutations[i], &results[&i], &allowances);
                verdict.problem.is_some()
                    || (!updating && !recorded.is_empty() && !verdict.agrees(&recorded, &levels))
            })
            .collect();
        if suspects.is_empty() {
            break;
        }
        eprintln!(
            "{} mutation(s) run again: {:?}",
            suspects.len(),
            suspects
                .iter()
                .map(|&i| mutations[i].0.to_string())
                .collect::<Vec<_>>()
        );
        for (i, outcome) in run_all(&mutations, &examples, &suspects) {
            let verdict = judge(&mutations[i], &outcome, &allowances);
            let settles = verdict.problem.is_none()
                && (updating || recorded.is_empty() || verdict.agrees(&recorded, &levels));
            if settles {
                results.insert(i, outcome);
            }
        }
    }

    let mut problems = Vec::new();
    let mut used = vec![false; allowances.len()];
    let mut rows = Vec::new();
    for (i, entry) in mutations.iter().enumerate() {
        let verdict = judge(entry, &results[&i], &allowances);
        if let Some(a) = verdict.allowance {
            used[a] = true;
        }
        problems.extend(verdict.problem);
        rows.extend(verdict.row);
    }
    for (a, allowance) in allowances.iter().enumerate() {
        if !used[a] {
            problems.push(format!(
                "spec/coverage.json allows {:?}, which matches no mutation: remove it",
                allowance.pattern
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    write_section(&rows, &members, &levels);
}

/// Runs the suite against each of `indices`' mutations, several at once.
fn run_all(
    mutations: &[(Mutation, BTreeSet<String>)],
    examples: &[(String, Value)],
    indices: &[usize],
) -> BTreeMap<usize, Outcome> {
    in_parallel(indices.to_vec(), WORKERS, |i| {
        let (mutation, holding) = &mutations[i];
        let skip: Vec<String> = examples
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| !holding.contains(name))
            .map(|name| name.trim_start_matches(EXAMPLE_PREFIX).to_owned())
            .collect();
        (i, run_one(mutation, &skip))
    })
    .into_iter()
    .collect()
}

/// What one mutation's outcome comes to.
struct Verdict {
    row: Option<Row>,
    /// What breaks the rules, if anything does.
    problem: Option<String>,
    /// The allowance that names it, if one does.
    allowance: Option<usize>,
}

impl Verdict {
    /// Whether the recorded document shows this outcome.
    fn agrees(&self, recorded: &BTreeSet<&str>, levels: &BTreeMap<String, String>) -> bool {
        self.row
            .as_ref()
            .and_then(|row| row.line(levels))
            .is_none_or(|line| recorded.contains(line.as_str()))
    }
}

fn judge(
    (mutation, holding): &(Mutation, BTreeSet<String>),
    outcome: &Outcome,
    allowances: &[Allowance],
) -> Verdict {
    let text = mutation.to_string();
    if !matches!(outcome.run.code, Some(0) | Some(101)) {
        return Verdict {
            row: None,
            problem: Some(format!(
                "{text}: the suite could not run (exit {:?}):\n{}",
                outcome.run.code,
                outcome.run.all_output()
            )),
            allowance: None,
        };
    }
    let allowed = allowances.iter().position(|a| glob(&a.pattern, &text));
    let mut problem = None;
    if let Some(a) = allowed {
        let explained = allowances[a].reported_because.is_some();
        if outcome.reported() && !explained {
            problem = Some(format!(
                "{text} is allowed ({:?}), yet the suite reports it ({:?}): a false failure; fix the check, or say why in the allowance's reported_because",
                allowances[a].pattern,
                outcome.checks()
            ));
        } else if !outcome.reported() && explained {
            problem = Some(format!(
                "{text} is no longer reported: drop reported_because from {:?}",
                allowances[a].pattern
            ));
        }
    } else if !outcome.reported() {
        problem = Some(format!(
            "{text} is not reported, nor allowed in spec/coverage.json (examples run: {})",
            holding
                .iter()
                .map(|n| n.trim_start_matches(EXAMPLE_PREFIX))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Verdict {
        row: Some(Row {
            text,
            allowed: allowed.map(|a| allowances[a].reason.clone()),
            reported_because: allowed.and_then(|a| allowances[a].reported_because.clone()),
            checks: outcome.reported().then(|| outcome.checks()),
        }),
        problem,
        allowance: allowed,
    }
}

/// Each check's level as `--list-checks` prints it; `ERROR` (no verdict)
/// counts as a failure of the run.
fn levels() -> BTreeMap<String, String> {
    let mut levels: BTreeMap<String, String> = listed_checks()
        .into_iter()
        .map(|check| (check.id, check.level))
        .collect();
    levels.insert("ERROR".into(), "MUST".into());
    levels
}

struct Row {
    text: String,
    /// The reason the spec allows it, if it does.
    allowed: Option<String>,
    /// Why it is reported all the same, if the allowance says.
    reported_because: Option<String>,
    /// The checks that reported it, if any did.
    checks: Option<BTreeSet<String>>,
}

impl Row {
    /// The line the document shows for this row in its tables of reported
    /// (or missed) mutations; `None` for an allowed one nobody reports, which
    /// only the table of reasons lists.
    fn line(&self, levels: &BTreeMap<String, String>) -> Option<String> {
        match (&self.allowed, &self.checks) {
            (None, None) => Some(format!("- `{}`", self.text)),
            (Some(_), None) => None,
            (Some(_), Some(checks)) => Some(format!(
                "| `{}` | {} | {} |",
                cell(&self.text),
                checks_cell(Some(checks)),
                cell(self.reported_because.as_deref().unwrap_or(""))
            )),
            (None, Some(checks)) => Some(format!(
                "| `{}` | {} | {} |",
                cell(&self.text),
                checks_cell(Some(checks)),
                if should_only(checks, levels) {
                    "SHOULD only"
                } else {
                    "MUST"
                }
            )),
        }
    }
}

/// Whether every check that failed is a SHOULD (so the mutation fails the
/// run only under `--strict`).
fn should_only(checks: &BTreeSet<String>, levels: &BTreeMap<String, String>) -> bool {
    checks
        .iter()
        .all(|c| levels.get(c).is_some_and(|l| l == "SHOULD"))
}

fn write_section(
    rows: &[Row],
    members: &BTreeMap<(Document, MemberPath), Member>,
    levels: &BTreeMap<String, String>,
) {
    let by_should_only = |row: &Row| {
        row.checks
            .as_ref()
            .is_some_and(|checks| should_only(checks, levels))
    };
    let total = rows.len();
    let allowed = rows.iter().filter(|r| r.allowed.is_some()).count();
    let due: Vec<&Row> = rows.iter().filter(|r| r.allowed.is_none()).collect();
    let reported = due.iter().filter(|r| r.checks.is_some()).count();
    let should_only = due.iter().filter(|r| by_should_only(r)).count();
    let allowed_reported: Vec<&Row> = rows
        .iter()
        .filter(|r| r.allowed.is_some() && r.checks.is_some())
        .collect();
    let score = if due.is_empty() {
        100.0
    } else {
        reported as f64 * 100.0 / due.len() as f64
    };
    let mut md = format!(
        "{START}\n## Data mutations\n\n\
         Generated by `selftest/tests/mutations.rs` (`UPDATE_SPEC_COVERAGE=1 cargo test -p conformance-selftest --test mutations`).\n\
         What the reference server sends for the spec's examples (`{EXAMPLES}`) is captured: the invite response,\n\
         the operation read back with GET, the terminal and roster notification items, the commsNotifications\n\
         envelopes ({} member paths, array elements as `[*]`). Every single-member mutation of them (remove, null,\n\
         wrong-type, other; see `cargo run -p invite-reference -- --list-mutations`), deduplicated across the\n\
         examples, is injected into a reference server, and the suite runs the example cases that hold the member\n\
         with `--strict`. A mutation is reported when some check fails; it is allowed when `spec/coverage.json`\n\
         says the spec leaves that member free, and why.\n\n\
         **Score: {reported} / ({total} − {allowed}) = {score:.1}%** of the mutations the spec forbids are reported.\n\n\
         | mutations | count |\n|---|---|\n\
         | all | {total} |\n\
         | allowed by the spec | {allowed} |\n\
         | to be reported (all − allowed) | {} |\n\
         | reported | {reported} |\n\
         | reported by a MUST check (fails by default) | {} |\n\
         | reported by SHOULD checks only (fails under `--strict`) | {should_only} |\n\
         | not reported | {} |\n\
         | allowed, yet reported | {} |\n\n",
        members.len(),
        due.len(),
        reported - should_only,
        due.len() - reported,
        allowed_reported.len(),
    );
    let missed: Vec<&&Row> = due.iter().filter(|r| r.checks.is_none()).collect();
    if !missed.is_empty() {
        md.push_str("### Not reported\n\n");
        for row in missed {
            md.extend(row.line(levels));
            md.push('\n');
        }
        md.push('\n');
    }
    md.push_str("### Allowed, by the spec's reason\n\n| reason | mutations |\n|---|---|\n");
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for row in rows {
        if let Some(reason) = &row.allowed {
            by_reason.entry(reason).or_default().push(&row.text);
        }
    }
    for (reason, texts) in &by_reason {
        md.push_str(&format!(
            "| {} | {} |\n",
            cell(reason),
            texts
                .iter()
                .map(|t| format!("`{}`", cell(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !allowed_reported.is_empty() {
        md.push_str(
            "\n### Allowed, yet reported\n\n\
             The spec leaves these free, yet a check fails: the suite relies on a member the spec\n\
             does not promise (each says why in `spec/coverage.json`).\n\n| mutation | reported by | why |\n|---|---|---|\n",
        );
        for row in &allowed_reported {
            md.extend(row.line(levels));
            md.push('\n');
        }
    }
    md.push_str(
        "\n### Reported\n\nSHOULD-only rows fail under `--strict` only; `ERROR` is a case that could not reach a verdict\n\
         (a call that never became established, a move whose source could not be set up).\n\n\
         | mutation | reported by | level |\n|---|---|---|\n",
    );
    for row in rows.iter().filter(|r| r.allowed.is_none()) {
        if row.checks.is_some() {
            md.push_str(&format!(
                "| `{}` | {} | {} |\n",
                cell(&row.text),
                checks_cell(row.checks.as_ref()),
                if by_should_only(row) {
                    "SHOULD only"
                } else {
                    "MUST"
                }
            ));
        }
    }
    md.push_str(END);

    let path = workspace_root().join("docs/spec-coverage.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(start), Some(end)) = (current.find(START), current.find(END)) else {
        panic!(
            "docs/spec-coverage.md has no {START} ... {END} section: run UPDATE_SPEC_COVERAGE=1 cargo test -p conformance-selftest --test coverage first"
        );
    };
    let updated = format!("{}{md}{}", &current[..start], &current[end + END.len()..]);
    check_generated(&path, &updated, "UPDATE_SPEC_COVERAGE", |current| {
        let old: BTreeSet<&str> = current.lines().collect();
        let new: BTreeSet<&str> = updated.lines().collect();
        let gone: Vec<&&str> = old.difference(&new).take(10).collect();
        let came: Vec<&&str> = new.difference(&old).take(10).collect();
        format!(
            "docs/spec-coverage.md's mutation section is out of date: run UPDATE_SPEC_COVERAGE=1 cargo test -p conformance-selftest --test mutations\nno longer:\n{gone:#?}\nnow:\n{came:#?}"
        )
    });
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn checks_cell(checks: Option<&BTreeSet<String>>) -> String {
    checks
        .map(|c| {
            c.iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
