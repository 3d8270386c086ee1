//! Call fixtures: how the suite makes the calls a case needs (created on the
//! target with Graph's create-call body and awaited until `established`, or
//! taken from the options, `--group-call-id`, `--p2p-call-id`, on targets
//! that cannot create calls) and how it ends one. The harness owns the rest
//! of their lives: registering, sharing between generated inputs, ending,
//! retrying, reporting what could not be ended.

use std::sync::Arc;
use std::time::Instant;

use conformance_harness::{
    notification_items, Context, Fixture, FixtureError, FixtureKind, HttpRequest, Mailbox, Vars,
};
use serde_json::{json, Value};

use crate::notifications::{call_items, change_type, refs, roster_items, wait, wait_since};
use crate::options::CallOptions;
use crate::tenant::{identity_set, CallDetails};

/// Declares the fixture kinds once: the enum, and the kinds the contract
/// describes to the harness (which writes them into the case schema).
macro_rules! kinds {
    ($($kind:ident => $name:literal, shared by $shared:literal: $doc:literal;)+) => {
        /// What a case may ask for as a fixture.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $(#[doc = $doc] $kind,)+
        }

        impl Kind {
            /// Every kind, as the contract describes it, in the order they are declared.
            pub fn all() -> Vec<FixtureKind> {
                vec![$(FixtureKind::new($name, $doc).shared_by($shared),)+]
            }

            fn parse(name: &str) -> Option<Kind> {
                match name {
                    $($name => Some(Kind::$kind),)+
                    _ => None,
                }
            }

            /// The name a case gives this kind.
            fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)+
                }
            }
        }
    };
}

// Generated invites share a group or peer-to-peer call four at a time:
// each invite's roster update lists the whole roster, so calls stay small.
// A call moved from is never shared: a move the target refused leaves the
// user seated, and the next move from the same call would find two seats
// (and fail or pass by which inputs shared it).
kinds! {
    Group => "group", shared by 4: "A group call (a meeting): created, or lent with --group-call-id.";
    P2p => "p2p", shared by 4: "A peer-to-peer call: created, or lent with --p2p-call-id.";
    DisposableP2p => "disposable_p2p", shared by 1: "A peer-to-peer call the case consumes (replaces or ends): always created, never lent.";
    EndedGroup => "ended_group", shared by 1: "A group call created, then deleted.";
    Unknown => "unknown", shared by 1: "An id no call has.";
    MoveSource => "move_source", shared by 1: "A group call holding one invited user, ready to be moved.";
}

/// A fixture of the kind named `name`: a call created (and awaited), one
/// the user lent, or an id no call has.
pub fn prepare(cx: &Context<'_>, opts: &CallOptions, name: &str) -> Result<Fixture, FixtureError> {
    let Some(kind) = Kind::parse(name) else {
        return Err(FixtureError::Unsupported {
            kind: name.to_owned(),
            message: format!(
                "unknown fixture kind (known: {})",
                Kind::all()
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    prepare_fresh(cx, opts, kind)
}

/// A group call (or a peer-to-peer one) the suite creates for itself,
/// never one the user lent: for trials that end or move from their calls.
/// The caller has made sure that the target may be asked to create calls.
pub fn create_owned(cx: &Context<'_>, group: bool) -> Result<Fixture, FixtureError> {
    let kind = if group { "group" } else { "p2p" };
    create(cx, kind, &body_of(cx, kind, group)?)
}

/// The id of the call the user lent for `kind`, if any.
fn lent(opts: &CallOptions, kind: Kind) -> Option<&str> {
    match kind {
        Kind::Group => opts.group_call_id.as_deref(),
        Kind::P2p => opts.p2p_call_id.as_deref(),
        _ => None,
    }
}

/// Whether a fixture of `kind` is a call the suite creates.
fn creates_call(opts: &CallOptions, kind: Kind) -> bool {
    kind != Kind::Unknown && lent(opts, kind).is_none()
}

/// Why the target cannot give a fixture named `name` under these options
/// (a fresh call, with --no-create-calls and none lent); `None` when it may.
pub fn unavailable(opts: &CallOptions, name: &str) -> Option<String> {
    let kind = Kind::parse(name)?;
    if opts.create_calls() || !creates_call(opts, kind) {
        return None;
    }
    Some(
        match kind {
            Kind::Group => "--no-create-calls is set and no --group-call-id lends a group call",
            Kind::P2p => "--no-create-calls is set and no --p2p-call-id lends a peer-to-peer call",
            _ => "--no-create-calls is set, and this call must be the suite's own (it is ended, replaced or moved from)",
        }
        .to_owned(),
    )
}

fn prepare_fresh(
    cx: &Context<'_>,
    opts: &CallOptions,
    kind: Kind,
) -> Result<Fixture, FixtureError> {
    let name = kind.name();
    if let Some(id) = lent(opts, kind) {
        // Notifications of a call someone else created go to its own callback.
        return Ok(Fixture::lent(name, id));
    }
    if let Some(reason) = unavailable(opts, name) {
        return Err(FixtureError::Unavailable {
            kind: name.to_owned(),
            reason,
        });
    }
    match kind {
        Kind::Group => create(cx, name, &body_of(cx, name, true)?),
        Kind::P2p | Kind::DisposableP2p => create(cx, name, &body_of(cx, name, false)?),
        Kind::EndedGroup => {
            let mut fixture = create(cx, name, &body_of(cx, name, true)?)?;
            cx.fixtures
                .end(&fixture)
                .map_err(|message| FixtureError::Create {
                    kind: name.to_owned(),
                    message,
                })?;
            fixture.owned = false;
            // A call being torn down may still take an invite (Graph's take
            // a while): the case runs once the target announced it deleted,
            // or its notification deadline passed. What the case then sees
            // of it is the same every run (a recording holds all of it).
            if let Some(mailbox) = &fixture.mailbox {
                let deadline = Instant::now() + cx.options.notification_timeout;
                let id = fixture.id.clone();
                wait(cx, mailbox, deadline, |all| {
                    call_items(all, &id)
                        .iter()
                        .any(|item| change_type(item) == "deleted")
                });
            }
            Ok(fixture)
        }
        Kind::Unknown => Ok(Fixture::lent(name, &uuid::Uuid::new_v4().to_string())),
        Kind::MoveSource => move_source(cx),
    }
}

/// The body the suite creates a group call (or a peer-to-peer one) with,
/// its notifications going to `callback`, with the sample call details.
pub fn create_call_body(group: bool, callback: &str) -> Value {
    CallDetails::default().body(group, callback)
}

/// The create-call body of a group call (or a peer-to-peer one) as the
/// run's tenant profile makes it.
fn body_of(
    cx: &Context<'_>,
    kind: &str,
    group: bool,
) -> Result<impl Fn(&str) -> Value, FixtureError> {
    let details = CallDetails::of(cx, kind)?;
    Ok(move |callback: &str| details.body(group, callback))
}

fn post_json(
    cx: &Context<'_>,
    path: &str,
    body: &Value,
) -> Result<conformance_harness::HttpResponse, FixtureError> {
    Ok(cx.send(&HttpRequest::post_json(path, body))?)
}

/// Graph's paths start after the version: a target URL without it meets
/// 404 on every path.
const VERSION_HINT: &str =
    "does the target URL end with the API version, as in https://graph.microsoft.com/v1.0?";

/// Why a call could not be created, told apart for the probe before the run.
enum CreateFailure {
    /// The POST got no answer.
    Transport(conformance_harness::TransportError),
    /// It was answered, but not with 201.
    Refused { status: u16, message: String },
    /// It was created, but never established; `heard`: whether anything at
    /// all reached its callback (or the suite polled instead).
    NotEstablished { message: String, heard: bool },
    /// The created call's body is unusable.
    Body(String),
}

impl CreateFailure {
    fn into_fixture_error(self, kind: &str) -> FixtureError {
        let message = match self {
            Self::Transport(e) => return FixtureError::Transport(e),
            Self::Refused { message, .. }
            | Self::NotEstablished { message, .. }
            | Self::Body(message) => message,
        };
        FixtureError::Create {
            kind: kind.to_owned(),
            message,
        }
    }
}

fn create(
    cx: &Context<'_>,
    kind: &str,
    body: &dyn Fn(&str) -> Value,
) -> Result<Fixture, FixtureError> {
    create_call(cx, kind, body).map_err(|f| f.into_fixture_error(kind))
}

fn create_call(
    cx: &Context<'_>,
    kind: &str,
    body: &dyn Fn(&str) -> Value,
) -> Result<Fixture, CreateFailure> {
    let (callback, mailbox) = cx.listener().mailbox();
    let started = Instant::now();
    let response = cx
        .send(&HttpRequest::post_json(
            "/communications/calls",
            &body(&callback),
        ))
        .map_err(CreateFailure::Transport)?;
    if response.status != 201 {
        let hint = if response.status == 404 {
            format!(" ({VERSION_HINT})")
        } else {
            String::new()
        };
        return Err(CreateFailure::Refused {
            status: response.status,
            message: format!(
                "POST /communications/calls answered {} (expected 201){hint}: {}",
                response.status_line(),
                response.body_excerpt(300)
            ),
        });
    }
    if let Some(Err(e)) = &response.json {
        return Err(CreateFailure::Body(format!(
            "the created call's body is {e}"
        )));
    }
    let id = response
        .json_value()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| CreateFailure::Body("the created call has no string `id`".into()))?
        .to_owned();
    let fixture = Fixture {
        kind: kind.to_owned(),
        id,
        extra: Vars::new(),
        mailbox: cx.options.notifications.then_some(mailbox),
        owned: true,
        since: started,
    };
    // Registered before it is awaited: a call that never becomes
    // established is still the suite's to end.
    cx.fixtures.own(&fixture);
    // The mailbox is there exactly when notifications can reach the suite.
    let established = match &fixture.mailbox {
        Some(mailbox) => await_established(cx, mailbox, &fixture.id, started),
        None => poll_established(cx, &fixture.id, started),
    };
    match established {
        Ok(()) => Ok(fixture),
        Err(message) => {
            // Read now, before the call is ended (with the scope that owns
            // it): ending it is heard of too.
            let heard = fixture
                .mailbox
                .as_ref()
                .is_none_or(|m| !m.snapshot().is_empty());
            Err(CreateFailure::NotEstablished { message, heard })
        }
    }
}

/// Before the run, when the selected trials need calls the suite creates:
/// one call created, awaited and ended. A set-up that is wrong for every
/// trial is said once, with what to change: a target URL every creation
/// meets with 404, a target that does not create calls, one that never
/// answers, notifications that never reach the listener. Anything else is
/// left for the trials to report, each with its request.
pub fn probe(cx: &Context<'_>, opts: &CallOptions, kinds: &[String]) -> Result<(), String> {
    let Some(kind) = kinds
        .iter()
        .filter_map(|k| Kind::parse(k))
        .find(|k| creates_call(opts, *k) && opts.create_calls())
    else {
        return Ok(());
    };
    let group = !matches!(kind, Kind::P2p | Kind::DisposableP2p);
    let body = body_of(cx, kind.name(), group).map_err(|e| e.to_string())?;
    let body: &dyn Fn(&str) -> Value = &body;
    let (callback, _) = cx.listener().mailbox();
    let refused_before = cx.listener().refusals();
    let failure = match create_call(cx, kind.name(), body) {
        Ok(fixture) => {
            cx.fixtures.end_or_report(&fixture);
            return Ok(());
        }
        Err(failure) => failure,
    };
    let wait = cx.options.notification_timeout.as_millis();
    match failure {
        CreateFailure::Transport(e @ conformance_harness::TransportError::Timeout { .. }) => Err(format!(
            "the target accepted the connection but did not answer POST /communications/calls ({e}): is --target the server you meant? (--response-timeout-ms gives a slow one longer)"
        )),
        CreateFailure::Refused { status: 404, message } => Err(format!(
            "the selected trials create calls, and {message}; a target that cannot create calls is run with --no-create-calls (and --group-call-id, --p2p-call-id to lend calls)"
        )),
        CreateFailure::Refused { status: 405 | 501, message } => Err(format!(
            "the target does not create calls: {message}; pass --no-create-calls, with --group-call-id and --p2p-call-id to lend calls"
        )),
        // Silence while the listener refused connections says nothing of
        // the target or of the callback URL: the listener is the problem.
        CreateFailure::NotEstablished { heard: false, .. } if cx.listener().saturation(refused_before).is_some() => Err(format!(
            "{}: the target's notifications may have been among the refused, so nothing can be judged; is another process flooding the listener? (it listens at {}/…)",
            cx.listener().saturation(refused_before).unwrap_or_default(),
            origin_of(&callback)
        )),
        CreateFailure::NotEstablished { heard: false, .. } => Err(format!(
            "the target created a call, but no notification reached the suite's listener within {wait} ms (it was to come to {}/…): is that URL reachable from the target? --callback-url names one that is (a tunnel to --listen); --no-notifications follows calls by polling instead",
            origin_of(&callback)
        )),
        // Notifications that came but did not say so are findings about
        // them: each trial reports its own.
        _ => Ok(()),
    }
}

/// `http://host:port/a/b` -> `http://host:port`: where the listener is,
/// without the (secret) path of one callback.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or(url, |i| &url[..after_scheme + i])
}

/// Without notifications, the call's state is read until it is established.
fn poll_established(cx: &Context<'_>, id: &str, started: Instant) -> Result<(), String> {
    let deadline = started + cx.options.notification_timeout;
    let state = poll(
        cx,
        &format!("/communications/calls/{id}"),
        deadline,
        |call| {
            call.get("state")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("established"))
        },
    );
    match state {
        Ok(_) => Ok(()),
        Err(last) => Err(format!(
            "call {id} was not established within {} ms (polled GET; last state {last})",
            cx.options.notification_timeout.as_millis()
        )),
    }
}

/// Reads `path` until `done` holds of its JSON body or the deadline passes.
/// Returns the last body, or a description of the last answer.
pub fn poll(
    cx: &Context<'_>,
    path: &str,
    deadline: Instant,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, String> {
    poll_until(cx, path, deadline, |status, body| {
        status == 200 && body.is_some_and(&done)
    })
    .map(|(_, body)| body.unwrap_or_default())
}

/// Reads `path` until `done` holds of its answer (the status, and the body
/// when it is JSON) or the deadline passes. The target offers no event to
/// wait on here, so the reads back off: 20 ms doubling to 500 ms. Returns
/// the answer `done` took, or a description of the last one.
pub fn poll_until(
    cx: &Context<'_>,
    path: &str,
    deadline: Instant,
    done: impl Fn(u16, Option<&Value>) -> bool,
) -> Result<(u16, Option<Value>), String> {
    let request = HttpRequest::get(path);
    let mut pause = std::time::Duration::from_millis(20);
    let mut last: String;
    loop {
        match cx.send(&request) {
            Ok(r) if done(r.status, r.json_value()) => {
                return Ok((r.status, r.json_value().cloned()))
            }
            Ok(r) => match r.json_value() {
                Some(body) => {
                    last = format!(
                        "{} {}",
                        r.status_line(),
                        body.get("state")
                            .or(body.get("status"))
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    )
                }
                None => last = r.status_line(),
            },
            Err(e) => last = e.to_string(),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(last);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}

fn await_established(
    cx: &Context<'_>,
    mailbox: &Arc<Mailbox>,
    id: &str,
    started: Instant,
) -> Result<(), String> {
    let established = |all: &[&Value]| {
        call_items(all, id).iter().any(|i| {
            i.pointer("/resourceData/state")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("established"))
        })
    };
    let deadline = started + cx.options.notification_timeout;
    let deliveries = wait(cx, mailbox, deadline, established);
    let all = refs(&deliveries);
    if established(&all) {
        Ok(())
    } else {
        let not_json = mailbox
            .snapshot()
            .iter()
            .filter(|d| d.body().is_err())
            .count();
        Err(format!(
            "call {id} was not notified as established within {} ms ({} notification item(s) received, {not_json} delivery(ies) not JSON)",
            cx.options.notification_timeout.as_millis(),
            all.len()
        ))
    }
}

fn announced_deleted(fixture: &Fixture) -> bool {
    fixture.mailbox.as_ref().is_some_and(|mailbox| {
        let deliveries = mailbox.snapshot();
        call_items(&notification_items(&deliveries), &fixture.id)
            .iter()
            .any(|item| change_type(item) == "deleted")
    })
}

/// How a call the suite created is ended: `DELETE` it, unless the target
/// announced it deleted (a replaced call): then nothing is left to end.
pub fn ending(fixture: &Fixture) -> Option<HttpRequest> {
    (!announced_deleted(fixture))
        .then(|| HttpRequest::delete(format!("/communications/calls/{}", fixture.id)))
}

/// The participant id user `user` has in call `call`, once a roster update
/// after `since` names them: read from `GET …/participants` (the roster as the
/// target holds it), or from the roster update when that list is not served.
/// The spec's own roster examples give participants `"id": null`, so a
/// notification alone may not say.
pub fn participant_id(
    cx: &Context<'_>,
    call: &str,
    mailbox: &Mailbox,
    user: &str,
    since: Instant,
) -> Result<String, String> {
    let named = |all: &[&Value]| {
        roster_items(all, call).iter().any(|item| {
            item.get("resourceData")
                .and_then(Value::as_array)
                .is_some_and(|list| list.iter().any(|p| user_of(p) == Some(user)))
        })
    };
    let deliveries = wait_since(
        cx,
        mailbox,
        since,
        since + cx.options.notification_timeout,
        named,
    );
    let all = refs(&deliveries);
    if !named(&all) {
        return Err(format!("no roster update of call {call} named user {user}"));
    }
    let pick = |list: &[Value]| seat_of(list, user);
    let listed = cx.send(&HttpRequest::get(format!(
        "/communications/calls/{call}/participants"
    )));
    let from_list = match &listed {
        Ok(r) if r.status == 200 => r
            .json_value()
            .and_then(|b| b.get("value"))
            .and_then(Value::as_array)
            .and_then(|list| pick(list)),
        _ => None,
    };
    let from_roster = || {
        roster_items(&all, call)
            .iter()
            .rev()
            .find_map(|item| pick(item.get("resourceData")?.as_array()?))
    };
    from_list.or_else(from_roster).ok_or_else(|| {
        let list = match listed {
            Ok(r) => r.status_line(),
            Err(e) => e.to_string(),
        };
        format!(
            "user {user} is in the roster of call {call}, but no participant id was found for them (GET …/participants: {list}; the roster updates give none)"
        )
    })
}

/// The user id of a participant.
fn user_of(p: &Value) -> Option<&str> {
    p.pointer("/info/identity/user/id").and_then(Value::as_str)
}

/// The participant id `user` has in `list` (the latest seat).
fn seat_of(list: &[Value], user: &str) -> Option<String> {
    list.iter().rev().find_map(|p| {
        let id = p.get("id")?.as_str()?;
        (user_of(p) == Some(user)).then(|| id.to_owned())
    })
}

/// The participant id `user` has in call `call`, read from `GET
/// …/participants` until it lists them (no notification can say when):
/// bounded by the notification deadline from `since`.
fn polled_participant_id(
    cx: &Context<'_>,
    call: &str,
    user: &str,
    since: Instant,
) -> Result<String, String> {
    let seat = |body: &Value| {
        body.get("value")
            .and_then(Value::as_array)
            .and_then(|list| seat_of(list, user))
    };
    let deadline = since + cx.options.notification_timeout;
    let path = format!("/communications/calls/{call}/participants");
    match poll(cx, &path, deadline, |body| seat(body).is_some()) {
        Ok(body) => seat(&body).ok_or_else(|| format!("GET {path} stopped listing user {user}")),
        Err(last) => Err(format!(
            "GET {path} did not list user {user} within {} ms (polled; last answer {last})",
            cx.options.notification_timeout.as_millis()
        )),
    }
}

/// A group call holding one invited user, whose participant id a move names.
fn move_source(cx: &Context<'_>) -> Result<Fixture, FixtureError> {
    let mut fixture = create(cx, "move_source", &body_of(cx, "move_source", true)?)?;
    seat_moved_user(cx, &mut fixture)?;
    Ok(fixture)
}

/// Invites the user to move into the source call and records the participant
/// id the call gave it.
fn seat_moved_user(cx: &Context<'_>, fixture: &mut Fixture) -> Result<(), FixtureError> {
    let moved = CallDetails::of(cx, "move_source")?.moved_user;
    let moved = moved.as_str();
    let started = Instant::now();
    let body = json!({
        "participants": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": identity_set("user", moved, "Moved user")
        }],
        "clientContext": "conformance-move-source"
    });
    let response = post_json(
        cx,
        &format!("/communications/calls/{}/participants/invite", fixture.id),
        &body,
    )?;
    let fail = |message: String| FixtureError::Create {
        kind: "move_source".into(),
        message,
    };
    if response.status != 200 {
        return Err(fail(format!(
            "inviting the user to move answered {}",
            response.status_line()
        )));
    }
    let participant = match fixture.mailbox.clone() {
        Some(mailbox) => participant_id(cx, &fixture.id, &mailbox, moved, started),
        // No notification will say when the user has joined: the roster
        // as the target holds it is read until it lists them.
        None => polled_participant_id(cx, &fixture.id, moved, started),
    }
    .map_err(fail)?;
    fixture.extra.insert("participant".into(), participant);
    fixture.extra.insert("user".into(), moved.into());
    Ok(())
}
