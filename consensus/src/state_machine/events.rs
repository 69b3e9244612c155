//! The state machine's interface: the events that come in and the actions that go out
//! (an input it refuses is an [`Action::Rejected`] with its [`Rejection`], defined with the
//! checks that refuse, in the crate's lower layers).

use crate::evidence::Evidence;
use crate::rejection::Rejection;
use crate::safety::SafetyData;
use crate::types::{Block, BlockInfo, Hash, Message, QuorumCertificate, Round, ValidatorIndex};
use std::time::Duration;

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
