//! The state after uncommitted blocks: the committed state in MDBX under the changes of the
//! certified-but-not-yet-committed ancestors of the block being executed.
//!
//! With 2-chain commit a leader builds on a block that is certified but not yet committed,
//! so block `n + 1` executes before block `n` is in the database. [`LayeredState`] reads
//! each account, slot and code from the newest layer that has it, falling back to
//! [`LatestState`](parallax_execution::LatestState).

use alloy_primitives::{Address, B256, U256};
use parallax_execution::{AccountState, StateError, StateView};
use parallax_storage::StateChanges;
use revm::bytecode::Bytecode;
use std::sync::Arc;

/// One uncommitted block's contribution to the state: what it changed, and its hash.
#[derive(Debug)]
pub(crate) struct Layer {
    /// The block's number.
    pub(crate) number: u64,
    /// The block's hash (for `BLOCKHASH`).
    pub(crate) hash: B256,
    /// What it changed.
    pub(crate) changes: Arc<StateChanges>,
}

/// The committed state under uncommitted layers (oldest first).
pub(crate) struct LayeredState<'a, S> {
    base: &'a S,
    layers: &'a [Layer],
}

impl<'a, S: StateView> LayeredState<'a, S> {
    /// `layers` oldest first: the first is the committed head's child; `base` is the
    /// committed state ([`LatestState`](parallax_execution::LatestState) in the node).
    pub(crate) fn new(base: &'a S, layers: &'a [Layer]) -> Self {
        Self { base, layers }
    }
}

impl<S: StateView> StateView for LayeredState<'_, S> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        for layer in self.layers.iter().rev() {
            if let Some(account) = layer.changes.accounts.get(&address) {
                return Ok(account.as_ref().map(|a| AccountState {
                    balance: a.balance,
                    nonce: a.nonce,
                    code_hash: a.code_hash,
                    code: None,
                }));
            }
        }
        self.base.account(address)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        for layer in self.layers.iter().rev() {
            if let Some(code) = layer.changes.bytecodes.get(&code_hash) {
                return Ok(Some(Bytecode::new_raw(code.clone())));
            }
        }
        self.base.code(code_hash)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        let key = B256::from(slot);
        for layer in self.layers.iter().rev() {
            if let Some(storage) = layer.changes.storage.get(&address) {
                if let Some(value) = storage.slots.get(&key) {
                    return Ok(*value);
                }
                if storage.wiped {
                    return Ok(U256::ZERO);
                }
            }
            // A destroyed account has no storage left.
            if let Some(None) = layer.changes.accounts.get(&address) {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage(address, slot)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        if let Some(layer) = self.layers.iter().find(|l| l.number == number) {
            return Ok(layer.hash);
        }
        self.base.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_execution::LatestState;
    use parallax_storage::{Account, BlockWrite, Database, StorageChanges};

    fn account(balance: u64) -> Account {
        Account {
            nonce: 1,
            balance: U256::from(balance),
            code_hash: revm::primitives::KECCAK_EMPTY,
        }
    }

    #[test]
    fn the_newest_layer_wins_and_wipes_hide_older_slots() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        let mut genesis = BlockWrite::new(alloy_consensus::Header::default());
        genesis.state.accounts.insert(a, Some(account(10)));
        genesis.state.accounts.insert(b, Some(account(20)));
        for who in [a, b] {
            genesis.state.storage.insert(
                who,
                StorageChanges {
                    wiped: false,
                    slots: [(B256::with_last_byte(1), U256::from(7))].into(),
                },
            );
        }
        db.write_genesis(&genesis, 1).unwrap();

        let mut first = StateChanges::default();
        first.accounts.insert(a, Some(account(11)));
        first.storage.insert(
            a,
            StorageChanges {
                wiped: true,
                slots: [(B256::with_last_byte(2), U256::from(9))].into(),
            },
        );
        let mut second = StateChanges::default();
        second.accounts.insert(b, None);
        let layers = vec![
            Layer {
                number: 1,
                hash: B256::repeat_byte(0xaa),
                changes: Arc::new(first),
            },
            Layer {
                number: 2,
                hash: B256::repeat_byte(0xbb),
                changes: Arc::new(second),
            },
        ];
        let reader = db.reader().unwrap();
        let base = LatestState::new(&reader);
        let state = LayeredState::new(&base, &layers);
        assert_eq!(state.account(a).unwrap().unwrap().balance, U256::from(11));
        assert_eq!(state.account(b).unwrap(), None);
        // a's storage was wiped by layer 1: its genesis slot is gone, the new one is seen.
        assert_eq!(state.storage(a, U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(state.storage(a, U256::from(2)).unwrap(), U256::from(9));
        // b was destroyed in layer 2.
        assert_eq!(state.storage(b, U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(state.block_hash(2).unwrap(), B256::repeat_byte(0xbb));
        // Without layers the database's values show through.
        let plain = LayeredState::new(&base, &[]);
        assert_eq!(plain.storage(b, U256::from(1)).unwrap(), U256::from(7));
        assert_eq!(plain.account(a).unwrap().unwrap().balance, U256::from(10));
    }
}
