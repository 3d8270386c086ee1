//! Invariants of the invite response itself: its Location, type, status,
//! echoes, the clientContext limit, participant counts, and GET of the operation.

use conformance_harness::render::describe;
use conformance_harness::HttpRequest;
use conformance_harness::{Check, Detail, Exchange};
use serde_json::Value;

use super::*;

pub(super) fn location(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(location) = ex.response.header("location") else {
        return check.fail_text("the response has no Location header");
    };
    let (Some(call), Some(op)) = (call_id(ex), op_id(ex)) else {
        return check.fail_text(format!(
            "Location {}, but the body has no string `id` to compare it with",
            quote(location)
        ));
    };
    let tail = format!("/communications/calls/{call}/operations/{op}");
    if location.trim_end_matches('/').ends_with(&tail) {
        check
    } else {
        check.fail_text(format!(
            "Location {} does not end in {} (call {}, body id {})",
            quote(location),
            quote(&tail),
            short(call),
            short(op)
        ))
    }
}

pub(super) fn request_ids(ex: &Exchange<'_>, check: Check) -> Check {
    let sent = ex.request.header("client-request-id");
    let mut check = check;
    if ex.response.header("request-id").is_none_or(str::is_empty) {
        check = check.fail_text("the answer has no request-id header");
    }
    if let Some(sent) = sent {
        match ex.response.header("client-request-id") {
            Some(echoed) if echoed == sent => {}
            other => {
                check = check.fail_text(format!(
                    "client-request-id is {}, sent {}",
                    other.map_or_else(|| "absent".to_owned(), quote),
                    quote(sent)
                ));
            }
        }
    }
    check
}

pub(super) fn content_type(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    match ex.response.header("content-type") {
        Some(ct) if ct.to_ascii_lowercase().starts_with("application/json") => check,
        other => check.fail_text(format!(
            "Content-Type is {}",
            other.map_or_else(|| "absent".to_owned(), quote)
        )),
    }
}

pub(super) fn status_value(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    match body(ex).and_then(|b| b.get("status")) {
        Some(Value::String(s)) => {
            let known = ["notstarted", "running", "completed", "failed"];
            if known.contains(&s.to_ascii_lowercase().as_str()) {
                check.note(format!("spelling seen: {}", quote(s)))
            } else {
                check.fail_text(format!("status {} is not an operationStatus", quote(s)))
            }
        }
        other => check.fail_text(format!("status is {}", describe(other))),
    }
}

pub(super) fn client_context_echo(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let actual = body(ex).and_then(|b| b.get("clientContext"));
    match requested_context(ex) {
        Some(sent) if actual.and_then(Value::as_str) == Some(sent) => check,
        Some(sent) => check.fail_text(format!(
            "sent clientContext {}, the operation has {}",
            quote(sent),
            describe(actual)
        )),
        None => check.not_run("the request has no clientContext"),
    }
}

pub(super) fn participants_echo(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(listed) = body(ex)
        .and_then(|b| b.get("participants"))
        .and_then(Value::as_array)
    else {
        return check.fail_text(format!(
            "participants is {}",
            describe(body(ex).and_then(|b| b.get("participants")))
        ));
    };
    let missing: Vec<String> = first_invitees(ex)
        .into_iter()
        .filter(|id| {
            !listed
                .iter()
                .any(|p| p.get("identity").is_some_and(|a| same_identity(id, a)))
        })
        .map(who)
        .collect();
    if missing.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "the operation's participants ({} listed) lack: {}",
            listed.len(),
            missing.join("; ")
        ))
    }
}

pub(super) fn client_context_limit(ex: &Exchange<'_>, check: Check) -> Check {
    let Some(sent) = requested_context(ex) else {
        return check.not_run("the request has no clientContext");
    };
    let (units, chars) = (utf16_len(sent), sent.chars().count());
    let status = ex.response.status;
    if chars > 256 {
        return if status == 400 {
            check.note(format!("{chars} characters rejected"))
        } else {
            check.fail_text(format!(
                "clientContext of {chars} characters answered {}, expected 400",
                ex.response.status_line()
            ))
        };
    }
    if units > 256 {
        // "256 chars" read as UTF-16 code units (how Graph's .NET services
        // count) rejects this; read as characters, it is within the limit.
        let check = check.at_most(Level::Should).note(format!(
            "{chars} characters, {units} UTF-16 code units: over the limit as Graph counts (UTF-16), within it as characters"
        ));
        return if status == 400 {
            check
        } else {
            check.fail_text(format!(
                "answered {}, where Graph answers 400",
                ex.response.status_line()
            ))
        };
    }
    if (200..300).contains(&status) {
        check
    } else {
        check.fail_text(format!(
            "clientContext of {chars} characters ({units} UTF-16 code units) is within the limit but answered {}",
            ex.response.status_line()
        ))
    }
}

pub(super) fn call_kind<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.fixtures.get("call").map(|f| f.kind.as_str())
}

pub(super) fn p2p_single(ex: &Exchange<'_>, check: Check) -> Check {
    let n = requested(ex).len();
    if call_kind(ex) != Some("p2p") || n < 2 {
        return check.not_run("the request is not several participants on a peer-to-peer call");
    }
    if (400..500).contains(&ex.response.status) {
        check
    } else {
        check.fail_text(format!(
            "{n} participants on a peer-to-peer call answered {}, expected a 4xx",
            ex.response.status_line()
        ))
    }
}

pub(super) fn group_max_five(ex: &Exchange<'_>, check: Check) -> Check {
    let n = requested(ex).len();
    if n <= 5 {
        return check.not_run("5 participants or fewer");
    }
    if (400..500).contains(&ex.response.status) {
        check
    } else {
        check.fail_text(format!(
            "{n} participants answered {}, expected a 4xx",
            ex.response.status_line()
        ))
    }
}

pub(super) fn operation_get(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(location) = ex.response.header("location") else {
        return check.not_run("no Location header");
    };
    let Some(start) = location.find("/communications/") else {
        return check.fail_text(format!(
            "Location {} has no /communications/ path",
            quote(location)
        ));
    };
    // Read once the operation has settled, so that what the GET says can be
    // held against how the operation was announced to end.
    let announced = announced_end(ex);
    let get = HttpRequest::get(&location[start..]);
    let response = match ex.cx.send(&get) {
        Ok(r) => r,
        Err(e) => return check.fail_text(format!("GET {}: {e}", short(location))),
    };
    if response.status != 200 {
        return check.fail_text(format!(
            "GET {} answered {}",
            short(location),
            response.status_line()
        ));
    }
    let got = response.json_value();
    let mut problems = Vec::new();
    let id = got.and_then(|g| g.get("id"));
    if id != body(ex).and_then(|b| b.get("id")) {
        problems.push(format!(
            "id is {}, the invite returned {}",
            describe(id),
            describe(body(ex).and_then(|b| b.get("id")))
        ));
    }
    if let Some(sent) = requested_context(ex) {
        let cc = got.and_then(|g| g.get("clientContext"));
        if cc.and_then(Value::as_str) != Some(sent) {
            problems.push(format!(
                "clientContext is {}, sent {}",
                describe(cc),
                quote(sent)
            ));
        }
    }
    let check = problems.into_iter().fold(check, Check::fail_text);
    let Some(got) = got else {
        return check.fail_text(format!(
            "GET {} answered 200 without a JSON body ({})",
            short(location),
            match &response.json {
                Some(Err(e)) => e.clone(),
                _ => "empty".to_owned(),
            }
        ));
    };
    let check = match ex
        .cx
        .schemas
        .validate("inviteParticipantsOperation.json", got)
    {
        Ok(v) if v.is_empty() => check.undeclared(
            ex.cx
                .schemas
                .undeclared("inviteParticipantsOperation.json", got),
        ),
        Ok(v) => check
            .fail_text("the operation does not satisfy schemas/inviteParticipantsOperation.json")
            .fail(Detail::Schema(v)),
        Err(e) => return check.fail_text(e),
    };
    // The same operation as a whole: its participants as they were sent,
    // its types, and the end it was announced to have.
    let at = super::consistency::At::Root;
    let mut problems =
        super::consistency::echo_problems(ex, got, &at, super::consistency::Echo::Shortened);
    let mut types = super::consistency::Types::default();
    super::consistency::operation_types(got, &at, &mut types);
    problems.extend(types.wrong);
    if let Some((ended, by)) = announced {
        if !status_of(got).is_some_and(|s| s.eq_ignore_ascii_case(&ended)) {
            problems.push(format!(
                "status is {}, after {by} said {}",
                describe(got.get("status")),
                quote(&ended)
            ));
        }
    }
    problems
        .into_iter()
        .fold(check, |check, p| check.fail_text(format!("GET: {p}")))
}

/// The terminal status the operation was announced to reach, and by what:
/// the response, or its terminal notification. Either way the invite is
/// left to settle first (its notifications awaited), so that a GET after it
/// reads the operation as it ended.
fn announced_end(ex: &Exchange<'_>) -> Option<(String, &'static str)> {
    let settled = settled_items(ex);
    if let Some(status) = body(ex).and_then(status_of).filter(|s| is_terminal(s)) {
        return Some((status.to_owned(), "the invite response"));
    }
    let (call, op) = (call_id(ex)?, op_id(ex)?);
    let settled = settled?;
    let all = settled.items();
    operation_deleted_items(&all[..], call, op)
        .into_iter()
        .find_map(|i| i.get("resourceData").and_then(status_of))
        .filter(|s| is_terminal(s))
        .map(|s| (s.to_owned(), "the terminal notification"))
}
