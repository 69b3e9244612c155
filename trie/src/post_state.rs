//! A block's state changes keyed by the hashes the tries are keyed by.

use alloy_primitives::{B256, U256, keccak256};
use parallax_storage::{Account, StateChanges};
use std::collections::BTreeMap;

/// The accounts and storage one block changed, keyed by `keccak(address)` and `keccak(slot)`:
/// the input of [`state_root`](super::state_root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashedPostState {
    /// New account states by `keccak(address)`. `None`: the account is destroyed (or absent);
    /// its storage is gone with it, whatever [`storages`](Self::storages) says.
    pub accounts: BTreeMap<B256, Option<Account>>,
    /// Storage changes by `keccak(address)`.
    pub storages: BTreeMap<B256, HashedStorage>,
}

/// The storage changes of one account, keyed by `keccak(slot)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashedStorage {
    /// All earlier storage is cleared before [`slots`](Self::slots) apply.
    pub wiped: bool,
    /// New slot values by `keccak(slot)`; zero deletes the slot.
    pub slots: BTreeMap<B256, U256>,
}

impl HashedPostState {
    /// Hashes the plain (address- and slot-keyed) changes of a block.
    ///
    /// A destroyed account (`None`) gets its storage marked wiped, as the storage crate clears
    /// it.
    pub fn from_state_changes(changes: &StateChanges) -> Self {
        let mut state = Self::default();
        for (address, account) in &changes.accounts {
            let hashed = keccak256(address);
            state.accounts.insert(hashed, *account);
            if account.is_none() {
                state.storages.entry(hashed).or_default().wiped = true;
            }
        }
        for (address, storage) in &changes.storage {
            let entry = state.storages.entry(keccak256(address)).or_default();
            entry.wiped |= storage.wiped;
            for (slot, value) in &storage.slots {
                entry.slots.insert(keccak256(slot), *value);
            }
        }
        state
    }

    /// Whether the block changed nothing.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storages.is_empty()
    }

    /// Whether the account under `hashed_address` is destroyed by this block.
    pub fn is_destroyed(&self, hashed_address: &B256) -> bool {
        matches!(self.accounts.get(hashed_address), Some(None))
    }

    /// Adds the changes of a later block on top of these, so one computation can cover several
    /// blocks.
    pub fn extend(&mut self, later: &Self) {
        for (hashed, account) in &later.accounts {
            self.accounts.insert(*hashed, *account);
            if account.is_none() {
                // The destroyed account's earlier writes are gone with it.
                self.storages.insert(
                    *hashed,
                    HashedStorage {
                        wiped: true,
                        slots: BTreeMap::new(),
                    },
                );
            }
        }
        for (hashed, storage) in &later.storages {
            let entry = self.storages.entry(*hashed).or_default();
            if storage.wiped {
                entry.wiped = true;
                entry.slots.clear();
            }
            entry
                .slots
                .extend(storage.slots.iter().map(|(k, v)| (*k, *v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;
    use parallax_storage::StorageChanges;

    #[test]
    fn hashes_keys_and_wipes_destroyed_storage() {
        let a = Address::with_last_byte(1);
        let b = Address::with_last_byte(2);
        let slot = B256::with_last_byte(7);
        let mut changes = StateChanges::default();
        changes.accounts.insert(a, Some(Account::default()));
        changes.accounts.insert(b, None);
        changes.storage.insert(
            a,
            StorageChanges {
                wiped: false,
                slots: BTreeMap::from([(slot, U256::from(5))]),
            },
        );
        let state = HashedPostState::from_state_changes(&changes);
        assert_eq!(state.accounts.len(), 2);
        assert_eq!(
            state.storages[&keccak256(a)].slots[&keccak256(slot)],
            U256::from(5)
        );
        assert!(!state.storages[&keccak256(a)].wiped);
        assert!(state.storages[&keccak256(b)].wiped);
        assert!(state.is_destroyed(&keccak256(b)));
        assert!(!state.is_destroyed(&keccak256(a)));
    }

    #[test]
    fn extend_lets_later_blocks_win() {
        let h = B256::with_last_byte(1);
        let s1 = B256::with_last_byte(2);
        let s2 = B256::with_last_byte(3);
        let mut first = HashedPostState::default();
        first.storages.insert(
            h,
            HashedStorage {
                wiped: false,
                slots: BTreeMap::from([(s1, U256::from(1))]),
            },
        );
        let mut second = HashedPostState::default();
        second.storages.insert(
            h,
            HashedStorage {
                wiped: true,
                slots: BTreeMap::from([(s2, U256::from(2))]),
            },
        );
        first.extend(&second);
        let merged = &first.storages[&h];
        assert!(merged.wiped);
        assert_eq!(merged.slots, BTreeMap::from([(s2, U256::from(2))]));
    }
}
