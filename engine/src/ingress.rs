//! What the network delivers, decoded and routed ([`Ingress`]): consensus messages to the
//! driver (relayed ones only with their author's valid signature), transaction batches to the
//! transaction thread, withdrawal attestations to the relayer; and the evidence it learns
//! ([`record_evidence`]).

use crate::store;
use crate::{input::Input, relay_limit, state::Shared, sync};
use alloy_primitives::Address;
use libp2p::PeerId;
use parallax_chain::ChainSpec;
use parallax_consensus::{Evidence, EvidenceKind, Message, ValidatorSet};
use parallax_network::{self as network, NetworkEvent, NetworkHandle, Topic, Validation, wire};
use parallax_storage::Database;
use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering, mpsc::SyncSender},
};
use tracing::{debug, error, warn};

/// Keeps verified equivocation evidence: stored (bounded per culprit), counted by kind, and
/// logged. A storage failure is logged and counted, never fatal: evidence is for operators and
/// for a later slashing rule, not for safety.
/// Returns `false` when this node already held evidence of that validator, round and kind.
pub fn record_evidence(db: &Database, shared: &Shared, evidence: &Evidence) -> bool {
    let kind = evidence.kind();
    match store::store_evidence(db, evidence) {
        Ok(store::StoredEvidence::New) => {
            let i = EvidenceKind::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0);
            shared.consensus.evidence[i].fetch_add(1, Ordering::Relaxed);
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
            shared
                .consensus
                .evidence_unstored
                .fetch_add(1, Ordering::Relaxed);
            debug!(
                culprit = evidence.culprit(),
                round = evidence.round(),
                "evidence not stored: the validator has the most kept"
            );
        }
        Err(e) => {
            shared
                .consensus
                .evidence_unstored
                .fetch_add(1, Ordering::Relaxed);
            warn!(culprit = evidence.culprit(), error = %e, "storing evidence failed");
        }
    }
    true
}

/// Decodes and routes what the network delivers.
pub struct Ingress {
    /// Gossiped transaction batches, on their way to the
    /// [`TxIngress`](crate::transactions::TxIngress) thread.
    pub tx_work: std::sync::mpsc::SyncSender<(network::MessageId, PeerId, Vec<u8>)>,
    /// The network it reads from and publishes on.
    pub net: NetworkHandle,
    /// The database (read through snapshots).
    pub db: Arc<Database>,
    /// The chain's rules.
    pub spec: Arc<ChainSpec>,
    /// The consensus driver's input queue.
    pub inputs: SyncSender<Input>,
    /// What the parts publish for RPC, admin and metrics.
    pub shared: Arc<Shared>,
    /// This node's validator index, when it is one.
    pub me: Option<u32>,
    /// The validator each genesis peer id belongs to.
    pub peer_validators: HashMap<PeerId, u32>,
    /// The genesis validator set signatures are checked against.
    pub validators: ValidatorSet,
    /// Where verified withdrawal attestations go; `None` when the chain has no L1 bridge.
    pub bridge: Option<BridgeIngress>,
    /// How often each relayed consensus message was forwarded.
    pub relay_limit: relay_limit::RelayLimit,
}

/// What the ingress needs to check withdrawal attestations.
pub struct BridgeIngress {
    /// The EIP-712 domain attestations are signed in.
    pub domain: parallax_bridge::attest::BridgeDomain,
    /// The validators' bridge addresses, by validator index.
    pub addresses: Vec<Address>,
    /// Where verified attestations go (the relayer).
    pub sender: tokio::sync::mpsc::Sender<parallax_bridge::relay::Attestation>,
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
                self.shared
                    .ingress
                    .malformed_gossip
                    .fetch_add(1, Ordering::Relaxed);
                return Validation::Reject;
            }
            Err(e) => {
                self.shared
                    .ingress
                    .malformed_gossip
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%source, error = %e, "malformed withdrawal attestation");
                return Validation::Reject;
            }
        };
        match parallax_bridge::relay::verify_attestation(&bridge.domain, &bridge.addresses, &a) {
            Ok(a) => {
                if bridge.sender.try_send(a).is_err() {
                    self.shared
                        .ingress
                        .attestations_shed
                        .fetch_add(1, Ordering::Relaxed);
                    return Validation::Ignore;
                }
                Validation::Accept
            }
            Err(reason) => {
                self.shared
                    .ingress
                    .forged_relays
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%source, %reason, "forged withdrawal attestation");
                Validation::Reject
            }
        }
    }

    /// Handles network events until the network stops.
    pub async fn run(mut self, mut events: tokio::sync::mpsc::Receiver<NetworkEvent>) {
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
                                    self.shared
                                        .transactions
                                        .tx_batches_shed
                                        .fetch_add(1, Ordering::Relaxed);
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
                    tokio::task::spawn_blocking(move || {
                        let response = match db.reader() {
                            Ok(reader) => sync::serve(&reader, &data),
                            Err(e) => sync::refuse(wire::SyncErrorCode::Internal, e.to_string()),
                        };
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
                self.shared
                    .ingress
                    .malformed_gossip
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%source, error = %e, reason = e.reason(), "malformed consensus message");
                return Some(Validation::Reject);
            }
        };
        if envelope.chain_id != self.spec.chain_id {
            self.shared
                .ingress
                .malformed_gossip
                .fetch_add(1, Ordering::Relaxed);
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
                self.shared
                    .ingress
                    .forged_relays
                    .fetch_add(1, Ordering::Relaxed);
                return Some(Validation::Reject);
            }
            // Numbered copies of one message: forwarded again only after a while.
            if !self.relay_limit.admit(
                envelope.recipient,
                &envelope.message,
                std::time::Instant::now(),
            ) {
                self.shared
                    .ingress
                    .relay_repeats
                    .fetch_add(1, Ordering::Relaxed);
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
