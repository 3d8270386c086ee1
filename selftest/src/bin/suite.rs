//! The suite's program, built for the self-tests that must see it as a
//! user does (its console, its exit codes, nextest, its memory): they name
//! it with `env!("CARGO_BIN_EXE_suite")`, and cargo builds it before them.

fn main() -> std::process::ExitCode {
    invite_conformance::main()
}

/// The allocator of the suite's own programs, so memory is measured as users run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
