//! The machinery of a conformance suite for an HTTP API with webhook
//! notifications: options, trials (libtest-mimic), case files, the HTTP
//! exchange, the callback listener, fixtures, schemas, matching, rendering,
//! reports. It knows nothing of any API: a suite describes its contract
//! through [`Contract`], and runs it with [`main`] (a program: printing,
//! exit code) or [`run`] (in this process: the verdicts as data).
//!
//! The public API:
//! - running: [`main`], [`run`] (and [`run_shared`]) with their
//!   [`Settings`] and [`Options`] ([`parse_args`] reads options from
//!   arguments alone), what a run came to ([`RunOutcome`], [`TrialOutcome`],
//!   [`Status`], [`Exit`]), every check a suite can run ([`checks`]), and a
//!   run's parts held open for code that drives a target itself ([`hold`]);
//! - a contract: [`Contract`], its [`Description`] ([`FixtureKind`],
//!   [`Invariant`], [`Profile`], [`Envelope`]), what its code is given
//!   ([`Context`]: the [`Target`], [`RunOptions`], [`Schemas`] and the
//!   [`Scope`] of fixtures) and what it makes ([`Fixture`], [`Property`]);
//! - the parts its code reads: [`Exchange`] and its [`Memo`], the listener
//!   ([`Listener`], [`Mailbox`], [`Delivery`], [`notification_items`]),
//!   HTTP ([`HttpRequest`], [`HttpResponse`]);
//! - results as data: [`Check`], [`Level`], [`Detail`], [`Verdict`] and
//!   their parts, [`JsonPath`], [`Vars`];
//! - generated inputs: [`run_property`] and [`run_generated_case`], each
//!   input a [`Failure`] or not; [`render`] for the text;
//! - recording and comparing: the identities a run draws ([`Tenant`],
//!   `--tenant`), what a contract leaves free ([`Freedoms`], normalised by
//!   `--compare`), and the transcripts `--record` writes ([`transcript`]);
//! - reports already written: [`read_report`], [`merge_reports`] (a run
//!   split across machines), [`matrix`] (implementations side by side),
//!   and the program's `report` command, [`report_main`].

#![warn(clippy::print_stdout)]

mod captured;
mod case;
mod case_file;
pub mod case_schema;
mod catalog;
mod cli;
mod compare;
mod conclusion;
mod connlimit;
mod console;
mod contract;
mod discover;
mod error;
mod exchange;
mod fixture;
mod freedoms;
mod in_flight;
mod inprocess;
mod json_path;
mod junit;
mod kept;
mod known;
mod lint;
mod listener;
mod matching;
pub mod matrix;
mod options;
mod outcome;
mod parts;
mod plan;
mod profile;
mod prop;
mod record;
mod recording;
mod regressions;
pub mod render;
mod report;
mod report_html;
mod report_tool;
mod rerun;
mod route;
mod run_options;
mod runner;
pub mod sanitize;
mod schema;
mod seed;
mod selection;
mod session;
mod settings;
mod suggest;
mod sync;
mod target;
mod template;
mod tenant;
pub mod transcript;
mod trial;
mod undeclared;
mod verdict;

pub use catalog::{checks, LIST_CHECKS_HEADER};
pub use cli::{parse_args, NoOptions};
pub use console::{main, main_with_args, report_main};
pub use contract::{
    Context, Contract, Description, Exchange, Invariant, Memo, Pool, Property, PropertyRun, Scope,
};
pub use error::{CaseError, FixtureError, SetupError, TransportError};
pub use exchange::{HttpRequest, HttpResponse};
pub use fixture::{Fixture, FixtureKind, Unreleased};
pub use freedoms::Freedoms;
pub use inprocess::{hold, run, run_shared, Held};
pub use json_path::JsonPath;
pub use listener::{notification_items, whole_body, Delivery, Envelope, Listener, Mailbox};
pub use options::{Generation, GivenOption, Options};
pub use outcome::{
    Exit, RunOutcome, Status, TrialOutcome, EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_RAN_NOTHING,
};
pub use profile::Profile;
pub use prop::{
    run as run_property, run_case as run_generated_case, run_weighted as run_property_weighted,
};
pub use report::{merge_reports, CheckInfo};
pub use report_tool::read_report;
pub use run_options::RunOptions;
pub use schema::Schemas;
pub use settings::{Program, Settings};
pub use target::{Guard, Target};
pub use template::{fill_value as fill_placeholders, Vars};
pub use tenant::Tenant;
pub use undeclared::{Beyond, Undeclared};
pub use verdict::{
    Check, Detail, Difference, Failure, Level, Outcome, SchemaViolation, Verdict, Where,
};
