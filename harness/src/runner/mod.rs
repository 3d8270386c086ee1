//! Running one case: fixtures, the request, then every check, into a
//! verdict. `checks` holds the checks of the response a case file names,
//! `notifications` those of the notifications it expects.

mod checks;
mod notifications;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use crate::case::{load_case, LoadedCase};
use crate::contract::{Context, Description, Exchange};
use crate::exchange::{HttpRequest, HttpResponse};
use crate::fixture::Fixture;
use crate::template::{fill_str, fill_value, Vars};
use crate::verdict::{Check, Verdict, Where};

pub use notifications::misspelled;

/// How a case is named and rerun.
pub fn place(cx: &Context<'_>, name: &str, file: &Path) -> Where {
    Where {
        test: name.to_owned(),
        file: Some(file.display().to_string()),
        rerun: cx.options.rerun(name, &[]),
        ..Where::default()
    }
}

pub fn run_case(cx: &Context<'_>, name: &str, file: &Path) -> Verdict {
    let mut verdict = Verdict {
        place: place(cx, name, file),
        ..Verdict::default()
    };
    let mut verdict = match load_case(file) {
        Ok(loaded) => run_loaded(cx, &loaded, &|| document(file), verdict),
        Err(e) => {
            verdict.error = Some(format!("the case file is broken: {e}"));
            return verdict;
        }
    };
    let selection = &cx.options.selection;
    if selection.is_partial()
        && verdict.checks.is_empty()
        && verdict.error.is_none()
        && verdict.skipped.is_none()
    {
        // A case with nothing to judge did not pass: nothing was checked.
        verdict.skipped = Some(selection.nothing_selected());
    }
    verdict
}

/// Runs a case held as JSON (a generated one) as its file would run;
/// an error says where the case itself is broken.
pub fn run_generated(cx: &Context<'_>, case: &Value) -> Result<Verdict, crate::error::CaseError> {
    let loaded = crate::case::case_from_value(Path::new("<generated>"), case)?;
    Ok(run_loaded(
        cx,
        &loaded,
        &|| Some(case.clone()),
        Verdict::default(),
    ))
}

/// Runs a case held as JSON (a recorded one) as trial `name`, named and
/// rerun as that trial; an error says where the case itself is broken.
pub fn run_document(
    cx: &Context<'_>,
    name: &str,
    case: &Value,
) -> Result<Verdict, crate::error::CaseError> {
    let loaded = crate::case::case_from_value(Path::new(name), case)?;
    let verdict = Verdict {
        place: Where {
            test: name.to_owned(),
            rerun: cx.options.rerun(name, &[]),
            ..Where::default()
        },
        ..Verdict::default()
    };
    Ok(run_loaded(cx, &loaded, &|| Some(case.clone()), verdict))
}

/// A case file as JSON, for its transcript (read again only when recorded).
fn document(file: &Path) -> Option<Value> {
    let text = crate::case_file::read(file).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs a case already in memory (a file's, or a generated one); when the
/// trial is recorded, its step is kept, the case as `document` gives it.
fn run_loaded(
    cx: &Context<'_>,
    loaded: &LoadedCase,
    document: &dyn Fn() -> Option<Value>,
    mut verdict: Verdict,
) -> Verdict {
    let refused_before = cx.listener().refusals();
    verdict.place.about = Some(loaded.case.description.clone());
    verdict.place.spec = Some(loaded.case.spec.clone());
    cx.fixtures.begin_step();
    let mut fixtures = BTreeMap::new();
    let mut seen = Seen::default();
    match execute(cx, loaded, &mut verdict, &mut fixtures, &mut seen) {
        Ok(()) => {}
        Err(Stop::Setup { kind, error }) => {
            verdict.error = Some(error);
            verdict.setup = Some(kind);
        }
        Err(Stop::Error(e)) => verdict.error = Some(e),
    }
    levels(&loaded.case, &cx.options.profile, &mut verdict.checks);
    // Only the checks the run judges (`--checks`, `--level`), at the
    // levels they have in this case under the run's profile.
    cx.options.selection.retain(&mut verdict.checks);
    // Without the listener, missing notifications say nothing of the target.
    if let Some(why) = fixtures
        .values()
        .find_map(|f| f.mailbox.as_deref().and_then(|m| m.listener_stopped()))
    {
        verdict.error = Some(format!(
            "{why}: the target's notifications could no longer be received, so no verdict"
        ));
    }
    // A listener that refused connections meanwhile may have refused the
    // target's notifications: what failed is no finding about the target.
    if !verdict.passed(cx.options.strict) {
        if let Some(why) = cx.listener().saturation(refused_before) {
            let before = verdict
                .error
                .take()
                .map(|e| format!("\n(what the trial saw: {e})"))
                .unwrap_or_default();
            verdict.error = Some(format!(
                "{why}: a notification the target sent may have been refused, so no verdict{before}"
            ));
        }
    }
    if let (Some(recording), Some(raw)) = (cx.fixtures.recording(), cx.fixtures.end_step()) {
        let ending = crate::recording::Ending {
            case: document().unwrap_or(Value::Null),
            fixtures: &fixtures,
            vars: &seen.vars,
            sent_at: seen.sent_at,
            verdict: &verdict,
        };
        crate::recording::finish(cx, recording, raw, &ending);
    }
    // What the case created goes, whatever happened: a target is not left
    // holding one fixture per case (real services bill and limit them).
    for (fixture, answer) in cx.fixtures.release() {
        verdict.place.extra.push((
            "left".to_owned(),
            format!(
                "{} {} could not be ended: {answer}",
                fixture.kind, fixture.id
            ),
        ));
    }
    verdict
}

/// The levels of a case's checks under the run's profile: the case's own
/// level caps them (a rule from elsewhere than the spec warns), save the
/// checks the profile makes MUST; a level the case gives for this profile
/// stands in for its `level` and is its `status.preferred`'s.
fn levels(case: &crate::case::Case, profile: &crate::profile::Profile, checks: &mut [Check]) {
    let named = case.profiles.get(profile.name).copied();
    let cap = named.or(case.level);
    for check in checks {
        if let (Some(level), "status.preferred") = (named, check.id.as_str()) {
            check.level = level;
        }
        if let Some(cap) = cap {
            if !profile.raises(&check.id) {
                check.level = check.level.max(cap);
            }
        }
    }
}

/// What a recording reads of a case once it ran: its variables (fixtures,
/// identities, captures) and when its request went.
#[derive(Default)]
struct Seen {
    vars: Vars,
    sent_at: Option<Instant>,
}

/// Why a case stopped before its verdict.
enum Stop {
    /// A fixture of `kind` could not be set up: nothing about the exchange
    /// is known.
    Setup { kind: String, error: String },
    /// The exchange or a check could not be carried out.
    Error(String),
}

impl From<String> for Stop {
    fn from(e: String) -> Self {
        Self::Error(e)
    }
}

fn execute(
    cx: &Context<'_>,
    loaded: &LoadedCase,
    verdict: &mut Verdict,
    fixtures: &mut BTreeMap<String, Fixture>,
    seen: &mut Seen,
) -> Result<(), Stop> {
    let case = &loaded.case;
    let contract = cx.fixtures.contract();
    let Some(mut vars) = prepare_fixtures(cx, loaded, verdict, fixtures)? else {
        return Ok(());
    };
    seen.vars.clone_from(&vars);
    let (request, request_json) = build_request(loaded, &vars)?;
    let sent_at = Instant::now();
    seen.sent_at = Some(sent_at);
    let response = send(cx, &request, verdict)?;
    let checks = &mut verdict.checks;
    let status_ok = checks::status(loaded, &response, checks);
    let uncaptured = checks::capture(loaded, &response, status_ok, &mut vars, checks);
    seen.vars.clone_from(&vars);
    checks::headers(case, &response, &vars, &uncaptured, checks);
    checks::schema(cx.schemas, case, &response, status_ok, checks);
    checks::body(loaded, &response, status_ok, &vars, &uncaptured, checks)?;
    let exchange = Exchange {
        cx,
        request: &request,
        request_json: request_json.as_ref(),
        response: &response,
        fixtures,
        vars: &vars,
        sent_at,
        notification_deadline: sent_at + cx.options.notification_timeout,
        memo: crate::contract::Memo::default(),
    };
    for invariant in invariants(contract.description(), &case.expect.invariants)? {
        checks.push(invariant.evaluate(&exchange));
    }
    for (i, expect) in case.expect.notifications.iter().enumerate() {
        let check = notifications::expected(
            &exchange,
            contract.description().default_fixture,
            i,
            expect,
            &uncaptured,
        )?;
        verdict.checks.push(check);
    }
    Ok(())
}

/// The case's fixtures, their ids and extras as variables; `None` when one
/// is unavailable on this target (the case is then skipped, with the reason).
fn prepare_fixtures(
    cx: &Context<'_>,
    loaded: &LoadedCase,
    verdict: &mut Verdict,
    fixtures: &mut BTreeMap<String, Fixture>,
) -> Result<Option<Vars>, Stop> {
    // The tenant profile's identities, then the fixtures: a failure here
    // is an error of the run, not a finding.
    let mut vars = cx.options.tenant.vars();
    let missing = crate::tenant::missing_identities(&request_text(loaded), &vars);
    if !missing.is_empty() {
        verdict.skipped = Some(format!(
            "the tenant profile {} has no identity for {}",
            cx.options.tenant.describe(),
            missing
                .iter()
                .map(|m| format!("{{{{{m}}}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(None);
    }
    for (var, kind) in &loaded.case.fixtures {
        let fixture = match cx.fixtures.fixture(kind) {
            Ok(f) => f,
            Err(e @ crate::error::FixtureError::Unavailable { .. }) => {
                verdict.skipped = Some(format!("fixture {var}: {e}"));
                return Ok(None);
            }
            Err(e) => {
                return Err(Stop::Setup {
                    kind: kind.clone(),
                    error: format!("fixture {var} ({kind}): {e}"),
                })
            }
        };
        vars.insert(var.clone(), fixture.id.clone());
        for (k, v) in &fixture.extra {
            vars.insert(format!("{var}.{k}"), v.clone());
        }
        fixtures.insert(var.clone(), fixture);
    }
    Ok(Some(vars))
}

/// The case's request as text, where its placeholders are.
fn request_text(loaded: &LoadedCase) -> String {
    let r = &loaded.case.request;
    let mut text = r.path.clone();
    if let Some(body) = &r.body {
        text.push_str(&body.to_string());
    }
    if let Some(raw) = &r.raw {
        text.push_str(raw);
    }
    for value in r.headers.values() {
        text.push_str(value);
    }
    text
}

/// Sends the case's request and writes its request line; a throttled answer
/// is no verdict.
fn send(
    cx: &Context<'_>,
    request: &HttpRequest,
    verdict: &mut Verdict,
) -> Result<HttpResponse, Stop> {
    let sent = cx.send(request);
    cx.fixtures.mark_case_request();
    let response = sent.map_err(|e| Stop::Error(e.to_string()))?;
    // The path as it was resolved and sent, and each redirect followed.
    let hops: String = response.hops.iter().map(|h| format!(" -> {h}")).collect();
    verdict.place.request = Some(format!(
        "{} {}{hops} -> {} in {} ms{}",
        request.method,
        response.sent_to,
        response.status_line(),
        response.elapsed.as_millis(),
        retry_note(&response),
    ));
    match throttled(&response, cx.target.limits().retry_budget_secs) {
        Some(throttled) => Err(Stop::Error(throttled)),
        None => Ok(response),
    }
}

/// The invariants a case names, its `@preset`s expanded, each once, in order.
pub fn invariants<'c>(
    description: &'c Description,
    names: &[String],
) -> Result<Vec<&'c crate::contract::Invariant>, String> {
    let mut ids: Vec<&str> = Vec::new();
    for name in names {
        match name.strip_prefix('@') {
            Some(preset) => {
                let (_, members) = description
                    .presets
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
            description
                .invariants
                .iter()
                .find(|i| i.id == id)
                .ok_or_else(|| format!("the case names an unknown invariant {id:?}"))
        })
        .collect()
}

/// Why an expectation cannot be checked: it names a value that was never
/// captured. Its `text` is only rendered when something was not captured.
pub(crate) fn uses_uncaptured(
    text: impl FnOnce() -> String,
    uncaptured: &[String],
) -> Option<String> {
    if uncaptured.is_empty() {
        return None;
    }
    let text = text();
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
    let mut resent = if response.retried_on_new_connection {
        " (sent again on a new connection: the first closed before answering)".to_owned()
    } else {
        String::new()
    };
    if let Some(why) = &response.not_followed {
        let _ = write!(resent, " (redirect not followed: {why})");
    }
    if response.retried_after.is_empty() {
        resent
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
