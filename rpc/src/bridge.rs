//! The bridge's RPC methods: `parallax_bridgeStatus` and `parallax_getWithdrawalProof`.

use crate::{RpcContext, error::RpcError, read::hex_u64};
use alloy_primitives::{Address, U256};
use parallax_bridge::relay::{withdrawal_proof, withdrawals_through};
use parallax_bridge::{
    contracts::{IParallaxBridge, l2_storage},
    l1::{Finality, WithdrawalState},
};
use parallax_genesis::L2_BRIDGE_ADDRESS;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Most tokens one status call reads rate limits for.
const MAX_STATUS_TOKENS: usize = 16;

/// What `parallax_bridgeStatus` may ask about besides the totals.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    /// A deposit nonce.
    #[serde(default)]
    deposit: Option<alloy_primitives::U64>,
    /// A withdrawal id.
    #[serde(default)]
    withdrawal: Option<alloy_primitives::U64>,
    /// L1 tokens whose rate limits to show (besides ETH and the tokens this node saw
    /// deposited).
    #[serde(default)]
    tokens: Vec<Address>,
}

/// What `ParallaxBridgeL2` holds at the head: (deposits minted, withdrawals initiated,
/// withdrawals paused).
fn l2_state(ctx: &RpcContext) -> Result<(u64, u64, bool), RpcError> {
    let reader = ctx.db.snapshot().map_err(RpcError::internal)?;
    let read = |slot| -> Result<U256, RpcError> {
        reader
            .storage(L2_BRIDGE_ADDRESS, slot)
            .map_err(RpcError::internal)
    };
    let count = |v: U256| u64::try_from(v).unwrap_or(u64::MAX);
    Ok((
        count(read(l2_storage::NEXT_DEPOSIT_NONCE)?),
        count(read(l2_storage::NEXT_WITHDRAWAL_ID)?),
        !read(l2_storage::PAUSED)?.is_zero(),
    ))
}

/// `parallax_bridgeStatus([{"deposit": nonce} | {"withdrawal": id} | {"tokens": [...]}])`:
/// the L1 head this node saw, deposits seen and minted, withdrawals initiated, signed and
/// settled, whether each side is paused, the Ethereum rate limits, and the state of one
/// transfer when asked.
pub(crate) async fn status(ctx: &RpcContext, query: StatusQuery) -> Result<Value, RpcError> {
    if query.tokens.len() > MAX_STATUS_TOKENS {
        return Err(RpcError::params(format!(
            "invalid argument 0: at most {MAX_STATUS_TOKENS} tokens"
        )));
    }
    let Some(bridge) = &ctx.bridge else {
        return Err(RpcError::server("this chain has no L1 bridge"));
    };
    let (minted, initiated, l2_paused) = l2_state(ctx)?;
    // Counted over the whole history: every withdrawal up to the relaying window's last block,
    // less those the window still waits for (a quorum; Ethereum settling them).
    let w = &bridge.withdrawals;
    let through = match w.window_through.load(Ordering::Relaxed) {
        0 => 0,
        block => ctx
            .db
            .snapshot()
            .map_or(0, |r| withdrawals_through(&*r, block)),
    };
    let signed = through.saturating_sub(w.unsigned.load(Ordering::Relaxed));
    let settled = w
        .watches_l1
        .load(Ordering::Relaxed)
        .then(|| hex_u64(through.saturating_sub(w.outstanding.load(Ordering::Relaxed))));
    let view = bridge.deposits.as_ref();
    let l1 = bridge.l1.as_ref();
    let l1_paused = match l1 {
        Some(l1) => l1
            .view(bridge.l1_bridge, IParallaxBridge::pausedCall {})
            .await
            .ok(),
        None => None,
    };
    let mut tokens = vec![Address::ZERO];
    for t in view
        .map(|v| v.tokens())
        .unwrap_or_default()
        .into_iter()
        .chain(query.tokens.iter().copied())
    {
        if !tokens.contains(&t) && tokens.len() < 1 + 2 * MAX_STATUS_TOKENS {
            tokens.push(t);
        }
    }
    let mut limits = Vec::new();
    if let Some(l1) = l1 {
        for token in tokens {
            if let Ok(l) = l1
                .view(
                    bridge.l1_bridge,
                    IParallaxBridge::withdrawalLimitCall { token },
                )
                .await
                && !l.maxPerWindow.is_zero()
            {
                limits.push(json!({
                    "token": token,
                    "maxPerWindow": l.maxPerWindow,
                    "windowSeconds": l.window,
                    "delaySeconds": l.delay,
                    "usedInWindow": l.used,
                    "windowStart": l.windowStart,
                }));
            }
        }
    }
    let mut out = json!({
        "l1Bridge": bridge.l1_bridge,
        "l2Bridge": L2_BRIDGE_ADDRESS,
        "confirmations": hex_u64(bridge.confirmations),
        "depositFinality": match bridge.finality {
            Finality::Confirmations(_) => "confirmations",
            Finality::Finalized => "finalized",
        },
        "l1Head": view.and_then(|v| v.l1_head()).map(hex_u64),
        "l1Settled": view.and_then(|v| v.settled()).map(hex_u64),
        "l1Error": view.and_then(|v| v.error()),
        "paused": { "ethereum": l1_paused, "parallax": l2_paused },
        "withdrawalLimits": limits,
        "deposits": {
            "seen": view.map(|v| hex_u64(v.confirmed())),
            "minted": hex_u64(minted),
            "refusedProposals": view.map(|v| hex_u64(v.refused.load(Ordering::Relaxed))),
        },
        "withdrawals": {
            "initiated": hex_u64(initiated),
            "signed": hex_u64(signed),
            "finalized": settled,
            "unpaidSeen": hex_u64(w.unpaid.load(Ordering::Relaxed)),
            "rootsSubmittedByThisNode": hex_u64(w.roots_submitted.load(Ordering::Relaxed)),
            "finalizedByThisNode": hex_u64(w.finalized_here.load(Ordering::Relaxed)),
        },
    });
    if let Some(nonce) = query.deposit {
        let nonce: u64 = nonce.to();
        let refund = if nonce < minted {
            let reader = ctx.db.snapshot().map_err(RpcError::internal)?;
            let v = reader
                .storage(L2_BRIDGE_ADDRESS, l2_storage::failed_deposit_refund(nonce))
                .map_err(RpcError::internal)?;
            (!v.is_zero()).then(|| u64::try_from(v - U256::from(1)).unwrap_or(u64::MAX))
        } else {
            None
        };
        let state = if refund.is_some() {
            "failed"
        } else if nonce < minted {
            "minted"
        } else if view.is_some_and(|v| nonce < v.confirmed()) {
            "confirmed"
        } else {
            "unseen"
        };
        out["deposit"] = json!({
            "nonce": hex_u64(nonce),
            "state": state,
            "refundWithdrawal": refund.map(hex_u64),
        });
    }
    if let Some(id) = query.withdrawal {
        let id: u64 = id.to();
        let mut release_at = None;
        let state = if id >= initiated {
            "unknown"
        } else {
            let on_l1 = match l1 {
                Some(l1) => l1.withdrawal_state(bridge.l1_bridge, id).await.ok(),
                None => None,
            };
            match on_l1 {
                Some(WithdrawalState::Unfinalized) | None => w.state(id).unwrap_or("initiated"),
                Some(s) => {
                    if let WithdrawalState::Queued { release_at: at } = s {
                        release_at = Some(at);
                    }
                    s.name()
                }
            }
        };
        out["withdrawal"] = json!({
            "id": hex_u64(id),
            "state": state,
            "releaseAt": release_at.map(hex_u64),
        });
    }
    Ok(out)
}

/// `parallax_getWithdrawalProof(id)`: what `ParallaxBridge.finalizeWithdrawal` takes for
/// withdrawal `id`, and the signatures over its block's root this node holds (what
/// `submitWithdrawalRoot` takes, ascending signers; `quorum` says whether they carry more than
/// 2/3 of the power); `null` while no committed block initiated it.
pub(crate) fn withdrawal_proof_rpc(ctx: &RpcContext, id: u64) -> Result<Value, RpcError> {
    let Some(bridge) = &ctx.bridge else {
        return Err(RpcError::server("this chain has no L1 bridge"));
    };
    let reader = ctx.db.snapshot().map_err(RpcError::internal)?;
    let Some(p) = withdrawal_proof(
        &*reader,
        id,
        &bridge.domain,
        &bridge.validators,
        &bridge.bridge_addresses,
    )
    .map_err(RpcError::internal)?
    else {
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
        "signatures": p.signatures,
        "quorum": p.quorum,
    }))
}
