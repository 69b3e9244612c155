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
