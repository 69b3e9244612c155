//! The sequential reference executor: one transaction after another on one thread.

use crate::{
    BlockExecutor,
    evm::{
        OverlayDb, TxResult, assemble, block_env, cfg_env, collect_writes, finish_state,
        invalid_reason, pre_block_overlay,
    },
    state::StateView,
    types::{Block, BlockOutput, ExecutionError},
};
use revm::{Context, ExecuteEvm, MainBuilder, MainContext, context::result::EVMError};

/// Executes a block's transactions in order on one thread. It is the reference the parallel
/// executor is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct SequentialExecutor;

impl BlockExecutor for SequentialExecutor {
    fn execute<S: StateView>(
        &self,
        block: &Block,
        state: &S,
    ) -> Result<BlockOutput, ExecutionError> {
        let overlay = pre_block_overlay(block, state)?;
        let mut evm = Context::mainnet()
            .with_db(OverlayDb::new(state, overlay))
            .with_cfg(cfg_env(&block.rules))
            .with_block(block_env(&block.env, &block.rules))
            .build_mainnet();
        let mut results: Vec<TxResult> = Vec::with_capacity(block.transactions.len());
        let mut writes = Vec::new();
        for tx in &block.transactions {
            match evm.transact(tx.env.clone()) {
                Ok(outcome) => {
                    writes.clear();
                    collect_writes(&outcome.state, &mut writes);
                    evm.ctx
                        .journaled_state
                        .database
                        .apply(&writes)
                        .map_err(|e| ExecutionError::State(e.0))?;
                    results.push(Ok(outcome.result));
                }
                Err(EVMError::Database(e)) => return Err(ExecutionError::State(e.0)),
                Err(e) => {
                    results.push(Err(invalid_reason(&e)));
                    break;
                }
            }
        }
        let overlay = std::mem::take(&mut evm.ctx.journaled_state.database.overlay);
        let changes = finish_state(block, state, overlay, |_| true)
            .map_err(|e| ExecutionError::State(e.0))?;
        assemble(block, results, changes)
    }
}
