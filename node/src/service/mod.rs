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
//! [`Node::start`] opens the database and the chain and starts the components in order, each
//! from the node's `Core` (spec, database, typed shared state, the driver's queue, the
//! mempool) and each with its own start and stop: the bridge's watcher (`bridge`), the
//! peer-to-peer side (`networking`: the network and the engine's ingress, transaction
//! admission and gossip, block sync), the bridge's relayer, the consensus driver's thread,
//! then the servers (`servers`: JSON-RPC, gRPC admin, metrics; `served` is the node as the RPC
//! server sees it). A component that cannot start stops those before it; [`Node::shutdown`]
//! stops them in the reverse order. Every long-running part is registered by name in
//! [`Parts`](crate::parts): [`Node::health`] says how each is doing, one that ends is reported
//! by [`Node::failure`], and `parallax run` exits on it.

mod bridge;
mod networking;
mod served;
mod servers;

use crate::{
    metrics::RpcCollector,
    parts::{PartHealth, Parts, PartsCollector},
};
use bridge::NodeBridge;
use networking::Networking;
pub use parallax_engine::{
    clock::{Clock, ManualClock, SystemClock},
    state::{ChainState, ConsensusState, IngressCounters, Shared, TxState},
    transactions::Submitter,
};
use parallax_engine::{
    driver::{Driver, DriverParts, Validator},
    ingress::BridgeIngress,
    input::{Input, input_queue, send_shutdown},
    state::{ChainCollector, ConsensusCollector, TransactionsCollector},
};
use parallax_network::NetworkMetrics;
use prometheus_client::registry::Registry;
use servers::Servers;

use libp2p::{Multiaddr, PeerId};
use parallax_bridge::BridgeHandles;
use parallax_chain::{Chain, ChainError, ChainSpec, ExecutedBlock};
use parallax_genesis::{Genesis, MempoolConfig, ValidatorKeys};
use parallax_network::{NetworkHandle, Topic};
use parallax_storage::Database;
use parallax_txpool::Mempool;
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::Ordering,
        mpsc::{Receiver, SyncSender},
    },
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

/// What every part of the node is built from: the chain's rules, the database, the typed
/// state the parts publish, the driver's input queue and the mempool.
pub(crate) struct Core {
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) db: Arc<Database>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) inputs: SyncSender<Input>,
    pub(crate) mempool: Arc<Mutex<Mempool>>,
}

/// A running node.
pub struct Node {
    name: String,
    core: Core,
    /// The peer-to-peer side, when the node listens for peers.
    networking: Option<Networking>,
    commits: broadcast::Sender<Arc<ExecutedBlock>>,
    servers: Servers,
    rpc_limits: parallax_rpc::RpcLimits,
    rpc_stats: Arc<parallax_rpc::RpcStats>,
    /// The long-running parts, the driver's thread among them (a part that ends is a failure).
    parts: Parts,
    validator: Option<u32>,
    peer_id: PeerId,
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
    let shared = &node.core.shared;
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
        node.net()
            .map_or_else(NetworkMetrics::detached, NetworkHandle::metrics),
    ));
    registry.register_collector(Box::new(RpcCollector(node.rpc_stats.clone())));
    registry.register_collector(Box::new(PartsCollector(node.parts.clone())));
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

/// The consensus driver's part name.
const DRIVER: &str = "consensus driver";

/// How long a stop waits for room in the driver's input queue.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

impl Node {
    /// Starts a node on the current tokio runtime: the database and the chain, the bridge's
    /// watcher, the peer-to-peer parts, the bridge's relayer, the consensus driver's thread,
    /// then the servers. A part that cannot start stops those started before it.
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

        let (inputs, input_rx) = input_queue();
        let core = Core {
            spec,
            db,
            shared: Arc::new(Shared::default()),
            inputs,
            mempool: Arc::new(Mutex::new(Mempool::new(options.mempool.clone()))),
        };
        core.shared
            .chain
            .head
            .store(chain.head().header.number, Ordering::Relaxed);
        let (commits, _) = broadcast::channel(256);
        let parts = Parts::default();
        let context = NodeContext {
            options: &options,
            parallax: &parallax,
            chain_id: core.spec.chain_id,
            db: &core.db,
            validator: validator_index,
        };
        let mut bridge = NodeBridge::open(&context, &parts).await?;
        let networking = match &options.listen_addr {
            None => None,
            Some(addr) => {
                let bridge_ingress = bridge.as_ref().map(|b| BridgeIngress {
                    domain: b.domain,
                    addresses: b.addresses.clone(),
                    sender: b.attestations.clone(),
                });
                let started = Networking::start(
                    &core,
                    &options,
                    addr,
                    validator.as_ref(),
                    bridge_ingress,
                    &parts,
                )
                .await;
                match started {
                    Ok(networking) => Some(networking),
                    Err(e) => {
                        parts.abort();
                        return Err(e);
                    }
                }
            }
        };
        let net = networking.as_ref().map(|n| n.net.clone());
        if let Some(bridge) = &mut bridge {
            bridge.start_relayer(&context, net.clone(), &parts);
        }
        let bridge = bridge.map(|b| b.handles);

        let driver = Driver::new(DriverParts {
            chain,
            validator,
            mempool: core.mempool.clone(),
            net,
            rt: tokio::runtime::Handle::current(),
            shared: core.shared.clone(),
            commits: commits.clone(),
            inputs: core.inputs.clone(),
            min_block_interval: Duration::from_millis(parallax.consensus.min_block_interval_ms),
            clock: options.clock.clone(),
            deposits: bridge.as_ref().and_then(|b| b.deposits.clone()),
        });
        let mut node = Self {
            name: options.name.clone(),
            core,
            networking,
            commits,
            servers: Servers::default(),
            rpc_limits: options.rpc_limits.clone(),
            rpc_stats: Arc::new(parallax_rpc::RpcStats::default()),
            parts,
            validator: validator_index,
            peer_id: options.keys.peer_id(),
            bridge,
        };
        if let Err(e) = node.start_driver(driver, input_rx) {
            node.shutdown().await;
            return Err(e);
        }
        let registry = metrics_registry(&node);
        match Servers::start(&node, &options, registry).await {
            Ok(servers) => node.servers = servers,
            Err(e) => {
                node.shutdown().await;
                return Err(e);
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

    /// Runs the consensus driver on a thread of its own, the part named [`DRIVER`]; the error
    /// it stops on is its health's.
    fn start_driver(&self, driver: Driver, input_rx: Receiver<Input>) -> Result<(), NodeError> {
        let error = Arc::new(Mutex::new(None));
        let slot = error.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{}-consensus", self.name))
            .spawn(move || {
                if let Err(e) = driver.run(input_rx) {
                    tracing::error!(error = %e, "the consensus driver stopped on an error");
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                }
            })
            .map_err(|e| NodeError::Config(format!("cannot start the driver thread: {e}")))?;
        self.parts.thread_reporting(DRIVER, thread, error);
        Ok(())
    }

    fn net(&self) -> Option<&NetworkHandle> {
        self.networking.as_ref().map(|n| &n.net)
    }

    fn rpc_deps(&self) -> parallax_rpc::RpcDeps {
        parallax_rpc::RpcDeps {
            db: self.core.db.clone(),
            spec: self.core.spec.clone(),
            node: Arc::new(served::ServedNode {
                submitter: self.submitter(),
                shared: self.core.shared.clone(),
                db: self.core.db.clone(),
            }),
            net: self.net().cloned(),
            commits: self.commits.clone(),
            pending: self.core.shared.transactions.pending_txs.0.clone(),
            limits: self.rpc_limits.clone(),
            stats: self.rpc_stats.clone(),
            bridge: self.bridge.clone(),
        }
    }

    fn admin_context(&self, options: &NodeOptions) -> crate::admin::AdminContext {
        crate::admin::AdminContext {
            name: options.name.clone(),
            spec: self.core.spec.clone(),
            db: self.core.db.clone(),
            shared: self.core.shared.clone(),
            net: self.net().cloned(),
            validator: self.validator,
            peer_id: self.peer_id,
            parts: self.parts.clone(),
        }
    }

    /// Something that puts transactions into this node's mempool and gossips them.
    pub fn submitter(&self) -> Submitter {
        Submitter {
            db: self.core.db.clone(),
            spec: self.core.spec.clone(),
            mempool: self.core.mempool.clone(),
            inputs: self.core.inputs.clone(),
            gossip: self.networking.as_ref().map(|n| n.tx_gossip.clone()),
            shared: self.core.shared.clone(),
        }
    }

    /// The committed head's number.
    pub fn head(&self) -> u64 {
        self.core.shared.chain.head.load(Ordering::Relaxed)
    }

    /// The shared counters.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.core.shared
    }

    /// The bridge's parts, when the chain has an L1 bridge.
    pub fn bridge(&self) -> Option<&BridgeHandles> {
        self.bridge.as_ref()
    }

    /// The database (read it through snapshots).
    pub fn db(&self) -> &Arc<Database> {
        &self.core.db
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
        self.servers.rpc_addr()
    }

    /// The gRPC admin server's bound address.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.servers.grpc_addr()
    }

    /// The metrics server's bound address.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.servers.metrics_addr()
    }

    /// JSON-RPC counters (calls by method, errors, refused requests).
    pub fn rpc_stats(&self) -> &Arc<parallax_rpc::RpcStats> {
        &self.rpc_stats
    }

    /// The network's listen addresses with `/p2p/<peer id>` appended.
    pub async fn p2p_addrs(&self) -> Vec<Multiaddr> {
        let Some(net) = self.net() else {
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
        if let Some(net) = self.net() {
            let _ = net.publish(topic, data).await;
        }
    }

    /// Sends raw bytes as a block-sync request to `peer` and returns the raw answer (for
    /// tests and diagnostics: what a broken or hostile peer could ask).
    pub async fn request_raw(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, String> {
        match self.net() {
            Some(net) => net.request(peer, data).await.map_err(|e| e.to_string()),
            None => Err("no network".into()),
        }
    }

    /// This node's libp2p peer id, when it is networked.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.net().map(NetworkHandle::local_peer_id)
    }

    /// How many peers are connected.
    pub async fn peer_count(&self) -> usize {
        match self.net() {
            Some(net) => net.peers().await.len(),
            None => 0,
        }
    }

    /// Why the node can no longer do its job, if it cannot: the error the consensus driver
    /// stopped on, or the part (gossip ingress, block sync, transaction admission or gossip,
    /// the bridge's watcher or relayer) that ended while the node runs.
    pub fn failure(&self) -> Option<String> {
        let ended = self.parts.ended()?;
        Some(
            ended
                .error
                .unwrap_or_else(|| format!("its {} stopped", ended.part)),
        )
    }

    /// How each long-running part of the node is doing, in the order they started.
    pub fn health(&self) -> Vec<PartHealth> {
        self.parts.health()
    }

    /// Stops everything, in the reverse order of [`Node::start`]: the servers, the consensus
    /// driver (waiting for it to finish its current step, so nothing half-written is left; the
    /// database is consistent at every commit anyway), the other parts and the network.
    pub async fn shutdown(mut self) {
        self.servers.stop().await;
        let delivered = send_shutdown(&self.core.inputs, SHUTDOWN_DEADLINE).await;
        if let Some(driver) = self.parts.take_thread(DRIVER) {
            if delivered {
                let _ = tokio::task::spawn_blocking(move || driver.join()).await;
            } else {
                // Never waits on a driver that was not told to stop: it ends with the process.
                warn!(name = %self.name, "the consensus driver did not take the stop; not waiting for it");
            }
        }
        self.parts.abort();
        if let Some(net) = self.net() {
            net.shutdown().await;
        }
        info!(name = %self.name, "node stopped");
    }
}
