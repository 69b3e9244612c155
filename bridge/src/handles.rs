//! A node's bridge parts in one value, for what reports on them (RPC, metrics).

use alloy_primitives::Address;
use std::sync::Arc;

/// A node's bridge parts, for what reports on them (RPC, metrics).
#[derive(Debug, Clone)]
pub struct BridgeHandles {
    /// The Ethereum bridge contract.
    pub l1_bridge: Address,
    /// Blocks a deposit must be deep on Ethereum.
    pub confirmations: u64,
    /// Which Ethereum blocks count as settled for deposits.
    pub finality: crate::l1::Finality,
    /// The EIP-712 domain withdrawal roots are signed in.
    pub domain: crate::attest::BridgeDomain,
    /// Each validator's bridge address, by index.
    pub bridge_addresses: Vec<Address>,
    /// The validators' bridge addresses with their power.
    pub validators: crate::attest::BridgeValidators,
    /// This node's view of Ethereum's deposits, when it has an L1 RPC.
    pub deposits: Option<Arc<crate::watcher::DepositView>>,
    /// The withdrawal relayer's figures.
    pub withdrawals: Arc<crate::relay::WithdrawalStats>,
    /// The Ethereum client, when the node has an L1 RPC.
    pub l1: Option<crate::l1::L1Client>,
}

impl BridgeHandles {
    /// The bridge's Prometheus metrics.
    pub fn metrics(&self) -> crate::BridgeMetrics {
        crate::BridgeMetrics {
            deposits: self.deposits.clone(),
            withdrawals: self.withdrawals.clone(),
        }
    }
}
