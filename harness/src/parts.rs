//! The parts of a run that talks to the target, set up on first use:
//! what talks to the target, the options as the trials read them, the
//! register of fixtures, and the schemas; and what ends what the run left.

use std::path::Path;
use std::sync::Arc;

use crate::contract::{Contract, Scope};
use crate::error::{chain, SetupError};
use crate::exchange::Limits;
use crate::fixture::Register;
use crate::known::KnownFailures;
use crate::listener::Caps;
use crate::options::{defaults, Options};
use crate::profile::Profile;
use crate::record::Record;
use crate::rerun::RerunArgs;
use crate::run_options::RunOptions;
use crate::schema::Schemas;
use crate::settings::Settings;
use crate::target::{Reach, Target};

/// What a run's parts are made from.
pub(crate) struct Setup<'a> {
    pub settings: &'a Settings,
    pub options: &'a Options,
    pub schemas_dir: &'a Path,
    pub schemas: &'a Arc<Schemas>,
    pub contract: &'a dyn Contract,
    pub profile: &'a Profile,
    pub known: &'a Arc<KnownFailures>,
    /// The fixture kinds the trials that will run need: what the probe tries.
    pub probe_kinds: &'a [String],
    /// Where a note for the console goes.
    pub record: &'a Record,
}

/// The parts of a run that talks to the target, set up on first use.
pub(crate) struct Parts {
    pub target: Target,
    pub options: RunOptions,
    pub register: Register,
    pub schemas: Arc<Schemas>,
}

impl Parts {
    /// Sets the parts up: the schemas the contract uses are there, the
    /// target (or the embedded implementation) answers and takes the token,
    /// the listener listens; against a target the user gave, the contract's
    /// probe finds no set-up wrong for every trial.
    pub fn build(setup: &Setup<'_>) -> Result<Self, String> {
        let schemas = Arc::clone(setup.schemas);
        let description = setup.contract.description();
        let missing: Vec<&str> = description
            .schemas_used
            .iter()
            .copied()
            .filter(|name| !schemas.has(name))
            .collect();
        if !missing.is_empty() {
            return Err(chain(&SetupError::Schema {
                path: setup.schemas_dir.to_owned(),
                message: format!(
                    "the suite validates with {}, missing from this folder (--schemas DIR names another)",
                    missing.join(", ")
                ),
            }));
        }
        let o = setup.options;
        let tenant = match &o.tenant {
            Some(file) => {
                let kinds: Vec<&str> = description.identities.iter().map(|(k, _)| *k).collect();
                crate::tenant::Tenant::load(file, &kinds).map_err(|e| chain(&e))?
            }
            None => crate::tenant::Tenant::samples(description.identities),
        };
        if tenant.file.is_some() {
            setup.record.note(format!(
                "note: identities from the tenant profile {}",
                tenant.describe()
            ));
        }
        let response_timeout = o
            .response_timeout_ms
            .or(tenant.timeouts.response_ms)
            .map_or_else(|| o.response_timeout(), std::time::Duration::from_millis);
        let notification_timeout = o
            .notification_timeout_ms
            .or(tenant.timeouts.notification_ms)
            .map_or_else(
                || o.notification_timeout(),
                std::time::Duration::from_millis,
            );
        let runtime = crate::target::runtime().map_err(|e| chain(&e))?;
        let token = o.token.clone().filter(|t| !t.is_empty());
        // Every excerpt, wherever it is cut, redacts it first.
        crate::sanitize::register_secrets(token.as_slice());
        let (base, embedded) = match &o.target {
            Some(url) => (url.clone(), None),
            None => {
                let (base, guard) = setup
                    .contract
                    .start_embedded(runtime.handle())
                    .map_err(|e| chain(&SetupError::Embedded(e)))?;
                (base, Some(guard))
            }
        };
        let token_env = crate::rerun::token_env(setup.settings, o);
        if token.is_none() && embedded.is_none() {
            setup.record.note(format!(
                "note: {token_env} is not set; requests to the target go without Authorization"
            ));
        }
        let rerun = RerunArgs::new(setup.settings, o, token.is_some() && embedded.is_none());
        // The embedded implementation accepts any bearer token; one is sent
        // so auth is exercised.
        let token = token.or_else(|| embedded.as_ref().map(|_| "embedded-token".to_owned()));
        let reach = Reach {
            base,
            token: token.clone(),
            limits: Limits {
                timeout: response_timeout,
                max_body: 8 << 20,
                retry_budget_secs: o.retry_budget_secs.unwrap_or(defaults::RETRY_BUDGET_SECS),
                follow_redirects: o.follow_redirects,
            },
            listen: o.listen().to_owned(),
            callback_url: o.callback_url.clone(),
            caps: Caps {
                max_connections: o
                    .listener_max_connections
                    .unwrap_or(defaults::LISTENER_MAX_CONNECTIONS)
                    as usize,
                max_per_address: o
                    .listener_max_per_address
                    .unwrap_or(defaults::LISTENER_MAX_PER_ADDRESS)
                    as usize,
            },
            envelope: description.envelope,
        };
        let preflight = description
            .preflight_path
            .as_deref()
            .map(|path| (path, token_env.as_str()));
        let target = Target::open(runtime, reach, embedded, preflight).map_err(|e| chain(&e))?;
        let options = RunOptions {
            strict: o.strict,
            profile: *setup.profile,
            notification_timeout,
            target: o.target.clone(),
            save_failures: o.save_failures.clone(),
            notifications: !o.no_notifications,
            workers: o.tests.test_threads.unwrap_or(crate::prop::MAX_WORKERS),
            selection: o.selection(),
            seeding: o.seed.unwrap_or_default(),
            in_flight: Arc::new(crate::in_flight::InFlight::new(
                o.max_in_flight.unwrap_or(defaults::MAX_IN_FLIGHT as usize),
            )),
            generation: o.generation_with_budget(),
            regressions: crate::regressions::Keeping::for_target(
                o.regressions.as_deref(),
                o.target.as_deref(),
                o.generation.forget_failures,
            ),
            rerun,
            secrets: token.into_iter().collect(),
            known: Arc::clone(setup.known),
            tenant: Arc::new(tenant),
            record: o.record.clone(),
            record_cases: o.record_cases.clone(),
            compare: o.compare.clone(),
        };
        if let Some(dir) = &o.compare {
            let index = dir.join(crate::transcript::INDEX);
            if !index.is_file() {
                return Err(format!(
                    "--compare {}: no recording there ({} is missing; --record DIR makes one)",
                    dir.display(),
                    index.display()
                ));
            }
        }
        if let Some(dir) = &o.record {
            crate::recording::write_index(
                dir,
                description.name,
                o.target.as_deref(),
                &options.tenant,
            )
            .map_err(|e| chain(&e))?;
        }
        let parts = Self {
            target,
            options,
            register: Register::default(),
            schemas,
        };
        if o.target.is_some() {
            let scope = parts.scope(setup.contract);
            let probed = setup.contract.probe(&scope.context(), setup.probe_kinds);
            scope.release();
            probed.map_err(|e| format!("the set-up is wrong for every trial, so none ran: {e}"))?;
        }
        Ok(parts)
    }

    /// A trial's scope of fixtures.
    pub fn scope<'a>(&'a self, contract: &'a dyn Contract) -> Scope<'a> {
        Scope::new(
            contract,
            &self.register,
            &self.target,
            &self.options,
            &self.schemas,
        )
    }

    /// Ends what the suite still owns on the target (a trial that panicked
    /// left it, say); what could not be ended, run-wide, as one note.
    pub fn release_leftovers(&self, contract: &dyn Contract) -> Option<String> {
        for fixture in self.register.owned() {
            let ended = self
                .register
                .end(&self.target, &fixture, |f| contract.ending(f));
            if let Err(answer) = ended {
                self.register.unreleased(&fixture, answer);
            }
        }
        let left = self.register.unreleased_list();
        if left.is_empty() {
            return None;
        }
        let mut text = format!(
            "error: {} fixture(s) the suite created could not be ended and are still on the target; end them by hand:",
            left.len()
        );
        for u in &left {
            text.push_str(&format!(
                "\n  {} {}: {}",
                u.kind,
                crate::sanitize::line(&u.id),
                crate::sanitize::line(&u.answer)
            ));
        }
        Some(text)
    }
}
