//! A block's output once every transaction is validated: receipts and the transactions
//! root, and the state changes folded per address partition, as fork-join tasks on the pool.

use super::mv_memory::{MvMemory, lock};
use super::ordered_root::ordered_root_with;
use super::{PARTS_PER_THREAD, Shared, fold};
use crate::{
    evm::{Receipts, TxResult, finish_state, output, receipts},
    state::{Overlay, OverlayAccount, SortedChanges, StateError, StateView, Write},
    types::{Block, BlockOutput, ExecutionError},
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use parallax_storage_api::StateChanges;
use rayon::prelude::*;

impl<'a, S: StateView + ?Sized> Shared<'a, S> {
    /// Builds the block's output once every transaction is executed and validated: the
    /// receipts and their root, the transactions root and the state changes. Runs as
    /// fork-join tasks on the executor's pool: the worker that took this on forks them, and
    /// the other worker steals whatever it has not started yet.
    pub(super) fn finish_parallel(&self, threads: usize) -> Result<BlockOutput, ExecutionError> {
        let ((receipts, transactions_root), (changes, ())) = rayon::join(
            || rayon::join(|| self.receipts(), || transactions_root(self.block)),
            || {
                rayon::join(
                    || self.state_changes(threads * PARTS_PER_THREAD),
                    || {
                        (0..MvMemory::SHARDS)
                            .into_par_iter()
                            .for_each(|shard| self.mv.clear_shard(shard))
                    },
                )
            },
        );
        Ok(output(receipts?, transactions_root, changes?))
    }

    /// The receipts, their bloom and root, from the transactions' final results.
    pub(super) fn receipts(&self) -> Result<Receipts, ExecutionError> {
        let mut results = Vec::with_capacity(self.results.len());
        for (tx, result) in self.results.iter().enumerate() {
            match lock(result).take() {
                Some(r) => results.push(r),
                None => {
                    return Err(ExecutionError::Worker(format!(
                        "transaction {tx} was never executed"
                    )));
                }
            }
        }
        receipts(self.block, results, |r| {
            ordered_root_with(r.len(), |i, out| r[i].encode_2718(out))
        })
    }

    /// The block's state changes from every transaction's final writes and lazy fee, in
    /// two parallel passes: chunks of transactions sort their writes by address partition
    /// (moving them out of the multi-version memory), then each partition applies its
    /// writes in transaction order and compares the result with the base state.
    pub(super) fn state_changes(&self, parts: usize) -> Result<StateChanges, ExecutionError> {
        let n = self.block.transactions.len();
        let beneficiary = self.block.env.beneficiary;
        let chunk = n.div_ceil(parts.max(1)).max(64);
        let buckets: Vec<Vec<Vec<Write>>> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                // About three writes per transaction (sender, recipient, a slot or two),
                // spread over the partitions: reserved so the buckets do not regrow.
                let txs = ((c + 1) * chunk).min(n) - c * chunk;
                let mut out: Vec<Vec<Write>> = (0..parts)
                    .map(|_| Vec::with_capacity(txs * 3 / parts + 4))
                    .collect();
                for tx in c * chunk..((c + 1) * chunk).min(n) {
                    for write in self.mv.take_writes(tx) {
                        push_write(&mut out[partition(&write.address(), parts)], write);
                    }
                    let fee = self.mv.fee(tx);
                    if !fee.is_zero() {
                        push_write(
                            &mut out[partition(&beneficiary, parts)],
                            Write::BalanceIncrement(beneficiary, fee),
                        );
                    }
                }
                out
            })
            .collect();
        // Each partition takes its buckets (one per chunk, in transaction order).
        let mut by_part: Vec<Vec<Vec<Write>>> = (0..parts)
            .map(|_| Vec::with_capacity(buckets.len()))
            .collect();
        for chunk in buckets {
            for (part, writes) in chunk.into_iter().enumerate() {
                by_part[part].push(writes);
            }
        }
        let withdrawals: Vec<Write> = self
            .block
            .withdrawals
            .iter()
            .filter(|w| w.amount_gwei != 0)
            .map(|w| {
                let amount = U256::from(w.amount_gwei) * U256::from(1_000_000_000u64);
                Write::BalanceIncrement(w.address, amount)
            })
            .collect();
        let partials = by_part
            .into_par_iter()
            .enumerate()
            .map(|(part, chunks)| {
                let owns = |a: &Address| partition(a, parts) == part;
                let mut pre: Vec<(Address, OverlayAccount)> = self
                    .pre
                    .accounts
                    .iter()
                    .filter(|(a, _)| owns(a))
                    .map(|(a, account)| (*a, account.clone()))
                    .collect();
                pre.sort_unstable_by_key(|(a, _)| *a);
                let mut chunks = chunks;
                // Withdrawals are credited after the transactions.
                chunks.push(
                    withdrawals
                        .iter()
                        .filter(|w| owns(&w.address()))
                        .cloned()
                        .collect(),
                );
                fold::fold_partition(self.state, pre, &chunks)
            })
            .collect::<Result<Vec<_>, StateError>>()
            .map_err(|e| ExecutionError::State(e.0))?;
        Ok(merge_changes(partials))
    }
}

/// The fold partition (of `parts`) that `address` belongs to.
fn partition(address: &Address, parts: usize) -> usize {
    (usize::from(address.0[19]) | usize::from(address.0[18]) << 8) % parts
}

/// The transactions root, when every transaction has its signed envelope, with large
/// subtries hashed on the pool.
fn transactions_root(block: &Block) -> Option<B256> {
    let transactions = &block.transactions;
    if transactions.iter().any(|t| t.envelope.is_none()) {
        return None;
    }
    Some(ordered_root_with(transactions.len(), |i, out| {
        if let Some(envelope) = &transactions[i].envelope {
            envelope.encode_2718(out);
        }
    }))
}

/// Builds the output of a block executed in order (`results` and the `overlay` of its
/// writes): the receipts and transactions tries are hashed on the pool (the caller runs on
/// one of its threads) while the state changes are folded beside them.
pub(super) fn finish_with_pool<S: StateView + ?Sized>(
    block: &Block,
    state: &S,
    results: Vec<TxResult>,
    overlay: Overlay,
) -> Result<BlockOutput, ExecutionError> {
    let ((receipts, transactions_root), changes) = rayon::join(
        || {
            rayon::join(
                || {
                    receipts(block, results, |r| {
                        ordered_root_with(r.len(), |i, out| r[i].encode_2718(out))
                    })
                },
                || transactions_root(block),
            )
        },
        || finish_state(block, state, overlay, |_| true),
    );
    let changes = changes.map_err(|e| ExecutionError::State(e.0))?;
    Ok(output(receipts?, transactions_root, changes))
}

/// Appends `write` to a partition's writes, adding a balance increment to the one before it
/// when that is an increment of the same account (the beneficiary's fees, many deposits to
/// one address): consecutive increments commute, so the result is the same.
fn push_write(writes: &mut Vec<Write>, write: Write) {
    if let Write::BalanceIncrement(address, amount) = &write
        && let Some(Write::BalanceIncrement(last, total)) = writes.last_mut()
        && last == address
    {
        *total = total.saturating_add(*amount);
        return;
    }
    writes.push(write);
}

/// Merges the state changes of disjoint address partitions (accounts, storage and code on
/// the pool side by side: the entries are gathered, their sorted runs merged and the final
/// maps bulk-built, instead of appending map after map, which would rebuild the growing
/// map once per partition).
fn merge_changes(parts: Vec<SortedChanges>) -> StateChanges {
    fn merged<K: Ord + Send, V: Send>(runs: Vec<Vec<(K, V)>>) -> std::collections::BTreeMap<K, V> {
        let mut entries: Vec<(K, V)> = Vec::with_capacity(runs.iter().map(Vec::len).sum());
        for run in runs {
            entries.extend(run);
        }
        // Each partition's entries are one sorted run: a stable, run-adaptive sort merges
        // them instead of sorting from scratch.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.into_iter().collect()
    }
    let mut accounts = Vec::with_capacity(parts.len());
    let mut storage = Vec::with_capacity(parts.len());
    let mut bytecodes = Vec::with_capacity(parts.len());
    for part in parts {
        accounts.push(part.accounts);
        storage.push(part.storage);
        bytecodes.push(part.bytecodes);
    }
    let (accounts, (storage, bytecodes)) = rayon::join(
        || merged(accounts),
        || rayon::join(|| merged(storage), || merged(bytecodes)),
    );
    StateChanges {
        accounts,
        storage,
        bytecodes,
    }
}
