//! The conformance suite for Microsoft Graph's `participant: invite`, as
//! the test `cargo test` runs: every case against the embedded reference
//! server, or with `-- --target URL` against any implementation.

fn main() -> std::process::ExitCode {
    invite_conformance::main()
}

/// mimalloc rather than the system allocator: with glibc's, allocation took
/// about a quarter of the CPU of a generated invite (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
