//! Running one case: fixtures, the request, then every check, into a verdict.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::case::{load_case, LoadedCase, MatchMode, NotificationExpect};
use crate::contract::{Contract, Exchange, Fixture};
use crate::env::Env;
use crate::exchange::{HttpRequest, HttpResponse};
use crate::listener::notification_items;
use crate::matching::{compare, project};
use crate::template::{fill_str, fill_value, Vars};
use crate::verdict::{Check, Detail, Level, Verdict, Where};

/// How a case is named and rerun.
pub fn place(env: &Env, name: &str, file: &Path) -> Where {
    Where {
        test: name.to_owned(),
        file: Some(file.display().to_string()),
        rerun: env.rerun(name, &[]),
        ..Where::default()
    }
}

pub fn run_case(env: &Env, contract: &dyn Contract, name: &str, file: &Path) -> Verdict {
    let mut verdict = Verdict {
        place: place(env, name, file),
        ..Verdict::default()
    };
    match load_case(file) {
        Ok(loaded) => run_loaded(env, contract, &loaded, verdict),
        Err(e) => {
            verdict.error = Some(format!("the case file is broken: {e}"));
            verdict
        }
    }
}

/// Runs a case held as JSON (a generated one) as its file would run;
/// an error says where the case itself is broken.
pub fn run_generated(
    env: &Env,
    contract: &dyn Contract,
    case: &Value,
) -> Result<Verdict, crate::error::CaseError> {
    let loaded = crate::case::case_from_value(Path::new("<generated>"), case)?;
    Ok(run_loaded(env, contract, &loaded, Verdict::default()))
}

/// Runs a case already in memory (a file's, or a generated one).
fn run_loaded(
    env: &Env,
    contract: &dyn Contract,
    loaded: &LoadedCase,
    mut verdict: Verdict,
) -> Verdict {
    verdict.place.about = Some(loaded.case.description.clone());
    verdict.place.spec = Some(loaded.case.spec.clone());
    let mut fixtures = BTreeMap::new();
    match execute(env, contract, loaded, &mut verdict, &mut fixtures) {
        Ok(()) => {}
        Err(Stop::Setup(e)) => {
            verdict.error = Some(e);
            verdict.setup = true;
        }
        Err(Stop::Error(e)) => verdict.error = Some(e),
    }
    if let Some(level) = loaded.case.level {
        for check in &mut verdict.checks {
            check.level = check.level.max(level);
        }
    }
    // Without the listener, missing notifications say nothing of the target.
    if let Some(why) = fixtures
        .values()
        .find_map(|f| f.mailbox.as_deref().and_then(|m| m.listener_stopped()))
    {
        verdict.error = Some(format!(
            "{why}: the target's notifications could no longer be received, so no verdict"
        ));
    }
    // What the case created goes, whatever happened: a target is not left
    // holding one fixture per case (real services bill and limit them).
    for fixture in fixtures.values() {
        if let Err(answer) = contract.release(env, fixture) {
            env.unreleased(fixture, answer.clone());
            verdict.place.extra.push((
                "left".to_owned(),
                format!(
                    "{} {} could not be ended: {answer}",
                    fixture.kind, fixture.id
                ),
            ));
        }
    }
    verdict
}

/// Why a case stopped before its verdict.
enum Stop {
    /// Its fixtures could not be set up: nothing about the exchange is known.
    Setup(String),
    /// The exchange or a check could not be carried out.
    Error(String),
}

impl From<String> for Stop {
    fn from(e: String) -> Self {
        Self::Error(e)
    }
}

fn execute(
    env: &Env,
    contract: &dyn Contract,
    loaded: &LoadedCase,
    verdict: &mut Verdict,
    fixtures: &mut BTreeMap<String, Fixture>,
) -> Result<(), Stop> {
    let case = &loaded.case;
    // Fixtures first: a failure here is an error of the run, not a finding.
    let mut vars = Vars::new();
    for (var, kind) in &case.fixtures {
        let fixture = match contract.fixture(env, kind) {
            Ok(f) => f,
            Err(e @ crate::error::FixtureError::Unavailable { .. }) => {
                verdict.skipped = Some(format!("fixture {var}: {e}"));
                return Ok(());
            }
            Err(e) => return Err(Stop::Setup(format!("fixture {var} ({kind}): {e}"))),
        };
        vars.insert(var.clone(), fixture.id.clone());
        for (k, v) in &fixture.extra {
            vars.insert(format!("{var}.{k}"), v.clone());
        }
        fixtures.insert(var.clone(), fixture);
    }
    let (request, request_json) = build_request(loaded, &vars)?;
    let sent_at = Instant::now();
    let response = env.send(&request).map_err(|e| Stop::Error(e.to_string()))?;
    verdict.place.request = Some(format!(
        "{} {} -> {} in {} ms{}",
        request.method,
        case.request.path,
        response.status_line(),
        response.elapsed.as_millis(),
        retry_note(&response),
    ));
    if let Some(throttled) = throttled(&response, env.http.limits.retry_budget_secs) {
        return Err(Stop::Error(throttled));
    }
    let checks = &mut verdict.checks;

    let any_status = loaded.statuses.is_empty();
    let status_ok = any_status || loaded.statuses.iter().any(|s| s.accepts(response.status));
    let wanted = loaded
        .statuses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    let mut status = Check::new("status", Level::Must, format!("is {wanted}"));
    if any_status {
        // The case pins no status; only its recommendation is checked below.
    } else if !status_ok {
        status = status.fail_text(format!("expected {wanted}, got {}", response.status_line()));
        if let Some(Err(e)) = &response.json {
            status = status.note(format!("the body is {e}"));
        } else if let Some(Ok(body)) = &response.json {
            status = status.note(format!(
                "body: {}",
                crate::render::truncate(&body.to_string(), 200)
            ));
        }
    }
    if !any_status {
        checks.push(status);
    }
    if !loaded.preferred.is_empty() {
        let preferred = loaded
            .preferred
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        let check = Check::new("status.preferred", Level::Should, format!("is {preferred}"));
        checks.push(if !status_ok {
            check.not_run(format!("the status is not {wanted}"))
        } else if loaded.preferred.iter().any(|s| s.accepts(response.status)) {
            check
        } else {
            check.fail_text(format!(
                "expected {preferred}, got {}",
                response.status_line()
            ))
        });
    }

    let mut uncaptured: Vec<String> = Vec::new();
    for (name, path) in &loaded.capture {
        let found = response
            .json_value()
            .and_then(|body| path.select(body).first().copied().cloned());
        let capture = || {
            Check::new(
                format!("capture.{name}"),
                Level::Must,
                format!("capture {name} from {path}"),
            )
        };
        match found {
            Some(value) => {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                vars.insert(name.clone(), text);
                checks.push(capture());
            }
            None if status_ok => {
                uncaptured.push(format!(
                    "{{{{{name}}}}} was not captured ({path} is not in the response body)"
                ));
                checks.push(capture().fail_text(format!("{path} is not in the response body")));
            }
            None => {
                uncaptured.push(format!(
                    "{{{{{name}}}}} was not captured (the status differed)"
                ));
                checks.push(capture().not_run("the status differed"));
            }
        }
    }

    for (name, expect) in &case.expect.headers {
        let check = check_header(name, expect, &response, &vars);
        checks.push(match uses_uncaptured(&format!("{expect:?}"), &uncaptured) {
            Some(reason) => Check {
                outcome: crate::verdict::Outcome::NotRun(reason),
                details: Vec::new(),
                ..check
            },
            None => check,
        });
    }

    if let Some(schema) = &case.expect.schema {
        let label = format!("body satisfies {}", env.schemas.display(schema));
        let check = Check::new("schema", Level::Must, label);
        checks.push(if !status_ok {
            check.not_run("status differed")
        } else {
            match &response.json {
                None => check.fail_text("the body is empty"),
                Some(Err(e)) => check.fail_text(format!("the body is {e}")),
                Some(Ok(body)) => match env.schemas.validate(schema, body) {
                    Ok(v) if v.is_empty() => check,
                    Ok(v) => check.fail(Detail::Schema(v)),
                    Err(e) => check.fail_text(e),
                },
            }
        });
    }

    if let Some(body) = case.expect.body.as_ref().filter(|b| {
        let skip = uses_uncaptured(&b.value.to_string(), &uncaptured);
        if let Some(reason) = &skip {
            verdict.checks.push(
                Check::new("body", Level::Must, "matches expect.body").not_run(reason.clone()),
            );
        }
        skip.is_none()
    }) {
        let checks = &mut verdict.checks;
        let expected = fill_value(&body.value, &vars)?;
        let mode = match body.mode {
            MatchMode::Subset => "subset",
            MatchMode::Exact => "exact",
        };
        let check = Check::new("body", Level::Must, format!("matches expect.body ({mode})"));
        checks.push(match response.json_value() {
            None if !status_ok => check.not_run("status differed"),
            None => check.fail_text("the body is not JSON"),
            Some(actual) => {
                let diffs = compare(&expected, actual, body.mode, &loaded.redact);
                if diffs.is_empty() {
                    check
                } else {
                    let shown = match body.mode {
                        MatchMode::Subset => project(&expected, actual),
                        MatchMode::Exact => actual.clone(),
                    };
                    let mut shown_expected = expected.clone();
                    let mut shown_actual = shown;
                    for r in &loaded.redact {
                        r.replace_all(&mut shown_expected, &Value::String("<redacted>".into()));
                        r.replace_all(&mut shown_actual, &Value::String("<redacted>".into()));
                    }
                    check.fail(Detail::Differences(diffs)).fail(Detail::Diff {
                        expected_label: "expected (expect.body, keys sorted)".into(),
                        actual_label: format!(
                            "actual   (response body{}, keys sorted)",
                            if body.mode == MatchMode::Subset {
                                " projected onto expect.body"
                            } else {
                                ""
                            }
                        ),
                        expected: shown_expected,
                        actual: shown_actual,
                    })
                }
            }
        });
    }

    let deadline_default = sent_at + env.options.notification_timeout;
    let exchange = Exchange {
        env,
        request: &request,
        request_json: request_json.as_ref(),
        response: &response,
        fixtures,
        vars: &vars,
        sent_at,
        notification_deadline: deadline_default,
        memo: crate::contract::Memo::default(),
    };
    for invariant in invariants(contract, &case.expect.invariants)? {
        verdict.checks.push(invariant.evaluate(&exchange));
    }
    for (i, expect) in case.expect.notifications.iter().enumerate() {
        let check = match uses_uncaptured(&expect.pattern.to_string(), &uncaptured) {
            Some(reason) => Check::new(
                format!("notification[{i}]"),
                Level::Must,
                expect.about.clone(),
            )
            .not_run(reason),
            None => match expect
                .unless_response
                .as_ref()
                .and_then(|c| c.met_by(response.json_value()).map(|v| (c, v)))
            {
                Some((condition, value)) => Check::new(
                    format!("notification[{i}]"),
                    Level::Must,
                    expect.about.clone(),
                )
                .note(format!(
                    "none is due: the response already has {} = {value:?}",
                    condition.path
                )),
                None => check_notification(
                    env,
                    contract.default_fixture(),
                    i,
                    expect,
                    fixtures,
                    &vars,
                    sent_at,
                )?,
            },
        };
        verdict.checks.push(check);
    }
    Ok(())
}

/// A member of `pattern` that `schema` does not name but names one like it:
/// a typo that nothing can match.
pub fn misspelled(
    schemas: &crate::schema::Schemas,
    schema: &str,
    pattern: &Value,
) -> Option<String> {
    let known = schemas.members(schema);
    pattern.as_object()?.keys().find_map(|key| {
        if known.iter().any(|k| k == key) {
            return None;
        }
        crate::matching::near_miss(key, known.iter().map(String::as_str)).map(|near| {
            format!(
                "the expectation names {key:?}, which {} does not know: did you mean {near:?}?",
                schemas.display(schema)
            )
        })
    })
}

/// The invariants a case names, its `@preset`s expanded, each once, in order.
pub fn invariants<'c>(
    contract: &'c dyn Contract,
    names: &[String],
) -> Result<Vec<&'c crate::contract::Invariant>, String> {
    let mut ids: Vec<&str> = Vec::new();
    for name in names {
        match name.strip_prefix('@') {
            Some(preset) => {
                let (_, members) = contract
                    .invariant_presets()
                    .iter()
                    .find(|(p, _)| *p == preset)
                    .ok_or_else(|| format!("the case names an unknown preset {name:?}"))?;
                ids.extend(members.iter().copied());
            }
            None => ids.push(name),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(*id))
        .map(|id| {
            contract
                .invariants()
                .iter()
                .find(|i| i.id == id)
                .ok_or_else(|| format!("the case names an unknown invariant {id:?}"))
        })
        .collect()
}

/// Why an expectation cannot be checked: it names a value that was never captured.
fn uses_uncaptured(text: &str, uncaptured: &[String]) -> Option<String> {
    uncaptured
        .iter()
        .find(|reason| {
            reason
                .split_once(" was not captured")
                .is_some_and(|(placeholder, _)| text.contains(placeholder))
        })
        .cloned()
}

/// A throttled answer says nothing about the contract: no verdict can be
/// reached, and the run says how to give the target more time.
fn throttled(response: &HttpResponse, budget_secs: u64) -> Option<String> {
    let retry_after = response.header("retry-after");
    let throttled = response.status == 429 || (response.status == 503 && retry_after.is_some());
    throttled.then(|| {
        format!(
            "the target throttled the request ({}, Retry-After {}) past the retry budget of {budget_secs} s: no verdict; raise --retry-budget-secs or lower --test-threads",
            response.status_line(),
            retry_after.map_or_else(|| "absent".to_owned(), |v| format!("{v:?}"))
        )
    })
}

fn retry_note(response: &HttpResponse) -> String {
    let resent = if response.retried_on_new_connection {
        " (sent again on a new connection: the first closed before answering)"
    } else {
        ""
    };
    if response.retried_after.is_empty() {
        resent.to_owned()
    } else {
        let secs: u64 = response.retried_after.iter().sum();
        format!(
            " (after {} Retry-After wait{}, {secs} s){resent}",
            response.retried_after.len(),
            if response.retried_after.len() == 1 {
                ""
            } else {
                "s"
            }
        )
    }
}

/// The request to send, and its body as JSON when it is JSON (the
/// invariants read it).
fn build_request(loaded: &LoadedCase, vars: &Vars) -> Result<(HttpRequest, Option<Value>), String> {
    let r = &loaded.case.request;
    let path = fill_str(&r.path, vars)?;
    let mut json = None;
    let body = match (&r.body, &loaded.raw_bytes) {
        (Some(v), _) => {
            let filled = fill_value(v, vars)?;
            let bytes = serde_json::to_vec(&filled).map_err(|e| format!("request body: {e}"))?;
            json = Some(filled);
            Some(bytes)
        }
        (None, Some(raw)) => {
            let bytes = match std::str::from_utf8(raw) {
                Ok(text) => fill_str(text, vars)?.into_bytes(),
                Err(_) => raw.clone(),
            };
            json = serde_json::from_slice(&bytes).ok();
            Some(bytes)
        }
        (None, None) => None,
    };
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), fill_str(v, vars)?)))
        .collect::<Result<_, String>>()?;
    let has = |name: &str, headers: &[(String, String)]| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if body.is_some() && !has("content-type", &headers) {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if !has("client-request-id", &headers) {
        headers.push(("client-request-id".into(), uuid::Uuid::new_v4().to_string()));
    }
    let request = HttpRequest {
        method: r.method.clone(),
        path,
        headers,
        body,
        auth: r.auth,
    };
    Ok((request, json))
}

fn check_header(
    name: &str,
    expect: &crate::case::HeaderExpect,
    response: &HttpResponse,
    vars: &Vars,
) -> Check {
    let actual = response.header(name);
    let mut wants = Vec::new();
    if let Some(p) = expect.present {
        wants.push(if p {
            "present".to_owned()
        } else {
            "absent".to_owned()
        });
    }
    for (w, verb) in [
        (&expect.equals, "equals"),
        (&expect.starts_with, "starts with"),
        (&expect.ends_with, "ends with"),
        (&expect.contains, "contains"),
    ] {
        if let Some(w) = w {
            wants.push(format!("{verb} {w:?}"));
        }
    }
    let mut check = Check::new(
        format!("header.{}", name.to_ascii_lowercase()),
        Level::Must,
        format!("{name} {}", wants.join(", ")),
    );
    let mut problems = Vec::new();
    if let Some(present) = expect.present {
        if present != actual.is_some() {
            problems.push(if present {
                "expected the header, it is absent".to_owned()
            } else {
                format!("expected no such header, got {actual:?}")
            });
        }
    }
    type Test<'a> = (&'a Option<String>, &'a str, fn(&str, &str) -> bool);
    let tests: [Test<'_>; 4] = [
        (&expect.equals, "equal", |a, e| a == e),
        (&expect.starts_with, "start with", |a, e| a.starts_with(e)),
        (&expect.ends_with, "end with", |a, e| a.ends_with(e)),
        (&expect.contains, "contain", |a, e| a.contains(e)),
    ];
    for (wanted, verb, test) in tests {
        let Some(wanted) = wanted else { continue };
        let wanted = match fill_str(wanted, vars) {
            Ok(w) => w,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match actual {
            Some(a) if test(a, &wanted) => {}
            Some(a) => problems.push(format!("expected it to {verb} {wanted:?}, got {a:?}")),
            None => problems.push(format!("expected it to {verb} {wanted:?}, it is absent")),
        }
    }
    for p in problems {
        check = check.fail_text(p);
    }
    check
}

fn check_notification(
    env: &Env,
    default_fixture: &str,
    index: usize,
    expect: &NotificationExpect,
    fixtures: &BTreeMap<String, Fixture>,
    vars: &Vars,
    sent_at: Instant,
) -> Result<Check, String> {
    let id = format!("notification[{index}]");
    let check = Check::new(id, Level::Must, expect.about.clone());
    let pattern = fill_value(&expect.pattern, vars)?;
    let fixture = expect.fixture.as_deref().unwrap_or(default_fixture);
    let Some(mailbox) = fixtures.get(fixture).and_then(|f| f.mailbox.clone()) else {
        return Ok(check.not_run(format!(
            "fixture {fixture} has no callback the suite can read"
        )));
    };
    if let Some(typo) = expect
        .schema
        .as_deref()
        .and_then(|schema| misspelled(&env.schemas, schema, &pattern))
    {
        // Nothing would ever match: say so now rather than at the deadline.
        return Ok(check.fail_text(format!(
            "{typo} (no notification was awaited: none could match)"
        )));
    }
    let wanted = expect.count.unwrap_or(1).max(1);
    let within = expect
        .within_ms
        .map_or(env.options.notification_timeout, Duration::from_millis);
    let deadline = sent_at + within;
    env.block_on(mailbox.wait_until(deadline, |d| {
        notification_items(d)
            .into_iter()
            .filter(|item| compare(&pattern, item, MatchMode::Subset, &[]).is_empty())
            .count()
            >= wanted
    }));
    let deliveries = mailbox.snapshot();
    let all = notification_items(&deliveries);
    let found: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|item| compare(&pattern, item, MatchMode::Subset, &[]).is_empty())
        .collect();
    let mut check = check;
    let received = format!(
        "({} delivery(ies), {} item(s) received on this callback)",
        deliveries.len(),
        all.len()
    );
    let short = match expect.count {
        Some(exact) if found.len() != exact => {
            check = check.fail_text(format!(
                "expected exactly {exact} matching notification{}, got {} within {} ms {received}",
                if exact == 1 { "" } else { "s" },
                found.len(),
                within.as_millis()
            ));
            if let Some((first, rest)) = found.split_first().filter(|_| found.len() > exact) {
                // Too many: how each match differs from the first says
                // whether the target repeated itself or sent two different ones.
                check = check.note(format!(
                    "the matching notifications, in the order received:\n  [0] {}",
                    crate::render::one_line(first)
                ));
                for (n, item) in rest.iter().enumerate() {
                    let diffs = compare(first, item, MatchMode::Exact, &[]);
                    check = if diffs.is_empty() {
                        check.note(format!("  [{}] is identical to [0]", n + 1))
                    } else {
                        check
                            .note(format!("  [{}] differs from [0] at:", n + 1))
                            .fail(Detail::Differences(diffs))
                    };
                }
            }
            found.len() < exact
        }
        Some(_) => false,
        None if found.is_empty() => {
            check = check.fail_text(format!(
                "no matching notification within {} ms {received}",
                within.as_millis()
            ));
            true
        }
        None => false,
    };
    if short {
        let not_json: Vec<&String> = deliveries
            .iter()
            .filter_map(|d| d.body().as_ref().err())
            .collect();
        if let Some(first) = not_json.first() {
            check = check.note(format!(
                "{} delivery(ies) were not JSON; the first: {first}",
                not_json.len()
            ));
        }
        // Show the nearest miss among what did not match: what the target
        // sent that came closest to the expectation.
        let missed = all
            .iter()
            .filter(|item| !found.iter().any(|f| std::ptr::eq(*f, **item)));
        if let Some((closest, diffs)) = missed
            .map(|item| (item, compare(&pattern, item, MatchMode::Subset, &[])))
            .min_by_key(|(_, diffs)| diffs.len())
        {
            check = check
                .note("the closest notification that did not match differs at:")
                .fail(Detail::Differences(diffs))
                .fail(Detail::Diff {
                    expected_label: format!("expected (expect.notifications[{index}].match)"),
                    actual_label: "actual   (closest notification, projected)".into(),
                    actual: project(&pattern, closest),
                    expected: pattern.clone(),
                });
        }
    }
    if let (Some(schema), false) = (&expect.schema, found.is_empty()) {
        let mut violations = Vec::new();
        for item in &found {
            match env.schemas.validate(schema, item) {
                Ok(v) => violations.extend(v),
                Err(e) => return Err(e),
            }
        }
        if !violations.is_empty() {
            check = check
                .fail_text(format!(
                    "the notification does not satisfy {}",
                    env.schemas.display(schema)
                ))
                .fail(Detail::Schema(violations));
        }
    }
    Ok(check)
}
