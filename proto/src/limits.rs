//! Size and count limits of the wire formats.
//!
//! The block limits follow Ethereum's: a transaction is at most 128 KiB (geth's `txMaxSize`),
//! and a block's RLP at most 8 MiB (EIP-7934's `MAX_RLP_BLOCK_SIZE`). Message limits leave room
//! for a full block plus its certificates and protobuf framing. The networking layer's own
//! frame limits (gossipsub's max transmit size, request-response codec limits) must be at
//! least these.

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

/// Largest RLP header. Real headers are about 600 bytes; extra data is at most 32 bytes.
pub const MAX_HEADER_BYTES: usize = 2 * 1024;

/// Largest block: header plus transactions (EIP-7934's `MAX_RLP_BLOCK_SIZE`).
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;

/// Most transactions in a block (far above what any gas limit Parallax uses can hold).
pub const MAX_BLOCK_TRANSACTIONS: usize = 50_000;

/// Most signatures in a certificate: one per validator, and a genesis holds at most 256.
pub const MAX_SIGNATURES_PER_CERTIFICATE: usize = 256;

/// Largest encoded [`ConsensusMessage`](crate::v1::ConsensusMessage): a full block, its
/// parent QC and a TC, with framing.
pub const MAX_CONSENSUS_MESSAGE_BYTES: usize = MAX_BLOCK_BYTES + 1024 * 1024;

/// Most blocks a sync request may ask for.
pub const MAX_SYNC_BLOCKS: u32 = 128;

/// Largest encoded [`BlockSyncRequest`](crate::v1::BlockSyncRequest).
pub const MAX_SYNC_REQUEST_BYTES: usize = 64;

/// Largest encoded [`BlockSyncResponse`](crate::v1::BlockSyncResponse). A responder sends as
/// many consecutive blocks as fit.
pub const MAX_SYNC_RESPONSE_BYTES: usize = 4 * MAX_CONSENSUS_MESSAGE_BYTES;

/// Longest error message in a sync response.
pub const MAX_SYNC_ERROR_MESSAGE_BYTES: usize = 1024;
