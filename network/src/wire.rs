//! The wire: exact conversions between the node's and the consensus crate's types and the
//! protobufs of `parallax-proto` that travel over libp2p.
//!
//! * Consensus messages: [`encode_message`] and [`decode_message`] (an [`Envelope`]: chain id,
//!   optional recipient, send number, message) are `parallax_consensus::wire`'s, re-exported:
//!   one encoding, which the consensus simulator runs too.
//! * The node's block payload (an Ethereum header, its transactions and the bridge deposits
//!   it mints): [`encode_payload`], [`decode_payload`] and [`decode_payload_raw`].
//! * Committed blocks and block sync: [`encode_committed`], [`decode_committed`],
//!   [`encode_sync_request`], [`decode_sync_request`], [`encode_sync_response`],
//!   [`decode_sync_response`].
//! * Transaction gossip: [`encode_tx_batch`], [`decode_tx_batch`].
//!
//! Decoding never panics and never trusts the input: bytes go through `parallax-proto`'s
//! bounded decoders (size limit before parsing, structure after), then through a conversion
//! that checks what is left and fails with a [`WireError`] whose [`WireError::reason`] is a
//! fixed label for metrics. Decoding checks form, not authority: signatures, signers and
//! rounds are for the consensus crate to judge.
//!
//! # Block ids
//!
//! A block's id is not on the wire. [`decode_message`] and the other decoders rebuild every
//! block with [`Block::new`], which computes the id from the decoded fields. A block altered in
//! transit therefore gets a different id, and the proposal signature, votes and QCs over the
//! original id no longer verify against it: alteration is caught by verification, not here.
//! Participants must arrive strictly increasing (the consensus codec's canonical form), so
//! every block has exactly one encoding.
//!
//! Encoding is infallible and does not check limits: a value beyond them (a payload above
//! [`parallax_proto::MAX_PAYLOAD_BYTES`], say) encodes to bytes that every peer rejects.

use alloy_consensus::{Header, TxEip4844Variant, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Decodable;
use parallax_bridge::deposit::Deposit;
use parallax_consensus::wire::{Convert, block_to_proto, qc_to_proto};
pub use parallax_consensus::wire::{Envelope, WireError, decode_message, encode_message};
use parallax_consensus::{Block, Hash, Height, QuorumCertificate};
use parallax_proto::v1;
use prost::Message as _;

/// A committed block with the certificate that proves it committed (see
/// [`decode_committed`] for the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// The QC of `child` when it is present, else of `block`.
    pub commit_qc: QuorumCertificate,
    /// The child heading the 2-chain that committed `block`, when `block` heads it.
    pub child: Option<Block>,
}

/// A request for committed blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequest {
    /// The first height wanted.
    pub from_height: Height,
    /// How many blocks at most (1 to [`parallax_proto::MAX_SYNC_BLOCKS`]).
    pub max_blocks: u32,
}

/// Why a sync request was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncErrorCode {
    /// The responder set no code.
    Unspecified,
    /// The responder does not have blocks at that height (pruned, or not yet committed).
    RangeUnavailable,
    /// The request asked for more than the responder serves at once.
    TooMany,
    /// The responder failed internally.
    Internal,
}

/// A responder's refusal of a sync request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync refused ({code:?}): {message}")]
pub struct SyncError {
    /// What went wrong.
    pub code: SyncErrorCode,
    /// A human-readable explanation, at most [`parallax_proto::MAX_SYNC_ERROR_MESSAGE_BYTES`]
    /// (longer ones are cut when encoded).
    pub message: String,
}

/// The answer to a [`SyncRequest`]: consecutive committed blocks from the requested height,
/// or why there are none. An empty list is not a valid answer; send an error instead.
pub type SyncResponse = Result<Vec<CommittedBlock>, SyncError>;

// ---------------------------------------------------------------------------------------------
// Consensus messages

// ---------------------------------------------------------------------------------------------
// Block payload

/// Encodes the node's block payload: `header` RLP-encoded, `txs`, each already an EIP-2718
/// encoding, as given, and the bridge deposits the block mints.
pub fn encode_payload(header: &Header, txs: &[impl AsRef<[u8]>], deposits: &[Deposit]) -> Vec<u8> {
    v1::BlockPayload {
        header: alloy_rlp::encode(header),
        transactions: txs.iter().map(|tx| tx.as_ref().to_vec()).collect(),
        deposits: deposits
            .iter()
            .map(|d| v1::BridgeDeposit {
                nonce: d.nonce,
                l1_token: d.l1_token.to_vec(),
                recipient: d.recipient.to_vec(),
                amount: d.amount.to_be_bytes::<32>().to_vec(),
                l1_tx_hash: d.l1_tx_hash.to_vec(),
                l1_block: d.l1_block,
                l1_from: d.l1_from.to_vec(),
                metadata: d.metadata.to_vec(),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// A decoded block payload.
pub type Payload<T> = (Header, Vec<T>, Vec<Deposit>);

/// Decodes the node's block payload. The header must be exactly one canonical RLP header (no
/// trailing bytes, and it re-encodes to the same bytes); each transaction exactly one
/// canonical EIP-2718 envelope, without a blob sidecar; sizes and counts are within
/// `parallax-proto`'s block limits.
pub fn decode_payload(bytes: &[u8]) -> Result<Payload<TxEnvelope>, WireError> {
    let (header, txs, deposits) = decode_payload_inner(bytes)?;
    Ok((
        header,
        txs.into_iter().map(|(tx, _)| tx).collect(),
        deposits,
    ))
}

/// [`decode_payload`] with the same checks, returning each transaction's EIP-2718 bytes
/// instead of the decoded envelope (the bytes are canonical, so nothing is lost).
pub fn decode_payload_raw(bytes: &[u8]) -> Result<Payload<Bytes>, WireError> {
    let (header, txs, deposits) = decode_payload_inner(bytes)?;
    Ok((
        header,
        txs.into_iter().map(|(_, raw)| raw).collect(),
        deposits,
    ))
}

fn decode_payload_inner(bytes: &[u8]) -> Result<Payload<(TxEnvelope, Bytes)>, WireError> {
    let payload = parallax_proto::decode_block_payload(bytes)?;
    let c = Convert::new("block payload");
    let mut buf = payload.header.as_slice();
    let header = Header::decode(&mut buf)
        .or_else(|e| c.fail("bad_header", "header", format!("not an RLP header: {e}")))?;
    if !buf.is_empty() {
        return c.fail(
            "bad_header",
            "header",
            format!("{} trailing bytes after the header", buf.len()),
        );
    }
    if alloy_rlp::encode(&header) != payload.header {
        return c.fail("bad_header", "header", "not the canonical RLP encoding");
    }
    let mut txs = Vec::with_capacity(payload.transactions.len());
    for (i, raw) in payload.transactions.into_iter().enumerate() {
        let tx = TxEnvelope::decode_2718_exact(&raw).or_else(|e| {
            c.fail(
                "bad_transaction",
                format!("transactions[{i}]"),
                format!("not an EIP-2718 transaction: {e}"),
            )
        })?;
        if let Some(blob) = tx.as_eip4844()
            && matches!(blob.tx(), TxEip4844Variant::TxEip4844WithSidecar(_))
        {
            return c.fail(
                "bad_transaction",
                format!("transactions[{i}]"),
                "a blob transaction with its sidecar; blocks carry transactions without",
            );
        }
        if tx.encoded_2718() != raw {
            return c.fail(
                "bad_transaction",
                format!("transactions[{i}]"),
                "not the canonical EIP-2718 encoding",
            );
        }
        txs.push((tx, Bytes::from(raw)));
    }
    // Lengths were checked by `parallax-proto`.
    let deposits = payload
        .deposits
        .iter()
        .map(|d| Deposit {
            nonce: d.nonce,
            l1_token: Address::from_slice(&d.l1_token),
            recipient: Address::from_slice(&d.recipient),
            amount: U256::from_be_slice(&d.amount),
            l1_tx_hash: B256::from_slice(&d.l1_tx_hash),
            l1_block: d.l1_block,
            l1_from: Address::from_slice(&d.l1_from),
            metadata: Bytes::copy_from_slice(&d.metadata),
        })
        .collect();
    Ok((header, txs, deposits))
}

// ---------------------------------------------------------------------------------------------
// Committed blocks and block sync

/// Encodes a committed block: `block`, the QC proving it committed and, when `block` heads the
/// 2-chain that committed it, the child (`commit_qc` then certifies the child).
pub fn encode_committed(
    block: &Block,
    commit_qc: &QuorumCertificate,
    child: Option<&Block>,
) -> Vec<u8> {
    committed_to_proto(block, commit_qc, child).encode_to_vec()
}

/// Decodes a committed block and checks how its parts relate: with a child, the child extends
/// the block (`child.parent == block.id`) in the next round and at the next height, and the QC
/// certifies the child (id, round and height); without one (the block was committed as an
/// ancestor of a later 2-chain's head) the QC certifies a block above it, in a later round.
/// The QC's signatures are not verified here: that needs the validator set
/// ([`QuorumCertificate::verify`]).
pub fn decode_committed(bytes: &[u8]) -> Result<CommittedBlock, WireError> {
    let block = parallax_proto::decode_committed_block(bytes)?;
    committed(&Convert::new("committed block"), block, "committed_block")
}

/// Encodes a block sync request.
pub fn encode_sync_request(request: &SyncRequest) -> Vec<u8> {
    v1::BlockSyncRequest {
        from_height: request.from_height,
        max_blocks: request.max_blocks,
        block_id: Vec::new(),
    }
    .encode_to_vec()
}

/// A request for an uncommitted block by id and some of its ancestors (consensus's
/// `FetchBlock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchRequest {
    /// The block wanted.
    pub id: Hash,
    /// How many of its ancestors at most.
    pub ancestors: u32,
}

/// Either kind of request on the sync protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Committed blocks by height.
    Committed(SyncRequest),
    /// A block by id with ancestors.
    Fetch(FetchRequest),
}

/// Encodes a fetch request.
pub fn encode_fetch_request(request: &FetchRequest) -> Vec<u8> {
    v1::BlockSyncRequest {
        from_height: 0,
        max_blocks: request
            .ancestors
            .saturating_add(1)
            .min(parallax_proto::MAX_SYNC_BLOCKS),
        block_id: request.id.0.to_vec(),
    }
    .encode_to_vec()
}

/// Decodes either kind of request.
pub fn decode_request(bytes: &[u8]) -> Result<Request, WireError> {
    let req = parallax_proto::decode_sync_request(bytes)?;
    if req.block_id.is_empty() {
        return Ok(Request::Committed(SyncRequest {
            from_height: req.from_height,
            max_blocks: req.max_blocks,
        }));
    }
    let mut id = [0u8; 32];
    // Checked to be 32 bytes by the proto layer.
    id.copy_from_slice(&req.block_id);
    Ok(Request::Fetch(FetchRequest {
        id: Hash(id),
        ancestors: req.max_blocks - 1,
    }))
}

/// Encodes the answer to a fetch: the blocks found (an error when none).
pub fn encode_fetch_response(blocks: &[Block]) -> Vec<u8> {
    use v1::block_sync_response::Result as SyncResult;
    let result = if blocks.is_empty() {
        SyncResult::Error(v1::SyncError {
            code: v1::sync_error::Code::RangeUnavailable as i32,
            message: "unknown block".into(),
        })
    } else {
        SyncResult::Fetched(v1::FetchedBlocks {
            blocks: blocks.iter().map(block_to_proto).collect(),
        })
    };
    v1::BlockSyncResponse {
        result: Some(result),
    }
    .encode_to_vec()
}

/// Decodes the answer to a fetch; a refusal is an empty list.
pub fn decode_fetch_response(bytes: &[u8]) -> Result<Vec<Block>, WireError> {
    use v1::block_sync_response::Result as SyncResult;
    let resp = parallax_proto::decode_sync_response(bytes)?;
    let c = Convert::new("fetch response");
    match c.required(resp.result, "result")? {
        SyncResult::Fetched(f) => f
            .blocks
            .into_iter()
            .enumerate()
            .map(|(i, b)| c.block(b, &format!("fetched.blocks[{i}]")))
            .collect(),
        SyncResult::Error(_) => Ok(Vec::new()),
        SyncResult::Blocks(_) => c.fail(
            "unexpected_answer",
            "result",
            "committed blocks in answer to a fetch",
        ),
    }
}

/// Decodes a block sync request (1 to [`parallax_proto::MAX_SYNC_BLOCKS`] blocks).
pub fn decode_sync_request(bytes: &[u8]) -> Result<SyncRequest, WireError> {
    let req = parallax_proto::decode_sync_request(bytes)?;
    Ok(SyncRequest {
        from_height: req.from_height,
        max_blocks: req.max_blocks,
    })
}

/// Encodes a block sync response. An error message longer than
/// [`parallax_proto::MAX_SYNC_ERROR_MESSAGE_BYTES`] is cut (at a character boundary) so the
/// response stays valid.
pub fn encode_sync_response(response: &SyncResponse) -> Vec<u8> {
    use v1::block_sync_response::Result as SyncResult;
    let result = match response {
        Ok(blocks) => SyncResult::Blocks(v1::SyncedBlocks {
            blocks: blocks
                .iter()
                .map(|b| committed_to_proto(&b.block, &b.commit_qc, b.child.as_ref()))
                .collect(),
        }),
        Err(e) => {
            let mut end = e
                .message
                .len()
                .min(parallax_proto::MAX_SYNC_ERROR_MESSAGE_BYTES);
            while !e.message.is_char_boundary(end) {
                end -= 1;
            }
            SyncResult::Error(v1::SyncError {
                code: sync_code_to_proto(e.code) as i32,
                message: e.message[..end].to_owned(),
            })
        }
    };
    v1::BlockSyncResponse {
        result: Some(result),
    }
    .encode_to_vec()
}

/// Decodes a block sync response. Each committed block is checked as by
/// [`decode_committed`], and the blocks must form a chain: consecutive heights, each the
/// parent of the next. Whether they start at the requested height, and whether the
/// certificates verify, is for the requester to check.
pub fn decode_sync_response(bytes: &[u8]) -> Result<SyncResponse, WireError> {
    use v1::block_sync_response::Result as SyncResult;
    let resp = parallax_proto::decode_sync_response(bytes)?;
    let c = Convert::new("sync response");
    match c.required(resp.result, "result")? {
        SyncResult::Fetched(_) => c.fail(
            "unexpected_answer",
            "result",
            "fetched blocks in answer to a sync request",
        ),
        SyncResult::Blocks(synced) => {
            let mut blocks: Vec<CommittedBlock> = Vec::with_capacity(synced.blocks.len());
            for (i, b) in synced.blocks.into_iter().enumerate() {
                let field = format!("blocks.blocks[{i}]");
                let b = committed(&c, b, &field)?;
                if let Some(prev) = blocks.last()
                    && (prev.block.height().checked_add(1) != Some(b.block.height())
                        || b.block.parent() != prev.block.id())
                {
                    return c.fail(
                        "not_a_chain",
                        format!("{field}.block"),
                        format!(
                            "height {} with parent {} does not follow height {} with id {}",
                            b.block.height(),
                            b.block.parent(),
                            prev.block.height(),
                            prev.block.id()
                        ),
                    );
                }
                blocks.push(b);
            }
            Ok(Ok(blocks))
        }
        SyncResult::Error(e) => {
            let code = match v1::sync_error::Code::try_from(e.code) {
                Ok(v1::sync_error::Code::Unspecified) => SyncErrorCode::Unspecified,
                Ok(v1::sync_error::Code::RangeUnavailable) => SyncErrorCode::RangeUnavailable,
                Ok(v1::sync_error::Code::TooMany) => SyncErrorCode::TooMany,
                Ok(v1::sync_error::Code::Internal) => SyncErrorCode::Internal,
                Err(_) => {
                    return c.fail(
                        "unknown_error_code",
                        "error.code",
                        format!("{} is not a known code", e.code),
                    );
                }
            };
            Ok(Err(SyncError {
                code,
                message: e.message,
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transaction gossip

/// Encodes a batch of transactions (EIP-2718 encodings) for the transactions topic.
pub fn encode_tx_batch(txs: &[Bytes]) -> Vec<u8> {
    v1::TransactionBatch {
        transactions: txs.iter().map(|tx| tx.to_vec()).collect(),
    }
    .encode_to_vec()
}

/// Decodes a gossiped transaction batch: 1 to [`parallax_proto::MAX_TRANSACTIONS_PER_BATCH`]
/// non-empty transactions of at most [`parallax_proto::MAX_TRANSACTION_BYTES`] each. They
/// come back as raw bytes; the mempool decodes and validates each.
pub fn decode_tx_batch(bytes: &[u8]) -> Result<Vec<Bytes>, WireError> {
    let batch = parallax_proto::decode_transaction_batch(bytes)?;
    Ok(batch.transactions.into_iter().map(Bytes::from).collect())
}

// ---------------------------------------------------------------------------------------------
// Conversions

fn committed_to_proto(
    block: &Block,
    commit_qc: &QuorumCertificate,
    child: Option<&Block>,
) -> v1::CommittedBlock {
    v1::CommittedBlock {
        block: Some(block_to_proto(block)),
        commit_qc: Some(qc_to_proto(commit_qc)),
        commit_child: child.map(block_to_proto),
    }
}

fn sync_code_to_proto(code: SyncErrorCode) -> v1::sync_error::Code {
    match code {
        SyncErrorCode::Unspecified => v1::sync_error::Code::Unspecified,
        SyncErrorCode::RangeUnavailable => v1::sync_error::Code::RangeUnavailable,
        SyncErrorCode::TooMany => v1::sync_error::Code::TooMany,
        SyncErrorCode::Internal => v1::sync_error::Code::Internal,
    }
}

/// A committed block with the certificate that proves it committed (see [`decode_committed`]).
fn committed(c: &Convert, b: v1::CommittedBlock, field: &str) -> Result<CommittedBlock, WireError> {
    let block_field = format!("{field}.block");
    let block = c.block(c.required(b.block, &block_field)?, &block_field)?;
    let qc_field = format!("{field}.commit_qc");
    let commit_qc = c.qc(c.required(b.commit_qc, &qc_field)?, &qc_field)?;
    let child_field = format!("{field}.commit_child");
    let child = b
        .commit_child
        .map(|child| c.block(child, &child_field))
        .transpose()?;
    if let Some(child) = &child {
        if child.parent() != block.id() {
            return c.fail(
                "commit_mismatch",
                format!("{child_field}.parent_id"),
                format!("{} is not the block's id {}", child.parent(), block.id()),
            );
        }
        if block.round().checked_add(1) != Some(child.round()) {
            return c.fail(
                "commit_mismatch",
                format!("{child_field}.round"),
                format!(
                    "round {} does not follow the block's round {}",
                    child.round(),
                    block.round()
                ),
            );
        }
        if block.height().checked_add(1) != Some(child.height()) {
            return c.fail(
                "commit_mismatch",
                format!("{child_field}.height"),
                format!(
                    "height {} does not follow the block's height {}",
                    child.height(),
                    block.height()
                ),
            );
        }
    }
    match &child {
        Some(child) if commit_qc.block() != child.info() => {
            return c.fail(
                "commit_mismatch",
                qc_field,
                format!(
                    "certifies {:?}, not the commit child {:?}",
                    commit_qc.block(),
                    child.info()
                ),
            );
        }
        // A block committed as an ancestor carries the QC of the 2-chain that committed
        // it, which certifies a descendant: a higher block in a later round.
        None if commit_qc.height <= block.height() || commit_qc.round <= block.round() => {
            return c.fail(
                "commit_mismatch",
                qc_field,
                format!(
                    "certifies {:?}, which is not above the block {:?}",
                    commit_qc.block(),
                    block.info()
                ),
            );
        }
        _ => {}
    }
    Ok(CommittedBlock {
        block,
        commit_qc,
        child,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sync_error_messages_are_cut_to_stay_valid() {
        let message = "é".repeat(parallax_proto::MAX_SYNC_ERROR_MESSAGE_BYTES);
        let bytes = encode_sync_response(&Err(SyncError {
            code: SyncErrorCode::Internal,
            message,
        }));
        let Err(e) = decode_sync_response(&bytes).unwrap() else {
            panic!("expected an error response");
        };
        assert_eq!(e.code, SyncErrorCode::Internal);
        assert_eq!(
            e.message.len(),
            parallax_proto::MAX_SYNC_ERROR_MESSAGE_BYTES
        );
        assert!(e.message.chars().all(|ch| ch == 'é'));
    }
}
