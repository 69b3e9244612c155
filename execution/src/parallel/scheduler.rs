//! Block-STM's collaborative scheduler: worker threads pull execution and validation tasks
//! in transaction order, so the lowest unfinished transaction always makes progress and
//! every transaction is validated again whenever a lower one's writes change.

use super::mv_memory::{Incarnation, TxIdx, lock};
use crossbeam_utils::CachePadded;
use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
}

#[derive(Debug)]
struct TxState {
    incarnation: Incarnation,
    status: Status,
}

/// A unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Task {
    /// Execute this incarnation of the transaction.
    Execute(TxIdx, Incarnation),
    /// Validate this incarnation's reads.
    Validate(TxIdx, Incarnation),
}

#[derive(Debug)]
/// The scheduler's shared state.
pub(super) struct Scheduler {
    len: usize,
    // Every worker updates these on every task: each gets a cache line of its own, so that
    // updating one does not also steal the others from the other workers' caches.
    execution_idx: CachePadded<AtomicUsize>,
    validation_idx: CachePadded<AtomicUsize>,
    decrease_cnt: CachePadded<AtomicUsize>,
    num_active_tasks: CachePadded<AtomicUsize>,
    done: CachePadded<AtomicBool>,
    /// Per transaction, a cache line each: neighbouring transactions usually run on
    /// different workers.
    txs: Vec<CachePadded<Slot>>,
    /// Executions started, for statistics.
    pub(super) executions: CachePadded<AtomicUsize>,
    /// Validations that failed, for statistics.
    pub(super) aborts: CachePadded<AtomicUsize>,
}

/// A transaction's scheduling state and the transactions waiting for it.
#[derive(Debug)]
struct Slot {
    state: Mutex<TxState>,
    dependents: Mutex<Vec<TxIdx>>,
}

impl Scheduler {
    /// A scheduler for `len` transactions; a transaction with a known predecessor (the
    /// same sender's previous transaction, which it certainly reads) waits for that
    /// predecessor's first execution instead of running speculatively against a nonce it
    /// cannot have yet.
    pub(super) fn new(len: usize, predecessors: &[Option<TxIdx>]) -> Self {
        let mut scheduler = Self {
            len: 0,
            execution_idx: CachePadded::new(AtomicUsize::new(0)),
            validation_idx: CachePadded::new(AtomicUsize::new(0)),
            decrease_cnt: CachePadded::new(AtomicUsize::new(0)),
            num_active_tasks: CachePadded::new(AtomicUsize::new(0)),
            done: CachePadded::new(AtomicBool::new(true)),
            txs: Vec::new(),
            executions: CachePadded::new(AtomicUsize::new(0)),
            aborts: CachePadded::new(AtomicUsize::new(0)),
        };
        scheduler.reset(len, predecessors);
        scheduler
    }

    /// Resets the scheduler for a block of `len` transactions, keeping its allocations (an
    /// executor reuses one scheduler block after block).
    pub(super) fn reset(&mut self, len: usize, predecessors: &[Option<TxIdx>]) {
        self.len = len;
        *self.execution_idx.get_mut() = 0;
        *self.validation_idx.get_mut() = 0;
        *self.decrease_cnt.get_mut() = 0;
        *self.num_active_tasks.get_mut() = 0;
        *self.done.get_mut() = len == 0;
        *self.executions.get_mut() = 0;
        *self.aborts.get_mut() = 0;
        self.txs.truncate(len);
        for slot in &mut self.txs {
            *slot.state.get_mut().unwrap_or_else(|p| p.into_inner()) = TxState {
                incarnation: 0,
                status: Status::ReadyToExecute,
            };
            slot.dependents
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        while self.txs.len() < len {
            self.txs.push(CachePadded::new(Slot {
                state: Mutex::new(TxState {
                    incarnation: 0,
                    status: Status::ReadyToExecute,
                }),
                dependents: Mutex::new(Vec::new()),
            }));
        }
        for (tx, predecessor) in predecessors.iter().enumerate() {
            if let Some(p) = *predecessor
                && p < tx
            {
                lock(&self.txs[tx].state).status = Status::Aborting;
                lock(&self.txs[p].dependents).push(tx);
            }
        }
    }

    /// Whether transaction `tx`'s latest incarnation has executed (and not been aborted).
    pub(super) fn is_executed(&self, tx: TxIdx) -> bool {
        lock(&self.txs[tx].state).status == Status::Executed
    }

    /// Whether all work is finished.
    pub(super) fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Stops the scheduler early (a fatal error elsewhere).
    pub(super) fn halt(&self) {
        self.done.store(true, Ordering::Release);
    }

    fn check_done(&self) {
        let observed = self.decrease_cnt.load(Ordering::SeqCst);
        if self
            .execution_idx
            .load(Ordering::SeqCst)
            .min(self.validation_idx.load(Ordering::SeqCst))
            >= self.len
            && self.num_active_tasks.load(Ordering::SeqCst) == 0
            && observed == self.decrease_cnt.load(Ordering::SeqCst)
        {
            self.done.store(true, Ordering::Release);
        }
    }

    fn try_incarnate(&self, tx: TxIdx) -> Option<Incarnation> {
        let mut state = lock(&self.txs[tx].state);
        if state.status == Status::ReadyToExecute {
            state.status = Status::Executing;
            Some(state.incarnation)
        } else {
            None
        }
    }

    fn next_to_execute(&self) -> Option<Task> {
        if self.execution_idx.load(Ordering::SeqCst) >= self.len {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.execution_idx.fetch_add(1, Ordering::SeqCst);
        if tx < self.len
            && let Some(incarnation) = self.try_incarnate(tx)
        {
            return Some(Task::Execute(tx, incarnation));
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    fn next_to_validate(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::SeqCst) >= self.len {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.validation_idx.fetch_add(1, Ordering::SeqCst);
        if tx < self.len {
            let state = lock(&self.txs[tx].state);
            if state.status == Status::Executed {
                return Some(Task::Validate(tx, state.incarnation));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// The next task, preferring validation of lower transactions over execution of higher
    /// ones; `None` when there is nothing to pick up right now.
    pub(super) fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::SeqCst) < self.execution_idx.load(Ordering::SeqCst) {
            self.next_to_validate()
        } else {
            self.next_to_execute()
        }
    }

    fn decrease_execution_idx(&self, target: TxIdx) {
        self.execution_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn decrease_validation_idx(&self, target: TxIdx) {
        self.validation_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    /// Transaction `tx` read a value `blocking` is recomputing. Returns `false` when
    /// `blocking` has already finished (re-execute `tx` at once); otherwise `tx` is parked
    /// until `blocking` finishes and the caller's task is over.
    pub(super) fn add_dependency(&self, tx: TxIdx, blocking: TxIdx) -> bool {
        let mut dependents = lock(&self.txs[blocking].dependents);
        if lock(&self.txs[blocking].state).status == Status::Executed {
            return false;
        }
        lock(&self.txs[tx].state).status = Status::Aborting;
        dependents.push(tx);
        drop(dependents);
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        true
    }

    fn set_ready(&self, tx: TxIdx) {
        let mut state = lock(&self.txs[tx].state);
        state.incarnation += 1;
        state.status = Status::ReadyToExecute;
    }

    /// Transaction `tx` finished executing `incarnation`. Returns a validation task for it
    /// when it can be validated right away.
    pub(super) fn finish_execution(
        &self,
        tx: TxIdx,
        incarnation: Incarnation,
        wrote_new_location: bool,
    ) -> Option<Task> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        lock(&self.txs[tx].state).status = Status::Executed;
        let dependents = std::mem::take(&mut *lock(&self.txs[tx].dependents));
        if let Some(min) = dependents.iter().min().copied() {
            for d in dependents {
                self.set_ready(d);
            }
            self.decrease_execution_idx(min);
        }
        if self.validation_idx.load(Ordering::SeqCst) > tx {
            if wrote_new_location {
                self.decrease_validation_idx(tx);
            } else {
                return Some(Task::Validate(tx, incarnation));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Validation found `tx`'s reads stale: aborts `incarnation` unless it was already
    /// aborted by another validation. Returns whether this call aborted it.
    pub(super) fn try_validation_abort(&self, tx: TxIdx, incarnation: Incarnation) -> bool {
        let mut state = lock(&self.txs[tx].state);
        if state.incarnation == incarnation && state.status == Status::Executed {
            state.status = Status::Aborting;
            self.aborts.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Transaction `tx` was validated (and aborted, if `aborted`). Returns its re-execution
    /// when the caller should do it at once.
    pub(super) fn finish_validation(&self, tx: TxIdx, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready(tx);
            self.decrease_validation_idx(tx + 1);
            if self.execution_idx.load(Ordering::SeqCst) > tx
                && let Some(incarnation) = self.try_incarnate(tx)
            {
                return Some(Task::Execute(tx, incarnation));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }
}
