//! The parallel executor: Block-STM (optimistic execution over multi-version memory,
//! validation, re-execution of transactions whose reads went stale, a collaborative
//! scheduler) on the executor's persistent thread pool.
//!
//! Two kinds of writes are accumulated lazily so they do not chain every transaction to the
//! one before it:
//! - the fee each transaction pays the block's beneficiary is recorded as a balance
//!   increment instead of being added to the beneficiary's balance inside the EVM;
//! - a plain value transfer to an account without code records the recipient's credit as
//!   an increment, and its read of the recipient is validated only on nonce and code.
//!
//! A transaction that really reads such a balance (`BALANCE`, sending from it, ...) folds
//! every increment below it, and so depends on those transactions, as it must.
//!
//! Scheduling heuristics (off with [`ParallelExecutor::speculation_only`]) never change the
//! output, only the schedule: a transaction first waits for its sender's previous one;
//! blocks too small, or dominated by one sender's chain, run the sequential loop; and when
//! aborts show heavy contention the workers stop and the block is finished sequentially
//! from its longest validated prefix.
//!
//! After execution the output (receipts and transactions tries, state changes) is built as
//! fork-join tasks on the same pool ([`fold`] folds each address partition's writes,
//! `ordered_root` hashes the tries). The executor keeps its multi-version memory, scheduler
//! and result slots from block to block.

mod fold;
mod mv_memory;
mod ordered_root;
mod scheduler;

use crate::{
    BlockExecutor,
    evm::{
        Receipts, TxDone, TxResult, assemble, block_env, cfg_env, collect_writes, finish_state,
        invalid_reason, output, pre_block_overlay, receipts, to_info,
    },
    sequential::run_from,
    state::{Layered, Overlay, OverlayAccount, SortedChanges, StateError, StateView, Write},
    types::{AccountState, Block, BlockOutput, ExecutionError},
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, TxKind, U256};
use mv_memory::{MvMemory, Read, ReadKind, Resolved, TxIdx, is_empty, lock, shape};
use ordered_root::ordered_root_with;
use parallax_storage::StateChanges;
use rayon::prelude::*;
use revm::{
    Context, Database, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::{
        Block as _, Cfg as _, ContextSetters, ContextTr, Transaction as _,
        result::{EVMError, InvalidTransaction},
    },
    database_interface::DBErrorMarker,
    handler::{EvmTr, FrameResult, Handler, MainnetContext, MainnetEvm, post_execution},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::AccountInfo,
};
use scheduler::{Scheduler, Task};
use std::{
    panic::AssertUnwindSafe,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::debug;

/// Which schedule the parallel executor ran a block on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The sequential loop (one thread, a small block, or one dominating sender chain).
    Sequential,
    /// Optimistic parallel execution and validation to the end.
    Parallel,
    /// Parallel execution stopped under contention and the block was finished sequentially
    /// from its longest validated prefix.
    HandedOff,
}

impl Schedule {
    /// A short label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Parallel => "parallel",
            Self::HandedOff => "handed_off",
        }
    }
}

/// What the parallel executor measured while executing one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionStats {
    /// The schedule the block ran on.
    pub schedule: Schedule,
    /// Worker threads used (1 on the sequential schedule).
    pub threads: usize,
    /// Transaction executions on the parallel schedule, re-executions included (0 on the
    /// sequential schedule).
    pub executions: u64,
    /// Executions whose reads validation found stale (each is followed by a re-execution).
    pub aborts: u64,
    /// Time spent inside the EVM executing transactions on the parallel schedule, summed
    /// over the workers (re-executions and executions that stopped on a dependency
    /// included; zero on the sequential schedule).
    pub busy: Duration,
    /// Wall time of the whole call: system calls, execution and building the output.
    pub wall: Duration,
}

impl ExecutionStats {
    /// `busy / wall` on the parallel schedules: how many workers were inside the EVM on
    /// average over the block. Wasted work (aborted executions) counts as busy, so this is
    /// an upper bound of the speedup over sequential execution; `None` on the sequential
    /// schedule, where there is nothing to compare.
    pub fn parallelism(&self) -> Option<f64> {
        if self.schedule == Schedule::Sequential || self.wall.is_zero() {
            return None;
        }
        Some(self.busy.as_secs_f64() / self.wall.as_secs_f64())
    }
}

/// Executes a block's transactions optimistically in parallel (Block-STM). Its output is
/// always equal to [`SequentialExecutor`](crate::SequentialExecutor)'s.
///
/// The executor owns a pool of worker threads that lives as long as it (and its clones):
/// create it once and execute every block with it. Threads are not started per block —
/// starting a thread and warming its allocator costs milliseconds, as much as executing a
/// small block.
#[derive(Debug, Clone)]
pub struct ParallelExecutor {
    threads: usize,
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    heuristics: bool,
    /// The last block's multi-version memory, scheduler and result slots, kept for the
    /// next block (their tables stay allocated, paged in and mostly cached). A block
    /// executed while another holds them gets fresh ones.
    buffers: std::sync::Arc<Mutex<Option<Buffers>>>,
    /// The scheduling heuristics' scratch space, kept the same way.
    plan: std::sync::Arc<Mutex<Option<Plan>>>,
}

impl ParallelExecutor {
    /// An executor with `threads` worker threads (at least one). If the operating system
    /// refuses to start them, blocks still execute, on the calling thread.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("parallax-exec-{i}"))
            .build()
            .map_err(|e| tracing::warn!(error = %e, "cannot start executor threads; executing on the caller"))
            .ok()
            .map(std::sync::Arc::new);
        Self {
            threads,
            pool,
            heuristics: true,
            buffers: Default::default(),
            plan: Default::default(),
        }
    }

    /// The same executor without its scheduling heuristics: no sequential schedule for
    /// small, single-thread or single-sender blocks, no sender-chain dependencies and no
    /// hand-off under contention — every block goes through optimistic execution and
    /// validation only. The output is the same; this exists so tests and benchmarks can
    /// exercise and measure the Block-STM machinery itself.
    pub fn speculation_only(mut self) -> Self {
        self.heuristics = false;
        self
    }

    /// An executor with one worker per available core.
    pub fn with_available_parallelism() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Recovers the senders of a block's transactions on this executor's threads (as
    /// [`crate::recover_senders`] does on threads of its own), keeping their order; fails on
    /// the invalid signature with the lowest index. Importing a block this way, recovery
    /// then [`BlockExecutor::execute`], starts no thread per block (starting one costs
    /// milliseconds on a virtual machine).
    pub fn recover_senders(
        &self,
        envelopes: Vec<alloy_consensus::TxEnvelope>,
    ) -> Result<Vec<crate::Transaction>, crate::RecoveryError> {
        match &self.pool {
            Some(pool) => crate::senders::recover_on_pool(pool, envelopes),
            None => crate::recover_senders(envelopes, 1),
        }
    }
}

impl Default for ParallelExecutor {
    fn default() -> Self {
        Self::with_available_parallelism()
    }
}

/// A database error inside a parallel execution.
#[derive(Debug, Clone, thiserror::Error)]
enum MvDbError {
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
struct MvDb<'a, S: ?Sized> {
    mv: &'a MvMemory,
    base: &'a S,
    beneficiary: Address,
    tx: TxIdx,
    /// The recipient of a plain value transfer, read lazily (nonce and code only).
    lazy_recipient: Option<Address>,
    /// What the lazy recipient was when read (`Some` once read lazily).
    lazy_seen: Option<Option<AccountState>>,
    /// The beneficiary is being touched with a zero fee: only its emptiness matters.
    touch_only: bool,
    /// The fee owed to the beneficiary, accumulated lazily.
    fee: U256,
    reads: Vec<Read>,
}

impl<'a, S: StateView + ?Sized> MvDb<'a, S> {
    fn reset(&mut self, tx: TxIdx, lazy_recipient: Option<Address>) {
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

type WorkerEvm<'a, S> = MainnetEvm<MainnetContext<MvDb<'a, S>>>;

/// The mainnet handler except that a non-zero fee is not added to the beneficiary inside
/// the EVM: it is left in the database as a lazy increment.
struct LazyFeeHandler<'a, S: ?Sized>(std::marker::PhantomData<&'a S>);

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

/// What one execution of a transaction produced (a short-lived return value, moved once).
#[allow(clippy::large_enum_variant)]
enum Executed {
    /// It read a value a lower transaction is recomputing.
    Blocked(TxIdx),
    /// It ran to the end (valid or not).
    Done {
        reads: Vec<Read>,
        writes: Vec<Write>,
        /// The fee owed to the beneficiary that is not already in `writes`.
        fee: U256,
        result: TxResult,
    },
}

struct Shared<'a, S: ?Sized> {
    block: &'a Block,
    /// The state before the block.
    state: &'a S,
    /// The system calls' writes, on top of `state`.
    pre: &'a Overlay,
    mv: MvMemory,
    scheduler: Scheduler,
    results: Vec<Mutex<Option<TxResult>>>,
    /// Transactions whose recipient turned out not to be a plain credit: they read it in
    /// full from then on (so a failed lazy read cannot repeat forever).
    no_lazy: Vec<AtomicBool>,
    /// Set when contention makes speculation a loss: the workers stop, and the block is
    /// finished sequentially from the longest validated prefix.
    handoff: AtomicBool,
    /// Whether the scheduling heuristics (hand-off) are on.
    heuristics: bool,
    error: Mutex<Option<ExecutionError>>,
    /// Nanoseconds spent in [`Shared::execute`], summed over the workers.
    busy_nanos: std::sync::atomic::AtomicU64,
}

/// What a block's parallel execution allocates in proportion to its transactions, kept by
/// the executor from one block to the next.
#[derive(Debug)]
struct Buffers {
    mv: MvMemory,
    scheduler: Scheduler,
    results: Vec<Mutex<Option<TxResult>>>,
    no_lazy: Vec<AtomicBool>,
}

impl Buffers {
    fn new(n: usize, beneficiary: Address, predecessors: &[Option<TxIdx>]) -> Self {
        Self {
            mv: MvMemory::new(n, beneficiary),
            scheduler: Scheduler::new(n, predecessors),
            results: (0..n).map(|_| Mutex::new(None)).collect(),
            no_lazy: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn reset(&mut self, n: usize, beneficiary: Address, predecessors: &[Option<TxIdx>]) {
        self.mv.reset(n, beneficiary);
        self.scheduler.reset(n, predecessors);
        self.results.truncate(n);
        for result in &mut self.results {
            *result.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
        }
        self.results.resize_with(n, || Mutex::new(None));
        self.no_lazy.truncate(n);
        for flag in &mut self.no_lazy {
            *flag.get_mut() = false;
        }
        self.no_lazy.resize_with(n, || AtomicBool::new(false));
    }
}

/// Blocks with fewer transactions run sequentially: waking the workers and keeping versions
/// costs more than the little parallelism they could offer.
const MIN_PARALLEL_TXS: usize = 16;

/// Blocks whose transactions declare less gas than this in total run sequentially: their
/// execution takes about as long as waking the pool's threads (a tenth of a millisecond to a
/// millisecond on a virtual machine).
const MIN_PARALLEL_GAS: u64 = 4_000_000;

/// Blocks run in order with at least this many transactions hash their receipts and
/// transactions tries on the pool (below it, waking the pool costs more than it saves).
const MIN_POOL_ROOTS: usize = 256;

/// State-fold tasks per worker after execution.
const PARTS_PER_THREAD: usize = 2;

/// What the scheduling heuristics learn from one pass over a block's transactions, in
/// buffers an executor keeps from block to block (allocating and growing a fresh table
/// doubles the pass: 240 µs instead of 130 µs for 4,000 senders, measured warm).
#[derive(Debug, Default)]
struct Plan {
    /// Each sender's latest transaction so far.
    last: alloy_primitives::map::HashMap<Address, TxIdx>,
    /// For each transaction, the index of the same sender's previous transaction.
    predecessors: Vec<Option<TxIdx>>,
    /// For each transaction, the length of its sender's chain up to and including it.
    chain: Vec<u32>,
    /// The longest same-sender chain.
    longest: usize,
}

impl Plan {
    /// Reads `block`'s senders; with `chains` false (no heuristics), every transaction is
    /// taken to have no predecessor.
    fn read(&mut self, block: &Block, chains: bool) {
        let n = block.transactions.len();
        self.last.clear();
        self.predecessors.clear();
        self.chain.clear();
        self.longest = 0;
        if chains {
            self.last.reserve(n);
        }
        for (i, tx) in block.transactions.iter().enumerate() {
            let predecessor = if chains {
                self.last.insert(tx.sender, i)
            } else {
                None
            };
            let chain = predecessor.map_or(1, |p| self.chain[p] + 1);
            self.longest = self.longest.max(chain as usize);
            self.chain.push(chain);
            self.predecessors.push(predecessor);
        }
    }

    /// Whether the block can gain from parallel execution: the longest same-sender chain
    /// (whose transactions must run one after another) bounds the speedup at
    /// `n / longest`.
    fn worth_parallelising(&self, threads: usize) -> bool {
        let n = self.predecessors.len();
        // Work per thread can never fall below the longest chain nor below n / threads.
        let bound = self.longest.max(n.div_ceil(threads.max(1)));
        n * 4 >= bound * 5 // at least 1.25x possible
    }
}

/// The fold partition (of `parts`) that `address` belongs to.
fn partition(address: &Address, parts: usize) -> usize {
    (usize::from(address.0[19]) | usize::from(address.0[18]) << 8) % parts
}

impl<'a, S: StateView + ?Sized> Shared<'a, S> {
    fn base(&self) -> Layered<'a, S> {
        Layered {
            base: self.state,
            overlay: self.pre,
        }
    }

    fn fail(&self, error: ExecutionError) {
        lock(&self.error).get_or_insert(error);
        self.scheduler.halt();
    }

    /// The recipient of a plain value transfer, whose credit can be accumulated lazily.
    fn lazy_recipient(&self, tx: TxIdx) -> Option<Address> {
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

    fn execute<'b>(
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

    fn try_execute<'b>(
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

    fn validate(&self, tx: TxIdx, incarnation: usize) -> Result<Option<Task>, ExecutionError> {
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
    fn fold_tx(&self, tx: TxIdx, overlay: &mut Overlay) -> Result<(), StateError> {
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
    fn finish_sequentially(&self, on_pool: bool) -> Result<BlockOutput, ExecutionError> {
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
    fn contended(&self) -> bool {
        let n = self.block.transactions.len();
        let executions = self.scheduler.executions.load(Ordering::Relaxed);
        let aborts = self.scheduler.aborts.load(Ordering::Relaxed);
        executions >= (n / 32).clamp(16, 64) && aborts * 3 >= executions
    }

    /// Builds the block's output once every transaction is executed and validated: the
    /// receipts and their root, the transactions root and the state changes. Runs as
    /// fork-join tasks on the executor's pool: the worker that took this on forks them, and
    /// the other worker steals whatever it has not started yet.
    fn finish_parallel(&self, threads: usize) -> Result<BlockOutput, ExecutionError> {
        let ((receipts, transactions_root), (changes, ())) = rayon::join(
            || rayon::join(|| self.receipts(), || transactions_root(self.block)),
            || {
                rayon::join(
                    || self.state_changes(threads * PARTS_PER_THREAD),
                    || {
                        (0..MvMemory::SHARDS)
                            .into_par_iter()
                            .for_each(|shard| self.mv.clear_shard(shard))
                    },
                )
            },
        );
        Ok(output(receipts?, transactions_root, changes?))
    }

    /// The receipts, their bloom and root, from the transactions' final results.
    fn receipts(&self) -> Result<Receipts, ExecutionError> {
        let mut results = Vec::with_capacity(self.results.len());
        for (tx, result) in self.results.iter().enumerate() {
            match lock(result).take() {
                Some(r) => results.push(r),
                None => {
                    return Err(ExecutionError::Worker(format!(
                        "transaction {tx} was never executed"
                    )));
                }
            }
        }
        receipts(self.block, results, |r| {
            ordered_root_with(r.len(), |i, out| r[i].encode_2718(out))
        })
    }

    /// The block's state changes from every transaction's final writes and lazy fee, in
    /// two parallel passes: chunks of transactions sort their writes by address partition
    /// (moving them out of the multi-version memory), then each partition applies its
    /// writes in transaction order and compares the result with the base state.
    fn state_changes(&self, parts: usize) -> Result<StateChanges, ExecutionError> {
        let n = self.block.transactions.len();
        let beneficiary = self.block.env.beneficiary;
        let chunk = n.div_ceil(parts.max(1)).max(64);
        let buckets: Vec<Vec<Vec<Write>>> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                // About three writes per transaction (sender, recipient, a slot or two),
                // spread over the partitions: reserved so the buckets do not regrow.
                let txs = ((c + 1) * chunk).min(n) - c * chunk;
                let mut out: Vec<Vec<Write>> = (0..parts)
                    .map(|_| Vec::with_capacity(txs * 3 / parts + 4))
                    .collect();
                for tx in c * chunk..((c + 1) * chunk).min(n) {
                    for write in self.mv.take_writes(tx) {
                        push_write(&mut out[partition(&write.address(), parts)], write);
                    }
                    let fee = self.mv.fee(tx);
                    if !fee.is_zero() {
                        push_write(
                            &mut out[partition(&beneficiary, parts)],
                            Write::BalanceIncrement(beneficiary, fee),
                        );
                    }
                }
                out
            })
            .collect();
        // Each partition takes its buckets (one per chunk, in transaction order).
        let mut by_part: Vec<Vec<Vec<Write>>> = (0..parts)
            .map(|_| Vec::with_capacity(buckets.len()))
            .collect();
        for chunk in buckets {
            for (part, writes) in chunk.into_iter().enumerate() {
                by_part[part].push(writes);
            }
        }
        let withdrawals: Vec<Write> = self
            .block
            .withdrawals
            .iter()
            .filter(|w| w.amount_gwei != 0)
            .map(|w| {
                let amount = U256::from(w.amount_gwei) * U256::from(1_000_000_000u64);
                Write::BalanceIncrement(w.address, amount)
            })
            .collect();
        let partials = by_part
            .into_par_iter()
            .enumerate()
            .map(|(part, chunks)| {
                let owns = |a: &Address| partition(a, parts) == part;
                let mut pre: Vec<(Address, OverlayAccount)> = self
                    .pre
                    .accounts
                    .iter()
                    .filter(|(a, _)| owns(a))
                    .map(|(a, account)| (*a, account.clone()))
                    .collect();
                pre.sort_unstable_by_key(|(a, _)| *a);
                let mut chunks = chunks;
                // Withdrawals are credited after the transactions.
                chunks.push(
                    withdrawals
                        .iter()
                        .filter(|w| owns(&w.address()))
                        .cloned()
                        .collect(),
                );
                fold::fold_partition(self.state, pre, &chunks)
            })
            .collect::<Result<Vec<_>, StateError>>()
            .map_err(|e| ExecutionError::State(e.0))?;
        Ok(merge_changes(partials))
    }

    fn work(&self) {
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

/// The transactions root, when every transaction has its signed envelope, with large
/// subtries hashed on the pool.
fn transactions_root(block: &Block) -> Option<B256> {
    let transactions = &block.transactions;
    if transactions.iter().any(|t| t.envelope.is_none()) {
        return None;
    }
    Some(ordered_root_with(transactions.len(), |i, out| {
        if let Some(envelope) = &transactions[i].envelope {
            envelope.encode_2718(out);
        }
    }))
}

/// Builds the output of a block executed in order (`results` and the `overlay` of its
/// writes): the receipts and transactions tries are hashed on the pool (the caller runs on
/// one of its threads) while the state changes are folded beside them.
fn finish_with_pool<S: StateView + ?Sized>(
    block: &Block,
    state: &S,
    results: Vec<TxResult>,
    overlay: Overlay,
) -> Result<BlockOutput, ExecutionError> {
    let ((receipts, transactions_root), changes) = rayon::join(
        || {
            rayon::join(
                || {
                    receipts(block, results, |r| {
                        ordered_root_with(r.len(), |i, out| r[i].encode_2718(out))
                    })
                },
                || transactions_root(block),
            )
        },
        || finish_state(block, state, overlay, |_| true),
    );
    let changes = changes.map_err(|e| ExecutionError::State(e.0))?;
    Ok(output(receipts?, transactions_root, changes))
}

/// Appends `write` to a partition's writes, adding a balance increment to the one before it
/// when that is an increment of the same account (the beneficiary's fees, many deposits to
/// one address): consecutive increments commute, so the result is the same.
fn push_write(writes: &mut Vec<Write>, write: Write) {
    if let Write::BalanceIncrement(address, amount) = &write
        && let Some(Write::BalanceIncrement(last, total)) = writes.last_mut()
        && last == address
    {
        *total = total.saturating_add(*amount);
        return;
    }
    writes.push(write);
}

/// Merges the state changes of disjoint address partitions (accounts, storage and code on
/// the pool side by side: the entries are gathered, their sorted runs merged and the final
/// maps bulk-built, instead of appending map after map, which would rebuild the growing
/// map once per partition).
fn merge_changes(parts: Vec<SortedChanges>) -> StateChanges {
    fn merged<K: Ord + Send, V: Send>(runs: Vec<Vec<(K, V)>>) -> std::collections::BTreeMap<K, V> {
        let mut entries: Vec<(K, V)> = Vec::with_capacity(runs.iter().map(Vec::len).sum());
        for run in runs {
            entries.extend(run);
        }
        // Each partition's entries are one sorted run: a stable, run-adaptive sort merges
        // them instead of sorting from scratch.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.into_iter().collect()
    }
    let mut accounts = Vec::with_capacity(parts.len());
    let mut storage = Vec::with_capacity(parts.len());
    let mut bytecodes = Vec::with_capacity(parts.len());
    for part in parts {
        accounts.push(part.accounts);
        storage.push(part.storage);
        bytecodes.push(part.bytecodes);
    }
    let (accounts, (storage, bytecodes)) = rayon::join(
        || merged(accounts),
        || rayon::join(|| merged(storage), || merged(bytecodes)),
    );
    StateChanges {
        accounts,
        storage,
        bytecodes,
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

impl BlockExecutor for ParallelExecutor {
    fn execute<S: StateView>(
        &self,
        block: &Block,
        state: &S,
    ) -> Result<BlockOutput, ExecutionError> {
        self.execute_with_stats(block, state)
            .map(|(output, _)| output)
    }
}

impl ParallelExecutor {
    /// [`BlockExecutor::execute`], also returning what the executor measured (schedule,
    /// executions, time inside the EVM). The measuring costs two clock reads per
    /// transaction execution on the parallel schedule.
    pub fn execute_with_stats<S: StateView>(
        &self,
        block: &Block,
        state: &S,
    ) -> Result<(BlockOutput, ExecutionStats), ExecutionError> {
        let started = Instant::now();
        let (pre, system_logs) = pre_block_overlay(block, state)?;
        let (mut output, stats) = self.execute_after_system_calls(block, state, started, pre)?;
        output.system_logs = system_logs;
        Ok((output, stats))
    }

    /// The block's transactions on top of `pre`, the system calls' writes.
    fn execute_after_system_calls<S: StateView>(
        &self,
        block: &Block,
        state: &S,
        started: Instant,
        pre: Overlay,
    ) -> Result<(BlockOutput, ExecutionStats), ExecutionError> {
        let n = block.transactions.len();
        let threads = self.threads.min(n.max(1));
        let declared_gas: u64 = block
            .transactions
            .iter()
            .map(|t| t.env.gas_limit)
            .fold(0, u64::saturating_add);
        let small = self.heuristics
            && (threads == 1 || n < MIN_PARALLEL_TXS || declared_gas < MIN_PARALLEL_GAS);
        let mut plan = lock(&self.plan).take().unwrap_or_default();
        if !small {
            plan.read(block, self.heuristics);
        }
        if small || (self.heuristics && !plan.worth_parallelising(threads)) {
            *lock(&self.plan) = Some(plan);
            // A single thread, a block too small to amortise speculation, or one sender's
            // chain of transactions leave nothing to run side by side: the sequential loop is
            // the fastest correct schedule. A large block still hashes its tries on the pool.
            let run = |on_pool: bool| {
                let mut results = Vec::with_capacity(n);
                let overlay = run_from(block, state, pre, 0, &mut results)?;
                if !on_pool {
                    let changes = finish_state(block, state, overlay, |_| true)
                        .map_err(|e| ExecutionError::State(e.0))?;
                    return assemble(block, results, changes);
                }
                finish_with_pool(block, state, results, overlay)
            };
            let output = match &self.pool {
                Some(pool) if threads > 1 && n >= MIN_POOL_ROOTS => pool.install(|| run(true)),
                _ => run(false),
            }?;
            let stats = ExecutionStats {
                schedule: Schedule::Sequential,
                threads: 1,
                executions: 0,
                aborts: 0,
                busy: Duration::ZERO,
                wall: started.elapsed(),
            };
            return Ok((output, stats));
        }
        let buffers = match lock(&self.buffers).take() {
            Some(mut buffers) => {
                buffers.reset(n, block.env.beneficiary, &plan.predecessors);
                buffers
            }
            None => Buffers::new(n, block.env.beneficiary, &plan.predecessors),
        };
        *lock(&self.plan) = Some(plan);
        let shared = Shared {
            block,
            state,
            pre: &pre,
            mv: buffers.mv,
            scheduler: buffers.scheduler,
            results: buffers.results,
            no_lazy: buffers.no_lazy,
            handoff: AtomicBool::new(false),
            heuristics: self.heuristics,
            error: Mutex::new(None),
            busy_nanos: std::sync::atomic::AtomicU64::new(0),
        };
        let guarded = |f: &dyn Fn()| {
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                shared.fail(ExecutionError::Worker(message));
            }
        };
        // After execution, the first worker to see the scheduler done builds the output as
        // fork-join tasks; the other returns to the pool and steals them.
        let output_slot: Mutex<Option<Result<BlockOutput, ExecutionError>>> = Mutex::new(None);
        let finishing = AtomicBool::new(false);
        let finished = AtomicBool::new(false);
        let on_pool = self.pool.is_some() && (threads > 1 || !self.heuristics);
        let run = || {
            guarded(&|| shared.work());
            if !on_pool
                || !shared.scheduler.done()
                || shared.handoff.load(Ordering::Acquire)
                || lock(&shared.error).is_some()
            {
                return;
            }
            if finishing.swap(true, Ordering::AcqRel) {
                // Another worker builds the output: help it by running the tasks it forks
                // (a worker that went to sleep instead would have to be woken for each).
                while !finished.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
                return;
            }
            guarded(&|| *lock(&output_slot) = Some(shared.finish_parallel(threads)));
            finished.store(true, Ordering::Release);
        };
        match &self.pool {
            Some(pool) if on_pool => {
                pool.broadcast(|ctx| {
                    if ctx.index() < threads {
                        run();
                    }
                });
            }
            _ => run(),
        }
        let handed_off = shared.handoff.load(Ordering::Acquire);
        let result = if let Some(error) = lock(&shared.error).take() {
            Err(error)
        } else if shared.handoff.load(Ordering::Acquire) || !on_pool {
            // Without a pool (the operating system refused its threads) the output is built
            // here, in order: every transaction is validated, so the prefix is the block.
            match &self.pool {
                Some(pool) if on_pool => pool.install(|| shared.finish_sequentially(true)),
                _ => shared.finish_sequentially(false),
            }
        } else {
            debug!(
                transactions = n,
                threads,
                executions = shared.scheduler.executions.load(Ordering::Relaxed),
                aborts = shared.scheduler.aborts.load(Ordering::Relaxed),
                elapsed_us = started.elapsed().as_micros() as u64,
                "parallel block executed"
            );
            lock(&output_slot).take().unwrap_or_else(|| {
                Err(ExecutionError::Worker(
                    "the block's output was not built".into(),
                ))
            })
        };
        let stats = ExecutionStats {
            schedule: if handed_off {
                Schedule::HandedOff
            } else {
                Schedule::Parallel
            },
            threads,
            executions: shared.scheduler.executions.load(Ordering::Relaxed) as u64,
            aborts: shared.scheduler.aborts.load(Ordering::Relaxed) as u64,
            busy: Duration::from_nanos(shared.busy_nanos.load(Ordering::Relaxed)),
            wall: started.elapsed(),
        };
        // Keep the buffers for the next block, unless a worker failed (then they are
        // dropped).
        if result.is_ok() {
            *lock(&self.buffers) = Some(Buffers {
                mv: shared.mv,
                scheduler: shared.scheduler,
                results: shared.results,
                no_lazy: shared.no_lazy,
            });
        }
        result.map(|output| (output, stats))
    }
}
