//! Reading the tries from a `parallax_storage` transaction.

use super::{StateRootError, TrieReader};
use alloy_primitives::{B256, U256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use parallax_storage::{
    Account, Cursor, TransactionKind, Tx,
    tables::{AccountsTrie, HashedAccounts, HashedStorages, StoragesTrie},
};

/// A [`TrieReader`] over the `HashedAccounts`, `HashedStorages`, `AccountsTrie` and
/// `StoragesTrie` tables of one database transaction (a [`Reader`](parallax_storage::Reader)
/// snapshot, or the block's write transaction before the block's changes are applied).
///
/// It keeps one MDBX cursor per table, so following a seek with `next` is a cursor step.
#[derive(Debug)]
pub struct DbTrieReader<'tx, K: TransactionKind> {
    accounts: Cursor<'tx, HashedAccounts, K>,
    storages: Cursor<'tx, HashedStorages, K>,
    account_trie: Cursor<'tx, AccountsTrie, K>,
    storage_trie: Cursor<'tx, StoragesTrie, K>,
    /// Whether the account cursor has been positioned by a seek.
    account_positioned: bool,
    /// The account whose storage the storage cursor is on, if it is on a slot.
    storage_owner: Option<B256>,
}

impl<'tx, K: TransactionKind> DbTrieReader<'tx, K> {
    /// Opens the four cursors on `tx`.
    pub fn new(tx: &'tx Tx<'_, K>) -> Result<Self, StateRootError> {
        Ok(Self {
            accounts: tx.cursor::<HashedAccounts>()?,
            storages: tx.cursor::<HashedStorages>()?,
            account_trie: tx.cursor::<AccountsTrie>()?,
            storage_trie: tx.cursor::<StoragesTrie>()?,
            account_positioned: false,
            storage_owner: None,
        })
    }
}

impl<K: TransactionKind> TrieReader for DbTrieReader<'_, K> {
    fn seek_account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        Ok(self.account_trie.seek(path)?)
    }

    fn seek_storage_node(
        &mut self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        Ok(self
            .storage_trie
            .seek(&(hashed_address, *path))?
            .and_then(|((owner, path), node)| (owner == hashed_address).then_some((path, node))))
    }

    fn seek_account(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError> {
        let entry = self.accounts.seek(&key)?;
        self.account_positioned = entry.is_some();
        Ok(entry)
    }

    fn next_account(&mut self) -> Result<Option<(B256, Account)>, StateRootError> {
        if !self.account_positioned {
            return Ok(None);
        }
        let entry = self.accounts.next()?;
        self.account_positioned = entry.is_some();
        Ok(entry)
    }

    fn seek_storage(
        &mut self,
        hashed_address: B256,
        key: B256,
    ) -> Result<Option<(B256, U256)>, StateRootError> {
        let entry = self
            .storages
            .seek(&(hashed_address, key))?
            .and_then(|((owner, slot), value)| (owner == hashed_address).then_some((slot, value)));
        self.storage_owner = entry.is_some().then_some(hashed_address);
        Ok(entry)
    }

    fn next_storage(&mut self) -> Result<Option<(B256, U256)>, StateRootError> {
        let Some(hashed_address) = self.storage_owner else {
            return Ok(None);
        };
        let entry = self
            .storages
            .next()?
            .and_then(|((owner, slot), value)| (owner == hashed_address).then_some((slot, value)));
        if entry.is_none() {
            self.storage_owner = None;
        }
        Ok(entry)
    }
}
