//! What a simulation found: the violated properties and the run's figures.

use crate::NetworkConfig;
use parallax_consensus::types::{Hash, Round, ValidatorIndex};
use std::collections::BTreeMap;
use std::fmt;

/// A property that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest instances committed different blocks at one height.
    Safety {
        /// The height.
        height: u64,
        /// The instance that disagreed.
        instance: usize,
    },
    /// An instance committed out of order or twice.
    CommitOrder {
        /// The instance.
        instance: usize,
        /// The height it committed.
        height: u64,
    },
    /// A vote or timeout left before its safety data was persisted.
    PersistBeforeSend {
        /// The instance.
        instance: usize,
        /// The message's round.
        round: Round,
    },
    /// A message an honest instance sent did not decode from the production encoding.
    Codec {
        /// Why.
        detail: String,
    },
    /// Evidence accused a validator that is honest.
    FalseEvidence {
        /// The accused.
        validator: ValidatorIndex,
    },
    /// Commits did not resume in time after the faults stopped.
    Liveness {
        /// What was missing.
        detail: String,
    },
    /// A node held more than its bound.
    Memory {
        /// The instance.
        instance: usize,
        /// The footprint.
        detail: String,
    },
    /// A round without a committed block in a fault-free run.
    RoundWithoutCommit {
        /// The first such round.
        round: Round,
    },
    /// A restart failed.
    Restart {
        /// The error.
        detail: String,
    },
    /// After a leader crash, the next QC took more than two rounds or longer than the bar.
    LeaderCrash {
        /// Virtual ms from the crash to the next QC.
        ms: u64,
        /// The bar ([`leader_crash_bar_ms`]).
        bar: u64,
        /// Rounds from the crash's round to the next QC's round.
        rounds: u64,
    },
}

/// Most virtual ms from a leader crash to the next QC that "within two timeouts" allows, when
/// the two rounds the crash costs have timeouts `first_ms` and `second_ms`: those two waits,
/// plus five one-way message delays and the application's work on the way. Round `r` is the
/// highest any node is in when the next leader (of `r + 1`) crashes:
///
/// 1. a node may enter `r` up to one delay after the crash (the proposal of `r` was still
///    on its way; building it takes up to 5 ms), and times out `first_ms` later;
/// 2. the timeouts of `r` reach the others (one delay): TC, round `r + 1`;
/// 3. the crashed leader's round times out `second_ms` later, the timeouts travel (one
///    delay): TC, round `r + 2`;
/// 4. its leader builds a block (up to 5 ms) and proposes (one delay); the others validate
///    it (up to 5 ms) and vote (one delay): the QC.
pub fn leader_crash_bar_ms(first_ms: u64, second_ms: u64, network: &NetworkConfig) -> u64 {
    let hop = network.max_latency_ms.max(network.min_latency_ms);
    first_ms + second_ms + 5 * hop + 3 * 5
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// SHA-256 over every message sent and every commit, with times: equal for equal seeds.
    pub trace_hash: Hash,
    /// Highest round an honest node reached.
    pub max_round: Round,
    /// Longest honest committed chain.
    pub committed_height: u64,
    /// Network messages sent (a broadcast counts once per recipient).
    pub messages: u64,
    /// Rounds after the fault phase until a block proposed after it was committed.
    pub recovery_rounds: Option<u64>,
    /// With `leader_crash`: virtual ms from the crash to the next new QC.
    pub leader_crash_ms: Option<u64>,
    /// With `leader_crash`: rounds from the crash's round to the next new QC's round.
    pub leader_crash_rounds: Option<u64>,
    /// With `leader_crash`: the round timeouts (ms) the nodes set for the two rounds the
    /// crash costs (the largest any honest node set): the round whose votes went to the
    /// crashed leader, and the crashed leader's round.
    pub leader_crash_timeouts_ms: Option<[u64; 2]>,
    /// With `leader_crash`: the bar, "two timeouts": the two timeouts above plus the
    /// message delays of the way to the next QC (see [`leader_crash_bar_ms`]).
    pub leader_crash_bar_ms: Option<u64>,
    /// Evidence reports by honest nodes.
    pub evidence: u64,
    /// Rejections by honest nodes, by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Largest footprint seen (sum of all items) on one node.
    pub max_footprint: usize,
    /// Failed properties; empty when the run passed.
    pub violations: Vec<Violation>,
    /// Each instance's final state (validator, kind, round, highest QC, committed height),
    /// to debug a failure.
    pub final_states: Vec<String>,
    /// With [`SimConfig::log`]: one line per notable event (virtual ms, instance, what).
    pub log: Vec<String>,
}

impl SimReport {
    /// Committed blocks per round reached.
    pub fn commits_per_round(&self) -> f64 {
        self.committed_height as f64 / self.max_round.max(1) as f64
    }

    /// Messages sent per committed block.
    pub fn messages_per_block(&self) -> f64 {
        self.messages as f64 / self.committed_height.max(1) as f64
    }

    /// Whether every property held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} rounds {} height {} commits/round {:.3} msgs/block {:.1} recovery {:?} leader-crash {:?} ms / {:?} rounds evidence {} violations {:?}",
            self.seed,
            self.max_round,
            self.committed_height,
            self.commits_per_round(),
            self.messages_per_block(),
            self.recovery_rounds,
            self.leader_crash_ms,
            self.leader_crash_rounds,
            self.evidence,
            self.violations
        )
    }
}
