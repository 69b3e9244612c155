//! An in-memory trie store: hashed leaves and branch nodes in `BTreeMap`s.

use super::{HashedPostState, StateRootError, TrieReader};
use alloy_primitives::{B256, U256};
use alloy_rlp::Encodable;
use alloy_trie::{BranchNodeCompact, EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};
use parallax_storage::{Account, TrieNodeUpdates, TrieUpdates};
use std::{collections::BTreeMap, ops::Bound};

/// The branch nodes of one trie by path.
pub type StorageTrieNodes = BTreeMap<Nibbles, BranchNodeCompact>;

/// The state in its trie form, in memory: what `parallax_storage` keeps in its hashed-state and
/// trie tables. Used by tests, tools and benchmarks; [`apply`](Self::apply) moves it on by one
/// block, as the node's block write does on disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryTrieStore {
    /// Accounts by `keccak(address)`.
    pub accounts: BTreeMap<B256, Account>,
    /// Non-zero storage by `keccak(address)`, then `keccak(slot)`.
    pub storages: BTreeMap<B256, BTreeMap<B256, U256>>,
    /// Account-trie branch nodes by path.
    pub account_nodes: StorageTrieNodes,
    /// Storage-trie branch nodes by `keccak(address)`, then path.
    pub storage_nodes: BTreeMap<B256, StorageTrieNodes>,
    account_cursor: Option<B256>,
    storage_cursor: Option<(B256, B256)>,
}

/// Builds a storage trie from scratch: its root and the branch nodes alloy-trie's
/// `HashBuilder` stores for it. Zero values are left out.
pub fn storage_root_from_scratch(slots: &BTreeMap<B256, U256>) -> (B256, StorageTrieNodes) {
    let mut hb = HashBuilder::default().with_updates(true);
    let mut buf = Vec::with_capacity(33);
    for (slot, value) in slots {
        if value.is_zero() {
            continue;
        }
        buf.clear();
        value.encode(&mut buf);
        hb.add_leaf(Nibbles::unpack(slot), &buf);
    }
    let root = hb.root();
    let (_, nodes) = hb.split();
    (root, nodes.into_iter().collect())
}

impl MemoryTrieStore {
    /// A store holding `accounts` and `storages`, with every trie built from scratch by
    /// alloy-trie's `HashBuilder` (as genesis does); also returns the state root.
    ///
    /// Zero storage values and empty storage maps are dropped.
    pub fn from_leaves(
        accounts: BTreeMap<B256, Account>,
        storages: BTreeMap<B256, BTreeMap<B256, U256>>,
    ) -> (Self, B256) {
        let mut store = Self {
            accounts,
            storages,
            ..Default::default()
        };
        store.storages.retain(|_, slots| {
            slots.retain(|_, value| !value.is_zero());
            !slots.is_empty()
        });
        let mut storage_roots = BTreeMap::new();
        for (hashed_address, slots) in &store.storages {
            let (root, nodes) = storage_root_from_scratch(slots);
            storage_roots.insert(*hashed_address, root);
            if !nodes.is_empty() {
                store.storage_nodes.insert(*hashed_address, nodes);
            }
        }
        let mut hb = HashBuilder::default().with_updates(true);
        let mut buf = Vec::with_capacity(128);
        for (hashed_address, account) in &store.accounts {
            buf.clear();
            TrieAccount {
                nonce: account.nonce,
                balance: account.balance,
                storage_root: storage_roots
                    .get(hashed_address)
                    .copied()
                    .unwrap_or(EMPTY_ROOT_HASH),
                code_hash: account.code_hash,
            }
            .encode(&mut buf);
            hb.add_leaf(Nibbles::unpack(hashed_address), &buf);
        }
        let root = hb.root();
        let (_, nodes) = hb.split();
        store.account_nodes = nodes.into_iter().collect();
        (store, root)
    }

    /// The state root computed from the leaves alone, ignoring the stored nodes.
    pub fn root_from_scratch(&self) -> B256 {
        Self::from_leaves(self.accounts.clone(), self.storages.clone()).1
    }

    /// Applies one block: its state changes (as `parallax_storage` applies them: a destroyed
    /// account loses its storage, a wiped storage is cleared before the new slots, zero values
    /// delete) and then its trie-node updates, after deleting the storage-trie nodes of wiped
    /// and destroyed accounts.
    pub fn apply(&mut self, post_state: &HashedPostState, updates: &TrieUpdates) {
        for (hashed_address, account) in &post_state.accounts {
            match account {
                Some(account) => {
                    self.accounts.insert(*hashed_address, *account);
                }
                None => {
                    self.accounts.remove(hashed_address);
                    self.storages.remove(hashed_address);
                    self.storage_nodes.remove(hashed_address);
                }
            }
        }
        for (hashed_address, storage) in &post_state.storages {
            if post_state.is_destroyed(hashed_address) {
                continue;
            }
            if storage.wiped {
                self.storages.remove(hashed_address);
                self.storage_nodes.remove(hashed_address);
            }
            let slots = self.storages.entry(*hashed_address).or_default();
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
            if slots.is_empty() {
                self.storages.remove(hashed_address);
            }
        }
        apply_nodes(&mut self.account_nodes, &updates.account_nodes);
        for (hashed_address, nodes) in &updates.storage_nodes {
            let trie = self.storage_nodes.entry(*hashed_address).or_default();
            apply_nodes(trie, nodes);
            if trie.is_empty() {
                self.storage_nodes.remove(hashed_address);
            }
        }
    }
}

fn apply_nodes(trie: &mut StorageTrieNodes, updates: &TrieNodeUpdates) {
    for (path, node) in updates {
        match node {
            Some(node) => {
                trie.insert(*path, node.clone());
            }
            None => {
                trie.remove(path);
            }
        }
    }
}

impl TrieReader for MemoryTrieStore {
    fn seek_account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        Ok(self
            .account_nodes
            .range(*path..)
            .next()
            .map(|(path, node)| (*path, node.clone())))
    }

    fn seek_storage_node(
        &mut self,
        hashed_address: B256,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        Ok(self.storage_nodes.get(&hashed_address).and_then(|nodes| {
            nodes
                .range(*path..)
                .next()
                .map(|(path, node)| (*path, node.clone()))
        }))
    }

    fn seek_account(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError> {
        let entry = self
            .accounts
            .range(key..)
            .next()
            .map(|(key, account)| (*key, *account));
        self.account_cursor = entry.map(|(key, _)| key);
        Ok(entry)
    }

    fn next_account(&mut self) -> Result<Option<(B256, Account)>, StateRootError> {
        let Some(current) = self.account_cursor else {
            return Ok(None);
        };
        let entry = self
            .accounts
            .range((Bound::Excluded(current), Bound::Unbounded))
            .next()
            .map(|(key, account)| (*key, *account));
        self.account_cursor = entry.map(|(key, _)| key);
        Ok(entry)
    }

    fn seek_storage(
        &mut self,
        hashed_address: B256,
        key: B256,
    ) -> Result<Option<(B256, U256)>, StateRootError> {
        let entry = self.storages.get(&hashed_address).and_then(|slots| {
            slots
                .range(key..)
                .next()
                .map(|(slot, value)| (*slot, *value))
        });
        self.storage_cursor = entry.map(|(slot, _)| (hashed_address, slot));
        Ok(entry)
    }

    fn next_storage(&mut self) -> Result<Option<(B256, U256)>, StateRootError> {
        let Some((hashed_address, current)) = self.storage_cursor else {
            return Ok(None);
        };
        let entry = self.storages.get(&hashed_address).and_then(|slots| {
            slots
                .range((Bound::Excluded(current), Bound::Unbounded))
                .next()
                .map(|(slot, value)| (*slot, *value))
        });
        self.storage_cursor = entry.map(|(slot, _)| (hashed_address, slot));
        Ok(entry)
    }
}
