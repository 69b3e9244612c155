//! The EVM's view of a block during parallel execution: a revm `Database` over the
//! multi-version memory that records every read for validation, and the handler that
//! records the beneficiary's fee as an increment instead of writing it.

use super::mv_memory::{MvMemory, Read, ReadKind, Resolved, TxIdx, is_empty, shape};
use crate::{evm::to_info, state::StateView, types::AccountState};
use alloy_primitives::{Address, B256, U256};
use revm::{
    Database,
    bytecode::Bytecode,
    context::{
        Block as _, Cfg as _, ContextTr, Transaction as _,
        result::{EVMError, InvalidTransaction},
    },
    database_interface::DBErrorMarker,
    handler::{EvmTr, FrameResult, Handler, MainnetContext, MainnetEvm, post_execution},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::AccountInfo,
};

/// A database error inside a parallel execution.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum MvDbError {
    /// The read hit a lower transaction that is being re-executed.
    #[error("blocked by transaction {0}")]
    Blocked(TxIdx),
    /// The underlying state failed.
    #[error("{0}")]
    State(String),
}

impl DBErrorMarker for MvDbError {}

/// The database one transaction's execution sees: the multi-version memory below it over
/// the block's base state. It records every read for validation.
pub(super) struct MvDb<'a, S: ?Sized> {
    pub(super) mv: &'a MvMemory,
    pub(super) base: &'a S,
    pub(super) beneficiary: Address,
    pub(super) tx: TxIdx,
    /// The recipient of a plain value transfer, read lazily (nonce and code only).
    pub(super) lazy_recipient: Option<Address>,
    /// What the lazy recipient was when read (`Some` once read lazily).
    pub(super) lazy_seen: Option<Option<AccountState>>,
    /// The beneficiary is being touched with a zero fee: only its emptiness matters.
    pub(super) touch_only: bool,
    /// The fee owed to the beneficiary, accumulated lazily.
    pub(super) fee: U256,
    pub(super) reads: Vec<Read>,
}

impl<'a, S: StateView + ?Sized> MvDb<'a, S> {
    pub(super) fn reset(&mut self, tx: TxIdx, lazy_recipient: Option<Address>) {
        self.tx = tx;
        self.lazy_recipient = lazy_recipient;
        self.lazy_seen = None;
        self.touch_only = false;
        self.fee = U256::ZERO;
        self.reads.clear();
    }
}

impl<S: StateView + ?Sized> Database for MvDb<'_, S> {
    type Error = MvDbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, MvDbError> {
        if self.lazy_recipient == Some(address) {
            self.lazy_recipient = None;
            let (account, from_base) = match self
                .mv
                .account_shape(self.base, address, self.tx)
                .map_err(|e| MvDbError::State(e.0))?
            {
                Resolved::Value(v) => v,
                Resolved::Blocked(j) => return Err(MvDbError::Blocked(j)),
            };
            let (nonce, code_hash) = shape(&account);
            if code_hash == KECCAK_EMPTY {
                // The balance handed to the EVM leaves out increments above the last
                // absolute write: a plain transfer's outcome does not depend on it, and the
                // write it makes is turned back into an increment afterwards.
                self.reads.push(Read {
                    kind: ReadKind::AccountShape(address, nonce, code_hash),
                    from_base,
                });
                self.lazy_seen = Some(account.clone());
                return Ok(account.map(to_info));
            }
        }
        let (account, from_base) = match self
            .mv
            .account(self.base, address, self.tx)
            .map_err(|e| MvDbError::State(e.0))?
        {
            Resolved::Value(v) => v,
            Resolved::Blocked(j) => return Err(MvDbError::Blocked(j)),
        };
        let kind = if self.touch_only && address == self.beneficiary {
            ReadKind::AccountEmpty(address, is_empty(&account))
        } else {
            ReadKind::Account(address, account.clone())
        };
        self.reads.push(Read { kind, from_base });
        Ok(account.map(to_info))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, MvDbError> {
        // Code is content-addressed, so where it is found does not matter; the base state
        // first keeps the common case off the block-wide lock of deployed code.
        if let Some(code) = self
            .base
            .code(code_hash)
            .map_err(|e| MvDbError::State(e.0))?
        {
            return Ok(code);
        }
        Ok(self.mv.code(code_hash).unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, MvDbError> {
        match self
            .mv
            .slot(self.base, address, index, self.tx)
            .map_err(|e| MvDbError::State(e.0))?
        {
            Resolved::Value((v, from_base)) => {
                self.reads.push(Read {
                    kind: ReadKind::Slot(address, index, v),
                    from_base,
                });
                Ok(v)
            }
            Resolved::Blocked(j) => Err(MvDbError::Blocked(j)),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, MvDbError> {
        self.base
            .block_hash(number)
            .map_err(|e| MvDbError::State(e.0))
    }
}

pub(super) type WorkerEvm<'a, S> = MainnetEvm<MainnetContext<MvDb<'a, S>>>;

/// The mainnet handler except that a non-zero fee is not added to the beneficiary inside
/// the EVM: it is left in the database as a lazy increment.
pub(super) struct LazyFeeHandler<'a, S: ?Sized>(pub(super) std::marker::PhantomData<&'a S>);

impl<'a, S: StateView + ?Sized> Handler for LazyFeeHandler<'a, S> {
    type Evm = WorkerEvm<'a, S>;
    type Error = EVMError<MvDbError, InvalidTransaction>;
    type HaltReason = revm::context::result::HaltReason;

    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        let ctx = evm.ctx();
        let basefee = ctx.block().basefee() as u128;
        let effective_gas_price = ctx.tx().effective_gas_price(basefee);
        let coinbase_gas_price = if ctx.cfg().spec().is_enabled_in(SpecId::LONDON) {
            effective_gas_price.saturating_sub(basefee)
        } else {
            effective_gas_price
        };
        let gas = exec_result.gas();
        let used = gas.used().saturating_sub(gas.reservoir());
        let fee = coinbase_gas_price.checked_mul(u128::from(used));
        match fee {
            Some(fee) if fee > 0 && !ctx.cfg().is_fee_charge_disabled() => {
                ctx.db_mut().fee = U256::from(fee);
                Ok(())
            }
            _ => {
                // A zero fee still touches the beneficiary (EIP-161 removes it if empty);
                // only its emptiness is read.
                ctx.db_mut().touch_only = true;
                let result = post_execution::reward_beneficiary(ctx, gas).map_err(From::from);
                evm.ctx().db_mut().touch_only = false;
                result
            }
        }
    }
}
