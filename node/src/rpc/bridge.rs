//! The bridge's RPC methods: `parallax_bridgeStatus` and `parallax_getWithdrawalProof`.

use super::{
    RpcContext,
    error::RpcError,
    eth::{at_most, hex_u64, quantity},
};
use crate::bridge::withdrawals::{
    NEXT_DEPOSIT_NONCE_SLOT, NEXT_WITHDRAWAL_ID_SLOT, withdrawal_proof,
};
use alloy_primitives::U256;
use parallax_bridge::contracts::IParallaxBridge;
use parallax_genesis::L2_BRIDGE_ADDRESS;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// What `parallax_bridgeStatus` may ask about besides the totals.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    /// A deposit nonce.
    #[serde(default)]
    deposit: Option<alloy_primitives::U64>,
    /// A withdrawal id.
    #[serde(default)]
    withdrawal: Option<alloy_primitives::U64>,
}

fn bridge_counts(ctx: &RpcContext) -> Result<(u64, u64), RpcError> {
    let reader = ctx.db.reader().map_err(RpcError::internal)?;
    let read = |slot| -> Result<u64, RpcError> {
        let v = reader
            .storage(L2_BRIDGE_ADDRESS, slot)
            .map_err(RpcError::internal)?;
        Ok(u64::try_from(v).unwrap_or(u64::MAX))
    };
    Ok((
        read(NEXT_DEPOSIT_NONCE_SLOT)?,
        read(NEXT_WITHDRAWAL_ID_SLOT)?,
    ))
}

/// `parallax_bridgeStatus([{"deposit": nonce} | {"withdrawal": id}])`: the L1 head this node
/// saw, deposits seen and minted, withdrawals initiated, signed and finalized, and the state of
/// one transfer when asked.
pub(crate) async fn status(ctx: &RpcContext, params: &[Value]) -> Result<Value, RpcError> {
    at_most(params, 1)?;
    let query: StatusQuery = match params.first() {
        None | Some(Value::Null) => StatusQuery::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| RpcError::params(format!("invalid argument 0: {e}")))?,
    };
    let Some(bridge) = &ctx.bridge else {
        return Err(RpcError::server("this chain has no L1 bridge"));
    };
    let (minted, initiated) = bridge_counts(ctx)?;
    // Signed and paid in all: every withdrawal up to the relayer's last scanned block, less
    // those it still tracks without a quorum or a payout.
    let w = &bridge.withdrawals;
    let scanned = w.scanned_through.load(Ordering::Relaxed);
    let through = if scanned == 0 {
        0
    } else {
        let reader = ctx.db.reader().map_err(RpcError::internal)?;
        reader
            .storage_at(L2_BRIDGE_ADDRESS, NEXT_WITHDRAWAL_ID_SLOT, scanned)
            .map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    let signed = through.saturating_sub(w.unsigned.load(Ordering::Relaxed));
    let finalized = w
        .watches_l1
        .load(Ordering::Relaxed)
        .then(|| hex_u64(through.saturating_sub(w.outstanding.load(Ordering::Relaxed))));
    let view = bridge.deposits.as_ref();
    let mut out = json!({
        "l1Bridge": bridge.l1_bridge,
        "l2Bridge": L2_BRIDGE_ADDRESS,
        "confirmations": hex_u64(bridge.confirmations),
        "l1Head": view.and_then(|v| v.l1_head()).map(hex_u64),
        "l1Error": view.and_then(|v| v.error()),
        "deposits": {
            "seen": view.map(|v| hex_u64(v.confirmed())),
            "minted": hex_u64(minted),
            "refusedProposals": view.map(|v| hex_u64(v.refused.load(Ordering::Relaxed))),
        },
        "withdrawals": {
            "initiated": hex_u64(initiated),
            "signed": hex_u64(signed),
            "finalized": finalized,
            "rootsSubmittedByThisNode": hex_u64(w.roots_submitted.load(Ordering::Relaxed)),
            "finalizedByThisNode": hex_u64(w.finalized_here.load(Ordering::Relaxed)),
        },
    });
    if let Some(nonce) = query.deposit {
        let nonce: u64 = nonce.to();
        let state = if nonce < minted {
            "minted"
        } else if view.is_some_and(|v| nonce < v.confirmed()) {
            "confirmed"
        } else {
            "unseen"
        };
        out["deposit"] = json!({ "nonce": hex_u64(nonce), "state": state });
    }
    if let Some(id) = query.withdrawal {
        let id: u64 = id.to();
        let state = if id >= initiated {
            "unknown"
        } else {
            let on_l1 = match &bridge.l1 {
                Some(l1) => l1
                    .view(
                        bridge.l1_bridge,
                        IParallaxBridge::isWithdrawalFinalizedCall { id: U256::from(id) },
                    )
                    .await
                    .ok(),
                None => None,
            };
            match on_l1 {
                Some(true) => "finalized",
                _ => w.state(id).unwrap_or("initiated"),
            }
        };
        out["withdrawal"] = json!({ "id": hex_u64(id), "state": state });
    }
    Ok(out)
}

/// `parallax_getWithdrawalProof(id)`: what `ParallaxBridge.finalizeWithdrawal` takes for
/// withdrawal `id`, or `null` while no committed block initiated it.
pub(crate) fn withdrawal_proof_rpc(ctx: &RpcContext, params: &[Value]) -> Result<Value, RpcError> {
    at_most(params, 1)?;
    let id = quantity(params, 0)?;
    let reader = ctx.db.reader().map_err(RpcError::internal)?;
    let Some(p) = withdrawal_proof(&reader, id).map_err(RpcError::internal)? else {
        return Ok(Value::Null);
    };
    Ok(json!({
        "id": hex_u64(p.withdrawal.id),
        "l1Token": p.withdrawal.l1_token,
        "l1Recipient": p.withdrawal.l1_recipient,
        "amount": p.withdrawal.amount,
        "l2BlockNumber": hex_u64(p.l2_block),
        "root": p.root,
        "leaf": p.leaf,
        "proof": p.proof,
    }))
}
