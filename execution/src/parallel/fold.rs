//! Folding one address partition's final writes into state changes.
//!
//! The writes arrive in transaction order. A stable sort by address groups each account's
//! writes while keeping their order, so every account is folded in one pass and the
//! changes come out in address order, ready to be merged with the other partitions' —
//! no hash map of accounts, no second sort. Each account's writes are applied as
//! [`Overlay::apply`](crate::state::Overlay) applies them, and its changes are taken by the
//! same [`SortedChanges::push`] the sequential executor's overlay uses.

use crate::{
    state::{AccountFold, OverlayAccount, SortedChanges, StateError, StateView, Write},
    types::AccountState,
};
use alloy_primitives::{Address, U256};

/// Folds `writes` (in the order they apply) on top of `pre` (the block's system-call
/// changes to this partition's accounts, sorted by address) against `base`.
pub(super) fn fold_partition<S: StateView + ?Sized>(
    base: &S,
    pre: Vec<(Address, OverlayAccount)>,
    mut writes: Vec<Write>,
) -> Result<SortedChanges, StateError> {
    writes.sort_by_key(Write::address);
    let mut pre = pre.into_iter().peekable();
    let mut writes = writes.into_iter().peekable();
    let mut out = SortedChanges::default();
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
            Some((_, pre)) => AccountFold {
                info: pre.info,
                wiped: pre.wiped,
                slots: pre.slots.into_iter().collect(),
            },
            None => AccountFold::default(),
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
        out.push(base, address, account)?;
    }
    Ok(out)
}
