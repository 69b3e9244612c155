//! The consensus state machine: `handle(event) -> actions`.
//!
//! This module holds the validator's state ([`Consensus`]), its construction and recovery,
//! the dispatch of each [`Event`] and its accessors. The protocol's concerns each have a
//! module: `proposals` (building and checking proposals), `votes` (voting and QC
//! formation), `pacemaker` (timers, timeouts and TCs, round sync), `certificates`
//! (verification and what a certificate moves), `blocks` (the block tree, fetching and the
//! commit rule), `equivocation` (evidence), with the interface types in `config` and
//! `events`. Those modules add methods to [`Consensus`] and call one another through it: one
//! state, one thread, one list of actions.

mod blocks;
mod certificates;
mod config;
mod equivocation;
mod events;
mod pacemaker;
mod proposals;
mod votes;

pub use config::{Config, ConfigError, Limits, Recovery, Timing};
pub use events::{Action, Event};

use crate::continuity::Continuity;
use crate::evidence::{EvidencePool, SignedProposal};
use crate::leader::LeaderElection;
use crate::rejection::Rejection;
use crate::safety::SafetyData;
use crate::types::{
    Block, BlockInfo, Hash, Height, Message, Proposal, QuorumCertificate, Round, SignedBy,
    TimeoutSignature, ValidatorIndex, Vote,
};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;
use tracing::{debug, info, warn};

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
}

#[cfg(test)]
mod tests;
