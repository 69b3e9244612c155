//! A sender's queue of transactions by nonce (its ready run, what a new account state
//! drops), and the keys that order senders: for eviction (cheapest last transaction first)
//! and for block packing (highest tip first).

use crate::{AccountInfo, PRICE_BUMP, PooledTx};
use alloy_primitives::{Address, U256};
use std::{
    cmp::{Ordering, Reverse},
    collections::BTreeMap,
    sync::Arc,
};

/// A sender's transactions and the account state they were checked against.
#[derive(Debug)]
pub(crate) struct SenderTxs {
    pub(crate) state_nonce: u64,
    pub(crate) balance: U256,
    pub(crate) txs: BTreeMap<u64, Arc<PooledTx>>,
    /// How many from `state_nonce` on are ready.
    pub(crate) ready: usize,
    /// Sum of the pooled transactions' costs.
    pub(crate) cost: U256,
    /// Its entry in the eviction index, while attached.
    pub(crate) evict_key: Option<EvictKey>,
}

impl SenderTxs {
    pub(crate) fn new(info: AccountInfo) -> Self {
        Self {
            state_nonce: info.nonce,
            balance: info.balance,
            txs: BTreeMap::new(),
            ready: 0,
            cost: U256::ZERO,
            evict_key: None,
        }
    }

    /// The first nonce past the ready run.
    pub(crate) fn ready_end(&self) -> u64 {
        self.state_nonce + self.ready as u64
    }

    /// Extends the ready run over newly consecutive nonces. Only valid while the balance covers
    /// every pooled transaction, which admission ensures.
    pub(crate) fn extend_ready(&mut self) {
        while self.txs.contains_key(&self.ready_end()) {
            self.ready += 1;
        }
    }

    /// Recounts the ready run: consecutive nonces whose cumulative cost the balance covers.
    pub(crate) fn recount_ready(&mut self) {
        let mut next = self.state_nonce;
        let mut spent = U256::ZERO;
        let mut ready = 0;
        for (&nonce, tx) in self.txs.range(self.state_nonce..) {
            spent = spent.saturating_add(tx.cost);
            if nonce != next || spent > self.balance {
                break;
            }
            ready += 1;
            next = nonce + 1;
        }
        self.ready = ready;
    }

    /// Removes the transaction with `nonce`; later ones stop being ready.
    pub(crate) fn remove_nonce(&mut self, nonce: u64) -> Option<Arc<PooledTx>> {
        let tx = self.txs.remove(&nonce)?;
        self.cost = self.cost.saturating_sub(tx.cost);
        if nonce < self.ready_end() {
            self.ready = (nonce - self.state_nonce) as usize;
        }
        Some(tx)
    }

    /// Takes a new account state: drops transactions below its nonce and those the balance
    /// cannot pay for alone, and recounts the ready run. Returns what it dropped.
    pub(crate) fn refresh(&mut self, info: AccountInfo) -> Vec<Arc<PooledTx>> {
        self.state_nonce = info.nonce;
        self.balance = info.balance;
        let kept = self.txs.split_off(&info.nonce);
        let mut dropped: Vec<_> = std::mem::replace(&mut self.txs, kept)
            .into_values()
            .collect();
        self.txs.retain(|_, tx| {
            let affordable = tx.cost <= info.balance;
            if !affordable {
                dropped.push(Arc::clone(tx));
            }
            affordable
        });
        self.cost = self
            .txs
            .values()
            .fold(U256::ZERO, |sum, tx| sum.saturating_add(tx.cost));
        self.recount_ready();
        dropped
    }
}

/// A sender's place in the eviction order: by its last transaction, queued before ready,
/// cheapest first, newest first among equals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EvictKey {
    pub(crate) ready: bool,
    pub(crate) priority: i128,
    pub(crate) newest_first: Reverse<u64>,
    pub(crate) sender: Address,
}

impl EvictKey {
    /// The lowest key with `ready` set.
    pub(crate) fn first_ready() -> Self {
        Self {
            ready: true,
            priority: i128::MIN,
            newest_first: Reverse(u64::MAX),
            sender: Address::ZERO,
        }
    }
}

/// A sender's next transaction in [`Mempool::best`](crate::Mempool::best)'s heap.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) tip: u128,
    pub(crate) sequence: u64,
    pub(crate) sender: Address,
    pub(crate) nonce: u64,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest tip first, then the earliest admitted.
        self.tip
            .cmp(&other.tip)
            .then_with(|| other.sequence.cmp(&self.sequence))
            .then_with(|| self.sender.cmp(&other.sender))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A sender's eviction key: that of its last transaction.
pub(crate) fn evict_key(sender: Address, queue: &SenderTxs, base_fee: u64) -> Option<EvictKey> {
    let (&nonce, last) = queue.txs.last_key_value()?;
    Some(EvictKey {
        ready: nonce < queue.ready_end(),
        priority: last.priority(base_fee),
        newest_first: Reverse(last.sequence),
        sender,
    })
}

/// Whether `new` may replace `old`: both fee cap and tip strictly higher and at least
/// [`PRICE_BUMP`] percent higher (geth's rule, integer division included).
pub(crate) fn bumped(old: &PooledTx, new: &PooledTx) -> bool {
    let threshold = |v: u128| U256::from(v) * U256::from(100 + PRICE_BUMP) / U256::from(100);
    new.fee_cap > old.fee_cap
        && new.tip_cap > old.tip_cap
        && U256::from(new.fee_cap) >= threshold(old.fee_cap)
        && U256::from(new.tip_cap) >= threshold(old.tip_cap)
}
