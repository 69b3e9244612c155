//! A running node: the database, chain, mempool, network, consensus driver, block sync and
//! RPC, wired together.
//!
//! ```text
//! network ──gossip──▶ ingress task ──decoded──▶ driver thread (consensus + chain) ──▶ MDBX
//!    ▲                 │ txs: mempool.add          │ Send/Broadcast ──▶ network.publish
//!    │                 ▼                           │ Commit ──▶ mempool.on_commit, subscribers
//!    └── sync client (behind? fetch committed blocks, verify certificates) ──▶ driver
//! ```

mod driver;
pub mod observe;
mod relay_limit;
mod served;
pub(crate) mod store;
mod sync;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes};
use driver::{Driver, Validator};
use libp2p::{Multiaddr, PeerId};
use parallax_bridge::BridgeHandles;
use parallax_chain::{Chain, ChainError, ChainSpec, ExecutedBlock};
use parallax_consensus::{
    Config, Evidence, EvidenceKind, Limits, Message, Rejection, Reputation, Timing, ValidatorSet,
};
use parallax_genesis::{Genesis, MempoolConfig, ValidatorKeys};
use parallax_network::{
    self as network, NetworkConfig, NetworkEvent, NetworkHandle, Topic, Validation, wire,
};
use parallax_storage::{Database, Reader};
use parallax_txpool::{AccountInfo, AccountSource, Mempool, MempoolError, PoolEnv};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::{SyncSender, sync_channel},
    },
    thread::JoinHandle,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use thiserror::Error;
use tokio::sync::{broadcast, oneshot};
use tracing::{debug, error, info, warn};

/// Capacity of the driver's input queue.
const INPUT_CAPACITY: usize = 8_192;

/// What comes into the driver thread.
pub(crate) enum Input {
    /// A consensus message for this node.
    Consensus {
        /// The validator it is attributed to.
        from: u32,
        /// The gossip message to report a verdict for.
        gossip: Option<(network::MessageId, PeerId)>,
        /// The message.
        message: Box<Message>,
    },
    /// A transaction entered the mempool.
    TxArrived,
    /// Blocks answering a fetch.
    Fetched(Vec<parallax_consensus::Block>),
    /// Committed blocks block sync verified.
    Synced {
        /// The blocks, in height order.
        blocks: Vec<wire::CommittedBlock>,
        /// How many were new, or why importing failed.
        done: oneshot::Sender<Result<u64, String>>,
    },
    /// The network connected (or reconnected) to this validator.
    PeerConnected(u32),
    /// Stop.
    Shutdown,
}

/// Counters and gauges the node's parts share (read by RPC, admin and metrics).
#[derive(Debug, Default)]
pub struct Shared {
    /// Committed head number.
    pub head: AtomicU64,
    /// Consensus round.
    pub round: AtomicU64,
    /// Highest QC round.
    pub highest_qc_round: AtomicU64,
    /// Round of the last committed block.
    pub committed_round: AtomicU64,
    /// Leader of the current round.
    pub leader: AtomicU64,
    /// Locked round.
    pub locked_round: AtomicU64,
    /// Last voted round.
    pub last_voted_round: AtomicU64,
    /// Blocks committed since start.
    pub commits: AtomicU64,
    /// Transactions committed since start.
    pub committed_txs: AtomicU64,
    /// Transactions in the mempool.
    pub mempool_size: AtomicU64,
    /// Proposals whose payload this node refused.
    pub invalid_proposals: AtomicU64,
    /// Equivocation evidence recorded (verified, new to this node, stored), by kind
    /// ([`parallax_consensus::EvidenceKind::ALL`] order).
    pub evidence: [AtomicU64; 3],
    /// Verified evidence not stored: its culprit already had the most kept.
    pub evidence_unstored: AtomicU64,
    /// Gossip messages that did not decode.
    pub malformed_gossip: AtomicU64,
    /// When this node last committed a block (Unix milliseconds; 0: not since start).
    pub last_commit_ms: AtomicU64,
    /// Blocks consensus committed above a gap in this node's chain (left to block sync).
    pub commit_gaps: AtomicU64,
    /// The highest height this node's consensus committed (0: none yet, or not a validator).
    /// Above the stored head, the chain is behind its own consensus and block sync runs.
    pub consensus_committed: AtomicU64,
    /// Relayed consensus messages whose signature did not verify.
    pub forged_relays: AtomicU64,
    /// Copies of one relayed consensus message held back (forwarded at most twice a second).
    pub relay_repeats: AtomicU64,
    /// Sync responses that failed verification.
    pub bad_sync_responses: AtomicU64,
    /// Admitted transactions not gossiped because the gossip queue was full.
    pub tx_gossip_dropped: AtomicU64,
    /// Gossiped transaction batches ignored because admission was that far behind.
    pub tx_batches_shed: AtomicU64,
    /// Withdrawal attestations dropped because the relayer's queue was full.
    pub attestations_shed: AtomicU64,
    /// Round of the highest timeout certificate seen.
    pub highest_tc_round: AtomicU64,
    /// The current round's timeout, in milliseconds.
    pub round_timeout_ms: AtomicU64,
    /// While the safety data is missing or behind the network: the highest round in which
    /// this validator signs nothing (0: trusted). See `parallax_consensus::continuity`.
    pub signing_floor: AtomicU64,
    /// 1 while the validator refuses to sign in its current round for lost safety data.
    pub signing_paused: AtomicU64,
    /// Block sync's last round imported blocks: the node is catching up.
    pub syncing: std::sync::atomic::AtomicBool,
    /// Histograms and counters recorded at commit, for the metrics endpoint.
    pub metrics: crate::metrics::ChainMetrics,
    /// Consensus participation, timeouts and latencies, for the metrics endpoint.
    pub consensus_metrics: observe::ConsensusMetrics,
    /// A `TxArrived` is queued for the driver.
    tx_signal: std::sync::atomic::AtomicBool,
    /// Hashes of transactions as the mempool admits them (RPC filters and subscriptions).
    pub(crate) pending_txs: PendingFeed,
    /// Consensus inputs rejected, by reason.
    rejections: Mutex<HashMap<&'static str, u64>>,
}

impl Shared {
    fn count_rejection(&self, reason: &Rejection) {
        let label = match reason {
            Rejection::UnknownValidator(_) => "unknown_validator",
            Rejection::DuplicateSigner(_) => "duplicate_signer",
            Rejection::InvalidSignature(_) => "invalid_signature",
            Rejection::NoQuorum(_) => "no_quorum",
            Rejection::StaleRound { .. } => "stale_round",
            Rejection::FutureRound { .. } => "future_round",
            Rejection::NotLeader { .. } => "not_leader",
            Rejection::NotNextLeader(_) => "not_next_leader",
            Rejection::Malformed(_) => "malformed",
            Rejection::LeaderChanged { .. } => "leader_changed",
            Rejection::Equivocation { .. } => "equivocation",
            Rejection::Duplicate => "duplicate",
            Rejection::InvalidPayload => "invalid_payload",
            Rejection::Unsolicited => "unsolicited",
        };
        if let Ok(mut map) = self.rejections.lock() {
            *map.entry(label).or_default() += 1;
        }
    }

    /// Rejected consensus inputs by reason.
    pub fn rejections(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self
            .rejections
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A broadcast of the hashes the mempool admits; lagging receivers lose the oldest.
#[derive(Debug)]
pub(crate) struct PendingFeed(pub(crate) broadcast::Sender<B256>);

impl Default for PendingFeed {
    fn default() -> Self {
        Self(broadcast::channel(4096).0)
    }
}

/// Tells the driver transactions arrived, once until it has seen it: a burst of
/// transactions is one wake-up, and never crowds consensus messages out of its queue.
fn signal_tx(inputs: &SyncSender<Input>, shared: &Shared) {
    if !shared.tx_signal.swap(true, Ordering::AcqRel) && inputs.try_send(Input::TxArrived).is_err()
    {
        shared.tx_signal.store(false, Ordering::Release);
    }
}

/// The account state at the committed head, for the mempool.
pub(crate) struct DbAccounts<'a, 'db>(pub(crate) &'a Reader<'db>);

impl AccountSource for DbAccounts<'_, '_> {
    fn account(&self, address: Address) -> Result<AccountInfo, String> {
        match self.0.account(address) {
            Ok(Some(a)) => Ok(AccountInfo {
                nonce: a.nonce,
                balance: a.balance,
            }),
            Ok(None) => Ok(AccountInfo::default()),
            Err(e) => Err(e.to_string()),
        }
    }
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the mempool checks transactions against: the block after `head`.
pub(crate) fn pool_env(spec: &ChainSpec, head: &Header) -> PoolEnv {
    PoolEnv {
        chain_id: spec.chain_id,
        base_fee: head
            .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(0),
        block_gas_limit: head.gas_limit,
        spec: spec
            .rules(head.number + 1, now_secs().max(head.timestamp))
            .spec,
    }
}

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The database could not be opened or initialised.
    #[error("database {path}: {reason}")]
    Database {
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The chain could not be opened.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The network could not start.
    #[error("network: {0}")]
    Network(String),
    /// The RPC server could not start.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The gRPC admin or the metrics server could not start.
    #[error("{0}")]
    Admin(String),
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
}

/// Everything a node is started with.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The node's name in logs.
    pub name: String,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// The data directory (the database is `DIR/db`).
    pub datadir: PathBuf,
    /// The node's keys: a validator if its consensus key is in the genesis set.
    pub keys: ValidatorKeys,
    /// Where to listen for peers; `None` runs without networking (a one-validator chain).
    pub listen_addr: Option<Multiaddr>,
    /// Peers to stay connected to.
    pub bootnodes: Vec<Multiaddr>,
    /// JSON-RPC address; `None` serves no RPC.
    pub rpc_addr: Option<std::net::SocketAddr>,
    /// JSON-RPC limits.
    pub rpc_limits: parallax_rpc::RpcLimits,
    /// gRPC admin address; `None` serves no admin service.
    pub grpc_addr: Option<std::net::SocketAddr>,
    /// Prometheus metrics address (`GET /metrics`); `None` serves no metrics.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// Executor threads.
    pub executor_threads: usize,
    /// How this node reaches Ethereum for the bridge; `None`: it does not (it then proposes
    /// and votes for no deposits, and relays no withdrawals).
    pub l1: Option<L1Options>,
}

/// How a node reaches Ethereum for the bridge.
#[derive(Debug, Clone)]
pub struct L1Options {
    /// The Ethereum JSON-RPC URL (`http://…`).
    pub rpc_url: String,
    /// The L1 block to read deposits from (the bridge's deployment block, or 0).
    pub from_block: u64,
    /// How often to poll Ethereum.
    pub poll_interval: Duration,
    /// Whether this validator submits withdrawal roots and finalizes withdrawals on Ethereum
    /// (its bridge key pays the gas).
    pub relay: bool,
}

/// Most verified withdrawal attestations queued for the relayer.
const ATTESTATION_QUEUE: usize = 4_096;

/// A running node.
pub struct Node {
    name: String,
    /// Transactions this node admitted from RPC, on their way to gossip in batches.
    tx_gossip: Option<tokio::sync::mpsc::Sender<Bytes>>,
    shared: Arc<Shared>,
    inputs: SyncSender<Input>,
    driver: Option<JoinHandle<()>>,
    driver_result: Arc<Mutex<Option<String>>>,
    net: Option<NetworkHandle>,
    db: Arc<Database>,
    spec: Arc<ChainSpec>,
    mempool: Arc<Mutex<Mempool>>,
    commits: broadcast::Sender<Arc<ExecutedBlock>>,
    rpc: Option<parallax_rpc::RpcServer>,
    rpc_limits: parallax_rpc::RpcLimits,
    rpc_stats: Arc<parallax_rpc::RpcStats>,
    admin: Option<crate::admin::AdminServer>,
    metrics: Option<crate::metrics::MetricsServer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    validator: Option<u32>,
    bridge: Option<BridgeHandles>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Opens the database in `datadir`, storing the genesis block if it is empty and refusing
/// one that holds another chain.
pub fn open_database(datadir: &Path, genesis: &Genesis) -> Result<Database, NodeError> {
    let path = crate::commands::init::db_path(datadir);
    let err = |reason: String| NodeError::Database {
        path: path.clone(),
        reason,
    };
    std::fs::create_dir_all(&path).map_err(|e| err(e.to_string()))?;
    let db = Database::open(&path).map_err(|e| err(e.to_string()))?;
    let block = genesis.build().map_err(|e| err(e.to_string()))?;
    let existing = db
        .reader()
        .and_then(|r| r.canonical_hash(0))
        .map_err(|e| err(e.to_string()))?;
    match existing {
        None => {
            db.write_genesis(
                &parallax_chain::genesis_write(genesis, &block),
                genesis.chain_id(),
            )
            .map_err(|e| err(e.to_string()))?;
            info!(hash = %block.hash, "stored genesis");
        }
        Some(hash) if hash == block.hash => {}
        Some(hash) => {
            return Err(err(format!(
                "holds genesis {hash}, the genesis file gives {}",
                block.hash
            )));
        }
    }
    Ok(db)
}

impl Node {
    /// Starts a node on the current tokio runtime.
    pub async fn start(options: NodeOptions) -> Result<Self, NodeError> {
        let spec = Arc::new(ChainSpec::new(options.genesis.clone())?);
        let db = Arc::new(open_database(&options.datadir, &options.genesis)?);
        let chain = Chain::open(db.clone(), spec.clone(), options.executor_threads)?;
        let parallax = options
            .genesis
            .parallax
            .clone()
            .ok_or_else(|| NodeError::Config("the genesis has no parallax section".into()))?;
        let validator = match options.keys.validator_index(&parallax) {
            None => None,
            Some(index) => {
                let validators = sync::validator_set(&spec).map_err(NodeError::Config)?;
                let t = &parallax.consensus;
                let config = Config {
                    chain_id: spec.chain_id,
                    validators,
                    genesis: parallax_consensus::BlockInfo::genesis(spec.genesis_id()),
                    timing: Timing {
                        base_timeout: Duration::from_millis(t.base_round_timeout_ms),
                        max_timeout: Duration::from_millis(t.max_round_timeout_ms),
                        backoff_percent: t.timeout_backoff_percent,
                    },
                    limits: Limits::default(),
                    reputation: Reputation::default(),
                };
                Some(Validator {
                    index: index as u32,
                    key: options.keys.consensus_key().clone(),
                    config,
                })
            }
        };
        let validator_index = validator.as_ref().map(|v| v.index);
        let min_block_interval = Duration::from_millis(parallax.consensus.min_block_interval_ms);

        let (inputs, input_rx) = sync_channel(INPUT_CAPACITY);
        let shared = Arc::new(Shared::default());
        shared
            .head
            .store(chain.head().header.number, Ordering::Relaxed);
        let mempool = Arc::new(Mutex::new(Mempool::new(options.mempool.clone())));
        let (commits, _) = broadcast::channel(256);

        let mut tasks = Vec::new();
        // The bridge: this node's view of Ethereum, and the withdrawal relayer's inputs.
        let bridge_domain =
            parallax
                .bridge
                .l1_bridge
                .map(|l1_bridge| parallax_bridge::attest::BridgeDomain {
                    l1_chain_id: parallax.bridge.l1_chain_id,
                    l1_bridge,
                    l2_chain_id: spec.chain_id,
                });
        let bridge_addresses: Vec<Address> = parallax
            .validators
            .iter()
            .map(|v| v.bridge_address)
            .collect();
        let mut bridge = None;
        let mut attestations = None;
        if let Some(domain) = bridge_domain {
            let l1 = match &options.l1 {
                None => {
                    if validator_index.is_some() {
                        warn!(
                            "no L1 RPC configured: this validator cannot check bridge deposits and votes against every proposal that carries one"
                        );
                    }
                    None
                }
                Some(l1) => {
                    let signer = (l1.relay && validator_index.is_some()).then(|| {
                        alloy_signer_local::PrivateKeySigner::from_signing_key(
                            options.keys.bridge_key().clone(),
                        )
                    });
                    let client = parallax_bridge::l1::L1Client::connect(&l1.rpc_url, signer)
                        .await
                        .map_err(|e| NodeError::Config(format!("l1 rpc {}: {e}", l1.rpc_url)))?;
                    match tokio::time::timeout(Duration::from_secs(5), client.chain_id()).await {
                        Ok(Ok(id)) if id != domain.l1_chain_id => {
                            return Err(NodeError::Config(format!(
                                "the L1 RPC {} serves chain {id}, the genesis bridges to chain {}",
                                l1.rpc_url, domain.l1_chain_id
                            )));
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            warn!(url = %l1.rpc_url, error = %e, "the L1 RPC is not answering yet")
                        }
                        Err(_) => warn!(url = %l1.rpc_url, "the L1 RPC is not answering yet"),
                    }
                    Some((client, l1.clone()))
                }
            };
            let finality = match parallax.bridge.deposit_finality {
                parallax_genesis::DepositFinality::Confirmations => {
                    parallax_bridge::l1::Finality::Confirmations(parallax.bridge.confirmations)
                }
                parallax_genesis::DepositFinality::Finalized => {
                    parallax_bridge::l1::Finality::Finalized
                }
            };
            let view = match l1.as_ref() {
                None => None,
                Some((client, o)) => {
                    // Resume where the chain stands: the next nonce it mints, read from the
                    // Ethereum block of the last one it minted.
                    let cursor = db
                        .reader()
                        .and_then(|r| parallax_bridge::watcher::DepositCursor::at_head(&r))
                        .map_err(|e| {
                            NodeError::Config(format!("reading the deposit cursor: {e}"))
                        })?;
                    // A leader proposes a deposit one poll interval after its view confirmed it.
                    let view = Arc::new(parallax_bridge::watcher::DepositView::new(
                        o.poll_interval,
                        cursor.next_nonce,
                    ));
                    tasks.push(tokio::spawn(parallax_bridge::watcher::watch_deposits(
                        view.clone(),
                        client.clone(),
                        domain.l1_bridge,
                        finality,
                        cursor.start_block(o.from_block),
                        o.poll_interval,
                    )));
                    Some(view)
                }
            };
            let stats = Arc::new(parallax_bridge::relay::WithdrawalStats::default());
            let (sender, receiver) = tokio::sync::mpsc::channel(ATTESTATION_QUEUE);
            attestations = Some((sender, receiver));
            bridge = Some((
                BridgeHandles {
                    l1_bridge: domain.l1_bridge,
                    confirmations: parallax.bridge.confirmations,
                    finality,
                    domain,
                    bridge_addresses: bridge_addresses.clone(),
                    validators: parallax_bridge::attest::BridgeValidators::new(
                        parallax
                            .validators
                            .iter()
                            .map(|v| (v.bridge_address, v.voting_power)),
                    ),
                    deposits: view,
                    withdrawals: stats,
                    l1: l1.as_ref().map(|(c, _)| c.clone()),
                },
                l1.is_some_and(|(_, o)| o.relay),
            ));
        }

        let (net, events) = match &options.listen_addr {
            None => (None, None),
            Some(addr) => {
                let mut config =
                    NetworkConfig::new(options.keys.network_keypair(), addr.clone(), spec.chain_id);
                config.bootnodes = options.bootnodes.clone();
                let (handle, events) = network::start(config)
                    .await
                    .map_err(|e| NodeError::Network(e.to_string()))?;
                (Some(handle), Some(events))
            }
        };
        let peer_validators: HashMap<PeerId, u32> = spec
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| (v.peer_id, i as u32))
            .collect();
        let tx_gossip = net.as_ref().map(|net| {
            let (sender, receiver) = tokio::sync::mpsc::channel(TX_GOSSIP_QUEUE);
            tasks.push(tokio::spawn(gossip_transactions(net.clone(), receiver)));
            sender
        });
        if let (Some(net), Some(events)) = (&net, events) {
            let (tx_work, work) = std::sync::mpsc::sync_channel(TX_INGRESS_QUEUE);
            let tx_ingress = TxIngress {
                db: db.clone(),
                spec: spec.clone(),
                mempool: mempool.clone(),
                inputs: inputs.clone(),
                shared: shared.clone(),
                net: net.clone(),
            };
            std::thread::Builder::new()
                .name("tx-ingress".into())
                .spawn(move || tx_ingress.run(work))
                .map_err(|e| {
                    NodeError::Network(format!("cannot start the transaction thread: {e}"))
                })?;
            let ingress = Ingress {
                tx_work,
                net: net.clone(),
                db: db.clone(),
                spec: spec.clone(),
                inputs: inputs.clone(),
                shared: shared.clone(),
                me: validator_index,
                peer_validators: peer_validators.clone(),
                validators: sync::validator_set(&spec).map_err(NodeError::Config)?,
                bridge: bridge_domain
                    .zip(attestations.as_ref().map(|(s, _)| s.clone()))
                    .map(|(domain, sender)| BridgeIngress {
                        domain,
                        addresses: bridge_addresses.clone(),
                        sender,
                    }),
                relay_limit: Default::default(),
            };
            tasks.push(tokio::spawn(ingress.run(events)));
            let syncer = sync::Syncer {
                follows_consensus: validator.is_some(),
                net: net.clone(),
                db: db.clone(),
                spec: spec.clone(),
                inputs: inputs.clone(),
                shared: shared.clone(),
                validators: validator
                    .as_ref()
                    .map(|v| v.config.validators.clone())
                    .map_or_else(|| sync::validator_set(&spec), Ok)
                    .map_err(NodeError::Config)?,
            };
            tasks.push(tokio::spawn(syncer.run()));
        }

        if let (Some(domain), Some((handles, relays)), Some((_, receiver))) =
            (bridge_domain, &bridge, attestations)
        {
            let config = parallax_bridge::relay::RelayerConfig {
                domain,
                bridge_addresses: bridge_addresses.clone(),
                validators: parallax_bridge::attest::BridgeValidators::new(
                    parallax
                        .validators
                        .iter()
                        .map(|v| (v.bridge_address, v.voting_power)),
                ),
                signer: validator_index.map(|i| {
                    (
                        i,
                        alloy_signer_local::PrivateKeySigner::from_signing_key(
                            options.keys.bridge_key().clone(),
                        ),
                    )
                }),
                l1: handles.l1.clone(),
                relay: *relays && validator_index.is_some(),
                chain_id: spec.chain_id,
                tick: Duration::from_millis(500),
            };
            let relayer = parallax_bridge::relay::Relayer::new(
                config,
                db.clone(),
                handles.withdrawals.clone(),
            );
            let publisher = net.clone();
            tasks.push(tokio::spawn(relayer.run(receiver, move |bytes| {
                if let Some(net) = publisher.clone() {
                    tokio::spawn(async move {
                        if let Err(e) = net.publish(Topic::Bridge, bytes).await {
                            debug!(error = %e, "gossiping an attestation failed");
                        }
                    });
                }
            })));
        }
        let bridge = bridge.map(|(handles, _)| handles);

        let mut driver = Driver::new(
            chain,
            validator,
            mempool.clone(),
            net.clone(),
            tokio::runtime::Handle::current(),
            shared.clone(),
            commits.clone(),
            inputs.clone(),
            min_block_interval,
        );
        driver.deposits = bridge.as_ref().and_then(|b| b.deposits.clone());
        let driver_result = Arc::new(Mutex::new(None));
        let result = driver_result.clone();
        let name = options.name.clone();
        let driver = std::thread::Builder::new()
            .name(format!("{name}-consensus"))
            .spawn(move || {
                if let Err(e) = driver.run(input_rx) {
                    tracing::error!(error = %e, "the consensus driver stopped on an error");
                    if let Ok(mut r) = result.lock() {
                        *r = Some(e.to_string());
                    }
                }
            })
            .map_err(|e| NodeError::Config(format!("cannot start the driver thread: {e}")))?;

        let mut node = Self {
            name: options.name.clone(),
            shared,
            inputs,
            driver: Some(driver),
            driver_result,
            net,
            db,
            spec,
            mempool,
            commits,
            rpc: None,
            rpc_limits: options.rpc_limits.clone(),
            rpc_stats: Arc::new(parallax_rpc::RpcStats::default()),
            admin: None,
            metrics: None,
            tasks,
            validator: validator_index,
            tx_gossip,
            bridge,
        };
        if let Some(addr) = options.rpc_addr {
            node.rpc = Some(
                parallax_rpc::RpcServer::start(addr, node.rpc_deps())
                    .await
                    .map_err(|e| NodeError::Rpc(e.to_string()))?,
            );
        }
        if let Some(addr) = options.grpc_addr {
            let ctx = crate::admin::AdminContext {
                name: node.name.clone(),
                spec: node.spec.clone(),
                db: node.db.clone(),
                shared: node.shared.clone(),
                net: node.net.clone(),
                validator: validator_index,
                peer_id: options.keys.peer_id(),
            };
            match crate::admin::AdminServer::start(addr, ctx).await {
                Ok(server) => node.admin = Some(server),
                Err(e) => {
                    node.shutdown().await;
                    return Err(NodeError::Admin(format!("gRPC admin on {addr}: {e}")));
                }
            }
        }
        if let Some(addr) = options.metrics_addr {
            let sources = crate::metrics::Sources {
                shared: node.shared.clone(),
                rpc: node.rpc_stats.clone(),
                net: node.net.clone(),
                bridge: node.bridge.clone(),
            };
            match crate::metrics::MetricsServer::start(addr, sources).await {
                Ok(server) => node.metrics = Some(server),
                Err(e) => {
                    node.shutdown().await;
                    return Err(NodeError::Admin(format!("metrics on {addr}: {e}")));
                }
            }
        }
        info!(
            name = %node.name,
            validator = ?validator_index,
            head = node.head(),
            "node started"
        );
        Ok(node)
    }

    fn rpc_deps(&self) -> parallax_rpc::RpcDeps {
        parallax_rpc::RpcDeps {
            db: self.db.clone(),
            spec: self.spec.clone(),
            node: Arc::new(served::ServedNode {
                submitter: self.submitter(),
                shared: self.shared.clone(),
                db: self.db.clone(),
            }),
            net: self.net.clone(),
            commits: self.commits.clone(),
            pending: self.shared.pending_txs.0.clone(),
            limits: self.rpc_limits.clone(),
            stats: self.rpc_stats.clone(),
            bridge: self.bridge.clone(),
        }
    }

    /// Something that puts transactions into this node's mempool and gossips them.
    pub fn submitter(&self) -> Submitter {
        Submitter {
            db: self.db.clone(),
            spec: self.spec.clone(),
            mempool: self.mempool.clone(),
            inputs: self.inputs.clone(),
            gossip: self.tx_gossip.clone(),
            shared: self.shared.clone(),
        }
    }

    /// The committed head's number.
    pub fn head(&self) -> u64 {
        self.shared.head.load(Ordering::Relaxed)
    }

    /// The shared counters.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The bridge's parts, when the chain has an L1 bridge.
    pub fn bridge(&self) -> Option<&BridgeHandles> {
        self.bridge.as_ref()
    }

    /// The database (read it through snapshots).
    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// This node's validator index, if it is one.
    pub fn validator(&self) -> Option<u32> {
        self.validator
    }

    /// Committed blocks as they are written.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ExecutedBlock>> {
        self.commits.subscribe()
    }

    /// The RPC server's bound address.
    pub fn rpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.rpc.as_ref().map(|r| r.addr())
    }

    /// The gRPC admin server's bound address.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.as_ref().map(|a| a.addr())
    }

    /// The metrics server's bound address.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr())
    }

    /// JSON-RPC counters (calls by method, errors, refused requests).
    pub fn rpc_stats(&self) -> &Arc<parallax_rpc::RpcStats> {
        &self.rpc_stats
    }

    /// The network's listen addresses with `/p2p/<peer id>` appended.
    pub async fn p2p_addrs(&self) -> Vec<Multiaddr> {
        let Some(net) = &self.net else {
            return Vec::new();
        };
        let id = net.local_peer_id();
        net.listen_addrs()
            .await
            .into_iter()
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(id)))
            .collect()
    }

    /// Publishes raw bytes on a gossip topic as they are, without encoding or checks: what a
    /// broken or hostile peer could send (for tests and diagnostics).
    pub async fn publish_raw(&self, topic: Topic, data: Vec<u8>) {
        if let Some(net) = &self.net {
            let _ = net.publish(topic, data).await;
        }
    }

    /// Sends raw bytes as a block-sync request to `peer` and returns the raw answer (for
    /// tests and diagnostics: what a broken or hostile peer could ask).
    pub async fn request_raw(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, String> {
        match &self.net {
            Some(net) => net.request(peer, data).await.map_err(|e| e.to_string()),
            None => Err("no network".into()),
        }
    }

    /// This node's libp2p peer id, when it is networked.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.net.as_ref().map(NetworkHandle::local_peer_id)
    }

    /// How many peers are connected.
    pub async fn peer_count(&self) -> usize {
        match &self.net {
            Some(net) => net.peers().await.len(),
            None => 0,
        }
    }

    /// The error the consensus driver stopped on, if it did.
    pub fn failure(&self) -> Option<String> {
        self.driver_result.lock().ok().and_then(|r| r.clone())
    }

    /// Stops everything and waits for the driver to finish its current step (so nothing
    /// half-written is left; the database is consistent at every commit anyway).
    pub async fn shutdown(mut self) {
        if let Some(admin) = self.admin.take() {
            admin.stop().await;
        }
        if let Some(metrics) = self.metrics.take() {
            metrics.stop().await;
        }
        if let Some(rpc) = self.rpc.take() {
            rpc.stop().await;
        }
        let _ = self.inputs.try_send(Input::Shutdown);
        if let Some(driver) = self.driver.take() {
            let _ = tokio::task::spawn_blocking(move || driver.join()).await;
        }
        for task in &self.tasks {
            task.abort();
        }
        if let Some(net) = &self.net {
            net.shutdown().await;
        }
        info!(name = %self.name, "node stopped");
    }
}

/// Transactions admitted from RPC that may wait for gossip.
const TX_GOSSIP_QUEUE: usize = 16_384;
/// How long the first transaction of a gossip batch waits for others to join it.
const TX_GOSSIP_DELAY: Duration = Duration::from_millis(25);

/// Publishes admitted transactions in batches: whatever arrives within [`TX_GOSSIP_DELAY`]
/// of a batch's first transaction, up to the wire format's limits. One gossip message per
/// transaction costs every peer a message's overhead per transaction, and under load that
/// overhead alone fills gossipsub's send queues and crowds consensus messages out.
async fn gossip_transactions(net: NetworkHandle, mut queue: tokio::sync::mpsc::Receiver<Bytes>) {
    let mut open = true;
    while open {
        let Some(first) = queue.recv().await else {
            break;
        };
        let deadline = tokio::time::Instant::now() + TX_GOSSIP_DELAY;
        let mut bytes = first.len();
        let mut batch = vec![first];
        while batch.len() < parallax_proto::MAX_TRANSACTIONS_PER_BATCH {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(tx)) => {
                    // Room for the field tags and lengths of the encoding.
                    if bytes + tx.len() + 8 * (batch.len() + 1)
                        > parallax_proto::MAX_TRANSACTION_BATCH_BYTES
                    {
                        publish_batch(&net, &batch).await;
                        bytes = 0;
                        batch.clear();
                    }
                    bytes += tx.len();
                    batch.push(tx);
                }
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            publish_batch(&net, &batch).await;
        }
    }
}

async fn publish_batch(net: &NetworkHandle, batch: &[Bytes]) {
    if let Err(e) = net
        .publish(Topic::Transactions, wire::encode_tx_batch(batch))
        .await
        && !e.is_benign()
    {
        debug!(error = %e, transactions = batch.len(), "gossiping transactions failed");
    }
}

/// Admits transactions from RPC or tests: mempool, then gossip.
#[derive(Clone)]
pub struct Submitter {
    db: Arc<Database>,
    spec: Arc<ChainSpec>,
    mempool: Arc<Mutex<Mempool>>,
    inputs: SyncSender<Input>,
    gossip: Option<tokio::sync::mpsc::Sender<Bytes>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").finish_non_exhaustive()
    }
}

impl Submitter {
    /// Admits a raw (EIP-2718) transaction; returns its hash.
    pub fn submit(&self, raw: &[u8]) -> Result<B256, MempoolError> {
        let hash = admit(&self.db, &self.spec, &self.mempool, &self.shared, raw)?;
        signal_tx(&self.inputs, &self.shared);
        // Gossiped in a batch with the transactions admitted around it. When gossip falls
        // that far behind, the transaction stays in this node's pool (and its proposals)
        // without being gossiped, and is counted.
        if let Some(gossip) = &self.gossip
            && gossip.try_send(Bytes::copy_from_slice(raw)).is_err()
        {
            self.shared
                .tx_gossip_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(hash)
    }

    /// The next nonce of `sender` counting its pooled transactions.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        self.mempool
            .lock()
            .map(|m| m.pending_nonce(sender, state_nonce))
            .unwrap_or(state_nonce)
    }

    /// A pooled transaction.
    pub fn pooled_tx(&self, hash: &B256) -> Option<Arc<parallax_txpool::PooledTx>> {
        self.mempool.lock().ok().and_then(|m| m.get(hash))
    }

    /// Whether the pool holds a transaction.
    pub fn pooled(&self, hash: &B256) -> bool {
        self.mempool
            .lock()
            .map(|m| m.contains(hash))
            .unwrap_or(false)
    }

    /// How many pooled transactions are ready (executable now) and queued (behind a nonce
    /// gap or the sender's balance).
    pub fn pool_counts(&self) -> (usize, usize) {
        self.mempool
            .lock()
            .map(|m| (m.ready_len(), m.queued_len()))
            .unwrap_or_default()
    }
}

fn admit(
    db: &Database,
    spec: &ChainSpec,
    mempool: &Mutex<Mempool>,
    shared: &Shared,
    raw: &[u8],
) -> Result<B256, MempoolError> {
    let lock = || {
        mempool
            .lock()
            .map_err(|_| MempoolError::State("pool poisoned".into()))
    };
    // Decoding and signature recovery need no pool state: done before the pool is locked,
    // so that admissions (a gossiped batch may hold a thousand) do not hold the lock the
    // driver needs to build and commit blocks. A transaction the pool already holds is
    // refused without recovering it.
    let recovered = match parallax_txpool::decode_raw(raw) {
        Ok(tx) => {
            let known = lock()?.contains(tx.tx_hash());
            Some(if known {
                parallax_txpool::Recovered { tx, sender: None }
            } else {
                parallax_txpool::Recovered::new(tx)
            })
        }
        // Refused below by the pool's own decoder, which counts and words it.
        Err(_) => None,
    };
    // The pool first, then the snapshot: a snapshot taken before the lock can predate a
    // commit whose `on_commit` already moved the sender's nonce on, and checking against it
    // would queue the transaction behind a nonce that is already in a block, for good.
    let mut pool = lock()?;
    let reader = db
        .reader()
        .map_err(|e| MempoolError::State(e.to_string()))?;
    let head = reader
        .head_number()
        .ok()
        .flatten()
        .and_then(|n| reader.header(n).ok().flatten())
        .ok_or_else(|| MempoolError::State("no head block".into()))?;
    let env = pool_env(spec, &head);
    let outcome = match recovered {
        Some(r) => pool.add_recovered(r, &DbAccounts(&reader), &env)?,
        None => pool.add_raw(raw, &DbAccounts(&reader), &env)?,
    };
    shared
        .mempool_size
        .store(pool.len() as u64, Ordering::Relaxed);
    drop(pool);
    let _ = shared.pending_txs.0.send(outcome.hash);
    Ok(outcome.hash)
}

/// Keeps verified equivocation evidence: stored (bounded per culprit), counted by kind, and
/// logged. A storage failure is logged and counted, never fatal: evidence is for operators and
/// for a later slashing rule, not for safety.
/// Returns `false` when this node already held evidence of that validator, round and kind.
pub(crate) fn record_evidence(db: &Database, shared: &Shared, evidence: &Evidence) -> bool {
    let kind = evidence.kind();
    match store::store_evidence(db, evidence) {
        Ok(store::StoredEvidence::New) => {
            let i = EvidenceKind::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0);
            shared.evidence[i].fetch_add(1, Ordering::Relaxed);
            error!(
                culprit = evidence.culprit(),
                round = evidence.round(),
                kind = kind.as_str(),
                id = %evidence.id(),
                "validator equivocated: evidence recorded"
            );
        }
        Ok(store::StoredEvidence::Known) => return false,
        Ok(store::StoredEvidence::Full) => {
            shared.evidence_unstored.fetch_add(1, Ordering::Relaxed);
            debug!(
                culprit = evidence.culprit(),
                round = evidence.round(),
                "evidence not stored: the validator has the most kept"
            );
        }
        Err(e) => {
            shared.evidence_unstored.fetch_add(1, Ordering::Relaxed);
            warn!(culprit = evidence.culprit(), error = %e, "storing evidence failed");
        }
    }
    true
}

/// Admits gossiped transaction batches on a thread of its own (see [`Ingress`]).
struct TxIngress {
    db: Arc<Database>,
    spec: Arc<ChainSpec>,
    mempool: Arc<Mutex<Mempool>>,
    inputs: SyncSender<Input>,
    shared: Arc<Shared>,
    net: NetworkHandle,
}

/// Gossiped transaction batches that may wait for admission; beyond it they are ignored
/// (not forwarded, not penalised) and counted.
const TX_INGRESS_QUEUE: usize = 256;

impl TxIngress {
    fn run(self, work: std::sync::mpsc::Receiver<(network::MessageId, PeerId, Vec<u8>)>) {
        while let Ok((message_id, source, data)) = work.recv() {
            let verdict = self.on_transactions(&data);
            self.net.report(message_id, source, verdict);
        }
    }

    fn on_transactions(&self, data: &[u8]) -> Validation {
        let Ok(batch) = wire::decode_tx_batch(data) else {
            self.shared.malformed_gossip.fetch_add(1, Ordering::Relaxed);
            return Validation::Reject;
        };
        let mut admitted = false;
        let mut verdict = Validation::Ignore;
        for raw in batch {
            match admit(&self.db, &self.spec, &self.mempool, &self.shared, &raw) {
                Ok(_) => {
                    admitted = true;
                    verdict = Validation::Accept;
                }
                Err(e) if e.is_peer_fault() => {
                    debug!(error = %e, "invalid gossiped transaction");
                    verdict = Validation::Reject;
                    break;
                }
                Err(_) => {}
            }
        }
        // What was admitted before a faulty transaction stays pooled: the driver learns of it.
        if admitted {
            signal_tx(&self.inputs, &self.shared);
        }
        verdict
    }
}

/// Decodes and routes what the network delivers.
struct Ingress {
    /// Gossiped transaction batches, on their way to the [`TxIngress`] thread.
    tx_work: std::sync::mpsc::SyncSender<(network::MessageId, PeerId, Vec<u8>)>,
    net: NetworkHandle,
    db: Arc<Database>,
    spec: Arc<ChainSpec>,
    inputs: SyncSender<Input>,
    shared: Arc<Shared>,
    me: Option<u32>,
    peer_validators: HashMap<PeerId, u32>,
    validators: ValidatorSet,
    /// Where verified withdrawal attestations go; `None` when the chain has no L1 bridge.
    bridge: Option<BridgeIngress>,
    /// How often each relayed consensus message was forwarded.
    relay_limit: relay_limit::RelayLimit,
}

/// What the ingress needs to check withdrawal attestations.
struct BridgeIngress {
    domain: parallax_bridge::attest::BridgeDomain,
    addresses: Vec<Address>,
    sender: tokio::sync::mpsc::Sender<parallax_bridge::relay::Attestation>,
}

impl Ingress {
    /// Checks a gossiped withdrawal attestation and hands it to the relayer.
    fn on_attestation(&self, source: PeerId, data: &[u8]) -> Validation {
        let Some(bridge) = &self.bridge else {
            return Validation::Ignore;
        };
        let a = match parallax_proto::decode_withdrawal_attestation(data) {
            Ok(a) if a.chain_id == self.spec.chain_id => a,
            Ok(_) => {
                self.shared.malformed_gossip.fetch_add(1, Ordering::Relaxed);
                return Validation::Reject;
            }
            Err(e) => {
                self.shared.malformed_gossip.fetch_add(1, Ordering::Relaxed);
                debug!(%source, error = %e, "malformed withdrawal attestation");
                return Validation::Reject;
            }
        };
        match parallax_bridge::relay::verify_attestation(&bridge.domain, &bridge.addresses, &a) {
            Ok(a) => {
                if bridge.sender.try_send(a).is_err() {
                    self.shared
                        .attestations_shed
                        .fetch_add(1, Ordering::Relaxed);
                    return Validation::Ignore;
                }
                Validation::Accept
            }
            Err(reason) => {
                self.shared.forged_relays.fetch_add(1, Ordering::Relaxed);
                debug!(%source, %reason, "forged withdrawal attestation");
                Validation::Reject
            }
        }
    }

    async fn run(mut self, mut events: tokio::sync::mpsc::Receiver<NetworkEvent>) {
        while let Some(event) = events.recv().await {
            match event {
                NetworkEvent::Gossip {
                    topic,
                    source,
                    message_id,
                    data,
                } => {
                    let verdict = match topic {
                        // Admitted on their own thread, which reports the verdict: a batch
                        // costs a signature recovery per transaction, and consensus messages
                        // must not wait behind it.
                        Topic::Transactions => {
                            match self.tx_work.try_send((message_id.clone(), source, data)) {
                                Ok(()) => continue,
                                Err(_) => {
                                    self.shared.tx_batches_shed.fetch_add(1, Ordering::Relaxed);
                                    Validation::Ignore
                                }
                            }
                        }
                        Topic::Bridge => self.on_attestation(source, &data),
                        _ => match self.on_consensus(source, message_id.clone(), &data) {
                            Some(v) => v,
                            // The driver reports the verdict.
                            None => continue,
                        },
                    };
                    self.net.report(message_id, source, verdict);
                }
                NetworkEvent::SyncRequest { peer, id, data } => {
                    let db = self.db.clone();
                    let net = self.net.clone();
                    let genesis = self.spec.genesis_id();
                    tokio::task::spawn_blocking(move || {
                        let response = sync::serve(&db, genesis, &data);
                        net.respond(id, response);
                        debug!(%peer, "sync request served");
                    });
                }
                NetworkEvent::PeerConnected { peer } => {
                    debug!(%peer, "peer connected");
                    if let Some(v) = self.peer_validators.get(&peer)
                        && self.me.is_some()
                    {
                        // Full: the re-send is only a shortcut; the round's timers still run.
                        let _ = self.inputs.try_send(Input::PeerConnected(*v));
                    }
                }
                NetworkEvent::PeerDisconnected { peer } => debug!(%peer, "peer disconnected"),
            }
        }
    }

    /// `None` when the message went to the driver, which reports the verdict.
    fn on_consensus(
        &mut self,
        source: PeerId,
        message_id: network::MessageId,
        data: &[u8],
    ) -> Option<Validation> {
        let envelope = match wire::decode_message(data) {
            Ok(e) => e,
            Err(e) => {
                self.shared.malformed_gossip.fetch_add(1, Ordering::Relaxed);
                debug!(%source, error = %e, reason = e.reason(), "malformed consensus message");
                return Some(Validation::Reject);
            }
        };
        if envelope.chain_id != self.spec.chain_id {
            self.shared.malformed_gossip.fetch_add(1, Ordering::Relaxed);
            return Some(Validation::Reject);
        }
        // Messages this node only relays (a full node relays everything; a validator relays
        // point-to-point messages for others) are checked for their author's signature, so
        // nobody forwards forgeries on a peer's behalf.
        let relay_only = match self.me {
            None => true,
            Some(me) => envelope.recipient.is_some_and(|r| r != me),
        };
        if relay_only {
            if !parallax_consensus::proof::authentic(
                &envelope.message,
                self.spec.chain_id,
                &self.validators,
            ) {
                self.shared.forged_relays.fetch_add(1, Ordering::Relaxed);
                return Some(Validation::Reject);
            }
            // Numbered copies of one message: forwarded again only after a while.
            if !self.relay_limit.admit(
                envelope.recipient,
                &envelope.message,
                std::time::Instant::now(),
            ) {
                self.shared.relay_repeats.fetch_add(1, Ordering::Relaxed);
                return Some(Validation::Ignore);
            }
            // A full node keeps the evidence it relays (verified just above), to serve it,
            // and relays one per validator, round and kind: a Byzantine validator can sign
            // endless variants of one equivocation, and validators drop the repeats too.
            if let Message::Evidence(e) = &envelope.message
                && !record_evidence(&self.db, &self.shared, e)
            {
                return Some(Validation::Ignore);
            }
            return Some(Validation::Accept);
        }
        let from = envelope
            .message
            .author()
            .or_else(|| self.peer_validators.get(&source).copied())
            // Evidence names its culprit, not its sender, and may come through a full node.
            .or_else(|| matches!(envelope.message, Message::Evidence(_)).then_some(self.me)?);
        let Some(from) = from else {
            return Some(Validation::Ignore);
        };
        let input = Input::Consensus {
            from,
            gossip: Some((message_id, source)),
            message: Box::new(envelope.message),
        };
        match self.inputs.try_send(input) {
            Ok(()) => None,
            Err(_) => {
                warn!("consensus input queue full: dropping a message");
                Some(Validation::Ignore)
            }
        }
    }
}
