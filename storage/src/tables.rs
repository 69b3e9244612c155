//! The table definitions: each table is a marker type naming its MDBX table and its key and
//! value types.

use crate::{
    codec::{Compress, Decode, Decompress, Encode},
    models::{Account, StoredBody, TxLocation},
};
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_trie::{BranchNodeCompact, Nibbles};

/// A block number.
pub type BlockNumber = u64;

/// A typed MDBX table.
pub trait Table: 'static {
    /// The MDBX table name.
    const NAME: &'static str;
    /// The key type; its encoding sorts in logical order.
    type Key: Encode + Decode;
    /// The value type.
    type Value: Compress + Decompress;
}

macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident: $key:ty => $value:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Table for $name {
                const NAME: &'static str = stringify!($name);
                type Key = $key;
                type Value = $value;
            }
        )*

        /// The names of all tables, created when a database is opened.
        pub const TABLES: &[&str] = &[$($name::NAME),*];
    };
}

tables! {
    /// Block number → canonical block hash.
    CanonicalHeaders: BlockNumber => B256;
    /// Block hash → block number.
    HeaderNumbers: B256 => BlockNumber;
    /// Block number → header.
    Headers: BlockNumber => Header;
    /// Block number → body summary (transaction count).
    BlockBodies: BlockNumber => StoredBody;
    /// (block number, index) → transaction.
    Transactions: (BlockNumber, u32) => TxEnvelope;
    /// (block number, index) → receipt.
    Receipts: (BlockNumber, u32) => ReceiptEnvelope;
    /// Transaction hash → where the transaction is.
    TransactionLookup: B256 => TxLocation;
    /// Address → latest account.
    PlainAccounts: Address => Account;
    /// (address, slot) → latest non-zero storage value. Zero values are deleted.
    PlainStorage: (Address, B256) => U256;
    /// Code hash → code.
    Bytecodes: B256 => Bytes;
    /// (block number, address) → the account before the block changed it (`None`: it did not
    /// exist).
    AccountChangeSets: (BlockNumber, Address) => Option<Account>;
    /// (block number, address, slot) → the storage value before the block changed it.
    StorageChangeSets: (BlockNumber, Address, B256) => U256;
    /// (address, block number): the account changed in that block.
    AccountHistory: (Address, BlockNumber) => ();
    /// (address, slot, block number): the storage slot changed in that block.
    StorageHistory: (Address, B256, BlockNumber) => ();
    /// keccak(address) → latest account.
    HashedAccounts: B256 => Account;
    /// (keccak(address), keccak(slot)) → latest non-zero storage value.
    HashedStorages: (B256, B256) => U256;
    /// Account-trie path (unpacked nibbles) → branch node.
    AccountsTrie: Nibbles => BranchNodeCompact;
    /// (keccak(address), storage-trie path) → branch node.
    StoragesTrie: (B256, Nibbles) => BranchNodeCompact;
    /// Block number → the logs of the block's system calls (bridge deposits), which are in no
    /// receipt. Absent for a block without any.
    SystemLogs: BlockNumber => Vec<Log>;
    /// (block number, validator index) → that validator's bridge signature over the block's
    /// withdrawal root: the root (32 bytes) then the signature (65 bytes). Written by the
    /// withdrawal relayer, outside block writes.
    WithdrawalSignatures: (BlockNumber, u32) => Bytes;
    /// Block number → the consensus certificate that committed the block (opaque).
    BlockCertificates: BlockNumber => Bytes;
    /// (validator index, round, kind) → equivocation evidence against that validator
    /// (consensus's canonical encoding; opaque here).
    ConsensusEvidence: (u32, u64, u32) => Bytes;
    /// Short ASCII key → consensus safety data (last voted round, locked QC, ...; opaque).
    ConsensusSafety: String => Bytes;
    /// ASCII key → database metadata (schema version, chain id, genesis hash, head block).
    Metadata: String => Bytes;
}

/// Keys of the [`Metadata`] table.
pub mod meta_keys {
    /// Schema version of the database (u32, big-endian). Managed by the storage layer.
    pub const SCHEMA_VERSION: &str = "schema_version";
    /// Number of the head block (u64, big-endian). Managed by the storage layer.
    pub const HEAD_BLOCK: &str = "head_block";
    /// Chain id (u64, big-endian).
    pub const CHAIN_ID: &str = "chain_id";
    /// Genesis block hash (32 bytes).
    pub const GENESIS_HASH: &str = "genesis_hash";
}
