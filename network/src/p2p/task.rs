//! The swarm task: builds the libp2p swarm and runs its event loop, serving handle commands,
//! delivering events to the node and redialling bootnodes.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    StreamProtocol, Swarm, connection_limits,
    gossipsub::{self, IdentTopic, MessageAcceptance, PublishError, TopicHash},
    identify,
    multiaddr::Protocol,
    noise, ping,
    request_response::{self, InboundRequestId, OutboundRequestId, ProtocolSupport},
    swarm::{
        ConnectionId, DialError, NetworkBehaviour, SwarmEvent,
        dial_opts::{DialOpts, PeerCondition},
    },
    tcp, yamux,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::{
    Command, Counters, Direction, MessageId, NetworkConfig, NetworkError, NetworkEvent, PeerInfo,
    RequestId, Topic, Validation,
    codec::{SyncCodec, is_frame_too_large},
};

/// Connections are kept this long without traffic, so a quiet chain keeps its peers.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);
/// The first bootnode redial delay.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest bootnode redial delay: short, because a validator that cannot reach the others
/// for a while (a partition) must be back within a round or two of it healing.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often each connection is pinged, and how long an answer may take before the
/// connection counts as dead and is closed. A partition that drops packets leaves TCP
/// retrying with a backoff that grows to minutes; closing the connection and redialling
/// brings the peer back as soon as the network does.
const PING_INTERVAL: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How often redials fall due and stale response channels are swept.
const TICK: Duration = Duration::from_millis(100);
/// The gossipsub heartbeat (mesh maintenance, lazy gossip).
const HEARTBEAT: Duration = Duration::from_millis(700);
/// Room for the gossipsub envelope (topic, protobuf tags) on top of the payload limit.
const GOSSIP_ENVELOPE_BYTES: usize = 1024;
/// The most inbound sync requests awaiting the node's response at once.
const MAX_PENDING_INBOUND: usize = 1024;
/// Concurrent sync streams per connection.
const MAX_SYNC_STREAMS: usize = 32;
/// Gossipsub's per-connection send queue.
const GOSSIP_QUEUE_LEN: usize = 512;
/// Handshakes in progress at once.
const MAX_PENDING_CONNECTIONS: u32 = 32;

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// The redial state of one bootnode.
struct Bootnode {
    addr: libp2p::Multiaddr,
    backoff: Duration,
    next_dial: Option<Instant>,
}

/// A connected peer's open connections.
struct ConnectedPeer {
    connections: Vec<(ConnectionId, libp2p::Multiaddr, Direction)>,
    since: Instant,
}

/// Where an outbound sync request's outcome goes.
type ResponseReply = oneshot::Sender<Result<Vec<u8>, NetworkError>>;

/// The state owned by the swarm task.
pub(crate) struct SwarmTask {
    swarm: Swarm<Behaviour>,
    events: mpsc::Sender<NetworkEvent>,
    counters: Arc<Counters>,
    topics: HashMap<TopicHash, Topic>,
    topic_hashes: HashMap<Topic, TopicHash>,
    identify_version: String,
    max_gossip_bytes: usize,
    max_response_bytes: usize,
    bootnodes: HashMap<libp2p::PeerId, Bootnode>,
    peers: HashMap<libp2p::PeerId, ConnectedPeer>,
    pending_outbound: HashMap<OutboundRequestId, (libp2p::PeerId, ResponseReply)>,
    pending_inbound:
        HashMap<InboundRequestId, (libp2p::PeerId, request_response::ResponseChannel<Vec<u8>>)>,
}

/// The gossipsub configuration: anonymous messages with content-addressed ids, manual
/// validation, flood publishing and a mesh that works with one to four peers.
///
/// Messages carry no gossipsub author or signature: every payload authenticates itself
/// (consensus messages are signed by validator keys, transactions by their senders), and
/// penalties go to the peer that delivered a message, which the connection identifies. An
/// envelope signature would cost an ed25519 signature per published message and a
/// verification per received copy, duplicates included, for nothing the node relies on.
fn gossipsub_config(max_gossip_bytes: usize) -> Result<gossipsub::Config, NetworkError> {
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|message: &gossipsub::Message| {
            let mut hash = Sha256::new();
            hash.update(message.topic.as_str().as_bytes());
            hash.update([0u8]);
            hash.update(&message.data);
            gossipsub::MessageId::from(hash.finalize().to_vec())
        })
        .flood_publish(true)
        .max_transmit_size(max_gossip_bytes.saturating_add(GOSSIP_ENVELOPE_BYTES))
        .heartbeat_interval(HEARTBEAT)
        .mesh_outbound_min(1)
        .mesh_n_low(1)
        .mesh_n(4)
        .mesh_n_high(8)
        .gossip_lazy(4)
        .history_length(6)
        .history_gossip(3)
        .duplicate_cache_time(Duration::from_secs(120))
        .connection_handler_queue_len(GOSSIP_QUEUE_LEN)
        .build()
        .map_err(|error| NetworkError::Config(format!("gossipsub: {error}")))
}

/// Peer scoring: P4 (invalid messages) dominates, so a peer whose messages the node rejects
/// sinks below the graylist threshold after a few; the mesh-delivery penalty (P3) is off
/// because a quiet chain delivers nothing for long stretches.
fn peer_score(
    topics: &HashMap<Topic, TopicHash>,
) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0027,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 10.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // One rejected message: -20; three in quick succession: -180, below the graylist.
        invalid_message_deliveries_weight: -20.0,
        // Per second: a rejection weighs about a fifth after a minute.
        invalid_message_deliveries_decay: 0.97,
        ..Default::default()
    };
    let params = gossipsub::PeerScoreParams {
        topics: topics
            .values()
            .map(|hash| (hash.clone(), topic_params.clone()))
            .collect(),
        // Good behaviour cannot buy much credit for later bad behaviour.
        topic_score_cap: 20.0,
        // Local testnets run every node on one address.
        ip_colocation_factor_whitelist: [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -40.0,
        publish_threshold: -80.0,
        graylist_threshold: -160.0,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 5.0,
    };
    (params, thresholds)
}

impl SwarmTask {
    /// Builds the swarm, starts listening (waiting for the bound address) and dials the
    /// bootnodes.
    pub(crate) async fn new(
        config: &NetworkConfig,
        events: mpsc::Sender<NetworkEvent>,
        counters: Arc<Counters>,
    ) -> Result<Self, NetworkError> {
        let chain_id = config.chain_id;
        let local_peer_id = config.keypair.public().to_peer_id();

        let mut bootnodes = HashMap::new();
        for addr in &config.bootnodes {
            let Some(Protocol::P2p(peer)) = addr.iter().last() else {
                return Err(NetworkError::InvalidBootnode(addr.clone()));
            };
            if peer == local_peer_id {
                continue;
            }
            let dial_addr: libp2p::Multiaddr = addr
                .iter()
                .filter(|p| !matches!(p, Protocol::P2p(_)))
                .collect();
            bootnodes.insert(
                peer,
                Bootnode {
                    addr: dial_addr,
                    backoff: INITIAL_BACKOFF,
                    next_dial: Some(Instant::now()),
                },
            );
        }

        let topic_hashes: HashMap<Topic, TopicHash> = Topic::ALL
            .into_iter()
            .map(|topic| (topic, IdentTopic::new(topic.topic_string(chain_id)).hash()))
            .collect();
        let topics = topic_hashes
            .iter()
            .map(|(topic, hash)| (hash.clone(), *topic))
            .collect();

        let identify_version = format!("/parallax/{chain_id}/id/1");
        let sync_protocol = StreamProtocol::try_from_owned(format!("/parallax/{chain_id}/sync/1"))
            .map_err(|error| NetworkError::Config(format!("sync protocol name: {error}")))?;
        let gossip_config = gossipsub_config(config.max_gossip_bytes)?;
        let (score_params, score_thresholds) = peer_score(&topic_hashes);
        let codec = SyncCodec::new(
            config.max_request_bytes,
            config.max_response_bytes,
            counters.clone(),
        );
        let request_timeout = config.request_timeout;
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_connections))
            .with_max_pending_incoming(Some(MAX_PENDING_CONNECTIONS))
            .with_max_pending_outgoing(Some(MAX_PENDING_CONNECTIONS))
            .with_max_established_per_peer(Some(2));
        let identify_version_for_behaviour = identify_version.clone();

        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|error| NetworkError::Config(format!("noise: {error}")))?
            .with_behaviour(|key| {
                let mut gossipsub = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Anonymous,
                    gossip_config,
                )?;
                gossipsub.with_peer_score(score_params, score_thresholds)?;
                let identify = identify::Behaviour::new(
                    identify::Config::new(identify_version_for_behaviour, key.public())
                        .with_agent_version(format!("parallax/{}", env!("CARGO_PKG_VERSION"))),
                );
                let sync = request_response::Behaviour::with_codec(
                    codec,
                    [(sync_protocol, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(request_timeout)
                        .with_max_concurrent_streams(MAX_SYNC_STREAMS),
                );
                Ok(Behaviour {
                    limits: connection_limits::Behaviour::new(limits),
                    gossipsub,
                    identify,
                    ping: ping::Behaviour::new(
                        ping::Config::new()
                            .with_interval(PING_INTERVAL)
                            .with_timeout(PING_TIMEOUT),
                    ),
                    sync,
                })
            })
            .map_err(|error| NetworkError::Config(format!("behaviour: {error}")))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
            .build();

        for hash in topic_hashes.values() {
            let topic = IdentTopic::new(hash.as_str());
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(&topic)
                .map_err(|error| NetworkError::Config(format!("subscribe {hash}: {error}")))?;
        }
        for (peer, bootnode) in &bootnodes {
            swarm.add_peer_address(*peer, bootnode.addr.clone());
        }

        let listen_error = |reason: String| NetworkError::Listen {
            addr: config.listen_addr.clone(),
            reason,
        };
        let listener = swarm
            .listen_on(config.listen_addr.clone())
            .map_err(|error| listen_error(error.to_string()))?;
        // Wait for the bound address, so `listen_addrs` is right as soon as `start` returns.
        let bound = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        listener_id,
                        address,
                    } if listener_id == listener => return Ok(address),
                    SwarmEvent::ListenerClosed {
                        listener_id,
                        reason,
                        ..
                    } if listener_id == listener => {
                        return Err(format!("listener closed: {reason:?}"));
                    }
                    SwarmEvent::ListenerError { listener_id, error } if listener_id == listener => {
                        return Err(error.to_string());
                    }
                    _ => {}
                }
            }
        })
        .await
        .map_err(|_| listen_error("no address bound within 5 s".into()))?
        .map_err(listen_error)?;
        tracing::info!(peer = %local_peer_id, address = %bound, chain_id, "network listening");

        Ok(Self {
            swarm,
            events,
            counters,
            topics,
            topic_hashes,
            identify_version,
            max_gossip_bytes: config.max_gossip_bytes,
            max_response_bytes: config.max_response_bytes,
            bootnodes,
            peers: HashMap::new(),
            pending_outbound: HashMap::new(),
            pending_inbound: HashMap::new(),
        })
    }

    /// The event loop; ends on [`Command::Shutdown`] or when every handle is dropped.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ack = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = commands.recv() => match command {
                    Some(Command::Shutdown(ack)) => break Some(ack),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                _ = tick.tick() => self.on_tick(),
            }
        };
        let local = *self.swarm.local_peer_id();
        // Fail what is pending, then drop the swarm: that closes the listener and every
        // connection before the shutdown is acknowledged.
        for (_, (_, reply)) in self.pending_outbound.drain() {
            let _ = reply.send(Err(NetworkError::Shutdown));
        }
        drop(self);
        tracing::info!(peer = %local, "network shut down");
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let due: Vec<libp2p::PeerId> = self
            .bootnodes
            .iter()
            .filter(|(_, b)| b.next_dial.is_some_and(|at| at <= now))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            self.dial_bootnode(peer);
        }
        // Requests whose stream timed out or closed without an event reaching us.
        self.pending_inbound
            .retain(|_, (_, channel)| channel.is_open());
    }

    fn dial_bootnode(&mut self, peer: libp2p::PeerId) {
        let Some(bootnode) = self.bootnodes.get_mut(&peer) else {
            return;
        };
        bootnode.next_dial = None;
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![bootnode.addr.clone()])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        tracing::debug!(peer = %peer, address = %bootnode.addr, "dialling bootnode");
        match self.swarm.dial(opts) {
            Ok(()) => {}
            Err(DialError::DialPeerConditionFalse(_)) => {}
            Err(error) => {
                Counters::bump(&self.counters.dial_failures);
                tracing::warn!(peer = %peer, %error, "bootnode dial failed");
                self.schedule_redial(peer);
            }
        }
    }

    /// Schedules the next dial of a bootnode (if `peer` is one, disconnected, and none is
    /// scheduled) and doubles its backoff.
    fn schedule_redial(&mut self, peer: libp2p::PeerId) {
        if self.peers.contains_key(&peer) {
            return;
        }
        let Some(bootnode) = self.bootnodes.get_mut(&peer) else {
            return;
        };
        if bootnode.next_dial.is_some() {
            return;
        }
        bootnode.next_dial = Some(Instant::now() + bootnode.backoff);
        tracing::debug!(peer = %peer, delay_ms = bootnode.backoff.as_millis() as u64, "bootnode redial scheduled");
        bootnode.backoff = (bootnode.backoff * 2).min(MAX_BACKOFF);
    }

    /// Hands an event to the node without blocking; `false` (and counted) if the channel is
    /// full or closed.
    fn emit(&self, event: NetworkEvent) -> bool {
        let delivered = self.events.try_send(event).is_ok();
        if !delivered {
            Counters::bump(&self.counters.events_dropped);
        }
        delivered
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Publish { topic, data, reply } => {
                let hash = self.topic_hashes[&topic].clone();
                let size = data.len();
                let result = match self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
                    Ok(id) => {
                        tracing::trace!(topic = topic.name(), message_id = %id, "published");
                        Ok(())
                    }
                    Err(PublishError::NoPeersSubscribedToTopic) => {
                        Err(NetworkError::NoPeersSubscribed)
                    }
                    Err(PublishError::Duplicate) => Err(NetworkError::Duplicate),
                    Err(PublishError::MessageTooLarge) => Err(NetworkError::MessageTooLarge {
                        size,
                        limit: self.max_gossip_bytes,
                    }),
                    Err(error) => {
                        tracing::warn!(topic = topic.name(), %error, "publish failed");
                        Err(NetworkError::Publish(error.to_string()))
                    }
                };
                let _ = reply.send(result);
            }
            Command::Report {
                message_id,
                source,
                validation,
            } => self.report(&message_id.0, &source, validation),
            Command::Request { peer, data, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, data);
                self.pending_outbound.insert(id, (peer, reply));
            }
            Command::Respond { id, data } => {
                let Some((peer, channel)) = self.pending_inbound.remove(&id.0) else {
                    tracing::debug!(request = %id, "response to an unknown or expired request dropped");
                    return;
                };
                if data.len() > self.max_response_bytes {
                    tracing::warn!(peer = %peer, request = %id, size = data.len(), limit = self.max_response_bytes, "oversized response dropped");
                    return;
                }
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, data)
                    .is_err()
                {
                    tracing::debug!(peer = %peer, request = %id, "request expired before the response");
                }
            }
            Command::Peers(reply) => {
                let peers = self
                    .peers
                    .iter()
                    .map(|(peer, connected)| PeerInfo {
                        peer: *peer,
                        addresses: connected
                            .connections
                            .iter()
                            .map(|(_, a, _)| a.clone())
                            .collect(),
                        direction: connected
                            .connections
                            .first()
                            .map_or(Direction::Inbound, |c| c.2),
                        connected_since: connected.since,
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::Shutdown(_) => unreachable!("handled by the loop"),
        }
    }

    fn report(
        &mut self,
        id: &gossipsub::MessageId,
        source: &libp2p::PeerId,
        validation: Validation,
    ) {
        let acceptance = match validation {
            Validation::Accept => MessageAcceptance::Accept,
            Validation::Reject => {
                Counters::bump(&self.counters.gossip_rejected);
                tracing::debug!(peer = %source, message_id = %id, "gossip rejected");
                MessageAcceptance::Reject
            }
            Validation::Ignore => {
                Counters::bump(&self.counters.gossip_ignored);
                MessageAcceptance::Ignore
            }
        };
        if !self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance)
        {
            tracing::debug!(peer = %source, message_id = %id, "validated message no longer cached");
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.protocol_version != self.identify_version {
                    tracing::warn!(peer = %peer_id, theirs = %info.protocol_version, ours = %self.identify_version, "peer on another chain, disconnecting");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                } else {
                    tracing::debug!(peer = %peer_id, agent = %info.agent_version, "peer identified");
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error),
            })) => {
                tracing::debug!(%peer, %error, "ping failed, closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let direction = if endpoint.is_dialer() {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                };
                let address = endpoint.get_remote_address().clone();
                tracing::debug!(peer = %peer_id, %address, ?direction, "connection established");
                let entry = self.peers.entry(peer_id).or_insert_with(|| ConnectedPeer {
                    connections: Vec::new(),
                    since: Instant::now(),
                });
                entry.connections.push((connection_id, address, direction));
                self.counters.peers.store(
                    self.peers.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if let Some(bootnode) = self.bootnodes.get_mut(&peer_id) {
                    bootnode.backoff = INITIAL_BACKOFF;
                    bootnode.next_dial = None;
                }
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, "peer connected");
                    if !self.emit(NetworkEvent::PeerConnected { peer: peer_id }) {
                        tracing::warn!(peer = %peer_id, "node lagging, PeerConnected dropped");
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                if let Some(entry) = self.peers.get_mut(&peer_id) {
                    entry.connections.retain(|(id, _, _)| *id != connection_id);
                }
                tracing::debug!(peer = %peer_id, cause = ?cause, "connection closed");
                if num_established == 0 {
                    self.peers.remove(&peer_id);
                    self.counters.peers.store(
                        self.peers.len() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    if !self.emit(NetworkEvent::PeerDisconnected { peer: peer_id }) {
                        tracing::warn!(peer = %peer_id, "node lagging, PeerDisconnected dropped");
                    }
                    self.schedule_redial(peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                Counters::bump(&self.counters.dial_failures);
                match peer_id {
                    Some(peer) => {
                        tracing::debug!(peer = %peer, %error, "dial failed");
                        self.schedule_redial(peer);
                    }
                    None => tracing::debug!(%error, "dial failed"),
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::debug!(address = %send_back_addr, %error, "incoming connection failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let Some(topic) = self.topics.get(&message.topic).copied() else {
                    tracing::debug!(peer = %propagation_source, topic = %message.topic, "gossip on an unknown topic");
                    self.report(&message_id, &propagation_source, Validation::Ignore);
                    return;
                };
                if message.data.len() > self.max_gossip_bytes {
                    tracing::debug!(peer = %propagation_source, size = message.data.len(), "oversized gossip");
                    self.report(&message_id, &propagation_source, Validation::Reject);
                    return;
                }
                Counters::bump(&self.counters.gossip_received);
                let event = NetworkEvent::Gossip {
                    topic,
                    source: propagation_source,
                    message_id: MessageId(message_id.clone()),
                    data: message.data,
                };
                if !self.emit(event) {
                    tracing::warn!(peer = %propagation_source, topic = topic.name(), "node lagging, gossip dropped");
                    // Not counted as the node's Ignore: `events_dropped` has it.
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Ignore,
                        );
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                tracing::debug!(peer = %peer_id, %topic, "peer subscribed");
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                tracing::debug!(peer = %peer_id, %topic, "peer unsubscribed");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::warn!(peer = %peer_id, ?failed_messages, "slow gossip peer");
            }
        }
    }

    fn on_sync(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request_id,
                    request,
                    channel,
                } => {
                    if self.pending_inbound.len() >= MAX_PENDING_INBOUND {
                        Counters::bump(&self.counters.requests_shed);
                        tracing::warn!(peer = %peer, "too many pending sync requests, request dropped");
                        return;
                    }
                    let event = NetworkEvent::SyncRequest {
                        peer,
                        id: RequestId(request_id),
                        data: request,
                    };
                    if self.emit(event) {
                        self.pending_inbound.insert(request_id, (peer, channel));
                    } else {
                        tracing::warn!(peer = %peer, "node lagging, sync request dropped");
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((_, reply)) = self.pending_outbound.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                Counters::bump(&self.counters.failed_requests);
                tracing::debug!(peer = %peer, %error, "sync request failed");
                let error = match error {
                    request_response::OutboundFailure::Timeout => NetworkError::Timeout { peer },
                    request_response::OutboundFailure::Io(error) if is_frame_too_large(&error) => {
                        NetworkError::ResponseTooLarge {
                            peer,
                            limit: self.max_response_bytes,
                        }
                    }
                    error => NetworkError::RequestFailed {
                        peer,
                        reason: error.to_string(),
                    },
                };
                if let Some((_, reply)) = self.pending_outbound.remove(&request_id) {
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.pending_inbound.remove(&request_id);
                // Unreadable (e.g. oversized) requests raise no event; the codec counts them.
                tracing::debug!(peer = %peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}
