//! Folding one address partition's final writes into state changes.
//!
//! The writes arrive in transaction order. A stable sort by address groups each account's
//! writes while keeping their order, so every account is folded in one pass and the
//! changes come out in address order, ready to be merged with the other partitions' —
//! no hash map of accounts, no second sort. The result is exactly what applying the writes
//! to an [`Overlay`](crate::state::Overlay) and taking its changes gives (the sequential
//! executor's path).

use crate::{
    state::{OverlayAccount, StateError, StateView, Write},
    types::AccountState,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use parallax_storage::{Account, StorageChanges};
use revm::primitives::KECCAK_EMPTY;

/// One partition's state changes, each list sorted by key.
#[derive(Debug, Default)]
pub(super) struct PartChanges {
    pub(super) accounts: Vec<(Address, Option<Account>)>,
    pub(super) storage: Vec<(Address, StorageChanges)>,
    pub(super) bytecodes: Vec<(B256, Bytes)>,
}

/// An account's state while its writes are folded.
#[derive(Default)]
struct Folding {
    /// The account's value if the block set it (`Some(None)`: destroyed).
    info: Option<Option<AccountState>>,
    wiped: bool,
    /// Slots written since the last wipe, in order (later writes win).
    slots: Vec<(U256, U256)>,
}

/// Folds `writes` (in the order they apply) on top of `pre` (the block's system-call
/// changes to this partition's accounts, sorted by address) against `base`.
pub(super) fn fold_partition<S: StateView + ?Sized>(
    base: &S,
    pre: Vec<(Address, OverlayAccount)>,
    mut writes: Vec<Write>,
) -> Result<PartChanges, StateError> {
    writes.sort_by_key(Write::address);
    let mut pre = pre.into_iter().peekable();
    let mut writes = writes.into_iter().peekable();
    let mut out = PartChanges::default();
    loop {
        let address = match (
            pre.peek().map(|(a, _)| *a),
            writes.peek().map(Write::address),
        ) {
            (None, None) => break,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        let mut account = match pre.next_if(|(a, _)| *a == address) {
            Some((_, pre)) => Folding {
                info: pre.info,
                wiped: pre.wiped,
                slots: pre.slots.into_iter().collect(),
            },
            None => Folding::default(),
        };
        while let Some(write) = writes.next_if(|w| w.address() == address) {
            match write {
                Write::Account(_, info) => account.info = Some(info),
                Write::BalanceIncrement(_, amount) => {
                    let current = match account.info.take() {
                        Some(info) => info,
                        None => base.account(address)?,
                    };
                    let mut info =
                        current.unwrap_or_else(|| AccountState::with_balance(U256::ZERO));
                    info.balance = info.balance.saturating_add(amount);
                    account.info = Some(Some(info));
                }
                Write::WipeStorage(_) => {
                    account.wiped = true;
                    account.slots.clear();
                }
                Write::Slot(_, slot, value) => account.slots.push((slot, value)),
            }
        }
        emit(base, address, account, &mut out)?;
    }
    Ok(out)
}

/// Appends one account's changes against `base`: its value if it changed (or its storage
/// was wiped), code it introduced, and slots whose value changed (for a wiped account:
/// every non-zero slot written since).
fn emit<S: StateView + ?Sized>(
    base: &S,
    address: Address,
    account: Folding,
    out: &mut PartChanges,
) -> Result<(), StateError> {
    let before = base.account(address)?;
    let after = match account.info {
        Some(info) => info,
        None => before.clone(),
    };
    if before.is_none() && after.is_none() {
        // Created and destroyed within the block (or touched while empty).
        return Ok(());
    }
    let after_stored = after.as_ref().map(AccountState::to_stored);
    if account.wiped || before.as_ref().map(AccountState::to_stored) != after_stored {
        out.accounts.push((address, after_stored));
    }
    let Some(after) = after else {
        // A destroyed account keeps no storage, whatever was written before it went.
        if account.wiped {
            out.storage.push((
                address,
                StorageChanges {
                    wiped: true,
                    slots: Default::default(),
                },
            ));
        }
        return Ok(());
    };
    if let Some(code) = &after.code
        && after.code_hash != KECCAK_EMPTY
        && before.as_ref().map(|b| b.code_hash) != Some(after.code_hash)
    {
        out.bytecodes.push((after.code_hash, code.original_bytes()));
    }
    let mut written = account.slots;
    // Stable: for each slot the last write stays last.
    written.sort_by_key(|(slot, _)| *slot);
    let mut slots = Vec::with_capacity(written.len());
    for (i, (slot, value)) in written.iter().enumerate() {
        if written.get(i + 1).is_some_and(|(next, _)| next == slot) {
            continue;
        }
        let changed = if account.wiped {
            !value.is_zero()
        } else {
            base.storage(address, *slot)? != *value
        };
        if changed {
            slots.push((B256::from(*slot), *value));
        }
    }
    if account.wiped || !slots.is_empty() {
        out.storage.push((
            address,
            StorageChanges {
                wiped: account.wiped,
                slots: slots.into_iter().collect(),
            },
        ));
    }
    Ok(())
}
