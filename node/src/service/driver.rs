//! The consensus driver: one thread that owns the consensus state machine and the chain,
//! feeds the state machine its events (messages, timers, payload verdicts, fetched blocks)
//! and carries out its actions in order.
//!
//! Everything that changes the chain happens on this thread, so a block is committed once,
//! in height order, whether consensus or block sync delivers it. The thread reads the clock
//! (consensus does not): round timers and the minimum block interval live here.
//!
//! The persist-before-send contract: `Persist` and `StoreBlock` are written durably (MDBX
//! commit with fsync) before any later action of the same list runs; if that fails the
//! driver stops without sending anything.

use super::{Input, Shared, now_secs, observe::Observer, pool_env, store};
use alloy_primitives::B256;
use ed25519_dalek::SigningKey;
use parallax_bridge::watcher::DepositView;
use parallax_chain::{BlockContext, Chain, ChainError, ExecutedBlock, InvalidBlock};
use parallax_consensus::{
    Action, Block, BlockInfo, Config, Consensus, Event, Hash as BlockId, Message, Rejection,
};
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
use tracing::{debug, error, info, warn};

/// Most transactions put in one block.
const MAX_BLOCK_TXS: usize = 10_000;
/// Most timers kept (a round sets at most two).
const MAX_TIMERS: usize = 8;
/// Ethereum hashes of consensus blocks remembered.
const MAX_IDS: usize = 4_096;

/// This node's validator identity.
pub(crate) struct Validator {
    pub(crate) index: u32,
    pub(crate) key: SigningKey,
    pub(crate) config: Config,
}

/// The driver's state.
pub(crate) struct Driver {
    pub(crate) chain: Chain,
    pub(crate) validator: Option<Validator>,
    pub(crate) consensus: Option<Consensus>,
    pub(crate) mempool: Arc<Mutex<Mempool>>,
    pub(crate) net: Option<NetworkHandle>,
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) shared: Arc<Shared>,
    pub(crate) commits: broadcast::Sender<Arc<ExecutedBlock>>,
    pub(crate) inputs: SyncSender<Input>,
    pub(crate) min_block_interval: Duration,
    /// Ethereum hash of consensus blocks this node executed or committed.
    pub(crate) eth: HashMap<BlockId, (B256, u64)>,
    timers: Vec<(Instant, u64)>,
    /// A payload consensus asked for, and when to build it if no transaction arrives.
    build: Option<(u64, BlockInfo, Instant)>,
    /// This node's view of the Ethereum bridge's deposits; `None` when the chain has no L1
    /// bridge or this node no L1 RPC (it then proposes no deposits and votes for none).
    pub(crate) deposits: Option<Arc<DepositView>>,
    /// The number of this node's next consensus send (see `wire::encode_message`): it starts
    /// from the clock, so sends after a restart do not repeat the numbers of earlier ones.
    send_seq: u64,
    /// Validators that connected, and when to tell consensus (once gossip has exchanged
    /// subscriptions with them, so what consensus sends again reaches them).
    reconnects: Vec<(Instant, u32)>,
    /// What the consensus metrics are computed from.
    observer: Observer,
}

/// How long after a validator connects consensus is told (gossip exchanges topic
/// subscriptions with a new peer first, as soon as the connection is up).
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// Most pending reconnections (one per validator is what matters).
const MAX_RECONNECTS: usize = 256;

/// Why the driver stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DriverError {
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

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        chain: Chain,
        validator: Option<Validator>,
        mempool: Arc<Mutex<Mempool>>,
        net: Option<NetworkHandle>,
        rt: tokio::runtime::Handle,
        shared: Arc<Shared>,
        commits: broadcast::Sender<Arc<ExecutedBlock>>,
        inputs: SyncSender<Input>,
        min_block_interval: Duration,
    ) -> Self {
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
            deposits: None,
            send_seq: super::now_millis().saturating_mul(1 << 16),
            observer: Observer::default(),
            reconnects: Vec::new(),
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
            .consensus_metrics
            .set_validators(v.config.validators.len());
        self.consensus = Some(consensus);
        self.timers.clear();
        self.build = None;
        self.perform(actions, None)
    }

    /// Runs until [`Input::Shutdown`] or until every sender is gone.
    pub(crate) fn run(mut self, inputs: Receiver<Input>) -> Result<(), DriverError> {
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
                Some(at) => match inputs.recv_timeout(at.saturating_duration_since(Instant::now()))
                {
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
        s.head
            .store(self.chain.head().header.number, Ordering::Relaxed);
        if let Some(c) = &self.consensus {
            self.observer.on_certificates(
                c.highest_qc().round,
                c.safety().highest_tc_round(),
                &s.consensus_metrics,
                Instant::now(),
            );
            s.round.store(c.round(), Ordering::Relaxed);
            s.highest_qc_round
                .store(c.highest_qc().round, Ordering::Relaxed);
            s.committed_round
                .store(c.committed().round, Ordering::Relaxed);
            s.leader
                .store(u64::from(c.leader(c.round())), Ordering::Relaxed);
            s.locked_round
                .store(c.safety().locked_round, Ordering::Relaxed);
            s.last_voted_round
                .store(c.safety().last_voted_round, Ordering::Relaxed);
            s.highest_tc_round
                .store(c.safety().highest_tc_round(), Ordering::Relaxed);
            s.round_timeout_ms.store(
                u64::try_from(c.round_timeout().as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            s.signing_floor
                .store(c.signing_floor().unwrap_or(0), Ordering::Relaxed);
            s.signing_paused
                .store(u64::from(c.signing_paused()), Ordering::Relaxed);
        }
    }

    fn fire_due(&mut self) -> Result<(), DriverError> {
        let now = Instant::now();
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
                        .push((Instant::now() + RECONNECT_DELAY, validator));
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
            self.observer.on_proposal(p.block.round(), Instant::now());
        }
        let actions = consensus.handle(event);
        self.perform(actions, gossip)
    }

    /// Feeds the consensus metrics from an action about to be carried out.
    fn observe(&mut self, action: &Action) {
        let m = &self.shared.consensus_metrics;
        let me = self.validator.as_ref().map(|v| v.index);
        match action {
            Action::Broadcast {
                message: Message::Proposal(p),
            } => self.observer.on_proposal(p.block.round(), Instant::now()),
            Action::Broadcast {
                message: Message::Timeout(t),
            } if Some(t.author) == me => self.observer.on_own_timeout(t.round, m),
            Action::Commit { block, .. } => self.observer.on_commit(block, m, Instant::now()),
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
                    self.shared.count_rejection(reason);
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
                self.timers.push((Instant::now() + duration, round));
                Ok(None)
            }
            Action::BuildPayload { round, parent } => {
                let ready = self.mempool.lock().map(|m| m.ready_len()).unwrap_or(0);
                let at = if ready > 0 {
                    Instant::now()
                } else {
                    Instant::now() + self.min_block_interval
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
                let _ = super::record_evidence(self.chain.db(), &self.shared, &evidence);
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

    /// The Ethereum hash of a consensus block, executing it (and its unexecuted ancestors,
    /// which consensus holds) if needed.
    fn ensure_executed(&mut self, id: BlockId) -> Result<B256, ChainError> {
        let mut pending: Vec<Block> = Vec::new();
        let mut at = id;
        loop {
            if let Some((hash, _)) = self.eth.get(&at)
                && self.chain.header(hash).is_some()
            {
                break;
            }
            let block = self
                .consensus
                .as_ref()
                .and_then(|c| c.block(&at))
                .cloned()
                .ok_or_else(|| {
                    let c = self.consensus.as_ref();
                    ChainError::UnknownParent(format!(
                        "consensus block {at:?} (an ancestor of {id:?}; consensus holds {} uncommitted blocks above committed block {:?})",
                        c.map_or(0, |c| c.footprint().blocks),
                        c.map(|c| c.committed().id),
                    ))
                })?;
            at = block.parent();
            pending.push(block);
            if pending.len() > 64 {
                return Err(ChainError::UnknownParent("ancestry too deep".into()));
            }
        }
        let mut hash = self.eth[&at].0;
        while let Some(block) = pending.pop() {
            hash = self.execute(&block, None)?.hash;
        }
        Ok(hash)
    }

    /// Executes a consensus block's payload on its parent.
    fn execute(
        &mut self,
        block: &Block,
        now: Option<u64>,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let (header, txs, deposits) = wire::decode_payload(block.payload())
            .map_err(|e| InvalidBlock::Execution(format!("payload: {e}")))?;
        if now.is_some() && !deposits.is_empty() {
            // A live proposal: every deposit must be one this node's own view of Ethereum
            // confirmed. (Certified ancestors and synced blocks were checked by a quorum.)
            let verdict = match &self.deposits {
                Some(view) => view.check(&deposits),
                None => Err("this node has no view of Ethereum to check deposits against".into()),
            };
            if let Err(reason) = verdict {
                if let Some(view) = &self.deposits {
                    view.refused.fetch_add(1, Ordering::Relaxed);
                }
                return Err(InvalidBlock::Deposits(reason).into());
            }
        }
        let parent = self.ensure_executed(block.parent())?;
        if header.parent_hash != parent {
            return Err(parallax_chain::InvalidBlock::Header {
                field: "parent_hash",
                found: header.parent_hash.to_string(),
                expected: parent.to_string(),
            }
            .into());
        }
        // Senders the mempool already recovered (from the same signed bytes) are not
        // recovered again.
        let known: Vec<Option<alloy_primitives::Address>> = match self.mempool.lock() {
            Ok(pool) => txs
                .iter()
                .map(|t| pool.get(t.tx_hash()).map(|p| p.sender))
                .collect(),
            Err(_) => Vec::new(),
        };
        let executed = self.chain.validate_with_senders(
            block.height(),
            block.author(),
            &header,
            txs,
            &deposits,
            &known,
            now,
        )?;
        self.remember(block.id(), executed.hash, block.height());
        Ok(executed)
    }

    fn build_now(&mut self) -> Result<(), DriverError> {
        if let Some(event) = self.build_payload() {
            self.feed(event, None)?;
        }
        Ok(())
    }

    /// Builds the payload consensus asked for.
    fn build_payload(&mut self) -> Option<Event> {
        let (round, parent, _) = self.build.take()?;
        let me = self.validator.as_ref()?.index;
        let parent_hash = match self.ensure_executed(parent.id) {
            Ok(hash) => hash,
            Err(e) => {
                warn!(round, error = %e, "cannot build: parent unknown");
                return None;
            }
        };
        let parent_header = self.chain.header(&parent_hash)?.clone();
        let base_fee = parent_header
            .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(0);
        let candidates: Vec<_> = self
            .mempool
            .lock()
            .map(|m| m.best(parent_header.gas_limit, base_fee, MAX_BLOCK_TXS))
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.envelope.clone(), p.sender))
            .collect();
        // Transactions already in uncommitted ancestors are skipped by execution (nonce
        // too low), so the pool need not know about them.
        let ctx = BlockContext {
            parent_hash,
            author: me,
            timestamp: now_secs(),
        };
        let deposits = match &self.deposits {
            Some(view) => match self.chain.next_deposit_nonce(parent_hash) {
                Ok(next) => view.pending(next, parallax_proto::MAX_BLOCK_DEPOSITS),
                Err(e) => {
                    warn!(round, error = %e, "reading the next deposit nonce failed");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let block = match self.chain.build(ctx, candidates, deposits) {
            Ok(block) => block,
            Err(e) => {
                error!(round, error = %e, "building a block failed");
                return None;
            }
        };
        let encoded: Vec<Vec<u8>> = block
            .transactions
            .iter()
            .map(alloy_eips::eip2718::Encodable2718::encoded_2718)
            .collect();
        let payload = wire::encode_payload(&block.header, &encoded, &block.deposits);
        debug!(
            round,
            number = block.header.number,
            transactions = block.transactions.len(),
            deposits = block.deposits.len(),
            "payload built"
        );
        Some(Event::PayloadBuilt {
            round,
            parent: parent.id,
            payload,
        })
    }

    /// Writes a committed block (executing it first if this node never did).
    fn commit(&mut self, record: &CommittedBlock) -> Result<(), DriverError> {
        let height = record.block.height();
        self.shared
            .consensus_committed
            .fetch_max(height, Ordering::Relaxed);
        let head = self.chain.head().header.number;
        if height <= head {
            // Block sync got here first; it must be the same block.
            let stored = self
                .chain
                .db()
                .reader()
                .ok()
                .and_then(|r| store::committed_record(&r, height).ok().flatten());
            if stored.as_ref().map(|s| s.block.id()) != Some(record.block.id()) {
                return Err(DriverError::Commit(ChainError::Fork {
                    number: height,
                    hash: B256::ZERO,
                    head: self.chain.head().hash,
                }));
            }
            return Ok(());
        }
        let hash = match self.ensure_executed(record.block.id()) {
            Ok(hash) => hash,
            Err(ChainError::UnknownParent(what)) => {
                // Consensus committed a block whose ancestors this node does not hold
                // (it was down or is catching up): block sync brings them, with their proofs.
                warn!(height, missing = %what, "committed block above a gap: waiting for block sync");
                self.shared.commit_gaps.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let started = Instant::now();
        let block = self.chain.commit(
            hash,
            wire::encode_committed(&record.block, &record.commit_qc, record.child.as_ref()).into(),
        )?;
        self.after_commit(&block, started.elapsed());
        Ok(())
    }

    /// Bookkeeping after `block` was written to the database, which took `persist`.
    fn after_commit(&mut self, block: &Arc<ExecutedBlock>, persist: Duration) {
        let head = block.header.number;
        // Published as soon as the block is in the database (the run loop publishes the rest
        // of the status after each input), so the head RPC reports never trails the stored
        // chain for longer than one commit.
        self.shared.head.store(head, Ordering::Relaxed);
        if let Ok(reader) = self.chain.db().reader() {
            let env = pool_env(self.chain.spec(), &block.header);
            let state = super::DbAccounts(&reader);
            if let Ok(mut pool) = self.mempool.lock() {
                // Every account whose balance or nonce changed: senders, and accounts that paid
                // through delegated code (EIP-7702) without sending.
                pool.on_commit(block.changes.accounts.keys().copied(), &state, &env);
                self.shared
                    .mempool_size
                    .store(pool.len() as u64, Ordering::Relaxed);
            }
        }
        self.shared
            .metrics
            .on_commit(block, persist, Instant::now());
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        self.shared
            .last_commit_ms
            .store(super::now_millis(), Ordering::Relaxed);
        self.shared
            .committed_txs
            .fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
        if let (Some(view), Some(last)) = (&self.deposits, block.deposits.last()) {
            view.prune_below(last.nonce + 1);
        }
        let _ = self.commits.send(block.clone());
        if head.is_multiple_of(16)
            && let Err(e) = store::prune_blocks(self.chain.db(), head)
        {
            warn!(error = %e, "pruning stored consensus blocks failed");
        }
    }

    /// Imports blocks that block sync verified as committed; returns how many were new.
    fn import(&mut self, records: Vec<CommittedBlock>) -> Result<u64, DriverError> {
        let mut imported = 0;
        for record in records {
            let height = record.block.height();
            let head = self.chain.head().header.number;
            if height <= head {
                continue;
            }
            if height != head + 1 {
                break;
            }
            let (header, txs, deposits) = match wire::decode_payload(record.block.payload()) {
                Ok(p) => p,
                Err(e) => {
                    return Err(DriverError::Commit(ChainError::Invalid(
                        parallax_chain::InvalidBlock::Execution(format!("synced payload: {e}")),
                    )));
                }
            };
            let executed = self.chain.validate(
                height,
                record.block.author(),
                &header,
                txs,
                &deposits,
                None,
            )?;
            let started = Instant::now();
            let block = self.chain.commit(
                executed.hash,
                wire::encode_committed(&record.block, &record.commit_qc, record.child.as_ref())
                    .into(),
            )?;
            let persist = started.elapsed();
            self.remember(record.block.id(), block.hash, height);
            self.after_commit(&block, persist);
            imported += 1;
        }
        if imported > 0 {
            info!(
                imported,
                head = self.chain.head().header.number,
                "synced blocks imported"
            );
            let behind = self
                .consensus
                .as_ref()
                .is_some_and(|c| c.committed().height < self.chain.head().header.number);
            if behind {
                self.start_consensus()?;
            }
        }
        Ok(imported)
    }
}
