//! Size and count limits of the wire formats.
//!
//! A consensus block carries an opaque payload of at most [`MAX_PAYLOAD_BYTES`], the consensus
//! crate's limit. The Parallax node's payload, a [`BlockPayload`](crate::v1::BlockPayload),
//! follows Ethereum's limits: a transaction is at most 128 KiB (geth's `txMaxSize`), and
//! header plus transactions at most 8 MiB (EIP-7934's `MAX_RLP_BLOCK_SIZE`). Message limits
//! leave room for full blocks plus their certificates and protobuf framing. The networking
//! layer's own frame limits (gossipsub's max transmit size, request-response codec limits) must
//! be at least these.
//!
//! # Limits shared with consensus
//!
//! This crate does not depend on `parallax-consensus`, so the limits its canonical codec
//! enforces are repeated here: [`MAX_PAYLOAD_BYTES`] and [`MAX_SIGNATURES_PER_CERTIFICATE`].
//! They must stay equal to `parallax_consensus::types::{MAX_PAYLOAD_BYTES, MAX_SIGNATURES}`; a
//! test in `parallax-node` (which depends on both) checks it.

/// Length of a hash or block id.
pub const HASH_BYTES: usize = 32;

/// Length of an ed25519 signature.
pub const SIGNATURE_BYTES: usize = 64;

/// Largest transaction envelope (geth's limit).
pub const MAX_TRANSACTION_BYTES: usize = 128 * 1024;

/// Most transactions in one gossiped batch.
pub const MAX_TRANSACTIONS_PER_BATCH: usize = 1_024;

/// Largest encoded [`TransactionBatch`](crate::v1::TransactionBatch).
pub const MAX_TRANSACTION_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Largest consensus block payload. Equal to `parallax_consensus::types::MAX_PAYLOAD_BYTES`
/// (checked by a test in `parallax-node`).
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;

/// Largest RLP header. Real headers are about 600 bytes; extra data is at most 32 bytes.
pub const MAX_HEADER_BYTES: usize = 2 * 1024;

/// Largest Ethereum block in a [`BlockPayload`](crate::v1::BlockPayload): header plus
/// transactions (EIP-7934's `MAX_RLP_BLOCK_SIZE`).
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;

/// Most transactions in a block (far above what any gas limit Parallax uses can hold).
pub const MAX_BLOCK_TRANSACTIONS: usize = 50_000;

/// Most bridge deposits one block mints.
pub const MAX_BLOCK_DEPOSITS: usize = 256;

/// Largest token metadata a bridge deposit carries: `abi.encode(string, string, uint8)` of a
/// name of at most 64 bytes and a symbol of at most 32 (what `ParallaxBridge` emits).
pub const MAX_DEPOSIT_METADATA_BYTES: usize = 256;

/// Largest encoded [`WithdrawalAttestation`](crate::v1::WithdrawalAttestation).
pub const MAX_ATTESTATION_BYTES: usize = 256;

/// Length of a secp256k1 bridge signature (r, s, v).
pub const BRIDGE_SIGNATURE_BYTES: usize = 65;

/// Most signatures in a certificate, and most participants in a block: one per validator, and
/// a genesis holds at most 256. Equal to `parallax_consensus::types::MAX_SIGNATURES` (checked
/// by a test in `parallax-node`).
pub const MAX_SIGNATURES_PER_CERTIFICATE: usize = 256;

/// Largest encoded [`ConsensusMessage`](crate::v1::ConsensusMessage): a block with a full
/// payload, its parent QC and a TC, with framing.
pub const MAX_CONSENSUS_MESSAGE_BYTES: usize = MAX_PAYLOAD_BYTES + 1024 * 1024;

/// Most blocks a sync request may ask for.
pub const MAX_SYNC_BLOCKS: u32 = 128;

/// Largest encoded [`BlockSyncRequest`](crate::v1::BlockSyncRequest).
pub const MAX_SYNC_REQUEST_BYTES: usize = 64;

/// Largest encoded [`CommittedBlock`](crate::v1::CommittedBlock): a block and its commit
/// child, both with full payloads, and a QC, with framing.
pub const MAX_COMMITTED_BLOCK_BYTES: usize = 2 * MAX_CONSENSUS_MESSAGE_BYTES;

/// Largest encoded [`BlockSyncResponse`](crate::v1::BlockSyncResponse): room for at least one
/// [`CommittedBlock`](crate::v1::CommittedBlock) of the largest size. A responder sends as many
/// consecutive blocks as fit.
pub const MAX_SYNC_RESPONSE_BYTES: usize = MAX_COMMITTED_BLOCK_BYTES + 1024;

/// Longest error message in a sync response.
pub const MAX_SYNC_ERROR_MESSAGE_BYTES: usize = 1024;
