//! Folding one address partition's final writes into state changes.
//!
//! The writes arrive in transaction order, in chunks. Sorting compact keys (address, chunk,
//! position) groups each account's writes while keeping their order, so every account is
//! folded in one pass over its writes, read where they lie, and the changes come out in
//! address order, ready to be merged with the other partitions' — no hash map of accounts,
//! no second sort, no write moved. Each account's writes are applied as
//! [`Overlay::apply`](crate::state::Overlay) applies them, and its changes are taken by the
//! same [`SortedChanges::push`] the sequential executor's overlay uses.

use crate::{
    state::{AccountFold, OverlayAccount, SortedChanges, StateError, StateView, Write},
    types::AccountState,
};
use alloy_primitives::{Address, U256};

/// Folds `chunks` of writes (in the order they apply: chunk by chunk, each in order) on top
/// of `pre` (the block's system-call changes to this partition's accounts, sorted by
/// address) against `base`.
pub(super) fn fold_partition<S: StateView + ?Sized>(
    base: &S,
    pre: Vec<(Address, OverlayAccount)>,
    chunks: &[Vec<Write>],
) -> Result<SortedChanges, StateError> {
    let mut keys: Vec<(Address, u32, u32)> = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for (c, chunk) in chunks.iter().enumerate() {
        keys.extend(
            chunk
                .iter()
                .enumerate()
                .map(|(i, w)| (w.address(), c as u32, i as u32)),
        );
    }
    // Built in order, so a stable sort by address keeps each account's writes in order.
    keys.sort_by_key(|(address, _, _)| *address);
    let mut pre = pre.into_iter().peekable();
    let mut writes = keys
        .iter()
        .map(|(address, c, i)| (*address, &chunks[*c as usize][*i as usize]))
        .peekable();
    let mut out = SortedChanges::default();
    loop {
        let address = match (pre.peek().map(|(a, _)| *a), writes.peek().map(|(a, _)| *a)) {
            (None, None) => break,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        let mut account = match pre.next_if(|(a, _)| *a == address) {
            Some((_, pre)) => AccountFold {
                info: pre.info,
                wiped: pre.wiped,
                slots: pre.slots.into_iter().collect(),
            },
            None => AccountFold::default(),
        };
        while let Some((_, write)) = writes.next_if(|(a, _)| *a == address) {
            match write {
                Write::Account(_, info) => account.info = Some(info.clone()),
                Write::BalanceIncrement(_, amount) => {
                    let current = match account.info.take() {
                        Some(info) => info,
                        None => base.account(address)?,
                    };
                    let mut info =
                        current.unwrap_or_else(|| AccountState::with_balance(U256::ZERO));
                    info.balance = info.balance.saturating_add(*amount);
                    account.info = Some(Some(info));
                }
                Write::WipeStorage(_) => {
                    account.wiped = true;
                    account.slots.clear();
                }
                Write::Slot(_, slot, value) => account.slots.push((*slot, *value)),
            }
        }
        out.push(base, address, account)?;
    }
    Ok(out)
}
