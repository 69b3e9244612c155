//! A running node: the database, chain, mempool, network, consensus driver, block sync and
//! RPC, wired together.
//!
//! ```text
//! network ──gossip──▶ ingress task ──decoded──▶ driver thread (consensus + chain) ──▶ MDBX
//!    ▲                 │ txs: mempool.add          │ Send/Broadcast ──▶ network.publish
//!    │                 ▼                           │ Commit ──▶ mempool.on_commit, subscribers
//!    └── sync client (behind? fetch committed blocks, verify certificates) ──▶ driver
//! ```
//!
//! [`Node::start`] opens the database and the chain, starts the network and the engine's
//! parts (`parallax_engine`: ingress, transaction admission and gossip, block sync, the driver
//! thread), the bridge's tasks and the servers; [`Node::shutdown`] stops them in the reverse
//! order. Here: `bridge` (the bridge's watcher and relayer, built from the node's options),
//! `served` (the node as the RPC server sees it) and `tasks` (the parts by name: one that ends
//! while the node runs is reported by [`Node::failure`], and `parallax run` exits on it).

mod bridge;
mod served;
mod tasks;

use crate::metrics::RpcCollector;
use bridge::NodeBridge;
pub use parallax_engine::{
    clock::{Clock, ManualClock, SystemClock},
    state::{ChainState, ConsensusState, IngressCounters, Shared, TxState},
    transactions::Submitter,
};
use parallax_engine::{
    driver::{Driver, DriverParts, Validator},
    ingress::{BridgeIngress, Ingress},
    input::{Input, input_queue, send_shutdown},
    state::{ChainCollector, ConsensusCollector, TransactionsCollector},
    sync,
    transactions::{TX_GOSSIP_QUEUE, TX_INGRESS_QUEUE, TxIngress, gossip_transactions},
};
use parallax_network::NetworkMetrics;
use prometheus_client::registry::Registry;
use tasks::Tasks;

use alloy_primitives::Bytes;
use libp2p::{Multiaddr, PeerId};
use parallax_bridge::BridgeHandles;
use parallax_chain::{Chain, ChainError, ChainSpec, ExecutedBlock};
use parallax_genesis::{Genesis, MempoolConfig, ValidatorKeys};
use parallax_network::{self as network, NetworkConfig, NetworkHandle, Topic};
use parallax_storage::Database;
use parallax_txpool::Mempool;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, atomic::Ordering, mpsc::SyncSender},
    thread::JoinHandle,
    time::Duration,
};
use thiserror::Error;
use tokio::sync::broadcast;
use tracing::{info, warn};

/// What a part of the node is started with: its configuration, its chain and whether it
/// validates.
#[derive(Clone, Copy)]
struct NodeContext<'a> {
    options: &'a NodeOptions,
    parallax: &'a parallax_genesis::ParallaxConfig,
    chain_id: u64,
    db: &'a Arc<Database>,
    /// This node's validator index, when it is one.
    validator: Option<u32>,
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
    /// The clock the consensus driver's timers run on ([`SystemClock`] in production).
    pub clock: Arc<dyn Clock>,
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
    /// The long-running parts besides the driver (a part that ends is a failure).
    tasks: Tasks,
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

/// The node's metrics registry: every part registers its collector.
fn metrics_registry(node: &Node) -> Registry {
    let mut registry = Registry::default();
    let shared = &node.shared;
    registry.register_collector(Box::new(ChainCollector(shared.chain.clone())));
    registry.register_collector(Box::new(ConsensusCollector {
        consensus: shared.consensus.clone(),
        ingress: shared.ingress.clone(),
    }));
    registry.register_collector(Box::new(TransactionsCollector {
        transactions: shared.transactions.clone(),
        ingress: shared.ingress.clone(),
    }));
    registry.register_collector(Box::new(
        node.net
            .as_ref()
            .map_or_else(NetworkMetrics::detached, NetworkHandle::metrics),
    ));
    registry.register_collector(Box::new(RpcCollector(node.rpc_stats.clone())));
    if let Some(bridge) = &node.bridge {
        registry.register_collector(Box::new(bridge.metrics()));
    }
    registry
}

/// Where the MDBX database lives inside a data directory.
pub(crate) fn db_path(datadir: &Path) -> PathBuf {
    datadir.join("db")
}

/// Opens the database in `datadir`, storing the genesis block if it is empty and refusing
/// one that holds another chain.
pub fn open_database(datadir: &Path, genesis: &Genesis) -> Result<Database, NodeError> {
    let path = db_path(datadir);
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

/// How long a stop waits for room in the driver's input queue.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

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
        let validator =
            Validator::for_keys(&options.keys, &parallax, &spec).map_err(NodeError::Config)?;
        let validator_index = validator.as_ref().map(|v| v.index);
        let min_block_interval = Duration::from_millis(parallax.consensus.min_block_interval_ms);

        let (inputs, input_rx) = input_queue();
        let shared = Arc::new(Shared::default());
        shared
            .chain
            .head
            .store(chain.head().header.number, Ordering::Relaxed);
        let mempool = Arc::new(Mutex::new(Mempool::new(options.mempool.clone())));
        let (commits, _) = broadcast::channel(256);

        let mut tasks = Tasks::default();
        let context = NodeContext {
            options: &options,
            parallax: &parallax,
            chain_id: spec.chain_id,
            db: &db,
            validator: validator_index,
        };
        let mut bridge = NodeBridge::open(&context, &mut tasks).await?;

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
            tasks.spawn(
                "transaction gossip",
                gossip_transactions(net.clone(), receiver),
            );
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
            let thread = std::thread::Builder::new()
                .name("tx-ingress".into())
                .spawn(move || tx_ingress.run(work))
                .map_err(|e| {
                    NodeError::Network(format!("cannot start the transaction thread: {e}"))
                })?;
            tasks.thread("transaction admission", thread);
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
                bridge: bridge.as_ref().map(|b| BridgeIngress {
                    domain: b.domain,
                    addresses: b.addresses.clone(),
                    sender: b.attestations.clone(),
                }),
                relay_limit: Default::default(),
            };
            tasks.spawn("gossip ingress", ingress.run(events));
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
            tasks.spawn("block sync", syncer.run());
        }

        if let Some(bridge) = &mut bridge {
            bridge.start_relayer(&context, net.clone(), &mut tasks);
        }
        let bridge = bridge.map(|b| b.handles);

        let driver = Driver::new(DriverParts {
            chain,
            validator,
            mempool: mempool.clone(),
            net: net.clone(),
            rt: tokio::runtime::Handle::current(),
            shared: shared.clone(),
            commits: commits.clone(),
            inputs: inputs.clone(),
            min_block_interval,
            clock: options.clock.clone(),
            deposits: bridge.as_ref().and_then(|b| b.deposits.clone()),
        });
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
            let registry = metrics_registry(&node);
            match crate::metrics::MetricsServer::start(addr, registry).await {
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
            pending: self.shared.transactions.pending_txs.0.clone(),
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
        self.shared.chain.head.load(Ordering::Relaxed)
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

    /// Why the node can no longer do its job, if it cannot: the error the consensus driver
    /// stopped on, or the part (gossip ingress, block sync, transaction admission or gossip,
    /// the bridge's watcher or relayer) that ended while the node runs.
    pub fn failure(&self) -> Option<String> {
        if let Some(e) = self.driver_result.lock().ok().and_then(|r| r.clone()) {
            return Some(e);
        }
        self.tasks.ended().map(|part| format!("its {part} stopped"))
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
        let delivered = send_shutdown(&self.inputs, SHUTDOWN_DEADLINE).await;
        if let Some(driver) = self.driver.take() {
            if delivered {
                let _ = tokio::task::spawn_blocking(move || driver.join()).await;
            } else {
                // Never waits on a driver that was not told to stop: it ends with the process.
                warn!(name = %self.name, "the consensus driver did not take the stop; not waiting for it");
            }
        }
        self.tasks.abort();
        if let Some(net) = &self.net {
            net.shutdown().await;
        }
        info!(name = %self.name, "node stopped");
    }
}
