//! The state machine's interface: the events that come in, the actions that go out, and
//! the reasons an input is refused.

use crate::evidence::Evidence;
use crate::safety::SafetyData;
use crate::types::{Block, BlockInfo, Hash, Message, QuorumCertificate, Round, ValidatorIndex};
use std::time::Duration;
use thiserror::Error;

/// What comes into the state machine.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message from a validator (`from` is the peer that delivered it).
    Message {
        /// The delivering peer.
        from: ValidatorIndex,
        /// The message.
        message: Message,
    },
    /// A timer set by [`Action::SetTimer`] fired.
    TimerFired {
        /// The timer's round.
        round: Round,
    },
    /// The application built the payload asked for by [`Action::BuildPayload`].
    PayloadBuilt {
        /// The round it is for.
        round: Round,
        /// The parent block it builds on.
        parent: Hash,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The application's verdict on a payload asked for by [`Action::ValidatePayload`].
    PayloadValidated {
        /// The block.
        block_id: Hash,
        /// Whether the payload is valid (in the node: re-executed with the same state root).
        valid: bool,
    },
    /// Blocks answering [`Action::FetchBlock`]: the asked-for block first, then its
    /// ancestors, each the parent of the one before.
    BlockFetched {
        /// The blocks.
        blocks: Vec<Block>,
    },
    /// The network connected (or reconnected) to a validator. What this node sent in the
    /// current round is sent again (at most once per validator and round), with this node's
    /// certificates to that validator: after a partition heals, the messages lost during it
    /// are not waited for until the next timer, which backs off.
    PeerConnected {
        /// The validator.
        validator: ValidatorIndex,
    },
}

/// What the state machine asks its driver to do, in order. See [`crate::storage`] for the
/// persist-before-send contract.
#[derive(Clone, Debug)]
pub enum Action {
    /// Durably store this safety data before doing any later action of the same list.
    Persist(Box<SafetyData>),
    /// Durably store this uncommitted block (to hand back in [`Recovery::blocks`]) before
    /// doing any later action of the same list. Emitted before this node votes for the
    /// block, so a certified block survives even if every validator restarts.
    StoreBlock(Block),
    /// Send to one validator.
    Send {
        /// The recipient.
        to: ValidatorIndex,
        /// The message.
        message: Message,
    },
    /// Send to every other validator.
    Broadcast {
        /// The message.
        message: Message,
    },
    /// Deliver [`Event::TimerFired`] for `round` after `duration`.
    SetTimer {
        /// The round.
        round: Round,
        /// How long from now.
        duration: Duration,
    },
    /// Build a payload on `parent` for this node's proposal in `round`; answer with
    /// [`Event::PayloadBuilt`].
    BuildPayload {
        /// The round.
        round: Round,
        /// The parent block.
        parent: BlockInfo,
    },
    /// Validate a proposed block's payload; answer with [`Event::PayloadValidated`]. The node
    /// votes only after a `valid: true` answer.
    ValidatePayload {
        /// The block.
        block: Block,
    },
    /// The block is final. Reported in height order, each exactly once.
    Commit {
        /// The block.
        block: Block,
        /// The QC of the 2-chain's second block, proving the commit (with that block's parent
        /// QC).
        commit_qc: QuorumCertificate,
    },
    /// Fetch block `id` and up to `ancestors` of its ancestors from a peer; answer with
    /// [`Event::BlockFetched`]. `id` is always certified, so the answer is authenticated by
    /// its hash.
    FetchBlock {
        /// The block wanted.
        id: Hash,
        /// How many ancestors to include at most.
        ancestors: u32,
        /// A peer likely to have it.
        from: ValidatorIndex,
    },
    /// A validator equivocated: verified evidence, reported once per (culprit, round, kind)
    /// this node remembers (see [`EvidencePool`]), whether this node caught it or a peer
    /// gossiped it. What this node caught itself is also broadcast.
    ReportEvidence(Evidence),
    /// An input was refused (for metrics and peer scoring).
    Rejected {
        /// The peer that delivered it.
        from: ValidatorIndex,
        /// Why.
        reason: Rejection,
    },
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// A signer or author index not in the validator set.
    #[error("unknown validator {0}")]
    UnknownValidator(ValidatorIndex),
    /// A certificate names one signer twice.
    #[error("certificate counts validator {0} twice")]
    DuplicateSigner(ValidatorIndex),
    /// A signature does not verify.
    #[error("invalid signature on {0}")]
    InvalidSignature(&'static str),
    /// A certificate's signers hold too little voting power.
    #[error("{0} without a quorum of voting power")]
    NoQuorum(&'static str),
    /// A message about a round that is over.
    #[error("stale round {round} (current {current})")]
    StaleRound {
        /// The message's round.
        round: Round,
        /// The node's round.
        current: Round,
    },
    /// A message too far ahead to keep.
    #[error("round {round} is too far ahead (current {current})")]
    FutureRound {
        /// The message's round.
        round: Round,
        /// The node's round.
        current: Round,
    },
    /// A proposal by a validator that does not lead its round.
    #[error("validator {author} is not the leader of round {round}")]
    NotLeader {
        /// The proposal's round.
        round: Round,
        /// Its author.
        author: ValidatorIndex,
    },
    /// A vote sent to a node that does not lead the next round.
    #[error("vote for round {0} sent to a node that does not lead round {0} + 1")]
    NotNextLeader(Round),
    /// Structurally inconsistent content.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A proposal for a round that already has one by another validator: this node took
    /// that one for the leader before a commit changed its view of the round's leader.
    #[error("round {round} already has a proposal by another leader than {author}")]
    LeaderChanged {
        /// The round.
        round: Round,
        /// The second proposal's author.
        author: ValidatorIndex,
    },
    /// A second, different proposal or vote for one round by one key.
    #[error("validator {author} equivocated in round {round}")]
    Equivocation {
        /// The validator.
        author: ValidatorIndex,
        /// The round.
        round: Round,
    },
    /// Already seen.
    #[error("duplicate")]
    Duplicate,
    /// The application rejected the proposal's payload.
    #[error("invalid payload")]
    InvalidPayload,
    /// Blocks that were not asked for.
    #[error("unsolicited blocks")]
    Unsolicited,
}
