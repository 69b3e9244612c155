//! Multi-version memory: for every state location, the value each transaction of the block
//! wrote to it (or an estimate marker while that transaction is being re-executed).
//!
//! Reads resolve to the write of the highest transaction below the reader, folding in the
//! balance increments of plain transfers that sit above the last absolute write (and, for
//! the beneficiary, the fees each transaction owes it, kept per transaction rather than as
//! versions), so that such credits never make one transaction depend on another unless it
//! really reads the balance.

use crate::{
    state::{StateError, StateView, Write},
    types::AccountState,
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use crossbeam_utils::CachePadded;
use revm::{bytecode::Bytecode, primitives::KECCAK_EMPTY};
use smallvec::SmallVec;
use std::{
    hash::{BuildHasher, BuildHasherDefault, Hash, Hasher},
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
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
    fn from_write(write: Write) -> (Location, Value) {
        match write {
            Write::Account(a, v) => (Location::Account(a), Value::Account(v)),
            Write::BalanceIncrement(a, d) => (Location::Account(a), Value::Increment(d)),
            Write::WipeStorage(a) => (Location::Wipe(a), Value::Wipe),
            Write::Slot(a, s, v) => (Location::Slot(a, s), Value::Slot(v)),
        }
    }

    /// The write this value stands for at `location`.
    fn into_write(self, location: Location) -> Option<Write> {
        Some(match (location, self) {
            (Location::Account(a), Value::Account(v)) => Write::Account(a, v),
            (Location::Account(a), Value::Increment(d)) => Write::BalanceIncrement(a, d),
            (Location::Wipe(a), Value::Wipe) => Write::WipeStorage(a),
            (Location::Slot(a, s), Value::Slot(v)) => Write::Slot(a, s, v),
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Entry {
    estimate: bool,
    value: Value,
}

/// What a transaction read, with what it saw, so validation can tell whether it is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReadKind {
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

/// A read and where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Read {
    pub(super) kind: ReadKind,
    /// No transaction below the reader had written the location: the value is the block's
    /// base state, and stays valid for as long as that remains true (checked without
    /// reading the base state again).
    pub(super) from_base: bool,
}

/// A transaction's lazy fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fee {
    /// Not executed yet: read as zero, speculatively (like a location nobody wrote yet).
    Unknown,
    /// Being re-executed: readers wait for it.
    Estimate,
    /// The fee of its latest execution.
    Known(U256),
}

/// The outcome of resolving a read.
#[derive(Debug)]
pub(super) enum Resolved<T> {
    /// The value the reader sees.
    Value(T),
    /// A lower transaction's write is being recomputed; the reader must wait for it.
    Blocked(TxIdx),
}

/// The versions of one location, sorted by transaction: every entry, plus sorted indexes
/// of the absolute writes and of the estimates, so a read that skips balance increments is
/// logarithmic however many increments pile up (thousands of transfers to one exchange
/// address, fees to the beneficiary). Most locations have one or two versions, so sorted
/// vectors beat trees here; transactions mostly record in order, so inserts append.
#[derive(Debug, Default)]
struct Versions {
    entries: SmallVec<[(TxIdx, Entry); 1]>,
    absolutes: SmallVec<[TxIdx; 2]>,
    estimates: SmallVec<[TxIdx; 1]>,
}

/// A small sorted set of transaction indices, kept inline while it is small (most locations
/// are written by one or two transactions).
type TxSet<const N: usize> = SmallVec<[TxIdx; N]>;

fn set_insert<const N: usize>(set: &mut TxSet<N>, tx: TxIdx) {
    if let Err(i) = set.binary_search(&tx) {
        set.insert(i, tx);
    }
}

fn set_remove<const N: usize>(set: &mut TxSet<N>, tx: TxIdx) {
    if let Ok(i) = set.binary_search(&tx) {
        set.remove(i);
    }
}

/// The greatest element of a sorted set below `tx`.
fn below(set: &[TxIdx], tx: TxIdx) -> Option<TxIdx> {
    let i = set.partition_point(|j| *j < tx);
    i.checked_sub(1).map(|i| set[i])
}

impl Versions {
    fn position(&self, tx: TxIdx) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&tx, |(j, _)| *j)
    }

    fn insert(&mut self, tx: TxIdx, value: Value) {
        set_remove(&mut self.estimates, tx);
        if matches!(value, Value::Increment(_)) {
            set_remove(&mut self.absolutes, tx);
        } else {
            set_insert(&mut self.absolutes, tx);
        }
        let entry = Entry {
            estimate: false,
            value,
        };
        match self.position(tx) {
            Ok(i) => self.entries[i].1 = entry,
            Err(i) => self.entries.insert(i, (tx, entry)),
        }
    }

    fn remove(&mut self, tx: TxIdx) {
        if let Ok(i) = self.position(tx) {
            self.entries.remove(i);
        }
        set_remove(&mut self.absolutes, tx);
        set_remove(&mut self.estimates, tx);
    }

    fn mark_estimate(&mut self, tx: TxIdx) {
        if let Ok(i) = self.position(tx) {
            self.entries[i].1.estimate = true;
            set_insert(&mut self.estimates, tx);
        }
    }

    fn get(&self, tx: TxIdx) -> Option<&Entry> {
        self.position(tx).ok().map(|i| &self.entries[i].1)
    }

    /// The entries of transactions in `from..to`.
    fn range(&self, from: TxIdx, to: TxIdx) -> impl Iterator<Item = &Entry> {
        let a = self.entries.partition_point(|(j, _)| *j < from);
        let b = self.entries.partition_point(|(j, _)| *j < to);
        self.entries[a..b.max(a)].iter().map(|(_, e)| e)
    }

    /// The latest entry below `tx`.
    fn latest(&self, tx: TxIdx) -> Option<(TxIdx, &Entry)> {
        let i = self.entries.partition_point(|(j, _)| *j < tx);
        i.checked_sub(1)
            .map(|i| (self.entries[i].0, &self.entries[i].1))
    }

    /// The latest absolute write below `tx`, or the estimate that hides it.
    fn latest_absolute(&self, tx: TxIdx) -> Resolved<Option<(TxIdx, &Value)>> {
        let absolute = below(&self.absolutes, tx);
        let estimate = below(&self.estimates, tx);
        if let Some(e) = estimate
            && absolute.is_none_or(|a| e >= a)
        {
            return Resolved::Blocked(e);
        }
        Resolved::Value(absolute.and_then(|a| self.get(a).map(|e| (a, &e.value))))
    }
}

const SHARDS: usize = 64;

/// A location with its hash, computed once per access: the hash picks the location's shard
/// and its bit in the written-locations filter, and is the shard table's hash (a 53-byte
/// key hashed three times per read was a tenth of Block-STM's own cost on storage-heavy
/// blocks).
#[derive(Debug, Clone, Copy)]
struct Key {
    hash: u64,
    location: Location,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.location == other.location
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes a [`Key`]'s precomputed hash through to the table.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (by `Key`); anything else is folded in, FxHash-style.
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One shard's versions, by location.
type Table = std::collections::HashMap<Key, Versions, BuildHasherDefault<PassThrough>>;

/// The block's multi-version memory.
pub(super) struct MvMemory {
    shards: Vec<Mutex<Table>>,
    hasher: alloy_primitives::map::DefaultHashBuilder,
    /// The locations any transaction of the block has written, as a lock-free filter (one
    /// bit per hash bucket, only ever set during a block): a clear bit proves that a
    /// location has no version, so reads and validations of locations nobody wrote, most
    /// of them, take no shard lock and touch no line another worker writes.
    written: Box<[AtomicU64]>,
    /// Each transaction's latest write set, read set and lazy fee, a cache line each
    /// (neighbouring transactions usually run on different workers).
    txs: Vec<CachePadded<TxData>>,
    /// Code deployed by the block's transactions (content-addressed, so never stale).
    code: Mutex<HashMap<B256, Bytecode>>,
    /// The block's beneficiary, whose fees are kept apart from the versions.
    beneficiary: Address,
}

/// What the multi-version memory keeps per transaction.
#[derive(Debug)]
struct TxData {
    /// The latest execution's writes.
    writes: Mutex<Vec<(Location, Value)>>,
    /// The latest execution's reads.
    reads: Mutex<Vec<Read>>,
    /// The fee to the beneficiary, accumulated lazily. Kept per transaction rather than as
    /// versions of the beneficiary's account, which every transaction would otherwise
    /// contend on.
    fee: Mutex<Fee>,
}

impl std::fmt::Debug for MvMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MvMemory")
            .field("transactions", &self.txs.len())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the executor turns
/// worker panics into errors and discards the block's memory).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MvMemory {
    pub(super) fn new(transactions: usize, beneficiary: Address) -> Self {
        let mut memory = Self {
            beneficiary,
            txs: Vec::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Table::default())).collect(),
            hasher: Default::default(),
            written: Box::new([]),
            code: Mutex::new(HashMap::default()),
        };
        memory.reset(transactions, beneficiary);
        memory
    }

    /// Empties the memory for a block of `transactions` transactions, keeping its
    /// allocations: an executor reuses one memory block after block, so its tables stay
    /// paged in and mostly cached instead of being faulted in and grown anew every block.
    pub(super) fn reset(&mut self, transactions: usize, beneficiary: Address) {
        self.beneficiary = beneficiary;
        // Sized for about two written locations per transaction, so that a large block's
        // shards do not rehash while workers hold them; a shard left much larger by an
        // earlier, larger block gives the memory back.
        let per_shard = (transactions * 2 / SHARDS).max(4);
        for shard in &mut self.shards {
            let shard = shard.get_mut().unwrap_or_else(|p| p.into_inner());
            shard.clear();
            if shard.capacity() > per_shard * 8 {
                shard.shrink_to(per_shard);
            }
            shard.reserve(per_shard);
        }
        self.txs.truncate(transactions);
        for data in &mut self.txs {
            data.writes
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            data.reads
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            *data.fee.get_mut().unwrap_or_else(|p| p.into_inner()) = Fee::Unknown;
        }
        while self.txs.len() < transactions {
            self.txs.push(CachePadded::new(TxData {
                writes: Mutex::new(Vec::new()),
                reads: Mutex::new(Vec::new()),
                fee: Mutex::new(Fee::Unknown),
            }));
        }
        let words = (transactions * 8)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 22)
            / 64;
        if self.written.len() == words {
            for word in self.written.iter_mut() {
                *word.get_mut() = 0;
            }
        } else {
            self.written = (0..words).map(|_| AtomicU64::new(0)).collect();
        }
        self.code
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn key(&self, location: Location) -> Key {
        Key {
            hash: self.hasher.hash_one(location),
            location,
        }
    }

    /// The shard holding `key` (chosen by hash bits that neither the table's bucket index,
    /// the low bits, nor its control bytes, the top seven, use).
    fn shard(&self, key: &Key) -> MutexGuard<'_, Table> {
        lock(&self.shards[(key.hash >> 32) as usize % SHARDS])
    }

    /// The filter's word and bit for `key`.
    fn filter_bit(&self, key: &Key) -> (&AtomicU64, u64) {
        let bits = self.written.len() * 64;
        let bit = (key.hash as usize) & (bits - 1);
        (&self.written[bit / 64], 1 << (bit % 64))
    }

    /// Records that `location` has (or had) a version. Done before the version is inserted,
    /// so a reader that finds the bit clear read before the version existed, which
    /// validation (run after the writer finishes, and so after this) catches.
    fn mark_written(&self, key: &Key) {
        let (word, bit) = self.filter_bit(key);
        if word.load(Ordering::Relaxed) & bit == 0 {
            word.fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// Whether `location` may have a version (`false`: it certainly has none).
    fn maybe_written(&self, key: &Key) -> bool {
        let (word, bit) = self.filter_bit(key);
        word.load(Ordering::SeqCst) & bit != 0
    }

    /// The latest entry below `tx` at `location`: `(writer, estimate, value)`.
    fn latest_below(&self, location: &Location, tx: TxIdx) -> Option<(TxIdx, bool, Value)> {
        let key = self.key(*location);
        if !self.maybe_written(&key) {
            return None;
        }
        let shard = self.shard(&key);
        let versions = shard.get(&key)?;
        versions
            .latest(tx)
            .map(|(j, e)| (j, e.estimate, e.value.clone()))
    }

    /// The account as transaction `tx` sees it, with every balance increment above the
    /// last absolute write folded in (and, for the beneficiary, every lazy fee), and whether
    /// it is the base state's value.
    pub(super) fn account<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        tx: TxIdx,
    ) -> Result<Resolved<(Option<AccountState>, bool)>, StateError> {
        let key = self.key(Location::Account(address));
        let mut increments = U256::ZERO;
        let mut from_base = true;
        let (found, from) = if !self.maybe_written(&key) {
            (None, 0)
        } else {
            let shard = self.shard(&key);
            match shard.get(&key) {
                None => (None, 0),
                Some(versions) => {
                    let absolute = match versions.latest_absolute(tx) {
                        Resolved::Blocked(j) => return Ok(Resolved::Blocked(j)),
                        Resolved::Value(v) => v,
                    };
                    let from = absolute.map_or(0, |(a, _)| a + 1);
                    for entry in versions.range(from, tx) {
                        from_base = false;
                        if let Value::Increment(d) = &entry.value {
                            increments = increments.saturating_add(*d);
                        }
                    }
                    match absolute {
                        Some((a, Value::Account(v))) => {
                            from_base = false;
                            (Some(v.clone()), a + 1)
                        }
                        _ => (None, 0),
                    }
                }
            }
        };
        if address == self.beneficiary {
            for j in from..tx {
                match *lock(&self.txs[j].fee) {
                    Fee::Estimate => return Ok(Resolved::Blocked(j)),
                    Fee::Unknown => {}
                    Fee::Known(fee) => increments = increments.saturating_add(fee),
                }
            }
            from_base &= tx == 0;
        }
        let mut account = match found {
            Some(v) => v,
            None => base.account(address)?,
        };
        if !increments.is_zero() {
            let a = account.get_or_insert_with(|| AccountState::with_balance(U256::ZERO));
            a.balance = a.balance.saturating_add(increments);
        }
        Ok(Resolved::Value((account, from_base)))
    }

    /// Whether any transaction below `tx` has an entry at `location`.
    fn written_below(&self, location: &Location, tx: TxIdx) -> bool {
        let key = self.key(*location);
        self.maybe_written(&key)
            && self
                .shard(&key)
                .get(&key)
                .is_some_and(|v| v.latest(tx).is_some())
    }

    /// The account's last absolute value below `tx`, ignoring balance increments above it:
    /// all a reader needs that does not depend on the balance.
    pub(super) fn account_shape<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        tx: TxIdx,
    ) -> Result<Resolved<(Option<AccountState>, bool)>, StateError> {
        let key = self.key(Location::Account(address));
        let (found, from_base) = if !self.maybe_written(&key) {
            (None, true)
        } else {
            let shard = self.shard(&key);
            let versions = shard.get(&key);
            let from_base = versions.is_none_or(|v| v.latest(tx).is_none());
            let found = match versions.map(|v| v.latest_absolute(tx)) {
                None | Some(Resolved::Value(None)) => None,
                Some(Resolved::Blocked(j)) => return Ok(Resolved::Blocked(j)),
                Some(Resolved::Value(Some((_, value)))) => match value {
                    Value::Account(v) => Some(v.clone()),
                    _ => None,
                },
            };
            (found, from_base)
        };
        let account = match found {
            Some(v) => v,
            None => base.account(address)?,
        };
        Ok(Resolved::Value((account, from_base)))
    }

    /// A storage slot as transaction `tx` sees it.
    pub(super) fn slot<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        slot: U256,
        tx: TxIdx,
    ) -> Result<Resolved<(U256, bool)>, StateError> {
        let written = self.latest_below(&Location::Slot(address, slot), tx);
        if let Some((j, true, _)) = written {
            return Ok(Resolved::Blocked(j));
        }
        let wiped = self.latest_below(&Location::Wipe(address), tx);
        match (written, wiped) {
            (Some((j, _, Value::Slot(v))), wipe) => match wipe {
                Some((r, true, _)) if r > j => Ok(Resolved::Blocked(r)),
                Some((r, false, _)) if r > j => Ok(Resolved::Value((U256::ZERO, false))),
                _ => Ok(Resolved::Value((v, false))),
            },
            (_, Some((r, true, _))) => Ok(Resolved::Blocked(r)),
            (_, Some((_, false, _))) => Ok(Resolved::Value((U256::ZERO, false))),
            (_, None) => Ok(Resolved::Value((base.storage(address, slot)?, true))),
        }
    }

    /// Code the block's transactions deployed.
    pub(super) fn code(&self, code_hash: B256) -> Option<Bytecode> {
        lock(&self.code).get(&code_hash).cloned()
    }

    /// Records transaction `tx`'s latest execution; returns whether it wrote a location its
    /// previous execution did not (then higher transactions must be validated again).
    pub(super) fn record(
        &self,
        tx: TxIdx,
        reads: Vec<Read>,
        writes: Vec<Write>,
        fee: U256,
    ) -> bool {
        // A fee where the previous execution had none is a new write that readers of the
        // beneficiary above this transaction have not seen.
        let previous_fee = std::mem::replace(&mut *lock(&self.txs[tx].fee), Fee::Known(fee));
        let new_fee = !fee.is_zero()
            && !matches!(previous_fee, Fee::Known(f) if !f.is_zero())
            && !matches!(previous_fee, Fee::Estimate);
        let new: Vec<(Location, Value)> = writes.into_iter().map(Value::from_write).collect();
        for (location, value) in &new {
            if let Value::Account(Some(account)) = value
                && let Some(code) = &account.code
                && account.code_hash != KECCAK_EMPTY
            {
                lock(&self.code)
                    .entry(account.code_hash)
                    .or_insert_with(|| code.clone());
            }
            let key = self.key(*location);
            self.mark_written(&key);
            self.shard(&key)
                .entry(key)
                .or_default()
                .insert(tx, value.clone());
        }
        let mut current = lock(&self.txs[tx].writes);
        let previous = std::mem::replace(&mut *current, new);
        let wrote_new_location = if previous.is_empty() {
            // The first execution (or one after an execution that wrote nothing).
            !current.is_empty()
        } else {
            let fresh = current
                .iter()
                .any(|(location, _)| !previous.iter().any(|(l, _)| l == location));
            for (location, _) in &previous {
                let key = self.key(*location);
                if !current.iter().any(|(l, _)| l == location)
                    && let Some(versions) = self.shard(&key).get_mut(&key)
                {
                    versions.remove(tx);
                }
            }
            fresh
        };
        drop(current);
        *lock(&self.txs[tx].reads) = reads;
        wrote_new_location || new_fee
    }

    /// Marks transaction `tx`'s writes as estimates: it is about to be re-executed, and
    /// readers should wait for it rather than read values that are probably stale.
    pub(super) fn convert_writes_to_estimates(&self, tx: TxIdx) {
        *lock(&self.txs[tx].fee) = Fee::Estimate;
        let writes = lock(&self.txs[tx].writes);
        for (location, _) in writes.iter() {
            let key = self.key(*location);
            if let Some(versions) = self.shard(&key).get_mut(&key) {
                versions.mark_estimate(tx);
            }
        }
    }

    /// Whether everything transaction `tx` read is still what it would read now.
    pub(super) fn validate_reads<S: StateView + ?Sized>(
        &self,
        base: &S,
        tx: TxIdx,
    ) -> Result<bool, StateError> {
        let reads = lock(&self.txs[tx].reads);
        for read in reads.iter() {
            if read.from_base {
                let still_base = match &read.kind {
                    ReadKind::Account(a, _)
                    | ReadKind::AccountShape(a, _, _)
                    | ReadKind::AccountEmpty(a, _) => {
                        !self.written_below(&Location::Account(*a), tx)
                            && (*a != self.beneficiary || tx == 0)
                    }
                    ReadKind::Slot(a, slot, _) => {
                        !self.written_below(&Location::Slot(*a, *slot), tx)
                            && !self.written_below(&Location::Wipe(*a), tx)
                    }
                };
                if still_base {
                    continue;
                }
            }
            let valid = match &read.kind {
                ReadKind::Account(address, seen) => match self.account(base, *address, tx)? {
                    Resolved::Value((now, _)) => now == *seen,
                    Resolved::Blocked(_) => false,
                },
                ReadKind::AccountShape(address, nonce, code_hash) => {
                    match self.account_shape(base, *address, tx)? {
                        Resolved::Value((now, _)) => shape(&now) == (*nonce, *code_hash),
                        Resolved::Blocked(_) => false,
                    }
                }
                ReadKind::AccountEmpty(address, empty) => match self.account(base, *address, tx)? {
                    Resolved::Value((now, _)) => is_empty(&now) == *empty,
                    Resolved::Blocked(_) => false,
                },
                ReadKind::Slot(address, slot, seen) => {
                    match self.slot(base, *address, *slot, tx)? {
                        Resolved::Value((now, _)) => now == *seen,
                        Resolved::Blocked(_) => false,
                    }
                }
            };
            if !valid {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Transaction `tx`'s lazily accumulated fee to the beneficiary.
    pub(super) fn fee(&self, tx: TxIdx) -> U256 {
        match *lock(&self.txs[tx].fee) {
            Fee::Known(fee) => fee,
            Fee::Unknown | Fee::Estimate => U256::ZERO,
        }
    }

    /// Takes transaction `tx`'s final writes out of the memory, as [`Write`]s in the order
    /// they apply, and frees its read set (only once execution is over).
    pub(super) fn take_writes(&self, tx: TxIdx) -> impl Iterator<Item = Write> {
        drop(std::mem::take(&mut *lock(&self.txs[tx].reads)));
        std::mem::take(&mut *lock(&self.txs[tx].writes))
            .into_iter()
            .filter_map(|(location, value)| value.into_write(location))
    }

    /// Number of shards, for freeing them in parallel.
    pub(super) const SHARDS: usize = SHARDS;

    /// Empties shard `shard`, keeping its table (workers share the freeing of a large
    /// block's versions instead of one thread dropping all of them).
    pub(super) fn clear_shard(&self, shard: usize) {
        lock(&self.shards[shard]).clear();
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
