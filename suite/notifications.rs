//! Reading the notifications a fixture's callback received: which items are
//! about an operation, a roster or a call, and waiting for them.

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Instant;

use conformance_harness::notification_items;
use conformance_harness::Context;
use conformance_harness::{Delivery, Mailbox};
use serde_json::Value;

pub fn resource_url(item: &Value) -> &str {
    item.get("resourceUrl")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn change_type(item: &Value) -> String {
    item.get("changeType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `resourceUrl` may be a path or absolute; compare its tail.
pub fn names(item: &Value, tail: &str) -> bool {
    let url = resource_url(item);
    url == tail || url.ends_with(tail)
}

/// `…/communications/calls/{call}/operations/{op}` -> (call, op).
pub fn operation_of(url: &str) -> Option<(&str, &str)> {
    let marker = "/communications/calls/";
    let rest = &url[url.find(marker)? + marker.len()..];
    let (call, rest) = rest.split_once('/')?;
    let op = rest.strip_prefix("operations/")?;
    (!op.is_empty() && !op.contains('/')).then_some((call, op))
}

/// Whether two ids name the same thing: equal, or the same GUID written
/// with or without hyphens and in either case, as Graph's docs write one
/// operation's id in its `resourceUrl` (`0FE0623FD62842EDB4BD8AC290072CC5`)
/// and in its body (`0fe0623f-d628-42ed-b4bd-8ac290072cc5`).
pub fn same_id(a: &str, b: &str) -> bool {
    fn hex(id: &str) -> Option<String> {
        let digits: String = id.chars().filter(|c| *c != '-').collect();
        (digits.len() == 32 && digits.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| digits.to_ascii_lowercase())
    }
    a == b || hex(a).is_some_and(|x| hex(b).is_some_and(|y| x == y))
}

pub fn operation_items<'a, V: Borrow<Value>>(all: &'a [V], call: &str, op: &str) -> Vec<&'a Value> {
    all.iter()
        .map(Borrow::borrow)
        .filter(|i| {
            operation_of(resource_url(i)).is_some_and(|(c, o)| same_id(c, call) && same_id(o, op))
        })
        .collect()
}

/// The items about operation `op` of call `call` that announce it deleted
/// (`changeType` `deleted`): its terminal notification, as Graph sends it.
pub fn operation_deleted_items<'a, V: Borrow<Value>>(
    all: &'a [V],
    call: &str,
    op: &str,
) -> Vec<&'a Value> {
    operation_items(all, call, op)
        .into_iter()
        .filter(|i| change_type(i) == "deleted")
        .collect()
}

pub fn roster_items<'a, V: Borrow<Value>>(all: &'a [V], call: &str) -> Vec<&'a Value> {
    let tail = format!("/communications/calls/{call}/participants");
    all.iter()
        .map(Borrow::borrow)
        .filter(|i| names(i, &tail) && change_type(i) == "updated")
        .collect()
}

pub fn call_items<'a, V: Borrow<Value>>(all: &'a [V], call: &str) -> Vec<&'a Value> {
    let tail = format!("/communications/calls/{call}");
    all.iter()
        .map(Borrow::borrow)
        .filter(|i| names(i, &tail))
        .collect()
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status.to_ascii_lowercase().as_str(), "completed" | "failed")
}

pub fn status_of(operation: &Value) -> Option<&str> {
    operation.get("status").and_then(Value::as_str)
}

/// Whether a notification item announces its operation's end.
pub fn announces_end(item: &Value) -> bool {
    item.get("resourceData")
        .and_then(status_of)
        .is_some_and(is_terminal)
}

/// Whether an operation state failed without `resultInfo.code` and `subcode`.
pub fn failed_without_result_info(operation: &Value) -> bool {
    let failed = status_of(operation).is_some_and(|s| s.eq_ignore_ascii_case("failed"));
    // A code written as a string of digits is a documented form (resultInfo.json).
    let number = |v: &Value| v.is_i64() || v.as_str().is_some_and(|s| s.parse::<i64>().is_ok());
    let info = operation.get("resultInfo");
    let complete = info.and_then(|i| i.get("code")).is_some_and(number)
        && info.and_then(|i| i.get("subcode")).is_some_and(number);
    failed && !complete
}

/// How an operation's end may be announced, from what the suite saw of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndDue {
    /// The response already carried the terminal status: no notification may
    /// announce it again.
    None,
    /// By exactly one terminal notification.
    Once,
    /// Its call was ended before its end was seen: once, or never (the call
    /// is gone).
    AtMostOnce,
}

/// What is wrong with an operation announced terminal `ends` times, if anything.
pub fn end_problem(ends: usize, due: EndDue) -> Option<String> {
    match (due, ends) {
        (EndDue::None, 0) | (EndDue::Once, 1) | (EndDue::AtMostOnce, 0 | 1) => None,
        (EndDue::None, n) => Some(format!(
            "announced terminal {n} time(s), though the response already ended it"
        )),
        (EndDue::Once, 0) => Some("never announced terminal".to_owned()),
        (_, n) => Some(format!("announced terminal {n} times, expected once")),
    }
}

/// Like [`wait`], over the items of deliveries that arrived at or after `since`
/// (a roster sent before a move says nothing about the move).
pub fn wait_since(
    cx: &Context<'_>,
    mailbox: &Mailbox,
    since: Instant,
    deadline: Instant,
    mut done: impl FnMut(&[&Value]) -> bool,
) -> Vec<Arc<Delivery>> {
    cx.block_on(mailbox.wait_since(since, deadline, |d| done(&notification_items(d))));
    mailbox.snapshot_since(since)
}

/// Waits (event-driven, bounded) until `done` holds over the items received,
/// and returns the deliveries, shared with the mailbox rather than copied
/// (their items are [`refs`]).
pub fn wait(
    cx: &Context<'_>,
    mailbox: &Mailbox,
    deadline: Instant,
    mut done: impl FnMut(&[&Value]) -> bool,
) -> Vec<Arc<Delivery>> {
    cx.block_on(mailbox.wait_until(deadline, |d| done(&notification_items(d))));
    mailbox.snapshot()
}

/// The items of these deliveries, borrowed, for predicates written over
/// `&[&Value]`.
pub fn refs(deliveries: &[Arc<Delivery>]) -> Vec<&Value> {
    notification_items(deliveries)
}
