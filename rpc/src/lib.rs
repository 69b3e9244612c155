//! Ethereum JSON-RPC 2.0 over HTTP and WebSocket on one address, for wallets (MetaMask),
//! dapp libraries (ethers, viem, web3.py) and scripts (Foundry, Hardhat).
//!
//! - Transport ([`RpcServer`]): `POST /` is HTTP JSON-RPC, `GET /` upgrades to a WebSocket
//!   (the same methods plus `eth_subscribe`). CORS allows any origin so browser wallets can
//!   call it. Batches, request bodies, WebSocket messages, open connections, subscriptions,
//!   installed filters, `eth_getLogs` ranges and results, and `eth_call`'s gas and time are
//!   bounded ([`RpcLimits`]); going over a limit is a clear error, never a crash.
//! - Methods (`eth`): the `web3_`, `net_` and `eth_` methods geth serves for a full node,
//!   reading committed blocks and state (at any block, through the storage's history) from
//!   MDBX, geth's `txpool_status`, and `parallax_validators` and `parallax_consensusStatus`.
//! - Filters and subscriptions (`filters`, `pubsub`) follow committed blocks and the
//!   mempool.
//! - Parallax's own: the bridge's (`bridge`) and `parallax_evidence` (`consensus`), the
//!   equivocation evidence this node holds.
//!
//! The server reads blocks and state from the database itself and asks the node for the rest
//! through [`NodeApi`] (the pool, the head it published, consensus figures, evidence).
//! [`limited`] bounds connections (in all, per IP address, silent ones closed), for this
//! server and the gRPC admin server.
//!
//! Errors (`error`) use geth's codes and wording: -32700, -32600, -32601 "the method X does
//! not exist/is not available", -32602, -32000 for rejected transactions and missing blocks,
//! and 3 "execution reverted: …" with the revert data.

mod bridge;
mod consensus;
mod error;
mod eth;
mod evm;
mod fees;
mod filters;
pub mod limited;
mod node;
mod pubsub;

pub use consensus::MAX_EVIDENCE_RESULTS;
pub use limited::Timeouts;
pub use node::{ConsensusStatus, NodeApi};

use alloy_primitives::B256;
use axum::{
    Router,
    body::Body,
    extract::{State, WebSocketUpgrade},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use error::{INVALID_REQUEST, PARSE_ERROR, RpcError};
use parallax_bridge::BridgeHandles;
use parallax_chain::{ChainSpec, ExecutedBlock};
use parallax_network::NetworkHandle;
use parallax_storage::Database;
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::{Semaphore, broadcast, oneshot},
};
use tracing::{debug, info, warn};

/// The RPC server's limits.
#[derive(Debug, Clone)]
pub struct RpcLimits {
    /// Largest HTTP request body or WebSocket message, in bytes.
    pub max_request_bytes: usize,
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
#[derive(Debug)]
pub struct RpcStats {
    /// Calls answered, by method: one counter per entry of [`eth::METHODS`], then one for
    /// unknown methods.
    calls: Vec<AtomicU64>,
    /// Calls answered with an error.
    pub errors: AtomicU64,
    /// Requests that were not JSON or not JSON-RPC.
    pub malformed: AtomicU64,
    /// Requests over a size or batch limit.
    pub oversized: AtomicU64,
    /// Connections refused at the connection limit.
    pub refused_connections: AtomicU64,
    /// WebSocket connections closed because the client did not keep up.
    pub slow_subscribers: AtomicU64,
    /// HTTP requests being handled now.
    pub in_flight: AtomicU64,
    /// HTTP requests that waited for a turn (more than `max_requests_in_flight` at once).
    pub waited: AtomicU64,
}

impl Default for RpcStats {
    fn default() -> Self {
        Self {
            calls: (0..=eth::METHODS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            errors: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            oversized: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            slow_subscribers: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            waited: AtomicU64::new(0),
        }
    }
}

impl RpcStats {
    fn count_call(&self, method: &str) {
        let i = eth::METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(eth::METHODS.len());
        self.calls[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls by method (those called at least once), sorted; unknown methods count under
    /// `unknown`.
    pub fn calls(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = eth::METHODS
            .iter()
            .copied()
            .chain(["unknown"])
            .zip(&self.calls)
            .map(|(m, c)| (m, c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort();
        v
    }
}

/// What a server is started with: the node it serves and what it reads.
#[derive(Clone)]
pub struct RpcDeps {
    /// The node's database (read through one snapshot per call; never written).
    pub db: Arc<Database>,
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
    pub(crate) db: Arc<Database>,
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
    /// HTTP requests being handled ([`RpcLimits::max_requests_in_flight`]): one HTTP/2
    /// connection can carry many at once.
    pub(crate) in_flight: Arc<Semaphore>,
}

impl RpcContext {
    fn new(deps: RpcDeps) -> Self {
        let in_flight = Semaphore::new(deps.limits.max_requests_in_flight.max(1));
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
            in_flight: Arc::new(in_flight),
        }
    }
}

/// A running RPC server.
#[derive(Debug)]
pub struct RpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    feeder: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// Binds `addr` and serves HTTP and WebSocket JSON-RPC.
    pub async fn start(addr: SocketAddr, deps: RpcDeps) -> std::io::Result<Self> {
        let ctx = RpcContext::new(deps);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let listener = LimitedListener {
            inner: listener,
            permits: Arc::new(Semaphore::new(ctx.limits.max_connections)),
            per_ip: Default::default(),
            max_per_ip: ctx.limits.max_connections_per_ip,
            timeouts: ctx.limits.timeouts,
            stats: ctx.stats.clone(),
        };
        let feeder = tokio::spawn(filters::feed_pending(
            ctx.filters.clone(),
            ctx.pending.subscribe(),
        ));
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::Any)
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::OPTIONS,
            ])
            .allow_headers(tower_http::cors::Any)
            .max_age(Duration::from_secs(86_400));
        let app = Router::new()
            .route("/", get(websocket).post(http))
            .layer(cors)
            .with_state(Arc::new(ctx));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "rpc server failed");
            }
        });
        info!(%addr, "JSON-RPC listening (HTTP and WebSocket)");
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
            feeder,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving. Open WebSockets are closed when the runtime stops.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.feeder.abort();
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}

/// A TCP listener that holds at most `permits` connections open, at most `max_per_ip` from
/// one address; one more is answered with HTTP 503 and closed. Silent connections are closed
/// after `timeouts`.
struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    per_ip: limited::PerIp,
    max_per_ip: usize,
    timeouts: Timeouts,
    stats: Arc<RpcStats>,
}

impl axum::serve::Listener for LimitedListener {
    type Io = limited::LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!(error = %e, "accepting an RPC connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let Some(slot) = self.per_ip.take(peer.ip(), self.max_per_ip) else {
                self.stats
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "RPC connection refused: too many from this address");
                tokio::spawn(refuse(stream, "too many connections from this address"));
                continue;
            };
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    let stream = limited::LimitedStream::new(
                        stream,
                        permit,
                        Some(slot),
                        Some(self.timeouts),
                    );
                    return (stream, peer);
                }
                Err(_) => {
                    self.stats
                        .refused_connections
                        .fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "RPC connection refused: too many connections");
                    tokio::spawn(refuse(stream, "too many connections"));
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Answers a connection over the limit with 503 and a JSON-RPC error, then closes it.
async fn refuse(mut stream: TcpStream, why: &'static str) {
    let body = json!({"jsonrpc": "2.0", "id": null, "error":
        {"code": -32000, "message": why}})
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        // Read what the client sends until it closes, so closing does not reset the
        // connection before it has read the answer.
        let mut sink = [0u8; 4096];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// `POST /`: one JSON-RPC request or batch.
async fn http(State(ctx): State<Arc<RpcContext>>, body: Body) -> Response {
    // Waits its turn (before reading the body) when too many are being handled.
    let turn = match ctx.in_flight.clone().try_acquire_owned() {
        Ok(turn) => turn,
        Err(_) => {
            ctx.stats.waited.fetch_add(1, Ordering::Relaxed);
            match ctx.in_flight.clone().acquire_owned().await {
                Ok(turn) => turn,
                Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }
    };
    // Counted until the handler ends, or is dropped when its client goes away.
    struct InFlight<'a> {
        count: &'a AtomicU64,
        _turn: tokio::sync::OwnedSemaphorePermit,
    }
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }
    ctx.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight {
        count: &ctx.stats.in_flight,
        _turn: turn,
    };
    http_turn(&ctx, body).await
}

async fn http_turn(ctx: &RpcContext, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, ctx.limits.max_request_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            ctx.stats.oversized.fetch_add(1, Ordering::Relaxed);
            let e = RpcError::new(
                INVALID_REQUEST,
                format!(
                    "request body too large: the limit is {} bytes",
                    ctx.limits.max_request_bytes
                ),
            );
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_response(Value::Null, &e),
            );
        }
    };
    match handle_message(ctx, &bytes, None).await {
        Some(response) => json_response(StatusCode::OK, response),
        None => StatusCode::OK.into_response(),
    }
}

/// `GET /`: upgrade to a WebSocket.
async fn websocket(State(ctx): State<Arc<RpcContext>>, upgrade: WebSocketUpgrade) -> Response {
    let max = ctx.limits.max_request_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| pubsub::serve((*ctx).clone(), socket))
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response object carrying an error.
pub(crate) fn error_response(id: Value, e: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}).to_string()
}

/// Handles one message (a request or a batch); `None` when nothing is to be answered (only
/// notifications).
pub(crate) async fn handle_message(
    ctx: &RpcContext,
    bytes: &[u8],
    conn: Option<&pubsub::Connection>,
) -> Option<String> {
    let request: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
            let e = RpcError::new(PARSE_ERROR, format!("parse error: {e}"));
            return Some(error_response(Value::Null, &e));
        }
    };
    match request {
        Value::Array(calls) => {
            if calls.is_empty() {
                ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
                return Some(error_response(
                    Value::Null,
                    &RpcError::new(INVALID_REQUEST, "empty batch"),
                ));
            }
            if calls.len() > ctx.limits.max_batch {
                ctx.stats.oversized.fetch_add(1, Ordering::Relaxed);
                return Some(error_response(
                    Value::Null,
                    &RpcError::new(
                        INVALID_REQUEST,
                        format!(
                            "batch too large: {} calls, the limit is {}",
                            calls.len(),
                            ctx.limits.max_batch
                        ),
                    ),
                ));
            }
            let mut out = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(response) = call_one(ctx, call, conn).await {
                    out.push(response);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(format!("[{}]", out.join(",")))
            }
        }
        call => call_one(ctx, call, conn).await,
    }
}

/// One call: `None` for a notification (a request without `id`).
async fn call_one(
    ctx: &RpcContext,
    call: Value,
    conn: Option<&pubsub::Connection>,
) -> Option<String> {
    let Value::Object(mut call) = call else {
        ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
        return Some(error_value(
            Value::Null,
            &RpcError::new(INVALID_REQUEST, "invalid request"),
        ));
    };
    let id = call.remove("id");
    let notification = id.is_none();
    let id = id.unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
        return Some(error_value(
            Value::Null,
            &RpcError::new(INVALID_REQUEST, "invalid request: bad id"),
        ));
    }
    // geth answers a call without `"jsonrpc": "2.0"` as an invalid request (a notification
    // too: it is not a valid one).
    if call.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
        return Some(error_value(
            id,
            &RpcError::new(INVALID_REQUEST, "invalid request"),
        ));
    }
    let method = match call.remove("method") {
        Some(Value::String(m)) => m,
        _ => {
            ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return Some(error_value(
                id,
                &RpcError::new(INVALID_REQUEST, "invalid request: no method"),
            ));
        }
    };
    let params = match call.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p,
        Some(_) => {
            let e = RpcError::params("non-array args");
            ctx.stats.errors.fetch_add(1, Ordering::Relaxed);
            return (!notification).then(|| error_value(id, &e));
        }
    };
    ctx.stats.count_call(&method);
    debug!(method = %method, "rpc call");
    let result = route(ctx, method, params, conn).await;
    if notification {
        return None;
    }
    Some(match result {
        // Written directly: a response object is the same three members every time.
        Ok(value) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{value}}}"#),
        Err(e) => {
            ctx.stats.errors.fetch_add(1, Ordering::Relaxed);
            error_value(id, &e)
        }
    })
}

fn error_value(id: Value, e: &RpcError) -> String {
    error_response(id, e)
}

/// Runs a method: subscriptions and network queries here, everything that reads the
/// database or runs the EVM on the blocking pool.
async fn route(
    ctx: &RpcContext,
    method: String,
    params: Vec<Value>,
    conn: Option<&pubsub::Connection>,
) -> Result<Value, RpcError> {
    match method.as_str() {
        "eth_subscribe" | "eth_unsubscribe" => match conn {
            Some(conn) if method == "eth_subscribe" => conn.subscribe(ctx, &params),
            Some(conn) => conn.unsubscribe(&params),
            None => Err(RpcError::new(
                error::METHOD_NOT_FOUND,
                "notifications not supported",
            )),
        },
        "net_peerCount" => {
            let peers = match &ctx.net {
                Some(net) => net.peers().await.len(),
                None => 0,
            };
            Ok(Value::String(format!("{peers:#x}")))
        }
        // geth answers true whenever it serves RPC.
        "net_listening" => Ok(Value::Bool(true)),
        "parallax_bridgeStatus" => bridge::status(ctx, &params).await,
        "parallax_getWithdrawalProof" => bridge::withdrawal_proof_rpc(ctx, &params),
        "parallax_evidence" => consensus::evidence(ctx, &params),
        // Point reads answer on the async worker: a few MDBX lookups cost less than handing
        // the call to the blocking pool and waking a thread for it.
        m if eth::POINT_READS.contains(&m) => eth::dispatch(ctx, m, &params),
        // A short `eth_call` is answered here too; a longer one goes on to the pool.
        m if let Some(answer) = eth::try_inline(ctx, m, &params) => answer,
        _ => {
            let Ok(_permit) = ctx.blocking.acquire().await else {
                return Err(RpcError::internal("the server is stopping"));
            };
            let ctx = ctx.clone();
            tokio::task::spawn_blocking(move || eth::dispatch(&ctx, &method, &params))
                .await
                .unwrap_or_else(|e| Err(RpcError::internal(format!("handler failed: {e}"))))
        }
    }
}
