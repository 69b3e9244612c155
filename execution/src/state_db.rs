//! The committed chain's state, read through `parallax_storage_api`'s traits, as a
//! [`StateView`]: the latest state ([`LatestState`]) and the state after any stored block
//! ([`HistoricalState`]).
//!
//! The executors see only [`StateView`]; these two adapt any store that implements
//! [`StateReader`] and [`BlockReader`] (an MDBX transaction in the node, a
//! [`MemoryStore`](parallax_storage_api::MemoryStore) in a test), so nothing here knows MDBX.

use crate::{
    state::{StateError, StateView},
    types::AccountState,
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use parallax_storage_api::{Account, BlockNumber, BlockReader, StateReader, StorageError};
use revm::bytecode::Bytecode;
use std::sync::Mutex;

/// The latest state of one read snapshot (plain accounts, plain storage, bytecodes and
/// canonical block hashes) for the executors. Take the snapshot after the parent block was
/// committed (in the node: one MDBX read transaction), so every read of a block sees the same
/// state.
///
/// Code is analysed once per view's lifetime and cached (jump tables are not free). An MDBX
/// transaction serves one thread at a time, so the parallel executor's workers take turns on
/// it; what they read repeatedly is served from the multi-version memory.
pub struct LatestState<'r, R: ?Sized> {
    reader: &'r R,
    codes: CodeCache,
}

impl<R: std::fmt::Debug + ?Sized> std::fmt::Debug for LatestState<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatestState")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl<'r, R: StateReader + BlockReader + Sync + ?Sized> LatestState<'r, R> {
    /// The state `reader` sees.
    pub fn new(reader: &'r R) -> Self {
        Self {
            reader,
            codes: CodeCache::default(),
        }
    }
}

fn state_error(e: StorageError) -> StateError {
    StateError(e.to_string())
}

/// Analysed codes by hash. Codes are immutable (keyed by their hash), so a cache never goes
/// stale; it lives as long as the view that owns it.
#[derive(Default)]
struct CodeCache(Mutex<HashMap<B256, Bytecode>>);

impl CodeCache {
    /// The code with `code_hash` from `reader`, analysed once.
    fn get<R: StateReader + ?Sized>(
        &self,
        reader: &R,
        code_hash: B256,
    ) -> Result<Option<Bytecode>, StateError> {
        if let Some(code) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&code_hash)
        {
            return Ok(Some(code.clone()));
        }
        let Some(bytes) = reader.bytecode(code_hash).map_err(state_error)? else {
            return Ok(None);
        };
        let code = Bytecode::new_raw(bytes);
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code_hash, code.clone());
        Ok(Some(code))
    }
}

fn to_account_state(account: Account) -> AccountState {
    AccountState {
        balance: account.balance,
        nonce: account.nonce,
        code_hash: account.code_hash,
        code: None,
    }
}

impl<R: StateReader + BlockReader + Sync + ?Sized> StateView for LatestState<'_, R> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self
            .reader
            .account(address)
            .map_err(state_error)?
            .map(to_account_state))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        self.codes.get(self.reader, code_hash)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        self.reader
            .storage(address, B256::from(slot))
            .map_err(state_error)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        Ok(self
            .reader
            .canonical_hash(number)
            .map_err(state_error)?
            .unwrap_or_default())
    }
}

/// The state *after* block `number` of one read snapshot, from the history the store keeps
/// ([`StateReader::account_at`], [`StateReader::storage_at`]): what `eth_call`,
/// `eth_getBalance` and friends at an older block read.
///
/// Codes are read by hash (they never change); `BLOCKHASH` sees the canonical hashes up to
/// `number` and zero above it. At the head it reads exactly what [`LatestState`] reads, only
/// slower (each read also seeks the history).
pub struct HistoricalState<'r, R: ?Sized> {
    reader: &'r R,
    number: BlockNumber,
    codes: CodeCache,
}

impl<R: std::fmt::Debug + ?Sized> std::fmt::Debug for HistoricalState<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoricalState")
            .field("reader", &self.reader)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl<'r, R: StateReader + BlockReader + Sync + ?Sized> HistoricalState<'r, R> {
    /// The state after block `number` as `reader` sees it. Fails with
    /// [`StorageError::BlockNotAvailable`] when `number` is above the head (or the store is
    /// empty).
    pub fn new(reader: &'r R, number: BlockNumber) -> Result<Self, StorageError> {
        let head = reader.head_number()?;
        match head {
            Some(head) if number <= head => Ok(Self {
                reader,
                number,
                codes: CodeCache::default(),
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

impl<R: StateReader + BlockReader + Sync + ?Sized> StateView for HistoricalState<'_, R> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, StateError> {
        Ok(self
            .reader
            .account_at(address, self.number)
            .map_err(state_error)?
            .map(to_account_state))
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, StateError> {
        self.codes.get(self.reader, code_hash)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        self.reader
            .storage_at(address, B256::from(slot), self.number)
            .map_err(state_error)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        if number > self.number {
            return Ok(B256::ZERO);
        }
        Ok(self
            .reader
            .canonical_hash(number)
            .map_err(state_error)?
            .unwrap_or_default())
    }
}
