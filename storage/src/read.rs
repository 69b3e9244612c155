//! Block, state, history and consensus queries, on read-only and read-write transactions.

use crate::{
    db::Tx,
    error::{CodecError, Part, StorageError, StorageResult},
    models::{Account, StoredBody, TxLocation},
    tables::{
        AccountChangeSets, AccountHistory, AccountsTrie, BlockBodies, BlockCertificates,
        BlockNumber, Bytecodes, CanonicalHeaders, ConsensusSafety, HashedAccounts, HashedStorages,
        HeaderNumbers, Headers, Metadata, PlainAccounts, PlainStorage, Receipts, StorageChangeSets,
        StorageHistory, StoragesTrie, Table, TransactionLookup, Transactions, meta_keys,
    },
};
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockNumHash;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use libmdbx::{RO, TransactionKind};

/// A read-only transaction used for queries: one consistent snapshot of the database, as of the
/// last commit when it was begun. Get one with [`Database::reader`](crate::Database::reader).
pub type Reader<'db> = Tx<'db, RO>;

/// A transaction found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedTransaction {
    /// The transaction.
    pub transaction: TxEnvelope,
    /// Where it is.
    pub location: TxLocation,
}

fn fixed_metadata<const N: usize>(key: &str, bytes: &Bytes) -> StorageResult<[u8; N]> {
    <[u8; N]>::try_from(bytes.as_ref()).map_err(|_| {
        let e = CodecError::InvalidLength {
            expected: N,
            got: bytes.len(),
        };
        tracing::warn!(key, len = bytes.len(), "malformed metadata value");
        StorageError::decode(Metadata::NAME, Part::Value, e)
    })
}

/// A [`Metadata`] value holding a number (chain id, head block): 8 bytes, big-endian.
pub fn metadata_u64(key: &str, bytes: &Bytes) -> StorageResult<u64> {
    fixed_metadata::<8>(key, bytes).map(u64::from_be_bytes)
}

/// A [`Metadata`] value holding a hash (the genesis hash): 32 bytes.
pub fn metadata_b256(key: &str, bytes: &Bytes) -> StorageResult<B256> {
    fixed_metadata::<32>(key, bytes).map(B256::from)
}

/// Whether the state after `block` can be read from a store whose head is `head`: only for a
/// stored block ([`StorageError::BlockNotAvailable`] otherwise).
pub fn check_available(head: Option<BlockNumber>, block: BlockNumber) -> StorageResult<()> {
    match head {
        Some(head) if block <= head => Ok(()),
        _ => Err(StorageError::BlockNotAvailable {
            requested: block,
            head,
        }),
    }
}

impl<K: TransactionKind> Tx<'_, K> {
    /// A [`Metadata`] value.
    pub fn metadata(&self, key: &str) -> StorageResult<Option<Bytes>> {
        self.get::<Metadata>(&key.to_owned())
    }

    fn metadata_u64(&self, key: &str) -> StorageResult<Option<u64>> {
        self.metadata(key)?
            .map(|bytes| metadata_u64(key, &bytes))
            .transpose()
    }

    /// The chain id recorded with [`Database::set_chain_id`](crate::Database::set_chain_id).
    pub fn chain_id(&self) -> StorageResult<Option<u64>> {
        self.metadata_u64(meta_keys::CHAIN_ID)
    }

    /// The genesis hash recorded with
    /// [`Database::set_genesis_hash`](crate::Database::set_genesis_hash).
    pub fn genesis_hash(&self) -> StorageResult<Option<B256>> {
        let key = meta_keys::GENESIS_HASH;
        self.metadata(key)?
            .map(|bytes| metadata_b256(key, &bytes))
            .transpose()
    }

    /// The number of the last block written; `None` for an empty database.
    pub fn head_number(&self) -> StorageResult<Option<BlockNumber>> {
        self.metadata_u64(meta_keys::HEAD_BLOCK)
    }

    /// Number and hash of the last block written.
    pub fn head(&self) -> StorageResult<Option<BlockNumHash>> {
        let Some(number) = self.head_number()? else {
            return Ok(None);
        };
        let hash = self.canonical_hash(number)?.ok_or_else(|| {
            StorageError::Inconsistent(format!("head block {number} has no canonical hash"))
        })?;
        Ok(Some(BlockNumHash { number, hash }))
    }

    /// The hash of block `number`.
    pub fn canonical_hash(&self, number: BlockNumber) -> StorageResult<Option<B256>> {
        self.get::<CanonicalHeaders>(&number)
    }

    /// The number of the block with `hash`.
    pub fn block_number(&self, hash: B256) -> StorageResult<Option<BlockNumber>> {
        self.get::<HeaderNumbers>(&hash)
    }

    /// The header of block `number`.
    pub fn header(&self, number: BlockNumber) -> StorageResult<Option<Header>> {
        self.get::<Headers>(&number)
    }

    /// The header of the block with `hash`.
    pub fn header_by_hash(&self, hash: B256) -> StorageResult<Option<Header>> {
        match self.block_number(hash)? {
            Some(number) => self.header(number),
            None => Ok(None),
        }
    }

    /// The body summary of block `number`.
    pub fn body(&self, number: BlockNumber) -> StorageResult<Option<StoredBody>> {
        self.get::<BlockBodies>(&number)
    }

    /// All entries of a per-block table (`Transactions`, `Receipts`), checked against the
    /// body's transaction count.
    fn block_entries<T>(&self, number: BlockNumber) -> StorageResult<Option<Vec<T::Value>>>
    where
        T: Table<Key = (BlockNumber, u32)>,
    {
        let Some(body) = self.body(number)? else {
            return Ok(None);
        };
        let mut cursor = self.cursor::<T>()?;
        let mut values = Vec::with_capacity(body.tx_count as usize);
        for entry in cursor.walk_prefix(&number) {
            let ((_, index), value) = entry?;
            if index as usize != values.len() {
                return Err(StorageError::Inconsistent(format!(
                    "{} of block {number}: index {index} found where {} was expected",
                    T::NAME,
                    values.len()
                )));
            }
            values.push(value);
        }
        if values.len() != body.tx_count as usize {
            return Err(StorageError::Inconsistent(format!(
                "block {number} has {} transactions but {} entries in {}",
                body.tx_count,
                values.len(),
                T::NAME
            )));
        }
        Ok(Some(values))
    }

    /// The transactions of block `number`, in order; `None` if the block is not stored.
    pub fn transactions(&self, number: BlockNumber) -> StorageResult<Option<Vec<TxEnvelope>>> {
        self.block_entries::<Transactions>(number)
    }

    /// Transaction `index` of block `number`.
    pub fn transaction(
        &self,
        number: BlockNumber,
        index: u32,
    ) -> StorageResult<Option<TxEnvelope>> {
        self.get::<Transactions>(&(number, index))
    }

    /// The transaction with `hash`, and where it is.
    pub fn transaction_by_hash(&self, hash: B256) -> StorageResult<Option<LocatedTransaction>> {
        let Some(location) = self.get::<TransactionLookup>(&hash)? else {
            return Ok(None);
        };
        let transaction = self
            .transaction(location.block_number, location.index)?
            .ok_or_else(|| {
                StorageError::Inconsistent(format!(
                    "transaction {hash} is indexed at block {} index {} but not stored there",
                    location.block_number, location.index
                ))
            })?;
        Ok(Some(LocatedTransaction {
            transaction,
            location,
        }))
    }

    /// The receipts of block `number`, in order; `None` if the block is not stored.
    pub fn receipts(&self, number: BlockNumber) -> StorageResult<Option<Vec<ReceiptEnvelope>>> {
        self.block_entries::<Receipts>(number)
    }

    /// The receipt of transaction `index` of block `number`.
    pub fn receipt(
        &self,
        number: BlockNumber,
        index: u32,
    ) -> StorageResult<Option<ReceiptEnvelope>> {
        self.get::<Receipts>(&(number, index))
    }

    /// The logs of block `number`'s system calls (bridge deposits), which are in no receipt;
    /// empty for a block without any.
    pub fn system_logs(&self, number: BlockNumber) -> StorageResult<Vec<alloy_primitives::Log>> {
        Ok(self
            .get::<crate::tables::SystemLogs>(&number)?
            .unwrap_or_default())
    }

    /// The validators' signatures over block `number`'s withdrawal root, as the relayer stored
    /// them: (validator index, root, signature), by validator.
    pub fn withdrawal_signatures(
        &self,
        number: BlockNumber,
    ) -> StorageResult<Vec<(u32, B256, [u8; 65])>> {
        let mut cursor = self.cursor::<crate::tables::WithdrawalSignatures>()?;
        let mut out = Vec::new();
        for entry in cursor.walk_prefix(&number) {
            let ((_, validator), value) = entry?;
            if value.len() != 97 {
                return Err(StorageError::Inconsistent(format!(
                    "WithdrawalSignatures of block {number}, validator {validator}: {} bytes, expected 97",
                    value.len()
                )));
            }
            let mut signature = [0u8; 65];
            signature.copy_from_slice(&value[32..]);
            out.push((validator, B256::from_slice(&value[..32]), signature));
        }
        Ok(out)
    }

    /// The consensus certificate that committed block `number`.
    pub fn certificate(&self, number: BlockNumber) -> StorageResult<Option<Bytes>> {
        self.get::<BlockCertificates>(&number)
    }

    /// A consensus safety value written with
    /// [`Database::write_safety`](crate::Database::write_safety).
    pub fn safety(&self, key: &str) -> StorageResult<Option<Bytes>> {
        self.get::<ConsensusSafety>(&key.to_owned())
    }

    /// The latest state of `address`.
    pub fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        self.get::<PlainAccounts>(&address)
    }

    /// The latest value of storage `slot` of `address` (zero if unset).
    pub fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        Ok(self
            .get::<PlainStorage>(&(address, slot))?
            .unwrap_or_default())
    }

    /// All non-zero storage of `address`, by slot.
    pub fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        let mut cursor = self.cursor::<PlainStorage>()?;
        cursor
            .walk_prefix(&address)
            .map(|entry| entry.map(|((_, slot), value)| (slot, value)))
            .collect()
    }

    /// The code with `code_hash`.
    pub fn bytecode(&self, code_hash: B256) -> StorageResult<Option<Bytes>> {
        self.get::<Bytecodes>(&code_hash)
    }

    /// The account stored under `hashed_address` (keccak of the address).
    pub fn hashed_account(&self, hashed_address: B256) -> StorageResult<Option<Account>> {
        self.get::<HashedAccounts>(&hashed_address)
    }

    /// The storage value under (keccak of the address, keccak of the slot); zero if unset.
    pub fn hashed_storage(&self, hashed_address: B256, hashed_slot: B256) -> StorageResult<U256> {
        Ok(self
            .get::<HashedStorages>(&(hashed_address, hashed_slot))?
            .unwrap_or_default())
    }

    /// The account-trie branch node at `path`.
    pub fn account_trie_node(&self, path: &Nibbles) -> StorageResult<Option<BranchNodeCompact>> {
        self.get::<AccountsTrie>(path)
    }

    /// The branch node at `path` of the storage trie of the account with `hashed_address`.
    pub fn storage_trie_node(
        &self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> StorageResult<Option<BranchNodeCompact>> {
        self.get::<StoragesTrie>(&(hashed_address, *path))
    }

    fn check_available(&self, block: BlockNumber) -> StorageResult<()> {
        check_available(self.head_number()?, block)
    }

    /// The state of `address` after block `block` was executed.
    ///
    /// The first change to the account in a later block recorded the value it had before that
    /// block, which is the value after `block`; without a later change the latest state is it.
    pub fn account_at(
        &self,
        address: Address,
        block: BlockNumber,
    ) -> StorageResult<Option<Account>> {
        self.check_available(block)?;
        let Some(next) = block.checked_add(1) else {
            return self.account(address);
        };
        let mut history = self.cursor::<AccountHistory>()?;
        match history.seek(&(address, next))? {
            Some(((changed, changed_in), ())) if changed == address => self
                .get::<AccountChangeSets>(&(changed_in, address))?
                .ok_or_else(|| {
                    StorageError::Inconsistent(format!(
                        "account {address} changed in block {changed_in} but has no changeset"
                    ))
                }),
            _ => self.account(address),
        }
    }

    /// The value of storage `slot` of `address` after block `block` was executed (zero if
    /// unset); see [`Tx::account_at`].
    pub fn storage_at(
        &self,
        address: Address,
        slot: B256,
        block: BlockNumber,
    ) -> StorageResult<U256> {
        self.check_available(block)?;
        let Some(next) = block.checked_add(1) else {
            return self.storage(address, slot);
        };
        let mut history = self.cursor::<StorageHistory>()?;
        match history.seek(&(address, slot, next))? {
            Some(((changed, changed_slot, changed_in), ()))
                if changed == address && changed_slot == slot =>
            {
                self.get::<StorageChangeSets>(&(changed_in, address, slot))?
                    .ok_or_else(|| {
                        StorageError::Inconsistent(format!(
                            "slot {slot} of {address} changed in block {changed_in} but has no \
                             changeset"
                        ))
                    })
            }
            _ => self.storage(address, slot),
        }
    }
}
