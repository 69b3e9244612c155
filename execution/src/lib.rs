//! EVM block execution for Parallax.
//!
//! This crate executes a block's transactions on revm. Two executors implement one API,
//! [`BlockExecutor`]: the [`SequentialExecutor`] reference and the [`ParallelExecutor`]
//! (Block-STM: optimistic execution on a thread pool over multi-version memory, with
//! validation and re-execution), whose outputs are equal for every block — receipts, gas,
//! bloom, roots and state changes alike. Senders are recovered in parallel before execution
//! ([`recover_senders`]); the EVM rules are chosen per block from its [`ChainRules`], so the
//! same code replays Ethereum's history and runs Parallax at the latest rules. The
//! incremental Merkle-Patricia state root lives in [`state_root`], and the `replay` binary
//! checks both executors against real Ethereum mainnet blocks ([`fixture`]).
//!
//! The crate knows nothing of consensus or networking: it reads state through
//! [`StateView`] ([`DbState`] over a `parallax_storage` transaction, [`HistoricalState`] for
//! the state after an older block, [`InMemoryState`] for fixtures and tests) and returns what
//! a block changed. For the JSON-RPC it also runs single messages without committing them
//! ([`call()`], [`estimate_gas`], [`create_access_list`], in the [`call`] module) and proves
//! accounts against the state root of the head ([`state_root::account_proof`]) or of an
//! earlier block ([`state_root::account_proof_at`]).

pub mod call;
mod evm;
pub mod fixture;
mod parallel;
mod senders;
mod sequential;
mod state;
mod state_db;
pub mod state_root;
mod types;

pub use call::{
    AccessListResult, AccountOverride, BlockOverrides, CallError, CallFailure, CallOptions,
    CallOutcome, CallRequest, EstimateError, StateOverrides, call, create_access_list,
    estimate_gas,
};
pub use parallel::{ExecutionStats, ParallelExecutor, Schedule};
pub use revm::primitives::hardfork::SpecId;
pub use senders::{RecoveryError, recover_senders};
pub use sequential::SequentialExecutor;
pub use state::{InMemoryAccount, InMemoryState, StateError, StateView};
pub use state_db::{DbState, HistoricalState};
pub use types::{
    AccountState, Block, BlockEnv, BlockOutput, BridgeDeposit, BridgeDeposits, ChainRules,
    ExecutionError, Transaction, Withdrawal,
};

/// Executes blocks: given a block and the state before it, returns receipts, gas, bloom,
/// roots and the state changes.
pub trait BlockExecutor {
    /// Executes `block` on `state`.
    fn execute<S: StateView>(
        &self,
        block: &Block,
        state: &S,
    ) -> Result<BlockOutput, ExecutionError>;
}
