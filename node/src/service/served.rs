//! The node as the JSON-RPC server sees it ([`parallax_rpc::NodeApi`]): its pool through the
//! [`Submitter`], the figures the driver publishes in [`Shared`], and the evidence it stored.

use super::{Shared, Submitter};
use alloy_primitives::{Address, B256};
use parallax_consensus::Evidence;
use parallax_engine::store;
use parallax_rpc::{ConsensusStatus, NodeApi};
use parallax_storage::Database;
use parallax_txpool::{MempoolError, PooledTx};
use std::sync::{Arc, atomic::Ordering};

/// A running node, served over JSON-RPC.
#[derive(Debug)]
pub(crate) struct ServedNode {
    pub(crate) submitter: Submitter,
    pub(crate) shared: Arc<Shared>,
    pub(crate) db: Arc<Database>,
}

impl NodeApi for ServedNode {
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, MempoolError> {
        self.submitter.submit(raw)
    }

    fn pooled_transaction(&self, hash: &B256) -> Option<Arc<PooledTx>> {
        self.submitter.pooled_tx(hash)
    }

    fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        self.submitter.pending_nonce(sender, state_nonce)
    }

    fn pool_counts(&self) -> (usize, usize) {
        self.submitter.pool_counts()
    }

    fn head_number(&self) -> u64 {
        self.shared.chain.head.load(Ordering::Relaxed)
    }

    fn consensus_status(&self) -> ConsensusStatus {
        let s = &self.shared;
        ConsensusStatus {
            round: s.consensus.round.load(Ordering::Relaxed),
            leader: s.consensus.leader.load(Ordering::Relaxed),
            highest_qc_round: s.consensus.highest_qc_round.load(Ordering::Relaxed),
            committed_round: s.consensus.committed_round.load(Ordering::Relaxed),
            locked_round: s.consensus.locked_round.load(Ordering::Relaxed),
            last_voted_round: s.consensus.last_voted_round.load(Ordering::Relaxed),
            last_commit_ms: s.chain.last_commit_ms.load(Ordering::Relaxed),
            commits: s.chain.commits.load(Ordering::Relaxed),
            mempool_size: s.transactions.mempool_size.load(Ordering::Relaxed),
        }
    }

    fn evidence(&self, validator: Option<u32>, limit: usize) -> Result<Vec<Evidence>, String> {
        let reader = self.db.reader().map_err(|e| e.to_string())?;
        store::stored_evidence(&reader, validator, limit).map_err(|e| e.to_string())
    }
}
