//! How the state-root computation reads the trie nodes and hashed leaves before the block.

use super::StateRootError;
use alloy_primitives::{B256, U256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use parallax_storage::Account;

/// Read access to the pre-block state in its trie form: the hashed leaves and the stored branch
/// nodes of the account trie and of every storage trie.
///
/// The leaf methods are cursors: a `seek_*` positions the cursor on the first entry whose key is
/// at or after the given one, and the matching `next_*` moves it on. The account and storage
/// cursors are independent, and the computation interleaves them (it reads an account's storage
/// trie while the account cursor stays where it is). Node lookups are positioned seeks as well.
/// Implementations must return keys in ascending order; the computation checks that and reports
/// a violation as [`StateRootError::Inconsistent`].
pub trait TrieReader {
    /// The first account-trie node whose path is `>= path`, in nibble order.
    fn seek_account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError>;

    /// The first node of the storage trie of `hashed_address` whose path is `>= path`. Nodes of
    /// other accounts' tries are never returned.
    fn seek_storage_node(
        &mut self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError>;

    /// Positions the account cursor on the first account whose hashed address is `>= key`.
    fn seek_account(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError>;

    /// Moves the account cursor to the next account; `None` at the end (or if the cursor was
    /// never positioned).
    fn next_account(&mut self) -> Result<Option<(B256, Account)>, StateRootError>;

    /// Positions the storage cursor on the first non-zero slot of `hashed_address` whose hashed
    /// slot is `>= key`; `None` if the account has no such slot.
    fn seek_storage(
        &mut self,
        hashed_address: B256,
        key: B256,
    ) -> Result<Option<(B256, U256)>, StateRootError>;

    /// Moves the storage cursor to the next slot of the same account; `None` past its last slot
    /// (or if the cursor was never positioned).
    fn next_storage(&mut self) -> Result<Option<(B256, U256)>, StateRootError>;

    /// The account-trie node at exactly `path`.
    fn account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<BranchNodeCompact>, StateRootError> {
        Ok(self
            .seek_account_node(path)?
            .and_then(|(found, node)| (found == *path).then_some(node)))
    }

    /// The node at exactly `path` of the storage trie of `hashed_address`.
    fn storage_node(
        &mut self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> Result<Option<BranchNodeCompact>, StateRootError> {
        Ok(self
            .seek_storage_node(hashed_address, path)?
            .and_then(|(found, node)| (found == *path).then_some(node)))
    }

    /// The account stored under `hashed_address`.
    fn account(&mut self, hashed_address: B256) -> Result<Option<Account>, StateRootError> {
        Ok(self
            .seek_account(hashed_address)?
            .and_then(|(found, account)| (found == hashed_address).then_some(account)))
    }
}

impl<R: TrieReader + ?Sized> TrieReader for &mut R {
    fn seek_account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        (**self).seek_account_node(path)
    }

    fn seek_storage_node(
        &mut self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        (**self).seek_storage_node(hashed_address, path)
    }

    fn seek_account(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError> {
        (**self).seek_account(key)
    }

    fn next_account(&mut self) -> Result<Option<(B256, Account)>, StateRootError> {
        (**self).next_account()
    }

    fn seek_storage(
        &mut self,
        hashed_address: B256,
        key: B256,
    ) -> Result<Option<(B256, U256)>, StateRootError> {
        (**self).seek_storage(hashed_address, key)
    }

    fn next_storage(&mut self) -> Result<Option<(B256, U256)>, StateRootError> {
        (**self).next_storage()
    }
}
