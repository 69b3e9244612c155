//! What a simulation runs: the validators, the network, the faults and the adversary.

use parallax_consensus::types::ValidatorIndex;
use parallax_consensus::{Reputation, Timing};
use std::time::Duration;

/// The simulated network.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Smallest one-way latency, ms.
    pub min_latency_ms: u64,
    /// Largest one-way latency, ms (the spread is the jitter; it reorders messages).
    pub max_latency_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            min_latency_ms: 5,
            max_latency_ms: 50,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What the Byzantine validators do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// Two honest instances share each Byzantine key, so the key equivocates.
    Twins,
    /// Conflicting proposals and votes, bad signatures, duplicated and unknown signers,
    /// far-future rounds, invalid payloads.
    Garbage,
    /// Crash during the fault phase and never come back.
    Crash,
}

impl std::str::FromStr for Adversary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "twins" => Ok(Self::Twins),
            "garbage" => Ok(Self::Garbage),
            "crash" => Ok(Self::Crash),
            _ => Err(format!("unknown adversary {s:?} (twins, garbage, crash)")),
        }
    }
}

/// How the fault phase's partitions split the instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PartitionPlan {
    /// Two or three groups, each instance in one at random.
    #[default]
    Random,
    /// These groups, by instance (validators in index order, a twin pair's two instances one
    /// after the other); one entry per instance.
    Groups(Vec<usize>),
    /// Each twin pair split across two groups, the honest instances alternating between
    /// them: with enough twins, both groups hold a quorum of keys (the Twins paper's attack).
    SplitTwins,
}

/// One simulation's settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed: everything random derives from it.
    pub seed: u64,
    /// Number of validators (equal voting power).
    pub validators: usize,
    /// Number of Byzantine validators (at most f for liveness to be expected).
    pub byzantine: usize,
    /// What they do.
    pub adversary: Adversary,
    /// Network behaviour (loss and duplication apply for the whole run).
    pub network: NetworkConfig,
    /// Partitions during the fault phase, one after another, each healing before the next.
    pub partitions: usize,
    /// How each partition splits the instances (random groups by default).
    pub partition_plan: PartitionPlan,
    /// Each validator's voting power (empty: 1 each). The Byzantine validators are drawn so
    /// that their power stays below a third of the total.
    pub powers: Vec<u64>,
    /// One validator whose messages (both ways) take this much longer during the fault phase:
    /// (validator, extra ms).
    pub slow_validator: Option<(ValidatorIndex, u64)>,
    /// Honest instances' timers run fast or slow by up to this percentage each (clock skew).
    pub clock_skew_percent: u64,
    /// Crashes of honest validators during the fault phase, each restarting from its disk.
    pub crashes: usize,
    /// Length of the fault phase, ms of virtual time.
    pub fault_phase_ms: u64,
    /// Crash the next leader once, in steady state after the fault phase, and measure how
    /// long the next block takes to be certified: the leader of the round after the highest
    /// round any node has reached, so it has neither gathered that round's votes nor
    /// proposed. The run fails unless the next QC comes within two rounds and within
    /// [`SimReport::leader_crash_bar_ms`].
    pub leader_crash: bool,
    /// Honest blocks every honest node must commit after the fault phase.
    pub commits_after_faults: u64,
    /// Liveness bound: rounds after the fault phase within which commits must resume.
    pub liveness_rounds: u64,
    /// Virtual time allowed after the fault phase before liveness fails, ms.
    pub deadline_ms: u64,
    /// Round timers.
    pub timing: Timing,
    /// Leader reputation.
    pub reputation: Reputation,
    /// Assert that every round commits a block (only meaningful without faults).
    pub expect_every_round_commits: bool,
    /// Keep a human-readable event log in [`SimReport::log`] (to debug one seed).
    pub log: bool,
}

impl SimConfig {
    /// A fault-free 4-validator run: every round must commit.
    pub fn fault_free(seed: u64) -> Self {
        Self {
            seed,
            validators: 4,
            byzantine: 0,
            adversary: Adversary::Crash,
            network: NetworkConfig::default(),
            partitions: 0,
            partition_plan: PartitionPlan::Random,
            powers: Vec::new(),
            slow_validator: None,
            clock_skew_percent: 0,
            crashes: 0,
            fault_phase_ms: 0,
            leader_crash: false,
            commits_after_faults: 30,
            liveness_rounds: 4,
            deadline_ms: 60_000,
            timing: Timing {
                base_timeout: Duration::from_millis(1_000),
                max_timeout: Duration::from_millis(8_000),
                backoff_percent: 150,
            },
            reputation: Reputation::default(),
            expect_every_round_commits: true,
            log: false,
        }
    }

    /// The faulty run the `simulate` binary makes of `seed` with its default options (its
    /// defaults are read from here): 2 % loss and duplication, two partitions and one
    /// crash-restart in a 10 s fault phase, then 10 commits within 30 rounds.
    pub fn sweep(seed: u64, validators: usize, byzantine: usize, adversary: Adversary) -> Self {
        Self {
            validators,
            byzantine,
            adversary,
            network: NetworkConfig {
                loss: 0.02,
                duplicate: 0.02,
                ..NetworkConfig::default()
            },
            partitions: 2,
            crashes: 1,
            fault_phase_ms: 10_000,
            commits_after_faults: 10,
            liveness_rounds: 30,
            deadline_ms: 300_000,
            expect_every_round_commits: false,
            ..Self::fault_free(seed)
        }
    }
}
