//! Recording (`--record DIR`): every trial's exchanges as they happened,
//! into one transcript per trial (see [`crate::transcript`]), with ids, times and
//! the token made stable and safe (see [`placeholders`]); and a recorded
//! step written as a case file (`--record-cases DIR`, see [`as_case`]).
//!
//! A trial's scope collects what passes through its context while a case
//! runs (a [`RawStep`], see [`crate::kept`]); when the case is judged,
//! [`finish`] reads its fixtures' notifications and turns it all into a
//! [`transcript::Step`].

pub mod as_case;
pub mod placeholders;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::contract::Context;
use crate::fixture::Fixture;
use crate::listener::Delivery;
use crate::template::Vars;
use crate::verdict::{Outcome, Verdict};

use crate::kept::{RawExchange, RawStep, Recording};
use crate::transcript::{self, Body, Exchange, Notification, RecordedVerdict, Role, Step};
use placeholders::Placeholders;

/// What a finished case leaves for its step: the case as it was run, its
/// fixtures and variables, and its verdict.
pub struct Ending<'a> {
    /// The case as written (its identity placeholders not yet filled).
    pub case: Value,
    pub fixtures: &'a BTreeMap<String, Fixture>,
    pub vars: &'a Vars,
    /// When the case's request went (`None`: it never did).
    pub sent_at: Option<Instant>,
    pub verdict: &'a Verdict,
}

/// Turns the raw step into a transcript step and keeps it in `recording`.
/// When the step replays a recorded one, first waits (on arrivals, up to
/// the notification deadline after the request) until each fixture has had
/// as many notification items as the recording holds.
pub fn finish(cx: &Context<'_>, recording: &Recording, raw: RawStep, ending: &Ending<'_>) {
    let awaited = recording.awaited();
    if let Some(sent_at) = ending.sent_at.filter(|_| !awaited.is_empty()) {
        let deadline = sent_at + cx.options.notification_timeout;
        for (var, count) in &awaited {
            let Some(mailbox) = ending.fixtures.get(var).and_then(|f| f.mailbox.clone()) else {
                continue;
            };
            let since = since(raw.started, &ending.fixtures[var]);
            cx.block_on(mailbox.wait_since(since, deadline, |d| {
                crate::listener::notification_items(d).len() >= *count
            }));
        }
    }
    let mut deliveries: Vec<(String, Arc<Delivery>)> = ending
        .fixtures
        .iter()
        .filter_map(|(var, f)| f.mailbox.as_ref().map(|m| (var, f, m)))
        .flat_map(|(var, f, m)| {
            m.snapshot_since(since(raw.started, f))
                .into_iter()
                .map(|d| (var.clone(), d))
        })
        .collect();
    deliveries.sort_by_key(|(_, d)| d.at);
    let step = transcribe(cx, recording, &raw, &deliveries, ending);
    recording.push(step);
}

/// What arrived on a fixture before the step, or before the fixture was
/// handed to it (a shared one), belongs to others.
fn since(started: Instant, fixture: &Fixture) -> Instant {
    started.max(fixture.since)
}

/// An offset in milliseconds, to the microsecond.
fn offset(d: Duration) -> f64 {
    let micros = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
    f64::from(micros) / 1000.0
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn transcribe(
    cx: &Context<'_>,
    recording: &Recording,
    raw: &RawStep,
    deliveries: &[(String, Arc<Delivery>)],
    ending: &Ending<'_>,
) -> Step {
    // What the suite sent is input, never an id the target made up.
    let mut inputs = recording.sent();
    for ids in cx.options.tenant.identities.values() {
        inputs.extend(ids.iter().cloned());
    }
    let mut named: Vec<(String, String)> = Vec::new();
    for (var, fixture) in ending.fixtures {
        named.push((fixture.id.clone(), var.clone()));
        for (key, value) in &fixture.extra {
            named.push((value.clone(), format!("{var}.{key}")));
        }
    }
    for (var, value) in ending.vars {
        if !var.starts_with(crate::tenant::PLACEHOLDER_PREFIX) {
            named.push((value.clone(), var.clone()));
        }
    }
    // Fixture ids are sent back as input (a replaced call's id): they are
    // still the target's, named.
    for (value, _) in &named {
        inputs.remove(value);
    }
    let mut p = Placeholders::new(
        named,
        inputs,
        cx.listener().public_base(),
        &cx.options.secrets,
    );
    for e in &raw.exchanges {
        if let Ok(r) = &e.outcome {
            for (k, v) in &r.headers {
                p.collect_header(k, v);
            }
            if let Some(json) = r.json_value() {
                p.collect(json);
            }
        }
    }
    for (_, d) in deliveries {
        if let Ok(body) = d.body() {
            p.collect(body);
        }
    }
    let case_at = raw.exchanges.iter().position(|e| e.case);
    let exchanges = raw
        .exchanges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let role = match case_at {
                Some(c) if i == c => Role::Case,
                Some(c) if i > c => Role::FollowUp,
                _ => Role::Setup,
            };
            exchange(&p, raw.started, e, role, &ending.case)
        })
        .collect();
    let notifications = deliveries
        .iter()
        .map(|(var, d)| Notification {
            fixture: var.clone(),
            at_ms: offset(d.at.saturating_duration_since(raw.started)),
            body: match d.body() {
                Ok(json) => Body::Json(p.value(json)),
                Err(_) => body_of(&p, d.raw()).unwrap_or(Body::Text(String::new())),
            },
        })
        .collect();
    // The variables the case names, not every identity of the profile.
    let written = ending.case.to_string();
    let identities = cx.options.tenant.vars();
    Step {
        case: p.value(&crate::tenant::fill_identities(&ending.case, &identities)),
        vars: ending
            .vars
            .iter()
            .filter(|(k, _)| written.contains(&format!("{{{{{k}}}}}")))
            .map(|(k, v)| (k.clone(), p.text(v)))
            .collect(),
        fixtures: ending
            .fixtures
            .iter()
            .map(|(var, f)| (var.clone(), f.kind.clone()))
            .collect(),
        exchanges,
        listened: ending
            .fixtures
            .iter()
            .filter(|(_, f)| f.mailbox.is_some())
            .map(|(var, _)| var.clone())
            .collect(),
        notifications,
        verdict: verdict(&p, ending.verdict),
    }
}

fn body_of(p: &Placeholders, bytes: &[u8]) -> Option<Body> {
    Some(match Body::of(bytes, None)? {
        Body::Json(v) => Body::Json(p.value(&v)),
        Body::Text(t) => Body::Text(p.text(&t)),
        hex => hex,
    })
}

fn exchange(
    p: &Placeholders,
    started: Instant,
    e: &RawExchange,
    role: Role,
    case: &Value,
) -> Exchange {
    let request = transcript::Request {
        method: e.request.method.clone(),
        path: p.text(&e.request.path),
        template: (role == Role::Case)
            .then(|| case.pointer("/request/path").and_then(Value::as_str))
            .flatten()
            .map(str::to_owned),
        auth: e.request.auth,
        headers: e
            .request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), p.header(k, v)))
            .collect(),
        body: e.request.body.as_deref().and_then(|b| body_of(p, b)),
    };
    let (response, error) = match &e.outcome {
        Ok(r) => (
            Some(transcript::Response {
                status: r.status,
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), p.header(k, v)))
                    .collect(),
                body: match r.json_value() {
                    Some(json) => Some(Body::Json(p.value(json))),
                    None => body_of(p, &r.body),
                },
                elapsed_ms: millis(r.elapsed),
            }),
            None,
        ),
        Err(why) => (None, Some(p.text(why))),
    };
    Exchange {
        role,
        at_ms: offset(e.at.saturating_duration_since(started)),
        request,
        response,
        error,
    }
}

fn verdict(p: &Placeholders, v: &Verdict) -> RecordedVerdict {
    let (outcome, reason) = if let Some(why) = &v.skipped {
        ("skipped", Some(why.clone()))
    } else if let Some(e) = &v.error {
        ("error", Some(e.clone()))
    } else if v.passed(false) {
        ("passed", None)
    } else {
        ("failed", None)
    };
    RecordedVerdict {
        outcome: outcome.to_owned(),
        reason: reason.map(|r| crate::render::truncate(&p.text(&r), 500)),
        checks: v
            .checks
            .iter()
            .map(|c| {
                let outcome = match &c.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Fail => "fail",
                    Outcome::NotRun(_) => "not run",
                    Outcome::Known(_) => "known",
                };
                (c.id.clone(), outcome.to_owned())
            })
            .collect(),
    }
}

/// Writes `recording.json` at the top of `dir`: what the recording is,
/// where it was made, and how its files are laid out.
pub fn write_index(
    dir: &std::path::Path,
    suite: &str,
    target: Option<&str>,
    tenant: &crate::tenant::Tenant,
) -> Result<(), transcript::RecordingError> {
    let index = serde_json::json!({
        "format": transcript::FORMAT,
        "suite": format!("{suite} {}", env!("CARGO_PKG_VERSION")),
        "target": target.unwrap_or("embedded"),
        "tenant": tenant.describe(),
        "layout": "one transcript per trial: the trial case::a::b is case/a/b.json, its notifications (one delivered body a line, as --notifications-file reads them) case/a/b.notifications.jsonl",
        "compare": "cargo test -- --compare <this folder> [--target URL]",
    });
    let text = serde_json::to_string_pretty(&index).unwrap_or_default();
    transcript::write_file(&dir.join(transcript::INDEX), &(text + "\n"))
}

/// Writes what trial `name` recorded: its transcript (`--record`) and, for
/// a case trial, its case file as the target answered it (`--record-cases`).
pub fn write_trial(
    options: &crate::run_options::RunOptions,
    contract: &dyn crate::contract::Contract,
    name: &str,
    recorded: transcript::Provenance,
    steps: Vec<Step>,
) -> Result<(), transcript::RecordingError> {
    if steps.is_empty() {
        return Ok(());
    }
    if let Some(dir) = &options.record_cases {
        // A property's inputs are many: only a case trial is one case.
        if let (Some(step), Some(rest)) = (steps.first(), name.strip_prefix("case::")) {
            if let Some(case) = as_case::case_file(step, contract) {
                let text = serde_json::to_string_pretty(&case).unwrap_or_default();
                transcript::write_file(&transcript::path_of(dir, rest), &(text + "\n"))?;
            }
        }
    }
    if let Some(dir) = &options.record {
        transcript::Transcript {
            format: transcript::FORMAT.to_owned(),
            trial: name.to_owned(),
            recorded,
            steps,
        }
        .write(dir)?;
    }
    Ok(())
}
