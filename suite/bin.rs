//! The conformance suite for Microsoft Graph's `participant: invite`, as a
//! program of its own: the same trials, options, output and exit codes as
//! `cargo test`'s (`invite-conformance --target URL`), with the case files
//! and schemas built in, so it runs from any folder.
//!
//! They are embedded here, in the program alone: the library and the test
//! binary read them from the checkout, so adding a case there recompiles
//! nothing. A case file edited in the checkout rebuilds this program (each
//! file is an `include_bytes!`); one added or removed does not until this
//! file is touched (cargo sees no folder's listing).

use include_dir::{include_dir, Dir};

static CASES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/cases");
static SCHEMAS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schemas");

fn main() -> std::process::ExitCode {
    invite_conformance::program::main(&invite_conformance::builtin::Builtin {
        cases: &CASES,
        schemas: &SCHEMAS,
    })
}

/// mimalloc rather than the system allocator, as in the test binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
