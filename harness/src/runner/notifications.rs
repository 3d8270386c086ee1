//! The notifications a case expects: awaited (never slept for) until they
//! match or the deadline passes, and, when they do not, the closest one shown.

use std::time::Duration;

use serde_json::Value;

use crate::case::{MatchMode, NotificationExpect};
use crate::contract::Exchange;
use crate::listener::notification_items;
use crate::matching::{compare, fits, project};
use crate::template::fill_value;
use crate::verdict::{Check, Detail, Level};

use super::uses_uncaptured;

/// The check of expectation `index`: not run when it names what was not
/// captured, met by the response when its `unless_response` holds, else
/// awaited on the fixture's callback.
pub(super) fn expected(
    exchange: &Exchange<'_>,
    default_fixture: &str,
    index: usize,
    expect: &NotificationExpect,
    uncaptured: &[String],
) -> Result<Check, String> {
    let check = Check::new(
        format!("notification[{index}]"),
        Level::Must,
        expect.about.clone(),
    );
    if let Some(reason) = uses_uncaptured(|| expect.pattern.to_string(), uncaptured) {
        return Ok(check.not_run(reason));
    }
    let met = expect
        .unless_response
        .as_ref()
        .and_then(|c| c.met_by(exchange.response.json_value()).map(|v| (c, v)));
    if let Some((condition, value)) = met {
        return Ok(check.note(format!(
            "none is due: the response already has {} = {}",
            condition.path,
            crate::sanitize::quote(value)
        )));
    }
    check_notification(exchange, default_fixture, index, expect, check)
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
        if known.contains(&key.as_str()) {
            return None;
        }
        crate::matching::near_miss(key, known.iter().copied()).map(|near| {
            format!(
                "the expectation names {key:?}, which {} does not know: did you mean {near:?}?",
                schemas.display(schema)
            )
        })
    })
}

fn check_notification(
    exchange: &Exchange<'_>,
    default_fixture: &str,
    index: usize,
    expect: &NotificationExpect,
    check: Check,
) -> Result<Check, String> {
    let (cx, fixtures, sent_at) = (exchange.cx, exchange.fixtures, exchange.sent_at);
    let pattern = fill_value(&expect.pattern, exchange.vars)?;
    let fixture = expect.fixture.as_deref().unwrap_or(default_fixture);
    let Some(mailbox) = fixtures.get(fixture).and_then(|f| f.mailbox.clone()) else {
        return Ok(check.not_run(format!(
            "fixture {fixture} has no callback the suite can read"
        )));
    };
    if let Some(typo) = expect
        .schema
        .as_deref()
        .and_then(|schema| misspelled(cx.schemas, schema, &pattern))
    {
        // Nothing would ever match: say so now rather than at the deadline.
        return Ok(check.fail_text(format!(
            "{typo} (no notification was awaited: none could match)"
        )));
    }
    let wanted = expect.count.unwrap_or(1).max(1);
    let within = expect
        .within_ms
        .map_or(cx.options.notification_timeout, Duration::from_millis);
    let deadline = sent_at + within;
    cx.block_on(mailbox.wait_since(sent_at, deadline, |d| {
        notification_items(d)
            .into_iter()
            .filter(|item| fits(&pattern, item))
            .count()
            >= wanted
    }));
    let deliveries = mailbox.snapshot_since(sent_at);
    let all = notification_items(&deliveries);
    let found: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|item| fits(&pattern, item))
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
        let mut undeclared = Vec::new();
        for item in &found {
            match cx.schemas.validate(schema, item) {
                Ok(v) => violations.extend(v),
                Err(e) => return Err(e),
            }
            undeclared.extend(cx.schemas.undeclared(schema, item));
        }
        check = check.undeclared(undeclared);
        if !violations.is_empty() {
            check = check
                .fail_text(format!(
                    "the notification does not satisfy {}",
                    cx.schemas.display(schema)
                ))
                .fail(Detail::Schema(violations));
        }
    }
    Ok(check)
}
