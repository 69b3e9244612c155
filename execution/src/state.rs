//! The state a block executes against, and the block-local overlay both executors fold
//! their writes into.

use crate::types::AccountState;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::HashMap};
use parallax_storage_api::{StateChanges, StorageChanges};
use revm::{bytecode::Bytecode, primitives::KECCAK_EMPTY};
use std::collections::BTreeMap;

/// A failed state read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl revm::database_interface::DBErrorMarker for StateError {}

/// Read access to the state before a block. Implementations must be safe to read from many
/// threads at once (the parallel executor's workers all read it).
pub trait StateView: Sync {
    /// The account at `address`, without its code; `None` if it does not exist.
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError>;
    /// The code with hash `code_hash`.
    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError>;
    /// A storage slot (zero when unset).
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError>;
    /// The hash of block `number` (for `BLOCKHASH`); zero when unknown.
    fn block_hash(&self, number: u64) -> Result<B256, StateError>;
}

impl<T: StateView + ?Sized> StateView for &T {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        (**self).account(address)
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        (**self).code(code_hash)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        (**self).block_hash(number)
    }
}

/// One account of an [`InMemoryState`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Code (empty for none).
    pub code: Bytes,
    /// Non-zero storage slots.
    pub storage: HashMap<U256, U256>,
}

/// A whole state held in memory: fixtures, tests, benchmarks and development chains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryState {
    accounts: HashMap<Address, (AccountState, HashMap<U256, U256>)>,
    codes: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
}

impl InMemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces) an account.
    pub fn insert_account(&mut self, address: Address, account: InMemoryAccount) {
        let code_hash = if account.code.is_empty() {
            KECCAK_EMPTY
        } else {
            let hash = keccak256(&account.code);
            self.codes
                .entry(hash)
                .or_insert_with(|| Bytecode::new_raw(account.code.clone()));
            hash
        };
        let storage = account
            .storage
            .into_iter()
            .filter(|(_, v)| !v.is_zero())
            .collect();
        self.accounts.insert(
            address,
            (
                AccountState {
                    balance: account.balance,
                    nonce: account.nonce,
                    code_hash,
                    code: None,
                },
                storage,
            ),
        );
    }

    /// Records the hash of block `number`.
    pub fn insert_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The whole state as the changes that create it on an empty database (accounts, their
    /// non-zero storage and their code): how an in-memory state, a fixture's or a dev
    /// chain's genesis, is written to storage.
    pub fn to_changes(&self) -> StateChanges {
        let mut changes = StateChanges::default();
        for (address, (account, storage)) in &self.accounts {
            changes.accounts.insert(*address, Some(account.to_stored()));
            if !storage.is_empty() {
                changes.storage.insert(
                    *address,
                    StorageChanges {
                        wiped: false,
                        slots: storage
                            .iter()
                            .map(|(slot, value)| (B256::from(*slot), *value))
                            .collect(),
                    },
                );
            }
            if account.code_hash != KECCAK_EMPTY
                && let Some(code) = self.codes.get(&account.code_hash)
            {
                changes
                    .bytecodes
                    .insert(account.code_hash, code.original_bytes());
            }
        }
        changes
    }

    /// Applies a block's state changes, so the next block can run on top.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (hash, code) in &changes.bytecodes {
            self.codes
                .entry(*hash)
                .or_insert_with(|| Bytecode::new_raw(code.clone()));
        }
        for (address, account) in &changes.accounts {
            match account {
                None => {
                    self.accounts.remove(address);
                }
                Some(account) => {
                    let entry = self.accounts.entry(*address).or_insert_with(|| {
                        (AccountState::with_balance(U256::ZERO), HashMap::default())
                    });
                    entry.0 = AccountState {
                        balance: account.balance,
                        nonce: account.nonce,
                        code_hash: account.code_hash,
                        code: None,
                    };
                }
            }
        }
        for (address, storage) in &changes.storage {
            let Some((_, slots)) = self.accounts.get_mut(address) else {
                continue;
            };
            if storage.wiped {
                slots.clear();
            }
            for (slot, value) in &storage.slots {
                let slot = U256::from_be_bytes(slot.0);
                if value.is_zero() {
                    slots.remove(&slot);
                } else {
                    slots.insert(slot, *value);
                }
            }
        }
    }
}

impl StateView for InMemoryState {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self.accounts.get(&address).map(|(info, _)| info.clone()))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        Ok(self.codes.get(&code_hash).cloned())
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        Ok(self
            .accounts
            .get(&address)
            .and_then(|(_, s)| s.get(&slot).copied())
            .unwrap_or_default())
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        Ok(self.block_hashes.get(&number).copied().unwrap_or_default())
    }
}

/// One state write made by a transaction (or a system call), in the order it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    /// The account's new value; `None` destroys it.
    Account(Address, Option<AccountState>),
    /// Adds to the account's balance without having read it (fees, plain transfers).
    BalanceIncrement(Address, U256),
    /// Clears all of the account's storage (creation, self-destruct, EIP-161 removal).
    WipeStorage(Address),
    /// A storage slot's new value.
    Slot(Address, U256, U256),
}

impl Write {
    /// The account the write is about.
    pub(crate) fn address(&self) -> Address {
        match self {
            Write::Account(a, _)
            | Write::BalanceIncrement(a, _)
            | Write::WipeStorage(a)
            | Write::Slot(a, _, _) => *a,
        }
    }
}

/// An account's block-local changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct OverlayAccount {
    /// The current value, if the block set it (`Some(None)`: destroyed).
    pub(crate) info: Option<Option<AccountState>>,
    /// Whether the storage was wiped in this block.
    pub(crate) wiped: bool,
    /// Slots written since the last wipe.
    pub(crate) slots: HashMap<U256, U256>,
}

/// The changes a block has made so far, on top of a [`StateView`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Overlay {
    pub(crate) accounts: HashMap<Address, OverlayAccount>,
}

impl Overlay {
    /// The account as the block currently sees it.
    pub(crate) fn account<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
    ) -> Result<Option<AccountState>, StateError> {
        match self.accounts.get(&address).and_then(|a| a.info.as_ref()) {
            Some(info) => Ok(info.clone()),
            None => base.account(address),
        }
    }

    /// A slot as the block currently sees it.
    pub(crate) fn storage<S: StateView + ?Sized>(
        &self,
        base: &S,
        address: Address,
        slot: U256,
    ) -> Result<U256, StateError> {
        if let Some(account) = self.accounts.get(&address) {
            if let Some(value) = account.slots.get(&slot) {
                return Ok(*value);
            }
            if account.wiped {
                return Ok(U256::ZERO);
            }
        }
        base.storage(address, slot)
    }

    /// Applies one write.
    pub(crate) fn apply<S: StateView + ?Sized>(
        &mut self,
        base: &S,
        write: &Write,
    ) -> Result<(), StateError> {
        self.apply_owned(base, write.clone())
    }

    /// Applies one write, taking its values.
    pub(crate) fn apply_owned<S: StateView + ?Sized>(
        &mut self,
        base: &S,
        write: Write,
    ) -> Result<(), StateError> {
        match write {
            Write::Account(address, info) => {
                self.accounts.entry(address).or_default().info = Some(info);
            }
            Write::BalanceIncrement(address, amount) => {
                let mut info = self
                    .account(base, address)?
                    .unwrap_or_else(|| AccountState::with_balance(U256::ZERO));
                info.balance = info.balance.saturating_add(amount);
                self.accounts.entry(address).or_default().info = Some(Some(info));
            }
            Write::WipeStorage(address) => {
                let account = self.accounts.entry(address).or_default();
                account.wiped = true;
                account.slots.clear();
            }
            Write::Slot(address, slot, value) => {
                self.accounts
                    .entry(address)
                    .or_default()
                    .slots
                    .insert(slot, value);
            }
        }
        Ok(())
    }

    /// The block's changes against `base`: accounts whose value changed or whose storage was
    /// wiped, slots whose value changed (for wiped accounts: every non-zero slot written
    /// since), and code the block introduced.
    pub(crate) fn into_changes<S: StateView + ?Sized>(
        self,
        base: &S,
    ) -> Result<StateChanges, StateError> {
        let mut accounts: Vec<_> = self.accounts.into_iter().collect();
        accounts.sort_unstable_by_key(|(a, _)| *a);
        let mut changes = SortedChanges::default();
        for (address, account) in accounts {
            changes.push(
                base,
                address,
                AccountFold {
                    info: account.info,
                    wiped: account.wiped,
                    slots: account.slots.into_iter().collect(),
                },
            )?;
        }
        Ok(changes.into_state_changes())
    }
}

/// An account's block-local changes while they are turned into state changes.
#[derive(Debug, Default)]
pub(crate) struct AccountFold {
    /// The account's value if the block set it (`Some(None)`: destroyed).
    pub(crate) info: Option<Option<AccountState>>,
    /// Whether the block wiped its storage.
    pub(crate) wiped: bool,
    /// Slots written since the last wipe, in the order written (a later write of a slot
    /// wins).
    pub(crate) slots: Vec<(U256, U256)>,
}

/// State changes built account by account in address order (each list sorted by key).
#[derive(Debug, Default)]
pub(crate) struct SortedChanges {
    pub(crate) accounts: Vec<(Address, Option<parallax_storage_api::Account>)>,
    pub(crate) storage: Vec<(Address, StorageChanges)>,
    pub(crate) bytecodes: Vec<(B256, Bytes)>,
}

impl SortedChanges {
    /// Appends `address`'s changes against `base` (`address` above every address pushed so
    /// far): its value if it changed or its storage was wiped, code it introduced, and
    /// slots whose value changed (for a wiped account: every non-zero slot written since).
    pub(crate) fn push<S: StateView + ?Sized>(
        &mut self,
        base: &S,
        address: Address,
        account: AccountFold,
    ) -> Result<(), StateError> {
        let before = base.account(address)?;
        let after = match account.info {
            Some(info) => info,
            None => before.clone(),
        };
        if before.is_none() && after.is_none() {
            // Created and destroyed within the block (or touched while empty): nothing of
            // it remains and nothing existed before.
            return Ok(());
        }
        let after_stored = after.as_ref().map(AccountState::to_stored);
        if account.wiped || before.as_ref().map(AccountState::to_stored) != after_stored {
            self.accounts.push((address, after_stored));
        }
        let Some(after) = after else {
            // A destroyed account keeps no storage, whatever was written before it went.
            if account.wiped {
                self.storage.push((
                    address,
                    StorageChanges {
                        wiped: true,
                        slots: BTreeMap::new(),
                    },
                ));
            }
            return Ok(());
        };
        if let Some(code) = &after.code
            && after.code_hash != KECCAK_EMPTY
            && before.as_ref().map(|b| b.code_hash) != Some(after.code_hash)
        {
            self.bytecodes
                .push((after.code_hash, code.original_bytes()));
        }
        let mut written = account.slots;
        // Stable: for each slot its last write stays last.
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
            self.storage.push((
                address,
                StorageChanges {
                    wiped: account.wiped,
                    slots: slots.into_iter().collect(),
                },
            ));
        }
        Ok(())
    }

    /// The changes as the storage layer takes them.
    pub(crate) fn into_state_changes(self) -> StateChanges {
        StateChanges {
            accounts: self.accounts.into_iter().collect(),
            storage: self.storage.into_iter().collect(),
            bytecodes: self.bytecodes.into_iter().collect(),
        }
    }
}

/// A [`StateView`] with block-local changes (system calls) on top.
pub(crate) struct Layered<'a, S: ?Sized> {
    pub(crate) base: &'a S,
    pub(crate) overlay: &'a Overlay,
}

impl<S: StateView + ?Sized> StateView for Layered<'_, S> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        self.overlay.account(self.base, address)
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        for account in self.overlay.accounts.values() {
            if let Some(Some(info)) = &account.info
                && info.code_hash == code_hash
                && let Some(code) = &info.code
            {
                return Ok(Some(code.clone()));
            }
        }
        self.base.code(code_hash)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        self.overlay.storage(self.base, address, slot)
    }
    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash(number)
    }
}
