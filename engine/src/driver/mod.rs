//! The consensus driver: one thread that owns the consensus state machine and the chain,
//! feeds the state machine its events (messages, timers, payload verdicts, fetched blocks)
//! and carries out its actions in order.
//!
//! Everything that changes the chain happens on this thread, so a block is committed once,
//! in height order, whether consensus or block sync delivers it. The thread reads the clock
//! (consensus does not), through [`Clock`]: round timers and the minimum block interval live
//! here.
//!
//! The persist-before-send contract: `Persist` and `StoreBlock` are written durably (MDBX
//! commit with fsync) before any later action of the same list runs; if that fails the
//! driver stops without sending anything.
//!
//! `blocks` holds the chain side (execute, build, commit, import); this file the loop, the
//! inputs, the timers and consensus's actions.

mod blocks;

use crate::store;
use crate::{
    clock::{Clock, now_secs},
    input::Input,
    observe::Observer,
    state::Shared,
};
use alloy_primitives::B256;
use ed25519_dalek::SigningKey;
use parallax_bridge::watcher::DepositView;
use parallax_chain::ChainSpec;
use parallax_chain::{Chain, ChainError, ExecutedBlock};
use parallax_consensus::{
    Action, Block, BlockInfo, Config, Consensus, Event, Hash as BlockId, Limits, Message,
    Rejection, Reputation, Timing,
};
use parallax_genesis::{ParallaxConfig, ValidatorKeys};
use parallax_network::{
    NetworkHandle, Topic, Validation,
    wire::{self, CommittedBlock, FetchRequest},
};
use parallax_txpool::Mempool;
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::Ordering,
        mpsc::{Receiver, RecvTimeoutError, SyncSender},
    },
    time::{Duration, Instant},
};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

/// Most transactions put in one block.
const MAX_BLOCK_TXS: usize = 10_000;
/// Most timers kept (a round sets at most two).
const MAX_TIMERS: usize = 8;
/// Ethereum hashes of consensus blocks remembered.
const MAX_IDS: usize = 4_096;

/// This node's validator identity.
pub struct Validator {
    /// Its index in the genesis validator set.
    pub index: u32,
    /// Its consensus signing key.
    pub key: SigningKey,
    /// The consensus configuration the genesis sets.
    pub config: Config,
}

impl Validator {
    /// This node as a consensus participant, when `keys` are one of the genesis validators':
    /// its index, signing key and the consensus configuration the genesis sets. Errs when
    /// the genesis validator set is unusable.
    pub fn for_keys(
        keys: &ValidatorKeys,
        parallax: &ParallaxConfig,
        spec: &ChainSpec,
    ) -> Result<Option<Self>, String> {
        let Some(index) = keys.validator_index(parallax) else {
            return Ok(None);
        };
        let t = &parallax.consensus;
        let config = Config {
            chain_id: spec.chain_id,
            validators: crate::sync::validator_set(spec)?,
            genesis: BlockInfo::genesis(spec.genesis_id()),
            timing: Timing {
                base_timeout: Duration::from_millis(t.base_round_timeout_ms),
                max_timeout: Duration::from_millis(t.max_round_timeout_ms),
                backoff_percent: t.timeout_backoff_percent,
            },
            limits: Limits::default(),
            reputation: Reputation::default(),
        };
        Ok(Some(Self {
            index: index as u32,
            key: keys.consensus_key().clone(),
            config,
        }))
    }
}

/// The driver's state.
pub struct Driver {
    chain: Chain,
    validator: Option<Validator>,
    consensus: Option<Consensus>,
    mempool: Arc<Mutex<Mempool>>,
    net: Option<NetworkHandle>,
    rt: tokio::runtime::Handle,
    shared: Arc<Shared>,
    commits: broadcast::Sender<Arc<ExecutedBlock>>,
    inputs: SyncSender<Input>,
    min_block_interval: Duration,
    /// Ethereum hash of consensus blocks this node executed or committed.
    eth: HashMap<BlockId, (B256, u64)>,
    timers: Vec<(Instant, u64)>,
    /// A payload consensus asked for, and when to build it if no transaction arrives.
    build: Option<(u64, BlockInfo, Instant)>,
    /// This node's view of the Ethereum bridge's deposits; `None` when the chain has no L1
    /// bridge or this node no L1 RPC (it then proposes no deposits and votes for none).
    deposits: Option<Arc<DepositView>>,
    /// The number of this node's next consensus send (see `wire::encode_message`): it starts
    /// from the clock, so sends after a restart do not repeat the numbers of earlier ones.
    send_seq: u64,
    /// Validators that connected, and when to tell consensus (once gossip has exchanged
    /// subscriptions with them, so what consensus sends again reaches them).
    reconnects: Vec<(Instant, u32)>,
    /// What the consensus metrics are computed from.
    observer: Observer,
    /// What round timers, the minimum block interval and reconnection delays are read on.
    clock: Arc<dyn Clock>,
}

/// How long after a validator connects consensus is told (gossip exchanges topic
/// subscriptions with a new peer first, as soon as the connection is up).
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// Most pending reconnections (one per validator is what matters).
const MAX_RECONNECTS: usize = 256;

/// Why the driver stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Storing safety data or a block failed: the node must not go on.
    #[error("storing consensus data failed: {0}")]
    Persist(String),
    /// The chain refused a committed block.
    #[error("committing failed: {0}")]
    Commit(#[from] ChainError),
    /// Reading consensus data back failed.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// Consensus could not be rebuilt after sync.
    #[error("consensus: {0}")]
    Consensus(String),
}

fn topic(message: &Message) -> Topic {
    match message {
        Message::Proposal(_) => Topic::Proposals,
        Message::Vote(_) => Topic::Votes,
        Message::Timeout(_) | Message::Sync(_) | Message::Evidence(_) => Topic::Timeouts,
    }
}

/// Whether a rejection means the sender misbehaved (penalise) or is merely late or early.
fn is_fault(reason: &Rejection) -> bool {
    !matches!(
        reason,
        Rejection::StaleRound { .. }
            | Rejection::FutureRound { .. }
            | Rejection::Duplicate
            | Rejection::NotNextLeader(_)
            | Rejection::LeaderChanged { .. }
            | Rejection::Unsolicited
    )
}

/// What a driver is made of: the chain and consensus identity it owns, and the parts it
/// talks to.
pub struct DriverParts {
    /// The chain it builds, executes and commits on.
    pub chain: Chain,
    /// This node's validator identity; `None` for a full node (it imports, never votes).
    pub validator: Option<Validator>,
    /// Where payloads come from and committed transactions leave.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The network consensus messages go out on; `None` for a one-validator chain.
    pub net: Option<NetworkHandle>,
    /// The runtime network sends are spawned on.
    pub rt: tokio::runtime::Handle,
    /// What the driver publishes for RPC, admin and metrics.
    pub shared: Arc<Shared>,
    /// Where committed blocks are announced.
    pub commits: broadcast::Sender<Arc<ExecutedBlock>>,
    /// The driver's own input queue (for fetches it asks the network for).
    pub inputs: SyncSender<Input>,
    /// The least time between blocks when no transactions wait.
    pub min_block_interval: Duration,
    /// What timers are read on.
    pub clock: Arc<dyn Clock>,
    /// This node's view of the bridge's deposits; `None` when the chain has no L1 bridge or
    /// this node no L1 RPC (it then proposes no deposits and votes for none).
    pub deposits: Option<Arc<DepositView>>,
}

impl Driver {
    /// A driver of these parts; consensus starts when [`Driver::run`] does.
    pub fn new(parts: DriverParts) -> Self {
        let DriverParts {
            chain,
            validator,
            mempool,
            net,
            rt,
            shared,
            commits,
            inputs,
            min_block_interval,
            clock,
            deposits,
        } = parts;
        Self {
            chain,
            validator,
            consensus: None,
            mempool,
            net,
            rt,
            shared,
            commits,
            inputs,
            min_block_interval,
            eth: HashMap::new(),
            timers: Vec::new(),
            build: None,
            deposits,
            send_seq: crate::clock::now_millis().saturating_mul(1 << 16),
            observer: Observer::default(),
            reconnects: Vec::new(),
            clock,
        }
    }

    /// (Re)builds the state machine from the database and starts it.
    fn start_consensus(&mut self) -> Result<(), DriverError> {
        let Some(v) = &self.validator else {
            return Ok(());
        };
        let genesis = self.chain.spec().genesis_id();
        let recovery = store::recovery(self.chain.db(), genesis)?;
        let head = recovery.committed;
        let mut consensus = Consensus::new(v.config.clone(), v.index, v.key.clone(), recovery)
            .map_err(|e| DriverError::Consensus(e.to_string()))?;
        // Rebuilt after block sync: what the previous machine learnt about lost safety data
        // still holds.
        if let Some(previous) = &self.consensus {
            consensus.carry_continuity(previous.continuity());
        }
        self.eth
            .insert(head.id, (self.chain.head().hash, head.height));
        let actions = consensus.start();
        info!(
            validator = v.index,
            round = consensus.round(),
            committed = head.height,
            "consensus started"
        );
        self.observer.baseline(
            consensus.highest_qc().round,
            consensus.safety().highest_tc_round(),
        );
        self.shared
            .consensus
            .metrics
            .set_validators(v.config.validators.len());
        self.consensus = Some(consensus);
        self.timers.clear();
        self.build = None;
        self.perform(actions, None)
    }

    /// Runs until [`Input::Shutdown`] or until every sender is gone.
    pub fn run(mut self, inputs: Receiver<Input>) -> Result<(), DriverError> {
        self.start_consensus()?;
        self.publish_status();
        loop {
            let next = self
                .timers
                .iter()
                .map(|(at, _)| *at)
                .chain(self.build.as_ref().map(|(_, _, at)| *at))
                .chain(self.reconnects.iter().map(|(at, _)| *at))
                .min();
            let input = match next {
                Some(at) => match inputs.recv_timeout(self.clock.wait_for(at)) {
                    Ok(input) => Some(input),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match inputs.recv() {
                    Ok(input) => Some(input),
                    Err(_) => break,
                },
            };
            match input {
                Some(Input::Shutdown) => break,
                Some(input) => self.on_input(input)?,
                None => {}
            }
            self.fire_due()?;
            self.publish_status();
        }
        info!("consensus driver stopped");
        Ok(())
    }

    fn publish_status(&mut self) {
        let s = &self.shared;
        s.chain
            .head
            .store(self.chain.head().header.number, Ordering::Relaxed);
        if let Some(c) = &self.consensus {
            self.observer.on_certificates(
                c.highest_qc().round,
                c.safety().highest_tc_round(),
                &s.consensus.metrics,
                self.clock.now(),
            );
            s.consensus.round.store(c.round(), Ordering::Relaxed);
            s.consensus
                .highest_qc_round
                .store(c.highest_qc().round, Ordering::Relaxed);
            s.consensus
                .committed_round
                .store(c.committed().round, Ordering::Relaxed);
            s.consensus
                .leader
                .store(u64::from(c.leader(c.round())), Ordering::Relaxed);
            s.consensus
                .locked_round
                .store(c.safety().locked_round, Ordering::Relaxed);
            s.consensus
                .last_voted_round
                .store(c.safety().last_voted_round, Ordering::Relaxed);
            s.consensus
                .highest_tc_round
                .store(c.safety().highest_tc_round(), Ordering::Relaxed);
            s.consensus.round_timeout_ms.store(
                u64::try_from(c.round_timeout().as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            s.consensus
                .signing_floor
                .store(c.signing_floor().unwrap_or(0), Ordering::Relaxed);
            s.consensus
                .signing_paused
                .store(u64::from(c.signing_paused()), Ordering::Relaxed);
        }
    }

    fn fire_due(&mut self) -> Result<(), DriverError> {
        let now = self.clock.now();
        let due: Vec<u64> = self
            .timers
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, r)| *r)
            .collect();
        self.timers.retain(|(at, _)| *at > now);
        for round in due {
            self.feed(Event::TimerFired { round }, None)?;
        }
        if let Some((_, _, at)) = &self.build
            && *at <= now
        {
            self.build_now()?;
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reconnects)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.reconnects = later;
        for (_, validator) in due {
            self.feed(Event::PeerConnected { validator }, None)?;
        }
        Ok(())
    }

    fn on_input(&mut self, input: Input) -> Result<(), DriverError> {
        match input {
            Input::Consensus {
                from,
                gossip,
                message,
            } => self.feed(
                Event::Message {
                    from,
                    message: *message,
                },
                gossip,
            ),
            Input::TxArrived => {
                self.shared
                    .transactions
                    .tx_signal
                    .store(false, std::sync::atomic::Ordering::Release);
                if self.build.is_some() {
                    self.build_now()?;
                }
                Ok(())
            }
            Input::Fetched(blocks) => self.feed(Event::BlockFetched { blocks }, None),
            Input::PeerConnected(validator) => {
                if !self.reconnects.iter().any(|(_, v)| *v == validator)
                    && self.reconnects.len() < MAX_RECONNECTS
                {
                    self.reconnects
                        .push((self.clock.now() + RECONNECT_DELAY, validator));
                }
                Ok(())
            }
            Input::Synced { blocks, done } => {
                let result = self.import(blocks);
                let reply = match &result {
                    Ok(n) => Ok(*n),
                    Err(e) => Err(e.to_string()),
                };
                let _ = done.send(reply);
                result.map(|_| ())
            }
            Input::Shutdown => Ok(()),
        }
    }

    /// Feeds one event and carries out what follows, including the events the driver
    /// answers itself (payload verdicts).
    fn feed(
        &mut self,
        event: Event,
        gossip: Option<(parallax_network::MessageId, libp2p::PeerId)>,
    ) -> Result<(), DriverError> {
        let Some(consensus) = self.consensus.as_mut() else {
            return Ok(());
        };
        if let Event::Message {
            message: Message::Proposal(p),
            ..
        } = &event
        {
            self.observer.on_proposal(p.block.round(), self.clock.now());
        }
        let actions = consensus.handle(event);
        self.perform(actions, gossip)
    }

    /// Feeds the consensus metrics from an action about to be carried out.
    fn observe(&mut self, action: &Action) {
        let m = &self.shared.consensus.metrics;
        let me = self.validator.as_ref().map(|v| v.index);
        match action {
            Action::Broadcast {
                message: Message::Proposal(p),
            } => self.observer.on_proposal(p.block.round(), self.clock.now()),
            Action::Broadcast {
                message: Message::Timeout(t),
            } if Some(t.author) == me => self.observer.on_own_timeout(t.round, m),
            Action::Commit { block, .. } => self.observer.on_commit(block, m, self.clock.now()),
            _ => {}
        }
    }

    fn perform(
        &mut self,
        actions: Vec<Action>,
        gossip: Option<(parallax_network::MessageId, libp2p::PeerId)>,
    ) -> Result<(), DriverError> {
        // The rejections in the first list are about the input itself: they decide what
        // gossip does with the message (forward, drop, or drop and penalise the sender).
        let mut verdict = Validation::Accept;
        for action in &actions {
            if let Action::Rejected { reason, .. } = action {
                verdict = if is_fault(reason) {
                    Validation::Reject
                } else if verdict == Validation::Accept {
                    Validation::Ignore
                } else {
                    verdict
                };
            }
        }
        if let (Some((id, source)), Some(net)) = (gossip, &self.net) {
            net.report(id, source, verdict);
        }
        self.perform_rest(actions.into(), VecDeque::new())
    }

    fn perform_rest(
        &mut self,
        mut queue: VecDeque<Action>,
        mut follow_ups: VecDeque<Event>,
    ) -> Result<(), DriverError> {
        loop {
            while let Some(action) = queue.pop_front() {
                if let Action::Rejected { reason, from } = &action {
                    self.shared.consensus.count_rejection(reason);
                    debug!(from, %reason, "consensus input rejected");
                    continue;
                }
                self.observe(&action);
                if let Some(event) = self.act(action)? {
                    follow_ups.push_back(event);
                }
            }
            let Some(event) = follow_ups.pop_front() else {
                return Ok(());
            };
            let Some(consensus) = self.consensus.as_mut() else {
                return Ok(());
            };
            queue.extend(consensus.handle(event));
        }
    }

    fn send(&mut self, message: Message, recipient: Option<u32>) {
        let Some(net) = self.net.clone() else {
            return;
        };
        let chain_id = self.chain.spec().chain_id;
        let topic = topic(&message);
        self.send_seq = self.send_seq.wrapping_add(1);
        let bytes = wire::encode_message(chain_id, &message, recipient, self.send_seq);
        self.rt.spawn(async move {
            if let Err(e) = net.publish(topic, bytes).await
                && !e.is_benign()
            {
                warn!(error = %e, "publishing a consensus message failed");
            }
        });
    }

    /// Carries out one action; returns the event that answers it, if the driver answers
    /// at once.
    fn act(&mut self, action: Action) -> Result<Option<Event>, DriverError> {
        match action {
            Action::Persist(data) => {
                store::store_safety(self.chain.db(), &data)
                    .map_err(|e| DriverError::Persist(e.to_string()))?;
                Ok(None)
            }
            Action::StoreBlock(block) => {
                store::store_block(self.chain.db(), &block)
                    .map_err(|e| DriverError::Persist(e.to_string()))?;
                Ok(None)
            }
            Action::Send { to, message } => {
                if Some(to) == self.validator.as_ref().map(|v| v.index) {
                    return Ok(Some(Event::Message { from: to, message }));
                }
                if let Message::Proposal(p) = &message {
                    self.note_own_proposal(&p.block);
                }
                self.send(message, Some(to));
                Ok(None)
            }
            Action::Broadcast { message } => {
                if let Message::Proposal(p) = &message {
                    self.note_own_proposal(&p.block);
                }
                self.send(message, None);
                Ok(None)
            }
            Action::SetTimer { round, duration } => {
                self.timers.retain(|(_, r)| *r >= round);
                if self.timers.len() >= MAX_TIMERS {
                    self.timers.remove(0);
                }
                self.timers.push((self.clock.now() + duration, round));
                Ok(None)
            }
            Action::BuildPayload { round, parent } => {
                let ready = self.mempool.lock().map(|m| m.ready_len()).unwrap_or(0);
                let at = if ready > 0 {
                    self.clock.now()
                } else {
                    self.clock.now() + self.min_block_interval
                };
                // Built by the run loop (`fire_due`), never here: a validator that is its own
                // quorum would otherwise propose, vote and build again inside this call for as
                // long as transactions keep arriving, reading no input and publishing no
                // status in the meantime.
                self.build = Some((round, parent, at));
                Ok(None)
            }
            Action::ValidatePayload { block } => {
                let valid = match self.execute(&block, Some(now_secs())) {
                    Ok(_) => true,
                    Err(e) => {
                        warn!(block = ?block.id(), height = block.height(), error = %e, "proposal refused");
                        self.shared
                            .consensus
                            .invalid_proposals
                            .fetch_add(1, Ordering::Relaxed);
                        false
                    }
                };
                Ok(Some(Event::PayloadValidated {
                    block_id: block.id(),
                    valid,
                }))
            }
            Action::Commit { block, commit_qc } => {
                let child = self
                    .consensus
                    .as_ref()
                    .and_then(|c| c.block(&commit_qc.block_id))
                    .filter(|c| c.parent() == block.id())
                    .cloned();
                let record = CommittedBlock {
                    block,
                    commit_qc,
                    child,
                };
                self.commit(&record)?;
                Ok(None)
            }
            Action::FetchBlock {
                id,
                ancestors,
                from,
            } => {
                self.fetch(id, ancestors, from);
                Ok(None)
            }
            Action::ReportEvidence(evidence) => {
                let _ = crate::ingress::record_evidence(self.chain.db(), &self.shared, &evidence);
                Ok(None)
            }
            Action::Rejected { .. } => Ok(None),
        }
    }

    fn note_own_proposal(&mut self, block: &Block) {
        if let Ok((header, _, _)) = wire::decode_payload_raw(block.payload()) {
            self.remember(block.id(), header.hash_slow(), block.height());
        }
    }

    fn remember(&mut self, id: BlockId, hash: B256, height: u64) {
        if self.eth.len() >= MAX_IDS {
            let head = self.chain.head().header.number;
            self.eth.retain(|_, (_, h)| *h + 64 >= head);
            if self.eth.len() >= MAX_IDS {
                self.eth.clear();
            }
        }
        self.eth.insert(id, (hash, height));
    }

    fn fetch(&self, id: BlockId, ancestors: u32, from: u32) {
        let (Some(net), Some(peer)) = (
            self.net.clone(),
            self.chain
                .spec()
                .validators
                .get(from as usize)
                .map(|v| v.peer_id),
        ) else {
            return;
        };
        let inputs = self.inputs.clone();
        let request = wire::encode_fetch_request(&FetchRequest { id, ancestors });
        self.rt.spawn(async move {
            match net.request(peer, request).await {
                Ok(bytes) => match wire::decode_fetch_response(&bytes) {
                    Ok(blocks) if !blocks.is_empty() => {
                        let _ = inputs.try_send(Input::Fetched(blocks));
                    }
                    Ok(_) => {}
                    Err(e) => debug!(%peer, error = %e, "bad fetch response"),
                },
                Err(e) => debug!(%peer, error = %e, "block fetch failed"),
            }
        });
    }
}
