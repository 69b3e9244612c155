//! A deterministic simulator that attacks the state machine.
//!
//! [`run`] drives N validators over a simulated network in virtual time (milliseconds) from
//! one seed: latency with jitter (so messages reorder), loss, duplication, partitions that
//! start and heal, crashes (some torn half-way through an action list) and restarts from
//! the persisted safety data, and Byzantine validators ([`Adversary`]): Twins (two honest
//! instances sharing one key), garbage/conflicting senders, or validators that crash for
//! good. Every run checks:
//!
//! * **safety** — no two honest instances commit different blocks at one height; each
//!   commits in height order, each block once, so every chain is a prefix of the longest;
//!   honest validators are never reported for equivocation;
//! * **persist before send** — no vote or timeout leaves before the safety data promising it
//!   is on the simulated disk;
//! * **liveness** — once faults stop (partitions healed, crashed nodes restarted, at most f
//!   faulty of 3f+1 left), commits resume within a bounded number of rounds; with
//!   [`SimConfig::leader_crash`], the next QC after a leader crash comes within two rounds
//!   and within [`leader_crash_bar_ms`] (the two timeouts waited plus message delays);
//! * **bounded memory** — every node's [`crate::Footprint`] stays within its bound;
//! * **determinism** — the run's trace hash depends only on the configuration and seed.

mod adversary;

use crate::storage::{MemoryStorage, SafetyStorage};
use crate::types::{Block, BlockInfo, Hash, Message, Round, ValidatorIndex};
use crate::validators::ValidatorSet;
use crate::{Action, Config, Consensus, Event, Limits, Recovery, Reputation, Timing};
use adversary::Garbage;
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Honest,
    /// One of two instances of a Byzantine key, each running honest code.
    Twin,
    Garbage,
    /// Honest code that crashes for good during the fault phase.
    Doomed,
}

struct Instance {
    index: ValidatorIndex,
    kind: Kind,
    /// How fast this instance's clock runs, in percent of real time (timers scale by it).
    clock_percent: u64,
    sm: Option<Consensus>,
    garbage: Option<Garbage>,
    incarnation: u64,
    disk: MemoryStorage,
    /// The decoded disk contents, to check persist-before-send cheaply.
    disk_voted: Round,
    /// Uncommitted blocks stored through `StoreBlock` (survive crashes).
    stored: BTreeMap<Hash, Block>,
    chain: Vec<Block>,
    chain_index: HashMap<Hash, usize>,
    group: usize,
    torn_crash_pending: bool,
    down_for_good: bool,
    /// Blocks committed with a round above the fault phase's last round.
    fresh_commits: u64,
}

impl Instance {
    fn honest(&self) -> bool {
        matches!(self.kind, Kind::Honest | Kind::Twin | Kind::Doomed)
    }

    fn block(&self, id: &Hash) -> Option<Block> {
        if let Some(b) = self.sm.as_ref().and_then(|s| s.block(id)) {
            return Some(b.clone());
        }
        self.chain_index.get(id).map(|i| self.chain[*i].clone())
    }
}

#[derive(Debug)]
enum SimEvent {
    /// A message on the wire: the production encoding's bytes.
    Deliver {
        to: usize,
        /// The sending instance.
        sender: usize,
        from: ValidatorIndex,
        bytes: Vec<u8>,
    },
    Timer {
        to: usize,
        incarnation: u64,
        round: Round,
    },
    Built {
        to: usize,
        incarnation: u64,
        round: Round,
        parent: Hash,
        payload: Vec<u8>,
    },
    Validated {
        to: usize,
        incarnation: u64,
        block_id: Hash,
        valid: bool,
    },
    FetchRequest {
        to: usize,
        requester: usize,
        id: Hash,
        ancestors: u32,
    },
    Fetched {
        to: usize,
        incarnation: u64,
        blocks: Vec<Block>,
    },
    Crash {
        instance: usize,
        torn: bool,
        for_good: bool,
    },
    Restart {
        instance: usize,
    },
    Partition {
        groups: Vec<usize>,
    },
    Heal,
    LeaderCrash,
    FaultsOver,
}

/// Test keys: deterministic per validator index.
pub fn validator_key(i: ValidatorIndex) -> SigningKey {
    let h = Hash::digest(b"parallax/sim/key", &[&i.to_be_bytes()]);
    SigningKey::from_bytes(&h.0)
}

/// The simulated genesis block id.
pub const GENESIS: Hash = Hash([0x6e; 32]);

/// The chain id used in simulations.
pub const CHAIN_ID: u64 = 0x9a11;

struct Sim {
    cfg: SimConfig,
    rng: StdRng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), SimEvent>,
    nodes: Vec<Instance>,
    config: Config,
    trace: Sha256,
    canonical: Vec<Hash>,
    messages: u64,
    evidence: u64,
    rejections: BTreeMap<String, u64>,
    violations: Vec<Violation>,
    byzantine: Vec<ValidatorIndex>,
    faults_over_round: Option<Round>,
    recovery_rounds: Option<u64>,
    leader_crash: Option<(u64, Round, Round)>,
    leader_crash_ms: Option<u64>,
    leader_crash_rounds: Option<u64>,
    leader_crash_timeouts: [u64; 2],
    leader_crash_bar_ms: Option<u64>,
    max_footprint: usize,
    partitioned: bool,
    log: Vec<String>,
}

/// Runs one simulation.
pub fn run(cfg: SimConfig) -> SimReport {
    let mut sim = Sim::new(cfg);
    sim.run();
    sim.report()
}

impl Sim {
    fn new(cfg: SimConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let n = cfg.validators.max(1);
        let power = |i: ValidatorIndex| cfg.powers.get(i as usize).copied().unwrap_or(1);
        let validators = ValidatorSet::new(
            (0..n as ValidatorIndex)
                .map(|i| (validator_key(i).verifying_key(), power(i)))
                .collect(),
        )
        .unwrap_or_else(|e| panic!("simulation validator set: {e}"));
        let total: u64 = (0..n as ValidatorIndex).map(power).sum();
        let config = Config {
            chain_id: CHAIN_ID,
            validators,
            genesis: BlockInfo::genesis(GENESIS),
            timing: cfg.timing,
            limits: Limits::default(),
            reputation: cfg.reputation,
        };
        // Pick the Byzantine validators at random.
        let mut all: Vec<ValidatorIndex> = (0..n as ValidatorIndex).collect();
        let mut byzantine = Vec::new();
        let mut byzantine_power = 0;
        for _ in 0..cfg.byzantine.min(n) {
            // Within the protocol's assumption (less than a third of the power), unless the
            // run asks for more Byzantine validators than that allows (the negative control).
            let allowed: Vec<usize> = (0..all.len())
                .filter(|k| 3 * (byzantine_power + power(all[*k])) < total)
                .collect();
            let k = if allowed.is_empty() || cfg.powers.is_empty() {
                rng.random_range(0..all.len())
            } else {
                allowed[rng.random_range(0..allowed.len())]
            };
            byzantine_power += power(all[k]);
            byzantine.push(all.swap_remove(k));
        }
        byzantine.sort_unstable();
        let mut sim = Self {
            cfg,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes: Vec::new(),
            config,
            trace: Sha256::new(),
            canonical: Vec::new(),
            messages: 0,
            evidence: 0,
            rejections: BTreeMap::new(),
            violations: Vec::new(),
            byzantine,
            faults_over_round: None,
            recovery_rounds: None,
            leader_crash: None,
            leader_crash_ms: None,
            leader_crash_rounds: None,
            leader_crash_timeouts: [0; 2],
            leader_crash_bar_ms: None,
            max_footprint: 0,
            partitioned: false,
            log: Vec::new(),
        };
        for i in 0..n as ValidatorIndex {
            let kinds: Vec<Kind> = if sim.byzantine.contains(&i) {
                match sim.cfg.adversary {
                    Adversary::Twins => vec![Kind::Twin, Kind::Twin],
                    Adversary::Garbage => vec![Kind::Garbage],
                    Adversary::Crash => vec![Kind::Doomed],
                }
            } else {
                vec![Kind::Honest]
            };
            for kind in kinds {
                let skew = sim.cfg.clock_skew_percent.min(90);
                let clock_percent = if skew == 0 {
                    100
                } else {
                    sim.rng.random_range(100 - skew..=100 + skew)
                };
                sim.nodes.push(Instance {
                    index: i,
                    kind,
                    clock_percent,
                    sm: None,
                    garbage: None,
                    incarnation: 0,
                    disk: MemoryStorage::default(),
                    disk_voted: 0,
                    stored: BTreeMap::new(),
                    chain: Vec::new(),
                    chain_index: HashMap::new(),
                    group: 0,
                    torn_crash_pending: false,
                    down_for_good: false,
                    fresh_commits: 0,
                });
            }
        }
        sim
    }

    fn schedule(&mut self, delay: u64, ev: SimEvent) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), ev);
    }

    fn plan_faults(&mut self) {
        let fault = self.cfg.fault_phase_ms;
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].kind == Kind::Honest)
            .collect();
        if self.cfg.partitions > 0 && fault > 0 {
            let slot = fault / self.cfg.partitions as u64;
            for s in 0..self.cfg.partitions as u64 {
                let start = s * slot + self.rng.random_range(0..=slot / 3);
                let end = (start + self.rng.random_range(slot / 4..=slot / 2)).min((s + 1) * slot);
                let groups = match &self.cfg.partition_plan {
                    PartitionPlan::Random => {
                        let groups_n = self.rng.random_range(2..=3usize);
                        (0..self.nodes.len())
                            .map(|_| self.rng.random_range(0..groups_n))
                            .collect()
                    }
                    PartitionPlan::Groups(groups) => {
                        assert_eq!(
                            groups.len(),
                            self.nodes.len(),
                            "a partition plan names a group for every instance"
                        );
                        groups.clone()
                    }
                    PartitionPlan::SplitTwins => {
                        let mut honest_side = 0;
                        (0..self.nodes.len())
                            .map(|i| {
                                if self.nodes[i].kind == Kind::Twin {
                                    // The first of a pair on one side, its twin on the other.
                                    usize::from(
                                        i > 0 && self.nodes[i - 1].index == self.nodes[i].index,
                                    )
                                } else {
                                    honest_side ^= 1;
                                    honest_side ^ 1
                                }
                            })
                            .collect()
                    }
                };
                self.queue_at(start, SimEvent::Partition { groups });
                self.queue_at(end, SimEvent::Heal);
            }
        }
        if !honest.is_empty() && fault > 0 {
            for _ in 0..self.cfg.crashes {
                let instance = honest[self.rng.random_range(0..honest.len())];
                let at = self.rng.random_range(0..fault);
                let back = (at + self.rng.random_range(100..=fault / 2 + 100)).min(fault);
                let torn = self.rng.random_bool(0.5);
                self.queue_at(
                    at,
                    SimEvent::Crash {
                        instance,
                        torn,
                        for_good: false,
                    },
                );
                self.queue_at(back, SimEvent::Restart { instance });
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].kind == Kind::Doomed {
                let at = if fault > 0 {
                    self.rng.random_range(0..fault)
                } else {
                    0
                };
                self.queue_at(
                    at,
                    SimEvent::Crash {
                        instance: i,
                        torn: true,
                        for_good: true,
                    },
                );
            }
        }
        self.queue_at(fault, SimEvent::FaultsOver);
        if self.cfg.leader_crash {
            self.queue_at(fault + 3_000, SimEvent::LeaderCrash);
        }
    }

    fn queue_at(&mut self, at: u64, ev: SimEvent) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn boot(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let safety = match node.disk.load() {
            Ok(s) => s,
            Err(e) => {
                self.violations.push(Violation::Restart {
                    detail: format!("instance {i}: {e}"),
                });
                return;
            }
        };
        node.disk_voted = safety.as_ref().map_or(0, |s| s.last_voted_round);
        let committed = node
            .chain
            .last()
            .map_or(BlockInfo::genesis(GENESIS), Block::info);
        let keep = crate::LeaderElection::new(self.config.reputation, 0).capacity() + 1;
        let recent = node.chain.len().saturating_sub(keep);
        let committed_blocks = node.chain[recent..].to_vec();
        let key = validator_key(node.index);
        match Consensus::new(
            self.config.clone(),
            node.index,
            key.clone(),
            Recovery {
                safety,
                committed,
                committed_blocks,
                blocks: node.stored.values().cloned().collect(),
            },
        ) {
            Ok(mut sm) => {
                node.incarnation += 1;
                let actions = sm.start();
                node.sm = Some(sm);
                if node.kind == Kind::Garbage {
                    node.garbage = Some(Garbage::new(key, self.config.validators.len()));
                }
                self.apply(i, actions);
            }
            Err(e) => self.violations.push(Violation::Restart {
                detail: format!("instance {i}: {e}"),
            }),
        }
    }

    fn run(&mut self) {
        for i in 0..self.nodes.len() {
            self.boot(i);
        }
        self.plan_faults();
        let deadline = self.cfg.fault_phase_ms + self.cfg.deadline_ms;
        while let Some(((t, _), ev)) = self.queue.pop_first() {
            if t > deadline {
                break;
            }
            self.now = t;
            self.dispatch(ev);
            if self.done() {
                break;
            }
        }
        self.final_checks();
    }

    fn honest_live(&self) -> impl Iterator<Item = &Instance> {
        self.nodes.iter().filter(|n| n.honest() && !n.down_for_good)
    }

    fn done(&self) -> bool {
        self.faults_over_round.is_some()
            && (!self.cfg.leader_crash || self.leader_crash_ms.is_some())
            && self
                .honest_live()
                .all(|n| n.fresh_commits >= self.cfg.commits_after_faults)
    }

    /// Appends a line to the event log (only with [`SimConfig::log`]).
    fn note(&mut self, instance: Option<usize>, what: String) {
        let who = instance.map_or("  -".to_string(), |i| {
            format!(
                "v{}{}",
                self.nodes[i].index,
                if self.nodes[i].kind == Kind::Twin {
                    format!("/{i}")
                } else {
                    String::new()
                }
            )
        });
        self.log.push(format!("{:>8} {who:<5} {what}", self.now));
    }

    fn dispatch(&mut self, ev: SimEvent) {
        if self.cfg.log {
            let line = match &ev {
                SimEvent::Crash {
                    instance,
                    torn,
                    for_good,
                } => Some((
                    Some(*instance),
                    format!("crash (torn {torn}, for good {for_good})"),
                )),
                SimEvent::Restart { instance } => Some((Some(*instance), "restart".to_string())),
                SimEvent::Partition { groups } => Some((None, format!("partition {groups:?}"))),
                SimEvent::Heal => Some((None, "heal".to_string())),
                SimEvent::FaultsOver => Some((None, "faults over".to_string())),
                SimEvent::LeaderCrash => Some((None, "leader crash".to_string())),
                SimEvent::Timer {
                    to,
                    incarnation,
                    round,
                } if self.nodes[*to].incarnation == *incarnation
                    && self.nodes[*to]
                        .sm
                        .as_ref()
                        .is_some_and(|s| s.round() == *round) =>
                {
                    Some((Some(*to), format!("timer fired, round {round}")))
                }
                _ => None,
            };
            if let Some((i, what)) = line {
                self.note(i, what);
            }
        }
        match ev {
            SimEvent::Deliver {
                to,
                sender,
                from,
                bytes,
            } => {
                // Decoded as the node decodes what gossip delivers.
                let message = match crate::wire::decode_message(&bytes) {
                    Ok(envelope) if envelope.chain_id == CHAIN_ID => envelope.message,
                    Err(e) if !self.nodes[sender].honest() => {
                        // Refused at the wire, as the node's gossip ingress refuses it.
                        *self
                            .rejections
                            .entry(format!("Wire:{}", e.reason()))
                            .or_default() += 1;
                        return;
                    }
                    Ok(_) if !self.nodes[sender].honest() => return,
                    Ok(envelope) => {
                        self.violations.push(Violation::Codec {
                            detail: format!("chain id {} on the wire", envelope.chain_id),
                        });
                        return;
                    }
                    Err(e) => {
                        self.violations.push(Violation::Codec {
                            detail: e.to_string(),
                        });
                        return;
                    }
                };
                if self.nodes[to].kind == Kind::Garbage
                    && let Some(g) = self.nodes[to].garbage.as_mut()
                {
                    g.observe(&message);
                }
                self.step(to, Event::Message { from, message });
            }
            SimEvent::Timer {
                to,
                incarnation,
                round,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.step(to, Event::TimerFired { round });
                }
            }
            SimEvent::Built {
                to,
                incarnation,
                round,
                parent,
                payload,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.step(
                        to,
                        Event::PayloadBuilt {
                            round,
                            parent,
                            payload,
                        },
                    );
                }
            }
            SimEvent::Validated {
                to,
                incarnation,
                block_id,
                valid,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.step(to, Event::PayloadValidated { block_id, valid });
                }
            }
            SimEvent::FetchRequest {
                to,
                requester,
                id,
                ancestors,
            } => self.serve_fetch(to, requester, id, ancestors),
            SimEvent::Fetched {
                to,
                incarnation,
                blocks,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.step(to, Event::BlockFetched { blocks });
                }
            }
            SimEvent::Crash {
                instance,
                torn,
                for_good,
            } => {
                if for_good {
                    self.nodes[instance].down_for_good = true;
                }
                if torn && self.nodes[instance].sm.is_some() {
                    self.nodes[instance].torn_crash_pending = true;
                } else {
                    self.crash(instance);
                }
            }
            SimEvent::Restart { instance } => {
                let n = &mut self.nodes[instance];
                n.torn_crash_pending = false;
                if n.sm.is_some() {
                    self.crash(instance);
                }
                if !self.nodes[instance].down_for_good {
                    self.boot(instance);
                }
            }
            SimEvent::Partition { groups } => {
                for (n, g) in self.nodes.iter_mut().zip(groups) {
                    n.group = g;
                }
                self.partitioned = true;
            }
            SimEvent::Heal => {
                // As the node's network reports it: every validator across the old divide
                // connects again.
                let reconnected: Vec<(usize, ValidatorIndex)> = (0..self.nodes.len())
                    .flat_map(|i| {
                        let nodes = &self.nodes;
                        nodes
                            .iter()
                            .filter(move |m| m.group != nodes[i].group)
                            .map(move |m| (i, m.index))
                    })
                    .collect();
                for n in &mut self.nodes {
                    n.group = 0;
                }
                self.partitioned = false;
                for (i, validator) in reconnected {
                    self.step(i, Event::PeerConnected { validator });
                }
            }
            SimEvent::FaultsOver => {
                for n in &mut self.nodes {
                    n.group = 0;
                }
                self.partitioned = false;
                for i in 0..self.nodes.len() {
                    if self.nodes[i].sm.is_none() && !self.nodes[i].down_for_good {
                        self.nodes[i].torn_crash_pending = false;
                        self.boot(i);
                    }
                }
                let r = self.max_honest_round();
                self.faults_over_round = Some(r);
            }
            SimEvent::LeaderCrash => self.crash_next_leader(),
        }
    }

    fn max_honest_round(&self) -> Round {
        self.honest_live()
            .filter_map(|n| n.sm.as_ref().map(Consensus::round))
            .max()
            .unwrap_or(0)
    }

    fn max_honest_qc(&self) -> Round {
        self.honest_live()
            .filter_map(|n| n.sm.as_ref().map(|s| s.highest_qc().round))
            .max()
            .unwrap_or(0)
    }

    fn crash_next_leader(&mut self) {
        // The highest round any running node is in: its next leader has not gathered that
        // round's votes or proposed yet (either would have moved it to the next round).
        let Some(round) = self
            .nodes
            .iter()
            .filter_map(|n| n.sm.as_ref().map(Consensus::round))
            .max()
        else {
            return;
        };
        let Some(sm) = self
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::Honest)
            .filter_map(|n| n.sm.as_ref())
            .find(|sm| sm.round() == round)
        else {
            return;
        };
        let leader = sm.leader(round + 1);
        let victims: Vec<usize> = (0..self.nodes.len())
            .filter(|j| self.nodes[*j].index == leader)
            .collect();
        for v in victims {
            self.nodes[v].down_for_good = true;
            self.crash(v);
        }
        let qc = self.max_honest_qc();
        self.leader_crash = Some((self.now, round, qc));
        self.note_crash_timeouts();
    }

    /// Records the timeouts honest nodes run in the two rounds a leader crash costs.
    fn note_crash_timeouts(&mut self) {
        let Some((_, round, _)) = self.leader_crash else {
            return;
        };
        if self.leader_crash_ms.is_some() {
            return;
        }
        for n in self.nodes.iter().filter(|n| n.honest() && !n.down_for_good) {
            if let Some(sm) = &n.sm
                && let Some(k) = sm.round().checked_sub(round).filter(|k| *k < 2)
            {
                let t = sm.round_timeout().as_millis() as u64;
                let slot = &mut self.leader_crash_timeouts[k as usize];
                *slot = (*slot).max(t);
            }
        }
    }

    fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.sm = None;
        n.garbage = None;
        n.incarnation += 1;
        n.torn_crash_pending = false;
    }

    fn step(&mut self, i: usize, event: Event) {
        let Some(sm) = self.nodes[i].sm.as_mut() else {
            return;
        };
        let before = sm.round();
        let mut actions = sm.handle(event);
        let entered = (self.cfg.log && sm.round() != before).then(|| {
            format!(
                "enter round {} (qc {}, tc {}, committed {}, timeout {:?})",
                sm.round(),
                sm.highest_qc().round,
                sm.safety().highest_tc_round(),
                sm.committed().height,
                sm.round_timeout()
            )
        });
        let f = sm.footprint();
        let bound = sm.footprint_bound();
        let total = f.blocks
            + f.certified
            + f.proposals
            + f.votes
            + f.timeouts
            + f.fetches
            + f.verified
            + f.leader_records
            + f.synced;
        self.max_footprint = self.max_footprint.max(total);
        let over = f.blocks > bound.blocks
            || f.certified > bound.certified
            || f.proposals > bound.proposals
            || f.vote_rounds > bound.vote_rounds
            || f.votes > bound.votes
            || f.timeout_rounds > bound.timeout_rounds
            || f.timeouts > bound.timeouts
            || f.fetches > bound.fetches
            || f.verified > bound.verified
            || f.leader_records > bound.leader_records
            || f.synced > bound.synced;
        if over {
            self.violations.push(Violation::Memory {
                instance: i,
                detail: format!("{f:?} > {bound:?}"),
            });
        }
        if let Some(line) = entered {
            self.note(Some(i), line);
        }
        let torn = self.nodes[i].torn_crash_pending;
        if torn {
            let keep = self.rng.random_range(0..=actions.len());
            actions.truncate(keep);
        }
        if self.nodes[i].kind == Kind::Garbage {
            actions = self.garbage_actions(i, actions);
        }
        self.apply(i, actions);
        if torn {
            self.crash(i);
        }
        self.after_step();
    }

    fn garbage_actions(&mut self, i: usize, actions: Vec<Action>) -> Vec<Action> {
        let Some(mut g) = self.nodes[i].garbage.take() else {
            return actions;
        };
        let round = self.nodes[i].sm.as_ref().map_or(0, Consensus::round);
        let out = g.transform(&mut self.rng, round, actions);
        self.nodes[i].garbage = Some(g);
        out
    }

    fn after_step(&mut self) {
        self.note_crash_timeouts();
        if let Some((t0, round, qc0)) = self.leader_crash
            && self.leader_crash_ms.is_none()
        {
            let qc = self.max_honest_qc();
            if qc > qc0 {
                let ms = self.now - t0;
                let rounds = qc - round;
                let [a, b] = self.leader_crash_timeouts;
                let bar = leader_crash_bar_ms(a, b, &self.cfg.network);
                self.leader_crash_ms = Some(ms);
                self.leader_crash_rounds = Some(rounds);
                self.leader_crash_bar_ms = Some(bar);
                if ms > bar || rounds > 2 {
                    self.violations
                        .push(Violation::LeaderCrash { ms, bar, rounds });
                }
            }
        }
    }

    fn hash_trace(&mut self, parts: &[&[u8]]) {
        self.trace.update(self.now.to_be_bytes());
        for p in parts {
            self.trace.update((p.len() as u32).to_be_bytes());
            self.trace.update(p);
        }
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for action in actions {
            if self.cfg.log {
                let line = match &action {
                    Action::Broadcast {
                        message: Message::Proposal(p),
                    } => Some(format!(
                        "propose round {} height {} (qc {}, tc {:?})",
                        p.block.round(),
                        p.block.height(),
                        p.qc.round,
                        p.tc.as_ref().map(|t| t.round)
                    )),
                    Action::Broadcast {
                        message: Message::Timeout(t),
                    } => Some(format!(
                        "timeout round {} (qc {})",
                        t.round, t.high_qc.round
                    )),
                    Action::Send {
                        to,
                        message: Message::Vote(v),
                    } => Some(format!("vote round {} to v{to}", v.round)),
                    Action::Send {
                        to,
                        message: Message::Sync(s),
                    } => Some(format!(
                        "sync to v{to} (qc {}, tc {:?})",
                        s.highest_qc.round,
                        s.highest_tc.as_ref().map(|t| t.round)
                    )),
                    Action::Commit { block, .. } => Some(format!(
                        "commit height {} round {}",
                        block.height(),
                        block.round()
                    )),
                    Action::FetchBlock { id, from, .. } => {
                        Some(format!("fetch {} from v{from}", hex::encode(&id.0[..4])))
                    }
                    Action::Rejected { from, reason } => {
                        Some(format!("reject from v{from}: {reason}"))
                    }
                    _ => None,
                };
                if let Some(line) = line {
                    self.note(Some(i), line);
                }
            }
            match action {
                Action::Persist(s) => {
                    let n = &mut self.nodes[i];
                    if n.disk.store(&s).is_ok() {
                        n.disk_voted = s.last_voted_round;
                    }
                }
                Action::StoreBlock(block) => {
                    self.nodes[i].stored.insert(block.id(), block);
                }
                Action::Send { to, message } => {
                    self.check_persisted(i, &message);
                    let targets: Vec<usize> = (0..self.nodes.len())
                        .filter(|j| self.nodes[*j].index == to && *j != i)
                        .collect();
                    for j in targets {
                        self.send(i, j, message.clone(), Some(to));
                    }
                }
                Action::Broadcast { message } => {
                    self.check_persisted(i, &message);
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.send(i, j, message.clone(), None);
                        }
                    }
                }
                Action::SetTimer { round, duration } => {
                    let incarnation = self.nodes[i].incarnation;
                    let ms = duration.as_millis() as u64 * self.nodes[i].clock_percent / 100;
                    self.schedule(
                        ms,
                        SimEvent::Timer {
                            to: i,
                            incarnation,
                            round,
                        },
                    );
                }
                Action::BuildPayload { round, parent } => {
                    let mut payload = b"ok".to_vec();
                    payload.push(i as u8);
                    payload.extend_from_slice(&self.rng.random::<u64>().to_be_bytes());
                    let delay = self.rng.random_range(1..=5);
                    let incarnation = self.nodes[i].incarnation;
                    self.schedule(
                        delay,
                        SimEvent::Built {
                            to: i,
                            incarnation,
                            round,
                            parent: parent.id,
                            payload,
                        },
                    );
                }
                Action::ValidatePayload { block } => {
                    let valid = block.payload().starts_with(b"ok");
                    let delay = self.rng.random_range(1..=5);
                    let incarnation = self.nodes[i].incarnation;
                    self.schedule(
                        delay,
                        SimEvent::Validated {
                            to: i,
                            incarnation,
                            block_id: block.id(),
                            valid,
                        },
                    );
                }
                Action::Commit { block, .. } => self.commit(i, block),
                Action::FetchBlock {
                    id,
                    ancestors,
                    from,
                } => {
                    let targets: Vec<usize> = (0..self.nodes.len())
                        .filter(|j| self.nodes[*j].index == from && *j != i)
                        .collect();
                    if let Some(&j) = targets.first()
                        && self.link_up(i, j)
                    {
                        let delay = self.latency();
                        self.messages += 1;
                        self.schedule(
                            delay,
                            SimEvent::FetchRequest {
                                to: j,
                                requester: i,
                                id,
                                ancestors,
                            },
                        );
                    }
                }
                Action::ReportEvidence(e) => {
                    if self.nodes[i].honest() {
                        self.evidence += 1;
                        if !self.byzantine.contains(&e.culprit()) {
                            self.violations.push(Violation::FalseEvidence {
                                validator: e.culprit(),
                            });
                        }
                    }
                }
                Action::Rejected { reason, .. } => {
                    if self.nodes[i].honest() {
                        let key = format!("{reason:?}");
                        let key = key.split(['(', ' ', '{']).next().unwrap_or("").to_string();
                        *self.rejections.entry(key).or_default() += 1;
                    }
                }
            }
        }
    }

    fn check_persisted(&mut self, i: usize, message: &Message) {
        let n = &self.nodes[i];
        if !n.honest() {
            return;
        }
        let round = match message {
            Message::Vote(v) if v.voter == n.index && !n.stored.contains_key(&v.block_id) => {
                self.violations.push(Violation::PersistBeforeSend {
                    instance: i,
                    round: v.round,
                });
                return;
            }
            Message::Vote(v) if v.voter == n.index => v.round,
            Message::Timeout(t) if t.author == n.index => t.round,
            _ => return,
        };
        if n.disk_voted < round {
            self.violations
                .push(Violation::PersistBeforeSend { instance: i, round });
        }
    }

    fn latency(&mut self) -> u64 {
        let (lo, hi) = (
            self.cfg.network.min_latency_ms,
            self.cfg
                .network
                .max_latency_ms
                .max(self.cfg.network.min_latency_ms),
        );
        self.rng.random_range(lo..=hi)
    }

    /// Whether a message from `i` to `j` gets through now (partition and loss).
    fn link_up(&mut self, i: usize, j: usize) -> bool {
        if self.partitioned && self.nodes[i].group != self.nodes[j].group {
            return false;
        }
        !(self.cfg.network.loss > 0.0 && self.rng.random_bool(self.cfg.network.loss.min(1.0)))
    }

    /// Sends `message` from instance `i` to instance `j` in the production encoding
    /// ([`crate::wire`]), numbered like the node numbers its sends.
    fn send(&mut self, i: usize, j: usize, message: Message, recipient: Option<ValidatorIndex>) {
        self.messages += 1;
        let bytes = crate::wire::encode_message(CHAIN_ID, &message, recipient, self.messages);
        self.hash_trace(&[&(i as u32).to_be_bytes(), &(j as u32).to_be_bytes(), &bytes]);
        if !self.link_up(i, j) {
            return;
        }
        let from = self.nodes[i].index;
        let copies = if self.cfg.network.duplicate > 0.0
            && self.rng.random_bool(self.cfg.network.duplicate.min(1.0))
        {
            2
        } else {
            1
        };
        let slow = self.cfg.slow_validator.and_then(|(v, extra)| {
            let involved = self.nodes[i].index == v || self.nodes[j].index == v;
            (involved && self.now < self.cfg.fault_phase_ms).then_some(extra)
        });
        for _ in 0..copies {
            let delay = self.latency() + slow.unwrap_or(0);
            self.schedule(
                delay,
                SimEvent::Deliver {
                    to: j,
                    sender: i,
                    from,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    fn serve_fetch(&mut self, server: usize, requester: usize, id: Hash, ancestors: u32) {
        if self.nodes[server].sm.is_none() {
            return;
        }
        let mut blocks = Vec::new();
        let mut cur = id;
        while blocks.len() <= ancestors as usize {
            let Some(b) = self.nodes[server].block(&cur) else {
                break;
            };
            cur = b.parent();
            blocks.push(b);
        }
        if blocks.is_empty() || !self.link_up(server, requester) {
            return;
        }
        self.messages += 1;
        let delay = self.latency();
        let incarnation = self.nodes[requester].incarnation;
        self.schedule(
            delay,
            SimEvent::Fetched {
                to: requester,
                incarnation,
                blocks,
            },
        );
    }

    fn commit(&mut self, i: usize, block: Block) {
        let honest = self.nodes[i].honest();
        let n = &mut self.nodes[i];
        let expected_parent = n.chain.last().map_or(GENESIS, Block::id);
        let height = block.height();
        if height != n.chain.len() as u64 + 1 || block.parent() != expected_parent {
            self.violations.push(Violation::CommitOrder {
                instance: i,
                height,
            });
            return;
        }
        n.chain_index.insert(block.id(), n.chain.len());
        n.chain.push(block.clone());
        n.stored.retain(|_, b| b.height() > height);
        if let Some(r0) = self.faults_over_round
            && block.round() > r0
        {
            n.fresh_commits += 1;
            if self.recovery_rounds.is_none() && honest {
                let r = self.max_honest_round();
                self.recovery_rounds = Some(r.saturating_sub(r0));
            }
        }
        self.hash_trace(&[b"commit", &(i as u32).to_be_bytes(), &block.id().0]);
        if !honest {
            return;
        }
        let h = height as usize;
        if self.canonical.len() >= h {
            if self.canonical[h - 1] != block.id() {
                self.violations.push(Violation::Safety {
                    height,
                    instance: i,
                });
            }
        } else {
            self.canonical.push(block.id());
        }
    }

    fn final_checks(&mut self) {
        // Every honest chain is a prefix of the canonical (longest) one.
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.honest() {
                continue;
            }
            for (h, b) in n.chain.iter().enumerate() {
                if self.canonical.get(h) != Some(&b.id()) {
                    self.violations.push(Violation::Safety {
                        height: h as u64 + 1,
                        instance: i,
                    });
                    break;
                }
            }
        }
        match self.faults_over_round {
            None => self.violations.push(Violation::Liveness {
                detail: "the fault phase never ended".into(),
            }),
            Some(r0) => {
                let lagging: Vec<(usize, u64)> = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.honest() && !n.down_for_good)
                    .filter(|(_, n)| n.fresh_commits < self.cfg.commits_after_faults)
                    .map(|(i, n)| (i, n.fresh_commits))
                    .collect();
                if !lagging.is_empty() {
                    self.violations.push(Violation::Liveness {
                        detail: format!(
                            "after round {r0}, (instance, commits) {lagging:?} below {} by t={}ms",
                            self.cfg.commits_after_faults, self.now
                        ),
                    });
                }
                if let Some(r) = self.recovery_rounds
                    && r > self.cfg.liveness_rounds
                {
                    self.violations.push(Violation::Liveness {
                        detail: format!(
                            "commits resumed {r} rounds after the faults (bound {})",
                            self.cfg.liveness_rounds
                        ),
                    });
                }
            }
        }
        let longest = self
            .nodes
            .iter()
            .filter(|n| n.honest())
            .map(|n| &n.chain)
            .max_by_key(|c| c.len());
        if self.cfg.expect_every_round_commits
            && let Some(b) = longest.and_then(|c| c.iter().find(|b| b.round() != b.height()))
        {
            self.violations
                .push(Violation::RoundWithoutCommit { round: b.height() });
        }
        if self.cfg.leader_crash && self.leader_crash.is_none() {
            self.violations.push(Violation::Liveness {
                detail: "the leader crash never happened".into(),
            });
        } else if self.cfg.leader_crash && self.leader_crash_ms.is_none() {
            self.violations.push(Violation::Liveness {
                detail: "no block certified after the leader crash".into(),
            });
        }
    }

    fn report(self) -> SimReport {
        let committed_height = self.canonical.len() as u64;
        let max_round = self
            .nodes
            .iter()
            .filter(|n| n.honest())
            .filter_map(|n| n.sm.as_ref().map(Consensus::round))
            .max()
            .unwrap_or(0);
        let final_states = self
            .nodes
            .iter()
            .map(|n| match &n.sm {
                Some(sm) => format!(
                    "v{} {:?} round {} qc {} tc {} voted {} committed {} chain {} fetches {}",
                    n.index,
                    n.kind,
                    sm.round(),
                    sm.highest_qc().round,
                    sm.safety().highest_tc_round(),
                    sm.safety().last_voted_round,
                    sm.committed().height,
                    n.chain.len(),
                    sm.footprint().fetches
                ),
                None => format!("v{} {:?} down", n.index, n.kind),
            })
            .collect();
        SimReport {
            final_states,
            seed: self.cfg.seed,
            trace_hash: Hash(self.trace.finalize().into()),
            max_round,
            committed_height,
            messages: self.messages,
            recovery_rounds: self.recovery_rounds,
            leader_crash_ms: self.leader_crash_ms,
            leader_crash_rounds: self.leader_crash_rounds,
            leader_crash_timeouts_ms: self.leader_crash.map(|_| self.leader_crash_timeouts),
            leader_crash_bar_ms: self.leader_crash_bar_ms,
            evidence: self.evidence,
            rejections: self.rejections,
            max_footprint: self.max_footprint,
            log: self.log,
            violations: self.violations,
        }
    }
}
