//! Recovering transaction senders from their signatures, in parallel.

use crate::types::Transaction;
use alloy_consensus::{TxEnvelope, transaction::SignerRecoverable};
use rayon::prelude::*;

/// A transaction whose signature does not yield a sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction {index}: cannot recover the sender: {reason}")]
pub struct RecoveryError {
    /// Index of the transaction in the input.
    pub index: usize,
    /// Why recovery failed.
    pub reason: String,
}

/// Recovers every transaction's sender (secp256k1 public-key recovery, the costly part of
/// admitting a transaction) on up to `threads` threads, keeping the input order. Fails on
/// the first transaction, by index, whose signature is invalid.
pub fn recover_senders(
    envelopes: Vec<TxEnvelope>,
    threads: usize,
) -> Result<Vec<Transaction>, RecoveryError> {
    let threads = threads.clamp(1, envelopes.len().max(1));
    let chunk = envelopes.len().div_ceil(threads).max(1);
    let mut out: Vec<Result<Transaction, RecoveryError>> = Vec::with_capacity(envelopes.len());
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut rest = envelopes;
        let mut offset = 0;
        while !rest.is_empty() {
            let tail = rest.split_off(chunk.min(rest.len()));
            let part = std::mem::replace(&mut rest, tail);
            let start = offset;
            offset += part.len();
            handles.push(scope.spawn(move || {
                part.into_iter()
                    .enumerate()
                    .map(|(i, envelope)| recover(start + i, envelope))
                    .collect::<Vec<_>>()
            }));
        }
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(_) => out.push(Err(RecoveryError {
                    index: out.len(),
                    reason: "recovery thread panicked".into(),
                })),
            }
        }
    });
    out.into_iter().collect()
}

/// Recovers transaction `index`'s sender.
fn recover(index: usize, envelope: TxEnvelope) -> Result<Transaction, RecoveryError> {
    match envelope.recover_signer() {
        Ok(sender) => Ok(Transaction::from_envelope(envelope, sender)),
        Err(e) => Err(RecoveryError {
            index,
            reason: e.to_string(),
        }),
    }
}

/// [`recover_senders`] on an existing rayon pool (the executor's own), keeping the input
/// order and failing on the invalid transaction with the lowest index.
pub(crate) fn recover_on_pool(
    pool: &rayon::ThreadPool,
    envelopes: Vec<TxEnvelope>,
) -> Result<Vec<Transaction>, RecoveryError> {
    let recovered: Vec<Result<Transaction, RecoveryError>> = pool.install(|| {
        envelopes
            .into_par_iter()
            .enumerate()
            .with_min_len(16)
            .map(|(i, envelope)| recover(i, envelope))
            .collect()
    });
    recovered.into_iter().collect()
}
