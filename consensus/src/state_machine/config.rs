//! What the state machine is configured with, what it recovers from its disk at start, and
//! why a configuration is refused.

use crate::leader::Reputation;
use crate::safety::SafetyData;
use crate::types::{Block, BlockInfo, ValidatorIndex};
use crate::validators::ValidatorSet;
use std::time::Duration;
use thiserror::Error;

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
