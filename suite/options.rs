//! The invite contract's own options: calls a user lends to the suite, and
//! whether the target can create calls at all. Flattened into the harness's.

use clap::builder::FalseyValueParser;
use conformance_harness::RerunOption;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct CallOptions {
    /// Lend this existing group call: it is invited into, never ended.
    #[arg(long, env = "CONFORMANCE_GROUP_CALL_ID", value_name = "ID")]
    pub group_call_id: Option<String>,

    /// Lend this existing peer-to-peer call: it is invited into, never ended.
    #[arg(long, env = "CONFORMANCE_P2P_CALL_ID", value_name = "ID")]
    pub p2p_call_id: Option<String>,

    /// The target cannot create calls: cases and properties needing a fresh
    /// call are ignored before they run (with the reason) unless
    /// --group-call-id / --p2p-call-id lend one.
    #[arg(long, env = "CONFORMANCE_NO_CREATE_CALLS", value_parser = FalseyValueParser::new())]
    pub no_create_calls: bool,
}

impl CallOptions {
    /// Calls may be created on the target.
    pub fn create_calls(&self) -> bool {
        !self.no_create_calls
    }

    /// What a rerun line must repeat of these.
    pub fn rerun(&self) -> Vec<RerunOption> {
        let mut options = Vec::new();
        for (flag, var, value) in [
            (
                "--group-call-id",
                "CONFORMANCE_GROUP_CALL_ID",
                &self.group_call_id,
            ),
            (
                "--p2p-call-id",
                "CONFORMANCE_P2P_CALL_ID",
                &self.p2p_call_id,
            ),
        ] {
            if let Some(value) = value {
                options.push(RerunOption {
                    flag,
                    var,
                    value: value.clone(),
                });
            }
        }
        if self.no_create_calls {
            options.push(RerunOption {
                flag: "--no-create-calls",
                var: "CONFORMANCE_NO_CREATE_CALLS",
                value: String::new(),
            });
        }
        options
    }
}
