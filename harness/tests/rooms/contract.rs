//! The rooms contract as the harness sees it: its description (one fixture
//! kind, its invariants, its envelope), how a room is opened and deleted,
//! its property, and the stub it embeds.

use conformance_harness::{
    notification_items, Context, Contract, Description, Fixture, FixtureError, FixtureKind, Guard,
    HttpRequest, Property,
};
use serde_json::{json, Value};

use super::{invariants, props, stub};

/// The rooms contract's own option, flattened into the harness's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RoomOptions {
    /// Lend this existing room: messages are posted to it, it is never
    /// deleted. Its events go to its own callback, so event checks do not run.
    #[arg(long, value_name = "ID")]
    pub room_id: Option<String>,
}

pub struct RoomsContract {
    options: RoomOptions,
    /// The fault the embedded stub is to have (an unknown one stops the run).
    stub_fault: Result<Option<stub::Fault>, String>,
    description: Description,
}

impl RoomsContract {
    pub fn new(options: RoomOptions, stub_fault: Result<Option<stub::Fault>, String>) -> Self {
        Self {
            options,
            stub_fault,
            description: Description {
                name: "rooms-conformance",
                title: "POST /rooms/{id}/messages",
                fixtures: vec![FixtureKind::new(
                    ROOM,
                    "A room: opened, or lent with --room-id.",
                )],
                default_fixture: ROOM,
                invariants: invariants::all(),
                presets: invariants::PRESETS,
                schemas_used: &["message.json"],
                envelope: events,
                ..Description::default()
            },
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
    fn description(&self) -> &Description {
        &self.description
    }

    fn create(&self, cx: &Context<'_>, kind: &str) -> Result<Fixture, FixtureError> {
        match &self.options.room_id {
            // A lent room's events go to the callback its owner gave it.
            Some(id) => Ok(Fixture::lent(kind, id)),
            None => open_room(cx),
        }
    }

    fn ending(&self, fixture: &Fixture) -> Option<HttpRequest> {
        Some(HttpRequest::delete(format!("/rooms/{}", fixture.id)))
    }

    fn start_embedded(&self, runtime: &tokio::runtime::Handle) -> Result<(String, Guard), String> {
        let fault = self.stub_fault.clone()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = runtime.spawn(stub::serve(listener, fault));
        Ok((stub::base(addr), Box::new(Embedded(server))))
    }

    fn properties(&self) -> Vec<Property> {
        props::all()
    }
}

/// Stops the stub when the run's target goes.
struct Embedded(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Embedded {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens a room with a callback of the suite's listener, hands it to the
/// harness to end, and waits for its `room.opened` event.
fn open_room(cx: &Context<'_>) -> Result<Fixture, FixtureError> {
    let fail = |message: String| FixtureError::Create {
        kind: ROOM.to_owned(),
        message,
    };
    let (callback, mailbox) = cx.listener().mailbox();
    let started = std::time::Instant::now();
    let response = cx.send(&HttpRequest::post_json(
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
        .ok_or_else(|| fail("the created room has no string `id`".to_owned()))?;
    let fixture = Fixture {
        mailbox: cx.options.notifications.then_some(mailbox),
        owned: true,
        since: started,
        ..Fixture::lent(ROOM, id)
    };
    cx.fixtures.own(&fixture);
    let Some(mailbox) = fixture.mailbox.as_ref() else {
        return Ok(fixture);
    };
    let opened = |deliveries: &[std::sync::Arc<conformance_harness::Delivery>]| {
        notification_items(deliveries).iter().any(|event| {
            event.get("type").and_then(Value::as_str) == Some("room.opened")
                && event.get("room").and_then(Value::as_str) == Some(fixture.id.as_str())
        })
    };
    let deadline = started + cx.options.notification_timeout;
    if cx.block_on(mailbox.wait_until(deadline, opened)) {
        return Ok(fixture);
    }
    Err(fail(format!(
        "room {} was not announced as opened within {} ms ({} event(s) received)",
        fixture.id,
        cx.options.notification_timeout.as_millis(),
        notification_items(&mailbox.snapshot()).len()
    )))
}
