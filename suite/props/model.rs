//! A stateful property: random sequences of create call / invite / get
//! operation / move / delete call, checked step by step against a model of
//! what the contract promises.
//!
//! The model holds a target to the spec and no further: what the page states
//! is a MUST (an invite on a live call is answered 200, every invitee reaches
//! the roster, a move leaves the old meeting, every operation ends exactly
//! once); what is only Graph's behaviour (404 for what is gone, reading an
//! operation back) is a SHOULD, reported as a warning without stopping the
//! sequence. It only ever ends calls it created itself.

use std::fmt::Write as _;
use std::time::Instant;

use conformance_harness::Failure;
use conformance_harness::{Check, Context, Fixture, Level};
use conformance_harness::{HttpRequest, HttpResponse};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::bodies::CallKind;
use crate::fixtures;
use crate::notifications::{
    announces_end, call_items, change_type, end_problem, is_terminal, operation_items, refs,
    roster_items, status_of, wait, wait_since, EndDue,
};

#[derive(Debug, Clone)]
pub enum Step {
    Create(CallKind),
    Invite { call: usize, participants: usize },
    GetOperation { op: usize },
    Move { from: usize, to: usize },
    Delete { call: usize },
}

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => prop_oneof![3 => Just(CallKind::Group), 1 => Just(CallKind::P2p)].prop_map(Step::Create),
        4 => (0usize..8, 1usize..=3).prop_map(|(call, participants)| Step::Invite { call, participants }),
        2 => (0usize..8).prop_map(|op| Step::GetOperation { op }),
        2 => (0usize..8, 0usize..8).prop_map(|(from, to)| Step::Move { from, to }),
        1 => (0usize..8).prop_map(|call| Step::Delete { call }),
    ];
    proptest::collection::vec(step, 1..=10)
}

struct Call {
    fixture: Fixture,
    kind: CallKind,
    alive: bool,
    /// Users the model says are in the call's roster.
    users: Vec<String>,
}

/// An accepted invite, and what the model knows of its end.
struct Operation {
    call: usize,
    id: String,
    /// How its end may be announced: not at all when the response carried
    /// it; at most once when its call was deleted before it was seen.
    due: EndDue,
}

/// Why a sequence stopped.
enum Finding {
    /// The target broke the model: a MUST.
    Must(String),
    /// The sequence could not go on for want of what the suite sets up
    /// (a call created or deleted, a participant's id): no finding about
    /// the contract, and nothing to shrink. The fixture kind it stands for
    /// (the known-failures register names it), and why.
    Setup(&'static str, String),
}

struct Model<'a> {
    cx: &'a Context<'a>,
    calls: Vec<Call>,
    ops: Vec<Operation>,
    log: String,
    next_user: usize,
    /// SHOULD-level findings, collected while the sequence goes on.
    warnings: Vec<String>,
}

fn must(text: impl Into<String>) -> Finding {
    Finding::Must(text.into())
}

impl Model<'_> {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, Finding> {
        let r = self.cx.send(req).map_err(|e| must(e.to_string()))?;
        let _ = write!(self.log, " -> {}", r.status_line());
        Ok(r)
    }

    /// A MUST: the sequence stops here when it does not hold.
    fn require(got: &HttpResponse, ok: bool, want: &str, why: &str) -> Result<(), Finding> {
        if ok {
            Ok(())
        } else {
            Err(must(format!(
                "expected {want} ({why}), got {}",
                got.status_line()
            )))
        }
    }

    /// A SHOULD: noted, and the sequence goes on.
    fn recommend(&mut self, got: &HttpResponse, want: u16, why: &str) {
        if got.status != want {
            let text = format!(
                "expected {want} ({why}), got {} (SHOULD)",
                got.status_line()
            );
            let _ = write!(self.log, " [warning: {text}]");
            self.warnings.push(text);
        }
    }

    fn new_user(&mut self) -> String {
        self.next_user += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next_user)
    }

    fn step(&mut self, step: &Step) -> Result<(), Finding> {
        match step {
            Step::Create(kind) => {
                // Always a call of its own, never one the user lent: the
                // model deletes calls.
                let fixture = fixtures::create_owned(self.cx, *kind == CallKind::Group)
                    .map_err(|e| Finding::Setup(kind.fixture(), e.to_string()))?;
                let _ = write!(self.log, " -> call {}", self.calls.len());
                self.calls.push(Call {
                    fixture,
                    kind: *kind,
                    alive: true,
                    users: Vec::new(),
                });
            }
            Step::Invite { call, participants } => {
                if self.calls.is_empty() {
                    self.log.push_str(" (no call yet: skipped)");
                    return Ok(());
                }
                let i = call % self.calls.len();
                let n = if self.calls[i].kind == CallKind::P2p {
                    1
                } else {
                    *participants
                };
                let users: Vec<String> = (0..n).map(|_| self.new_user()).collect();
                let body = json!({
                    "participants": users.iter().map(|u| json!({"identity": {"user": {"id": u}}})).collect::<Vec<_>>(),
                    "clientContext": format!("model-{}", self.ops.len()),
                });
                let _ = write!(self.log, " on call {i}");
                let id = self.calls[i].fixture.id.clone();
                let r = self.send(&HttpRequest::post_json(
                    format!("/communications/calls/{id}/participants/invite"),
                    &body,
                ))?;
                if self.calls[i].alive {
                    Self::require(&r, r.status == 200, "200", "an invite on a live call")?;
                    self.accepted(i, &r)?;
                    self.calls[i].users.extend(users);
                } else {
                    self.recommend(&r, 404, "an invite on an ended call");
                }
            }
            Step::GetOperation { op } => {
                if self.ops.is_empty() {
                    self.log.push_str(" (no operation yet: skipped)");
                    return Ok(());
                }
                let (i, op_id) = {
                    let o = &self.ops[op % self.ops.len()];
                    (o.call, o.id.clone())
                };
                let call_id = self.calls[i].fixture.id.clone();
                let r = self.send(&HttpRequest::get(format!(
                    "/communications/calls/{call_id}/operations/{op_id}"
                )))?;
                if self.calls[i].alive {
                    self.recommend(&r, 200, "an operation of a live call can be read");
                    let got = r
                        .json_value()
                        .and_then(|b| b.get("id"))
                        .and_then(Value::as_str);
                    if r.status == 200 && got != Some(op_id.as_str()) {
                        let text = format!("GET of operation {op_id} returned id {got:?} (SHOULD)");
                        let _ = write!(self.log, " [warning: {text}]");
                        self.warnings.push(text);
                    }
                } else {
                    self.recommend(&r, 404, "operations of an ended call are gone");
                }
            }
            Step::Move { from, to } => self.move_participant(*from, *to)?,
            Step::Delete { call } => {
                if self.calls.is_empty() {
                    self.log.push_str(" (no call yet: skipped)");
                    return Ok(());
                }
                let i = call % self.calls.len();
                let _ = write!(self.log, " call {i}");
                if self.calls[i].alive {
                    self.delete(i)?;
                } else {
                    let id = self.calls[i].fixture.id.clone();
                    let r =
                        self.send(&HttpRequest::delete(format!("/communications/calls/{id}")))?;
                    self.recommend(&r, 404, "deleting an ended call");
                }
            }
        }
        Ok(())
    }

    /// Records the operation an accepted invite returned.
    fn accepted(&mut self, call: usize, r: &HttpResponse) -> Result<(), Finding> {
        let body = r.json_value();
        let id = body
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| must("the operation has no id"))?
            .to_owned();
        let ended_in_response = body.and_then(status_of).is_some_and(is_terminal);
        self.ops.push(Operation {
            call,
            id,
            due: if ended_in_response {
                EndDue::None
            } else {
                EndDue::Once
            },
        });
        Ok(())
    }

    /// Deletes live call `i`; its operations whose end has not been seen by
    /// then may go unannounced.
    fn delete(&mut self, i: usize) -> Result<(), Finding> {
        let ended = self.ended_operations(i);
        for op in self.ops.iter_mut().filter(|o| o.call == i) {
            if op.due == EndDue::Once && !ended.contains(&op.id) {
                op.due = EndDue::AtMostOnce;
            }
        }
        let id = self.calls[i].fixture.id.clone();
        let r = self.send(&HttpRequest::delete(format!("/communications/calls/{id}")))?;
        // Ending a call is how the suite cleans up, not part of the invite
        // contract: a refusal stops the sequence as a setup error.
        if r.status / 100 != 2 {
            return Err(Finding::Setup(
                self.calls[i].kind.fixture(),
                format!(
                    "deleting call {i}, a live call the suite created, answered {}",
                    r.status_line()
                ),
            ));
        }
        self.recommend(&r, 204, "Graph answers a deleted call with 204");
        self.calls[i].alive = false;
        self.cx.fixtures.ended(&id);
        Ok(())
    }

    /// Operations of call `i` whose terminal notification has arrived.
    fn ended_operations(&self, i: usize) -> Vec<String> {
        let Some(mailbox) = self.calls[i].fixture.mailbox.as_deref() else {
            return Vec::new();
        };
        let deliveries = mailbox.snapshot();
        let all = conformance_harness::notification_items(&deliveries);
        let id = &self.calls[i].fixture.id;
        self.ops
            .iter()
            .filter(|o| o.call == i && terminal_count(&all, id, &o.id) > 0)
            .map(|o| o.id.clone())
            .collect()
    }

    /// Moves the first user of group call `from` to group call `to`; the
    /// model then expects `from`'s roster to lose them.
    fn move_participant(&mut self, from: usize, to: usize) -> Result<(), Finding> {
        let groups: Vec<usize> = (0..self.calls.len())
            .filter(|&i| self.calls[i].alive && self.calls[i].kind == CallKind::Group)
            .collect();
        if groups.len() < 2 {
            self.log
                .push_str(" (fewer than two live group calls: skipped)");
            return Ok(());
        }
        let from = groups[from % groups.len()];
        let to = groups
            .iter()
            .copied()
            .filter(|&g| g != from)
            .nth(to % (groups.len() - 1))
            .unwrap_or(from);
        let Some(user) = self.calls[from].users.first().cloned() else {
            self.log.push_str(" (nobody to move: skipped)");
            return Ok(());
        };
        let _ = write!(self.log, " user {user} from call {from} to call {to}");
        let from_id = self.calls[from].fixture.id.clone();
        let Some(mailbox) = self.calls[from].fixture.mailbox.clone() else {
            self.log
                .push_str(" (the call's notifications cannot reach the suite: skipped)");
            return Ok(());
        };
        let participant = fixtures::participant_id(
            self.cx,
            &from_id,
            &mailbox,
            &user,
            self.calls[from].fixture.since,
        )
        // Finding the participant to move is what the move_source fixture does.
        .map_err(|e| Finding::Setup("move_source", e))?;
        let body = json!({
            "participants": [{
                "replacesCallId": from_id,
                "participantId": participant,
                "identity": {"user": {"id": user}}
            }],
            "clientContext": format!("model-move-{}", self.ops.len()),
        });
        let to_id = self.calls[to].fixture.id.clone();
        let moved_at = Instant::now();
        let r = self.send(&HttpRequest::post_json(
            format!("/communications/calls/{to_id}/participants/invite"),
            &body,
        ))?;
        Self::require(
            &r,
            r.status == 200,
            "200",
            "a move between live meetings the suite created",
        )?;
        self.accepted(to, &r)?;
        let gone = |all: &[&Value]| {
            roster_items(all, &from_id).iter().any(|item| {
                item.get("resourceData")
                    .and_then(Value::as_array)
                    .is_some_and(|list| {
                        !list.iter().any(|p| {
                            p.pointer("/info/identity/user/id").and_then(Value::as_str)
                                == Some(user.as_str())
                        })
                    })
            })
        };
        let all = wait_since(
            self.cx,
            &mailbox,
            moved_at,
            Instant::now() + self.cx.options.notification_timeout,
            gone,
        );
        if !gone(&refs(&all)) {
            return Err(must(format!(
                "after the move, no roster update of call {from} left out user {user}"
            )));
        }
        self.calls[from].users.retain(|u| *u != user);
        self.calls[to].users.push(user);
        Ok(())
    }

    /// Lets every live call's operations end, ends the calls, then checks
    /// that each operation ended exactly once.
    fn finish(&mut self) -> Result<(), Finding> {
        for i in 0..self.calls.len() {
            if self.calls[i].alive {
                self.await_ends(i)?;
                let _ = write!(self.log, "\n  end: delete call {i}");
                self.delete(i)?;
            }
        }
        for (i, call) in self.calls.iter().enumerate() {
            let Some(mailbox) = call.fixture.mailbox.as_deref() else {
                continue;
            };
            let id = &call.fixture.id;
            // The call's `deleted` notification comes after everything else
            // about it: once it is in, duplicates sent before it are counted.
            let deleted = |all: &[&Value]| {
                call_items(all, id)
                    .iter()
                    .any(|n| change_type(n) == "deleted")
            };
            let all = wait(
                self.cx,
                mailbox,
                Instant::now() + self.cx.options.notification_timeout,
                deleted,
            );
            let all = refs(&all);
            if !deleted(&all) {
                self.warnings.push(format!(
                    "call {i} was deleted but no `deleted` notification came within {} ms (SHOULD: Graph sends one)",
                    self.cx.options.notification_timeout.as_millis()
                ));
            }
            for op in self.ops.iter().filter(|o| o.call == i) {
                let ends = terminal_count(&all, id, &op.id);
                if let Some(problem) = end_problem(ends, op.due) {
                    return Err(must(format!(
                        "operation {} of call {i} was {problem}",
                        op.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// Waits until every operation of call `i` that did not end in its
    /// response has announced its end.
    fn await_ends(&mut self, i: usize) -> Result<(), Finding> {
        let Some(mailbox) = self.calls[i].fixture.mailbox.clone() else {
            return Ok(());
        };
        let id = self.calls[i].fixture.id.clone();
        let pending: Vec<String> = self
            .ops
            .iter()
            .filter(|o| o.call == i && o.due != EndDue::None)
            .map(|o| o.id.clone())
            .collect();
        let done = |all: &[&Value]| pending.iter().all(|op| terminal_count(all, &id, op) > 0);
        let deadline = Instant::now() + self.cx.options.notification_timeout;
        let all = wait(self.cx, &mailbox, deadline, done);
        let all = refs(&all);
        match pending.iter().find(|op| terminal_count(&all, &id, op) == 0) {
            None => Ok(()),
            Some(op) => Err(must(format!(
                "operation {op} of call {i} announced no end within {} ms",
                self.cx.options.notification_timeout.as_millis()
            ))),
        }
    }

    /// Ends every call still alive, whatever happened: the calls are the
    /// suite's own, and a target is not left holding them.
    fn release(&mut self) {
        for call in self.calls.iter_mut().filter(|c| c.alive) {
            call.alive = false;
            self.cx.fixtures.end_or_report(&call.fixture);
        }
    }
}

/// How many terminal notifications announce operation `op` of call `call`.
fn terminal_count(all: &[&Value], call: &str, op: &str) -> usize {
    operation_items(all, call, op)
        .iter()
        .filter(|n| announces_end(n))
        .count()
}

pub fn check(cx: &Context<'_>, steps: &[Step]) -> Option<Failure> {
    let mut model = Model {
        cx,
        calls: Vec::new(),
        ops: Vec::new(),
        log: String::new(),
        next_user: 0,
        warnings: Vec::new(),
    };
    let mut outcome = Ok(());
    for (n, step) in steps.iter().enumerate() {
        let _ = write!(model.log, "\n  {n}: {step:?}");
        outcome = model.step(step);
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        outcome = model.finish();
    }
    model.release();
    let mut checks = Vec::new();
    let summary = "the target behaves as the model of calls, invites and operations says";
    match outcome {
        Ok(()) => {}
        Err(Finding::Must(text)) => checks.push(
            Check::new("model", Level::Must, summary)
                .fail_text(format!("steps:{}\n  <- {text}", model.log)),
        ),
        Err(Finding::Setup(kind, text)) => {
            return Some(Failure {
                error: Some(format!("{text} (steps:{})", model.log)),
                setup: Some(kind.to_owned()),
                ..Failure::default()
            })
        }
    }
    if !model.warnings.is_empty() {
        checks.push(
            Check::new(
                "model.should",
                Level::Should,
                "the target answers as Graph does where the spec is silent",
            )
            .fail_text(format!(
                "steps:{}\n  <- {}",
                model.log,
                model.warnings.join("\n  <- ")
            )),
        );
    }
    if checks.is_empty() {
        return None;
    }
    Some(Failure {
        checks,
        ..Failure::default()
    })
}
