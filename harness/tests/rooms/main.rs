//! A second contract on the same harness: a small webhook-style "rooms" API,
//! its stub, cases, schemas, invariants and property, all in this test. It
//! proves the harness is a library that knows nothing of the invite API:
//! nothing under `harness/src` names rooms.
//!
//! The API:
//! - `POST /rooms` with `{"callbackUrl": URL}` → `201`, the room `{id, callbackUrl}`;
//!   the callback then receives `{"events": [{"type": "room.opened", "room": id}]}`.
//! - `POST /rooms/{id}/messages` with `{"text": TEXT}` (1 to 1000 characters) →
//!   `201`, `Location: …/rooms/{id}/messages/{msgId}`, the message `{id, text}`;
//!   the callback then receives `{"type": "message.posted", "room": id, "message": {id, text}}`.
//! - `DELETE /rooms/{id}` → `204`.
//! - Errors: a `4xx` with `{"error": "…"}`.
//!
//! `cargo test -p conformance-harness --test rooms` runs it against the
//! embedded stub (`stub.rs`); `-- --target URL --token-env VAR` against any
//! implementation (the `CONFORMANCE_*` variables are the invite suite's and
//! are not read here: see [`hermetic_environment`]). Its cases and schemas
//! are found through [`conformance_harness::Settings`], wherever it runs from.

mod contract;
mod invariants;
mod props;
mod stub;

use std::process::ExitCode;

/// This suite's case files and schemas, wherever the binary runs from.
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rooms/cases");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rooms/schemas");

fn main() -> ExitCode {
    hermetic_environment();
    conformance_harness::main(
        conformance_harness::Settings {
            cases: CASES.into(),
            schemas: SCHEMAS.into(),
            cargo_args: "-p conformance-harness --test rooms",
            ..conformance_harness::Settings::new(
                "Conformance suite for the rooms API (the harness's second contract)",
            )
        },
        contract::RoomsContract::new,
    )
}

/// The harness reads every option from a `CONFORMANCE_*` variable too, and
/// those in this process's environment are meant for the invite suite
/// (`CONFORMANCE_TARGET=… cargo test --workspace` must not point this test
/// at Graph, nor `CONFORMANCE_REPORT` make it overwrite the invite report):
/// they are dropped. Flags on the command line still reach the harness.
/// Done first, before any thread exists.
fn hermetic_environment() {
    let inherited: Vec<std::ffi::OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("CONFORMANCE_"))
        .collect();
    for name in inherited {
        std::env::remove_var(name);
    }
}
