//! The Block-STM worker: the loop each thread of the pool runs (take a task, execute or
//! validate a transaction incarnation), the lazy credits and fees, and the hand-off of a
//! contended block to the sequential schedule from its longest validated prefix.

use super::mv_memory::{Read, ReadKind, TxIdx, lock, shape};
use super::scheduler::Task;
use super::{
    Executed, Shared,
    mv_db::{LazyFeeHandler, MvDb, MvDbError, WorkerEvm},
    output::finish_with_pool,
};
use crate::{
    evm::{TxDone, assemble, block_env, cfg_env, collect_writes, finish_state, invalid_reason},
    sequential::run_from,
    state::{Layered, Overlay, StateError, StateView, Write},
    types::{AccountState, BlockOutput, ExecutionError},
};
use alloy_primitives::{Address, TxKind, U256};
use revm::{
    Context, MainBuilder, MainContext,
    context::{ContextSetters, ContextTr, result::EVMError},
    handler::{EvmTr, Handler},
};
use std::{sync::atomic::Ordering, time::Instant};
use tracing::debug;

impl<'a, S: StateView + ?Sized> Shared<'a, S> {
    pub(super) fn base(&self) -> Layered<'a, S> {
        Layered {
            base: self.state,
            overlay: self.pre,
        }
    }

    pub(super) fn fail(&self, error: ExecutionError) {
        lock(&self.error).get_or_insert(error);
        self.scheduler.halt();
    }

    /// The recipient of a plain value transfer, whose credit can be accumulated lazily.
    pub(super) fn lazy_recipient(&self, tx: TxIdx) -> Option<Address> {
        if self.no_lazy[tx].load(Ordering::Relaxed) {
            return None;
        }
        let env = &self.block.transactions[tx].env;
        match env.kind {
            TxKind::Call(to)
                if !env.value.is_zero()
                    && to != env.caller
                    && env.authorization_list.is_empty() =>
            {
                Some(to)
            }
            _ => None,
        }
    }

    pub(super) fn execute<'b>(
        &self,
        evm: &mut WorkerEvm<'b, Layered<'a, S>>,
        tx: TxIdx,
    ) -> Result<Executed, ExecutionError> {
        let lazy_recipient = self.lazy_recipient(tx);
        evm.ctx().db_mut().reset(tx, lazy_recipient);
        let env = &self.block.transactions[tx].env;
        evm.ctx().set_tx(env.clone());
        let outcome = LazyFeeHandler::<'b, Layered<'a, S>>(std::marker::PhantomData).run(evm);
        let state = evm.ctx().journal_mut().finalize();
        let db = evm.ctx().db_mut();
        let mut reads = std::mem::take(&mut db.reads);
        let result = match outcome {
            Ok(result) => result,
            Err(EVMError::Database(MvDbError::Blocked(j))) => return Ok(Executed::Blocked(j)),
            Err(EVMError::Database(MvDbError::State(e))) => return Err(ExecutionError::State(e)),
            Err(e) => {
                return Ok(Executed::Done {
                    reads,
                    writes: Vec::new(),
                    fee: U256::ZERO,
                    result: Err(invalid_reason(e)),
                });
            }
        };
        let mut writes = Vec::new();
        collect_writes(&state, &mut writes);
        if let (Some(seen), TxKind::Call(to)) = (db.lazy_seen.take(), env.kind)
            && !lazy_credit(&mut writes, &mut reads, to, seen, env.value)
        {
            self.no_lazy[tx].store(true, Ordering::Relaxed);
        }
        let fee = if db.fee.is_zero() {
            U256::ZERO
        } else {
            lazy_fee(&mut writes, self.block.env.beneficiary, db.fee)
        };
        Ok(Executed::Done {
            reads,
            writes,
            fee,
            result: Ok(TxDone::new(result)),
        })
    }

    pub(super) fn try_execute<'b>(
        &self,
        evm: &mut WorkerEvm<'b, Layered<'a, S>>,
        tx: TxIdx,
        incarnation: usize,
    ) -> Result<Option<Task>, ExecutionError> {
        loop {
            let started = Instant::now();
            let executed = self.execute(evm, tx);
            self.busy_nanos.fetch_add(
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            match executed? {
                Executed::Blocked(j) => {
                    if self.scheduler.add_dependency(tx, j) {
                        return Ok(None);
                    }
                }
                Executed::Done {
                    reads,
                    writes,
                    fee,
                    result,
                } => {
                    let wrote_new = self.mv.record(tx, reads, writes, fee);
                    *lock(&self.results[tx]) = Some(result);
                    return Ok(self.scheduler.finish_execution(tx, incarnation, wrote_new));
                }
            }
        }
    }

    pub(super) fn validate(
        &self,
        tx: TxIdx,
        incarnation: usize,
    ) -> Result<Option<Task>, ExecutionError> {
        let valid = self
            .mv
            .validate_reads(&self.base(), tx)
            .map_err(|e| ExecutionError::State(e.0))?;
        let aborted = !valid && self.scheduler.try_validation_abort(tx, incarnation);
        if aborted {
            self.mv.convert_writes_to_estimates(tx);
        }
        Ok(self.scheduler.finish_validation(tx, aborted))
    }

    /// Moves transaction `tx`'s final writes, and its lazy fee, into `overlay` (once its
    /// reads are validated: nothing reads a transaction's own write list after that).
    pub(super) fn fold_tx(&self, tx: TxIdx, overlay: &mut Overlay) -> Result<(), StateError> {
        for write in self.mv.take_writes(tx) {
            overlay.apply_owned(self.state, write)?;
        }
        let beneficiary = self.block.env.beneficiary;
        let fee = self.mv.fee(tx);
        if !fee.is_zero() {
            overlay.apply_owned(self.state, Write::BalanceIncrement(beneficiary, fee))?;
        }
        Ok(())
    }

    /// Finishes the block after a hand-off: keeps the longest prefix of transactions whose
    /// latest execution is still valid, in order, and executes the rest sequentially on top
    /// of its writes.
    /// `on_pool` says whether this runs on the executor's pool (whose threads then hash the
    /// tries; never rayon's global pool).
    pub(super) fn finish_sequentially(&self, on_pool: bool) -> Result<BlockOutput, ExecutionError> {
        let n = self.block.transactions.len();
        let base = self.base();
        let mut results = Vec::with_capacity(n);
        let mut overlay = self.pre.clone();
        let mut stopped = false;
        for tx in 0..n {
            if !self.scheduler.is_executed(tx)
                || !self
                    .mv
                    .validate_reads(&base, tx)
                    .map_err(|e| ExecutionError::State(e.0))?
            {
                break;
            }
            let Some(result) = lock(&self.results[tx]).take() else {
                break;
            };
            self.fold_tx(tx, &mut overlay)
                .map_err(|e| ExecutionError::State(e.0))?;
            stopped = result.is_err();
            results.push(result);
            if stopped {
                break;
            }
        }
        let prefix = results.len();
        debug!(
            transactions = n,
            prefix, "contended block finished sequentially"
        );
        if !stopped {
            overlay = run_from(self.block, self.state, overlay, prefix, &mut results)?;
        }
        if on_pool {
            return finish_with_pool(self.block, self.state, results, overlay);
        }
        let changes = finish_state(self.block, self.state, overlay, |_| true)
            .map_err(|e| ExecutionError::State(e.0))?;
        assemble(self.block, results, changes)
    }

    /// Whether re-executions show that transactions mostly depend on each other, so
    /// speculating costs more than it gains: after a window of executions, at least one
    /// in three was aborted.
    pub(super) fn contended(&self) -> bool {
        let n = self.block.transactions.len();
        let executions = self.scheduler.executions.load(Ordering::Relaxed);
        let aborts = self.scheduler.aborts.load(Ordering::Relaxed);
        executions >= (n / 32).clamp(16, 64) && aborts * 3 >= executions
    }

    pub(super) fn work(&self) {
        let base = self.base();
        let mut evm = Context::mainnet()
            .with_db(MvDb {
                mv: &self.mv,
                base: &base,
                beneficiary: self.block.env.beneficiary,
                tx: 0,
                lazy_recipient: None,
                lazy_seen: None,
                touch_only: false,
                fee: U256::ZERO,
                reads: Vec::new(),
            })
            .with_cfg(cfg_env(&self.block.rules))
            .with_block(block_env(&self.block.env, &self.block.rules))
            .build_mainnet();
        let mut task = None;
        let mut idle = 0u32;
        while !self.scheduler.done() {
            let next = match task {
                Some(Task::Execute(tx, incarnation)) => self.try_execute(&mut evm, tx, incarnation),
                Some(Task::Validate(tx, incarnation)) => self.validate(tx, incarnation),
                None => Ok(self.scheduler.next_task()),
            };
            task = match next {
                Ok(t) => t,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            };
            if self.heuristics && self.contended() {
                self.handoff.store(true, Ordering::Release);
                self.scheduler.halt();
            }
            if task.is_none() {
                idle += 1;
                if idle > 64 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            } else {
                idle = 0;
            }
        }
    }
}

/// Turns a plain transfer's absolute write of its recipient into an increment when the
/// transaction did nothing else to it and returns `true`. Otherwise the recipient's read
/// becomes a full read of what the transaction saw (valid only if no increment was left
/// out of it) and `false` is returned.
fn lazy_credit(
    writes: &mut [Write],
    reads: &mut [Read],
    to: Address,
    seen: Option<AccountState>,
    value: U256,
) -> bool {
    let touches_storage = writes
        .iter()
        .any(|w| matches!(w, Write::WipeStorage(a) | Write::Slot(a, _, _) if *a == to));
    let position = writes
        .iter()
        .position(|w| matches!(w, Write::Account(a, _) if *a == to));
    let Some(position) = position else {
        // Nothing was credited (e.g. the call halted): the recipient was read, not written.
        return true;
    };
    let pure_credit = match (&writes[position], &seen) {
        (Write::Account(_, Some(after)), before) if !touches_storage => {
            let (nonce, code_hash) = shape(before);
            let balance = before.as_ref().map_or(U256::ZERO, |b| b.balance);
            after.nonce == nonce
                && after.code_hash == code_hash
                && after.code.is_none()
                && balance.checked_add(value) == Some(after.balance)
        }
        _ => false,
    };
    if pure_credit {
        writes[position] = Write::BalanceIncrement(to, value);
    } else {
        for read in reads.iter_mut() {
            if matches!(read.kind, ReadKind::AccountShape(a, _, _) if a == to) {
                read.kind = ReadKind::Account(to, seen.clone());
            }
        }
    }
    pure_credit
}

/// Folds the fee into the transaction's own write of the beneficiary when it has one and
/// returns zero; otherwise returns the fee, to be accumulated lazily.
fn lazy_fee(writes: &mut [Write], beneficiary: Address, fee: U256) -> U256 {
    for write in writes.iter_mut() {
        match write {
            Write::Account(a, Some(account)) if *a == beneficiary => {
                account.balance = account.balance.saturating_add(fee);
                return U256::ZERO;
            }
            // Destroyed in this very transaction: as in sequential execution, the fee
            // credited to a self-destructed account is lost with it.
            Write::Account(a, None) if *a == beneficiary => return U256::ZERO,
            Write::BalanceIncrement(a, d) if *a == beneficiary => {
                *d = d.saturating_add(fee);
                return U256::ZERO;
            }
            _ => {}
        }
    }
    fee
}
