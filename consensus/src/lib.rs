//! The Parallax BFT protocol: a HotStuff-style (2-chain, Jolteon / DiemBFT-v4 family)
//! consensus state machine.
//!
//! The state machine does no I/O and reads no clock: messages, timers, storage and payload
//! validation arrive as events and leave as actions, so a seeded simulation drives it.
//!
//! * [`Consensus`] is one validator: [`Consensus::handle`] takes an [`Event`] (a message, a
//!   timer, the application's answer about a payload, fetched blocks) and returns
//!   [`Action`]s (persist, send, broadcast, set a timer, build or validate a payload, commit,
//!   fetch a block, report evidence, or a rejection with its reason).
//! * Rounds each have a leader ([`leader`]: [`ValidatorSet::leader`], a rotation weighted by
//!   voting power, in which validators that stopped taking part lose their turns, as read
//!   from committed blocks only). A proposal carries its parent's QC, or the previous round's
//!   TC; votes go to the next leader; more than 2/3 of voting power that signed the same
//!   (round, height, block) forms a QC, verified like any received one before use. A block
//!   commits when it heads a 2-chain of certified blocks in consecutive rounds, with all its
//!   ancestors.
//! * The pacemaker re-sends a round's proposal and votes at mid-round, then times the round
//!   out with exponential backoff; more than 2/3 of timeouts form a TC; any valid QC or TC of
//!   a higher round moves a node forward, and a node answers a validator still in an
//!   earlier round with its certificates ([`SyncInfo`]).
//! * The safety rules ([`safety`]) and the persist-before-send contract ([`storage`]) make a
//!   validator never sign twice in a round, even across crashes.
//! * An equivocation (two proposals, votes or timeouts one validator signed for one round)
//!   becomes [`Evidence`] ([`evidence`]): verified against the signer's key, reported once,
//!   and gossiped so every validator learns it, not only the one that caught it.
//! * A validator whose safety data was lost or restored from an old copy signs nothing in
//!   rounds it may already have signed in ([`continuity`]), judged from the certificates it
//!   verifies after starting.
//! * [`proof`] holds the checks for what arrives from elsewhere: that a block, its next-round
//!   child and the child's QC prove the block committed (block sync), and that a relayed
//!   message is its author's.
//! * [`wire`] is the messages' form on the network (the protobufs of `parallax-proto`): the
//!   node gossips it and the simulator sends it, so the simulation runs the production
//!   encoding.
//!
//! The modules form a hierarchy: each imports only those of an earlier layer.
//!
//! 1. `primitives` (rounds, heights, validator indices, hashes, signatures) and [`codec`].
//! 2. [`crypto`] (the signing messages, signing and verification), [`validators`],
//!    `rejection` (why an input is refused: [`Rejection`]) and [`continuity`].
//! 3. `block` ([`Block`], [`BlockInfo`]), then `certificate` (votes, timeouts, QCs and TCs),
//!    then [`evidence`] (two votes, timeouts or proposals one validator signed for a round).
//! 4. [`types`]: the messages ([`Message`], [`Proposal`], [`SyncInfo`]), re-exporting the
//!    values of the layers below, which is where other crates name them.
//! 5. [`leader`], [`safety`] and [`storage`], [`proof`], [`wire`]; the state machine last.
//!
//! The deterministic simulator, which runs many validators over a simulated network with
//! faults and checks safety, liveness, determinism and bounded memory, is a crate of its own
//! (`parallax-consensus-sim`) that drives this one through its public API only.

mod block;
mod certificate;
pub mod codec;
pub mod continuity;
pub mod crypto;
pub mod evidence;
pub mod leader;
mod primitives;
pub mod proof;
mod rejection;
pub mod safety;
mod state_machine;
pub mod storage;
pub mod types;
pub mod validators;
pub mod wire;

pub use codec::DecodeError;
pub use evidence::{Evidence, EvidenceKind, EvidencePool, SignedProposal, SignedTimeout};
pub use leader::{LeaderElection, Reputation};
pub use rejection::Rejection;
pub use safety::{SafetyData, SafetyViolation};
pub use state_machine::{
    Action, Config, ConfigError, Consensus, Event, Footprint, Limits, Recovery, Timing,
};
pub use storage::{MemoryStorage, SafetyStorage};
pub use types::{
    Block, BlockInfo, Hash, Height, Message, Proposal, QuorumCertificate, Round, Signature,
    SignedBy, SyncInfo, Timeout, TimeoutCertificate, TimeoutSignature, ValidatorIndex, Vote,
};
pub use validators::{ValidatorSet, ValidatorSetError};
