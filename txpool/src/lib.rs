//! The transaction pool: signed transactions waiting for a block.
//!
//! # Model
//!
//! Transactions are EIP-2718 [`TxEnvelope`]s (legacy with EIP-155, EIP-2930, EIP-1559,
//! EIP-7702; blob transactions are not taken). Each sender has a queue ordered by nonce. A
//! transaction is **ready** when every nonce from the sender's state nonce up to it is pooled
//! and the sender's balance covers all of them (`gas_limit * fee_cap + value` each); the
//! others are **queued** (a nonce gap, or funds that ran short after a block). Blocks take
//! ready transactions only.
//!
//! # API
//!
//! * [`decode_raw`] turns `eth_sendRawTransaction` bytes into a [`TxEnvelope`];
//!   [`Mempool::add`] admits one (recovering its sender) against an [`AccountSource`] (the
//!   state at the committed head) and a [`PoolEnv`] (chain id, the next block's base fee, the
//!   block gas limit, the fork); [`Mempool::add_raw`] does both.
//! * [`Mempool::best`] lists ready transactions in an order a block can execute them in.
//! * [`Mempool::on_commit`] takes a committed block's senders: it drops what the block used
//!   up, promotes what became executable and demotes or drops what can no longer pay.
//! * [`Mempool::remove`], [`Mempool::get`], [`Mempool::contains`], [`Mempool::status`],
//!   [`Mempool::pending_nonce`] (for `eth_getTransactionCount(.., "pending")`),
//!   [`Mempool::iter`] and [`Mempool::ready`] (for gossip and RPC), the sizes and
//!   [`Mempool::stats`] (counters for metrics).
//!
//! # Admission
//!
//! The checks follow go-ethereum's `core/txpool` and its errors read as geth's do (see
//! [`MempoolError`]): decoding (no trailing bytes), type, empty EIP-7702 authorization list,
//! 128 KiB size, EIP-155 replay protection, EIP-3860 initcode size (Shanghai), EIP-7825 gas
//! cap (Osaka), block gas limit, chain id, signature (low `s`), tip not above fee cap, nonce
//! below 2^64-1, fee cap at least the next block's base fee (geth would queue such a
//! transaction; Parallax refuses it), intrinsic gas and the EIP-7623 floor (Prague), then
//! against the state: nonce not below the account's, the balance covering the transaction
//! alone and on top of the sender's other pooled ones, "already known", replacement of the
//! same sender and nonce only with a 10% bump of both fee cap and tip ([`PRICE_BUMP`]), the
//! per-sender limit and the pool's size.
//!
//! # Limits and eviction
//!
//! [`MempoolConfig`] bounds the number of transactions in total and per sender and their
//! encoded bytes. When the pool is full, a newcomer evicts the cheapest transaction, by
//! effective tip at the current base fee, if it pays strictly more: queued transactions go
//! first, and only the last transaction of a sender is ever evicted, so eviction never opens a
//! nonce gap among ready transactions. A future-nonce newcomer never evicts a ready one. If
//! making room takes several evictions (a large newcomer against the byte limit) and one is
//! refused, those already made stand. A sender at its limit may still add a nonce below its
//! highest pooled one (filling a gap), which drops its highest.
//!
//! # Cost
//!
//! Admission, removal and eviction are `O(log n)` in the pool plus `O(k)` in the sender's own
//! queue, which [`MempoolConfig::max_per_sender`] bounds. [`Mempool::best`] builds a heap of
//! one head transaction per sender with ready transactions and pops it, `O(s + m log s)` for
//! `s` senders and `m` transactions returned. A change of base fee re-keys the eviction
//! index, `O(s log s)`, once per block.

mod error;
mod queue;
#[cfg(test)]
mod tests;
mod validate;

pub use error::MempoolError;
pub use validate::{MAX_TX_SIZE, Recovered, decode_raw};

use queue::{Candidate, EvictKey, SenderTxs, bumped, evict_key};

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, I256, U256};
use parallax_genesis::MempoolConfig;
use revm::primitives::hardfork::SpecId;
use std::{
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet},
    sync::Arc,
};
use tracing::{debug, warn};

/// The percentage both fee cap and tip must rise by for a transaction to replace a pooled one
/// with the same sender and nonce (geth's `PriceBump`).
pub const PRICE_BUMP: u128 = 10;

/// The least gas any transaction needs; `best` stops when less remains.
const MIN_TX_GAS: u64 = 21_000;

/// An account as the pool needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountInfo {
    /// The next nonce the account may use.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
}

/// The account state at the committed head.
pub trait AccountSource {
    /// The account at `address`; a missing account is `AccountInfo::default()` (zero nonce
    /// and balance), not an error.
    fn account(&self, address: Address) -> Result<AccountInfo, String>;
}

/// What admission checks a transaction against, besides the accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolEnv {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The base fee of the next block.
    pub base_fee: u64,
    /// The block gas limit.
    pub block_gas_limit: u64,
    /// The fork in force for the next block: it decides which types are accepted and the
    /// intrinsic gas (with the EIP-7623 floor from Prague).
    pub spec: SpecId,
}

/// A pooled transaction, shared with block building, gossip and RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledTx {
    /// Transaction hash.
    pub hash: B256,
    /// The recovered sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// `max_fee_per_gas`, or the gas price of a legacy or EIP-2930 transaction.
    pub fee_cap: u128,
    /// `max_priority_fee_per_gas`, or the gas price of a legacy or EIP-2930 transaction.
    pub tip_cap: u128,
    /// The most it can cost the sender: `gas_limit * fee_cap + value`.
    pub cost: U256,
    /// The signed transaction.
    pub envelope: TxEnvelope,
    /// Its EIP-2718 encoding (what gossip and `eth_getRawTransactionByHash` send).
    pub encoded: Bytes,
    /// Admission order: lower came first. Breaks ties between equal tips.
    pub sequence: u64,
}

impl PooledTx {
    /// The tip per gas a block with `base_fee` would pay: `min(tip_cap, fee_cap - base_fee)`,
    /// or `None` when the fee cap is below the base fee.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.fee_cap
            .checked_sub(u128::from(base_fee))
            .map(|room| room.min(self.tip_cap))
    }

    /// The effective tip as a signed number, negative below the base fee; the eviction order.
    fn priority(&self, base_fee: u64) -> i128 {
        match self.effective_tip(base_fee) {
            Some(tip) => i128::try_from(tip).unwrap_or(i128::MAX),
            // Below the base fee, so the fee cap fits in 64 bits.
            None => self.fee_cap as i128 - i128::from(base_fee),
        }
    }
}

/// Whether a pooled transaction can go into the next block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Executable now: its nonce continues the sender's state nonce and ready transactions.
    Ready,
    /// Waiting for a lower nonce (or for funds).
    Queued,
}

/// What [`Mempool::add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The admitted transaction.
    pub hash: B256,
    /// Whether it is executable now.
    pub status: TxStatus,
    /// The pooled transaction with the same sender and nonce it replaced.
    pub replaced: Option<B256>,
    /// Transactions evicted to make room for it.
    pub evicted: Vec<B256>,
}

/// What [`Mempool::on_commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitOutcome {
    /// Transactions dropped: nonce used up, or the sender can no longer pay for one alone.
    pub removed: usize,
    /// Transactions that became ready.
    pub promoted: usize,
    /// Ready transactions that became queued (the sender's funds no longer cover them).
    pub demoted: usize,
    /// Senders whose account could not be read; their transactions were dropped.
    pub state_errors: usize,
}

/// Counters since the pool was created, for the node's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Transactions admitted (replacements included).
    pub added: u64,
    /// Transactions replaced by a higher-paying one with the same sender and nonce.
    pub replaced: u64,
    /// Transactions evicted to make room.
    pub evicted: u64,
    /// Transactions removed by [`Mempool::remove`] or because state made them invalid.
    pub removed: u64,
    /// Refusals by [`MempoolError::reason`].
    pub rejected: BTreeMap<&'static str, u64>,
}

/// The transaction pool. See the [module docs](self).
#[derive(Debug)]
pub struct Mempool {
    limits: MempoolConfig,
    by_hash: HashMap<B256, Arc<PooledTx>>,
    senders: HashMap<Address, SenderTxs>,
    evict_order: BTreeSet<EvictKey>,
    /// The base fee the eviction keys were computed at.
    base_fee: u64,
    bytes: usize,
    ready: usize,
    next_sequence: u64,
    stats: PoolStats,
}

impl Mempool {
    /// An empty pool with these limits.
    pub fn new(limits: MempoolConfig) -> Self {
        Self {
            limits,
            by_hash: HashMap::new(),
            senders: HashMap::new(),
            evict_order: BTreeSet::new(),
            base_fee: 0,
            bytes: 0,
            ready: 0,
            next_sequence: 0,
            stats: PoolStats::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &MempoolConfig {
        &self.limits
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// Transactions pooled.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Ready transactions pooled.
    pub fn ready_len(&self) -> usize {
        self.ready
    }

    /// Queued (not yet executable) transactions pooled.
    pub fn queued_len(&self) -> usize {
        self.by_hash.len() - self.ready
    }

    /// Encoded bytes pooled.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the transaction is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &B256) -> Option<Arc<PooledTx>> {
        self.by_hash.get(hash).cloned()
    }

    /// Whether a pooled transaction is ready or queued.
    pub fn status(&self, hash: &B256) -> Option<TxStatus> {
        let tx = self.by_hash.get(hash)?;
        let sender = self.senders.get(&tx.sender)?;
        Some(
            if tx.nonce >= sender.state_nonce && tx.nonce < sender.ready_end() {
                TxStatus::Ready
            } else {
                TxStatus::Queued
            },
        )
    }

    /// Every pooled transaction, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<PooledTx>> + '_ {
        self.by_hash.values()
    }

    /// The ready transactions, each sender's in nonce order, senders in no particular order.
    pub fn ready(&self) -> impl Iterator<Item = &Arc<PooledTx>> + '_ {
        self.senders
            .values()
            .flat_map(|s| s.txs.range(s.state_nonce..s.ready_end()).map(|(_, tx)| tx))
    }

    /// The nonce a new transaction from `sender` should use: past its ready run when the pool
    /// knows the sender at `state_nonce`, otherwise past the pooled transactions consecutive
    /// from `state_nonce`.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let Some(s) = self.senders.get(&sender) else {
            return state_nonce;
        };
        if s.state_nonce == state_nonce {
            return s.ready_end();
        }
        let mut next = state_nonce;
        for &nonce in s.txs.range(state_nonce..).map(|(n, _)| n) {
            if nonce != next {
                break;
            }
            next += 1;
        }
        next
    }

    /// Decodes `raw` ([`decode_raw`]) and admits it ([`Mempool::add`]).
    pub fn add_raw(
        &mut self,
        raw: &[u8],
        state: &impl AccountSource,
        env: &PoolEnv,
    ) -> Result<AddOutcome, MempoolError> {
        match decode_raw(raw) {
            Ok(tx) => self.add(tx, state, env),
            Err(e) => Err(self.rejected(e)),
        }
    }

    /// Admits a decoded transaction whose sender was recovered beforehand (see
    /// [`Recovered`]), e.g. before the pool's lock was taken. The checks and their order are
    /// those of [`Mempool::add`].
    pub fn add_recovered(
        &mut self,
        recovered: Recovered,
        state: &impl AccountSource,
        env: &PoolEnv,
    ) -> Result<AddOutcome, MempoolError> {
        let result = self.try_add(recovered.tx, recovered.sender, state, env);
        self.count(result)
    }

    /// Admits a transaction, recovering its sender. See the [module docs](self) for the checks.
    pub fn add(
        &mut self,
        tx: TxEnvelope,
        state: &impl AccountSource,
        env: &PoolEnv,
    ) -> Result<AddOutcome, MempoolError> {
        // A transaction already pooled is refused before its costly recovery.
        let sender = if self.by_hash.contains_key(tx.tx_hash()) {
            None
        } else {
            tx.recover_signer().ok()
        };
        let result = self.try_add(tx, sender, state, env);
        self.count(result)
    }

    fn count(
        &mut self,
        result: Result<AddOutcome, MempoolError>,
    ) -> Result<AddOutcome, MempoolError> {
        match result {
            Ok(outcome) => {
                self.stats.added += 1;
                if outcome.replaced.is_some() {
                    self.stats.replaced += 1;
                }
                Ok(outcome)
            }
            Err(e) => Err(self.rejected(e)),
        }
    }

    fn rejected(&mut self, e: MempoolError) -> MempoolError {
        *self.stats.rejected.entry(e.reason()).or_default() += 1;
        debug!(reason = e.reason(), error = %e, "mempool: transaction refused");
        e
    }

    fn try_add(
        &mut self,
        tx: TxEnvelope,
        sender: Option<Address>,
        state: &impl AccountSource,
        env: &PoolEnv,
    ) -> Result<AddOutcome, MempoolError> {
        if self.by_hash.contains_key(tx.tx_hash()) {
            return Err(MempoolError::AlreadyKnown);
        }
        let checked = validate::check_stateless(&tx, sender, env)?;
        let sender = checked.sender;
        let info = state.account(sender).map_err(MempoolError::State)?;
        let nonce = tx.nonce();
        if nonce < info.nonce {
            return Err(MempoolError::NonceTooLow {
                address: sender,
                tx: nonce,
                state: info.nonce,
            });
        }
        let cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value());
        if cost > info.balance {
            return Err(MempoolError::InsufficientFunds {
                address: sender,
                have: info.balance,
                want: cost,
            });
        }
        self.set_base_fee(env.base_fee);
        let pooled = PooledTx {
            hash: checked.hash,
            sender,
            nonce,
            gas_limit: tx.gas_limit(),
            fee_cap: tx.max_fee_per_gas(),
            tip_cap: tx.priority_fee_or_price(),
            cost,
            encoded: tx.encoded_2718().into(),
            envelope: tx,
            sequence: self.next_sequence,
        };
        debug_assert_eq!(pooled.encoded.len(), checked.size);
        // The sender's queue is detached while it is worked on, which also keeps its own
        // transactions out of the eviction candidates.
        let mut queue = self.detach(sender).unwrap_or_else(|| SenderTxs::new(info));
        if queue.state_nonce != info.nonce || queue.balance != info.balance {
            for stale in queue.refresh(info) {
                self.forget(&stale);
                self.stats.removed += 1;
            }
        }
        let result = self.admit(&mut queue, pooled);
        self.attach(sender, queue);
        result
    }

    /// The checks against the sender's queue and the pool's limits, then the insertion.
    fn admit(&mut self, queue: &mut SenderTxs, tx: PooledTx) -> Result<AddOutcome, MempoolError> {
        let nonce = tx.nonce;
        let old = queue.txs.get(&nonce).cloned();
        let mut drop_own_last = None;
        if let Some(old) = &old {
            if !bumped(old, &tx) {
                return Err(MempoolError::ReplacementUnderpriced);
            }
            let need = queue.cost.saturating_sub(old.cost).saturating_add(tx.cost);
            if need > queue.balance {
                return Err(MempoolError::InsufficientFundsBump {
                    balance: queue.balance,
                    queued: queue.cost,
                    bump: I256::from_raw(tx.cost).saturating_sub(I256::from_raw(old.cost)),
                });
            }
        } else {
            if queue.cost.saturating_add(tx.cost) > queue.balance {
                return Err(MempoolError::InsufficientFundsQueued {
                    balance: queue.balance,
                    queued: queue.cost,
                    cost: tx.cost,
                });
            }
            if queue.txs.len() >= self.limits.max_per_sender {
                match queue.txs.last_key_value() {
                    // Filling a gap below the highest: the highest (queued) makes room.
                    Some((&last, last_tx)) if last > nonce => {
                        drop_own_last = Some(Arc::clone(last_tx));
                    }
                    _ => {
                        return Err(MempoolError::AccountLimit {
                            pooled: queue.txs.len(),
                        });
                    }
                }
            }
        }
        let will_be_ready = nonce <= queue.ready_end();
        let freed: Vec<&Arc<PooledTx>> = old.iter().chain(drop_own_last.iter()).collect();
        let freed_slots = freed.len();
        let freed_bytes: usize = freed.iter().map(|t| t.encoded.len()).sum();
        let size = tx.encoded.len();
        let priority = tx.priority(self.base_fee);
        if size > self.limits.max_bytes {
            return Err(MempoolError::PoolFull);
        }
        let mut evicted = Vec::new();
        while self.by_hash.len() + 1 - freed_slots > self.limits.max_transactions
            || self.bytes + size - freed_bytes > self.limits.max_bytes
        {
            let victim = self.eviction_victim(priority, will_be_ready)?;
            evicted.push(self.evict_last(victim));
        }
        if let Some(last) = drop_own_last {
            queue.remove_nonce(last.nonce);
            self.forget(&last);
            self.stats.evicted += 1;
            evicted.push(last.hash);
        }
        let tx = Arc::new(tx);
        self.next_sequence += 1;
        self.bytes += size;
        self.by_hash.insert(tx.hash, Arc::clone(&tx));
        queue.cost = queue.cost.saturating_add(tx.cost);
        let replaced = queue.txs.insert(nonce, Arc::clone(&tx)).map(|old| {
            queue.cost = queue.cost.saturating_sub(old.cost);
            self.forget(&old);
            old.hash
        });
        queue.extend_ready();
        let status = if nonce < queue.ready_end() {
            TxStatus::Ready
        } else {
            TxStatus::Queued
        };
        debug!(
            hash = %tx.hash,
            sender = %tx.sender,
            nonce,
            ?status,
            replaced = ?replaced,
            evicted = evicted.len(),
            "mempool: transaction added"
        );
        Ok(AddOutcome {
            hash: tx.hash,
            status,
            replaced,
            evicted,
        })
    }

    /// The sender whose last transaction makes room for a newcomer paying `priority`: the
    /// cheapest queued one if the newcomer pays more, else, for a ready newcomer, the cheapest
    /// ready one if it pays more.
    fn eviction_victim(&self, priority: i128, ready: bool) -> Result<Address, MempoolError> {
        let queued = self.evict_order.first().filter(|k| !k.ready);
        if let Some(k) = queued
            && k.priority < priority
        {
            return Ok(k.sender);
        }
        let cheapest_ready = self.evict_order.range(EvictKey::first_ready()..).next();
        match cheapest_ready {
            Some(k) if k.priority < priority => {
                if ready {
                    Ok(k.sender)
                } else {
                    Err(MempoolError::FutureReplacePending)
                }
            }
            _ if queued.is_none() && cheapest_ready.is_none() => Err(MempoolError::PoolFull),
            _ => Err(MempoolError::Underpriced),
        }
    }

    /// Evicts `sender`'s highest-nonce transaction.
    fn evict_last(&mut self, sender: Address) -> B256 {
        let mut queue = self
            .detach(sender)
            .expect("eviction candidates are attached senders");
        let (&nonce, _) = queue
            .txs
            .last_key_value()
            .expect("attached senders have transactions");
        let tx = queue.remove_nonce(nonce).expect("the last nonce is pooled");
        self.forget(&tx);
        self.attach(sender, queue);
        self.stats.evicted += 1;
        debug!(hash = %tx.hash, sender = %sender, nonce, "mempool: transaction evicted");
        tx.hash
    }

    /// Removes a transaction; the sender's later ones stop being ready.
    pub fn remove(&mut self, hash: &B256) -> Option<Arc<PooledTx>> {
        let tx = self.by_hash.get(hash).cloned()?;
        let mut queue = self
            .detach(tx.sender)
            .expect("pooled transactions have a sender queue");
        queue.remove_nonce(tx.nonce);
        self.forget(&tx);
        self.attach(tx.sender, queue);
        self.stats.removed += 1;
        Some(tx)
    }

    /// Takes a committed block: `senders` are the accounts whose state it changed (at least
    /// its transactions' senders; repeats are fine) and `state` is the new head. Each known
    /// sender's transactions below its new nonce are dropped, as are those its balance cannot
    /// pay for alone; the rest are re-sorted into ready and queued. `env` is the next block's
    /// (its base fee re-keys the eviction order).
    pub fn on_commit(
        &mut self,
        senders: impl IntoIterator<Item = Address>,
        state: &impl AccountSource,
        env: &PoolEnv,
    ) -> CommitOutcome {
        self.set_base_fee(env.base_fee);
        let mut outcome = CommitOutcome::default();
        let mut seen = HashSet::new();
        for sender in senders {
            if !seen.insert(sender) {
                continue;
            }
            let Some(mut queue) = self.detach(sender) else {
                continue;
            };
            let info = match state.account(sender) {
                Ok(info) => info,
                Err(error) => {
                    warn!(
                        %sender,
                        %error,
                        dropped = queue.txs.len(),
                        "mempool: account unreadable after a block; dropping its transactions"
                    );
                    outcome.state_errors += 1;
                    for tx in queue.txs.values() {
                        self.forget(tx);
                        self.stats.removed += 1;
                        outcome.removed += 1;
                    }
                    continue;
                }
            };
            let (before_start, before_end) = (queue.state_nonce, queue.ready_end());
            for tx in queue.refresh(info) {
                self.forget(&tx);
                self.stats.removed += 1;
                outcome.removed += 1;
            }
            let (after_start, after_end) = (queue.state_nonce, queue.ready_end());
            let overlap = before_end
                .min(after_end)
                .saturating_sub(before_start.max(after_start)) as usize;
            let still_pooled = queue.txs.range(before_start..before_end).count();
            outcome.promoted += queue.ready - overlap;
            outcome.demoted += still_pooled - overlap;
            self.attach(sender, queue);
        }
        debug!(
            removed = outcome.removed,
            promoted = outcome.promoted,
            demoted = outcome.demoted,
            pooled = self.len(),
            ready = self.ready,
            "mempool: block committed"
        );
        outcome
    }

    /// Ready transactions for a block with `gas_limit` and `base_fee`, at most `max_count`, in
    /// an order it can execute them in: each sender's in consecutive nonces from its state
    /// nonce, senders interleaved by effective tip, highest first (earliest admitted among
    /// equals). A transaction whose fee cap is below `base_fee`, or whose gas no longer fits,
    /// ends its sender's run; filling goes on with the other senders.
    pub fn best(&self, gas_limit: u64, base_fee: u64, max_count: usize) -> Vec<Arc<PooledTx>> {
        let candidate = |tx: &PooledTx| {
            tx.effective_tip(base_fee).map(|tip| Candidate {
                tip,
                sequence: tx.sequence,
                sender: tx.sender,
                nonce: tx.nonce,
            })
        };
        let heads: Vec<Candidate> = self
            .senders
            .values()
            .filter(|s| s.ready > 0)
            .filter_map(|s| s.txs.get(&s.state_nonce).and_then(|tx| candidate(tx)))
            .collect();
        let mut heap = BinaryHeap::from(heads);
        let mut picked = Vec::with_capacity(max_count.min(self.ready));
        let mut gas_left = gas_limit;
        while picked.len() < max_count && gas_left >= MIN_TX_GAS {
            let Some(next) = heap.pop() else {
                break;
            };
            let queue = &self.senders[&next.sender];
            let tx = &queue.txs[&next.nonce];
            if tx.gas_limit > gas_left {
                continue;
            }
            gas_left -= tx.gas_limit;
            picked.push(Arc::clone(tx));
            let following = next.nonce + 1;
            if following < queue.ready_end()
                && let Some(c) = queue.txs.get(&following).and_then(|tx| candidate(tx))
            {
                heap.push(c);
            }
        }
        picked
    }

    /// Re-keys the eviction order when the base fee changes.
    fn set_base_fee(&mut self, base_fee: u64) {
        if base_fee == self.base_fee {
            return;
        }
        self.base_fee = base_fee;
        self.evict_order.clear();
        for (sender, queue) in &mut self.senders {
            let key = evict_key(*sender, queue, base_fee);
            if let Some(key) = key {
                self.evict_order.insert(key);
            }
            queue.evict_key = key;
        }
    }

    /// Takes a sender's queue out of the indexes to change it.
    fn detach(&mut self, sender: Address) -> Option<SenderTxs> {
        let mut queue = self.senders.remove(&sender)?;
        if let Some(key) = queue.evict_key.take() {
            self.evict_order.remove(&key);
        }
        self.ready -= queue.ready;
        Some(queue)
    }

    /// Puts a changed queue back (an empty one is dropped).
    fn attach(&mut self, sender: Address, mut queue: SenderTxs) {
        if queue.txs.is_empty() {
            return;
        }
        queue.evict_key = evict_key(sender, &queue, self.base_fee);
        if let Some(key) = queue.evict_key {
            self.evict_order.insert(key);
        }
        self.ready += queue.ready;
        self.senders.insert(sender, queue);
    }

    /// Drops a transaction from the hash index and the byte count.
    fn forget(&mut self, tx: &PooledTx) {
        if self.by_hash.remove(&tx.hash).is_some() {
            self.bytes -= tx.encoded.len();
        }
    }
}
