//! Ethereum JSON-RPC 2.0 over HTTP and WebSocket on one address, for wallets (MetaMask),
//! dapp libraries (ethers, viem, web3.py) and scripts (Foundry, Hardhat), on `jsonrpsee`.
//!
//! - Methods (`api`): one `jsonrpsee` trait per namespace (`web3`, `net`, `eth`, `txpool`,
//!   `parallax`), the one place that names each method and declares its parameters: geth's
//!   methods for a full node, reading committed blocks and state (at any block, through the
//!   storage's history) from a [`ChainStore`] (`read`, `eth`, `evm`, `fees`, `logs`; MDBX in
//!   the node, `parallax-storage-api`'s in-memory store in tests), filters and
//!   subscriptions following committed blocks and the mempool (`filters`, `pubsub`), and
//!   Parallax's own:
//!   the validators, consensus figures, the equivocation evidence this node holds
//!   (`consensus`) and the bridge (`bridge`).
//! - Transport ([`RpcServer`], `transport`): our accept loop over [`limited`] connections
//!   (in all, per IP address, silent ones closed), each served by hyper — `POST /` is HTTP
//!   JSON-RPC (HTTP/1.1 or HTTP/2), `GET /` upgrades to a WebSocket (the same methods plus
//!   `eth_subscribe`) — through CORS (any origin, for browser wallets), a bound on HTTP
//!   requests in flight, the request-size limit and geth's envelope checks, into
//!   jsonrpsee's service.
//! - Middleware (`middleware`): counts every call by method ([`RpcStats`]) and rewords
//!   jsonrpsee's answers where geth's differ.
//!
//! Batches, request and response bodies, WebSocket messages, open connections, HTTP
//! requests in flight, subscriptions, installed filters, `eth_getLogs` ranges and results,
//! `eth_feeHistory`'s percentiles and `eth_call`'s gas and time are bounded ([`RpcLimits`]);
//! going over a limit is a clear error, never a crash.
//!
//! The server reads blocks and state from the [`ChainStore`] itself and asks the node for the rest
//! through [`NodeApi`] (the pool, the head it published, consensus figures, evidence).
//! [`limited`] also bounds the gRPC admin server's connections.
//!
//! Errors (`error`) use geth's codes and wording: -32700, -32600 (also for a missing or
//! wrong `"jsonrpc": "2.0"`), -32601 "the method X does not exist/is not available", -32602
//! (also for hex without `0x`), -32000 for rejected transactions and missing blocks, and 3
//! "execution reverted: …" with the revert data.

mod api;
mod bridge;
mod consensus;
mod error;
mod eth;
mod evm;
mod fees;
mod filters;
pub mod limited;
mod logs;
mod middleware;
mod node;
mod params;
mod pubsub;
mod read;
mod store;
mod transport;

pub use consensus::MAX_EVIDENCE_RESULTS;
pub use limited::Timeouts;
pub use node::{ConsensusStatus, NodeApi};
pub use store::{ChainStore, Snapshot};

use alloy_primitives::B256;
use api::Rpc;
use jsonrpsee::server::{BatchRequestConfig, PingConfig, ServerConfig, ServerHandle};
use parallax_bridge::BridgeHandles;
use parallax_chain::{ChainSpec, ExecutedBlock};
use parallax_network::NetworkHandle;
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, broadcast},
};
use tracing::info;

/// How often the server pings a WebSocket client.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Messages queued for one WebSocket before its subscribers count as too slow.
const OUT_QUEUE: u32 = 4096;

/// The RPC server's limits.
#[derive(Debug, Clone)]
pub struct RpcLimits {
    /// Largest HTTP request body or WebSocket message, in bytes.
    pub max_request_bytes: usize,
    /// Largest response (a batch's in all), in bytes: a larger answer is replaced by an
    /// error.
    pub max_response_bytes: usize,
    /// Most calls in one batch.
    pub max_batch: usize,
    /// Most open connections (HTTP and WebSocket together).
    pub max_connections: usize,
    /// Most blocks one `eth_getLogs` (or filter poll) may scan.
    pub max_log_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Gas cap of `eth_call`, `eth_estimateGas` and `eth_createAccessList`.
    pub gas_cap: u64,
    /// Time limit of one EVM call.
    pub evm_timeout: Duration,
    /// Most installed filters.
    pub max_filters: usize,
    /// A filter not polled for this long is removed.
    pub filter_ttl: Duration,
    /// Most subscriptions on one WebSocket.
    pub max_subscriptions: usize,
    /// Most blocks `eth_feeHistory` reports.
    pub max_fee_history: u64,
    /// Most connections open from one IP address (the rest of `max_connections` stays for
    /// others).
    pub max_connections_per_ip: usize,
    /// Most HTTP requests handled at once, over all connections (HTTP/2 multiplexes many on
    /// one); more wait their turn.
    pub max_requests_in_flight: usize,
    /// How long a connection may stay silent before it is closed (see [`limited`]).
    pub timeouts: Timeouts,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 5 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_batch: 100,
            max_connections: 512,
            max_log_range: 10_000,
            max_logs: 10_000,
            gas_cap: 50_000_000,
            evm_timeout: Duration::from_secs(5),
            max_filters: 1024,
            filter_ttl: Duration::from_secs(300),
            max_subscriptions: 128,
            max_fee_history: 1024,
            max_connections_per_ip: 64,
            max_requests_in_flight: 256,
            timeouts: Timeouts {
                first_byte: Duration::from_secs(30),
                idle: Duration::from_secs(120),
            },
        }
    }
}

/// Request counters (read by metrics).
#[derive(Debug, Default)]
pub struct RpcStats {
    /// Calls answered, by method (the server registers its methods when it starts).
    calls: std::sync::OnceLock<Vec<(&'static str, AtomicU64)>>,
    /// Calls of methods the server does not serve.
    unknown: AtomicU64,
    /// Calls answered with an error.
    pub errors: AtomicU64,
    /// Requests that were not JSON or not JSON-RPC.
    pub malformed: AtomicU64,
    /// Requests over a size or batch limit.
    pub oversized: AtomicU64,
    /// Connections refused at the connection limit.
    pub refused_connections: AtomicU64,
    /// Subscriptions ended because their client did not keep up.
    pub slow_subscribers: AtomicU64,
    /// HTTP requests being handled now.
    pub in_flight: AtomicU64,
    /// HTTP requests that waited for a turn (more than `max_requests_in_flight` at once).
    pub waited: AtomicU64,
}

impl RpcStats {
    /// Registers the methods served (once; later calls change nothing).
    fn register(&self, methods: impl IntoIterator<Item = &'static str>) {
        let mut names: Vec<&'static str> = methods.into_iter().collect();
        names.sort_unstable();
        let _ = self
            .calls
            .set(names.into_iter().map(|m| (m, AtomicU64::new(0))).collect());
    }

    /// Counts a call of `method` (`None`: not served).
    pub(crate) fn count_call(&self, method: Option<&'static str>) {
        let counter = method
            .and_then(|m| {
                let calls = self.calls.get()?;
                let i = calls.binary_search_by(|(name, _)| name.cmp(&m)).ok()?;
                Some(&calls[i].1)
            })
            .unwrap_or(&self.unknown);
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls by method (those called at least once), sorted; unknown methods count under
    /// `unknown`.
    pub fn calls(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self
            .calls
            .get()
            .map(|calls| calls.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|(m, c)| (*m, c.load(Ordering::Relaxed)))
            .chain([("unknown", self.unknown.load(Ordering::Relaxed))])
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort();
        v
    }
}

/// What a server is started with: the node it serves and what it reads.
#[derive(Clone)]
pub struct RpcDeps {
    /// The committed chain (the node's database; read through one snapshot per call; never
    /// written).
    pub db: Arc<dyn ChainStore>,
    /// The chain's spec.
    pub spec: Arc<ChainSpec>,
    /// The node: its pool, head, consensus figures and evidence.
    pub node: Arc<dyn NodeApi>,
    /// The network, for `net_peerCount` (none: no peers).
    pub net: Option<NetworkHandle>,
    /// Committed blocks as the node commits them (subscriptions and filters).
    pub commits: broadcast::Sender<Arc<ExecutedBlock>>,
    /// Hashes of transactions as the pool admits them (subscriptions and filters).
    pub pending: broadcast::Sender<B256>,
    /// The server's limits.
    pub limits: RpcLimits,
    /// Where the server counts what it did (the node's metrics read it).
    pub stats: Arc<RpcStats>,
    /// The bridge's parts, when the chain has an L1 bridge.
    pub bridge: Option<BridgeHandles>,
}

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct RpcContext {
    pub(crate) db: Arc<dyn ChainStore>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) node: Arc<dyn NodeApi>,
    pub(crate) net: Option<NetworkHandle>,
    pub(crate) commits: broadcast::Sender<Arc<ExecutedBlock>>,
    pub(crate) pending: broadcast::Sender<B256>,
    pub(crate) limits: Arc<RpcLimits>,
    pub(crate) stats: Arc<RpcStats>,
    pub(crate) filters: Arc<filters::Filters>,
    /// The bridge's parts, when the chain has an L1 bridge.
    pub(crate) bridge: Option<BridgeHandles>,
    /// Calls on the blocking pool at once: more would only make the threads take turns on
    /// the cores (the others wait here, without a thread).
    pub(crate) blocking: Arc<Semaphore>,
}

impl RpcContext {
    fn new(deps: RpcDeps) -> Self {
        Self {
            db: deps.db,
            spec: deps.spec,
            node: deps.node,
            net: deps.net,
            commits: deps.commits,
            pending: deps.pending,
            limits: Arc::new(deps.limits),
            stats: deps.stats,
            filters: Arc::new(filters::Filters::default()),
            bridge: deps.bridge,
            blocking: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()) * 2 + 2,
            )),
        }
    }
}

/// A running RPC server.
#[derive(Debug)]
pub struct RpcServer {
    addr: SocketAddr,
    stop: ServerHandle,
    task: tokio::task::JoinHandle<()>,
    feeder: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// Binds `addr` and serves HTTP and WebSocket JSON-RPC.
    pub async fn start(addr: SocketAddr, deps: RpcDeps) -> std::io::Result<Self> {
        let ctx = RpcContext::new(deps);
        let methods = api::methods(Rpc { ctx: ctx.clone() })
            .map_err(|e| std::io::Error::other(format!("registering the RPC methods: {e}")))?;
        ctx.stats.register(methods.method_names());
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let limits = ctx.limits.clone();
        let stats = ctx.stats.clone();
        let feeder = tokio::spawn(filters::feed_pending(
            ctx.filters.clone(),
            ctx.pending.subscribe(),
        ));
        let u32_limit = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let config = ServerConfig::builder()
            .max_request_body_size(u32_limit(limits.max_request_bytes))
            .max_response_body_size(u32_limit(limits.max_response_bytes))
            // Connections are bounded by the accept loop; jsonrpsee counts HTTP requests as
            // connections too, which `max_requests_in_flight` bounds.
            .max_connections(u32::MAX >> 4)
            .max_subscriptions_per_connection(u32_limit(limits.max_subscriptions))
            .set_batch_request_config(BatchRequestConfig::Limit(u32_limit(limits.max_batch)))
            .set_message_buffer_capacity(OUT_QUEUE)
            // Pings keep a quiet subscriber's connection alive: its pongs are reads, and a
            // connection that reads nothing for the idle timeout is closed.
            .enable_ws_ping(
                PingConfig::new()
                    .ping_interval(PING_INTERVAL)
                    .inactive_limit(limits.timeouts.idle),
            )
            .set_id_provider(pubsub::HexIds::default())
            .build();
        let shared = Arc::new(middleware::Shared {
            stats: stats.clone(),
            methods: methods.clone(),
            max_response_bytes: limits.max_response_bytes,
            max_subscriptions: limits.max_subscriptions,
        });
        let rpc_middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
            .layer_fn(move |inner| middleware::Geth::new(inner, shared.clone()));
        let builder = jsonrpsee::server::Server::builder()
            .set_config(config)
            .set_rpc_middleware(rpc_middleware)
            .to_service_builder();
        let http = Arc::new(transport::Http {
            limits: limits.clone(),
            stats: stats.clone(),
            in_flight: Arc::new(Semaphore::new(limits.max_requests_in_flight.max(1))),
        });
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::Any)
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
            .allow_headers(tower_http::cors::Any)
            .max_age(Duration::from_secs(86_400));
        let (stop_handle, stop) = jsonrpsee::server::stop_channel();
        let per_connection = {
            let stop_handle = stop_handle.clone();
            move || {
                let rpc = builder.clone().build(methods.clone(), stop_handle.clone());
                let http = http.clone();
                tower::ServiceBuilder::new()
                    .layer(cors.clone())
                    .service(tower::service_fn(move |request| {
                        let rpc = rpc.clone();
                        let http = http.clone();
                        async move { Ok::<_, Infallible>(http.handle(rpc, request).await) }
                    }))
            }
        };
        let task = tokio::spawn(transport::accept_loop(
            listener,
            limits,
            stats,
            stop_handle,
            per_connection,
        ));
        info!(%addr, "JSON-RPC listening (HTTP and WebSocket)");
        Ok(Self {
            addr,
            stop,
            task,
            feeder,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: no new connections; open ones finish their requests, WebSockets are
    /// closed.
    pub async fn stop(mut self) {
        let _ = self.stop.stop();
        self.feeder.abort();
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}
