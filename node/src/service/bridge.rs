//! The node's bridge wiring: when the genesis bridges to Ethereum, the Ethereum client (from
//! `[l1]`), the deposit watcher task, and the withdrawal relayer with its attestation queue.
//! What each part does is `parallax-bridge`'s; here they are built from the node's options
//! and started.

use super::{ATTESTATION_QUEUE, L1Options, NodeContext, NodeError, NodeOptions};
use crate::parts::Parts;
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use parallax_bridge::{
    BridgeHandles,
    attest::{BridgeDomain, BridgeValidators},
    l1::{Finality, L1Client},
    relay::{Attestation, Relayer, RelayerConfig, WithdrawalStats},
    watcher::{DepositCursor, DepositView, watch_deposits},
};
use parallax_genesis::{DepositFinality, ParallaxConfig};
use parallax_network::{NetworkHandle, Topic};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// A node's bridge, opened and watching Ethereum; its relayer starts once the network is up
/// ([`NodeBridge::start_relayer`]).
pub(super) struct NodeBridge {
    /// What RPC and metrics report on.
    pub(super) handles: BridgeHandles,
    /// The EIP-712 domain withdrawal roots are signed in.
    pub(super) domain: BridgeDomain,
    /// Each validator's bridge address, by index.
    pub(super) addresses: Vec<Address>,
    /// Where verified withdrawal attestations go (the relayer's queue).
    pub(super) attestations: mpsc::Sender<Attestation>,
    received: Option<mpsc::Receiver<Attestation>>,
    /// Whether this node carries roots and withdrawals to Ethereum.
    relays: bool,
}

impl NodeBridge {
    /// Opens the bridge when the genesis has one: connects to the L1 RPC (refusing one that
    /// serves another chain), and starts the deposit watcher from where the chain stands.
    /// Without `[l1]` the node still checks and relays attestations, but reads nothing from
    /// Ethereum.
    pub(super) async fn open(
        node: &NodeContext<'_>,
        parts: &Parts,
    ) -> Result<Option<Self>, NodeError> {
        let NodeContext {
            options,
            parallax,
            chain_id,
            db,
            ..
        } = *node;
        let is_validator = node.validator.is_some();
        let Some(l1_bridge) = parallax.bridge.l1_bridge else {
            return Ok(None);
        };
        let domain = BridgeDomain {
            l1_chain_id: parallax.bridge.l1_chain_id,
            l1_bridge,
            l2_chain_id: chain_id,
        };
        let l1 = match &options.l1 {
            None => {
                if is_validator {
                    warn!(
                        "no L1 RPC configured: this validator cannot check bridge deposits and \
                         votes against every proposal that carries one"
                    );
                }
                None
            }
            Some(l1) => Some((connect(l1, options, &domain, is_validator).await?, l1)),
        };
        let finality = match parallax.bridge.deposit_finality {
            DepositFinality::Confirmations => {
                Finality::Confirmations(parallax.bridge.confirmations)
            }
            DepositFinality::Finalized => Finality::Finalized,
        };
        let view = match l1.as_ref() {
            None => None,
            Some((client, o)) => {
                // Resume where the chain stands: the next nonce it mints, read from the
                // Ethereum block of the last one it minted.
                let cursor = db
                    .reader()
                    .and_then(|r| DepositCursor::at_head(&r))
                    .map_err(|e| NodeError::Config(format!("reading the deposit cursor: {e}")))?;
                // A leader proposes a deposit one poll interval after its view confirmed it.
                let view = Arc::new(DepositView::new(o.poll_interval, cursor.next_nonce));
                parts.spawn(
                    "deposit watcher",
                    watch_deposits(
                        view.clone(),
                        client.clone(),
                        domain.l1_bridge,
                        finality,
                        cursor.start_block(o.from_block),
                        o.poll_interval,
                    ),
                );
                Some(view)
            }
        };
        let addresses: Vec<Address> = parallax
            .validators
            .iter()
            .map(|v| v.bridge_address)
            .collect();
        let (attestations, received) = mpsc::channel(ATTESTATION_QUEUE);
        Ok(Some(Self {
            handles: BridgeHandles {
                l1_bridge: domain.l1_bridge,
                confirmations: parallax.bridge.confirmations,
                finality,
                domain,
                bridge_addresses: addresses.clone(),
                validators: validators(parallax),
                deposits: view,
                withdrawals: Arc::new(WithdrawalStats::default()),
                l1: l1.as_ref().map(|(c, _)| c.clone()),
            },
            domain,
            addresses,
            attestations,
            received: Some(received),
            relays: l1.is_some_and(|(_, o)| o.relay),
        }))
    }

    /// Starts the withdrawal relayer (once): it signs each committed block's withdrawal root
    /// when this node is validator `validator`, gossips the signatures on `net`, and carries
    /// quorum-signed roots to Ethereum when this validator relays.
    pub(super) fn start_relayer(
        &mut self,
        node: &NodeContext<'_>,
        net: Option<NetworkHandle>,
        parts: &Parts,
    ) {
        let NodeContext {
            options,
            parallax,
            chain_id,
            validator,
            ..
        } = *node;
        let Some(received) = self.received.take() else {
            return;
        };
        let config = RelayerConfig {
            domain: self.domain,
            bridge_addresses: self.addresses.clone(),
            validators: validators(parallax),
            signer: validator.map(|i| (i, bridge_signer(options))),
            l1: self.handles.l1.clone(),
            relay: self.relays && validator.is_some(),
            chain_id,
            tick: Duration::from_millis(500),
        };
        let relayer = Relayer::new(config, node.db.clone(), self.handles.withdrawals.clone());
        parts.spawn(
            "withdrawal relayer",
            relayer.run(received, move |bytes| {
                if let Some(net) = net.clone() {
                    tokio::spawn(async move {
                        if let Err(e) = net.publish(Topic::Bridge, bytes).await {
                            debug!(error = %e, "gossiping an attestation failed");
                        }
                    });
                }
            }),
        );
    }
}

/// The validators' bridge addresses with their voting power.
fn validators(parallax: &ParallaxConfig) -> BridgeValidators {
    BridgeValidators::new(
        parallax
            .validators
            .iter()
            .map(|v| (v.bridge_address, v.voting_power)),
    )
}

/// The validator's bridge key, as a signer.
fn bridge_signer(options: &NodeOptions) -> PrivateKeySigner {
    PrivateKeySigner::from_signing_key(options.keys.bridge_key().clone())
}

/// The Ethereum client of `[l1]`, signing with the bridge key when this validator relays;
/// an RPC serving another chain than the genesis bridges to is refused, one not answering
/// yet is only warned about.
async fn connect(
    l1: &L1Options,
    options: &NodeOptions,
    domain: &BridgeDomain,
    is_validator: bool,
) -> Result<L1Client, NodeError> {
    let signer = (l1.relay && is_validator).then(|| bridge_signer(options));
    let client = L1Client::connect(&l1.rpc_url, signer)
        .await
        .map_err(|e| NodeError::Config(format!("l1 rpc {}: {e}", l1.rpc_url)))?;
    match tokio::time::timeout(Duration::from_secs(5), client.chain_id()).await {
        Ok(Ok(id)) if id != domain.l1_chain_id => {
            return Err(NodeError::Config(format!(
                "the L1 RPC {} serves chain {id}, the genesis bridges to chain {}",
                l1.rpc_url, domain.l1_chain_id
            )));
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => warn!(url = %l1.rpc_url, error = %e, "the L1 RPC is not answering yet"),
        Err(_) => warn!(url = %l1.rpc_url, "the L1 RPC is not answering yet"),
    }
    Ok(client)
}
