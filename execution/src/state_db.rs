//! The state stored in the database, as a [`StateView`].

use crate::{
    state::{StateError, StateView},
    types::AccountState,
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use parallax_storage::{StorageError, TransactionKind, Tx};
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

impl<K: TransactionKind> StateView for DbState<'_, '_, K> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self
            .tx
            .account(address)
            .map_err(state_error)?
            .map(|a| AccountState {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code: None,
            }))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        if let Some(code) = self
            .codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&code_hash)
        {
            return Ok(Some(code.clone()));
        }
        let Some(bytes) = self.tx.bytecode(code_hash).map_err(state_error)? else {
            return Ok(None);
        };
        let code = Bytecode::new_raw(bytes);
        self.codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code_hash, code.clone());
        Ok(Some(code))
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
