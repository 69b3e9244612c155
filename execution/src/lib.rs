//! EVM block execution for Parallax.
//!
//! This crate executes a block's transactions on revm. Two executors implement one API,
//! [`BlockExecutor`]: the [`SequentialExecutor`] reference and the [`ParallelExecutor`]
//! (Block-STM: optimistic execution on a thread pool over multi-version memory, with
//! validation and re-execution), whose outputs are equal for every block — receipts, gas,
//! bloom, roots and state changes alike. Senders are recovered in parallel before execution
//! ([`recover_senders`]); the EVM rules are chosen per block from its [`ChainRules`], so the
//! same code replays Ethereum's history and runs Parallax at the latest rules. The `replay`
//! binary checks both executors against real Ethereum mainnet blocks ([`fixture`]).
//!
//! The crate knows nothing of consensus or networking: it reads state through
//! [`StateView`] ([`LatestState`] and [`HistoricalState`] over any store that implements
//! `parallax_storage_api`'s read traits: an MDBX transaction in the node, a `MemoryStore` in a
//! test; [`InMemoryState`] for fixtures) and returns what a block changed. It never names MDBX. The revm environment of a block ([`cfg_env`], [`block_env`], [`to_info`])
//! is public for `parallax-call`, which runs single messages (`eth_call`, `eth_estimateGas`,
//! `eth_createAccessList`) over the same [`StateView`]. The state root of what a block
//! changed is `parallax-trie`'s.

mod evm;
pub mod fixture;
mod parallel;
mod senders;
mod sequential;
mod state;
mod state_db;
mod types;

pub use evm::{block_env, cfg_env, to_info};
pub use parallel::{ExecutionStats, ParallelExecutor, Schedule};
pub use revm::primitives::hardfork::SpecId;
pub use senders::{RecoveryError, recover_senders};
pub use sequential::SequentialExecutor;
pub use state::{InMemoryAccount, InMemoryState, StateError, StateView};
pub use state_db::{HistoricalState, LatestState};
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
