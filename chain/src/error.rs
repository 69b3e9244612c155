//! What can go wrong: [`ChainError`] (the chain could not do what it was asked) and
//! [`InvalidBlock`] (a proposal or synced block is not what this node rebuilds).

use alloy_primitives::B256;
use parallax_storage::StorageError;
use thiserror::Error;

/// Why the chain could not do what it was asked.
#[derive(Debug, Error)]
pub enum ChainError {
    /// The genesis schedules a fork this node has no EVM rules for.
    #[error("the genesis schedules the {0} fork, whose rules this node does not know")]
    UnknownFork(String),
    /// The chain spec is unusable.
    #[error("chain spec: {0}")]
    Spec(&'static str),
    /// The genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(String),
    /// The database failed.
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    /// The database holds no chain (run `parallax init`).
    #[error("the database holds no genesis block")]
    Empty,
    /// The database belongs to another chain.
    #[error("the database holds genesis {found}, the genesis file gives {expected}")]
    WrongGenesis {
        /// From the genesis file.
        expected: B256,
        /// In the database.
        found: B256,
    },
    /// The block is not valid.
    #[error("invalid block: {0}")]
    Invalid(#[from] InvalidBlock),
    /// The block does not extend the chain this node knows.
    #[error("unknown parent {0}")]
    UnknownParent(String),
    /// Computing the state root failed.
    #[error("state root: {0}")]
    StateRoot(String),
    /// A block consensus committed conflicts with the committed chain (a safety failure or
    /// a corrupt database): the node must stop.
    #[error("committed block {number} {hash} does not extend head {head}")]
    Fork {
        /// Its number.
        number: u64,
        /// Its hash.
        hash: B256,
        /// The head's hash.
        head: B256,
    },
}

/// Why a proposed block is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvalidBlock {
    /// Header fields disagree with what executing the block gives.
    #[error("header field {field} is {found}, expected {expected}")]
    Header {
        /// The first differing field.
        field: &'static str,
        /// In the proposal.
        found: String,
        /// What this node computed.
        expected: String,
    },
    /// The timestamp is before the parent's or too far ahead of this node's clock.
    #[error("timestamp {timestamp} outside {min}..={max}")]
    Timestamp {
        /// The proposed timestamp.
        timestamp: u64,
        /// The parent's.
        min: u64,
        /// Now plus the allowed drift.
        max: u64,
    },
    /// A transaction is unusable (bad signature, blob transaction, …).
    #[error("transaction {index}: {reason}")]
    Transaction {
        /// Its index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Execution refused the block.
    #[error("execution: {0}")]
    Execution(String),
    /// Too many transactions.
    #[error("{0} transactions is above the limit")]
    TooManyTransactions(usize),
    /// The consensus height does not match the header number.
    #[error("consensus height {height} but header number {number}")]
    Height {
        /// The consensus block's height.
        height: u64,
        /// The header's number.
        number: u64,
    },
    /// The author is not a validator.
    #[error("unknown author {0}")]
    Author(u32),
    /// The bridge deposits cannot be in this block.
    #[error("bridge deposits: {0}")]
    Deposits(String),
}

impl InvalidBlock {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Header { .. } => "header_mismatch",
            Self::Timestamp { .. } => "timestamp",
            Self::Transaction { .. } => "transaction",
            Self::Execution(_) => "execution",
            Self::TooManyTransactions(_) => "too_many_transactions",
            Self::Height { .. } => "height",
            Self::Author(_) => "author",
            Self::Deposits(_) => "deposits",
        }
    }
}
