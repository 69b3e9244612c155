//! What the server asks of the node it serves, besides the database it reads: the
//! transaction pool (admission and gossip are the node's), the committed head as the node
//! last published it, consensus figures and stored evidence.
//!
//! The node implements [`NodeApi`]; the server holds it as `Arc<dyn NodeApi>`, so it never
//! sees the node's threads, locks or counters, and a test can serve any chain through it.

use alloy_primitives::{Address, B256};
use parallax_consensus::Evidence;
use parallax_txpool::{MempoolError, PooledTx};
use std::sync::Arc;

/// The node behind the server.
pub trait NodeApi: Send + Sync + 'static {
    /// Admits a signed transaction (EIP-2718 bytes) into the pool and has it gossiped, as
    /// `eth_sendRawTransaction` asks; the error reads as geth's.
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, MempoolError>;

    /// A pooled transaction by hash.
    fn pooled_transaction(&self, hash: &B256) -> Option<Arc<PooledTx>>;

    /// The nonce after `sender`'s pooled transactions (`state_nonce`, its nonce at the head,
    /// when none are pooled).
    fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64;

    /// Ready and queued transactions in the pool.
    fn pool_counts(&self) -> (usize, usize);

    /// The committed head's number, as last published (cheaper than a database read).
    fn head_number(&self) -> u64;

    /// Consensus figures for `parallax_consensusStatus`.
    fn consensus_status(&self) -> ConsensusStatus;

    /// Stored equivocation evidence, against `validator` or anyone, in (validator, round)
    /// order, at most `limit`.
    fn evidence(&self, validator: Option<u32>, limit: usize) -> Result<Vec<Evidence>, String>;
}

/// Consensus figures as the node last published them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsensusStatus {
    /// The current round.
    pub round: u64,
    /// The current round's leader (validator index).
    pub leader: u64,
    /// The highest round with a quorum certificate.
    pub highest_qc_round: u64,
    /// The round of the last committed block.
    pub committed_round: u64,
    /// The locked round.
    pub locked_round: u64,
    /// The last round this validator voted in.
    pub last_voted_round: u64,
    /// When this node last committed a block (Unix milliseconds; 0: not since start).
    pub last_commit_ms: u64,
    /// Blocks committed since start.
    pub commits: u64,
    /// Transactions in the pool.
    pub mempool_size: u64,
}
