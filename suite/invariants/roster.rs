//! Invariants of who ends up where: roster updates, moves, replaced calls.

use conformance_harness::HttpRequest;
use conformance_harness::{Check, Exchange};
use serde_json::Value;

use super::*;

/// The accepted invite's call and its settled notifications, or why a check
/// over its rosters cannot run.
fn settled_call<'a>(ex: &'a Exchange<'_>) -> Result<(&'a str, Arc<Settled>), String> {
    if let Some(reason) = not_accepted(ex) {
        return Err(reason);
    }
    let call = call_id(ex).ok_or("no call")?;
    let settled = settled_items(ex).ok_or("the call's notifications cannot reach the suite")?;
    Ok((call, settled))
}

pub(super) fn roster_update(ex: &Exchange<'_>, check: Check) -> Check {
    let (call, settled) = match settled_call(ex) {
        Ok(found) => found,
        Err(reason) => return check.not_run(reason),
    };
    let all = settled.items();
    let rosters = roster_items(&all[..], call);
    let missing: Vec<String> = first_invitees(ex)
        .into_iter()
        .filter(|id| !rosters.iter().any(|r| roster_has(r, id)))
        .map(who)
        .collect();
    if missing.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "{} roster update(s) for call {} within {} ms; none lists: {}",
            rosters.len(),
            short(call),
            ex.cx.options.notification_timeout.as_millis(),
            missing.join("; ")
        ))
    }
}

pub(super) fn move_first_only(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if !is_move(participants) || participants.len() < 2 {
        return check.not_run("the request is not a move of several participants");
    }
    let (call, settled) = match settled_call(ex) {
        Ok(found) => found,
        Err(reason) => return check.not_run(reason),
    };
    let all = settled.items();
    let rosters = roster_items(&all[..], call);
    let moved_too: Vec<String> = participants[1..]
        .iter()
        .filter_map(|p| p.get("identity"))
        .filter(|id| rosters.iter().any(|r| roster_has(r, id)))
        .map(who)
        .collect();
    if moved_too.is_empty() {
        check
    } else {
        check.fail_text(format!(
            "besides the first participant, the roster of call {} also gained: {}",
            short(call),
            moved_too.join("; ")
        ))
    }
}

pub(super) fn move_leaves_source(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if !is_move(participants) {
        return check.not_run("the request is not a move");
    }
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let source = participants[0]
        .get("replacesCallId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(fixture) = ex.fixtures.values().find(|f| f.id == source) else {
        return check.not_run("the call moved from is not a fixture of this case");
    };
    let Some(mailbox) = fixture.mailbox.as_deref() else {
        return check.not_run("the source call's notifications cannot reach the suite");
    };
    let Some(identity) = participants[0].get("identity") else {
        return check.fail_text("the moved participant has no identity");
    };
    let left = |all: &[&Value]| {
        roster_items(all, source)
            .iter()
            .any(|r| r.get("resourceData").is_some_and(Value::is_array) && !roster_has(r, identity))
    };
    let all = wait_since(ex.cx, mailbox, ex.sent_at, ex.notification_deadline, left);
    if left(&refs(&all)) {
        check
    } else {
        check.fail_text(format!(
            "no roster update of call {source} without {} within {} ms",
            who(identity),
            ex.cx.options.notification_timeout.as_millis()
        ))
    }
}

pub(super) fn replaced_call_ended(ex: &Exchange<'_>, check: Check) -> Check {
    let participants = requested(ex);
    if is_move(participants) {
        return check.not_run("the request is a move");
    }
    let Some(replaced) = participants
        .first()
        .and_then(|p| p.get("replacesCallId"))
        .and_then(Value::as_str)
    else {
        return check.not_run("the request replaces no call");
    };
    let Some(fixture) = ex
        .fixtures
        .values()
        .find(|f| f.id == replaced && f.kind.ends_with("p2p"))
    else {
        return check.not_run("the replaced call is not a peer-to-peer fixture of this case");
    };
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(mailbox) = fixture.mailbox.as_deref() else {
        return check.not_run("the replaced call's notifications cannot reach the suite");
    };
    let deleted = |all: &[&Value]| {
        call_items(all, replaced)
            .iter()
            .any(|i| change_type(i) == "deleted")
    };
    let all = wait(ex.cx, mailbox, ex.notification_deadline, deleted);
    if !deleted(&refs(&all)) {
        return check.fail_text(format!(
            "no `deleted` notification for the replaced call {replaced} within {} ms",
            ex.cx.options.notification_timeout.as_millis()
        ));
    }
    let get = HttpRequest::get(format!("/communications/calls/{replaced}"));
    match ex.cx.send(&get) {
        Ok(r) if r.status == 404 => check,
        Ok(r) => check.fail_text(format!(
            "the replaced call was announced deleted, but GET on it answers {}",
            r.status_line()
        )),
        Err(e) => check.fail_text(format!("GET on the replaced call: {e}")),
    }
}
