//! What a target sends for a case, captured by driving it with the suite's
//! own parts: the case's fixtures made as the suite makes them (the invite
//! contract's, through the harness's scope, which ends them), its request
//! filled and sent, the operation read back once it ended, and every
//! notification the fixtures' callbacks received.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance_harness::{
    fill_placeholders, notification_items, Context, Delivery, Fixture, Generation, HttpRequest,
    Options, Vars,
};
use invite_conformance::{CallOptions, InviteContract};
use serde_json::Value;

/// How long a wait for a notification may take.
const PATIENCE: Duration = Duration::from_secs(5);

/// Everything a target sent for one case.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The invite's response body.
    pub response: Value,
    /// The operation as `GET` returned it once it ended.
    pub operation: Value,
    /// Every terminal notification item (about an operation, `deleted`).
    pub terminal: Vec<Value>,
    /// Every roster notification item (about `.../participants`, `updated`).
    pub roster: Vec<Value>,
    /// Every `commsNotifications` body.
    pub envelopes: Vec<Value>,
}

fn url_of(item: &Value) -> &str {
    item.get("resourceUrl")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn change_of(item: &Value) -> String {
    item.get("changeType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Runs the case (a case file's JSON: its fixtures, and an invite request)
/// against `base` and captures what it sends.
pub fn capture(base: &str, case: &Value) -> Result<Captured, String> {
    let options = Options {
        target: Some(base.to_owned()),
        token: Some("capture".to_owned()),
        generation: Generation {
            forget_failures: true,
            ..Generation::default()
        },
        ..Options::default()
    };
    let settings = invite_conformance::settings_in(&crate::workspace_root());
    let contract = InviteContract::new(CallOptions::default());
    let held =
        conformance_harness::hold(&settings, contract, options).map_err(|e| e.to_string())?;
    held.with(|cx| capture_in(cx, case))
        .map_err(|e| e.to_string())?
}

/// Waits until `done` holds of the items `fixture`'s callback received.
fn wait(cx: &Context<'_>, fixture: &Fixture, done: impl Fn(&[&Value]) -> bool) -> bool {
    let Some(mailbox) = &fixture.mailbox else {
        return false;
    };
    let deadline = Instant::now() + PATIENCE;
    cx.block_on(mailbox.wait_until(deadline, |d| done(&notification_items(d))))
}

fn deliveries(fixture: &Fixture) -> Vec<Arc<Delivery>> {
    fixture
        .mailbox
        .as_ref()
        .map(|m| m.snapshot())
        .unwrap_or_default()
}

/// The JSON body of a `200` answer to `request`, or what `what` answered instead.
fn json_of(cx: &Context<'_>, request: &HttpRequest, what: &str) -> Result<Value, String> {
    let answer = cx.send(request).map_err(|e| e.to_string())?;
    answer
        .json_value()
        .filter(|_| answer.status == 200)
        .cloned()
        .ok_or_else(|| format!("{what} answered {}", answer.status_line()))
}

fn capture_in(cx: &Context<'_>, case: &Value) -> Result<Captured, String> {
    // The identities the case invites, as the run's tenant profile gives them.
    let mut vars: Vars = cx.options.tenant.vars();
    let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
    let wanted = case
        .get("fixtures")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (var, kind) in &wanted {
        let kind = kind.as_str().unwrap_or("");
        let fixture = cx.fixtures.fixture(kind).map_err(|e| e.to_string())?;
        vars.insert(var.clone(), fixture.id.clone());
        for (key, value) in &fixture.extra {
            vars.insert(format!("{var}.{key}"), value.clone());
        }
        fixtures.insert(var.clone(), fixture);
    }
    let request = case.get("request").ok_or("the case has no request")?;
    let path = fill_placeholders(request.get("path").unwrap_or(&Value::Null), &vars)?;
    let path = path.as_str().ok_or("the request has no path")?.to_owned();
    let body = match request.get("body") {
        Some(body) => fill_placeholders(body, &vars)?,
        None => Value::Null,
    };
    // What the other calls have had so far: the invite adds to each (a
    // replaced call's end, the roster of a call moved from).
    let before: BTreeMap<&String, usize> = fixtures
        .iter()
        .filter(|(var, f)| *var != "call" && f.mailbox.is_some())
        .map(|(var, f)| (var, notification_items(&deliveries(f)).len()))
        .collect();
    let response = json_of(cx, &HttpRequest::post_json(path, &body), "the invite")?;
    let op = response
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let call = fixtures.get("call").ok_or("the case has no call")?;
    let ended = wait(cx, call, |all| {
        all.iter()
            .any(|i| url_of(i).ends_with(&format!("/operations/{op}")) && change_of(i) == "deleted")
            && all.iter().any(|i| url_of(i).ends_with("/participants"))
    });
    if !ended {
        return Err("the invite's notifications did not come".into());
    }
    let operation = json_of(
        cx,
        &HttpRequest::get(format!("/communications/calls/{}/operations/{op}", call.id)),
        "reading the operation back",
    )?;
    // What follows the invite on the other calls comes with it or just
    // after, from their own notifiers: one item more on each.
    for (var, count) in before {
        if !wait(cx, &fixtures[var], |all| all.len() > count) {
            return Err(format!(
                "the invite's notifications to the {var} call did not come"
            ));
        }
    }
    let mut captured = Captured {
        response,
        operation,
        ..Captured::default()
    };
    for fixture in fixtures.values() {
        let delivered = deliveries(fixture);
        for item in notification_items(&delivered) {
            let url = url_of(item);
            if url.contains("/operations/") && change_of(item) == "deleted" {
                captured.terminal.push(item.clone());
            } else if url.ends_with("/participants") && change_of(item) == "updated" {
                captured.roster.push(item.clone());
            }
        }
        captured.envelopes.extend(
            delivered
                .iter()
                .filter_map(|d| d.body().as_ref().ok().cloned()),
        );
    }
    Ok(captured)
}
