//! The peer-to-peer layer: libp2p over TCP with noise and yamux, gossipsub for the
//! four broadcast topics, a request-response protocol for block sync, and static bootnodes
//! that are redialled with backoff.
//!
//! The layer is **bytes-level**: it knows nothing of consensus or protobuf. Gossip payloads and
//! sync requests reach the node as `Vec<u8>`; the node decodes and validates them and tells the
//! network what it found. Everything from a peer is bounded here (frame sizes, queues, pending
//! requests) before the node sees it.
//!
//! # API
//!
//! ```text
//! pub async fn start(config: NetworkConfig)
//!     -> Result<(NetworkHandle, tokio::sync::mpsc::Receiver<NetworkEvent>), NetworkError>;
//!
//! impl NetworkHandle {                      // Clone; commands go over a bounded channel
//!     pub fn local_peer_id(&self) -> PeerId;
//!     pub async fn listen_addrs(&self) -> Vec<Multiaddr>;
//!     pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError>;
//!     pub fn report(&self, message_id: MessageId, source: PeerId, validation: Validation);
//!     pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetworkError>;
//!     pub fn respond(&self, id: RequestId, data: Vec<u8>);
//!     pub async fn peers(&self) -> Vec<PeerInfo>;
//!     pub fn stats(&self) -> NetworkStats;
//!     pub async fn shutdown(&self);
//! }
//! ```
//!
//! [`start`] binds the listen address (so [`NetworkHandle::listen_addrs`] is meaningful as soon
//! as it returns, also after `/tcp/0`), dials the bootnodes and spawns the swarm task on the
//! current tokio runtime. The task owns the libp2p swarm; the handle talks to it over a bounded
//! command channel and the task talks to the node over the bounded [`NetworkEvent`] channel.
//!
//! # Gossip
//!
//! Every node subscribes to the four [`Topic`]s, named `/parallax/<chain_id>/<name>/1`.
//! Message ids are content addressed (SHA-256 of topic and data), so the same bytes published
//! twice, or arriving over two paths, reach the node once. Messages are signed by their author
//! (strict validation) and are **not forwarded until the node validates them**: each
//! [`NetworkEvent::Gossip`] must be answered with [`NetworkHandle::report`]. `Accept` forwards
//! it to the mesh; `Reject` drops it and penalises the propagation source through gossipsub
//! peer scoring (peers that keep sending invalid messages are graylisted: their messages are
//! ignored); `Ignore` drops it without penalty. Publishing floods to every subscribed peer
//! (consensus messages must not wait for the mesh). Publishing before any peer subscribed
//! returns [`NetworkError::NoPeersSubscribed`] and publishing bytes already seen returns
//! [`NetworkError::Duplicate`]; neither is a fault, see [`NetworkError::is_benign`].
//!
//! If the node falls behind and the event channel is full, a gossip message is dropped and
//! reported as `Ignore` (it is not forwarded); the drop is counted in
//! [`NetworkStats::events_dropped`]. The swarm task never blocks on the node.
//!
//! # Sync
//!
//! The protocol `/parallax/<chain_id>/sync/1` carries one request frame and one response frame
//! per stream, each a 4-byte big-endian length and the bytes. Readers refuse frames above
//! [`NetworkConfig::max_request_bytes`] / [`NetworkConfig::max_response_bytes`] before reading
//! the body. An inbound request arrives as [`NetworkEvent::SyncRequest`] and is answered with
//! [`NetworkHandle::respond`]; unanswered requests time out on the requester after
//! [`NetworkConfig::request_timeout`].
//!
//! # Peers
//!
//! Bootnodes (each address ending in `/p2p/<peer id>`) are dialled at start and redialled
//! whenever their connection closes or a dial fails, with exponential backoff from 500 ms
//! doubling to 30 s, reset once a connection is established. Identify runs with protocol
//! version `/parallax/<chain_id>/id/1`; a peer announcing another version (another chain) is
//! disconnected. Idle connections are kept for an hour so a quiet chain keeps its peers.

mod codec;
mod task;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

pub use libp2p::{Multiaddr, PeerId, identity::Keypair};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, NoLabelSet},
    metrics::MetricType,
};
use tokio::sync::{mpsc, oneshot};

/// The default [`NetworkConfig::max_gossip_bytes`]: 10 MiB, room for a full block.
pub const DEFAULT_MAX_GOSSIP_BYTES: usize = 10 * 1024 * 1024;
/// The default [`NetworkConfig::max_request_bytes`]: 1 KiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1024;
/// The default [`NetworkConfig::max_response_bytes`]: 32 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The default [`NetworkConfig::request_timeout`]: 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`NetworkConfig::event_capacity`]: 8192 events.
pub const DEFAULT_EVENT_CAPACITY: usize = 8192;
/// The default [`NetworkConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 64;

/// How many handle commands may wait for the swarm task.
const COMMAND_CAPACITY: usize = 4096;

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's libp2p identity (ed25519; `ValidatorKeys::network_keypair` gives one). It
    /// determines the peer id and signs published gossip.
    pub keypair: Keypair,
    /// The address to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen_addr: Multiaddr,
    /// Static peers to keep connected, each ending in `/p2p/<peer id>`. An entry naming the
    /// local peer id is skipped, so every node of a network can share one list.
    pub bootnodes: Vec<Multiaddr>,
    /// The chain id, part of every protocol and topic name.
    pub chain_id: u64,
    /// The largest gossip payload published or accepted; must fit a full block.
    pub max_gossip_bytes: usize,
    /// The largest sync request sent or accepted.
    pub max_request_bytes: usize,
    /// The largest sync response sent or accepted.
    pub max_response_bytes: usize,
    /// How long an outbound sync request may take, and how long an inbound one stays
    /// answerable.
    pub request_timeout: Duration,
    /// The capacity of the event channel to the node.
    pub event_capacity: usize,
    /// The most established connections, inbound and outbound together.
    pub max_connections: u32,
}

impl NetworkConfig {
    /// A configuration with the default limits.
    pub fn new(keypair: Keypair, listen_addr: Multiaddr, chain_id: u64) -> Self {
        Self {
            keypair,
            listen_addr,
            bootnodes: Vec::new(),
            chain_id,
            max_gossip_bytes: DEFAULT_MAX_GOSSIP_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A gossip topic. On the wire: `/parallax/<chain_id>/<name>/1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Transaction batches.
    Transactions,
    /// Block proposals.
    Proposals,
    /// Votes.
    Votes,
    /// Timeout messages.
    Timeouts,
    /// Bridge withdrawal attestations.
    Bridge,
}

impl Topic {
    /// All topics, each node subscribes to every one.
    pub const ALL: [Topic; 5] = [
        Topic::Transactions,
        Topic::Proposals,
        Topic::Votes,
        Topic::Timeouts,
        Topic::Bridge,
    ];

    /// The short name used in the topic string.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Transactions => "transactions",
            Topic::Proposals => "proposals",
            Topic::Votes => "votes",
            Topic::Timeouts => "timeouts",
            Topic::Bridge => "bridge",
        }
    }

    /// The full gossipsub topic string for `chain_id`.
    pub fn topic_string(self, chain_id: u64) -> String {
        format!("/parallax/{chain_id}/{}/1", self.name())
    }
}

/// The node's verdict on a gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Valid: forward it to the mesh.
    Accept,
    /// Invalid: drop it and penalise the peer that sent it.
    Reject,
    /// Not useful (stale, already known, cannot judge now): drop it without penalty.
    Ignore,
}

/// Identifies a received gossip message for [`NetworkHandle::report`]. Content addressed: equal
/// topic and bytes give the same id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageId(libp2p::gossipsub::MessageId);

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies an inbound sync request for [`NetworkHandle::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(libp2p::request_response::InboundRequestId);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossip message awaiting validation; answer with [`NetworkHandle::report`].
    Gossip {
        /// The topic it arrived on.
        topic: Topic,
        /// The peer that forwarded it to us (not necessarily its author); the one a `Reject`
        /// penalises.
        source: PeerId,
        /// The id to report with.
        message_id: MessageId,
        /// The payload, at most [`NetworkConfig::max_gossip_bytes`].
        data: Vec<u8>,
    },
    /// A sync request; answer with [`NetworkHandle::respond`].
    SyncRequest {
        /// The requesting peer.
        peer: PeerId,
        /// The id to respond with.
        id: RequestId,
        /// The request, at most [`NetworkConfig::max_request_bytes`].
        data: Vec<u8>,
    },
    /// The first connection to a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
}

/// Whether we dialled a connection or accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The remote dialled us.
    Inbound,
    /// We dialled the remote.
    Outbound,
}

/// A connected peer, as [`NetworkHandle::peers`] reports it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer id.
    pub peer: PeerId,
    /// The remote addresses of its open connections.
    pub addresses: Vec<Multiaddr>,
    /// The direction of its oldest open connection.
    pub direction: Direction,
    /// When its first open connection was established.
    pub connected_since: Instant,
}

/// A snapshot of the network's counters (monotonic since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Gossip messages received and handed to the node.
    pub gossip_received: u64,
    /// Gossip messages the node rejected, plus oversized ones rejected here.
    pub gossip_rejected: u64,
    /// Gossip messages the node reported as `Ignore`.
    pub gossip_ignored: u64,
    /// Events dropped because the node's event channel was full.
    pub events_dropped: u64,
    /// Inbound sync requests dropped for exceeding the request limit.
    pub oversized_requests: u64,
    /// Inbound sync requests dropped because too many were pending.
    pub requests_shed: u64,
    /// Outbound sync requests that failed (timeout, oversized response, connection, ...).
    pub failed_requests: u64,
    /// Failed dials.
    pub dial_failures: u64,
    /// `report`/`respond` calls dropped because the command channel was full.
    pub commands_dropped: u64,
    /// Peers connected now (not monotonic).
    pub peers: u64,
}

/// The live counters behind [`NetworkStats`].
#[derive(Debug, Default)]
struct Counters {
    gossip_received: AtomicU64,
    gossip_rejected: AtomicU64,
    gossip_ignored: AtomicU64,
    events_dropped: AtomicU64,
    oversized_requests: AtomicU64,
    requests_shed: AtomicU64,
    failed_requests: AtomicU64,
    dial_failures: AtomicU64,
    commands_dropped: AtomicU64,
    /// Peers connected now, set by the swarm task on every connect and disconnect.
    peers: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> NetworkStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NetworkStats {
            gossip_received: get(&self.gossip_received),
            gossip_rejected: get(&self.gossip_rejected),
            gossip_ignored: get(&self.gossip_ignored),
            events_dropped: get(&self.events_dropped),
            oversized_requests: get(&self.oversized_requests),
            requests_shed: get(&self.requests_shed),
            failed_requests: get(&self.failed_requests),
            dial_failures: get(&self.dial_failures),
            commands_dropped: get(&self.commands_dropped),
            peers: get(&self.peers),
        }
    }
}

/// The network's Prometheus metrics ([`Collector`]): connected peers and what happened to
/// gossip messages. [`NetworkMetrics::detached`] reports a node without networking (no peers,
/// nothing gossiped), so the series exist on every node.
#[derive(Debug, Clone, Default)]
pub struct NetworkMetrics(Option<Arc<Counters>>);

impl NetworkMetrics {
    /// The metrics of a node that does not network.
    pub fn detached() -> Self {
        Self(None)
    }
}

impl Collector for NetworkMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let n = self.0.as_ref().map(|c| c.snapshot()).unwrap_or_default();
        encoder
            .encode_descriptor(
                "parallax_peers",
                "Connected libp2p peers.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&n.peers)?;
        let mut gossip = encoder.encode_descriptor(
            "parallax_gossip_messages",
            "Gossip messages by what happened to them: received (handed to the node), \
             rejected (invalid or oversized, sender penalised), ignored (dropped without \
             penalty), dropped (the node's event queue was full).",
            None,
            MetricType::Counter,
        )?;
        for (outcome, v) in [
            ("received", n.gossip_received),
            ("rejected", n.gossip_rejected),
            ("ignored", n.gossip_ignored),
            ("dropped", n.events_dropped),
        ] {
            gossip
                .encode_family(&[("outcome", outcome)])?
                .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
        }
        Ok(())
    }
}

/// Errors of the network layer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The configuration is unusable.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// A bootnode address lacks its `/p2p/<peer id>` suffix.
    #[error("bootnode address {0} does not end in /p2p/<peer id>")]
    InvalidBootnode(Multiaddr),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// No peer is subscribed to the topic yet. Benign: the message was not sent, nobody
    /// would have received it.
    #[error("no peer is subscribed to the topic yet")]
    NoPeersSubscribed,
    /// These bytes were already published or received on this topic. Benign.
    #[error("message already published or received")]
    Duplicate,
    /// A gossip payload above [`NetworkConfig::max_gossip_bytes`].
    #[error("gossip message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Gossipsub refused to publish for another reason.
    #[error("publish failed: {0}")]
    Publish(String),
    /// A sync request above [`NetworkConfig::max_request_bytes`]; it was not sent.
    #[error("sync request of {size} bytes exceeds the limit of {limit} bytes")]
    RequestTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer's response exceeded [`NetworkConfig::max_response_bytes`]; it was not read.
    #[error("response from {peer} exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The responding peer.
        peer: PeerId,
        /// The limit.
        limit: usize,
    },
    /// No response within [`NetworkConfig::request_timeout`].
    #[error("sync request to {peer} timed out")]
    Timeout {
        /// The peer.
        peer: PeerId,
    },
    /// The request failed otherwise (dial, connection closed, protocol unsupported, I/O).
    #[error("sync request to {peer} failed: {reason}")]
    RequestFailed {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// The swarm task has ended.
    #[error("the network has shut down")]
    Shutdown,
}

impl NetworkError {
    /// Whether the error is an expected outcome rather than a fault: publishing before any peer
    /// subscribed, or publishing bytes the network already has.
    pub fn is_benign(&self) -> bool {
        matches!(self, Self::NoPeersSubscribed | Self::Duplicate)
    }
}

/// A request from a handle to the swarm task.
enum Command {
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Report {
        message_id: MessageId,
        source: PeerId,
        validation: Validation,
    },
    Request {
        peer: PeerId,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    },
    Respond {
        id: RequestId,
        data: Vec<u8>,
    },
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Shutdown(oneshot::Sender<()>),
}

/// A cheap, cloneable handle to the running network.
#[derive(Clone)]
pub struct NetworkHandle {
    local_peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    max_gossip_bytes: usize,
    max_request_bytes: usize,
    request_timeout: Duration,
}

impl fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("local_peer_id", &self.local_peer_id)
            .finish_non_exhaustive()
    }
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The addresses actually bound (after `/tcp/0`, the real port); append
    /// `/p2p/<local peer id>` to use one as a bootnode. Empty once shut down.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(Command::ListenAddrs).await.unwrap_or_default()
    }

    /// Publishes `data` on `topic` to every subscribed peer.
    ///
    /// [`NetworkError::NoPeersSubscribed`] and [`NetworkError::Duplicate`] are benign
    /// ([`NetworkError::is_benign`]).
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError> {
        if data.len() > self.max_gossip_bytes {
            return Err(NetworkError::MessageTooLarge {
                size: data.len(),
                limit: self.max_gossip_bytes,
            });
        }
        self.ask(|reply| Command::Publish { topic, data, reply })
            .await
            .unwrap_or(Err(NetworkError::Shutdown))
    }

    /// Reports the node's verdict on a [`NetworkEvent::Gossip`]. Non-blocking: if the command
    /// channel is full the report is dropped (counted in [`NetworkStats::commands_dropped`])
    /// and the message simply expires unforwarded.
    pub fn report(&self, message_id: MessageId, source: PeerId, validation: Validation) {
        self.tell(Command::Report {
            message_id,
            source,
            validation,
        });
    }

    /// Sends a sync request to `peer` (dialling it if needed and its address is known) and
    /// waits for the response, at most [`NetworkConfig::request_timeout`].
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetworkError> {
        if data.len() > self.max_request_bytes {
            return Err(NetworkError::RequestTooLarge {
                size: data.len(),
                limit: self.max_request_bytes,
            });
        }
        let answer = self.ask(|reply| Command::Request { peer, data, reply });
        // The protocol enforces the timeout; this is the backstop should its event be lost.
        match tokio::time::timeout(self.request_timeout + Duration::from_secs(1), answer).await {
            Ok(Some(result)) => result,
            Ok(None) => Err(NetworkError::Shutdown),
            Err(_) => Err(NetworkError::Timeout { peer }),
        }
    }

    /// Answers an inbound [`NetworkEvent::SyncRequest`]. Non-blocking; a response above
    /// [`NetworkConfig::max_response_bytes`], to a request that timed out, or that finds the
    /// command channel full, is dropped and the requester times out.
    pub fn respond(&self, id: RequestId, data: Vec<u8>) {
        self.tell(Command::Respond { id, data });
    }

    /// The connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(Command::Peers).await.unwrap_or_default()
    }

    /// The counters so far.
    pub fn stats(&self) -> NetworkStats {
        self.counters.snapshot()
    }

    /// The network's Prometheus metrics, read from the live counters at each scrape.
    pub fn metrics(&self) -> NetworkMetrics {
        NetworkMetrics(Some(self.counters.clone()))
    }

    /// Stops the swarm task and waits until it has closed its listener and connections.
    /// Idempotent; every handle then answers [`NetworkError::Shutdown`]. Dropping every handle
    /// also stops the task.
    pub async fn shutdown(&self) {
        let _ = self.ask(Command::Shutdown).await;
    }

    /// Sends a command carrying a reply channel and awaits the reply; `None` once shut down.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    /// Sends a command without waiting; counts it if the channel is full.
    fn tell(&self, command: Command) {
        match self.commands.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                Counters::bump(&self.counters.commands_dropped);
                tracing::warn!("network command channel full, command dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!("network shut down, command dropped");
            }
        }
    }
}

/// Starts the network: binds the listen address, dials the bootnodes and spawns the swarm task
/// on the current tokio runtime. Returns the handle and the node's event receiver.
pub async fn start(
    config: NetworkConfig,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    if config.event_capacity == 0 {
        return Err(NetworkError::Config(
            "event_capacity must be positive".into(),
        ));
    }
    if config.request_timeout.is_zero() {
        return Err(NetworkError::Config(
            "request_timeout must be positive".into(),
        ));
    }
    if config.max_gossip_bytes == 0 || config.max_request_bytes == 0 {
        return Err(NetworkError::Config(
            "max_gossip_bytes and max_request_bytes must be positive".into(),
        ));
    }
    let counters = Arc::new(Counters::default());
    let (commands, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (events, event_rx) = mpsc::channel(config.event_capacity);
    let handle = NetworkHandle {
        local_peer_id: config.keypair.public().to_peer_id(),
        commands,
        counters: counters.clone(),
        max_gossip_bytes: config.max_gossip_bytes,
        max_request_bytes: config.max_request_bytes,
        request_timeout: config.request_timeout,
    };
    let task = task::SwarmTask::new(&config, events, counters).await?;
    tokio::spawn(task.run(command_rx));
    Ok((handle, event_rx))
}
