//! The invite contract as the harness sees it: its description (fixture
//! kinds, invariants, profiles, schemas, the `commsNotifications`
//! envelope), how a call is created and ended, its properties, and the
//! embedded reference server as the default target.

use std::sync::Arc;

use conformance_harness::{
    Check, Context, Contract, Description, Fixture, FixtureError, Freedoms, Guard, HttpRequest,
    Property, Schemas,
};
use serde_json::Value;

use crate::options::CallOptions;
use crate::{fixtures, invariants};

pub struct InviteContract {
    description: Description,
    options: Arc<CallOptions>,
}

impl InviteContract {
    pub fn new(options: CallOptions) -> Self {
        Self {
            description: Description {
                name: "invite-conformance",
                title: "participant: invite",
                fixtures: fixtures::Kind::all(),
                default_fixture: "call",
                invariants: invariants::all(),
                presets: invariants::PRESETS,
                profiles: invariants::PROFILES.to_vec(),
                schemas_used: &[
                    "invite-request.json",
                    "inviteParticipantsOperation.json",
                    "commsOperation.json",
                    "commsNotifications.json",
                    "participant.json",
                    "call.json",
                    "graph-error.json",
                ],
                envelope: comms_notifications,
                // A call nobody has: the answer says whether the token is taken.
                preflight_path: Some(format!(
                    "/communications/calls/{}",
                    uuid::Uuid::new_v4().hyphenated()
                )),
                identities: crate::tenant::SAMPLE_IDENTITIES,
                freedoms: FREEDOMS,
            },
            options: Arc::new(options),
        }
    }
}

/// What the spec leaves free, as the variant matrix proves it, normalised
/// before a recording is compared: any casing of an operation's `status`,
/// `@odata.type` left out (never required on nested objects), the host and
/// version before a Location's `/communications/…`, the request ids' values.
/// (Ids, `null` members, extra members, the order and batching of
/// notifications are free for every contract.)
const FREEDOMS: Freedoms = Freedoms {
    case_insensitive: &["status"],
    optional: &["@odata.type"],
    location_from: Some("/communications/"),
    headers_present: &["request-id", "client-request-id"],
};

/// The items of a `commsNotifications` body: its `value`.
fn comms_notifications(body: &Value) -> Vec<&Value> {
    body.get("value")
        .and_then(Value::as_array)
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

impl Contract for InviteContract {
    fn description(&self) -> &Description {
        &self.description
    }

    fn create(&self, cx: &Context<'_>, kind: &str) -> Result<Fixture, FixtureError> {
        fixtures::prepare(cx, &self.options, kind)
    }

    fn ending(&self, fixture: &Fixture) -> Option<HttpRequest> {
        fixtures::ending(fixture)
    }

    fn start_embedded(&self, runtime: &tokio::runtime::Handle) -> Result<(String, Guard), String> {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = runtime.spawn(invite_reference::serve(
            listener,
            invite_reference::Config::default(),
        ));
        Ok((format!("http://{addr}/v1.0"), Box::new(Embedded(server))))
    }

    fn properties(&self) -> Vec<Property> {
        crate::props::all(Arc::clone(&self.options))
    }

    fn unavailable(&self, kind: &str) -> Option<String> {
        fixtures::unavailable(&self.options, kind)
    }

    fn probe(&self, cx: &Context<'_>, kinds: &[String]) -> Result<(), String> {
        fixtures::probe(cx, &self.options, kinds)
    }

    fn lint_case(&self, case: &Value) -> Vec<(String, String)> {
        crate::lint::case(case)
    }

    fn recorded_case(&self, case: Value) -> Value {
        crate::lint::make_fair(case)
    }

    fn check_notifications(
        &self,
        schemas: &Schemas,
        documents: &[(usize, Result<Value, String>)],
    ) -> Vec<Check> {
        crate::offline::check(&self.description.invariants, schemas, documents)
    }
}

/// Stops the embedded server when the run's target goes.
struct Embedded(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Embedded {
    fn drop(&mut self) {
        self.0.abort();
    }
}
