//! The rooms contract as the harness sees it: its option, its one fixture
//! kind, its invariants and property, its envelope, and the stub it embeds.

use std::sync::Arc;
use std::time::Instant;

use conformance_harness::{
    notification_items, Contract, Env, Envelope, Fixture, FixtureError, HttpRequest, HttpResponse,
    Invariant, Property, RerunOption, Vars,
};
use serde_json::{json, Value};

use crate::{invariants, props, stub};

/// The rooms contract's own option, flattened into the harness's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RoomOptions {
    /// Lend this existing room: messages are posted to it, it is never
    /// deleted. Its events go to its own callback, so event checks do not run.
    #[arg(long, env = "ROOMS_ROOM_ID", value_name = "ID")]
    pub room_id: Option<String>,
}

impl RoomOptions {
    /// What a rerun line must repeat of these.
    fn rerun(&self) -> Vec<RerunOption> {
        self.room_id
            .iter()
            .map(|id| RerunOption {
                flag: "--room-id",
                var: "ROOMS_ROOM_ID",
                value: id.clone(),
            })
            .collect()
    }
}

pub struct RoomsContract {
    options: RoomOptions,
    invariants: Vec<Invariant>,
}

impl RoomsContract {
    pub fn new(options: RoomOptions) -> Self {
        Self {
            options,
            invariants: invariants::all(),
        }
    }
}

/// The items of a delivered body: its `events`.
fn events(body: &Value) -> Vec<&Value> {
    body.get("events")
        .and_then(Value::as_array)
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

pub const ROOM: &str = "room";

impl Contract for RoomsContract {
    fn name(&self) -> &'static str {
        "rooms-conformance"
    }

    fn title(&self) -> &'static str {
        "POST /rooms/{id}/messages"
    }

    fn fixture_kinds(&self) -> &[&'static str] {
        &[ROOM]
    }

    fn default_fixture(&self) -> &'static str {
        ROOM
    }

    fn fixture(&self, env: &Env, kind: &str) -> Result<Fixture, FixtureError> {
        if kind != ROOM {
            return Err(FixtureError::Unsupported {
                kind: kind.to_owned(),
                message: format!("unknown fixture kind (known: {ROOM})"),
            });
        }
        match &self.options.room_id {
            Some(id) => Ok(Fixture {
                kind: ROOM.to_owned(),
                id: id.clone(),
                extra: Vars::new(),
                // A lent room's events go to the callback its owner gave it.
                mailbox: None,
                owned: false,
                since: Instant::now(),
            }),
            None => open_room(env),
        }
    }

    fn release(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        // No room is shared between cases: each ends with its case.
        end_room(env, fixture)
    }

    fn end(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        end_room(env, fixture)
    }

    fn invariants(&self) -> &[Invariant] {
        &self.invariants
    }

    fn invariant_presets(&self) -> &[(&'static str, &'static [&'static str])] {
        invariants::PRESETS
    }

    fn schemas_used(&self) -> &[&'static str] {
        &["message.json"]
    }

    fn properties(&self) -> Vec<Property> {
        props::all()
    }

    fn envelope(&self) -> Envelope {
        events
    }

    fn rerun_options(&self) -> Vec<RerunOption> {
        self.options.rerun()
    }

    fn start_embedded(
        &self,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(String, Box<dyn std::any::Any + Send + Sync>), String> {
        let fault = stub::Fault::from_env()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = runtime.spawn(stub::serve(listener, fault));
        Ok((stub::base(addr), Box::new(Embedded(server))))
    }
}

/// Stops the stub when the run's environment goes.
struct Embedded(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Embedded {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens a room with a callback of the suite's listener, registered as the
/// suite's own before it is awaited, and waits for its `room.opened` event.
fn open_room(env: &Env) -> Result<Fixture, FixtureError> {
    let fail = |message: String| FixtureError::Create {
        kind: ROOM.to_owned(),
        message,
    };
    let (callback, mailbox) = env.listener.mailbox();
    let started = Instant::now();
    let response = env.send(&HttpRequest::post_json(
        "/rooms",
        &json!({ "callbackUrl": callback }),
    ))?;
    if response.status != 201 {
        return Err(fail(format!(
            "POST /rooms answered {} (expected 201): {}",
            response.status_line(),
            response.body_excerpt(300)
        )));
    }
    let id = response
        .json_value()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the created room has no string `id`".to_owned()))?
        .to_owned();
    let fixture = Fixture {
        kind: ROOM.to_owned(),
        id,
        extra: Vars::new(),
        mailbox: env.options.notifications.then_some(mailbox),
        owned: true,
        since: started,
    };
    // Registered first: a room whose opening is never announced is still
    // the suite's to delete.
    env.own(&fixture);
    let Some(mailbox) = fixture.mailbox.as_ref() else {
        return Ok(fixture);
    };
    let opened = |deliveries: &[Arc<conformance_harness::Delivery>]| {
        notification_items(deliveries).iter().any(|event| {
            event.get("type").and_then(Value::as_str) == Some("room.opened")
                && event.get("room").and_then(Value::as_str) == Some(fixture.id.as_str())
        })
    };
    let deadline = started + env.options.notification_timeout;
    if env.block_on(mailbox.wait_until(deadline, opened)) {
        return Ok(fixture);
    }
    let received = notification_items(&mailbox.snapshot()).len();
    let message = format!(
        "room {} was not announced as opened within {} ms ({received} event(s) received)",
        fixture.id,
        env.options.notification_timeout.as_millis()
    );
    if let Err(answer) = end_room(env, &fixture) {
        env.unreleased(&fixture, answer);
    }
    Err(fail(message))
}

/// Deletes a room the suite opened and has not deleted yet (a lent room is
/// never touched). A failed DELETE is tried once more on a new connection;
/// the error carries the target's last answer.
fn end_room(env: &Env, fixture: &Fixture) -> Result<(), String> {
    if !fixture.owned || !env.disown(&fixture.id) {
        return Ok(());
    }
    let request = HttpRequest::delete(format!("/rooms/{}", fixture.id));
    let answer = |sent: Result<HttpResponse, _>| match sent {
        // 404: the case deleted it itself.
        Ok(r) if matches!(r.status, 204 | 404) => Ok(()),
        Ok(r) => Err(format!("DELETE answered {}", r.status_line())),
        Err(e) => Err(format!("DELETE failed: {e}")),
    };
    answer(env.send(&request)).or_else(|_| answer(env.send_on_new_connection(&request)))
}
