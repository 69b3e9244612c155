//! The state after a past block as an overlay on the head's: the changes of the later blocks,
//! undone.

use super::{HashedPostState, HashedStorage, StateRootError};
use alloy_primitives::{Address, B256, keccak256};
use parallax_storage::{
    BlockNumber, StorageError, TransactionKind, Tx,
    tables::{AccountChangeSets, StorageChangeSets},
};
use std::collections::btree_map::Entry;

/// How many blocks before the head [`account_proof_at`](super::account_proof_at) reaches:
/// undoing more would mean reading (and holding) the changes of too many blocks for one
/// request.
pub const MAX_PROOF_HISTORY: u64 = 10_000;

/// The changes that turn the head state `tx` holds back into the state after block `number`:
/// every account and storage slot changed in blocks `number + 1..=head`, with the value it had
/// after `number`, hashed as the tries are keyed.
///
/// That value is the "before" value the first later change recorded in the changesets
/// (`None` or zero: absent then). The storage crate records every slot a wipe or destruction
/// clears, so the overlay never needs to wipe: a slot it does not mention is unchanged since
/// `number`. Applied to the stored head tries (by [`state_root`](super::state_root) or
/// [`account_proof_over`](super::account_proof_over)) it gives the state root of `number`.
/// Empty at the head.
///
/// Fails with [`StorageError::BlockNotAvailable`] for a block after the head, and with
/// [`StateRootError::HistoryTooDeep`] when `number` is more than `max_blocks` before it.
pub fn reverse_post_state<K: TransactionKind>(
    tx: &Tx<'_, K>,
    number: BlockNumber,
    max_blocks: u64,
) -> Result<HashedPostState, StateRootError> {
    let head = tx.head_number()?;
    let head = match head {
        Some(head) if number <= head => head,
        _ => {
            return Err(StorageError::BlockNotAvailable {
                requested: number,
                head,
            }
            .into());
        }
    };
    if head - number > max_blocks {
        return Err(StateRootError::HistoryTooDeep {
            requested: number,
            head,
            max_blocks,
        });
    }
    let mut state = HashedPostState::default();
    if number == head {
        return Ok(state);
    }
    let first_later = number + 1;

    // Changesets are keyed by block first, so walking them in key order meets each key's
    // earliest later change first; later ones are skipped.
    let mut accounts = tx.cursor::<AccountChangeSets>()?;
    for entry in accounts.walk(Some(&(first_later, Address::ZERO))) {
        let ((_, address), before) = entry?;
        if let Entry::Vacant(vacant) = state.accounts.entry(keccak256(address)) {
            vacant.insert(before);
        }
    }
    let mut storage = tx.cursor::<StorageChangeSets>()?;
    for entry in storage.walk(Some(&(first_later, Address::ZERO, B256::ZERO))) {
        let ((_, address, slot), before) = entry?;
        let slots = &mut state
            .storages
            .entry(keccak256(address))
            .or_insert_with(HashedStorage::default)
            .slots;
        if let Entry::Vacant(vacant) = slots.entry(keccak256(slot)) {
            vacant.insert(before);
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use alloy_primitives::{KECCAK256_EMPTY, U256};
    use parallax_storage::{Account, BlockWrite, Database, StateChanges, StorageChanges};
    use std::collections::BTreeMap;

    fn account(nonce: u64) -> Account {
        Account {
            nonce,
            balance: U256::from(nonce),
            code_hash: KECCAK256_EMPTY,
        }
    }

    /// Commits blocks 0..=3 of the history below (no trie nodes: only changesets matter).
    fn history() -> (tempfile::TempDir, Database) {
        let (a, b) = (Address::with_last_byte(1), Address::with_last_byte(2));
        let slot = B256::with_last_byte(9);
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let blocks: [StateChanges; 4] = [
            // 0: a exists with slot = 1.
            StateChanges {
                accounts: BTreeMap::from([(a, Some(account(1)))]),
                storage: BTreeMap::from([(
                    a,
                    StorageChanges {
                        wiped: false,
                        slots: BTreeMap::from([(slot, U256::from(1))]),
                    },
                )]),
                ..Default::default()
            },
            // 1: the slot becomes 2, b is created.
            StateChanges {
                accounts: BTreeMap::from([(b, Some(account(5)))]),
                storage: BTreeMap::from([(
                    a,
                    StorageChanges {
                        wiped: false,
                        slots: BTreeMap::from([(slot, U256::from(2))]),
                    },
                )]),
                ..Default::default()
            },
            // 2: a is destroyed (its slot cleared with it).
            StateChanges {
                accounts: BTreeMap::from([(a, None)]),
                ..Default::default()
            },
            // 3: b changes.
            StateChanges {
                accounts: BTreeMap::from([(b, Some(account(6)))]),
                ..Default::default()
            },
        ];
        let mut parent = B256::ZERO;
        for (number, changes) in (0u64..).zip(blocks) {
            let mut block = BlockWrite::new(Header {
                number,
                parent_hash: parent,
                ..Default::default()
            });
            block.state = changes;
            if number == 0 {
                db.write_genesis(&block, 1).unwrap();
            } else {
                db.write_block(&block).unwrap();
            }
            parent = block.hash;
        }
        (dir, db)
    }

    #[test]
    fn undoes_later_blocks_with_the_first_recorded_before_value() {
        let (_dir, db) = history();
        let tx = db.reader().unwrap();
        let (a, b) = (
            keccak256(Address::with_last_byte(1)),
            keccak256(Address::with_last_byte(2)),
        );
        let slot = keccak256(B256::with_last_byte(9));

        // After block 0: a as it was (the slot's first later change recorded 1), b absent.
        let state = reverse_post_state(&tx, 0, 10).unwrap();
        assert_eq!(
            state.accounts,
            BTreeMap::from([(a, Some(account(1))), (b, None)])
        );
        assert_eq!(state.storages.len(), 1);
        assert!(!state.storages[&a].wiped);
        assert_eq!(
            state.storages[&a].slots,
            BTreeMap::from([(slot, U256::from(1))])
        );

        // After block 1: the destruction's record of the slot (2) is the value then.
        let state = reverse_post_state(&tx, 1, 10).unwrap();
        assert_eq!(
            state.accounts,
            BTreeMap::from([(a, Some(account(1))), (b, Some(account(5)))])
        );
        assert_eq!(
            state.storages[&a].slots,
            BTreeMap::from([(slot, U256::from(2))])
        );

        // After block 2: only b's last change is undone.
        let state = reverse_post_state(&tx, 2, 10).unwrap();
        assert_eq!(state.accounts, BTreeMap::from([(b, Some(account(5)))]));
        assert!(state.storages.is_empty());

        assert!(reverse_post_state(&tx, 3, 0).unwrap().is_empty());
        assert!(matches!(
            reverse_post_state(&tx, 0, 2),
            Err(StateRootError::HistoryTooDeep {
                requested: 0,
                head: 3,
                max_blocks: 2
            })
        ));
        assert!(matches!(
            reverse_post_state(&tx, 4, 10),
            Err(StateRootError::Storage(StorageError::BlockNotAvailable {
                requested: 4,
                head: Some(3)
            }))
        ));
    }
}
