//! Parallax storage API: the chain's read traits as the node's components need them, apart from
//! the database that implements them.
//!
//! Code that reads the committed chain (the executors' state, the JSON-RPC server, the bridge's
//! relay and deposit watcher; block sync to follow) takes one of these traits instead of an
//! MDBX transaction, so it runs
//! unchanged over the database in production and over [`MemoryStore`] in a test. The traits
//! are split by concern:
//!
//! | trait | answers |
//! | --- | --- |
//! | [`BlockReader`] | the head; hashes, headers, bodies, transactions, receipts, system logs and certificates by number and hash |
//! | [`StateReader`] | accounts, storage and code: latest, and after any stored block |
//! | [`WithdrawalSignatureReader`] | the validators' signatures over blocks' withdrawal roots the relayer stored |
//! | [`MetadataReader`] | metadata: chain id, genesis hash, the cursors components record |
//! | [`SafetyReader`] | consensus's own durable records (its safety data, the uncommitted blocks it kept), opaque bytes by key |
//! | [`ChainReader`] | all of the above (implemented for every type that implements them) |
//!
//! Two implementations: `parallax_storage::Reader` (any MDBX transaction, `Tx<'_, K>`, by
//! thin delegation to its own queries; [`mdbx`]) and [`MemoryStore`] (ordered maps, written
//! with the same [`BlockWrite`]s as the database). The in-memory store is not a mock: a block
//! is checked ([`BlockWrite::check`]) and its state diffed against the state before it
//! ([`StateChanges::diff`](parallax_storage::StateChanges::diff)) by the very code the
//! database's write path runs, and `tests/it` writes the same chain into both and holds every
//! method to the same answer, present and absent keys and historical state alike.
//!
//! Errors are `parallax_storage`'s [`StorageError`]; model types (`Account`, `StoredBody`,
//! `TxLocation`, `LocatedTransaction`, and the [`StateChanges`] a block makes) are its too,
//! re-exported here, so the traits add no second vocabulary and a reader needs no other
//! storage crate.
//!
//! *Invariants:* for the same writes, [`MemoryStore`] and the database answer every method
//! alike (values and error variants); reads never change what a store holds. *Never imports:*
//! any Parallax crate but `storage` (the traits know nothing of execution, consensus, the
//! bridge or the network).

pub mod mdbx;
pub mod memory;

pub use memory::MemoryStore;

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockNumHash;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
pub use parallax_storage::{
    Account, BlockNumber, LocatedTransaction, StateChanges, StorageChanges, StorageError,
    StorageResult, StoredBody, TxLocation,
};

#[cfg(doc)]
use parallax_storage::BlockWrite;

/// The committed blocks: the head, and each block's parts by number (and hash).
pub trait BlockReader {
    /// The number of the last block stored; `None` for an empty store.
    fn head_number(&self) -> StorageResult<Option<BlockNumber>>;

    /// Number and hash of the last block stored; `None` for an empty store.
    fn head(&self) -> StorageResult<Option<BlockNumHash>>;

    /// The hash of block `number`.
    fn canonical_hash(&self, number: BlockNumber) -> StorageResult<Option<B256>>;

    /// The number of the block with `hash`.
    fn block_number(&self, hash: B256) -> StorageResult<Option<BlockNumber>>;

    /// The header of block `number`.
    fn header(&self, number: BlockNumber) -> StorageResult<Option<Header>>;

    /// The header of the block with `hash`.
    fn header_by_hash(&self, hash: B256) -> StorageResult<Option<Header>>;

    /// The body summary (transaction count) of block `number`.
    fn body(&self, number: BlockNumber) -> StorageResult<Option<StoredBody>>;

    /// The transactions of block `number`, in order; `None` if the block is not stored.
    fn transactions(&self, number: BlockNumber) -> StorageResult<Option<Vec<TxEnvelope>>>;

    /// Transaction `index` of block `number`.
    fn transaction(&self, number: BlockNumber, index: u32) -> StorageResult<Option<TxEnvelope>>;

    /// The transaction with `hash`, and where it is.
    fn transaction_by_hash(&self, hash: B256) -> StorageResult<Option<LocatedTransaction>>;

    /// The receipts of block `number`, in order; `None` if the block is not stored.
    fn receipts(&self, number: BlockNumber) -> StorageResult<Option<Vec<ReceiptEnvelope>>>;

    /// The receipt of transaction `index` of block `number`.
    fn receipt(&self, number: BlockNumber, index: u32) -> StorageResult<Option<ReceiptEnvelope>>;

    /// The logs of block `number`'s system calls (bridge deposits), which are in no receipt;
    /// empty for a block without any (or not stored).
    fn system_logs(&self, number: BlockNumber) -> StorageResult<Vec<Log>>;

    /// The consensus certificate that committed block `number` (opaque bytes).
    fn certificate(&self, number: BlockNumber) -> StorageResult<Option<Bytes>>;
}

/// Accounts, storage and code: the latest state (after the head block), and the state after
/// any stored block.
pub trait StateReader {
    /// The latest state of `address`.
    fn account(&self, address: Address) -> StorageResult<Option<Account>>;

    /// The latest value of storage `slot` of `address` (zero if unset).
    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256>;

    /// All non-zero storage of `address`, by slot.
    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>>;

    /// The code with `code_hash`.
    fn bytecode(&self, code_hash: B256) -> StorageResult<Option<Bytes>>;

    /// The state of `address` after block `block`;
    /// [`StorageError::BlockNotAvailable`] for a block not stored.
    fn account_at(&self, address: Address, block: BlockNumber) -> StorageResult<Option<Account>>;

    /// The value of storage `slot` of `address` after block `block` (zero if unset);
    /// [`StorageError::BlockNotAvailable`] for a block not stored.
    fn storage_at(&self, address: Address, slot: B256, block: BlockNumber) -> StorageResult<U256>;
}

/// The validators' signatures over blocks' withdrawal roots, as the bridge's relayer stored
/// them (outside block writes).
pub trait WithdrawalSignatureReader {
    /// The signatures over block `number`'s withdrawal root: (validator index, root,
    /// signature), by validator; empty if none is stored.
    fn withdrawal_signatures(
        &self,
        number: BlockNumber,
    ) -> StorageResult<Vec<(u32, B256, [u8; 65])>>;
}

/// The store's metadata: the chain it holds and the cursors components record in it.
pub trait MetadataReader {
    /// The metadata value under `key`.
    fn metadata(&self, key: &str) -> StorageResult<Option<Bytes>>;

    /// The chain id recorded with the genesis block.
    fn chain_id(&self) -> StorageResult<Option<u64>>;

    /// The genesis hash recorded with the genesis block.
    fn genesis_hash(&self) -> StorageResult<Option<B256>>;
}

/// Consensus's own durable records, opaque bytes by key: its safety data and the uncommitted
/// blocks it asked to keep (the database's `ConsensusSafety` table). Not part of
/// [`ChainReader`]: only consensus and block sync read them.
pub trait SafetyReader {
    /// The record under `key`.
    fn safety(&self, key: &str) -> StorageResult<Option<Bytes>>;
}

/// Every read of the committed chain: blocks, state, withdrawal signatures and metadata.
///
/// Implemented for every type that implements its parts; take `&impl ChainReader` (or
/// `&dyn ChainReader`) where a function needs more than one of them.
pub trait ChainReader:
    BlockReader + StateReader + WithdrawalSignatureReader + MetadataReader
{
}

impl<T> ChainReader for T where
    T: BlockReader + StateReader + WithdrawalSignatureReader + MetadataReader + ?Sized
{
}

/// A reference reads what its target reads, so `&MemoryStore` (or `&Tx`) can stand where an
/// owned reader is expected (a boxed snapshot, a generic argument).
impl<T: BlockReader + ?Sized> BlockReader for &T {
    fn head_number(&self) -> StorageResult<Option<BlockNumber>> {
        (**self).head_number()
    }
    fn head(&self) -> StorageResult<Option<BlockNumHash>> {
        (**self).head()
    }
    fn canonical_hash(&self, number: BlockNumber) -> StorageResult<Option<B256>> {
        (**self).canonical_hash(number)
    }
    fn block_number(&self, hash: B256) -> StorageResult<Option<BlockNumber>> {
        (**self).block_number(hash)
    }
    fn header(&self, number: BlockNumber) -> StorageResult<Option<Header>> {
        (**self).header(number)
    }
    fn header_by_hash(&self, hash: B256) -> StorageResult<Option<Header>> {
        (**self).header_by_hash(hash)
    }
    fn body(&self, number: BlockNumber) -> StorageResult<Option<StoredBody>> {
        (**self).body(number)
    }
    fn transactions(&self, number: BlockNumber) -> StorageResult<Option<Vec<TxEnvelope>>> {
        (**self).transactions(number)
    }
    fn transaction(&self, number: BlockNumber, index: u32) -> StorageResult<Option<TxEnvelope>> {
        (**self).transaction(number, index)
    }
    fn transaction_by_hash(&self, hash: B256) -> StorageResult<Option<LocatedTransaction>> {
        (**self).transaction_by_hash(hash)
    }
    fn receipts(&self, number: BlockNumber) -> StorageResult<Option<Vec<ReceiptEnvelope>>> {
        (**self).receipts(number)
    }
    fn receipt(&self, number: BlockNumber, index: u32) -> StorageResult<Option<ReceiptEnvelope>> {
        (**self).receipt(number, index)
    }
    fn system_logs(&self, number: BlockNumber) -> StorageResult<Vec<Log>> {
        (**self).system_logs(number)
    }
    fn certificate(&self, number: BlockNumber) -> StorageResult<Option<Bytes>> {
        (**self).certificate(number)
    }
}

impl<T: StateReader + ?Sized> StateReader for &T {
    fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        (**self).account(address)
    }
    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        (**self).storage(address, slot)
    }
    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        (**self).storage_of(address)
    }
    fn bytecode(&self, code_hash: B256) -> StorageResult<Option<Bytes>> {
        (**self).bytecode(code_hash)
    }
    fn account_at(&self, address: Address, block: BlockNumber) -> StorageResult<Option<Account>> {
        (**self).account_at(address, block)
    }
    fn storage_at(&self, address: Address, slot: B256, block: BlockNumber) -> StorageResult<U256> {
        (**self).storage_at(address, slot, block)
    }
}

impl<T: WithdrawalSignatureReader + ?Sized> WithdrawalSignatureReader for &T {
    fn withdrawal_signatures(
        &self,
        number: BlockNumber,
    ) -> StorageResult<Vec<(u32, B256, [u8; 65])>> {
        (**self).withdrawal_signatures(number)
    }
}

impl<T: MetadataReader + ?Sized> MetadataReader for &T {
    fn metadata(&self, key: &str) -> StorageResult<Option<Bytes>> {
        (**self).metadata(key)
    }
    fn chain_id(&self) -> StorageResult<Option<u64>> {
        (**self).chain_id()
    }
    fn genesis_hash(&self) -> StorageResult<Option<B256>> {
        (**self).genesis_hash()
    }
}

impl<T: SafetyReader + ?Sized> SafetyReader for &T {
    fn safety(&self, key: &str) -> StorageResult<Option<Bytes>> {
        (**self).safety(key)
    }
}
