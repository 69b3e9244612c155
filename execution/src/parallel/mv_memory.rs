//! Multi-version memory: for every state location, the value each transaction of the block
//! wrote to it (or an estimate marker while that transaction is being re-executed).
//!
//! Reads resolve to the write of the highest transaction below the reader, folding in the
//! lazily accumulated balance increments (fees to the beneficiary, plain transfers) that
//! sit above the last absolute write, so that such increments never make one transaction
//! depend on another unless it really reads the balance.

use crate::{
    state::{StateError, StateView, Write},
    types::AccountState,
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use revm::{bytecode::Bytecode, primitives::KECCAK_EMPTY};
use std::{
    collections::BTreeMap,
    hash::{BuildHasher, Hash},
    sync::{Mutex, MutexGuard},
};

/// Index of a transaction in the block.
pub(super) type TxIdx = usize;
/// How many times a transaction has been re-executed.
pub(super) type Incarnation = usize;

/// A state location that transactions read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Location {
    /// An account's balance, nonce and code.
    Account(Address),
    /// The event "this account's storage was wiped".
    Wipe(Address),
    /// One storage slot.
    Slot(Address, U256),
}

/// A value written to a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// An account's new value (`None`: destroyed).
    Account(Option<AccountState>),
    /// A balance increment applied on top of whatever the account holds.
    Increment(U256),
    /// The account's storage was wiped.
    Wipe,
    /// A slot's new value.
    Slot(U256),
}

impl Value {
    fn from_write(write: &Write) -> (Location, Value) {
        match write {
            Write::Account(a, v) => (Location::Account(*a), Value::Account(v.clone())),
            Write::BalanceIncrement(a, d) => (Location::Account(*a), Value::Increment(*d)),
            Write::WipeStorage(a) => (Location::Wipe(*a), Value::Wipe),
            Write::Slot(a, s, v) => (Location::Slot(*a, *s), Value::Slot(*v)),
        }
    }

    /// The write this value stands for at `location`.
    pub(super) fn to_write(&self, location: Location) -> Option<Write> {
        Some(match (location, self) {
            (Location::Account(a), Value::Account(v)) => Write::Account(a, v.clone()),
            (Location::Account(a), Value::Increment(d)) => Write::BalanceIncrement(a, *d),
            (Location::Wipe(a), Value::Wipe) => Write::WipeStorage(a),
            (Location::Slot(a, s), Value::Slot(v)) => Write::Slot(a, s, *v),
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Entry {
    estimate: bool,
    value: Value,
}

/// A read a transaction made, with what it saw, so validation can tell whether it is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Read {
    /// The whole account.
    Account(Address, Option<AccountState>),
    /// Only the account's nonce and code (a plain transfer's recipient): balance increments
    /// by other transactions do not invalidate it.
    AccountShape(Address, u64, B256),
    /// Only whether the account is empty (the beneficiary touched by a zero fee).
    AccountEmpty(Address, bool),
    /// A storage slot.
    Slot(Address, U256, U256),
}

/// The outcome of resolving a read.
#[derive(Debug)]
pub(super) enum Resolved<T> {
    /// The value the reader sees.
    Value(T),
    /// A lower transaction's write is being recomputed; the reader must wait for it.
    Blocked(TxIdx),
}

type Versions = BTreeMap<TxIdx, Entry>;

const SHARDS: usize = 64;

/// The block's multi-version memory.
pub(super) struct MvMemory {
    shards: Vec<Mutex<HashMap<Location, Versions>>>,
    hasher: alloy_primitives::map::DefaultHashBuilder,
    /// Each transaction's latest write set.
    writes: Vec<Mutex<Vec<(Location, Value)>>>,
    /// Each transaction's latest read set.
    reads: Vec<Mutex<Vec<Read>>>,
    /// Code deployed by the block's transactions (content-addressed, so never stale).
    code: Mutex<HashMap<B256, Bytecode>>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the executor turns
/// worker panics into errors and discards the block's memory).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MvMemory {
    pub(super) fn new(transactions: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: Default::default(),
            writes: (0..transactions).map(|_| Mutex::new(Vec::new())).collect(),
            reads: (0..transactions).map(|_| Mutex::new(Vec::new())).collect(),
            code: Mutex::new(HashMap::default()),
        }
    }

    fn shard(&self, location: &Location) -> MutexGuard<'_, HashMap<Location, Versions>> {
        let h = self.hasher.hash_one(location) as usize;
        lock(&self.shards[h % SHARDS])
    }

    /// The latest entry below `tx` at `location`: `(writer, estimate, value)`.
    fn latest_below(&self, location: &Location, tx: TxIdx) -> Option<(TxIdx, bool, Value)> {
        let shard = self.shard(location);
        let versions = shard.get(location)?;
        versions
            .range(..tx)
            .next_back()
            .map(|(j, e)| (*j, e.estimate, e.value.clone()))
    }

    /// The account as transaction `tx` sees it.
    pub(super) fn account<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        tx: TxIdx,
    ) -> Result<Resolved<Option<AccountState>>, StateError> {
        let location = Location::Account(address);
        let mut increments = U256::ZERO;
        let mut found = None;
        {
            let shard = self.shard(&location);
            if let Some(versions) = shard.get(&location) {
                for (j, entry) in versions.range(..tx).rev() {
                    if entry.estimate {
                        return Ok(Resolved::Blocked(*j));
                    }
                    match &entry.value {
                        Value::Account(v) => {
                            found = Some(v.clone());
                            break;
                        }
                        Value::Increment(d) => increments = increments.saturating_add(*d),
                        _ => {}
                    }
                }
            }
        }
        let mut account = match found {
            Some(v) => v,
            None => base.account(address)?,
        };
        if !increments.is_zero() {
            let a = account.get_or_insert_with(|| AccountState::with_balance(U256::ZERO));
            a.balance = a.balance.saturating_add(increments);
        }
        Ok(Resolved::Value(account))
    }

    /// A storage slot as transaction `tx` sees it.
    pub(super) fn slot<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        slot: U256,
        tx: TxIdx,
    ) -> Result<Resolved<U256>, StateError> {
        let written = self.latest_below(&Location::Slot(address, slot), tx);
        if let Some((j, true, _)) = written {
            return Ok(Resolved::Blocked(j));
        }
        let wiped = self.latest_below(&Location::Wipe(address), tx);
        match (written, wiped) {
            (Some((j, _, Value::Slot(v))), wipe) => match wipe {
                Some((r, true, _)) if r > j => Ok(Resolved::Blocked(r)),
                Some((r, false, _)) if r > j => Ok(Resolved::Value(U256::ZERO)),
                _ => Ok(Resolved::Value(v)),
            },
            (_, Some((r, true, _))) => Ok(Resolved::Blocked(r)),
            (_, Some((_, false, _))) => Ok(Resolved::Value(U256::ZERO)),
            (_, None) => Ok(Resolved::Value(base.storage(address, slot)?)),
        }
    }

    /// Code the block's transactions deployed.
    pub(super) fn code(&self, code_hash: B256) -> Option<Bytecode> {
        lock(&self.code).get(&code_hash).cloned()
    }

    /// Records transaction `tx`'s latest execution; returns whether it wrote a location its
    /// previous execution did not (then higher transactions must be validated again).
    pub(super) fn record(&self, tx: TxIdx, reads: Vec<Read>, writes: &[Write]) -> bool {
        let new: Vec<(Location, Value)> = writes.iter().map(Value::from_write).collect();
        for (_, value) in &new {
            if let Value::Account(Some(account)) = value
                && let Some(code) = &account.code
                && account.code_hash != KECCAK_EMPTY
            {
                lock(&self.code)
                    .entry(account.code_hash)
                    .or_insert_with(|| code.clone());
            }
        }
        for (location, value) in &new {
            self.shard(location).entry(*location).or_default().insert(
                tx,
                Entry {
                    estimate: false,
                    value: value.clone(),
                },
            );
        }
        let previous = std::mem::replace(&mut *lock(&self.writes[tx]), new);
        let current = lock(&self.writes[tx]);
        let mut wrote_new_location = false;
        for (location, _) in current.iter() {
            if !previous.iter().any(|(l, _)| l == location) {
                wrote_new_location = true;
                break;
            }
        }
        for (location, _) in &previous {
            if !current.iter().any(|(l, _)| l == location)
                && let Some(versions) = self.shard(location).get_mut(location)
            {
                versions.remove(&tx);
            }
        }
        drop(current);
        *lock(&self.reads[tx]) = reads;
        wrote_new_location
    }

    /// Marks transaction `tx`'s writes as estimates: it is about to be re-executed, and
    /// readers should wait for it rather than read values that are probably stale.
    pub(super) fn convert_writes_to_estimates(&self, tx: TxIdx) {
        let writes = lock(&self.writes[tx]);
        for (location, _) in writes.iter() {
            if let Some(entry) = self
                .shard(location)
                .get_mut(location)
                .and_then(|v| v.get_mut(&tx))
            {
                entry.estimate = true;
            }
        }
    }

    /// Whether everything transaction `tx` read is still what it would read now.
    pub(super) fn validate_reads<S: StateView + ?Sized>(
        &self,
        base: &S,
        tx: TxIdx,
    ) -> Result<bool, StateError> {
        let reads = lock(&self.reads[tx]).clone();
        for read in &reads {
            let valid = match read {
                Read::Account(address, seen) => match self.account(base, *address, tx)? {
                    Resolved::Value(now) => now == *seen,
                    Resolved::Blocked(_) => false,
                },
                Read::AccountShape(address, nonce, code_hash) => {
                    match self.account(base, *address, tx)? {
                        Resolved::Value(now) => shape(&now) == (*nonce, *code_hash),
                        Resolved::Blocked(_) => false,
                    }
                }
                Read::AccountEmpty(address, empty) => match self.account(base, *address, tx)? {
                    Resolved::Value(now) => is_empty(&now) == *empty,
                    Resolved::Blocked(_) => false,
                },
                Read::Slot(address, slot, seen) => match self.slot(base, *address, *slot, tx)? {
                    Resolved::Value(now) => now == *seen,
                    Resolved::Blocked(_) => false,
                },
            };
            if !valid {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Transaction `tx`'s final writes, in the order they apply.
    pub(super) fn take_writes(&self, tx: TxIdx) -> Vec<Write> {
        std::mem::take(&mut *lock(&self.writes[tx]))
            .into_iter()
            .filter_map(|(l, v)| v.to_write(l))
            .collect()
    }
}

/// The nonce and code hash of an account (an absent account as empty).
pub(super) fn shape(account: &Option<AccountState>) -> (u64, B256) {
    account
        .as_ref()
        .map_or((0, KECCAK_EMPTY), |a| (a.nonce, a.code_hash))
}

/// Whether an account is empty in the EIP-161 sense (absent counts as empty).
pub(super) fn is_empty(account: &Option<AccountState>) -> bool {
    account
        .as_ref()
        .is_none_or(|a| a.nonce == 0 && a.balance.is_zero() && a.code_hash == KECCAK_EMPTY)
}
