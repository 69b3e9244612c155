//! The simulated world: validators' instances, the event queue in virtual time, and the
//! loop that delivers each event and carries out the actions it produces.

mod checks;
mod faults;
mod network;

use crate::{
    Adversary, CHAIN_ID, GENESIS, SimConfig, SimReport, Violation, adversary::Garbage,
    leader_crash_bar_ms, validator_key,
};
use parallax_consensus::storage::{MemoryStorage, SafetyStorage};
use parallax_consensus::types::{Block, BlockInfo, Hash, Message, Round, ValidatorIndex};
use parallax_consensus::validators::ValidatorSet;
use parallax_consensus::{Action, Config, Consensus, Event, Limits};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

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
pub(crate) fn run(cfg: SimConfig) -> SimReport {
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

    fn queue_at(&mut self, at: u64, ev: SimEvent) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
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
                let message = match parallax_consensus::wire::decode_message(&bytes) {
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
}
