//! Why an input is refused: [`Rejection`], the reason that certificate and evidence
//! verification, the authenticity check of [`crate::proof`] and the state machine give when
//! they refuse a message (the state machine reports it in `Action::Rejected`). It sits low
//! so that the checks of every layer can name it.

use crate::primitives::{Round, ValidatorIndex};
use thiserror::Error;

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
