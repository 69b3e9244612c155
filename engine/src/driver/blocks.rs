//! The chain side of the driver: executing the blocks consensus proposes or certifies,
//! building this node's payload as leader, committing what consensus commits, and importing
//! what block sync verified. Every change to the chain happens here, on the driver's thread.

use super::{Driver, DriverError, MAX_BLOCK_TXS};
use crate::{
    clock::{now_millis, now_secs},
    store,
    transactions::{DbAccounts, pool_env},
};
use alloy_primitives::B256;
use parallax_chain::{BlockContext, ChainError, ExecutedBlock, InvalidBlock};
use parallax_consensus::{Block, Event, Hash as BlockId};
use parallax_network::wire::{self, CommittedBlock};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{debug, error, info, warn};

impl Driver {
    /// The Ethereum hash of a consensus block, executing it (and its unexecuted ancestors,
    /// which consensus holds) if needed.
    pub(super) fn ensure_executed(&mut self, id: BlockId) -> Result<B256, ChainError> {
        let mut pending: Vec<Block> = Vec::new();
        let mut at = id;
        loop {
            if let Some((hash, _)) = self.eth.get(&at)
                && self.chain.header(hash).is_some()
            {
                break;
            }
            let block = self
                .consensus
                .as_ref()
                .and_then(|c| c.block(&at))
                .cloned()
                .ok_or_else(|| {
                    let c = self.consensus.as_ref();
                    ChainError::UnknownParent(format!(
                        "consensus block {at:?} (an ancestor of {id:?}; consensus holds {} uncommitted blocks above committed block {:?})",
                        c.map_or(0, |c| c.footprint().blocks),
                        c.map(|c| c.committed().id),
                    ))
                })?;
            at = block.parent();
            pending.push(block);
            if pending.len() > 64 {
                return Err(ChainError::UnknownParent("ancestry too deep".into()));
            }
        }
        let mut hash = self.eth[&at].0;
        while let Some(block) = pending.pop() {
            hash = self.execute(&block, None)?.hash;
        }
        Ok(hash)
    }

    /// Executes a consensus block's payload on its parent.
    pub(super) fn execute(
        &mut self,
        block: &Block,
        now: Option<u64>,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let (header, txs, deposits) = wire::decode_payload(block.payload())
            .map_err(|e| InvalidBlock::Execution(format!("payload: {e}")))?;
        if now.is_some() && !deposits.is_empty() {
            // A live proposal: every deposit must be one this node's own view of Ethereum
            // confirmed. (Certified ancestors and synced blocks were checked by a quorum.)
            let verdict = match &self.deposits {
                Some(view) => view.check(&deposits),
                None => Err("this node has no view of Ethereum to check deposits against".into()),
            };
            if let Err(reason) = verdict {
                if let Some(view) = &self.deposits {
                    view.refused.fetch_add(1, Ordering::Relaxed);
                }
                return Err(InvalidBlock::Deposits(reason).into());
            }
        }
        let parent = self.ensure_executed(block.parent())?;
        if header.parent_hash != parent {
            return Err(parallax_chain::InvalidBlock::Header {
                field: "parent_hash",
                found: header.parent_hash.to_string(),
                expected: parent.to_string(),
            }
            .into());
        }
        // Senders the mempool already recovered (from the same signed bytes) are not
        // recovered again.
        let known: Vec<Option<alloy_primitives::Address>> = match self.mempool.lock() {
            Ok(pool) => txs
                .iter()
                .map(|t| pool.get(t.tx_hash()).map(|p| p.sender))
                .collect(),
            Err(_) => Vec::new(),
        };
        let executed = self.chain.validate_with_senders(
            block.height(),
            block.author(),
            &header,
            txs,
            &deposits,
            &known,
            now,
        )?;
        self.remember(block.id(), executed.hash, block.height());
        Ok(executed)
    }

    pub(super) fn build_now(&mut self) -> Result<(), DriverError> {
        if let Some(event) = self.build_payload() {
            self.feed(event, None)?;
        }
        Ok(())
    }

    /// Builds the payload consensus asked for.
    pub(super) fn build_payload(&mut self) -> Option<Event> {
        let (round, parent, _) = self.build.take()?;
        let me = self.validator.as_ref()?.index;
        let parent_hash = match self.ensure_executed(parent.id) {
            Ok(hash) => hash,
            Err(e) => {
                warn!(round, error = %e, "cannot build: parent unknown");
                return None;
            }
        };
        let parent_header = self.chain.header(&parent_hash)?.clone();
        let base_fee = parent_header
            .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(0);
        let candidates: Vec<_> = self
            .mempool
            .lock()
            .map(|m| m.best(parent_header.gas_limit, base_fee, MAX_BLOCK_TXS))
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.envelope.clone(), p.sender))
            .collect();
        // Transactions already in uncommitted ancestors are skipped by execution (nonce
        // too low), so the pool need not know about them.
        let ctx = BlockContext {
            parent_hash,
            author: me,
            timestamp: now_secs(),
        };
        let deposits = match &self.deposits {
            Some(view) => match self.chain.next_deposit_nonce(parent_hash) {
                Ok(next) => view.pending(next, parallax_proto::MAX_BLOCK_DEPOSITS),
                Err(e) => {
                    warn!(round, error = %e, "reading the next deposit nonce failed");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let block = match self.chain.build(ctx, candidates, deposits) {
            Ok(block) => block,
            Err(e) => {
                error!(round, error = %e, "building a block failed");
                return None;
            }
        };
        let encoded: Vec<Vec<u8>> = block
            .transactions
            .iter()
            .map(alloy_eips::eip2718::Encodable2718::encoded_2718)
            .collect();
        let payload = wire::encode_payload(&block.header, &encoded, &block.deposits);
        debug!(
            round,
            number = block.header.number,
            transactions = block.transactions.len(),
            deposits = block.deposits.len(),
            "payload built"
        );
        Some(Event::PayloadBuilt {
            round,
            parent: parent.id,
            payload,
        })
    }

    /// Writes a committed block (executing it first if this node never did).
    pub(super) fn commit(&mut self, record: &CommittedBlock) -> Result<(), DriverError> {
        let height = record.block.height();
        self.shared
            .consensus
            .consensus_committed
            .fetch_max(height, Ordering::Relaxed);
        let head = self.chain.head().header.number;
        if height <= head {
            // Block sync got here first; it must be the same block.
            let stored = self
                .chain
                .db()
                .reader()
                .ok()
                .and_then(|r| store::committed_record(&r, height).ok().flatten());
            if stored.as_ref().map(|s| s.block.id()) != Some(record.block.id()) {
                return Err(DriverError::Commit(ChainError::Fork {
                    number: height,
                    hash: B256::ZERO,
                    head: self.chain.head().hash,
                }));
            }
            return Ok(());
        }
        let hash = match self.ensure_executed(record.block.id()) {
            Ok(hash) => hash,
            Err(ChainError::UnknownParent(what)) => {
                // Consensus committed a block whose ancestors this node does not hold
                // (it was down or is catching up): block sync brings them, with their proofs.
                warn!(height, missing = %what, "committed block above a gap: waiting for block sync");
                self.shared
                    .chain
                    .commit_gaps
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let started = Instant::now();
        let block = self.chain.commit(
            hash,
            wire::encode_committed(&record.block, &record.commit_qc, record.child.as_ref()).into(),
        )?;
        self.after_commit(&block, started.elapsed());
        Ok(())
    }

    /// Bookkeeping after `block` was written to the database, which took `persist`.
    pub(super) fn after_commit(&mut self, block: &Arc<ExecutedBlock>, persist: Duration) {
        let head = block.header.number;
        // Published as soon as the block is in the database (the run loop publishes the rest
        // of the status after each input), so the head RPC reports never trails the stored
        // chain for longer than one commit.
        self.shared.chain.head.store(head, Ordering::Relaxed);
        if let Ok(reader) = self.chain.db().reader() {
            let env = pool_env(self.chain.spec(), &block.header);
            let state = DbAccounts(&reader);
            if let Ok(mut pool) = self.mempool.lock() {
                // Every account whose balance or nonce changed: senders, and accounts that paid
                // through delegated code (EIP-7702) without sending.
                pool.on_commit(block.changes.accounts.keys().copied(), &state, &env);
                self.shared
                    .transactions
                    .mempool_size
                    .store(pool.len() as u64, Ordering::Relaxed);
            }
        }
        self.shared
            .chain
            .metrics
            .on_commit(block, persist, Instant::now());
        self.shared.chain.commits.fetch_add(1, Ordering::Relaxed);
        self.shared
            .chain
            .last_commit_ms
            .store(now_millis(), Ordering::Relaxed);
        self.shared
            .chain
            .committed_txs
            .fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
        if let (Some(view), Some(last)) = (&self.deposits, block.deposits.last()) {
            view.prune_below(last.nonce + 1);
        }
        let _ = self.commits.send(block.clone());
        if head.is_multiple_of(16)
            && let Err(e) = store::prune_blocks(self.chain.db(), head)
        {
            warn!(error = %e, "pruning stored consensus blocks failed");
        }
    }

    /// Imports blocks that block sync verified as committed; returns how many were new.
    pub(super) fn import(&mut self, records: Vec<CommittedBlock>) -> Result<u64, DriverError> {
        let mut imported = 0;
        for record in records {
            let height = record.block.height();
            let head = self.chain.head().header.number;
            if height <= head {
                continue;
            }
            if height != head + 1 {
                break;
            }
            let (header, txs, deposits) = match wire::decode_payload(record.block.payload()) {
                Ok(p) => p,
                Err(e) => {
                    return Err(DriverError::Commit(ChainError::Invalid(
                        parallax_chain::InvalidBlock::Execution(format!("synced payload: {e}")),
                    )));
                }
            };
            let executed = self.chain.validate(
                height,
                record.block.author(),
                &header,
                txs,
                &deposits,
                None,
            )?;
            let started = Instant::now();
            let block = self.chain.commit(
                executed.hash,
                wire::encode_committed(&record.block, &record.commit_qc, record.child.as_ref())
                    .into(),
            )?;
            let persist = started.elapsed();
            self.remember(record.block.id(), block.hash, height);
            self.after_commit(&block, persist);
            imported += 1;
        }
        if imported > 0 {
            info!(
                imported,
                head = self.chain.head().header.number,
                "synced blocks imported"
            );
            let behind = self
                .consensus
                .as_ref()
                .is_some_and(|c| c.committed().height < self.chain.head().header.number);
            if behind {
                self.start_consensus()?;
            }
        }
        Ok(imported)
    }
}
