//! The state stored in the database, as a [`StateView`].

use crate::{
    state::{StateError, StateView},
    types::AccountState,
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use parallax_storage::{BlockNumber, StorageError, TransactionKind, Tx};
use revm::bytecode::Bytecode;
use std::sync::Mutex;

/// The latest state of one database transaction (plain accounts, plain storage, bytecodes
/// and canonical block hashes) for the executors: a [`Reader`](parallax_storage::Reader)
/// snapshot taken after the parent block was committed, so every read of a block sees the
/// same state.
///
/// Code is analysed once per transaction's lifetime and cached (jump tables are not free).
/// MDBX lets one thread use a transaction at a time, so the parallel executor's workers take
/// turns on it; what they read repeatedly is served from the multi-version memory.
pub struct DbState<'tx, 'db, K: TransactionKind> {
    tx: &'tx Tx<'db, K>,
    codes: Mutex<HashMap<B256, Bytecode>>,
}

impl<K: TransactionKind> std::fmt::Debug for DbState<'_, '_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbState")
            .field("tx", self.tx)
            .finish_non_exhaustive()
    }
}

impl<'tx, 'db, K: TransactionKind> DbState<'tx, 'db, K> {
    /// The state `tx` sees.
    pub fn new(tx: &'tx Tx<'db, K>) -> Self {
        Self {
            tx,
            codes: Mutex::new(HashMap::default()),
        }
    }
}

fn state_error(e: StorageError) -> StateError {
    StateError(e.to_string())
}

/// The code with `code_hash` from `tx`, analysed once and kept in `cache`. Codes are
/// immutable (keyed by their hash), so one cache serves every block's state.
fn cached_code<K: TransactionKind>(
    tx: &Tx<'_, K>,
    cache: &Mutex<HashMap<B256, Bytecode>>,
    code_hash: B256,
) -> Result<Option<Bytecode>, StateError> {
    if let Some(code) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&code_hash)
    {
        return Ok(Some(code.clone()));
    }
    let Some(bytes) = tx.bytecode(code_hash).map_err(state_error)? else {
        return Ok(None);
    };
    let code = Bytecode::new_raw(bytes);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(code_hash, code.clone());
    Ok(Some(code))
}

fn to_account_state(account: parallax_storage::Account) -> AccountState {
    AccountState {
        balance: account.balance,
        nonce: account.nonce,
        code_hash: account.code_hash,
        code: None,
    }
}

impl<K: TransactionKind> StateView for DbState<'_, '_, K> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self
            .tx
            .account(address)
            .map_err(state_error)?
            .map(to_account_state))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        cached_code(self.tx, &self.codes, code_hash)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        self.tx
            .storage(address, B256::from(slot))
            .map_err(state_error)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        Ok(self
            .tx
            .canonical_hash(number)
            .map_err(state_error)?
            .unwrap_or_default())
    }
}

/// The state *after* block `number` of one database transaction, from the changesets and
/// history indices `storage` keeps (`Tx::account_at`, `Tx::storage_at`): what
/// `eth_call`, `eth_getBalance` and friends at an older block read.
///
/// Codes are read by hash (they never change); `BLOCKHASH` sees the canonical hashes up to
/// `number` and zero above it. At the head it reads exactly what [`DbState`] reads, only
/// slower (each read also seeks the history index).
pub struct HistoricalState<'tx, 'db, K: TransactionKind> {
    tx: &'tx Tx<'db, K>,
    number: BlockNumber,
    codes: Mutex<HashMap<B256, Bytecode>>,
}

impl<K: TransactionKind> std::fmt::Debug for HistoricalState<'_, '_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoricalState")
            .field("tx", self.tx)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl<'tx, 'db, K: TransactionKind> HistoricalState<'tx, 'db, K> {
    /// The state after block `number` as `tx` sees it. Fails with
    /// [`StorageError::BlockNotAvailable`] when `number` is above the head (or the database
    /// is empty).
    pub fn new(tx: &'tx Tx<'db, K>, number: BlockNumber) -> Result<Self, StorageError> {
        let head = tx.head_number()?;
        match head {
            Some(head) if number <= head => Ok(Self {
                tx,
                number,
                codes: Mutex::new(HashMap::default()),
            }),
            _ => Err(StorageError::BlockNotAvailable {
                requested: number,
                head,
            }),
        }
    }

    /// The block whose resulting state this is.
    pub fn number(&self) -> BlockNumber {
        self.number
    }
}

impl<K: TransactionKind> StateView for HistoricalState<'_, '_, K> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self
            .tx
            .account_at(address, self.number)
            .map_err(state_error)?
            .map(to_account_state))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        cached_code(self.tx, &self.codes, code_hash)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        self.tx
            .storage_at(address, B256::from(slot), self.number)
            .map_err(state_error)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        if number > self.number {
            return Ok(B256::ZERO);
        }
        Ok(self
            .tx
            .canonical_hash(number)
            .map_err(state_error)?
            .unwrap_or_default())
    }
}
