//! The invite contract's own options: calls a user lends to the suite, and
//! whether the target can create calls at all. Flattened into the
//! harness's, which reads each from its variable too
//! (`CONFORMANCE_GROUP_CALL_ID`) and repeats those given in rerun lines.

use clap::builder::FalseyValueParser;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct CallOptions {
    /// Lend this existing group call: it is invited into, never ended.
    #[arg(long, value_name = "ID")]
    pub group_call_id: Option<String>,

    /// Lend this existing peer-to-peer call: it is invited into, never ended.
    #[arg(long, value_name = "ID")]
    pub p2p_call_id: Option<String>,

    /// The target cannot create calls: cases and properties needing a fresh
    /// call are ignored before they run (with the reason) unless
    /// --group-call-id / --p2p-call-id lend one.
    #[arg(long, value_parser = FalseyValueParser::new())]
    pub no_create_calls: bool,
}

impl CallOptions {
    /// Calls may be created on the target.
    pub fn create_calls(&self) -> bool {
        !self.no_create_calls
    }
}
