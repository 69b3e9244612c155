//! Parallax's network: how a node reaches its peers, and what its messages look like on the
//! wire.
//!
//! - [`p2p`]: libp2p (TCP, noise, yamux), gossipsub for the broadcast topics and
//!   request-response for block sync. Bytes-level: it bounds what a peer sends (frames, queues,
//!   pending requests) and knows nothing of what the bytes mean. Its types are re-exported
//!   here.
//! - [`wire`]: the exact conversions between consensus messages, block payloads, committed
//!   blocks, sync requests and transaction batches and the protobufs of `parallax-proto`.
//!   Decoding checks form, never authority: signatures are for `parallax-consensus` to judge.
//!
//! The two meet only in the node, which decodes what [`p2p`] hands it with [`wire`] and reports
//! back whether to forward it. This crate executes nothing and decides nothing about blocks.

pub mod p2p;
pub mod wire;

pub use p2p::{
    DEFAULT_EVENT_CAPACITY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_GOSSIP_BYTES,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT, Direction,
    Keypair, MessageId, Multiaddr, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle,
    NetworkMetrics, NetworkStats, PeerId, PeerInfo, RequestId, Topic, Validation, start,
};
