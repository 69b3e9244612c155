//! [`MemoryStore`]: the chain in ordered maps, written like the database and read through the
//! same traits.

use crate::{BlockReader, MetadataReader, SafetyReader, StateReader, WithdrawalSignatureReader};
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockNumHash;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use parallax_storage::{
    Account, BlockNumber, BlockWrite, LocatedTransaction, PlainState, SCHEMA_VERSION, StateChanges,
    StorageError, StorageResult, StoredBody, TxLocation,
    codec::check_string_key,
    read::{check_available, metadata_b256, metadata_u64},
    tables::{ConsensusSafety, Metadata, Table, meta_keys},
};
use std::collections::{BTreeMap, BTreeSet};

/// One stored block: what the block-keyed tables hold for it.
#[derive(Debug, Clone)]
struct StoredBlock {
    hash: B256,
    header: Header,
    transactions: Vec<TxEnvelope>,
    receipts: Vec<ReceiptEnvelope>,
    system_logs: Vec<Log>,
    certificate: Option<Bytes>,
}

/// An in-memory chain store with the database's behaviour, for tests of code that reads the
/// chain through this crate's traits.
///
/// Write it as the database is written: [`MemoryStore::write_genesis`] and
/// [`MemoryStore::write_block`] take the same [`BlockWrite`]s as
/// `parallax_storage::Database`'s and refuse the same blocks (out of order, wrong parent or
/// hash, receipts not matching transactions, a transaction stored twice, storage written to a
/// destroyed account) with the same errors, leaving the store untouched; the state history is
/// kept as the database keeps it (each change's value before the block), so
/// [`StateReader::account_at`] and [`StateReader::storage_at`] answer for every stored block.
/// Only what the read traits serve is kept (no hashed state, no trie nodes).
#[derive(Debug, Clone)]
pub struct MemoryStore {
    metadata: BTreeMap<String, Bytes>,
    blocks: BTreeMap<BlockNumber, StoredBlock>,
    numbers: BTreeMap<B256, BlockNumber>,
    transaction_lookup: BTreeMap<B256, TxLocation>,
    accounts: BTreeMap<Address, Account>,
    /// Non-zero values only, as in `PlainStorage`.
    storage: BTreeMap<(Address, B256), U256>,
    bytecodes: BTreeMap<B256, Bytes>,
    /// (address, block) -> the account before that block changed it.
    account_history: BTreeMap<(Address, BlockNumber), Option<Account>>,
    /// (address, slot, block) -> the value before that block changed it.
    storage_history: BTreeMap<(Address, B256, BlockNumber), U256>,
    withdrawal_signatures: BTreeMap<(BlockNumber, u32), (B256, [u8; 65])>,
    /// Consensus's records by key ([`SafetyReader`]).
    safety: BTreeMap<String, Bytes>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store, stamped with the schema version as a new database is.
    pub fn new() -> Self {
        let schema = Bytes::copy_from_slice(&SCHEMA_VERSION.to_be_bytes());
        Self {
            metadata: BTreeMap::from([(meta_keys::SCHEMA_VERSION.to_owned(), schema)]),
            blocks: BTreeMap::new(),
            numbers: BTreeMap::new(),
            transaction_lookup: BTreeMap::new(),
            accounts: BTreeMap::new(),
            storage: BTreeMap::new(),
            bytecodes: BTreeMap::new(),
            account_history: BTreeMap::new(),
            storage_history: BTreeMap::new(),
            withdrawal_signatures: BTreeMap::new(),
            safety: BTreeMap::new(),
        }
    }

    /// Appends `block` onto the head, as `Database::write_block` does: checked first, and a
    /// refused block changes nothing.
    pub fn write_block(&mut self, block: &BlockWrite) -> StorageResult<()> {
        let number = block.header.number;
        let tx_count = block.check(self.head()?, |hash| {
            Ok(self.transaction_lookup.get(hash).copied())
        })?;
        let diff = block.state.diff(number, &*self)?;

        for index in 0..tx_count {
            let hash = *block.transactions[index as usize].tx_hash();
            let location = TxLocation {
                block_number: number,
                index,
            };
            self.transaction_lookup.insert(hash, location);
        }
        self.numbers.insert(block.hash, number);
        self.blocks.insert(
            number,
            StoredBlock {
                hash: block.hash,
                header: block.header.clone(),
                transactions: block.transactions.clone(),
                receipts: block.receipts.clone(),
                system_logs: block.system_logs.clone(),
                certificate: block.certificate.clone(),
            },
        );
        for (address, before, after) in diff.accounts {
            self.account_history.insert((address, number), before);
            match after {
                Some(account) => self.accounts.insert(address, account),
                None => self.accounts.remove(&address),
            };
        }
        for (address, slot, before, after) in diff.slots {
            self.storage_history.insert((address, slot, number), before);
            if after.is_zero() {
                self.storage.remove(&(address, slot));
            } else {
                self.storage.insert((address, slot), after);
            }
        }
        self.bytecodes.extend(block.state.bytecodes.clone());
        self.metadata.insert(
            meta_keys::HEAD_BLOCK.to_owned(),
            Bytes::copy_from_slice(&number.to_be_bytes()),
        );
        Ok(())
    }

    /// Writes the genesis block (number 0, into an empty store) with the chain id and genesis
    /// hash, as `Database::write_genesis` does.
    pub fn write_genesis(&mut self, block: &BlockWrite, chain_id: u64) -> StorageResult<()> {
        if block.header.number != 0 {
            return Err(StorageError::InvalidBlock {
                number: block.header.number,
                reason: "a genesis block is block 0".into(),
            });
        }
        self.write_block(block)?;
        self.metadata.insert(
            meta_keys::CHAIN_ID.to_owned(),
            Bytes::copy_from_slice(&chain_id.to_be_bytes()),
        );
        self.metadata.insert(
            meta_keys::GENESIS_HASH.to_owned(),
            Bytes::copy_from_slice(block.hash.as_slice()),
        );
        Ok(())
    }

    /// Stores validators' signatures over blocks' withdrawal roots: (block number, validator
    /// index, root, signature); a later signature of the same validator for the same block
    /// replaces the earlier, as `Database::put_withdrawal_signatures` does.
    pub fn put_withdrawal_signatures(&mut self, signatures: &[(BlockNumber, u32, B256, [u8; 65])]) {
        for (block, validator, root, signature) in signatures {
            self.withdrawal_signatures
                .insert((*block, *validator), (*root, *signature));
        }
    }

    /// The whole state after block `number`: every account that exists then, with its
    /// non-zero storage, and every code stored, as changes from an empty state. What a test
    /// computes a state root or a Merkle proof from without trie nodes (this store keeps
    /// none); [`StorageError::BlockNotAvailable`] for a block not stored.
    pub fn state_at(&self, number: BlockNumber) -> StorageResult<StateChanges> {
        check_available(self.head_number()?, number)?;
        let addresses: BTreeSet<Address> = self
            .accounts
            .keys()
            .copied()
            .chain(self.account_history.keys().map(|(a, _)| *a))
            .collect();
        let slots: BTreeSet<(Address, B256)> = self
            .storage
            .keys()
            .copied()
            .chain(self.storage_history.keys().map(|(a, s, _)| (*a, *s)))
            .collect();
        let mut state = StateChanges {
            bytecodes: self.bytecodes.clone(),
            ..StateChanges::default()
        };
        for address in addresses {
            if let Some(account) = self.account_at(address, number)? {
                state.accounts.insert(address, Some(account));
            }
        }
        for (address, slot) in slots {
            if !state.accounts.contains_key(&address) {
                continue;
            }
            let value = self.storage_at(address, slot, number)?;
            if !value.is_zero() {
                state
                    .storage
                    .entry(address)
                    .or_default()
                    .slots
                    .insert(slot, value);
            }
        }
        Ok(state)
    }

    /// Stores one of consensus's records under `key` (replacing what was there), refusing the
    /// keys `Database::write_safety` refuses (empty, longer than 64 bytes, not printable
    /// ASCII).
    pub fn write_safety(&mut self, key: &str, value: &[u8]) -> StorageResult<()> {
        check_string_key(key).map_err(|reason| StorageError::InvalidKey {
            table: ConsensusSafety::NAME,
            key: key.to_owned(),
            reason,
        })?;
        self.safety
            .insert(key.to_owned(), Bytes::copy_from_slice(value));
        Ok(())
    }

    /// Stores a metadata value, refusing what `Database::set_metadata` refuses (a malformed
    /// key, or one the store manages: the schema version and the head block).
    pub fn set_metadata(&mut self, key: &str, value: &[u8]) -> StorageResult<()> {
        check_string_key(key).map_err(|reason| StorageError::InvalidKey {
            table: Metadata::NAME,
            key: key.to_owned(),
            reason,
        })?;
        if key == meta_keys::SCHEMA_VERSION || key == meta_keys::HEAD_BLOCK {
            return Err(StorageError::ReservedMetadataKey(key.to_owned()));
        }
        self.metadata
            .insert(key.to_owned(), Bytes::copy_from_slice(value));
        Ok(())
    }
}

impl PlainState for MemoryStore {
    fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        Ok(self.accounts.get(&address).copied())
    }

    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        Ok(self
            .storage
            .get(&(address, slot))
            .copied()
            .unwrap_or_default())
    }

    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        Ok(self
            .storage
            .range((address, B256::ZERO)..=(address, B256::repeat_byte(0xff)))
            .map(|(&(_, slot), &value)| (slot, value))
            .collect())
    }
}

impl BlockReader for MemoryStore {
    fn head_number(&self) -> StorageResult<Option<BlockNumber>> {
        self.metadata
            .get(meta_keys::HEAD_BLOCK)
            .map(|bytes| metadata_u64(meta_keys::HEAD_BLOCK, bytes))
            .transpose()
    }

    fn head(&self) -> StorageResult<Option<BlockNumHash>> {
        Ok(self
            .blocks
            .last_key_value()
            .map(|(&number, block)| BlockNumHash {
                number,
                hash: block.hash,
            }))
    }

    fn canonical_hash(&self, number: BlockNumber) -> StorageResult<Option<B256>> {
        Ok(self.blocks.get(&number).map(|b| b.hash))
    }

    fn block_number(&self, hash: B256) -> StorageResult<Option<BlockNumber>> {
        Ok(self.numbers.get(&hash).copied())
    }

    fn header(&self, number: BlockNumber) -> StorageResult<Option<Header>> {
        Ok(self.blocks.get(&number).map(|b| b.header.clone()))
    }

    fn header_by_hash(&self, hash: B256) -> StorageResult<Option<Header>> {
        let number = self.block_number(hash)?;
        Ok(number
            .and_then(|n| self.blocks.get(&n))
            .map(|b| b.header.clone()))
    }

    fn body(&self, number: BlockNumber) -> StorageResult<Option<StoredBody>> {
        Ok(self.blocks.get(&number).map(|b| StoredBody {
            // `write_block` refused a block with more than u32::MAX transactions.
            tx_count: b.transactions.len() as u32,
        }))
    }

    fn transactions(&self, number: BlockNumber) -> StorageResult<Option<Vec<TxEnvelope>>> {
        Ok(self.blocks.get(&number).map(|b| b.transactions.clone()))
    }

    fn transaction(&self, number: BlockNumber, index: u32) -> StorageResult<Option<TxEnvelope>> {
        Ok(self
            .blocks
            .get(&number)
            .and_then(|b| b.transactions.get(index as usize).cloned()))
    }

    fn transaction_by_hash(&self, hash: B256) -> StorageResult<Option<LocatedTransaction>> {
        let Some(&location) = self.transaction_lookup.get(&hash) else {
            return Ok(None);
        };
        let transaction = self
            .transaction(location.block_number, location.index)?
            .ok_or_else(|| {
                StorageError::Inconsistent(format!("transaction {hash} indexed but not stored"))
            })?;
        Ok(Some(LocatedTransaction {
            transaction,
            location,
        }))
    }

    fn receipts(&self, number: BlockNumber) -> StorageResult<Option<Vec<ReceiptEnvelope>>> {
        Ok(self.blocks.get(&number).map(|b| b.receipts.clone()))
    }

    fn receipt(&self, number: BlockNumber, index: u32) -> StorageResult<Option<ReceiptEnvelope>> {
        Ok(self
            .blocks
            .get(&number)
            .and_then(|b| b.receipts.get(index as usize).cloned()))
    }

    fn system_logs(&self, number: BlockNumber) -> StorageResult<Vec<Log>> {
        Ok(self
            .blocks
            .get(&number)
            .map(|b| b.system_logs.clone())
            .unwrap_or_default())
    }

    fn certificate(&self, number: BlockNumber) -> StorageResult<Option<Bytes>> {
        Ok(self.blocks.get(&number).and_then(|b| b.certificate.clone()))
    }
}

impl StateReader for MemoryStore {
    fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        PlainState::account(self, address)
    }

    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        PlainState::storage(self, address, slot)
    }

    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        PlainState::storage_of(self, address)
    }

    fn bytecode(&self, code_hash: B256) -> StorageResult<Option<Bytes>> {
        Ok(self.bytecodes.get(&code_hash).cloned())
    }

    /// The value before the first change after `block`, as the database reads it from its
    /// history index and changesets; the latest value if nothing changed it since.
    fn account_at(&self, address: Address, block: BlockNumber) -> StorageResult<Option<Account>> {
        check_available(self.head_number()?, block)?;
        let Some(next) = block.checked_add(1) else {
            return StateReader::account(self, address);
        };
        match self.account_history.range((address, next)..).next() {
            Some((&(changed, _), &before)) if changed == address => Ok(before),
            _ => StateReader::account(self, address),
        }
    }

    fn storage_at(&self, address: Address, slot: B256, block: BlockNumber) -> StorageResult<U256> {
        check_available(self.head_number()?, block)?;
        let Some(next) = block.checked_add(1) else {
            return StateReader::storage(self, address, slot);
        };
        match self.storage_history.range((address, slot, next)..).next() {
            Some((&(changed, changed_slot, _), &before))
                if changed == address && changed_slot == slot =>
            {
                Ok(before)
            }
            _ => StateReader::storage(self, address, slot),
        }
    }
}

impl WithdrawalSignatureReader for MemoryStore {
    fn withdrawal_signatures(
        &self,
        number: BlockNumber,
    ) -> StorageResult<Vec<(u32, B256, [u8; 65])>> {
        Ok(self
            .withdrawal_signatures
            .range((number, 0)..=(number, u32::MAX))
            .map(|(&(_, validator), &(root, signature))| (validator, root, signature))
            .collect())
    }
}

impl MetadataReader for MemoryStore {
    fn metadata(&self, key: &str) -> StorageResult<Option<Bytes>> {
        Ok(self.metadata.get(key).cloned())
    }

    fn chain_id(&self) -> StorageResult<Option<u64>> {
        let key = meta_keys::CHAIN_ID;
        self.metadata
            .get(key)
            .map(|bytes| metadata_u64(key, bytes))
            .transpose()
    }

    fn genesis_hash(&self) -> StorageResult<Option<B256>> {
        let key = meta_keys::GENESIS_HASH;
        self.metadata
            .get(key)
            .map(|bytes| metadata_b256(key, bytes))
            .transpose()
    }
}

impl SafetyReader for MemoryStore {
    fn safety(&self, key: &str) -> StorageResult<Option<Bytes>> {
        Ok(self.safety.get(key).cloned())
    }
}
