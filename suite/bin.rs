//! The conformance suite for Microsoft Graph's `participant: invite`, as a
//! program of its own: the same trials, options, output and exit codes as
//! `cargo test`'s (`invite-conformance --target URL`).

fn main() -> std::process::ExitCode {
    invite_conformance::main()
}

/// mimalloc rather than the system allocator, as in the test binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
