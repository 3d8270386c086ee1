//! The rules the server follows: the contract's numbers, the server's
//! timing, and the few decisions a fault or a variant may turn. The correct
//! code asks them by name (`rules.decide(Decision::AcceptInviteOnUnknownCall)`,
//! `rules.group_invitees`) and never which fault or variant is on.

use std::time::Duration;

use crate::config::Config;
use crate::resources::OperationStatus;

/// A choice of the server that a fault or a variant may turn; the correct
/// server makes none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Serve a request that carries no bearer token.
    AcceptWithoutToken,
    /// Parse a body as JSON whatever its Content-Type says.
    ParseAnyContentType,
    /// Accept an invite whose participants array is empty.
    AcceptEmptyParticipants,
    /// Read a body that is not a JSON object as `{}`, and an invite that
    /// names no participants as one inviting nobody: a lax mock's reading.
    ReadUnparseableAsEmpty,
    /// Accept a participant (or a create-call target) without an identity,
    /// or with one naming nobody.
    AcceptEmptyIdentity,
    /// Answer an invite on a call that was deleted (nothing follows).
    AcceptInviteOnEndedCall,
    /// Answer an invite on a call id never given out (nothing follows).
    AcceptInviteOnUnknownCall,
    /// Serve invites only on `.../participants/invite`, not on the
    /// namespaced `.../participants/microsoft.graph.invite`.
    RefuseNamespacedPath,
    /// Answer every GET of an operation 404.
    HideOperations,
    /// End every invite failed: nobody joins.
    FailInvites,
    /// Complete an invite before answering it, the response then saying so.
    CompleteBeforeAnswering,
    /// Tell the bot, by notification, that an invite runs.
    AnnounceProgress,
    /// Move every participant of a move, not only the first.
    MoveEveryParticipant,
    /// Leave a moved participant in the call it moved out of.
    KeepMovedInOldCall,
    /// Leave a replaced peer-to-peer call live.
    KeepReplacedCalls,
    /// Keep the operations of an ended call readable.
    KeepOperationsOfEndedCalls,
    /// Forget an operation once its end has been announced by notification.
    ForgetAnnouncedOperations,
    /// Name calls, operations and participants `call-0001`..., not by GUIDs.
    NumberIds,
}

/// The numbers and decisions one server runs with, fixed for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Longest `clientContext`, in UTF-16 code units as Graph's .NET
    /// services count string length.
    pub(crate) client_context: usize,
    /// Most participants one invite may add to a group call.
    pub(crate) group_invitees: usize,
    /// Most participants one invite may add to a peer-to-peer call.
    pub(crate) p2p_invitees: usize,
    /// The status an invite is answered with while it runs.
    pub(crate) first_status: OperationStatus,
    /// How long an invite stays running before it completes.
    pub(crate) operation_delay: Duration,
    /// How long every answer is held before it leaves.
    pub(crate) answer_delay: Duration,
    /// Most notification items one POST carries.
    pub(crate) items_per_post: usize,
    decisions: u32,
}

// A u32 holds the decisions only while there are at most 32.
const _: () = assert!((Decision::NumberIds as u32) < 32);

impl Rules {
    /// The rules of the correct server with `config`'s timing.
    pub(crate) fn new(config: &Config) -> Rules {
        Rules {
            client_context: 256,
            group_invitees: 5,
            p2p_invitees: 1,
            first_status: OperationStatus::Running,
            operation_delay: config.operation_delay,
            answer_delay: Duration::ZERO,
            // Graph batches notifications; a bounded POST keeps one slow
            // callback from holding a large body.
            items_per_post: 16,
            decisions: 0,
        }
    }

    /// Whether the server makes `decision`; one bit test, asked on every
    /// request.
    pub(crate) fn decide(&self, decision: Decision) -> bool {
        self.decisions & (1 << decision as u32) != 0
    }

    /// The same rules, making `decision` too.
    pub(crate) fn with(mut self, decision: Decision) -> Rules {
        self.decisions |= 1 << decision as u32;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_made_only_once_turned() {
        let rules = Rules::new(&Config::default());
        assert!(!rules.decide(Decision::AcceptWithoutToken));
        let turned = rules
            .with(Decision::AcceptWithoutToken)
            .with(Decision::NumberIds);
        assert!(turned.decide(Decision::AcceptWithoutToken));
        assert!(turned.decide(Decision::NumberIds));
        assert!(!turned.decide(Decision::FailInvites));
    }
}
