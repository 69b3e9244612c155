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
//!
//! Modules: `mv_memory` (the multi-version memory), `scheduler` (the collaborative
//! scheduler), `mv_db` (the EVM's database over them), `worker` (the loop each thread runs),
//! `output` and `fold` (the block's output), `ordered_root` (the tries' roots).

mod fold;
mod mv_db;
mod mv_memory;
mod ordered_root;
mod output;
mod scheduler;
mod worker;

use crate::{
    BlockExecutor,
    evm::{TxResult, assemble, finish_state, pre_block_overlay},
    sequential::run_from,
    state::{Overlay, StateView, Write},
    types::{Block, BlockOutput, ExecutionError},
};
use alloy_primitives::{Address, U256};
use mv_memory::{MvMemory, Read, TxIdx, lock};
use output::finish_with_pool;
use scheduler::Scheduler;
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
