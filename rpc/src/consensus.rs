//! Consensus RPC methods: `parallax_evidence`.

use crate::{RpcContext, error::RpcError, read::hex_u64};
use parallax_consensus::{Evidence, SignedProposal, SignedTimeout, Vote};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most evidence one call returns (the most a node stores against one validator).
pub const MAX_EVIDENCE_RESULTS: usize = 256;

/// What `parallax_evidence` may filter on.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceQuery {
    /// Only evidence against this validator (its index in the genesis validator set).
    #[serde(default)]
    validator: Option<u32>,
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn vote_json(v: &Vote) -> Value {
    json!({
        "round": hex_u64(v.round),
        "height": hex_u64(v.height),
        "blockId": hex(&v.block_id.0),
        "signature": hex(&v.signature.0),
    })
}

fn proposal_json(p: &SignedProposal) -> Value {
    json!({
        "round": hex_u64(p.round),
        "blockId": hex(&p.block_id.0),
        "signature": hex(&p.signature.0),
    })
}

fn timeout_json(t: &SignedTimeout) -> Value {
    json!({
        "round": hex_u64(t.round),
        "highQcRound": hex_u64(t.high_qc_round),
        "signature": hex(&t.signature.0),
    })
}

/// One piece of evidence as JSON: what kind, against whom, the two signed messages, and the
/// canonical encoding (what a block would carry).
pub(crate) fn evidence_json(ctx: &RpcContext, e: &Evidence) -> Value {
    let (first, second) = match e {
        Evidence::DoubleProposal { first, second } => (proposal_json(first), proposal_json(second)),
        Evidence::DoubleVote { first, second } => (vote_json(first), vote_json(second)),
        Evidence::DoubleTimeout { first, second } => (timeout_json(first), timeout_json(second)),
    };
    let validator = ctx.spec.validators.get(e.culprit() as usize);
    json!({
        "id": e.id().to_string(),
        "kind": e.kind().as_str(),
        "validator": e.culprit(),
        "validatorName": validator.map(|v| v.name.clone()),
        "consensusKey": validator.map(|v| hex(&v.consensus_key.to_bytes())),
        "round": hex_u64(e.round()),
        "first": first,
        "second": second,
        "encoded": hex(&e.encode()),
    })
}

/// `parallax_evidence([{"validator": index}])`: the equivocation evidence this node holds
/// (caught itself or learnt from gossip, each verified), in (validator, round) order, at most
/// [`MAX_EVIDENCE_RESULTS`].
pub(crate) fn evidence(ctx: &RpcContext, query: EvidenceQuery) -> Result<Value, RpcError> {
    let found = ctx
        .node
        .evidence(query.validator, MAX_EVIDENCE_RESULTS)
        .map_err(RpcError::internal)?;
    Ok(Value::Array(
        found.iter().map(|e| evidence_json(ctx, e)).collect(),
    ))
}
