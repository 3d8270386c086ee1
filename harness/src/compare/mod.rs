//! Comparing (`--compare DIR`): each trial's recording replayed against the
//! target (fresh fixtures, the same cases with the same bodies, in the
//! recorded order), and how the target's behaviour differs from the
//! recording reported as the trial's checks: each exchange's status,
//! headers that matter and body, and each fixture's notifications (which,
//! how many, with what), once what the contract leaves free is normalised
//! ([`normalise`]). A difference renders as every failure does (path,
//! expected = recorded, actual, a diff) with the trial's rerun lines.

pub mod differences;
pub mod normalise;

use std::path::Path;

use serde_json::Value;

use crate::contract::Context;
use crate::transcript::{Exchange, Role, Step, Transcript};
use crate::verdict::{Check, Detail, Level, Verdict, Where};

pub use crate::freedoms::Freedoms;

/// Replays the recording of trial `name` under `dir` and judges how the
/// target differs from it.
pub fn run_trial(cx: &Context<'_>, name: &str, dir: &Path) -> Verdict {
    let path = crate::transcript::path_of(dir, name);
    let mut verdict = Verdict {
        place: Where {
            test: name.to_owned(),
            file: Some(path.display().to_string()),
            rerun: cx.options.rerun(name, &[]),
            ..Where::default()
        },
        ..Verdict::default()
    };
    let transcript = match Transcript::read(dir, name) {
        Ok(Some(t)) => t,
        Ok(None) => {
            verdict.skipped = Some(format!("the recording in {} has no {name}", dir.display()));
            return verdict;
        }
        Err(e) => {
            verdict.error = Some(crate::error::chain(&e));
            return verdict;
        }
    };
    let Some(recording) = cx.fixtures.recording() else {
        verdict.error = Some("the trial's exchanges are not being kept".to_owned());
        return verdict;
    };
    verdict.place.about = Some(format!(
        "compared with its recording ({} step(s), recorded against {} with the tenant profile {})",
        transcript.steps.len(),
        transcript.recorded.target,
        transcript.recorded.tenant
    ));
    let description = cx.fixtures.contract().description();
    let (envelope, freedoms) = (description.envelope, &description.freedoms);
    let several = transcript.steps.len() > 1;
    for (i, recorded) in transcript.steps.iter().enumerate() {
        // Check ids stay stable (the reports count them); the label says
        // which generated input a check is about.
        let prefix = if several {
            format!("step {i}: ")
        } else {
            String::new()
        };
        recording.await_counts(normalise::counts(recorded, envelope));
        let replay = match crate::runner::run_document(cx, name, &recorded.case) {
            Ok(v) => v,
            Err(e) => {
                verdict.error = Some(format!("step {i}: the recorded case does not load: {e}"));
                return verdict;
            }
        };
        if verdict.place.request.is_none() {
            verdict.place.request = replay.place.request.clone();
        }
        let Some(actual) = recording.take().pop() else {
            verdict.error = Some(format!("step {i}: the replay kept nothing"));
            return verdict;
        };
        if let Some(why) = replay.skipped {
            // Nothing was sent: there is nothing to compare, whatever the
            // recording holds.
            let as_recorded = if recorded.verdict.outcome == "skipped" {
                " (as when it was recorded)"
            } else {
                ""
            };
            let why = format!("step {i} could not be replayed here{as_recorded}: {why}");
            if several {
                // One generated input of many: the others still compare.
                let check = Check::new(
                    "compare.step",
                    Level::Must,
                    format!("{prefix}the step replays"),
                );
                verdict.checks.push(check.not_run(why));
                continue;
            }
            verdict.skipped = Some(why);
            return verdict;
        }
        if let (Some(setup), Some(error)) = (&replay.setup, &replay.error) {
            // A fixture the target would not give: nothing of the case's
            // exchange can be compared, which is an error of the run.
            if recorded.verdict.outcome != "error" {
                verdict.error = Some(format!(
                    "step {i}: fixture {setup} could not be set up: {error}"
                ));
                return verdict;
            }
        }
        verdict
            .checks
            .extend(step_checks(&prefix, recorded, &actual, envelope, freedoms));
    }
    verdict
}

/// The checks of one step: one per recorded exchange, one per fixture's
/// notifications.
fn step_checks(
    prefix: &str,
    recorded: &Step,
    actual: &Step,
    envelope: crate::listener::Envelope,
    freedoms: &Freedoms,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for (r, found) in pair_exchanges(recorded, actual, freedoms) {
        let id = format!(
            "compare.{}",
            match r.role {
                Role::Setup => "setup",
                Role::Case => "response",
                Role::FollowUp => "follow-up",
            }
        );
        let label = format!(
            "{prefix}{} {} answers as recorded",
            r.request.method,
            normalise::ids(&r.request.path)
        );
        let check = Check::new(id, Level::Must, label);
        match found {
            Some(a) => checks.push(judge(
                check,
                &normalise::answer(r, freedoms),
                &normalise::answer(a, freedoms),
                freedoms,
                "the recorded answer",
                "the answer now",
            )),
            None => {
                let why = actual
                    .exchanges
                    .iter()
                    .find(|a| a.role == Role::Case)
                    .map_or_else(
                        || "the replay sent no request for the case".to_owned(),
                        |a| format!("the replay sent {} {}", a.request.method, a.request.path),
                    );
                checks.push(check.fail_text(why));
            }
        }
    }
    let recorded_items = normalise::notifications(recorded, envelope, freedoms, None);
    let counts = normalise::counts(recorded, envelope);
    let actual_items = normalise::notifications(actual, envelope, freedoms, Some(&counts));
    let fixtures: std::collections::BTreeSet<&String> = recorded_items
        .keys()
        .chain(actual_items.keys())
        .chain(&recorded.listened)
        .collect();
    for fixture in fixtures {
        if !recorded.listened.contains(fixture) || !actual.listened.contains(fixture) {
            let check = Check::new(
                format!("compare.notifications.{fixture}"),
                Level::Must,
                format!("{prefix}the notifications on {fixture}'s callback are the recorded ones"),
            );
            let whose = if recorded.listened.contains(fixture) {
                "this run"
            } else {
                "the recording"
            };
            checks.push(check.not_run(format!(
                "{whose} could not hear them (a lent fixture's notifications go to its own callback)"
            )));
            continue;
        }
        let r = recorded_items.get(fixture).cloned().unwrap_or_default();
        let a = actual_items.get(fixture).cloned().unwrap_or_default();
        let check = Check::new(
            format!("compare.notifications.{fixture}"),
            Level::Must,
            format!(
                "{prefix}the notifications on {fixture}'s callback are the recorded ones ({} item(s) recorded, {} now; order and batching free)",
                r.len(),
                a.len()
            ),
        );
        checks.push(judge(
            check,
            &Value::Array(r),
            &Value::Array(a),
            freedoms,
            "the recorded notification items",
            "the items now",
        ));
    }
    checks
}

/// The difference of `actual` from `recorded` as a check's verdict: the
/// differences and a diff when there are any, and the extra members apart.
fn judge(
    check: Check,
    recorded: &Value,
    actual: &Value,
    freedoms: &Freedoms,
    recorded_label: &str,
    actual_label: &str,
) -> Check {
    let found = differences::between(recorded, actual, freedoms);
    let check = if found.extra.is_empty() {
        check
    } else {
        let mut extra: Vec<String> = found.extra.iter().map(ToString::to_string).collect();
        extra.dedup();
        check.note(format!(
            "members the recording does not have (not a difference: the types are open): {}",
            crate::render::truncate(&extra.join(", "), 600)
        ))
    };
    if found.differences.is_empty() {
        return check;
    }
    check
        .fail(Detail::Differences(found.differences))
        .fail(Detail::Diff {
            expected_label: format!("expected ({recorded_label}, normalised)"),
            actual_label: format!("actual   ({actual_label}, normalised)"),
            expected: recorded.clone(),
            actual: actual.clone(),
        })
}

/// The recorded exchanges paired with the replay's: the case's own request
/// with the replay's (`None`: it sent none); a set-up or follow-up request
/// with the most alike of the replay's with the same method and path, the
/// closest pairs first, since how many of them go depends on timing (a poll
/// that ends sooner). One the replay has no counterpart of is left out: the
/// suite did not ask this time, which says nothing of the target.
fn pair_exchanges<'s>(
    recorded: &'s Step,
    actual: &'s Step,
    freedoms: &Freedoms,
) -> Vec<(&'s Exchange, Option<&'s Exchange>)> {
    let mut used = vec![false; actual.exchanges.len()];
    let mut pairs: Vec<(usize, Option<usize>)> = Vec::new();
    let mut candidates: Vec<(usize, usize, usize)> = Vec::new();
    for (i, r) in recorded.exchanges.iter().enumerate() {
        if r.role == Role::Case {
            let found = actual
                .exchanges
                .iter()
                .enumerate()
                .find(|(j, a)| !used[*j] && a.role == Role::Case)
                .map(|(j, _)| j);
            if let Some(j) = found {
                used[j] = true;
            }
            pairs.push((i, found));
            continue;
        }
        let answer = normalise::answer(r, freedoms);
        for (j, a) in actual.exchanges.iter().enumerate() {
            if a.role == r.role && key(a) == key(r) {
                let differences =
                    differences::between(&answer, &normalise::answer(a, freedoms), freedoms)
                        .differences
                        .len();
                candidates.push((differences, i, j));
            }
        }
    }
    candidates.sort_unstable();
    let mut paired = vec![false; recorded.exchanges.len()];
    for (_, i, j) in candidates {
        if !paired[i] && !used[j] {
            paired[i] = true;
            used[j] = true;
            pairs.push((i, Some(j)));
        }
    }
    pairs.sort_unstable();
    pairs
        .into_iter()
        .map(|(i, j)| (&recorded.exchanges[i], j.map(|j| &actual.exchanges[j])))
        .collect()
}

/// What pairs a replayed exchange with a recorded one: its role, method
/// and path (ids free).
fn key(e: &Exchange) -> (Role, String, String) {
    (
        e.role,
        e.request.method.clone(),
        normalise::ids(&e.request.path),
    )
}
