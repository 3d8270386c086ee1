//! The invite contract as the harness sees it: fixtures, invariants, properties,
//! and the embedded reference server as the default target.

use std::sync::Arc;

use conformance_harness::{
    Contract, Env, Envelope, Fixture, FixtureError, Invariant, Property, RerunOption,
};
use serde_json::Value;

use crate::options::CallOptions;
use crate::{fixtures, invariants};

pub struct InviteContract {
    invariants: Vec<Invariant>,
    options: Arc<CallOptions>,
}

impl InviteContract {
    pub fn new(options: CallOptions) -> Self {
        Self {
            invariants: invariants::all(),
            options: Arc::new(options),
        }
    }
}

/// The items of a `commsNotifications` body: its `value`.
fn comms_notifications(body: &Value) -> Vec<&Value> {
    body.get("value")
        .and_then(Value::as_array)
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

impl Contract for InviteContract {
    fn name(&self) -> &'static str {
        "invite-conformance"
    }

    fn title(&self) -> &'static str {
        "participant: invite"
    }

    fn default_fixture(&self) -> &'static str {
        "call"
    }

    fn fixture(&self, env: &Env, kind: &str) -> Result<Fixture, FixtureError> {
        fixtures::prepare(env, &self.options, kind)
    }

    fn unavailable(&self, kind: &str) -> Option<String> {
        fixtures::unavailable(&self.options, kind)
    }

    fn probe(&self, env: &Env, kinds: &[String]) -> Result<(), String> {
        fixtures::probe(env, &self.options, kinds)
    }

    fn release(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        fixtures::release(env, fixture)
    }

    fn end(&self, env: &Env, fixture: &Fixture) -> Result<(), String> {
        fixtures::end(env, fixture)
    }

    fn fixture_kinds(&self) -> &[&'static str] {
        fixtures::Kind::NAMES
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

    fn invariant_presets(&self) -> &[(&'static str, &'static [&'static str])] {
        invariants::PRESETS
    }

    fn profiles(&self) -> Vec<conformance_harness::Profile> {
        crate::invariants::PROFILES.to_vec()
    }

    fn properties(&self) -> Vec<Property> {
        crate::props::all(Arc::clone(&self.options))
    }

    fn envelope(&self) -> Envelope {
        comms_notifications
    }

    fn preflight_path(&self) -> Option<String> {
        Some(format!(
            "/communications/calls/{}",
            uuid::Uuid::new_v4().hyphenated()
        ))
    }

    fn rerun_options(&self) -> Vec<RerunOption> {
        self.options.rerun()
    }

    fn check_notifications(
        &self,
        schemas: &conformance_harness::Schemas,
        documents: &[(usize, Result<serde_json::Value, String>)],
    ) -> Vec<conformance_harness::Check> {
        crate::offline::check(&self.invariants, schemas, documents)
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
