//! The rooms contract's invariants: where a posted message is located, and
//! how it is announced on its room's callback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance_harness::{
    notification_items, Check, Delivery, Detail, Exchange, Invariant, Level,
};
use serde_json::Value;

/// What must hold of every accepted message, as `@posted`.
pub const PRESETS: &[(&str, &[&str])] = &[("posted", &["message.location", "message.notified"])];

const RESPONSE: &str = "201 Created, with a Location header naming the new message (…/rooms/{id}/messages/{msgId}) and the message {id, text} as the body.";
const EVENT: &str = "Each message posted to a room is announced once on the room's callback: {\"type\": \"message.posted\", \"room\": id, \"message\": {id, text}}.";

/// How long after the first announcement of a message a second one is
/// waited for: a repeat is counted when it comes this close behind.
const REPEAT_GRACE: Duration = Duration::from_millis(100);

pub fn all() -> Vec<Invariant> {
    vec![
        Invariant {
            id: "message.location",
            level: Level::Must,
            summary: "Location ends in /rooms/{room}/messages/{id}, id = the body's id",
            source: "rooms API: POST /rooms/{id}/messages, Response",
            spec: RESPONSE,
            check: location,
        },
        Invariant {
            id: "message.notified",
            level: Level::Must,
            summary: "exactly one message.posted event names the message (a repeat within 100 ms of the first counts), in its room, with the text sent",
            source: "rooms API: Events, message.posted",
            spec: EVENT,
            check: notified,
        },
    ]
}

/// The room a request posted to: `/rooms/{room}/messages`.
fn room_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/rooms/")?;
    let (room, tail) = rest.split_once('/')?;
    (tail.trim_end_matches('/') == "messages" && !room.is_empty()).then_some(room)
}

fn message_id<'a>(ex: &'a Exchange<'_>) -> Option<&'a str> {
    ex.response.json_value()?.get("id")?.as_str()
}

/// Why a check about a posted message cannot run, if it cannot; else the room.
fn posted<'a>(ex: &'a Exchange<'_>) -> Result<&'a str, String> {
    if !(200..300).contains(&ex.response.status) || ex.response.json_value().is_none() {
        return Err(format!(
            "the message was not accepted ({})",
            ex.response.status_line()
        ));
    }
    room_of(&ex.request.path).ok_or_else(|| {
        format!(
            "the request path {:?} is not /rooms/{{id}}/messages",
            ex.request.path
        )
    })
}

fn location(ex: &Exchange<'_>, check: Check) -> Check {
    let room = match posted(ex) {
        Ok(room) => room,
        Err(reason) => return check.not_run(reason),
    };
    let Some(location) = ex.response.header("location") else {
        return check.fail_text("the response has no Location header");
    };
    let Some(id) = message_id(ex) else {
        return check.fail_text(format!(
            "Location {location:?}, but the body has no string `id` to compare it with"
        ));
    };
    let tail = format!("/rooms/{room}/messages/{id}");
    if location.trim_end_matches('/').ends_with(&tail) {
        check
    } else {
        check.fail_text(format!(
            "Location {location:?} does not end in {tail:?} (room {room}, body id {id})"
        ))
    }
}

/// The `message.posted` events naming message `id` among these deliveries.
fn announcements<'a>(deliveries: &'a [Arc<Delivery>], id: &str) -> Vec<&'a Value> {
    notification_items(deliveries)
        .into_iter()
        .filter(|event| {
            event.get("type").and_then(Value::as_str) == Some("message.posted")
                && event.pointer("/message/id").and_then(Value::as_str) == Some(id)
        })
        .collect()
}

fn notified(ex: &Exchange<'_>, check: Check) -> Check {
    let room = match posted(ex) {
        Ok(room) => room,
        Err(reason) => return check.not_run(reason),
    };
    if !ex.cx.options.notifications {
        return check.not_run("notifications cannot reach the suite (--no-notifications)");
    }
    let Some(mailbox) = ex
        .fixtures
        .values()
        .find(|f| f.id == room)
        .and_then(|f| f.mailbox.as_deref())
    else {
        return check.not_run(format!(
            "room {room} has no callback the suite can read (a lent room's events go to its own callback)"
        ));
    };
    let Some(id) = message_id(ex) else {
        return check.fail_text("the body has no string `id` to look for in the events");
    };
    let sent = ex
        .request_json
        .and_then(|b| b.get("text"))
        .and_then(Value::as_str);
    // Only what came after the request is about it.
    let first = ex.cx.block_on(
        mailbox.wait_since(ex.sent_at, ex.notification_deadline, |d| {
            !announcements(d, id).is_empty()
        }),
    );
    if first {
        // A repeat close behind the first is counted too.
        ex.cx.block_on(
            mailbox.wait_since(ex.sent_at, Instant::now() + REPEAT_GRACE, |d| {
                announcements(d, id).len() > 1
            }),
        );
    }
    let deliveries = mailbox.snapshot_since(ex.sent_at);
    let found = announcements(&deliveries, id);
    let within = ex
        .notification_deadline
        .saturating_duration_since(ex.sent_at)
        .as_millis();
    let event = match found.as_slice() {
        [] => {
            return check.fail_text(format!(
                "no message.posted event named message {id} within {within} ms ({} event(s) received on the room's callback since the request)",
                notification_items(&deliveries).len()
            ))
        }
        [one] => *one,
        many => {
            return check.fail_text(format!(
                "{} message.posted events name message {id}; exactly one is due",
                many.len()
            ))
        }
    };
    let mut problems = Vec::new();
    let named = event.get("room").and_then(Value::as_str);
    if named != Some(room) {
        problems.push(format!("the event names room {named:?}, not {room:?}"));
    }
    let text = event.pointer("/message/text").and_then(Value::as_str);
    if text != sent {
        problems.push(format!(
            "the event's text is {text:?}, the text sent {sent:?}"
        ));
    }
    let mut check = check;
    for p in problems {
        check = check.fail_text(p);
    }
    if let Some(message) = event.get("message") {
        match ex.cx.schemas.validate("message.json", message) {
            Ok(violations) if violations.is_empty() => {}
            Ok(violations) => {
                check = check
                    .fail_text("the event's message does not satisfy schemas/message.json")
                    .fail(Detail::Schema(violations));
            }
            Err(e) => check = check.fail_text(e),
        }
    }
    check
}
