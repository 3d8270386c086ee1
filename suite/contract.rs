//! The invite contract as the harness sees it: fixtures, invariants, properties,
//! and the embedded reference server as the default target.

use conformance_harness::error::FixtureError;
use conformance_harness::{Contract, Env, Fixture, Invariant, Property};

use crate::{fixtures, invariants};

pub struct InviteContract {
    invariants: Vec<Invariant>,
}

impl InviteContract {
    pub fn new() -> Self {
        Self {
            invariants: invariants::all(),
        }
    }
}

impl Contract for InviteContract {
    fn name(&self) -> &'static str {
        "invite-conformance"
    }

    fn title(&self) -> &'static str {
        "participant: invite"
    }

    fn fixture(&self, env: &Env, kind: &str) -> Result<Fixture, FixtureError> {
        fixtures::prepare(env, kind)
    }

    fn release(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        fixtures::release(env, fixture)
    }

    fn end(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        fixtures::end(env, fixture)
    }

    fn fixture_kinds(&self) -> &[&'static str] {
        fixtures::KINDS
    }

    fn invariants(&self) -> &[Invariant] {
        &self.invariants
    }

    fn schemas_used(&self) -> &[&'static str] {
        &[
            "invite-request.json",
            "inviteParticipantsOperation.json",
            "commsOperation.json",
            "commsNotifications.json",
            "participant.json",
            "call.json",
            "graph-error.json",
        ]
    }

    fn lint_case(&self, case: &serde_json::Value) -> Vec<(String, String)> {
        crate::lint::case(case)
    }

    fn properties(&self) -> Vec<Property> {
        crate::props::all()
    }

    fn check_notifications(
        &self,
        schemas: &conformance_harness::schema::Schemas,
        documents: &[(usize, Result<serde_json::Value, String>)],
    ) -> Vec<conformance_harness::Check> {
        crate::offline::check(schemas, documents)
    }

    fn start_embedded(
        &self,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(String, Box<dyn std::any::Any + Send + Sync>), String> {
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
}

/// Stops the embedded server when the run's environment goes.
struct Embedded(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Embedded {
    fn drop(&mut self) {
        self.0.abort();
    }
}
