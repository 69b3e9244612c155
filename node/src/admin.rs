//! The gRPC admin service (`parallax.v1.Admin`, generated from `proto/`): node status,
//! peers, validator set, consensus state and equivocation evidence, answered from the counters the node's parts
//! publish ([`Shared`]), the network handle, the genesis validator set and the database.
//!
//! The service is read-only: nothing it answers changes the node. It is bounded: requests
//! over [`MAX_REQUEST_BYTES`] are refused while decoding (request messages are a few bytes),
//! at most [`MAX_CONNECTIONS`] connections are served at once (more are closed on accept),
//! each with at most [`MAX_STREAMS`] calls in flight, and a call that takes longer than
//! [`CALL_TIMEOUT`] is cancelled. Bytes that are not HTTP/2 close their connection.

use crate::server::{Running, accept_bounded};
use libp2p::PeerId;
use parallax_chain::ChainSpec;
use parallax_engine::state::Shared;
use parallax_network::{Direction, NetworkHandle};
use parallax_proto::v1::{
    self,
    admin_server::{Admin, AdminServer as GrpcAdminServer},
};
use parallax_rpc::limited::{self, LimitedStream};
use parallax_storage::Database;
use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tonic::{Request, Response, Status, transport::server::Connected};
use tracing::info;

/// Largest request message accepted (the requests are empty, or carry one small integer).
pub const MAX_REQUEST_BYTES: usize = 1024;
/// Most admin connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Most calls in flight on one connection.
pub const MAX_STREAMS: u32 = 8;
/// Longest a call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an admin connection may stay silent (see [`parallax_rpc::limited`]).
const ADMIN_TIMEOUTS: limited::Timeouts = limited::Timeouts {
    first_byte: Duration::from_secs(10),
    idle: Duration::from_secs(120),
};

/// What the admin service answers from.
#[derive(Clone)]
pub(crate) struct AdminContext {
    pub(crate) name: String,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) db: Arc<Database>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) net: Option<NetworkHandle>,
    pub(crate) validator: Option<u32>,
    /// The peer id of this node's network key (also when it runs without networking).
    pub(crate) peer_id: PeerId,
    /// The node's long-running parts, for their health.
    pub(crate) parts: crate::parts::Parts,
}

impl AdminContext {
    fn validator_of(&self, peer: &PeerId) -> Option<u32> {
        self.spec
            .validators
            .iter()
            .position(|v| v.peer_id == *peer)
            .map(|i| i as u32)
    }

    /// The committed head's number and hash, from one database snapshot.
    fn head(&self) -> Result<(u64, Vec<u8>), Status> {
        let reader = self
            .db
            .reader()
            .map_err(|e| Status::internal(format!("database: {e}")))?;
        let number = reader
            .head_number()
            .map_err(|e| Status::internal(format!("database: {e}")))?
            .unwrap_or(0);
        let hash = reader
            .canonical_hash(number)
            .map_err(|e| Status::internal(format!("database: {e}")))?
            .map(|h| h.to_vec())
            .unwrap_or_default();
        Ok((number, hash))
    }
}

#[tonic::async_trait]
impl Admin for AdminContext {
    async fn get_status(
        &self,
        _: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::NodeStatus>, Status> {
        let s = &self.shared;
        let (head_height, head_hash) = self.head()?;
        let peers = match &self.net {
            Some(net) => net.peers().await.len() as u32,
            None => 0,
        };
        Ok(Response::new(v1::NodeStatus {
            chain_id: self.spec.chain_id,
            node_name: self.name.clone(),
            peer_id: self.peer_id.to_string(),
            validator_index: self.validator,
            head_height,
            head_hash,
            committed_round: s.consensus.committed_round.load(Ordering::Relaxed),
            current_round: s.consensus.round.load(Ordering::Relaxed),
            peers,
            mempool_size: s.transactions.mempool_size.load(Ordering::Relaxed),
            syncing: s.chain.syncing.load(Ordering::Relaxed),
            version: env!("CARGO_PKG_VERSION").to_string(),
            parts: self
                .parts
                .health()
                .into_iter()
                .map(|h| v1::PartHealth {
                    name: h.part.to_owned(),
                    running: h.running,
                    error: h.error,
                })
                .collect(),
        }))
    }

    async fn get_peers(
        &self,
        _: Request<v1::PeersRequest>,
    ) -> Result<Response<v1::PeersResponse>, Status> {
        let peers = match &self.net {
            Some(net) => net.peers().await,
            None => Vec::new(),
        };
        let peers = peers
            .into_iter()
            .map(|p| v1::Peer {
                peer_id: p.peer.to_string(),
                addresses: p.addresses.iter().map(ToString::to_string).collect(),
                validator_index: self.validator_of(&p.peer),
                direction: match p.direction {
                    Direction::Inbound => v1::peer::Direction::Inbound,
                    Direction::Outbound => v1::peer::Direction::Outbound,
                } as i32,
                connected_seconds: p.connected_since.elapsed().as_secs(),
            })
            .collect();
        Ok(Response::new(v1::PeersResponse { peers }))
    }

    async fn get_validators(
        &self,
        _: Request<v1::ValidatorsRequest>,
    ) -> Result<Response<v1::ValidatorSet>, Status> {
        let validators: Vec<_> = self
            .spec
            .validators
            .iter()
            .map(|v| v1::ValidatorInfo {
                name: v.name.clone(),
                consensus_key: v.consensus_key.to_bytes().to_vec(),
                bridge_address: v.bridge_address.to_vec(),
                voting_power: v.voting_power,
                peer_id: v.peer_id.to_string(),
            })
            .collect();
        let total_voting_power = self
            .spec
            .validators
            .iter()
            .map(|v| v.voting_power)
            .fold(0, u64::saturating_add);
        Ok(Response::new(v1::ValidatorSet {
            validators,
            total_voting_power,
        }))
    }

    async fn get_consensus_state(
        &self,
        _: Request<v1::ConsensusStateRequest>,
    ) -> Result<Response<v1::ConsensusState>, Status> {
        if self.validator.is_none() {
            return Err(Status::failed_precondition(
                "this node is not a validator: it runs no consensus state machine",
            ));
        }
        let s = &self.shared;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Ok(Response::new(v1::ConsensusState {
            current_round: load(&s.consensus.round),
            highest_qc_round: load(&s.consensus.highest_qc_round),
            locked_round: load(&s.consensus.locked_round),
            last_voted_round: load(&s.consensus.last_voted_round),
            highest_tc_round: load(&s.consensus.highest_tc_round),
            current_leader: u32::try_from(load(&s.consensus.leader)).unwrap_or(u32::MAX),
            round_timeout_ms: load(&s.consensus.round_timeout_ms),
            signing_floor: load(&s.consensus.signing_floor),
        }))
    }

    async fn get_evidence(
        &self,
        request: Request<v1::EvidenceRequest>,
    ) -> Result<Response<v1::EvidenceList>, Status> {
        let validator = request.into_inner().validator;
        let reader = self
            .db
            .reader()
            .map_err(|e| Status::internal(format!("database: {e}")))?;
        let found = parallax_engine::store::stored_evidence(
            &reader,
            validator,
            parallax_rpc::MAX_EVIDENCE_RESULTS,
        )
        .map_err(|e| Status::internal(e.to_string()))?;
        let evidence = found
            .iter()
            .map(|e| v1::EvidenceRecord {
                id: e.id().0.to_vec(),
                evidence: Some(parallax_consensus::wire::evidence_to_proto(e)),
                encoded: e.encode(),
            })
            .collect();
        Ok(Response::new(v1::EvidenceList { evidence }))
    }
}

/// A running admin server.
pub(crate) struct AdminServer(Running);

impl AdminServer {
    /// Binds `addr` and serves the admin service.
    pub(crate) async fn start(addr: SocketAddr, ctx: AdminContext) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let incoming = futures::stream::unfold((listener, permits), |(listener, permits)| async {
            let (conn, _) = accept_bounded(&listener, &permits, ADMIN_TIMEOUTS, "admin").await;
            Some((
                Ok::<_, std::io::Error>(AdminConn(conn)),
                (listener, permits),
            ))
        });
        let service = GrpcAdminServer::new(ctx).max_decoding_message_size(MAX_REQUEST_BYTES);
        let running = Running::spawn(addr, |stopped| async move {
            let served = tonic::transport::Server::builder()
                .timeout(CALL_TIMEOUT)
                .concurrency_limit_per_connection(MAX_STREAMS as usize)
                .max_concurrent_streams(MAX_STREAMS)
                .http2_max_header_list_size(16 * 1024)
                .tcp_nodelay(true)
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "gRPC admin server failed");
            }
        });
        info!(%addr, "gRPC admin listening");
        Ok(Self(running))
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// Stops serving: open connections finish their calls (at most two seconds).
    pub(crate) async fn stop(self) {
        self.0.stop().await;
    }
}

/// An admin connection: a [`LimitedStream`] that tonic can ask for its peer's address.
struct AdminConn(LimitedStream);

impl Connected for AdminConn {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.tcp().connect_info()
    }
}

impl tokio::io::AsyncRead for AdminConn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for AdminConn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// `ADDR` as the admin client takes it: `host:port` or `http://host:port`.
pub fn endpoint_url(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err("empty gRPC address".into());
    }
    if let Some(rest) = addr.strip_prefix("https://") {
        return Err(format!(
            "https://{rest}: the admin service speaks plain HTTP/2 (use http:// or host:port)"
        ));
    }
    let url = if addr.starts_with("http://") {
        addr.to_string()
    } else if addr.contains("://") {
        return Err(format!("{addr}: expected host:port or http://host:port"));
    } else {
        format!("http://{addr}")
    };
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    if authority.is_empty() || !authority.contains(':') || authority.contains('/') {
        return Err(format!("{addr}: expected host:port or http://host:port"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::endpoint_url;

    #[test]
    fn addresses_take_both_forms() {
        assert_eq!(
            endpoint_url("127.0.0.1:9090").unwrap(),
            "http://127.0.0.1:9090"
        );
        assert_eq!(
            endpoint_url("http://localhost:9090").unwrap(),
            "http://localhost:9090"
        );
        assert_eq!(endpoint_url("[::1]:9090").unwrap(), "http://[::1]:9090");
        assert!(endpoint_url("https://x:1").is_err());
        assert!(endpoint_url("ftp://x:1").is_err());
        assert!(endpoint_url("localhost").is_err());
        assert!(endpoint_url("").is_err());
        assert!(endpoint_url("http://x:1/path").is_err());
    }
}
