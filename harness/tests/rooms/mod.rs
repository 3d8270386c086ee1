//! The rooms contract, shared by the rooms suite's program (`main.rs`) and
//! the self-test that runs it in-process against its faulty stub
//! (`rooms_faults.rs`).

pub mod contract;
pub mod invariants;
pub mod props;
pub mod stub;

/// This suite's settings: its case files and schemas wherever it runs
/// from, its variables under `ROOMS_` (the invite suite's `CONFORMANCE_*`
/// are not this one's), and what selects its binary for rerun lines.
pub fn settings() -> conformance_harness::Settings {
    conformance_harness::Settings {
        cases: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rooms/cases").into(),
        schemas: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rooms/schemas").into(),
        cargo_args: "-p conformance-harness --test rooms",
        env_prefix: "ROOMS_",
        ..conformance_harness::Settings::new(
            "Conformance suite for the rooms API (the harness's second contract)",
        )
    }
}
