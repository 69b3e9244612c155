//! The sequential reference executor: one transaction after another on one thread.

use crate::{
    BlockExecutor,
    evm::{
        OverlayDb, TxDone, TxResult, assemble, block_env, cfg_env, finish_state, for_each_write,
        invalid_reason, pre_block_overlay,
    },
    state::{Overlay, StateView},
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
        let (overlay, system_logs) = pre_block_overlay(block, state)?;
        let mut results: Vec<TxResult> = Vec::with_capacity(block.transactions.len());
        let overlay = run_from(block, state, overlay, 0, &mut results)?;
        let changes = finish_state(block, state, overlay, |_| true)
            .map_err(|e| ExecutionError::State(e.0))?;
        let mut output = assemble(block, results, changes)?;
        output.system_logs = system_logs;
        Ok(output)
    }
}

/// Executes transactions `first..` of `block` in order on `state` with `overlay` (the
/// writes of everything before `first`) on top, appending their results; stops after the
/// first invalid transaction. Returns the overlay with their writes added.
pub(crate) fn run_from<S: StateView + ?Sized>(
    block: &Block,
    state: &S,
    overlay: Overlay,
    first: usize,
    results: &mut Vec<TxResult>,
) -> Result<Overlay, ExecutionError> {
    let mut evm = Context::mainnet()
        .with_db(OverlayDb::new(state, overlay))
        .with_cfg(cfg_env(&block.rules))
        .with_block(block_env(&block.env, &block.rules))
        .build_mainnet();
    for tx in &block.transactions[first.min(block.transactions.len())..] {
        match evm.transact(tx.env.clone()) {
            Ok(outcome) => {
                let db = &mut evm.ctx.journaled_state.database;
                let mut failed = None;
                for_each_write(&outcome.state, |write| {
                    if failed.is_none()
                        && let Err(e) = db.apply_owned(write)
                    {
                        failed = Some(e);
                    }
                });
                if let Some(e) = failed {
                    return Err(ExecutionError::State(e.0));
                }
                results.push(Ok(TxDone::new(outcome.result)));
            }
            Err(EVMError::Database(e)) => return Err(ExecutionError::State(e.0)),
            Err(e) => {
                results.push(Err(invalid_reason(e)));
                break;
            }
        }
    }
    Ok(std::mem::take(
        &mut evm.ctx.journaled_state.database.overlay,
    ))
}
