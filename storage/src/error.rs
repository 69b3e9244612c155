//! Error types: [`StorageError`] for every database operation and [`CodecError`] for the byte
//! formats of keys and values.

use alloy_primitives::B256;
use std::path::PathBuf;

/// Why a stored key or value could not be decoded.
///
/// The table layer wraps it in [`StorageError::Decode`], which adds the table name.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The value is empty, so it has no format-version byte.
    #[error("empty value: the format-version byte is missing")]
    MissingVersion,
    /// The value was written in a format this build does not know.
    #[error("unknown format version {found} (this build reads version {supported})")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The bytes end before the value does.
    #[error("unexpected end of data: {needed} more byte(s) needed")]
    Truncated {
        /// How many more bytes the next field needed.
        needed: usize,
    },
    /// Bytes are left over after the value was read.
    #[error("{0} trailing byte(s) after the value")]
    TrailingBytes(usize),
    /// A fixed-width key or field has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    InvalidLength {
        /// The required length.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// The bytes break a rule of the format (a non-canonical integer, an unknown flag, ...).
    #[error("invalid data: {0}")]
    Invalid(&'static str),
    /// An RLP payload (header, logs) did not decode.
    #[error("RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// An EIP-2718 transaction envelope did not decode.
    #[error("EIP-2718: {0}")]
    Eip2718(#[from] alloy_eips::eip2718::Eip2718Error),
}

/// Whether a decode error happened in a key or in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The entry's key.
    Key,
    /// The entry's value.
    Value,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::Value => "value",
        })
    }
}

/// Every error the storage crate returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database directory could not be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// MDBX refused to open the database (not an MDBX file, corrupt, locked, missing, ...).
    #[error("cannot open MDBX database at {path}: {source}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// MDBX's reason.
        #[source]
        source: libmdbx::Error,
    },
    /// The database has data but no schema version, so it was not written by this crate.
    #[error("database at {path} has no schema version: it was not created by parallax-storage")]
    MissingSchemaVersion {
        /// The database directory.
        path: PathBuf,
    },
    /// The database was written by a newer version of this crate.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); \
         upgrade the node"
    )]
    SchemaTooNew {
        /// The schema version stored in the database.
        found: u32,
        /// The newest schema version this build reads.
        supported: u32,
    },
    /// The database was written by an older schema that this build cannot migrate.
    #[error("database schema version {found} is older than this build supports ({supported})")]
    SchemaTooOld {
        /// The schema version stored in the database.
        found: u32,
        /// The schema version this build reads.
        supported: u32,
    },
    /// An MDBX operation on one table failed.
    #[error("MDBX {op} on table {table} failed: {source}")]
    Table {
        /// The table.
        table: &'static str,
        /// The operation (get, put, cursor, ...).
        op: &'static str,
        /// MDBX's reason.
        #[source]
        source: libmdbx::Error,
    },
    /// Beginning or committing an MDBX transaction failed.
    #[error("MDBX {op} failed: {source}")]
    Transaction {
        /// The operation.
        op: &'static str,
        /// MDBX's reason.
        #[source]
        source: libmdbx::Error,
    },
    /// A stored key or value could not be decoded.
    #[error("cannot decode {part} in table {table}: {source}")]
    Decode {
        /// The table.
        table: &'static str,
        /// Key or value.
        part: Part,
        /// The codec's reason.
        #[source]
        source: CodecError,
    },
    /// A block was written whose number is not the next one after the head.
    #[error("block {got} is out of order: the next block must be {expected}")]
    OutOfOrder {
        /// The number the next block must have.
        expected: u64,
        /// The number of the block given.
        got: u64,
    },
    /// A block was written whose parent hash is not the head block's hash.
    #[error("block {number} has parent hash {got}, but the head block's hash is {expected}")]
    ParentMismatch {
        /// The block's number.
        number: u64,
        /// The head block's hash.
        expected: B256,
        /// The block's parent hash.
        got: B256,
    },
    /// A block write is malformed (hash mismatch, receipt count, ...); nothing was written.
    #[error("invalid block {number}: {reason}")]
    InvalidBlock {
        /// The block's number.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A string key is unusable (empty, too long or not printable ASCII).
    #[error("invalid key {key:?} for table {table}: {reason}")]
    InvalidKey {
        /// The table.
        table: &'static str,
        /// The key given.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A metadata key that only the storage layer may write.
    #[error("metadata key {0:?} is managed by the storage layer and cannot be set directly")]
    ReservedMetadataKey(String),
    /// A write was attempted on a database opened with [`Database::open_read_only`].
    ///
    /// [`Database::open_read_only`]: crate::Database::open_read_only
    #[error("database is open read-only")]
    ReadOnly,
    /// A historical read asked for a block after the head (or the database has no blocks).
    #[error("block {requested} is not available: head is {head:?}")]
    BlockNotAvailable {
        /// The block asked for.
        requested: u64,
        /// The head block, if any.
        head: Option<u64>,
    },
    /// Tables disagree with each other (e.g. a body counts more transactions than are stored).
    #[error("inconsistent database: {0}")]
    Inconsistent(String),
}

impl StorageError {
    pub(crate) fn table(table: &'static str, op: &'static str, source: libmdbx::Error) -> Self {
        Self::Table { table, op, source }
    }

    /// An MDBX failure while opening is reported as [`StorageError::Open`], naming the path.
    pub(crate) fn at_open(self, path: &std::path::Path) -> Self {
        match self {
            Self::Table { source, .. } | Self::Transaction { source, .. } => Self::Open {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }

    pub(crate) fn decode(table: &'static str, part: Part, source: CodecError) -> Self {
        Self::Decode {
            table,
            part,
            source,
        }
    }
}

/// Result alias for storage operations.
pub type StorageResult<T> = Result<T, StorageError>;
