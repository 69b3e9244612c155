//! Plain data types stored in the tables that are not alloy types.

use alloy_primitives::{B256, KECCAK256_EMPTY, U256};

/// The state of one account, without its storage root (the trie tables hold that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Number of transactions sent (or contracts created) by the account.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Keccak-256 of the account's code; [`KECCAK256_EMPTY`] for accounts without code.
    pub code_hash: B256,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK256_EMPTY,
        }
    }
}

impl Account {
    /// Whether the account has code.
    pub fn has_code(&self) -> bool {
        self.code_hash != KECCAK256_EMPTY
    }

    /// Whether the account is empty in the EIP-161 sense: no nonce, no balance, no code.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && !self.has_code()
    }
}

/// What the [`BlockBodies`](crate::tables::BlockBodies) table keeps about a block's body.
///
/// The transactions themselves live in [`Transactions`](crate::tables::Transactions) under
/// `(block, 0..tx_count)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredBody {
    /// Number of transactions (and receipts) in the block.
    pub tx_count: u32,
}

/// Where a transaction is: its block and its index in that block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxLocation {
    /// The block number.
    pub block_number: u64,
    /// The index of the transaction in the block.
    pub index: u32,
}
