//! The consensus state machine: `handle(event) -> actions`.

use crate::continuity::Continuity;
use crate::crypto;
use crate::evidence::{Evidence, EvidencePool, SignedProposal, SignedTimeout};
use crate::leader::{LeaderElection, Reputation};
use crate::safety::SafetyData;
use crate::types::{
    Block, BlockInfo, Hash, Height, Message, Proposal, QuorumCertificate, Round, SignedBy,
    SyncInfo, Timeout, TimeoutCertificate, TimeoutSignature, ValidatorIndex, Vote,
};
use crate::validators::ValidatorSet;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;
use thiserror::Error;
use tracing::{debug, error, info, warn};

/// Round timer settings (the genesis file's `consensus` section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Timeout of a round entered through a QC of the previous round.
    pub base_timeout: Duration,
    /// Largest timeout.
    pub max_timeout: Duration,
    /// Each round since the highest QC multiplies the timeout by this many percent (≥ 100).
    pub backoff_percent: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            base_timeout: Duration::from_millis(2_000),
            max_timeout: Duration::from_millis(30_000),
            backoff_percent: 150,
        }
    }
}

impl Timing {
    /// The timeout of a round `rounds_since_qc` rounds after the highest QC's successor.
    pub fn timeout(&self, rounds_since_qc: u64) -> Duration {
        let max = self.max_timeout.as_millis();
        let mut ms = self.base_timeout.as_millis().min(max);
        for _ in 0..rounds_since_qc.min(128) {
            ms = ms * self.backoff_percent.max(100) as u128 / 100;
            if ms >= max {
                ms = max;
                break;
            }
        }
        Duration::from_millis(ms as u64)
    }
}

/// Bounds on everything the state machine keeps, so no input grows memory without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Votes and timeouts are kept only for rounds up to this far ahead of the current one.
    pub future_rounds: u64,
    /// Most uncommitted blocks kept.
    pub max_blocks: usize,
    /// Most ancestors asked for in one fetch.
    pub fetch_ancestors: u32,
    /// Most blocks being fetched at once.
    pub max_fetches: usize,
    /// Most certificate digests remembered as already verified.
    pub verified_cache: usize,
    /// Most QCs above the committed round kept for the commit rule.
    pub max_certified: usize,
    /// Most equivocations remembered as reported (see [`EvidencePool`]).
    pub evidence: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            future_rounds: 64,
            max_blocks: 512,
            fetch_ancestors: 64,
            max_fetches: 16,
            verified_cache: 256,
            max_certified: 64,
            evidence: 1024,
        }
    }
}

/// Everything the state machine is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The chain id, signed into every message.
    pub chain_id: u64,
    /// The validators.
    pub validators: ValidatorSet,
    /// The genesis block (round 0, height 0).
    pub genesis: BlockInfo,
    /// Round timers.
    pub timing: Timing,
    /// Memory bounds.
    pub limits: Limits,
    /// Leader reputation ([`crate::leader`]).
    pub reputation: Reputation,
}

/// What a (re)starting node knows from its disk.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The stored safety data; `None` only for a node that never ran.
    pub safety: Option<SafetyData>,
    /// The last block the application committed (the genesis block if none).
    pub committed: BlockInfo,
    /// The last committed blocks, in height order, ending with `committed` (the application
    /// keeps them), for leader reputation: [`LeaderElection::capacity`] `+ 1` of them
    /// (`Reputation::window + lag + 1`; more are ignored) so the node elects the same
    /// leaders as the others. Fewer, or none (a node restored from a snapshot), only risk
    /// disagreeing about leaders until new blocks commit.
    pub committed_blocks: Vec<Block>,
    /// The uncommitted blocks stored by [`Action::StoreBlock`] (any order; those at or
    /// below the committed height are ignored, and at most `Limits::max_blocks` are kept).
    pub blocks: Vec<Block>,
}

/// Why the state machine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The index is not a validator.
    #[error("validator index {0} is not in the validator set")]
    NotAValidator(ValidatorIndex),
    /// The key is not that validator's key.
    #[error("the signing key does not belong to validator {0}")]
    WrongKey(ValidatorIndex),
    /// The committed block is not at height 0 but claims to be genesis, or similar.
    #[error("the committed block does not match the genesis block")]
    GenesisMismatch,
    /// `Recovery::committed_blocks` is not a chain of consecutive blocks ending with the
    /// committed block.
    #[error("the recent committed blocks do not form a chain ending at the committed block")]
    CommittedChain,
}

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

#[derive(Debug, Default)]
struct VoteCollector {
    by_voter: HashMap<ValidatorIndex, Vote>,
    /// Power and signatures per message signed: a vote signs (round, height, block id), and
    /// the round is the collector's, so votes count together only when they agree on both
    /// the block and its height (a vote with the right block and a wrong height must not make
    /// the QC, whose height it would poison).
    by_message: HashMap<(Hash, Height), (u64, Vec<SignedBy>)>,
    done: bool,
}

#[derive(Debug)]
struct TimeoutCollector {
    by_author: HashMap<ValidatorIndex, TimeoutSignature>,
    power: u64,
    high_qc: QuorumCertificate,
    done: bool,
}

#[derive(Debug)]
struct Pending {
    proposal: Proposal,
    /// Sent to the application for validation.
    validating: bool,
}

#[derive(Debug, Clone, Copy)]
struct Fetch {
    from: ValidatorIndex,
    attempts: u32,
}

/// Sizes of everything the state machine holds, to check memory stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Uncommitted blocks.
    pub blocks: usize,
    /// QCs kept for the commit rule.
    pub certified: usize,
    /// Proposals remembered for equivocation checks.
    pub proposals: usize,
    /// Rounds with collected votes.
    pub vote_rounds: usize,
    /// Votes collected.
    pub votes: usize,
    /// Rounds with collected timeouts.
    pub timeout_rounds: usize,
    /// Timeouts collected.
    pub timeouts: usize,
    /// Blocks being fetched.
    pub fetches: usize,
    /// Verified certificate digests remembered.
    pub verified: usize,
    /// Committed blocks' records kept for leader reputation.
    pub leader_records: usize,
    /// Validators remembered as sent a [`Message::Sync`] (one entry each at most).
    pub synced: usize,
    /// Equivocations remembered as reported.
    pub evidence: usize,
}

/// A validator's consensus state machine.
///
/// Feed it [`Event`]s with [`Consensus::handle`]; carry out the returned [`Action`]s in order.
/// It does no I/O, reads no clock and never panics on input from a peer.
pub struct Consensus {
    cfg: Config,
    me: ValidatorIndex,
    key: SigningKey,
    safety: SafetyData,
    dirty: bool,
    round: Round,
    committed: BlockInfo,
    blocks: HashMap<Hash, Block>,
    certified: BTreeMap<Round, QuorumCertificate>,
    proposals: BTreeMap<Round, SignedProposal>,
    /// The current round's proposal, until voted on: waiting for its parent or for the
    /// application's verdict.
    pending: Option<Pending>,
    /// The round a payload was asked for.
    building: Option<Round>,
    votes: BTreeMap<Round, VoteCollector>,
    timeouts: BTreeMap<Round, TimeoutCollector>,
    fetches: VecDeque<(Hash, Fetch)>,
    verified: HashSet<Hash>,
    verified_order: VecDeque<Hash>,
    /// The leader schedule, with reputation from the last committed blocks.
    election: LeaderElection,
    /// This node's proposal of the current round (re-sent at mid-round).
    own_proposal: Option<Proposal>,
    /// The last vote, if its block is known to be durable (`StoreBlock` went out before it,
    /// or the block came back in `Recovery::blocks`): only such a vote may be sent again.
    resendable_vote: Option<Vote>,
    /// The round in which this node last re-sent to each reconnected validator.
    reconnected: HashMap<ValidatorIndex, Round>,
    /// The current round's timer is the mid-round one (see [`Consensus::on_timer`]).
    mid_round_pending: bool,
    /// For each validator sent a `Sync`, this node's round then: at most one per round each.
    synced: HashMap<ValidatorIndex, Round>,
    /// Equivocations already reported.
    evidence: EvidencePool,
    /// Whether the safety data may be trusted (see [`crate::continuity`]).
    continuity: Continuity,
    out: Vec<Action>,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus")
            .field("me", &self.me)
            .field("round", &self.round)
            .field("committed", &self.committed)
            .field("highest_qc", &self.safety.highest_qc.round)
            .finish_non_exhaustive()
    }
}

impl Consensus {
    /// Builds the state machine of validator `me` from what its disk holds. Call
    /// [`Consensus::start`] next.
    pub fn new(
        cfg: Config,
        me: ValidatorIndex,
        key: SigningKey,
        recovery: Recovery,
    ) -> Result<Self, ConfigError> {
        let Some(vk) = cfg.validators.key(me) else {
            return Err(ConfigError::NotAValidator(me));
        };
        if *vk != key.verifying_key() {
            return Err(ConfigError::WrongKey(me));
        }
        let committed = recovery.committed;
        if (committed.height == 0) != (committed.id == cfg.genesis.id) {
            return Err(ConfigError::GenesisMismatch);
        }
        // Missing safety data past genesis (a wiped database that block sync refilled, or
        // one whose safety entry was lost) is not an error: the node starts with none, and
        // the continuity rule keeps it from signing where it may have signed before.
        let mut continuity = Continuity::new(recovery.safety.is_none());
        let safety = recovery
            .safety
            .unwrap_or_else(|| SafetyData::new(cfg.genesis));
        // A committed block lists the signers of its parent's certificate: if this validator
        // is one, for a round its safety data does not reach, the data is behind (restored
        // from an older copy). It may have signed up to the block's own round.
        for b in &recovery.committed_blocks {
            if b.participants().contains(&me) && b.round() > 0 {
                let signed = b.round().saturating_sub(1);
                if let Some(floor) = continuity.on_own_signature(signed, safety.last_voted_round) {
                    warn!(
                        me,
                        block_round = b.round(),
                        last_voted_round = safety.last_voted_round,
                        floor,
                        "safety data is behind this validator's signatures in committed blocks: signing nothing up to round {floor}"
                    );
                }
            }
        }
        let recent = &recovery.committed_blocks;
        if let Some(last) = recent.last() {
            let chained = recent.windows(2).all(|w| {
                w[1].parent() == w[0].id()
                    && w[1].height() == w[0].height() + 1
                    && w[1].round() > w[0].round()
            });
            if !chained || last.id() != committed.id || last.height() != committed.height {
                return Err(ConfigError::CommittedChain);
            }
        }
        // The oldest block given only tells the round its child followed.
        let mut election = LeaderElection::new(cfg.reputation, committed.round);
        let skip = recent
            .len()
            .saturating_sub(election.capacity().saturating_add(1));
        if let Some((oldest, rest)) = recent[skip..].split_first() {
            election = LeaderElection::new(cfg.reputation, oldest.round());
            for b in rest {
                election.on_commit(&cfg.validators, b);
            }
        }
        // A crash can land between persisting a vote and storing its block: such a vote must
        // not be sent again (its block might be lost).
        let resendable_vote = safety
            .last_vote
            .clone()
            .filter(|v| recovery.blocks.iter().any(|b| b.id() == v.block_id));
        let round = safety.current_round();
        let evidence = EvidencePool::new(cfg.limits.evidence);
        let mut certified = BTreeMap::new();
        if safety.highest_qc.round > committed.round {
            certified.insert(safety.highest_qc.round, safety.highest_qc.clone());
        }
        Ok(Self {
            cfg,
            me,
            key,
            safety,
            dirty: false,
            round,
            committed,
            blocks: HashMap::new(),
            certified,
            proposals: BTreeMap::new(),
            pending: None,
            building: None,
            votes: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            fetches: VecDeque::new(),
            verified: HashSet::new(),
            verified_order: VecDeque::new(),
            election,
            own_proposal: None,
            resendable_vote,
            reconnected: HashMap::new(),
            mid_round_pending: false,
            synced: HashMap::new(),
            evidence,
            continuity,
            out: Vec::new(),
        })
        .map(|mut node: Self| {
            for b in recovery.blocks {
                node.insert_block(b);
            }
            node
        })
    }

    /// Starts (or restarts) the node in the round after its highest QC or TC: sets the round
    /// timer, re-sends a vote signed before a restart, and proposes if it leads the round.
    pub fn start(&mut self) -> Vec<Action> {
        info!(
            me = self.me,
            round = self.round,
            committed = self.committed.height,
            "consensus starting"
        );
        self.set_timer();
        if let Some(v) = self.resendable_vote.clone()
            && v.round + 1 == self.round
        {
            // The vote may have been lost in the crash; sending the same vote again is safe.
            self.route_vote(v);
        }
        self.try_propose();
        self.finish()
    }

    /// Handles one event and returns what to do, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Message { from, message } => {
                let result = match message {
                    Message::Proposal(p) => self.on_proposal(from, *p),
                    Message::Vote(v) => self.on_vote(v),
                    Message::Timeout(t) => self.on_timeout(t),
                    Message::Sync(s) => self.on_sync(*s),
                    Message::Evidence(e) => self.on_evidence(*e),
                };
                if let Err(reason) = result {
                    debug!(me = self.me, from, %reason, "message rejected");
                    self.out.push(Action::Rejected { from, reason });
                }
            }
            Event::TimerFired { round } => self.on_timer(round),
            Event::PayloadBuilt {
                round,
                parent,
                payload,
            } => self.on_payload_built(round, parent, payload),
            Event::PayloadValidated { block_id, valid } => {
                self.on_payload_validated(block_id, valid)
            }
            Event::BlockFetched { blocks } => {
                if let Err(reason) = self.on_blocks_fetched(blocks) {
                    self.out.push(Action::Rejected {
                        from: self.me,
                        reason,
                    });
                }
            }
            Event::PeerConnected { validator } => self.on_peer_connected(validator),
        }
        self.finish()
    }

    /// A validator (re)connected: send again what this node sent in the round, its timeout
    /// included, and its certificates to that validator, once per validator and round. The
    /// messages are the same signed messages as before, so no safety rule is involved.
    fn on_peer_connected(&mut self, validator: ValidatorIndex) {
        if validator == self.me || self.cfg.validators.key(validator).is_none() {
            return;
        }
        if self.reconnected.get(&validator) == Some(&self.round) {
            return;
        }
        self.reconnected.insert(validator, self.round);
        debug!(
            me = self.me,
            validator,
            round = self.round,
            "re-sending the round to a reconnected validator"
        );
        self.mid_round();
        if let Some(t) = self.safety.last_timeout.clone()
            && t.round == self.round
        {
            self.out.push(Action::Broadcast {
                message: Message::Timeout(t),
            });
        }
        self.out.push(Action::Send {
            to: validator,
            message: Message::Sync(Box::new(self.sync_info())),
        });
    }

    fn finish(&mut self) -> Vec<Action> {
        let mut out = std::mem::take(&mut self.out);
        if std::mem::take(&mut self.dirty) {
            out.insert(0, Action::Persist(Box::new(self.safety.clone())));
        }
        out
    }

    // ----- accessors -------------------------------------------------------------------

    /// This validator's index.
    pub fn me(&self) -> ValidatorIndex {
        self.me
    }
    /// The current round.
    pub fn round(&self) -> Round {
        self.round
    }
    /// While the safety data is missing or behind the network: the highest round in which
    /// this node signs nothing (see [`crate::continuity`]).
    pub fn signing_floor(&self) -> Option<Round> {
        self.continuity.floor()
    }
    /// The judgement on the safety data (see [`crate::continuity`]).
    pub fn continuity(&self) -> Continuity {
        self.continuity
    }
    /// Keeps what a previous state machine of this validator learnt about its safety data
    /// (the stricter judgement holds): call on a rebuilt state machine, before `start`.
    pub fn carry_continuity(&mut self, previous: Continuity) {
        self.continuity = self.continuity.merge(previous);
    }
    /// Whether the node currently refuses to sign in its round for lost safety data.
    pub fn signing_paused(&self) -> bool {
        !self.may_sign(self.round)
    }
    /// The safety data (as last handed out for persisting, plus any unpersisted change).
    pub fn safety(&self) -> &SafetyData {
        &self.safety
    }
    /// The highest QC seen.
    pub fn highest_qc(&self) -> &QuorumCertificate {
        &self.safety.highest_qc
    }
    /// The last committed block.
    pub fn committed(&self) -> BlockInfo {
        self.committed
    }
    /// The leader of `round`, as this node's committed chain elects it ([`crate::leader`]).
    pub fn leader(&self, round: Round) -> ValidatorIndex {
        self.election.leader(&self.cfg.validators, round)
    }
    /// The current round's timeout.
    pub fn round_timeout(&self) -> Duration {
        self.timeout_for(self.round)
    }
    /// An uncommitted block this node holds (to serve fetches).
    pub fn block(&self, id: &Hash) -> Option<&Block> {
        self.blocks.get(id)
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// How much the node holds.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            blocks: self.blocks.len(),
            certified: self.certified.len(),
            proposals: self.proposals.len(),
            vote_rounds: self.votes.len(),
            votes: self.votes.values().map(|c| c.by_voter.len()).sum(),
            timeout_rounds: self.timeouts.len(),
            timeouts: self.timeouts.values().map(|c| c.by_author.len()).sum(),
            fetches: self.fetches.len(),
            verified: self.verified.len(),
            leader_records: self.election.len(),
            synced: self.synced.len(),
            evidence: self.evidence.len(),
        }
    }

    /// The largest footprint the limits allow: any larger one is a bug.
    pub fn footprint_bound(&self) -> Footprint {
        let l = &self.cfg.limits;
        let n = self.cfg.validators.len();
        let rounds = l.future_rounds as usize + 2;
        Footprint {
            blocks: l.max_blocks,
            certified: l.max_certified,
            proposals: rounds,
            vote_rounds: rounds,
            votes: rounds * n,
            timeout_rounds: rounds,
            timeouts: rounds * n,
            fetches: l.max_fetches,
            verified: l.verified_cache,
            leader_records: self.election.capacity(),
            synced: n,
            evidence: self.evidence.capacity(),
        }
    }

    // ----- rounds and timers -------------------------------------------------------------

    /// A round entered through a QC of the previous round gets the base timeout, and so does
    /// the round after it: votes go to the next leader, so one crashed leader costs two
    /// rounds (the one whose votes it should have gathered, and its own). Backoff starts
    /// with the third round without a QC.
    fn timeout_for(&self, round: Round) -> Duration {
        let since = round.saturating_sub(self.safety.highest_qc.round.saturating_add(2));
        self.cfg.timing.timeout(since)
    }

    /// Arms the timer of a round just entered: it first fires at mid-round (to re-send what
    /// may have been lost), then at the round's timeout.
    fn set_timer(&mut self) {
        let duration = self.timeout_for(self.round) / 2;
        self.mid_round_pending = true;
        self.out.push(Action::SetTimer {
            round: self.round,
            duration,
        });
    }

    fn advance_round(&mut self, round: Round) {
        if round <= self.round {
            return;
        }
        debug!(
            me = self.me,
            from = self.round,
            to = round,
            "entering round"
        );
        self.round = round;
        self.pending = None;
        self.building = None;
        self.own_proposal = None;
        let keep_votes = round.saturating_sub(1);
        self.votes = self.votes.split_off(&keep_votes);
        self.timeouts = self.timeouts.split_off(&round);
        self.proposals = self.proposals.split_off(&keep_votes);
        self.set_timer();
        self.try_propose();
    }

    /// The round timer. Its first firing, at mid-round, re-sends what this node already sent
    /// in the round, in case the network lost it (a round whose quorum needs every honest
    /// validator fails on one lost message otherwise): the leader its proposal, a voter its
    /// vote, and a node still without a proposal its certificates to the leader (who may have
    /// missed how the round was entered). The second firing, at the timeout, times out;
    /// later ones re-broadcast the timeout until the round ends.
    fn on_timer(&mut self, round: Round) {
        if round != self.round {
            return;
        }
        if std::mem::take(&mut self.mid_round_pending) {
            self.mid_round();
            self.retry_fetches();
            let full = self.timeout_for(round);
            self.out.push(Action::SetTimer {
                round,
                duration: full - full / 2,
            });
            return;
        }
        self.local_timeout();
        self.retry_fetches();
        // Re-arm, so the timeout is re-broadcast until the round ends.
        let duration = self.timeout_for(round);
        self.out.push(Action::SetTimer { round, duration });
    }

    fn mid_round(&mut self) {
        let round = self.round;
        if let Some(p) = self.own_proposal.clone() {
            self.out.push(Action::Broadcast {
                message: Message::Proposal(Box::new(p)),
            });
        }
        if let Some(v) = self.resendable_vote.clone()
            && v.round == round
            && self.leader(round + 1) != self.me
        {
            self.route_vote(v);
        }
        let leader = self.leader(round);
        if leader != self.me && !self.proposals.contains_key(&round) {
            self.out.push(Action::Send {
                to: leader,
                message: Message::Sync(Box::new(self.sync_info())),
            });
        }
    }

    /// This node's highest certificates.
    fn sync_info(&self) -> SyncInfo {
        SyncInfo {
            highest_qc: self.safety.highest_qc.clone(),
            highest_tc: self
                .safety
                .highest_tc
                .clone()
                .filter(|tc| tc.round > self.safety.highest_qc.round),
        }
    }

    /// Answers a message from a validator behind this node's round with this node's
    /// certificates, at most once per validator and round of this node.
    fn help_behind(&mut self, to: ValidatorIndex) {
        if to == self.me || self.cfg.validators.key(to).is_none() {
            return;
        }
        if self.synced.get(&to).is_some_and(|r| *r >= self.round) {
            return;
        }
        self.synced.insert(to, self.round);
        self.out.push(Action::Send {
            to,
            message: Message::Sync(Box::new(self.sync_info())),
        });
    }

    /// Takes in another node's certificates. Only those that tell this node something (a
    /// higher QC, a TC that ends its round) are verified and used; a sync that brings
    /// nothing new is ignored (it is a peer's help, not an error).
    fn on_sync(&mut self, s: SyncInfo) -> Result<(), Rejection> {
        if let Some(tc) = &s.highest_tc
            && tc.round <= s.highest_qc.round
        {
            return Err(Rejection::Malformed("sync TC not above its QC"));
        }
        if s.highest_qc.round > self.safety.highest_qc.round {
            self.verify_qc(&s.highest_qc)?;
            self.process_qc(&s.highest_qc);
        }
        if let Some(tc) = &s.highest_tc
            && tc.round >= self.round
        {
            self.verify_tc(tc)?;
            self.process_tc(tc);
        }
        Ok(())
    }

    fn retry_fetches(&mut self) {
        // Ask again for blocks still missing, from another peer.
        let n = self.cfg.validators.len() as u32;
        for (id, f) in self.fetches.iter_mut() {
            f.attempts += 1;
            let mut from = (f.from + f.attempts) % n;
            if from == self.me {
                from = (from + 1) % n;
            }
            self.out.push(Action::FetchBlock {
                id: *id,
                ancestors: self.cfg.limits.fetch_ancestors,
                from,
            });
        }
    }

    fn local_timeout(&mut self) {
        let round = self.round;
        if let Some(t) = self.safety.last_timeout.clone()
            && t.round == round
        {
            self.out.push(Action::Broadcast {
                message: Message::Timeout(t),
            });
            return;
        }
        if !self.may_sign(round) {
            debug!(me = self.me, round, floor = ?self.continuity.floor(), "not timing out: recovering lost safety data");
            return;
        }
        if let Err(e) = self.safety.check_timeout(round) {
            warn!(me = self.me, round, error = %e, "safety rules refused to time out");
            return;
        }
        let mut t = Timeout::sign(
            self.cfg.chain_id,
            round,
            self.safety.highest_qc.clone(),
            self.me,
            &self.key,
        );
        t.tc = self
            .safety
            .highest_tc
            .clone()
            .filter(|tc| tc.round + 1 == round);
        self.safety.record_timeout(&t);
        self.dirty = true;
        debug!(me = self.me, round, "timing out");
        self.out.push(Action::Broadcast {
            message: Message::Timeout(t.clone()),
        });
        // Our own timeout counts towards the TC.
        let _ = self.add_timeout(t);
    }

    // ----- certificates ------------------------------------------------------------------

    fn remember_verified(&mut self, digest: Hash) {
        if self.verified.insert(digest) {
            self.verified_order.push_back(digest);
            while self.verified_order.len() > self.cfg.limits.verified_cache {
                if let Some(old) = self.verified_order.pop_front() {
                    self.verified.remove(&old);
                }
            }
        }
    }

    fn signer_key(&self, i: ValidatorIndex) -> Result<(VerifyingKey, u64), Rejection> {
        match (self.cfg.validators.key(i), self.cfg.validators.power(i)) {
            (Some(k), Some(p)) => Ok((*k, p)),
            _ => Err(Rejection::UnknownValidator(i)),
        }
    }

    /// Verifies a QC: the genesis QC exactly, or (once, then remembered) what
    /// [`QuorumCertificate::verify`] checks: a quorum of distinct known signers whose
    /// signatures verify in one batch.
    pub(crate) fn verify_qc(&mut self, qc: &QuorumCertificate) -> Result<(), Rejection> {
        if qc.round == 0 {
            return if *qc == QuorumCertificate::genesis(self.cfg.genesis) {
                Ok(())
            } else {
                Err(Rejection::Malformed(
                    "round-0 QC that is not the genesis QC",
                ))
            };
        }
        let digest = qc.digest();
        if self.verified.contains(&digest) {
            return Ok(());
        }
        qc.verify(self.cfg.chain_id, &self.cfg.validators)?;
        self.remember_verified(digest);
        Ok(())
    }

    /// Verifies a TC: a quorum of distinct known signers, each timeout signature valid (one
    /// batch), and a high QC that is valid and is the highest the signers reported.
    pub(crate) fn verify_tc(&mut self, tc: &TimeoutCertificate) -> Result<(), Rejection> {
        if tc.round == 0 || tc.high_qc.round >= tc.round {
            return Err(Rejection::Malformed("TC round"));
        }
        let digest = tc.digest();
        if self.verified.contains(&digest) {
            return Ok(());
        }
        if tc.signatures.len() > self.cfg.validators.len() {
            return Err(Rejection::Malformed("more signatures than validators"));
        }
        let mut seen = HashSet::new();
        let mut power = 0u64;
        let mut keys = Vec::with_capacity(tc.signatures.len());
        let mut sigs = Vec::with_capacity(tc.signatures.len());
        let mut msgs = Vec::with_capacity(tc.signatures.len());
        for s in &tc.signatures {
            let (k, p) = self.signer_key(s.signer)?;
            if !seen.insert(s.signer) {
                return Err(Rejection::DuplicateSigner(s.signer));
            }
            if s.high_qc_round >= tc.round {
                return Err(Rejection::Malformed(
                    "TC signer's QC round not below the TC",
                ));
            }
            power += p;
            keys.push(k);
            sigs.push(s.signature);
            msgs.push(crypto::timeout_message(
                self.cfg.chain_id,
                tc.round,
                s.high_qc_round,
            ));
        }
        if !self.cfg.validators.is_quorum(power) {
            return Err(Rejection::NoQuorum("TC"));
        }
        if tc.highest_hqc_round() != tc.high_qc.round {
            return Err(Rejection::Malformed(
                "TC high QC is not the highest reported",
            ));
        }
        self.verify_qc(&tc.high_qc)?;
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        if !crypto::verify_batch(&refs, &sigs, &keys) {
            return Err(Rejection::InvalidSignature("TC"));
        }
        self.remember_verified(digest);
        Ok(())
    }

    /// A verified certificate of `round` signed by `signers`: judges the safety data's
    /// continuity with it (see [`crate::continuity`]).
    fn check_continuity(&mut self, round: Round, mine: bool) {
        if let Some(floor) =
            self.continuity
                .on_certificate(round, mine, self.safety.last_voted_round)
        {
            warn!(
                me = self.me,
                certificate_round = round,
                last_voted_round = self.safety.last_voted_round,
                floor,
                "safety data is missing or behind the network: signing nothing up to round {floor}"
            );
        }
    }

    /// This validator's signature is in a certificate of round `signed` (seen as a block's
    /// participant, in the block of round `block_round`).
    fn note_own_signature(&mut self, signed: Round, block_round: Round) {
        if let Some(floor) = self
            .continuity
            .on_own_signature(signed, self.safety.last_voted_round)
        {
            warn!(
                me = self.me,
                block_round,
                last_voted_round = self.safety.last_voted_round,
                floor,
                "safety data is behind this validator's signatures in a block: signing nothing up to round {floor}"
            );
        }
    }

    /// Whether this node may sign a new message in `round` (the continuity rule; the safety
    /// rules apply on top).
    fn may_sign(&self, round: Round) -> bool {
        self.continuity.may_sign(round)
    }

    /// Takes in a verified QC: raises the highest QC, applies the commit rule, and moves to
    /// the round after it.
    fn process_qc(&mut self, qc: &QuorumCertificate) {
        let mine = qc.signatures.iter().any(|s| s.signer == self.me);
        self.check_continuity(qc.round, mine);
        if qc.round > self.safety.highest_qc.round {
            self.safety.highest_qc = qc.clone();
            self.dirty = true;
        }
        if qc.round > self.committed.round && !self.certified.contains_key(&qc.round) {
            self.certified.insert(qc.round, qc.clone());
            while self.certified.len() > self.cfg.limits.max_certified {
                self.certified.pop_first();
            }
            self.try_commit();
        }
        self.advance_round(qc.round + 1);
        // A commit may have made this node the leader of its round.
        self.try_propose();
    }

    fn process_tc(&mut self, tc: &TimeoutCertificate) {
        let mine = tc.signatures.iter().any(|s| s.signer == self.me);
        self.check_continuity(tc.round, mine);
        if tc.round > self.safety.highest_tc_round() {
            self.safety.highest_tc = Some(tc.clone());
            self.dirty = true;
        }
        self.process_qc(&tc.high_qc);
        self.advance_round(tc.round + 1);
    }

    // ----- blocks ------------------------------------------------------------------------

    fn known(&self, id: &Hash) -> Option<BlockInfo> {
        if *id == self.committed.id {
            Some(self.committed)
        } else {
            self.blocks.get(id).map(Block::info)
        }
    }

    /// Whether block `id` and all its ancestors down to the committed block are held, so the
    /// application can execute it. `Err(Some(missing))` names the first block to fetch;
    /// `Err(None)` means the chain does not reach the committed block (a branch that can
    /// never commit, which nothing should build or vote on).
    fn connected(&self, id: &Hash) -> Result<(), Option<Hash>> {
        let mut at = *id;
        // Each step goes one height down, so this ends within the held blocks.
        for _ in 0..=self.blocks.len() {
            if at == self.committed.id {
                return Ok(());
            }
            match self.blocks.get(&at) {
                Some(b) if b.height() > self.committed.height => at = b.parent(),
                Some(_) => return Err(None),
                None => return Err(Some(at)),
            }
        }
        Err(None)
    }

    fn insert_block(&mut self, block: Block) {
        if block.height() <= self.committed.height || self.blocks.contains_key(&block.id()) {
            return;
        }
        // Its participants signed its parent's certificate, of round `round - 1` at the
        // latest: if this validator is one and its safety data does not reach that round, the
        // data is behind (every block inserted here is authentic: verified with its proposal,
        // certified by hash, or read back from this node's disk).
        if block.round() > 0 && block.participants().contains(&self.me) {
            self.note_own_signature(block.round() - 1, block.round());
        }
        if self.blocks.len() >= self.cfg.limits.max_blocks {
            self.evict_block();
        }
        self.blocks.insert(block.id(), block);
    }

    /// Makes room by dropping the lowest-round block that is not an ancestor of the highest
    /// QC's block (the chain the next proposals and commits need).
    fn evict_block(&mut self) {
        let mut keep = HashSet::new();
        let mut cur = self.safety.highest_qc.block_id;
        while let Some(b) = self.blocks.get(&cur) {
            if !keep.insert(cur) {
                break;
            }
            cur = b.parent();
        }
        if let Some(p) = &self.pending {
            keep.insert(p.proposal.block.id());
        }
        let victim = self
            .blocks
            .values()
            .filter(|b| !keep.contains(&b.id()))
            .min_by_key(|b| (b.round(), b.id()))
            .map(Block::id);
        if let Some(id) = victim {
            self.blocks.remove(&id);
        }
    }

    fn want(&mut self, id: Hash, from: ValidatorIndex) {
        if self.known(&id).is_some() || self.fetches.iter().any(|(h, _)| *h == id) {
            return;
        }
        if self.fetches.len() >= self.cfg.limits.max_fetches {
            self.fetches.pop_front();
        }
        let from = if from == self.me {
            (self.me + 1) % self.cfg.validators.len() as u32
        } else {
            from
        };
        self.fetches.push_back((id, Fetch { from, attempts: 0 }));
        self.out.push(Action::FetchBlock {
            id,
            ancestors: self.cfg.limits.fetch_ancestors,
            from,
        });
    }

    fn fetch_source(&self, qc: &QuorumCertificate) -> ValidatorIndex {
        qc.signatures
            .iter()
            .map(|s| s.signer)
            .find(|s| *s != self.me)
            .unwrap_or(self.me)
    }

    fn on_blocks_fetched(&mut self, blocks: Vec<Block>) -> Result<(), Rejection> {
        let mut expected: Option<Hash> = None;
        let mut accepted = 0usize;
        let mut last: Option<Block> = None;
        for b in blocks {
            let id = b.id();
            match expected {
                None => {
                    let Some(pos) = self.fetches.iter().position(|(h, _)| *h == id) else {
                        break;
                    };
                    self.fetches.remove(pos);
                }
                Some(e) if e == id => {
                    if let Some(pos) = self.fetches.iter().position(|(h, _)| *h == id) {
                        self.fetches.remove(pos);
                    }
                }
                Some(_) => break,
            }
            if let Some(child) = &last
                && (child.height() != b.height() + 1 || child.round() <= b.round())
            {
                break;
            }
            if b.height() <= self.committed.height {
                break;
            }
            accepted += 1;
            expected = Some(b.parent());
            self.insert_block(b.clone());
            last = Some(b);
        }
        if accepted == 0 {
            return Err(Rejection::Unsolicited);
        }
        if let Some(b) = last
            && b.height() > self.committed.height + 1
        {
            let from = self.fetch_source(&self.safety.highest_qc.clone());
            self.want(b.parent(), from);
        }
        self.try_commit();
        self.resume_pending();
        self.try_propose();
        Ok(())
    }

    /// The 2-chain commit rule: a certified block whose parent is of the previous round
    /// commits that parent and its ancestors.
    fn try_commit(&mut self) {
        let qcs: Vec<QuorumCertificate> = self.certified.values().rev().cloned().collect();
        for qc in qcs {
            if qc.round <= self.committed.round {
                break;
            }
            let Some(b1) = self.blocks.get(&qc.block_id) else {
                let from = self.fetch_source(&qc);
                self.want(qc.block_id, from);
                continue;
            };
            let parent = b1.parent();
            let b1_round = b1.round();
            let Some(b0) = self.blocks.get(&parent) else {
                if parent != self.committed.id {
                    let from = self.fetch_source(&qc);
                    self.want(parent, from);
                }
                continue;
            };
            if b0.round() + 1 != b1_round || b0.height() <= self.committed.height {
                continue;
            }
            // Collect b0 and its uncommitted ancestors down to the committed block.
            let mut chain = vec![b0.clone()];
            while let Some(cur) = chain.last() {
                if cur.height() == self.committed.height + 1 {
                    if cur.parent() != self.committed.id {
                        error!(
                            me = self.me,
                            height = cur.height(),
                            "certified chain conflicts with the committed chain"
                        );
                        return;
                    }
                    break;
                }
                let p = cur.parent();
                match self.blocks.get(&p) {
                    Some(b) => chain.push(b.clone()),
                    None => {
                        let from = self.fetch_source(&qc);
                        self.want(p, from);
                        return;
                    }
                }
            }
            for block in chain.into_iter().rev() {
                info!(
                    me = self.me,
                    height = block.height(),
                    round = block.round(),
                    "commit"
                );
                self.committed = block.info();
                self.election.on_commit(&self.cfg.validators, &block);
                self.out.push(Action::Commit {
                    block,
                    commit_qc: qc.clone(),
                });
            }
            let (h, r) = (self.committed.height, self.committed.round);
            self.blocks.retain(|_, b| b.height() > h);
            self.certified = self.certified.split_off(&(r + 1));
            return;
        }
    }

    // ----- proposals ---------------------------------------------------------------------

    fn try_propose(&mut self) {
        let round = self.round;
        // Having signed anything in this round (our own proposal's vote, before a restart,
        // or a timeout) means we must not propose in it again: a second proposal would be
        // a different block, i.e. equivocation.
        if self.leader(round) != self.me
            || self.building == Some(round)
            || self.proposals.contains_key(&round)
            || self.safety.last_voted_round >= round
            || !self.may_sign(round)
        {
            return;
        }
        let qc = &self.safety.highest_qc;
        if qc.round + 1 != round && self.safety.highest_tc_round() + 1 != round {
            return;
        }
        let parent = qc.block();
        match self.connected(&parent.id) {
            Ok(()) => {
                self.building = Some(round);
                self.out.push(Action::BuildPayload { round, parent });
            }
            // The certified block or one of its ancestors is missing (e.g. after a restart,
            // holding only the blocks this node voted for): fetch it, then propose.
            Err(Some(missing)) => {
                let from = self.fetch_source(&qc.clone());
                self.want(missing, from);
            }
            Err(None) => {}
        }
    }

    fn on_payload_built(&mut self, round: Round, parent: Hash, payload: Vec<u8>) {
        if round != self.round || self.building != Some(round) {
            return;
        }
        self.building = None;
        let qc = self.safety.highest_qc.clone();
        if parent != qc.block_id || self.leader(round) != self.me {
            return;
        }
        if !self.may_sign(round) {
            return;
        }
        if let Some(first) = self.proposals.get(&round) {
            // Someone holding our key already proposed in this round: do not add a second.
            error!(me = self.me, round, first = ?first.block_id, "our key already proposed in this round");
            return;
        }
        let tc = if qc.round + 1 == round {
            None
        } else {
            self.safety.highest_tc.clone()
        };
        let participants = Proposal::participants(&qc, tc.as_ref());
        let block = Block::new(round, qc.height + 1, parent, self.me, participants, payload);
        let proposal = Proposal::sign(self.cfg.chain_id, block, qc, tc, &self.key);
        self.proposals.insert(
            round,
            SignedProposal {
                author: self.me,
                round,
                block_id: proposal.block.id(),
                signature: proposal.signature,
            },
        );
        self.insert_block(proposal.block.clone());
        self.out.push(Action::Broadcast {
            message: Message::Proposal(Box::new(proposal.clone())),
        });
        self.own_proposal = Some(proposal.clone());
        // The leader built the payload itself: it votes without asking for validation.
        self.vote(&proposal);
    }

    fn on_proposal(&mut self, from: ValidatorIndex, p: Proposal) -> Result<(), Rejection> {
        let b = &p.block;
        let (round, author) = (b.round(), b.author());
        if self.fetches.iter().any(|(h, _)| *h == b.id()) {
            // A block we are fetching (its hash is certified): take it, even if the proposal
            // itself is stale by now.
            let _ = self.on_blocks_fetched(vec![b.clone()]);
        }
        let (key, _) = self.signer_key(author)?;
        if b.parent() != p.qc.block_id || Some(b.height()) != p.qc.height.checked_add(1) {
            return Err(Rejection::Malformed("proposal does not extend its QC"));
        }
        match &p.tc {
            None if p.qc.round.checked_add(1) != Some(round) => {
                return Err(Rejection::Malformed("proposal skips rounds without a TC"));
            }
            Some(tc)
                if tc.round.checked_add(1) != Some(round)
                    || p.qc.round.checked_add(1) == Some(round) =>
            {
                return Err(Rejection::Malformed(
                    "proposal's TC is not of the previous round",
                ));
            }
            _ => {}
        }
        if b.participants() != Proposal::participants(&p.qc, p.tc.as_ref()) {
            return Err(Rejection::Malformed(
                "block participants are not its certificate's signers",
            ));
        }
        let msg = crypto::proposal_message(self.cfg.chain_id, round, &b.id());
        if round < self.round {
            // A leader behind us: help it catch up (its signature first, so a forged
            // proposal cannot make us send).
            if crypto::verify(&key, &msg, &p.signature) {
                self.help_behind(author);
            }
            return Err(Rejection::StaleRound {
                round,
                current: self.round,
            });
        }
        if !crypto::verify(&key, &msg, &p.signature) {
            return Err(Rejection::InvalidSignature("proposal"));
        }
        self.verify_qc(&p.qc)?;
        if let Some(tc) = &p.tc {
            self.verify_tc(tc)?;
        }
        // Round sync: the proposal's certificates move us to its round (and may commit
        // blocks, which can change who leads it, so the leader is checked after).
        self.process_qc(&p.qc);
        if let Some(tc) = &p.tc {
            self.process_tc(tc);
        }
        if round != self.round {
            return Err(Rejection::StaleRound {
                round,
                current: self.round,
            });
        }
        if self.leader(round) != author {
            return Err(Rejection::NotLeader { round, author });
        }
        let header = SignedProposal {
            author,
            round,
            block_id: b.id(),
            signature: p.signature,
        };
        if let Some(first) = self.proposals.get(&round) {
            if first.block_id == header.block_id {
                return Err(Rejection::Duplicate);
            }
            if first.author != author {
                return Err(Rejection::LeaderChanged { round, author });
            }
            let evidence = Evidence::DoubleProposal {
                first: *first,
                second: header,
            };
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        self.proposals.insert(round, header);
        let parent = b.parent();
        self.pending = Some(Pending {
            proposal: p,
            validating: false,
        });
        if self.known(&parent).is_none() {
            self.want(parent, from);
        } else {
            self.resume_pending();
        }
        Ok(())
    }

    /// Moves the pending proposal on once its parent is known: checks it against the parent
    /// and asks the application to validate its payload.
    fn resume_pending(&mut self) {
        let Some(pending) = &self.pending else { return };
        if pending.validating {
            return;
        }
        let p = &pending.proposal;
        if p.block.round() != self.round {
            self.pending = None;
            return;
        }
        let author = p.block.author();
        let Some(parent) = self.known(&p.block.parent()) else {
            return;
        };
        let malformed = if parent.height + 1 != p.block.height() || parent.round >= p.block.round()
        {
            Some("proposal inconsistent with its parent")
        } else {
            // The application executes the block on its ancestors: all must be held first.
            match self.connected(&parent.id) {
                Ok(()) => None,
                Err(Some(missing)) => {
                    self.want(missing, author);
                    return;
                }
                Err(None) => Some("proposal does not extend the committed chain"),
            }
        };
        if let Some(reason) = malformed {
            self.pending = None;
            self.out.push(Action::Rejected {
                from: author,
                reason: Rejection::Malformed(reason),
            });
            return;
        }
        let block = p.block.clone();
        if let Some(pending) = &mut self.pending {
            pending.validating = true;
        }
        self.insert_block(block.clone());
        self.out.push(Action::ValidatePayload { block });
    }

    fn on_payload_validated(&mut self, block_id: Hash, valid: bool) {
        let Some(pending) = &self.pending else { return };
        let p = &pending.proposal;
        if !pending.validating || p.block.id() != block_id || p.block.round() != self.round {
            return;
        }
        let Some(Pending { proposal: p, .. }) = self.pending.take() else {
            return;
        };
        if valid {
            self.vote(&p);
        } else {
            warn!(
                me = self.me,
                round = p.block.round(),
                "proposal payload rejected by the application"
            );
            self.blocks.remove(&block_id);
            self.out.push(Action::Rejected {
                from: p.block.author(),
                reason: Rejection::InvalidPayload,
            });
        }
    }

    // ----- votes -------------------------------------------------------------------------

    fn vote(&mut self, p: &Proposal) {
        if !self.may_sign(p.block.round()) {
            debug!(me = self.me, round = p.block.round(), floor = ?self.continuity.floor(), "not voting: recovering lost safety data");
            return;
        }
        if let Err(e) = self
            .safety
            .check_vote(p.block.round(), p.qc.round, p.tc.as_ref())
        {
            debug!(me = self.me, round = p.block.round(), error = %e, "not voting");
            return;
        }
        let vote = Vote::sign(self.cfg.chain_id, p.block.info(), self.me, &self.key);
        self.safety.record_vote(&vote, p.qc.round);
        self.dirty = true;
        self.out.push(Action::StoreBlock(p.block.clone()));
        self.resendable_vote = Some(vote.clone());
        self.route_vote(vote);
    }

    fn route_vote(&mut self, vote: Vote) {
        let next = self.leader(vote.round + 1);
        if next == self.me {
            let _ = self.add_vote(vote);
        } else {
            self.out.push(Action::Send {
                to: next,
                message: Message::Vote(vote),
            });
        }
    }

    fn on_vote(&mut self, v: Vote) -> Result<(), Rejection> {
        let (key, _) = self.signer_key(v.voter)?;
        if v.round + 1 < self.round {
            return Err(Rejection::StaleRound {
                round: v.round,
                current: self.round,
            });
        }
        if v.round > self.round + self.cfg.limits.future_rounds {
            return Err(Rejection::FutureRound {
                round: v.round,
                current: self.round,
            });
        }
        if v.round == 0 || v.height == 0 {
            return Err(Rejection::Malformed("vote for genesis"));
        }
        if self.leader(v.round + 1) != self.me {
            return Err(Rejection::NotNextLeader(v.round));
        }
        let msg = crypto::vote_message(self.cfg.chain_id, v.round, v.height, &v.block_id);
        if !crypto::verify(&key, &msg, &v.signature) {
            return Err(Rejection::InvalidSignature("vote"));
        }
        if let Some(block) = self.blocks.get(&v.block_id)
            && (block.height() != v.height || block.round() != v.round)
        {
            // Correctly signed, but not about the block it names: counted, it would make a QC
            // no one accepts.
            return Err(Rejection::Malformed(
                "vote's height or round is not its block's",
            ));
        }
        self.add_vote(v)
    }

    fn add_vote(&mut self, v: Vote) -> Result<(), Rejection> {
        let power = self.cfg.validators.power(v.voter).unwrap_or(0);
        let col = self.votes.entry(v.round).or_default();
        if let Some(first) = col.by_voter.get(&v.voter) {
            if first.block_id == v.block_id && first.height == v.height {
                return Err(Rejection::Duplicate);
            }
            let (author, round) = (v.voter, v.round);
            let evidence = Evidence::DoubleVote {
                first: first.clone(),
                second: v,
            };
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        col.by_voter.insert(v.voter, v.clone());
        let entry = col.by_message.entry((v.block_id, v.height)).or_default();
        entry.0 += power;
        entry.1.push(SignedBy {
            signer: v.voter,
            signature: v.signature,
        });
        if col.done || !self.cfg.validators.is_quorum(entry.0) {
            return Ok(());
        }
        let mut signatures = entry.1.clone();
        signatures.sort_by_key(|s| s.signer);
        let qc = QuorumCertificate {
            round: v.round,
            height: v.height,
            block_id: v.block_id,
            signatures,
        };
        // Verified like any QC before it is used: every vote was checked on arrival (this
        // node's own when it signed), so this only fails on a bug, and then no QC is used.
        if let Err(e) = qc.verify(self.cfg.chain_id, &self.cfg.validators) {
            warn!(me = self.me, round = qc.round, error = %e, "a QC formed from collected votes does not verify");
            return Err(e);
        }
        col.done = true;
        debug!(me = self.me, round = qc.round, "formed QC");
        self.remember_verified(qc.digest());
        self.process_qc(&qc);
        Ok(())
    }

    // ----- evidence ----------------------------------------------------------------------

    /// An equivocation this node caught (both messages verified on arrival): reported and
    /// broadcast, once.
    fn caught(&mut self, evidence: Evidence) {
        let evidence = evidence.canonical();
        if !self.evidence.insert(&evidence) {
            return;
        }
        warn!(
            me = self.me,
            culprit = evidence.culprit(),
            round = evidence.round(),
            kind = evidence.kind().as_str(),
            "validator equivocated"
        );
        self.out.push(Action::Broadcast {
            message: Message::Evidence(Box::new(evidence.clone())),
        });
        self.out.push(Action::ReportEvidence(evidence));
    }

    /// Evidence a peer gossiped: verified, then reported once (gossip relays it on).
    fn on_evidence(&mut self, evidence: Evidence) -> Result<(), Rejection> {
        let evidence = evidence.canonical();
        if self.evidence.contains(&evidence) {
            return Err(Rejection::Duplicate);
        }
        evidence.verify(self.cfg.chain_id, &self.cfg.validators)?;
        self.evidence.insert(&evidence);
        warn!(
            me = self.me,
            culprit = evidence.culprit(),
            round = evidence.round(),
            kind = evidence.kind().as_str(),
            "evidence of an equivocation received"
        );
        self.out.push(Action::ReportEvidence(evidence));
        Ok(())
    }

    // ----- timeouts ----------------------------------------------------------------------

    fn on_timeout(&mut self, t: Timeout) -> Result<(), Rejection> {
        let (key, _) = self.signer_key(t.author)?;
        if t.round < self.round {
            // Its author is still in an earlier round (it missed how that round ended):
            // send it our certificates, once its signature checks out.
            let msg = crypto::timeout_message(self.cfg.chain_id, t.round, t.high_qc.round);
            if self.synced.get(&t.author).is_none_or(|r| *r < self.round)
                && crypto::verify(&key, &msg, &t.signature)
            {
                self.help_behind(t.author);
            }
            return Err(Rejection::StaleRound {
                round: t.round,
                current: self.round,
            });
        }
        if t.round > self.round + self.cfg.limits.future_rounds {
            return Err(Rejection::FutureRound {
                round: t.round,
                current: self.round,
            });
        }
        if t.high_qc.round >= t.round {
            return Err(Rejection::Malformed("timeout's QC is not below its round"));
        }
        let msg = crypto::timeout_message(self.cfg.chain_id, t.round, t.high_qc.round);
        if !crypto::verify(&key, &msg, &t.signature) {
            return Err(Rejection::InvalidSignature("timeout"));
        }
        self.verify_qc(&t.high_qc)?;
        if let Some(tc) = &t.tc {
            if tc.round + 1 != t.round {
                return Err(Rejection::Malformed(
                    "timeout's TC is not of the previous round",
                ));
            }
            self.verify_tc(tc)?;
        }
        self.process_qc(&t.high_qc);
        if let Some(tc) = &t.tc {
            self.process_tc(tc);
        }
        if t.round < self.round {
            return Ok(());
        }
        self.add_timeout(t)
    }

    fn add_timeout(&mut self, t: Timeout) -> Result<(), Rejection> {
        let power = self.cfg.validators.power(t.author).unwrap_or(0);
        let col = self
            .timeouts
            .entry(t.round)
            .or_insert_with(|| TimeoutCollector {
                by_author: HashMap::new(),
                power: 0,
                high_qc: t.high_qc.clone(),
                done: false,
            });
        if let Some(first) = col.by_author.get(&t.author) {
            if first.high_qc_round == t.high_qc.round {
                return Err(Rejection::Duplicate);
            }
            // An honest validator re-sends its one timeout of a round (its safety data keeps
            // it); a second one reporting another QC round is an equivocation.
            let signed = |s: &TimeoutSignature| SignedTimeout {
                author: s.signer,
                round: t.round,
                high_qc_round: s.high_qc_round,
                signature: s.signature,
            };
            let evidence = Evidence::DoubleTimeout {
                first: signed(first),
                second: SignedTimeout {
                    author: t.author,
                    round: t.round,
                    high_qc_round: t.high_qc.round,
                    signature: t.signature,
                },
            };
            let (author, round) = (t.author, t.round);
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        col.by_author.insert(
            t.author,
            TimeoutSignature {
                signer: t.author,
                high_qc_round: t.high_qc.round,
                signature: t.signature,
            },
        );
        col.power += power;
        if t.high_qc.round > col.high_qc.round {
            col.high_qc = t.high_qc.clone();
        }
        if !col.done && self.cfg.validators.is_quorum(col.power) {
            col.done = true;
            let mut signatures: Vec<TimeoutSignature> = col.by_author.values().copied().collect();
            signatures.sort_by_key(|s| s.signer);
            let tc = TimeoutCertificate {
                round: t.round,
                signatures,
                high_qc: col.high_qc.clone(),
            };
            debug!(me = self.me, round = tc.round, "formed TC");
            self.remember_verified(tc.digest());
            self.process_tc(&tc);
            return Ok(());
        }
        // More than 1/3 timed out: at least one honest validator did, so join it rather
        // than wait for our own timer (keeps validators' rounds together).
        let joined = self
            .safety
            .last_timeout
            .as_ref()
            .is_some_and(|own| own.round == t.round);
        if t.round == self.round && !joined && self.cfg.validators.is_validity(col.power) {
            self.local_timeout();
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "state_machine_tests.rs"]
mod tests;
