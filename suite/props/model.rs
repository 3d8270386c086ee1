//! A stateful property: random sequences of create call / invite / get
//! operation / move / delete call, checked step by step against a model of
//! what the contract promises.

use std::fmt::Write as _;
use std::time::Instant;

use conformance_harness::exchange::{HttpRequest, HttpResponse};
use conformance_harness::prop::Failure;
use conformance_harness::{Check, Env, Fixture, Level};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::bodies::CallKind;
use crate::fixtures;
use crate::notifications::{
    call_items, change_type, is_terminal, operation_items, refs, roster_items, status_of, wait,
    wait_since,
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

struct Model<'a> {
    env: &'a Env,
    calls: Vec<Call>,
    /// (call index, operation id)
    ops: Vec<(usize, String)>,
    log: String,
    next_user: usize,
}

fn request(method: &str, path: String, body: Option<&Value>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path,
        headers: body
            .map(|_| vec![("content-type".to_owned(), "application/json".to_owned())])
            .unwrap_or_default(),
        body: body.map(|b| b.to_string().into_bytes()),
        auth: true,
    }
}

impl Model<'_> {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, String> {
        let r = self.env.send(req).map_err(|e| e.to_string())?;
        let _ = write!(self.log, " -> {}", r.status_line());
        Ok(r)
    }

    fn expect_status(&self, got: &HttpResponse, want: u16, why: &str) -> Result<(), String> {
        if got.status == want {
            Ok(())
        } else {
            Err(format!(
                "expected {want} ({why}), got {}",
                got.status_line()
            ))
        }
    }

    fn new_user(&mut self) -> String {
        self.next_user += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next_user)
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Create(kind) => {
                let fixture =
                    fixtures::prepare(self.env, kind.fixture()).map_err(|e| e.to_string())?;
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
                let r = self.send(&request(
                    "POST",
                    format!("/communications/calls/{id}/participants/invite"),
                    Some(&body),
                ))?;
                if self.calls[i].alive {
                    self.expect_status(&r, 200, "an invite on a live call is accepted")?;
                    let op = r
                        .json_value()
                        .and_then(|b| b.get("id"))
                        .and_then(Value::as_str)
                        .ok_or("the operation has no id")?
                        .to_owned();
                    self.ops.push((i, op));
                    self.calls[i].users.extend(users);
                } else {
                    self.expect_status(&r, 404, "an invite on an ended call is 404")?;
                }
            }
            Step::GetOperation { op } => {
                if self.ops.is_empty() {
                    self.log.push_str(" (no operation yet: skipped)");
                    return Ok(());
                }
                let (i, op_id) = self.ops[op % self.ops.len()].clone();
                let call_id = self.calls[i].fixture.id.clone();
                let r = self.send(&request(
                    "GET",
                    format!("/communications/calls/{call_id}/operations/{op_id}"),
                    None,
                ))?;
                if self.calls[i].alive {
                    self.expect_status(&r, 200, "an operation of a live call can be read")?;
                    let got = r
                        .json_value()
                        .and_then(|b| b.get("id"))
                        .and_then(Value::as_str);
                    if got != Some(op_id.as_str()) {
                        return Err(format!("GET of operation {op_id} returned id {got:?}"));
                    }
                } else {
                    self.expect_status(&r, 404, "operations of an ended call are gone")?;
                }
            }
            Step::Move { from, to } => self.move_participant(*from, *to)?,
            Step::Delete { call } => {
                if self.calls.is_empty() {
                    self.log.push_str(" (no call yet: skipped)");
                    return Ok(());
                }
                let i = call % self.calls.len();
                let id = self.calls[i].fixture.id.clone();
                let _ = write!(self.log, " call {i}");
                let r = self.send(&request(
                    "DELETE",
                    format!("/communications/calls/{id}"),
                    None,
                ))?;
                if self.calls[i].alive {
                    self.expect_status(&r, 204, "deleting a live call")?;
                    self.calls[i].alive = false;
                } else {
                    self.expect_status(&r, 404, "deleting an ended call")?;
                }
            }
        }
        Ok(())
    }

    /// Moves the first user of group call `from` to group call `to`; the
    /// model then expects `from`'s roster to lose them.
    fn move_participant(&mut self, from: usize, to: usize) -> Result<(), String> {
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
        let mailbox = self.calls[from]
            .fixture
            .mailbox
            .clone()
            .ok_or("no callback for the source call")?;
        let deadline = Instant::now() + self.env.options.notification_timeout;
        let participant_of = |all: &[&Value]| -> Option<String> {
            roster_items(all, &from_id).iter().rev().find_map(|item| {
                item.get("resourceData")?.as_array()?.iter().find_map(|p| {
                    (p.pointer("/info/identity/user/id")?.as_str()? == user)
                        .then(|| p.get("id")?.as_str().map(str::to_owned))?
                })
            })
        };
        let all = wait(self.env, &mailbox, deadline, |all| {
            participant_of(all).is_some()
        });
        let participant = participant_of(&refs(&all)).ok_or_else(|| {
            format!("no roster update of call {from} names user {user} with a participant id")
        })?;
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
        let r = self.send(&request(
            "POST",
            format!("/communications/calls/{to_id}/participants/invite"),
            Some(&body),
        ))?;
        self.expect_status(&r, 200, "a move between live meetings is accepted")?;
        if let Some(op) = r
            .json_value()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
        {
            self.ops.push((to, op.to_owned()));
        }
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
            self.env,
            &mailbox,
            moved_at,
            Instant::now() + self.env.options.notification_timeout,
            gone,
        );
        if !gone(&refs(&all)) {
            return Err(format!(
                "after the move, no roster update of call {from} left out user {user}"
            ));
        }
        self.calls[from].users.retain(|u| *u != user);
        self.calls[to].users.push(user);
        Ok(())
    }

    /// Ends every live call, then checks each operation ended exactly once:
    /// a call's `deleted` notification comes after everything else about it.
    fn finish(&mut self) -> Result<(), String> {
        for i in 0..self.calls.len() {
            if self.calls[i].alive {
                let id = self.calls[i].fixture.id.clone();
                let _ = write!(self.log, "\n  end: delete call {i}");
                let r = self.send(&request(
                    "DELETE",
                    format!("/communications/calls/{id}"),
                    None,
                ))?;
                self.expect_status(&r, 204, "deleting a live call")?;
                self.calls[i].alive = false;
            }
        }
        for (i, call) in self.calls.iter().enumerate() {
            let Some(mailbox) = call.fixture.mailbox.as_deref() else {
                continue;
            };
            let id = &call.fixture.id;
            let deleted = |all: &[&Value]| {
                call_items(all, id)
                    .iter()
                    .any(|n| change_type(n) == "deleted")
            };
            let all = wait(
                self.env,
                mailbox,
                Instant::now() + self.env.options.notification_timeout,
                deleted,
            );
            if !deleted(&refs(&all)) {
                return Err(format!(
                    "call {i} was deleted but no `deleted` notification came"
                ));
            }
            for (_, op) in self.ops.iter().filter(|(c, _)| *c == i) {
                let ends = operation_items(&all, id, op)
                    .iter()
                    .filter(|n| {
                        n.get("resourceData")
                            .and_then(status_of)
                            .is_some_and(is_terminal)
                    })
                    .count();
                if ends != 1 {
                    return Err(format!(
                        "operation {op} of call {i} ended {ends} times, expected exactly once"
                    ));
                }
            }
        }
        Ok(())
    }
}

pub fn check(env: &Env, steps: &[Step]) -> Option<Failure> {
    let mut model = Model {
        env,
        calls: Vec::new(),
        ops: Vec::new(),
        log: String::new(),
        next_user: 0,
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
    let problem = outcome.err()?;
    let check = Check::new(
        "model",
        Level::Must,
        "the target behaves as the model of calls, invites and operations says",
    )
    .fail_text(format!("steps:{}\n  <- {problem}", model.log));
    Some(Failure {
        checks: vec![check],
        ..Failure::default()
    })
}
