//! Parallax storage: typed tables on MDBX for blocks, receipts, state, state history, trie
//! nodes and consensus data.
//!
//! The node writes one block at a time with [`Database::write_block`], which puts everything the
//! block changes into one MDBX read-write transaction and commits it durably (fsync), so after a
//! crash the database holds exactly the blocks up to some head and nothing of the next one.
//! Readers ([`Database::reader`]) are MVCC snapshots: any number, from any threads or from a
//! second process ([`Database::open_read_only`]), each seeing whole blocks, never waiting for
//! the writer and never making it wait. Consensus persists its safety data with
//! [`Database::write_safety`] before it votes.
//!
//! # Tables
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `CanonicalHeaders` | block number | block hash |
//! | `HeaderNumbers` | block hash | block number |
//! | `Headers` | block number | header (RLP) |
//! | `BlockBodies` | block number | transaction count |
//! | `Transactions` | (block number, index) | transaction (EIP-2718) |
//! | `Receipts` | (block number, index) | type, status, cumulative gas, logs |
//! | `TransactionLookup` | transaction hash | (block number, index) |
//! | `PlainAccounts` | address | account (nonce, balance, code hash) |
//! | `PlainStorage` | (address, slot) | non-zero value |
//! | `Bytecodes` | code hash | code |
//! | `AccountChangeSets` | (block number, address) | account before the block, if any |
//! | `StorageChangeSets` | (block number, address, slot) | value before the block |
//! | `AccountHistory` | (address, block number) | – |
//! | `StorageHistory` | (address, slot, block number) | – |
//! | `HashedAccounts` | keccak(address) | account |
//! | `HashedStorages` | (keccak(address), keccak(slot)) | non-zero value |
//! | `AccountsTrie` | nibble path | branch node |
//! | `StoragesTrie` | (keccak(address), nibble path) | branch node |
//! | `SystemLogs` | block number | logs of the block's system calls (bridge deposits) |
//! | `WithdrawalSignatures` | (block number, validator index) | the validator's signature over the block's withdrawal root (root, signature) |
//! | `BlockCertificates` | block number | consensus certificate (opaque) |
//! | `ConsensusEvidence` | (validator index, round, kind) | equivocation evidence (opaque) |
//! | `ConsensusSafety` | ASCII key | safety data (opaque) |
//! | `Metadata` | ASCII key | schema version, chain id, genesis hash, head block |
//!
//! Keys sort in logical order (big-endian integers, concatenated composite keys); values start
//! with a format-version byte. See [`codec`].
//!
//! # Invariants
//!
//! With head block `h` (the `head_block` metadata entry, absent on an empty database):
//!
//! - every block-keyed table (headers, hashes, bodies, transactions, receipts, transaction
//!   lookup, certificates, changesets) has entries for blocks `0..=h` only, and a block's
//!   transactions and receipts are exactly indexes `0..tx_count` of its body;
//! - the plain and hashed state tables hold the state after block `h`; zero storage values and
//!   destroyed accounts are absent, and a destroyed or wiped account has no storage left;
//! - for every account or slot that block `n` changed there is a changeset entry with the value
//!   before `n` and a history entry at `n`, and nothing else; so the value after any block
//!   `b <= h` is the changeset value at the first change after `b`, or the latest value;
//! - the database carries a schema version; one written by a newer schema is refused
//!   ([`StorageError::SchemaTooNew`]).
//!
//! Stored bytes that do not decode give [`StorageError::Decode`] naming the table; decoding
//! never panics.

pub mod codec;
pub mod cursor;
pub mod db;
pub mod error;
pub mod models;
pub mod read;
pub mod tables;
pub mod write;

pub use cursor::{Cursor, Walker};
pub use db::{Database, SCHEMA_VERSION, Tx};
pub use error::{CodecError, Part, StorageError, StorageResult};
pub use libmdbx::{RO, RW, TransactionKind};
pub use models::{Account, StoredBody, TxLocation};
pub use read::{LocatedTransaction, Reader};
pub use tables::{BlockNumber, Table};
pub use write::{
    BlockWrite, PlainState, StateChanges, StateDiff, StorageChanges, TrieNodeUpdates, TrieUpdates,
};
