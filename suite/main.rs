//! The conformance suite for Microsoft Graph's `participant: invite`.
//!
//! `cargo test` runs every case against the embedded reference server;
//! `cargo test -- --target URL` runs the same trials against any implementation.

mod contract;
mod fixtures;
mod invariants;
mod lint;
mod notifications;
mod offline;
mod options;
mod props;

fn main() -> std::process::ExitCode {
    conformance_harness::main(
        conformance_harness::Settings::new(
            "Conformance suite for Microsoft Graph's participant: invite API",
        ),
        contract::InviteContract::new,
    )
}

/// mimalloc rather than the system allocator: with glibc's, allocation took
/// about a quarter of the CPU of a generated invite (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
