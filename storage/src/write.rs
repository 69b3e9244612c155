//! Writing blocks (with their state changes, history and trie nodes) and consensus data.

use crate::{
    codec::check_string_key,
    db::{Database, Tx},
    error::{StorageError, StorageResult},
    models::{Account, StoredBody, TxLocation},
    tables::{
        AccountChangeSets, AccountHistory, AccountsTrie, BlockBodies, BlockCertificates,
        BlockNumber, Bytecodes, CanonicalHeaders, ConsensusSafety, HashedAccounts, HashedStorages,
        HeaderNumbers, Headers, Metadata, PlainAccounts, PlainStorage, Receipts, StorageChangeSets,
        StorageHistory, StoragesTrie, SystemLogs, Table, TransactionLookup, Transactions,
        WithdrawalSignatures, meta_keys,
    },
};
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockNumHash;
use alloy_primitives::{Address, B256, Bytes, Log, U256, keccak256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use libmdbx::RW;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Instant,
};
use tracing::{debug, warn};

/// Everything one block changes, written by [`Database::write_block`] in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockWrite {
    /// The header.
    pub header: Header,
    /// The header's hash; must equal `header.hash_slow()`.
    pub hash: B256,
    /// The transactions, in block order.
    pub transactions: Vec<TxEnvelope>,
    /// One receipt per transaction, in the same order. The bloom is not stored (it is
    /// recomputed from the logs on read).
    pub receipts: Vec<ReceiptEnvelope>,
    /// The state the block leaves behind.
    pub state: StateChanges,
    /// Updated branch nodes of the account and storage tries.
    pub trie: TrieUpdates,
    /// The consensus certificate that committed the block, if known.
    pub certificate: Option<Bytes>,
    /// The logs of the block's system calls (bridge deposits), in no receipt.
    pub system_logs: Vec<Log>,
}

impl BlockWrite {
    /// A block with `header` (its hash computed) and nothing else; fill in the other fields.
    pub fn new(header: Header) -> Self {
        Self {
            hash: header.hash_slow(),
            header,
            ..Default::default()
        }
    }
}

/// State changes of one block: the values after the block.
///
/// The values before are read from the database while writing, so changesets are always right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// New account states. `None` destroys the account and all of its storage.
    pub accounts: BTreeMap<Address, Option<Account>>,
    /// Storage changes per address.
    pub storage: BTreeMap<Address, StorageChanges>,
    /// New code, by its keccak hash.
    pub bytecodes: BTreeMap<B256, Bytes>,
}

/// Storage changes of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageChanges {
    /// All earlier storage is cleared before `slots` apply (self-destruct and re-creation).
    pub wiped: bool,
    /// New slot values; zero clears the slot.
    pub slots: BTreeMap<B256, U256>,
}

/// A trie's changed branch nodes by path: `Some` sets a node, `None` deletes it.
pub type TrieNodeUpdates = BTreeMap<Nibbles, Option<BranchNodeCompact>>;

/// Updated branch nodes of the account trie and the storage tries.
///
/// The storage-trie nodes of an account whose storage is wiped (or which is destroyed) are
/// deleted before these apply, since they describe storage that no longer exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdates {
    /// Account-trie nodes.
    pub account_nodes: TrieNodeUpdates,
    /// Storage-trie nodes, by keccak of the account's address.
    pub storage_nodes: BTreeMap<B256, TrieNodeUpdates>,
}

/// What a block write changed, for logs.
#[derive(Debug, Default)]
struct StateStats {
    accounts: usize,
    slots: usize,
}

impl Database {
    /// Writes block `block` and everything it changes in one durable commit: header, hashes,
    /// body, transactions, receipts, transaction index, certificate, plain and hashed state,
    /// changesets and history, bytecodes, trie nodes and the head pointer.
    ///
    /// The block must be the head's child: number `head + 1` (0 on an empty database) and
    /// parent hash the head's hash. A rejected block leaves the database untouched.
    pub fn write_block(&self, block: &BlockWrite) -> StorageResult<()> {
        let started = Instant::now();
        let number = block.header.number;
        let tx = self.begin_rw()?;
        let stats = insert_block(&tx, block).inspect_err(|error| {
            warn!(number, hash = %block.hash, %error, "block rejected");
        })?;
        tx.commit()?;
        debug!(
            number,
            hash = %block.hash,
            transactions = block.transactions.len(),
            accounts_changed = stats.accounts,
            slots_changed = stats.slots,
            elapsed_us = started.elapsed().as_micros() as u64,
            "block written"
        );
        Ok(())
    }

    /// Writes the genesis block (number 0, on an empty database) together with the chain id
    /// and genesis hash metadata, all in one durable commit, so a database either has a
    /// genesis it knows the chain of, or nothing.
    pub fn write_genesis(&self, block: &BlockWrite, chain_id: u64) -> StorageResult<()> {
        if block.header.number != 0 {
            return Err(StorageError::InvalidBlock {
                number: block.header.number,
                reason: "a genesis block is block 0".into(),
            });
        }
        let tx = self.begin_rw()?;
        insert_block(&tx, block)?;
        tx.put::<Metadata>(
            &meta_keys::CHAIN_ID.to_owned(),
            &Bytes::copy_from_slice(&chain_id.to_be_bytes()),
        )?;
        tx.put::<Metadata>(
            &meta_keys::GENESIS_HASH.to_owned(),
            &Bytes::copy_from_slice(block.hash.as_slice()),
        )?;
        tx.commit()?;
        debug!(hash = %block.hash, chain_id, "genesis written");
        Ok(())
    }

    /// Durably stores a consensus safety value (e.g. the last voted round) under `key`, which
    /// must be 1 to 64 printable ASCII bytes. Returns once the value is on disk, so it can be
    /// called before a vote is sent.
    pub fn write_safety(&self, key: &str, value: &[u8]) -> StorageResult<()> {
        checked_key::<ConsensusSafety>(key)?;
        let tx = self.begin_rw()?;
        tx.put::<ConsensusSafety>(&key.to_owned(), &Bytes::copy_from_slice(value))?;
        tx.commit()?;
        debug!(key, len = value.len(), "safety value written");
        Ok(())
    }

    /// Durably stores a metadata value. The schema version and head block keys are managed by
    /// the storage layer and refused.
    pub fn set_metadata(&self, key: &str, value: &[u8]) -> StorageResult<()> {
        checked_key::<Metadata>(key)?;
        if key == meta_keys::SCHEMA_VERSION || key == meta_keys::HEAD_BLOCK {
            return Err(StorageError::ReservedMetadataKey(key.to_owned()));
        }
        let tx = self.begin_rw()?;
        tx.put::<Metadata>(&key.to_owned(), &Bytes::copy_from_slice(value))?;
        tx.commit()?;
        debug!(key, len = value.len(), "metadata written");
        Ok(())
    }

    /// Durably stores validators' signatures over blocks' withdrawal roots, all in one
    /// transaction: (block number, validator index, root, signature). A later signature of the
    /// same validator for the same block replaces the earlier.
    pub fn put_withdrawal_signatures(
        &self,
        signatures: &[(BlockNumber, u32, B256, [u8; 65])],
    ) -> StorageResult<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        let tx = self.begin_rw()?;
        for (block, validator, root, signature) in signatures {
            let mut value = Vec::with_capacity(97);
            value.extend_from_slice(root.as_slice());
            value.extend_from_slice(signature);
            tx.put::<WithdrawalSignatures>(&(*block, *validator), &Bytes::from(value))?;
        }
        tx.commit()?;
        debug!(count = signatures.len(), "withdrawal signatures written");
        Ok(())
    }

    /// Records the chain id.
    pub fn set_chain_id(&self, chain_id: u64) -> StorageResult<()> {
        self.set_metadata(meta_keys::CHAIN_ID, &chain_id.to_be_bytes())
    }

    /// Records the genesis block hash.
    pub fn set_genesis_hash(&self, hash: B256) -> StorageResult<()> {
        self.set_metadata(meta_keys::GENESIS_HASH, hash.as_slice())
    }
}

fn checked_key<T: Table>(key: &str) -> StorageResult<()> {
    check_string_key(key).map_err(|reason| StorageError::InvalidKey {
        table: T::NAME,
        key: key.to_owned(),
        reason,
    })
}

/// The latest plain state a block's [`StateChanges`] are diffed against
/// ([`StateChanges::diff`]): an MDBX transaction, or any store that keeps the same state.
pub trait PlainState {
    /// The latest state of `address`.
    fn account(&self, address: Address) -> StorageResult<Option<Account>>;
    /// The latest value of storage `slot` of `address` (zero if unset).
    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256>;
    /// All non-zero storage of `address`, by slot.
    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>>;
}

impl<K: libmdbx::TransactionKind> PlainState for Tx<'_, K> {
    fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        Tx::account(self, address)
    }

    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        Tx::storage(self, address, slot)
    }

    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        Tx::storage_of(self, address)
    }
}

/// What one block's [`StateChanges`] do to the stored state: every account and slot whose
/// value changes, with the value it replaces (the changeset), in address and slot order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// (address, account before the block, account after it); only real changes.
    pub accounts: Vec<(Address, Option<Account>, Option<Account>)>,
    /// (address, slot, value before the block, value after it); only real changes, zero for
    /// an absent slot.
    pub slots: Vec<(Address, B256, U256, U256)>,
    /// Accounts destroyed or whose storage is wiped: their storage tries are gone.
    pub wiped: Vec<Address>,
}

impl StateChanges {
    /// The changes of block `number` against the state `before` it, checked: a destroyed
    /// account's storage is not written, and each bytecode hashes to its key.
    pub fn diff(&self, number: BlockNumber, before: &impl PlainState) -> StorageResult<StateDiff> {
        let mut diff = StateDiff::default();
        let addresses: BTreeSet<Address> = self
            .accounts
            .keys()
            .chain(self.storage.keys())
            .copied()
            .collect();
        for address in addresses {
            let update = self.accounts.get(&address);
            if let Some(new) = update {
                let old = before.account(address)?;
                if old != *new {
                    diff.accounts.push((address, old, *new));
                }
            }

            let destroyed = matches!(update, Some(None));
            let storage = self.storage.get(&address);
            // slot -> (value before the block, value after it)
            let mut slots = BTreeMap::<B256, (U256, U256)>::new();
            if destroyed || storage.is_some_and(|s| s.wiped) {
                for (slot, old) in before.storage_of(address)? {
                    slots.insert(slot, (old, U256::ZERO));
                }
                diff.wiped.push(address);
            }
            for (slot, new) in storage.into_iter().flat_map(|s| &s.slots) {
                let old = match slots.get(slot) {
                    Some(&(old, _)) => old,
                    None => before.storage(address, *slot)?,
                };
                slots.insert(*slot, (old, *new));
            }
            if destroyed && slots.values().any(|(_, new)| !new.is_zero()) {
                return Err(StorageError::InvalidBlock {
                    number,
                    reason: format!("account {address} is destroyed but its storage is written"),
                });
            }
            diff.slots.extend(
                slots
                    .into_iter()
                    .filter(|(_, (old, new))| old != new)
                    .map(|(slot, (old, new))| (address, slot, old, new)),
            );
        }
        for (code_hash, code) in &self.bytecodes {
            if keccak256(code) != *code_hash {
                return Err(StorageError::InvalidBlock {
                    number,
                    reason: format!("bytecode stored under {code_hash} does not hash to it"),
                });
            }
        }
        Ok(diff)
    }
}

impl BlockWrite {
    /// Checks that the block can be appended onto `head` (`None`: an empty store) and returns
    /// its transaction count: it is the head's child, its hash is its header's, it has one
    /// receipt of the right type per transaction, and none of its transactions is stored
    /// already (`stored` finds a transaction hash in the store) or twice in the block.
    pub fn check(
        &self,
        head: Option<BlockNumHash>,
        stored: impl Fn(&B256) -> StorageResult<Option<TxLocation>>,
    ) -> StorageResult<u32> {
        let number = self.header.number;
        let invalid = |reason: String| StorageError::InvalidBlock { number, reason };
        match head {
            None if number != 0 => {
                return Err(StorageError::OutOfOrder {
                    expected: 0,
                    got: number,
                });
            }
            None => {}
            Some(head) => {
                let expected = head.number.checked_add(1).ok_or_else(|| {
                    invalid("the head block already has the largest block number".into())
                })?;
                if number != expected {
                    return Err(StorageError::OutOfOrder {
                        expected,
                        got: number,
                    });
                }
                if self.header.parent_hash != head.hash {
                    return Err(StorageError::ParentMismatch {
                        number,
                        expected: head.hash,
                        got: self.header.parent_hash,
                    });
                }
            }
        }
        let hash = self.header.hash_slow();
        if hash != self.hash {
            return Err(invalid(format!(
                "hash {} was given but the header hashes to {hash}",
                self.hash
            )));
        }
        if self.transactions.len() != self.receipts.len() {
            return Err(invalid(format!(
                "{} transactions but {} receipts",
                self.transactions.len(),
                self.receipts.len()
            )));
        }
        let tx_count = u32::try_from(self.transactions.len())
            .map_err(|_| invalid("more than u32::MAX transactions".into()))?;
        let mut in_block = BTreeMap::<B256, u32>::new();
        for (index, (transaction, receipt)) in
            (0u32..).zip(self.transactions.iter().zip(&self.receipts))
        {
            let tx_hash = *transaction.tx_hash();
            if receipt.tx_type() != transaction.tx_type() {
                return Err(invalid(format!(
                    "receipt {index} is for a {} transaction but transaction {index} is {}",
                    receipt.tx_type(),
                    transaction.tx_type()
                )));
            }
            let seen = match in_block.get(&tx_hash) {
                Some(&index) => Some(TxLocation {
                    block_number: number,
                    index,
                }),
                None => stored(&tx_hash)?,
            };
            if let Some(seen) = seen {
                return Err(invalid(format!(
                    "transaction {tx_hash} is already stored in block {} at index {}",
                    seen.block_number, seen.index
                )));
            }
            in_block.insert(tx_hash, index);
        }
        Ok(tx_count)
    }
}

fn insert_block(tx: &Tx<'_, RW>, block: &BlockWrite) -> StorageResult<StateStats> {
    let number = block.header.number;
    let tx_count = block.check(tx.head()?, |hash| tx.get::<TransactionLookup>(hash))?;

    tx.put::<Headers>(&number, &block.header)?;
    tx.put::<CanonicalHeaders>(&number, &block.hash)?;
    tx.put::<HeaderNumbers>(&block.hash, &number)?;
    tx.put::<BlockBodies>(&number, &StoredBody { tx_count })?;
    for (index, (transaction, receipt)) in
        (0u32..).zip(block.transactions.iter().zip(&block.receipts))
    {
        tx.put::<Transactions>(&(number, index), transaction)?;
        tx.put::<Receipts>(&(number, index), receipt)?;
        let location = TxLocation {
            block_number: number,
            index,
        };
        tx.put::<TransactionLookup>(transaction.tx_hash(), &location)?;
    }
    if !block.system_logs.is_empty() {
        tx.put::<SystemLogs>(&number, &block.system_logs)?;
    }
    if let Some(certificate) = &block.certificate {
        tx.put::<BlockCertificates>(&number, certificate)?;
    }
    let stats = apply_state(tx, number, &block.state)?;
    apply_trie(tx, &block.trie)?;
    let head = Bytes::copy_from_slice(&number.to_be_bytes());
    tx.put::<Metadata>(&meta_keys::HEAD_BLOCK.to_owned(), &head)?;
    Ok(stats)
}

/// Applies the state changes of block `number`, recording the previous values in the
/// changesets and the block in the history indexes.
fn apply_state(
    tx: &Tx<'_, RW>,
    number: BlockNumber,
    changes: &StateChanges,
) -> StorageResult<StateStats> {
    let diff = changes.diff(number, tx)?;
    for (address, old, new) in &diff.accounts {
        let hashed_address = keccak256(address);
        tx.put::<AccountChangeSets>(&(number, *address), old)?;
        tx.put::<AccountHistory>(&(*address, number), &())?;
        match new {
            Some(account) => {
                tx.put::<PlainAccounts>(address, account)?;
                tx.put::<HashedAccounts>(&hashed_address, account)?;
            }
            None => {
                tx.delete::<PlainAccounts>(address)?;
                tx.delete::<HashedAccounts>(&hashed_address)?;
            }
        }
    }
    for address in &diff.wiped {
        tx.delete_prefix::<StoragesTrie, _>(&keccak256(address))?;
    }
    for (address, slot, old, new) in &diff.slots {
        tx.put::<StorageChangeSets>(&(number, *address, *slot), old)?;
        tx.put::<StorageHistory>(&(*address, *slot, number), &())?;
        let key = (keccak256(address), keccak256(slot));
        if new.is_zero() {
            tx.delete::<PlainStorage>(&(*address, *slot))?;
            tx.delete::<HashedStorages>(&key)?;
        } else {
            tx.put::<PlainStorage>(&(*address, *slot), new)?;
            tx.put::<HashedStorages>(&key, new)?;
        }
    }
    for (code_hash, code) in &changes.bytecodes {
        tx.put::<Bytecodes>(code_hash, code)?;
    }
    Ok(StateStats {
        accounts: diff.accounts.len(),
        slots: diff.slots.len(),
    })
}

fn apply_trie(tx: &Tx<'_, RW>, trie: &TrieUpdates) -> StorageResult<()> {
    for (path, node) in &trie.account_nodes {
        match node {
            Some(node) => tx.put::<AccountsTrie>(path, node)?,
            None => {
                tx.delete::<AccountsTrie>(path)?;
            }
        }
    }
    for (hashed_address, nodes) in &trie.storage_nodes {
        for (path, node) in nodes {
            let key = (*hashed_address, *path);
            match node {
                Some(node) => tx.put::<StoragesTrie>(&key, node)?,
                None => {
                    tx.delete::<StoragesTrie>(&key)?;
                }
            }
        }
    }
    Ok(())
}
