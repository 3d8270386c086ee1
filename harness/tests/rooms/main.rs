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
//! embedded stub (`stub.rs`); `-- --target URL` against any implementation,
//! its token in `ROOMS_TOKEN`. Its options read `ROOMS_*` variables: the
//! invite suite's `CONFORMANCE_*` are not this one's.

#[path = "mod.rs"]
mod rooms;

fn main() -> std::process::ExitCode {
    let fault = std::env::var_os(rooms::stub::FAULT_VAR).map(|v| v.to_string_lossy().into_owned());
    conformance_harness::main(rooms::settings(), |options| {
        rooms::contract::RoomsContract::new(options, rooms::stub::Fault::named(fault))
    })
}
