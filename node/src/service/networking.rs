//! The node's peer-to-peer side: the libp2p network and the engine's parts that read and write
//! it (gossip ingress, transaction admission and gossip, block sync), started together as
//! parts of the node and stopped with it.

use super::{Core, NodeError, NodeOptions};
use crate::parts::Parts;
use alloy_primitives::Bytes;
use libp2p::PeerId;
use parallax_engine::{
    driver::Validator,
    ingress::{BridgeIngress, Ingress},
    sync,
    transactions::{TX_GOSSIP_QUEUE, TX_INGRESS_QUEUE, TxIngress, gossip_transactions},
};
use parallax_network::{self as network, NetworkConfig, NetworkHandle};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// A networked node's peer-to-peer parts.
pub(super) struct Networking {
    /// The network.
    pub(super) net: NetworkHandle,
    /// Transactions this node admitted from RPC, on their way to gossip in batches.
    pub(super) tx_gossip: mpsc::Sender<Bytes>,
}

impl Networking {
    /// Starts the network on `options.listen_addr` and, as `parts`, transaction gossip,
    /// transaction admission (a thread), gossip ingress and block sync. `bridge` routes the
    /// bridge's gossip to it; `validator` is this node's place in the set, if it has one.
    pub(super) async fn start(
        core: &Core,
        options: &NodeOptions,
        listen_addr: &libp2p::Multiaddr,
        validator: Option<&Validator>,
        bridge: Option<BridgeIngress>,
        parts: &Parts,
    ) -> Result<Self, NodeError> {
        let spec = &core.spec;
        let mut config = NetworkConfig::new(
            options.keys.network_keypair(),
            listen_addr.clone(),
            spec.chain_id,
        );
        config.bootnodes = options.bootnodes.clone();
        let (net, events) = network::start(config)
            .await
            .map_err(|e| NodeError::Network(e.to_string()))?;

        let (tx_gossip, outgoing) = mpsc::channel(TX_GOSSIP_QUEUE);
        parts.spawn(
            "transaction gossip",
            gossip_transactions(net.clone(), outgoing),
        );

        let (tx_work, work) = std::sync::mpsc::sync_channel(TX_INGRESS_QUEUE);
        let tx_ingress = TxIngress {
            db: core.db.clone(),
            spec: spec.clone(),
            mempool: core.mempool.clone(),
            inputs: core.inputs.clone(),
            shared: core.shared.clone(),
            net: net.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("tx-ingress".into())
            .spawn(move || tx_ingress.run(work))
            .map_err(|e| NodeError::Network(format!("cannot start the transaction thread: {e}")))?;
        parts.thread("transaction admission", thread);

        let peer_validators: HashMap<PeerId, u32> = spec
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| (v.peer_id, i as u32))
            .collect();
        let ingress = Ingress {
            tx_work,
            net: net.clone(),
            db: core.db.clone(),
            spec: spec.clone(),
            inputs: core.inputs.clone(),
            shared: core.shared.clone(),
            me: validator.map(|v| v.index),
            peer_validators,
            validators: sync::validator_set(spec).map_err(NodeError::Config)?,
            bridge,
            relay_limit: Default::default(),
        };
        parts.spawn("gossip ingress", ingress.run(events));

        let syncer = sync::Syncer {
            follows_consensus: validator.is_some(),
            net: net.clone(),
            db: core.db.clone(),
            spec: spec.clone(),
            inputs: core.inputs.clone(),
            shared: core.shared.clone(),
            validators: validator
                .map(|v| v.config.validators.clone())
                .map_or_else(|| sync::validator_set(spec), Ok)
                .map_err(NodeError::Config)?,
        };
        parts.spawn("block sync", syncer.run());
        Ok(Self { net, tx_gossip })
    }
}
